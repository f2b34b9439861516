"""The workload as the cost model sees it on one platform: per-layer arrays at the precisions
the platform runs them."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt

from edgegap.hardware.platform import Platform
from edgegap.precision import BITS, bits_to_bytes_array
from edgegap.workload.layer import Layer, Workload
from edgegap.workload.phases import cache_inputs

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]


# Deployments quantise to 8 bits or more without retraining (post-training quantisation:
# TFLite, TensorRT, CMSIS-NN); narrower formats need quantisation-aware training, a plan step.
DEPLOYMENT_MIN_BITS = 8


def deployment_precision(platform: Platform) -> str:
    """The one precision policy: what a model runs at on `platform` unless the user says
    otherwise (`--dtype`). The platform's best supported integer precision of at least 8 bits:
    the fastest (peak MACs per cycle), the narrowest of equally fast ones; a platform without
    integer MACs runs its fastest, narrowest float of at least 8 bits."""
    compute = platform.compute
    wide = [p for p in compute.precisions if BITS[p] >= DEPLOYMENT_MIN_BITS]
    integers = [p for p in wide if p.startswith("int")]
    pool = integers or wide or list(compute.precisions)
    return min(pool, key=lambda p: (-compute.macs_per_cycle_at(p), BITS[p], p))


def precision_for(platform: Platform, bits: int) -> str:
    """The platform precision a layer of `bits` runs at: the narrowest supported that holds
    it, or the widest supported when none does (the deployment quantises to what the chip
    offers)."""
    supported = sorted(platform.compute.precisions, key=lambda p: BITS[p])
    for precision in supported:
        if BITS[precision] >= bits:
            return precision
    return supported[-1]


@dataclass(frozen=True)
class LayerArrays:
    """The workload as arrays over its layers (L) and matrix products (G), at the precisions
    the platform runs them: built once, evaluated against any number of designs.

    `inputs` are the bytes the matrix products stream (re-read per fold or tile); `outputs`
    the bytes that pass once: the output written and, in a layer that fused a residual add,
    the add's other operand (`Layer.residual_elements`), read as the output is written.
    `kinds`, `ops` and `source` (the layers themselves) are for an engine that costs a layer
    by what it is, not only by its counts (`engines.Engine`).

    `weights` are the bytes each layer reads, `stored_weights` those its parameters are held
    in (a lookup reads a few rows of a table held whole). A weight or KV cache stored
    narrower than the precision its layer runs at moves as stored (weight-only quantization:
    the kernel widens each group as it reads it); a wider one at the platform precision (the
    deployment converts it to what the chip runs)."""

    kinds: list[str]
    ops: list[str]
    source: tuple[Layer, ...] = field(compare=False, repr=False)
    precision: list[str]
    bits: Ints
    macs: Ints
    elementwise_ops: Ints
    mac_energy_j: Floats
    weights: Ints
    stored_weights: Ints
    inputs: Ints
    outputs: Ints
    gemm_layers: Ints  # indices of the layers with matrix products
    gemm_starts: Ints  # index of each such layer's first product in `gemm`
    gemm: Ints  # (G, 4): groups, m, k, n
    gemm_bits: Ints  # (G,): the owning layer's bits
    largest: Ints  # (L, 3): m, k, n of each layer's largest product (zeros without one)
    peak_live_bytes: int  # the trace's peak live activations, at the platform precision
    # Whether a memory level that caches weights holds every weight beside the working
    # activations (`resident_bytes`), so that none comes from off-chip in the steady state.
    weights_cached: bool = False

    @classmethod
    def of(cls, workload: Workload, platform: Platform) -> LayerArrays:
        layers = workload.layers
        skipping = platform.compute.zero_skipping
        precision = [
            precision_for(platform, max(layer.weight_bits, layer.activation_bits))
            for layer in layers
        ]
        bits = np.array([BITS[p] for p in precision], dtype=np.int64)
        gemms: list[tuple[int, int, int, int]] = []
        starts, gemm_layers, largest = [], [], []
        for index, layer in enumerate(layers):
            if layer.gemms:
                gemm_layers.append(index)
                starts.append(len(gemms))
                gemms += [(g.groups, g.m, g.k, g.n) for g in layer.gemms]
            big = max(layer.gemms, key=lambda g: g.macs, default=None)
            largest.append((big.m, big.k, big.n) if big else (0, 0, 0))

        def to_bytes(elements: list[float]) -> Ints:
            return bits_to_bytes_array(elements, bits)

        def narrowest(stored: list[float], elements: list[float]) -> Ints:
            """Bytes as stored or at the platform precision, whichever is fewer."""
            held = np.ceil(np.array(stored, dtype=np.float64)).astype(np.int64)
            return np.minimum(held, to_bytes(elements))

        kept = [layer.weight_density if skipping else 1.0 for layer in layers]
        cache = narrowest(
            [layer.cache_bytes for layer in layers], [layer.cache_elements for layer in layers]
        )

        arrays = cls(
            kinds=[layer.kind for layer in layers],
            ops=[layer.op for layer in layers],
            source=tuple(layers),
            precision=precision,
            bits=bits,
            macs=np.array(
                [
                    round(layer.macs * layer.weight_density * layer.activation_density)
                    if skipping
                    else layer.macs
                    for layer in layers
                ],
                dtype=np.int64,
            ),
            elementwise_ops=np.array([layer.elementwise_flops for layer in layers], dtype=np.int64),
            mac_energy_j=np.array(
                [platform.compute.mac_energy_pj[p] * 1e-12 for p in precision]  # type: ignore[index]
            ),
            weights=narrowest(
                [layer.weight_bytes * k for layer, k in zip(layers, kept, strict=True)],
                [layer.weight_elements * k for layer, k in zip(layers, kept, strict=True)],
            ),
            stored_weights=narrowest(
                [layer.stored_weight_bytes * k for layer, k in zip(layers, kept, strict=True)],
                [layer.stored_weight_elements * k for layer, k in zip(layers, kept, strict=True)],
            ),
            inputs=to_bytes(
                [
                    layer.input_elements - layer.residual_elements - layer.cache_elements
                    for layer in layers
                ]
            )
            + cache,
            outputs=to_bytes([layer.output_elements + layer.residual_elements for layer in layers]),
            gemm_layers=np.array(gemm_layers, dtype=np.int64),
            gemm_starts=np.array(starts, dtype=np.int64),
            gemm=np.array(gemms, dtype=np.int64).reshape(-1, 4),
            gemm_bits=np.repeat(
                bits[gemm_layers], np.diff(np.append(starts, len(gemms))).astype(np.int64)
            ),
            largest=np.array(largest, dtype=np.int64).reshape(-1, 3),
            peak_live_bytes=_peak_live_bytes(workload, bits),
        )
        caching = [level.size_bytes or 0 for level in platform.memory if level.caches_weights]
        return replace(arrays, weights_cached=max(caching, default=0) >= arrays.resident_bytes)

    @property
    def weight_bytes(self) -> int:
        return int(self.weights.sum())

    @property
    def stored_weight_bytes(self) -> int:
        return int(self.stored_weights.sum())

    @property
    def working_bytes(self) -> int:
        """The working activations: the largest layer's inputs plus outputs."""
        return int((self.inputs + self.outputs).max(initial=0))

    @property
    def peak_activation_bytes(self) -> int:
        """The activations alive at once at the worst moment: the trace's peak, rescaled to
        the platform precision (at the widest ratio any layer is rescaled by), and never less
        than the largest layer's inputs plus outputs."""
        return max(self.peak_live_bytes, self.working_bytes)

    @property
    def resident_bytes(self) -> int:
        """Every weight beside the working activations: what a buffer that caches weights
        must hold to keep them from one inference to the next."""
        return self.stored_weight_bytes + self.working_bytes


def _peak_live_bytes(workload: Workload, bits: Ints) -> int:
    """The trace's peak of live activations at the platform precision (rescaled at the widest
    ratio any layer is), a KV cache stored narrower (`kv-cache`: the layers that read it say
    at what bits) kept as stored: an f16 or q8_0 cache stays so on an fp32 CPU."""
    layers = workload.layers
    scale = max(
        (b / layer.activation_bits for b, layer in zip(bits, layers, strict=True)), default=1.0
    )
    readers = [layer for layer in layers if layer.cache_elements]
    if not readers:
        return math.ceil(workload.peak_activation_bytes * scale)
    reader = max(readers, key=lambda layer: layer.cache_elements)
    elements = sum(math.prod(i.shape) for i in cache_inputs(workload))
    stored = elements * reader.cache_bytes / reader.cache_elements
    at_platform = elements * int(bits.max()) / 8
    return math.ceil((workload.peak_activation_bytes - stored) * scale + min(stored, at_platform))
