"""One-operator ONNX graphs, the microbenchmarks of `edgegap calibrate`.

Each builder returns a `Kernel`: an ONNX model whose one timed operator is a layer of a given
kind and shape, with the MACs and bytes the cost model counts for that layer, so a timing of it
is a sample of the kind's speed. Weights are seeded random constants (ONNX Runtime packs them
at session start, as it packs a model's), activations follow the convolution the way they fuse
in a model (a convolution with its ReLU).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
FLOAT_BYTES = 4
_SEED = 0


@dataclass(frozen=True)
class Kernel:
    """A microbenchmark: `model` times one layer of `kind` (alone, or between the convolutions
    a CNN has around it); `features` are what the CPU engine predicts that kind
    from (`hardware.kernels.features_of`)."""

    kind: str
    model: onnx.ModelProto
    input_shapes: tuple[tuple[int, ...], ...]
    features: dict[str, float]
    in_context: bool = False  # the layer sits between two convolutions (`_between_convolutions`)
    copies: int = 1  # the graph runs this many such layers; a sample is the time of one


def _constant(name: str, shape: tuple[int, ...]) -> onnx.TensorProto:
    rng = np.random.default_rng(_SEED)
    return numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name)


def _model(
    nodes: list[onnx.NodeProto],
    inputs: dict[str, tuple[int, ...]],
    output: str,
    constants: Sequence[onnx.TensorProto] = (),
) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes,
        "kernel",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, list(s)) for n, s in inputs.items()],
        [helper.make_tensor_value_info(output, TensorProto.FLOAT, None)],
        list(constants),
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])


def conv(
    cin: int, cout: int, size: int, kernel: int, stride: int, groups: int, relu: bool = True
) -> Kernel:
    """A square `kernel` x `kernel` convolution with "same" padding on a size x size input,
    its bias and (where `relu`) the ReLU it fuses with: dense (groups 1), depthwise (groups =
    cin = cout) or grouped."""
    out = (size + 2 * (kernel // 2) - kernel) // stride + 1
    nodes = [
        helper.make_node(
            "Conv", ["x", "w", "b"], ["c"], kernel_shape=[kernel, kernel],
            strides=[stride, stride], pads=[kernel // 2] * 4, group=groups,
        )
    ]  # fmt: skip
    if relu:
        nodes.append(helper.make_node("Relu", ["c"], ["y"]))
    weights = (cout, cin // groups, kernel, kernel)
    constants = [_constant("w", weights), _constant("b", (cout,))]
    model = _model(nodes, {"x": (1, cin, size, size)}, "y" if relu else "c", constants)
    m, k, n = out * out, cin // groups * kernel * kernel, cout // groups
    kind = "conv" if groups == 1 else "depthwise" if groups == cin == cout else "grouped"
    elements = cin * size * size + cout * out * out + int(np.prod(weights))
    return Kernel(
        kind,
        model,
        ((1, cin, size, size),),
        {"groups": groups, "m": m, "k": k, "n": n, "stride": stride, "area": kernel * kernel,
         "bytes": elements * FLOAT_BYTES},
    )  # fmt: skip


def matmul(batch: int, m: int, k: int, n: int, weighted: bool) -> Kernel:
    """(batch x m x k) @ (k x n): a linear layer on a constant weight (`weighted`, Gemm-like
    MatMul, batch 1) or a product of two activations (attention's batched MatMul)."""
    a = (batch, m, k)
    if weighted:
        constants = [_constant("w", (k, n))]
        model = _model([helper.make_node("MatMul", ["a", "w"], ["y"])], {"a": a}, "y", constants)
        shapes: tuple[tuple[int, ...], ...] = (a,)
    else:
        b = (batch, k, n)
        model = _model([helper.make_node("MatMul", ["a", "b"], ["y"])], {"a": a, "b": b}, "y")
        shapes = (a, b)
    elements = batch * (m * k + k * n + m * n)
    return Kernel(
        "matmul",
        model,
        shapes,
        {
            "groups": batch,
            "m": m,
            "k": k,
            "n": n,
            "stride": 1,
            "area": 1,
            "bytes": elements * FLOAT_BYTES,
        },
    )


def streamed_matmul(m: int, k: int, n: int, working_set: int) -> Kernel:
    """A linear layer whose weights come from DRAM, as every layer's do in a model whose
    weights the last-level cache cannot hold (a language model's decode step: a
    matrix-vector product per layer): copies of (1 x m x k) @ (k x n) on one input, each with
    a weight of its own, enough that their weights together take `working_set` bytes, so
    that each run reads every weight from DRAM."""
    copies = max(-(-working_set // (k * n * FLOAT_BYTES)), 1)
    rng = np.random.default_rng(_SEED)
    weights = [numpy_helper.from_array(rng.standard_normal((k, n), np.float32), f"w{i}")
               for i in range(copies)]  # fmt: skip
    nodes = [helper.make_node("MatMul", ["a", f"w{i}"], [f"y{i}"]) for i in range(copies)]
    graph = helper.make_graph(
        nodes, "kernel", [helper.make_tensor_value_info("a", TensorProto.FLOAT, [1, m, k])],
        [helper.make_tensor_value_info(f"y{i}", TensorProto.FLOAT, None) for i in range(copies)],
        weights,
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    features: dict[str, float] = {"groups": 1, "m": m, "k": k, "n": n, "stride": 1, "area": 1,
                "bytes": (m * k + k * n + m * n) * FLOAT_BYTES}  # fmt: skip
    return Kernel("streamed_matmul", model, ((1, m, k),), features, copies=copies)


def _between_convolutions(
    kind: str,
    channels: int,
    size: int,
    operator: list[onnx.NodeProto],
    moved: int,
    extra_inputs: dict[str, tuple[int, ...]] | None = None,
    constants: Sequence[onnx.TensorProto] = (),
) -> Kernel:
    """An operator where a CNN has it: between two 1 x 1 convolutions, which run in the
    runtime's convolution layout (ONNX Runtime's blocked NCHWc), so that a layout change the
    runtime makes around the operator is part of its time. The operator reads `a` and writes
    `b`; `constants` are its stored operands."""
    extra = extra_inputs or {}
    shape = (1, channels, size, size)
    weights = [_constant("w1", (channels, channels, 1, 1)), _constant("w2", (channels, channels,
                                                                              1, 1))]  # fmt: skip
    first = helper.make_node("Conv", ["x", "w1"], ["a"])
    model = _model([first, *operator, helper.make_node("Conv", ["b", "w2"], ["y"])],
                   {"x": shape, **extra}, "y", [*weights, *constants])  # fmt: skip
    return Kernel(kind, model, (shape, *extra.values()), {"bytes": moved * FLOAT_BYTES},
                  in_context=True)  # fmt: skip


def activation(channels: int, size: int) -> Kernel:
    """SiLU, x sigmoid(x): the commonest activation a CNN runtime does not fuse into its
    convolution (the monotone ones it fuses: `workload.fusion`)."""
    nodes = [helper.make_node("Sigmoid", ["a"], ["s"]), helper.make_node("Mul", ["a", "s"], ["b"])]
    elements = 2 * channels * size * size
    return _between_convolutions("activation", channels, size, nodes, elements)


def affine(channels: int, size: int) -> Kernel:
    """A batch norm and its ReLU where no convolution precedes it to fold into (a
    pre-activation network's, after a concat or a sum): ONNX Runtime runs the pair as one
    per-channel convolution in its blocked layout. A ReLU before it (which the first
    convolution absorbs) keeps the batch norm from folding into that convolution."""
    statistics = [_constant("scale", (channels,)), _constant("shift", (channels,)),
                  numpy_helper.from_array(np.zeros(channels, np.float32), "mean"),
                  numpy_helper.from_array(np.ones(channels, np.float32), "var")]  # fmt: skip
    nodes = [helper.make_node("Relu", ["a"], ["r"]),
             helper.make_node("BatchNormalization", ["r", "scale", "shift", "mean", "var"], ["n"]),
             helper.make_node("Relu", ["n"], ["b"])]  # fmt: skip
    return _between_convolutions("affine", channels, size, nodes, 2 * channels * size * size,
                                 constants=statistics)  # fmt: skip


def elementwise(channels: int, size: int) -> Kernel:
    """A per-channel scale by an activation (squeeze-and-excitation's), broadcast over the map."""
    nodes = [helper.make_node("Mul", ["a", "scale"], ["b"])]
    elements = 2 * channels * size * size + channels
    return _between_convolutions("elementwise", channels, size, nodes, elements,
                                 {"scale": (1, channels, 1, 1)})  # fmt: skip


def pool(channels: int, size: int, window: int, stride: int) -> Kernel:
    """A max pool of `window` x `window` (the pools of CNN stems and stages)."""
    node = helper.make_node(
        "MaxPool", ["a"], ["b"], kernel_shape=[window, window], strides=[stride, stride],
        pads=[window // 2] * 4,
    )  # fmt: skip
    out = (size + 2 * (window // 2) - window) // stride + 1
    elements = channels * (size * size + out * out)
    return _between_convolutions("pool", channels, size, [node], elements)


def reduction(channels: int, size: int) -> Kernel:
    """A global average over the spatial axes (ReduceMean, as exporters write it)."""
    node = helper.make_node("ReduceMean", ["a"], ["b"], axes=[2, 3], keepdims=1)
    return _between_convolutions("reduction", channels, size, [node],
                                 channels * (size * size + 1))  # fmt: skip


def stream(elements: int) -> Kernel:
    """x0 + x1 over (1, 16, elements / 16) tensors: reads two, writes one, no reuse; its rate
    at a working set sized to a cache level is that level's bandwidth."""
    shape = (1, 16, max(elements // 16, 1))
    node = helper.make_node("Add", ["x0", "x1"], ["y"])
    total = 3 * int(np.prod(shape))
    return Kernel("bandwidth", _model([node], {"x0": shape, "x1": shape}, "y"), (shape, shape),
                  {"bytes": total * FLOAT_BYTES})  # fmt: skip


def movement(elements: int) -> Kernel:
    """A transpose of a (1, 16, elements / 16) tensor: a copy that reads and writes once."""
    shape = (1, 16, max(elements // 16, 1))
    node = helper.make_node("Transpose", ["x"], ["y"], perm=[0, 2, 1])
    total = 2 * int(np.prod(shape))
    return Kernel("movement", _model([node], {"x": shape}, "y"), (shape,),
                  {"bytes": total * FLOAT_BYTES})  # fmt: skip


def normalization(kind: str, rows: int, width: int) -> Kernel:
    """A layer norm ("norm") or a softmax over the last axis of rows x width."""
    shape = (1, rows, width)
    if kind == "norm":
        constants = [_constant("g", (width,)), _constant("b", (width,))]
        node = helper.make_node("LayerNormalization", ["x", "g", "b"], ["y"], axis=-1)
    else:
        constants = []
        node = helper.make_node("Softmax", ["x"], ["y"], axis=-1)
    return Kernel(kind, _model([node], {"x": shape}, "y", constants), (shape,),
                  {"bytes": 2 * rows * width * FLOAT_BYTES})  # fmt: skip


def chain(length: int) -> Kernel:
    """`length` ReLUs on a 16-element tensor, one after another: the per-operator cost of
    dispatch, which the slope over `length` gives."""
    names = ["x", *[f"r{i}" for i in range(length)]]
    nodes = [helper.make_node("Relu", [a], [b]) for a, b in itertools.pairwise(names)]
    shape = (1, 16)
    return Kernel("overhead", _model(nodes, {"x": shape}, names[-1]), (shape,),
                  {"operators": length})  # fmt: skip
