"""The contract every compression technique follows: a model in; the new model, the per-layer
annotations its workload takes, and the exact bytes its weights serialise to, out.

Annotations are keyed by module path, the names `edgegap.profile` gives a traced model's
layers, so `annotate(profile(result.model, shape), result.annotations)` is the workload the
cost model sees: bit-widths change every byte figure, densities let a zero-skipping platform
skip work, `winograd_tile` computes a convolution as Winograd's tile products
(`bridges.algorithm.winograd_layer`, the one count of them), and `mac_factor` carries another
algorithm that does fewer multiplies for the same layer (FFT).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt
from torch import nn

from edgegap.bridges.algorithm import winograd_layer
from edgegap.workload.layer import Gemm, Workload


@dataclass(frozen=True)
class LayerAnnotation:
    """What a technique changes about one layer; None leaves the profiled value."""

    weight_bits: int | None = None
    activation_bits: int | None = None
    weight_density: float | None = None
    activation_density: float | None = None
    mac_factor: float | None = None  # executed multiplies over the dense layer's MACs
    winograd_tile: int | None = None  # computed as Winograd F(tile x tile, 3x3)


@dataclass(frozen=True)
class Compressed:
    """A technique's result. `storage_bytes` counts every byte needed to rebuild the weights
    (codes, scales, codebooks, indices, biases), measured on the packed representation."""

    technique: str
    model: nn.Module
    storage_bytes: int
    annotations: dict[str, LayerAnnotation] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)


def annotate(workload: Workload, annotations: Mapping[str, LayerAnnotation]) -> Workload:
    """The workload with each annotated layer's bit-widths, densities and MACs replaced."""
    layers = []
    for layer in workload.layers:
        note = annotations.get(layer.name)
        if note is None:
            layers.append(layer)
            continue
        changes: dict[str, Any] = {
            key: value
            for key in ("weight_bits", "activation_bits", "weight_density", "activation_density")
            if (value := getattr(note, key)) is not None
        }
        if note.winograd_tile is not None:
            layer = winograd_layer(layer, note.winograd_tile)
        if note.mac_factor is not None:  # a smaller product: the array runs less too
            # MACs and FLOPs follow the products; the element-wise work stays.
            changes["gemms"] = tuple(_shrunk(g, note.mac_factor) for g in layer.gemms)
        layers.append(replace(layer, **changes))
    return replace(workload, layers=tuple(layers))


def _shrunk(gemm: Gemm, factor: float) -> Gemm:
    """The product with its largest dimension scaled by `factor` (rounded up): the MACs an
    algorithm executes, in a shape the cost model can fold onto an array."""
    side = max(("m", "k", "n"), key=lambda name: int(getattr(gemm, name)))
    return replace(gemm, **{side: math.ceil(getattr(gemm, side) * factor)})


def packed_bytes(codes: npt.NDArray[np.integer[Any]], bits: int) -> bytes:
    """Non-negative integer codes packed `bits` bits each, most significant bit first: the
    serialised form whose length a technique reports."""
    if bits < 1 or bits > 32:
        raise ValueError(f"bits must be 1..32, got {bits}")
    values = np.asarray(codes, dtype=np.uint64).ravel()
    if values.size and int(values.max()) >= 2**bits:
        raise ValueError(f"a code does not fit {bits} bits")
    shifts = np.arange(bits - 1, -1, -1, dtype=np.uint64)
    bit_matrix = ((values[:, None] >> shifts[None, :]) & np.uint64(1)).astype(np.uint8)
    return np.packbits(bit_matrix.ravel()).tobytes()
