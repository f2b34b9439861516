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

import math
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
# The channel block of ONNX Runtime's NCHWc layout: 16 floats with AVX-512 (MLAS's
# MlasNchwcGetBlockSize; the by_16 feature of `kernels`). A depthwise convolution whose input
# is already in that layout runs there, its channels padded up to the block (checked on
# onnxruntime 1.32's optimised graph of repghostnet_100: its 36-channel depthwise convolutions
# run with 48-channel weights); its microbenchmark, a graph of its own, runs a channel count
# off the block in the plain layout, 5 to 20 times slower per channel.
NCHWC_BLOCK = 16
# A linear layer of a model whose weights the last-level cache cannot hold beside its
# activations reads its weight from DRAM on every inference (every layer of a language
# model's decode step): it is timed by the microbenchmark whose weights came from DRAM too,
# where the calibration has it; the "matmul" benchmark's operands were in the caches.
STREAMED_KIND = "streamed_matmul"
# Kinds that run in the plain layout: a convolution that reads one pays a reorder into the
# blocked layout (ReorderInput, which also takes a token-major view: ONNX Runtime's graph of
# pvt_v2_b0 has one before each convolution its transformer blocks run), and one that feeds
# one pays a reorder out (ReorderOutput); a convolution's microbenchmark leaves both out.
# So does a fused attention and an element-wise layer timed as a plain-layout stream; a concat
# or a pad is not counted, since the runtime concatenates blocked tensors in their layout.
PLAIN_KINDS = ("matmul", STREAMED_KIND, "norm", "softmax")


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
            blocked.append(0 <= source < len(blocked) and blocked[source]
                           and not through_a_view(layer, layers[source]))  # fmt: skip
        else:
            blocked.append(False)
    return blocked


def through_a_view(reader: Layer, producer: Layer) -> bool:
    """Whether `reader` reads `producer`'s output in another shape (a reshape or a transpose
    between them, which the tracer does not record): a blocked tensor cannot be viewed so,
    the runtime reorders it out of the blocked layout first."""
    shapes = [s for s, p in zip(reader.input_shapes, reader.producers, strict=False)
              if p == producer.index]  # fmt: skip
    return any(tuple(s) != tuple(producer.output_shape) for s in shapes)


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


def padded_to_block(row: list[float]) -> list[float]:
    """A depthwise convolution's feature row with its channels (its groups) padded up to the
    blocked layout's block, and its bytes with them (`NCHWC_BLOCK`)."""
    groups = row[0]
    padded = -(-groups // NCHWC_BLOCK) * NCHWC_BLOCK
    return [padded, *row[1:6], row[6] * padded / groups]


def layout_changes(
    layer: Layer,
    layers: Sequence[Layer],
    plain: Sequence[bool],
    readers: Mapping[int, list[int]],
    bytes_per_element: float,
) -> list[tuple[str, list[float]]]:
    """The reorders a convolution pays between its blocked layout and the plain one, each a
    plain-layout stream (`PLAIN_LAYOUT_KIND`) of what it reads and writes: into the layout
    when its input comes from a layer that runs in the plain layout (`plain`; an input of fewer
    channels than the block is read as it is: ONNX Runtime's NCHW-input convolution), out of
    it when such a layer reads its output or a layer reads it through a view."""
    if layer.kind != "conv" or not layer.gemms or not layer.input_shapes:
        return []
    changes = []
    source = layer.producers[0] if layer.producers else -1
    shape = layer.input_shapes[0]
    if 0 <= source < len(layers) and len(shape) == 4 and shape[1] >= NCHWC_BLOCK and plain[source]:
        changes.append([bytes_per_element * 2 * math.prod(shape)])
    after = [r for r in readers.get(layer.index, ()) if 0 <= r < len(layers)]
    if any(plain[r] or through_a_view(layers[r], layer) for r in after):
        changes.append([bytes_per_element * 2 * layer.output_elements])
    return [(PLAIN_LAYOUT_KIND, row) for row in changes]


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
    rows_of, plain = [], []
    for layer, precision in zip(layers, precisions, strict=True):
        rows = kernel_rows(layer, BITS[precision], streamed and STREAMED_KIND in tables)
        plain.append(layer.kind == "attention" or rows[0][0] in PLAIN_KINDS)
        if rows[0][0] == "elementwise" and PLAIN_LAYOUT_KIND in tables and layer.producers:
            if not fed_by_convolution(layer, blocked):
                rows = [(PLAIN_LAYOUT_KIND, rows[0][1])]
                # plain if what it reads is: after an element-wise layer that a convolution
                # feeds, the data is back in the blocked layout (that benchmark's reorders)
                plain[-1] = any(p < 0 or plain[p] for p in layer.producers if p < len(plain))
            elif shares_a_reorder(layer, layers, blocked, readers):
                back = BITS[precision] / 8 * 2 * layer.output_elements
                rows = [(PLAIN_LAYOUT_KIND, rows[0][1]), (PLAIN_LAYOUT_KIND, [back])]
        elif rows[0][0] == "depthwise" and fed_by_convolution(layer, blocked):
            rows = [("depthwise", padded_to_block(rows[0][1]))]
        rows_of.append(rows)
    if PLAIN_LAYOUT_KIND in tables:
        for index, layer in enumerate(layers):
            bytes_per = BITS[precisions[index]] / 8
            rows_of[index] += layout_changes(layer, layers, plain, readers, bytes_per)
    for index, rows in enumerate(rows_of):
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
