"""A calibrated CPU (`compute.type: cpu`): each layer takes the time its operator kind took
at shapes like its own on this CPU, from the microbenchmarks `edgegap calibrate` timed there
(`hardware.kernels`), plus the runtime's dispatch per operator; the run's own dispatch is
charged to its first layer.

The microbenchmarks ran with their operands in the caches, as a layer finds the output of the
layer before it, so the on-chip levels are inside these times (`on_chip_memory_in_time`);
off-chip traffic is only partly (most of their working sets fit the caches), so it still
bounds a layer through the roofline: a layer whose weights stream from DRAM takes at least
their bytes over DRAM's measured rate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from edgegap.hardware import kernels
from edgegap.hardware.engines.base import Engine
from edgegap.hardware.kernels import Floats
from edgegap.hardware.layers import Ints
from edgegap.hardware.platform import CpuCompute
from edgegap.precision import BITS
from edgegap.workload.layer import Layer

if TYPE_CHECKING:
    from edgegap.hardware.cost import Designs

# A traced layer's kind -> the kind of microbenchmark that times it; kinds no benchmark
# covers (an embedding lookup, an FFT) run as element-wise streams of their bytes. A batch
# norm left unfolded (with what fused into it: `fusion`'s ``channel_affine``) is an "affine"
# stream: ONNX Runtime runs it as a per-channel convolution in its blocked layout, between
# convolutions and with no layout change around it, which the element-wise benchmark (a
# broadcast Mul, run in the plain layout with a reorder on each side) does not time.
BATCH_NORM_MARK = "batch_norm"
# A kind a calibration made before its microbenchmark existed is timed as the nearest kind it
# has: "affine" as "activation" (one pass over a blocked feature map between convolutions,
# no layout change; the activation's SiLU costs more arithmetic, so this errs slow). The
# next calibration times "affine" itself (`calibrate.graphs.affine`).
FALLBACK_KINDS = {"affine": "activation"}
# The element-wise benchmark is a broadcast Mul between two convolutions: ONNX Runtime runs it
# in the plain layout with a reorder out of its blocked convolution layout before it and one
# back after, and both are in its time. An element-wise layer no convolution feeds (a
# transformer's residual add or layer scale, after a matrix product or a norm) is in the plain
# layout already and pays no reorder: it is timed as a plain-layout stream of its bytes, the
# movement benchmark (a Transpose that reads and writes each element once; its strided
# writes make it no faster than an add).
PLAIN_LAYOUT_KIND = "movement"
# A linear layer of a model whose weights the last-level cache cannot hold beside its
# activations reads its weight from DRAM on every inference (every layer of a language
# model's decode step): it is timed by the microbenchmark whose weights came from DRAM too,
# where the calibration has it; the "matmul" benchmark's operands were in the caches.
STREAMED_KIND = "streamed_matmul"


def blocked_layouts(layers: Sequence[Layer]) -> list[bool]:
    """Whether each layer writes its output in the runtime's blocked convolution layout: a
    convolution (or a batch norm run as one) does, and an activation of a blocked tensor
    keeps it (the activation benchmark, between two convolutions, has no reorder)."""
    blocked: list[bool] = []
    for layer in layers:
        if layer.kind == "conv" or BATCH_NORM_MARK in layer.op.split("+")[0]:
            blocked.append(True)
        elif layer.kind == "activation" and layer.producers:
            source = layer.producers[0]
            blocked.append(0 <= source < len(blocked) and blocked[source])
        else:
            blocked.append(False)
    return blocked


def fed_by_convolution(layer: Layer, blocked: Sequence[bool]) -> bool:
    """Whether one of `layer`'s inputs is in the blocked layout (`blocked_layouts`)."""
    return any(0 <= source < len(blocked) and blocked[source] for source in layer.producers)


def shares_a_reorder(
    layer: Layer, layers: Sequence[Layer], blocked: Sequence[bool], readers: Mapping[int, list[int]]
) -> bool:
    """Whether `layer` reads a blocked tensor that a reduction reads too: a
    squeeze-and-excitation's scale, x * s(mean(x)). ONNX Runtime reorders x out of the
    convolution layout once for both; the reduction's benchmark has that reorder in its time,
    and so has the element-wise one, so here the scale pays only its plain-layout pass and
    the reorder of its output back."""
    return any(
        0 <= source < len(blocked) and blocked[source]
        and any(layers[r].kind == "reduction" for r in readers.get(source, ()))
        for source in layer.producers
    )  # fmt: skip


def kernel_rows(layer: Layer, bits: int, streamed: bool = False) -> list[tuple[str, list[float]]]:
    """The microbenchmark kind and feature row of each operator of `layer` at `bits`: one per
    matrix product (a convolution as dense, depthwise or grouped; anything else a matrix
    product, on a weight that streams from DRAM where `streamed`: `STREAMED_KIND`) and a
    fused attention's softmax as a stream of its scores, or one stream of its bytes."""
    per_element = bits / 8
    if not layer.gemms:
        kind = layer.kind if layer.kind in kernels.STREAMING_KINDS else "elementwise"
        if BATCH_NORM_MARK in layer.op.split("+")[0]:
            kind = "affine"
        elif BATCH_NORM_MARK in layer.op:
            kind = "elementwise"
        return [(kind, [per_element * (layer.input_elements + layer.output_elements)])]
    rows = []
    for gemm in layer.gemms:
        if layer.kind == "conv" and layer.input_shapes and len(layer.input_shapes[0]) >= 3:
            channels = layer.input_shapes[0][1]
            area = max(round(gemm.k * gemm.groups / max(channels, 1)), 1)
            stride = max(round(layer.input_shapes[0][-1] / max(layer.output_shape[-1], 1)), 1)
            kind = "conv" if gemm.groups == 1 else "depthwise" if gemm.n == 1 else "grouped"
            moved = layer.input_elements + layer.output_elements + layer.weight_elements
        else:
            kind = STREAMED_KIND if streamed and gemm.weighted else "matmul"
            area, stride = 1, 1
            moved = gemm.groups * (gemm.m * gemm.k + gemm.k * gemm.n + gemm.m * gemm.n)
        features = [gemm.groups, gemm.m, gemm.k, gemm.n, stride, area, per_element * moved]
        rows.append((kind, [float(v) for v in features]))
    if layer.kind == "attention":  # a fused attention's softmax, between its two products
        scores = layer.gemms[0]
        rows.append(("softmax", [per_element * 2 * scores.groups * scores.m * scores.n]))
    return rows


def layer_seconds(
    layers: Sequence[Layer],
    precisions: Sequence[str],
    tables: Mapping[str, tuple[Sequence[float], Floats]],
    per_operator_s: float,
    streamed: bool = False,
) -> Floats:
    """Seconds of each layer: its operators' predicted times plus the dispatch of each.
    `tables` maps a kind to (its fitted parameters, its samples); `streamed`: the weights
    come from DRAM (`STREAMED_KIND`)."""
    by_kind: dict[str, list[tuple[int, list[float]]]] = {}
    counts = np.zeros(len(layers))
    blocked = blocked_layouts(layers)
    readers: dict[int, list[int]] = {}
    for index, layer in enumerate(layers):
        for source in set(layer.producers):
            readers.setdefault(source, []).append(index)
    for index, (layer, precision) in enumerate(zip(layers, precisions, strict=True)):
        rows = kernel_rows(layer, BITS[precision], streamed and STREAMED_KIND in tables)
        if rows[0][0] == "elementwise" and PLAIN_LAYOUT_KIND in tables and layer.producers:
            if not fed_by_convolution(layer, blocked):
                rows = [(PLAIN_LAYOUT_KIND, rows[0][1])]
            elif shares_a_reorder(layer, layers, blocked, readers):
                back = BITS[precision] / 8 * 2 * layer.output_elements
                rows = [(PLAIN_LAYOUT_KIND, rows[0][1]), (PLAIN_LAYOUT_KIND, [back])]
        for kind, row in rows:
            if kind not in tables:
                kind = FALLBACK_KINDS.get(kind, "elementwise")
            by_kind.setdefault(kind if kind in tables else "elementwise", []).append((index, row))
            counts[index] += 1
    seconds = counts * per_operator_s
    for kind, entries in by_kind.items():
        parameters, samples = tables[kind]
        x = np.array([row for _, row in entries], dtype=np.float64)
        predicted = kernels.predict_seconds(kind, parameters, samples, x)
        np.add.at(seconds, [index for index, _ in entries], predicted)
    return seconds


class Cpu(Engine[CpuCompute]):
    register_accesses_per_mac: ClassVar[int] = 0  # inside the timed kernels
    on_chip_memory_in_time: ClassVar[bool] = True

    def cycles(self, designs: Designs) -> Ints:
        spec, layers = self.spec, self.layers
        tables = {kind: (parameters, np.array(samples, dtype=np.float64))
                  for kind, (parameters, samples) in spec.tables().items()}  # fmt: skip
        dispatch = spec.dispatch_at()
        seconds = layer_seconds(layers.source, layers.precision, tables, dispatch.per_operator_s,
                                not layers.weights_cached)  # fmt: skip
        if len(seconds):
            seconds[0] += dispatch.per_run_s
        cycles = np.ceil(seconds * spec.clock_mhz * 1e6).astype(np.int64)
        return np.broadcast_to(cycles[:, None], (len(cycles), len(designs))).copy()
