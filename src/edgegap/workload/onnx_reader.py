"""Reading an ONNX file into a Workload: the ONNX front-end to the shared formulas.

The file is parsed, never run: shapes come from ONNX shape inference, and each op type maps
to the functions of `formulas`, so a layer counts the same here as in the PyTorch tracer.
Adding an op type is one decorated function of the node's shapes and attributes:

    @register("MyOp")
    def _my_op(call: Call) -> OpCount:
        return formulas.elementwise("activation", "relu", call.out)

Nodes whose inputs are all initializers, constants or shapes are folded, as every runtime
folds them: they are not recorded, and the initializers they read count as weights of the
node that consumes their result. Op types missing from the registry are still recorded (with
their bytes) and listed in `Workload.uncounted_ops`, so nothing is silently counted as zero.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import onnx
import onnx.inliner
from onnx import TensorProto, helper

from edgegap.errors import UserError
from edgegap.precision import bits_to_bytes
from edgegap.workload import formulas
from edgegap.workload.formulas import OpCount
from edgegap.workload.layer import Layer, Workload
from edgegap.workload.shapes import MAX_DIMENSION, MAX_ELEMENTS, ModelInput, check_shape

Shape = tuple[int, ...]


class UnknownShape(LookupError):
    """A formula needs the shape of an input that shape inference left unknown."""


class BadNode(ValueError):
    """A node no runtime could execute: its shapes and attributes contradict each other. The
    message says what is wrong; the reader adds the node's name and the file."""


def check_dims(what: str, shape: Shape) -> None:
    """Refuse negative dimensions and sizes past the bounds every runtime can index."""
    if any(d < 0 for d in shape):
        raise BadNode(f"{what} has a negative dimension {shape}: check the model and --input-shape")
    if any(d > MAX_DIMENSION for d in shape):
        raise BadNode(f"{what} {shape} has a dimension above {MAX_DIMENSION:,} (2**31 - 1)")
    if math.prod(shape) > MAX_ELEMENTS:
        raise BadNode(f"{what} {shape} has more than {MAX_ELEMENTS:,} (2**40) elements")


@dataclass(frozen=True)
class Call:
    """What a formula sees of one node: shapes and attributes, never tensor values.

    `inputs` holds None where an input is omitted or its shape unknown; `present` the
    positions of inputs given, `weights` those read from initializers (directly or through
    folded nodes).
    """

    inputs: tuple[Shape | None, ...]
    present: frozenset[int]
    weights: frozenset[int]
    attrs: dict[str, Any]
    out: Shape

    def shape(self, index: int) -> Shape:
        shape = self.inputs[index] if index < len(self.inputs) else None
        if shape is None:
            raise UnknownShape(index)
        return shape

    def weighted(self, *indices: int) -> bool:
        """Whether any of these inputs is a weight: an initializer or Constant (or folded
        from them), not an activation."""
        return not self.weights.isdisjoint(indices)


Formula = Callable[[Call], OpCount | None]  # None: this use of the op is not counted

ONNX_FORMULAS: dict[str, Formula] = {}


def register(*op_types: str) -> Callable[[Formula], Formula]:
    def decorator(formula: Formula) -> Formula:
        for op_type in op_types:
            ONNX_FORMULAS[op_type] = formula
        return formula

    return decorator


def register_elementwise(kind: str, operations: dict[str, Sequence[str]]) -> None:
    """Register op types whose cost is `ELEMENT_FLOPS[name]` per output element."""
    for operation, op_types in operations.items():

        def formula(call: Call, operation: str = operation) -> OpCount:
            return formulas.elementwise(kind, operation, call.out)

        register(*op_types)(formula)


# Op types that only reinterpret their first input (a runtime aliases the buffer): not recorded.
ALIASES = frozenset({"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout"})
# Inputs of which only the shape or type is read: a node is static when its others are.
METADATA_INPUTS = {"Shape": (0,), "Size": (0,), "CastLike": (1,)}


# Attributes that must be positive (non-negative for pads) for a node to run at all; checked
# before shapes, as shape inference gives up on them without saying why.
_WINDOW_OPS = frozenset({"Conv", "ConvTranspose", "MaxPool", "AveragePool", "LpPool"})


def check_attributes(op_type: str, attrs: dict[str, Any]) -> None:
    if op_type not in _WINDOW_OPS:
        return
    group = attrs.get("group", 1)
    if not isinstance(group, int) or group < 1:
        raise BadNode(f"group={group}: a convolution has at least one group")
    for name in ("strides", "dilations", "kernel_shape"):
        values = attrs.get(name, [])
        if any(v < 1 for v in values):
            raise BadNode(f"{name}={list(values)}: every value must be at least 1")
    if any(v < 0 for v in attrs.get("pads", [])):
        raise BadNode(f"pads={list(attrs['pads'])}: padding cannot be negative")


def _conv_groups(call: Call, transposed: bool) -> int:
    """The group count, checked against the channels of input and weight (shape inference
    does not check them); a forward kernel must fit its padded input."""
    x, w = call.shape(0), call.shape(1)
    groups = call.attrs.get("group", 1)
    if not isinstance(groups, int) or groups < 1:
        raise BadNode(f"group={groups}: a convolution has at least one group")
    if len(x) < 3 or len(w) != len(x):
        raise BadNode(f"input {x} and weight {w} are not an (N, C, *spatial) pair of one rank")
    expected, name = (w[0], "weight's first dimension") if transposed else (w[1] * groups, "")
    if x[1] != expected:
        per_group = name or f"weight's {w[1]} input channels x group={groups}"
        raise BadNode(
            f"channel mismatch: the input {x} has {x[1]} channels, the {per_group} "
            f"expects {expected}: fix the weight or --input-shape"
        )
    if w[0] % groups:
        raise BadNode(f"weight {w}: {w[0]} channels do not split into group={groups}")
    if not transposed and call.attrs.get("auto_pad", "NOTSET") in ("NOTSET", "VALID"):
        spatial = len(x) - 2
        pads = call.attrs.get("pads", [0] * 2 * spatial)
        if call.attrs.get("auto_pad", "NOTSET") == "VALID":
            pads = [0] * 2 * spatial
        dilations = call.attrs.get("dilations", [1] * spatial)
        for axis in range(spatial):
            padded = x[2 + axis] + pads[axis] + pads[axis + spatial]
            extent = dilations[axis] * (w[2 + axis] - 1) + 1
            if extent > padded:
                raise BadNode(
                    f"the kernel {tuple(w[2:])} spans {extent} along spatial axis {axis}, more "
                    f"than its padded input ({padded}): give a larger --input-shape"
                )
    return groups


@register("Conv")
def _conv(call: Call) -> OpCount:
    groups = _conv_groups(call, transposed=False)
    return formulas.conv(call.shape(0), call.shape(1), call.out, groups, False, 2 in call.present)


@register("ConvTranspose")
def _conv_transpose(call: Call) -> OpCount:
    groups = _conv_groups(call, transposed=True)
    return formulas.conv(call.shape(0), call.shape(1), call.out, groups, True, 2 in call.present)


@register("Gemm")
def _gemm(call: Call) -> OpCount:
    a, b = call.shape(0), call.shape(1)
    a = a[::-1] if call.attrs.get("transA", 0) else a
    b = b[::-1] if call.attrs.get("transB", 0) else b
    return formulas.matmul(a, b, call.out, call.weighted(0, 1), bias=2 in call.present)


@register("MatMul")
def _matmul(call: Call) -> OpCount:
    return formulas.matmul(call.shape(0), call.shape(1), call.out, call.weighted(0, 1))


@register("Einsum")
def _einsum(call: Call) -> OpCount | None:
    """A two-operand contraction (no ellipsis, no index summed within one operand) is one
    batched matrix product; any other equation is left uncounted."""
    equation = call.attrs["equation"].replace(" ", "")
    operands, _, result = equation.partition("->")
    terms = operands.split(",")
    if len(terms) != 2 or not result or "." in equation:
        return None
    a, b, out = (set(term) for term in (*terms, result))
    if any(len(set(t)) != len(t) for t in (*terms, result)) or (a ^ b) - out:
        return None
    sizes = dict(zip(terms[0], call.shape(0), strict=True))
    sizes |= dict(zip(terms[1], call.shape(1), strict=True))

    def size(indices: set[str]) -> int:
        return math.prod(sizes[i] for i in indices)

    m, k, n = size(a - b), size((a & b) - out), size(b - a)
    return formulas.matmul((m, k), (k, n), (size(a & b & out), m, n), call.weighted(0, 1))


@register("Attention")
def _attention(call: Call) -> OpCount:
    """Opset-23 attention; 3-D inputs (batch, sequence, hidden) are split into heads, and
    past keys lengthen the sequence attended to."""
    q, k, v = call.shape(0), call.shape(1), call.shape(2)
    if len(q) == 3:
        q_heads, kv_heads = call.attrs["q_num_heads"], call.attrs["kv_num_heads"]
        for heads, hidden, name in ((q_heads, q[2], "q"), (kv_heads, k[2], "kv")):
            if heads < 1 or hidden % heads:
                raise BadNode(f"{name}_num_heads={heads} does not divide the hidden size {hidden}")
        q = (q[0], q_heads, q[1], q[2] // q_heads)
        k = (k[0], kv_heads, k[1], k[2] // kv_heads)
        v = (v[0], kv_heads, v[1], v[2] // kv_heads)
    if 4 in call.present:
        k = (*k[:-2], k[-2] + call.shape(4)[-2], k[-1])
    return formulas.attention(q, k, v)


def _pooled(call: Call) -> Shape:
    if any(d <= 0 for d in call.out):
        raise BadNode(
            f"the kernel {tuple(call.attrs['kernel_shape'])} is larger than its padded input "
            f"{call.shape(0)} (output {call.out}): give a larger --input-shape"
        )
    return call.out


@register("MaxPool")
def _max_pool(call: Call) -> OpCount:
    return formulas.pool(call.shape(0), _pooled(call), call.attrs["kernel_shape"], average=False)


@register("AveragePool")
def _avg_pool(call: Call) -> OpCount:
    return formulas.pool(call.shape(0), _pooled(call), call.attrs["kernel_shape"], average=True)


@register("GlobalAveragePool")
def _global_avg_pool(call: Call) -> OpCount:
    return formulas.pool(call.shape(0), call.out, kernel=None, average=True)


@register("GlobalMaxPool")
def _global_max_pool(call: Call) -> OpCount:
    return formulas.pool(call.shape(0), call.out, kernel=None, average=False)


@register("ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd")
def _reduce(call: Call) -> OpCount:
    return formulas.reduction(call.shape(0), call.out)


@register("ReduceMean")
def _reduce_mean(call: Call) -> OpCount:
    return formulas.reduction(call.shape(0), call.out, per_output=1)


@register("ReduceL2")
def _reduce_l2(call: Call) -> OpCount:
    return formulas.reduction(call.shape(0), call.out, per_input=2, per_output=1)  # square, add


@register("Gelu")
def _gelu(call: Call) -> OpCount:
    tanh = call.attrs.get("approximate", "none") == "tanh"
    return formulas.elementwise("activation", "gelu_tanh" if tanh else "gelu", call.out)


_LINEAR = {1: "linear", 2: "bilinear", 3: "trilinear"}


@register("Resize", "Upsample")
def _resize(call: Call) -> OpCount:
    """Interpolation taps as PyTorch names them: linear by spatial rank, cubic as bicubic."""
    mode = call.attrs.get("mode", "nearest")
    if mode == "linear":
        return formulas.upsample(call.out, _LINEAR.get(len(call.out) - 2, "linear"))
    return formulas.upsample(call.out, "bicubic" if mode == "cubic" else "nearest")


@register("Gather")
def _gather(call: Call) -> OpCount:
    """A gather from an initializer is an embedding lookup; from an activation, a copy."""
    if 0 in call.weights:
        return formulas.lookup(call.shape(0), formulas.numel(call.out))
    return formulas.elementwise("movement", "move", call.out)


register_elementwise(
    "activation",
    {
        "relu": ["Relu"], "clamp": ["Clip"], "tanh": ["Tanh"],
        "leaky_relu": ["LeakyRelu", "PRelu"], "elu": ["Elu"], "softplus": ["Softplus"],
        "hardsigmoid": ["HardSigmoid"], "sigmoid": ["Sigmoid"], "hardswish": ["HardSwish"],
        "mish": ["Mish"],
    },
)  # fmt: skip
register_elementwise(
    "elementwise",
    {
        "add": ["Add"], "sub": ["Sub"], "mul": ["Mul"], "div": ["Div"], "neg": ["Neg"],
        "abs": ["Abs"], "pow": ["Pow"], "exp": ["Exp"], "log": ["Log"], "sqrt": ["Sqrt"],
        "reciprocal": ["Reciprocal"], "erf": ["Erf"], "maximum": ["Max"], "minimum": ["Min"],
        "where": ["Where"],
        "compare": ["Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual", "IsNaN",
                    "IsInf"],
    },
)  # fmt: skip
register_elementwise(
    "norm",
    {
        "batch_norm": ["BatchNormalization"],
        "layer_norm": ["LayerNormalization", "GroupNormalization", "InstanceNormalization"],
    },
)
register_elementwise("softmax", {"softmax": ["Softmax", "LogSoftmax"]})
register_elementwise(
    "movement",
    {
        "move": ["Concat", "Pad", "Transpose", "Slice", "Expand", "Tile", "Split", "Cast",
                 "CastLike", "GatherElements", "GatherND", "DepthToSpace", "SpaceToDepth",
                 "ScatterND", "ScatterElements"],
    },
)  # fmt: skip


_SUB_BYTE_BITS: dict[int, int] = {
    TensorProto.INT4: 4, TensorProto.UINT4: 4, TensorProto.FLOAT4E2M1: 4,
    TensorProto.INT2: 2, TensorProto.UINT2: 2,
    TensorProto.FLOAT6E2M3: 6, TensorProto.FLOAT6E3M2: 6,
}  # fmt: skip


def element_bits(elem_type: int) -> int:
    """Bits per element of an ONNX element type; 32 where the type is unknown."""
    if elem_type in _SUB_BYTE_BITS:
        return _SUB_BYTE_BITS[elem_type]
    if elem_type == TensorProto.UNDEFINED:
        return 32
    return int(helper.tensor_dtype_to_np_dtype(elem_type).itemsize * 8)


# The input dtype names (`shapes.INPUT_DTYPES`) of ONNX element types.
_DTYPE_NAMES: dict[int, str] = {
    TensorProto.FLOAT: "float32", TensorProto.FLOAT16: "float16",
    TensorProto.BFLOAT16: "bfloat16", TensorProto.DOUBLE: "float64",
    TensorProto.INT64: "int64", TensorProto.INT32: "int32", TensorProto.INT16: "int16",
    TensorProto.INT8: "int8", TensorProto.UINT8: "uint8", TensorProto.BOOL: "bool",
}  # fmt: skip


def _is_float(elem_type: int) -> bool:
    return bool(TensorProto.DataType.Name(elem_type).startswith(("FLOAT", "BFLOAT", "DOUBLE")))


@dataclass(frozen=True)
class _Tensor:
    shape: Shape | None  # None where inference left a dimension unknown
    elem_type: int

    @property
    def elements(self) -> int:
        return math.prod(self.shape) if self.shape is not None else 0


_UNKNOWN = _Tensor(None, TensorProto.UNDEFINED)


def _tensor(value: onnx.ValueInfoProto) -> _Tensor:
    tensor_type = value.type.tensor_type
    dims = tensor_type.shape.dim
    known = tensor_type.HasField("shape") and all(d.HasField("dim_value") for d in dims)
    return _Tensor(tuple(d.dim_value for d in dims) if known else None, tensor_type.elem_type)


def _load(path: Path) -> onnx.ModelProto:
    """Check and parse the file; initializer data stays on disk, as only its shape matters."""
    if not path.is_file():
        raise UserError(f"no ONNX file at '{path}': check the path")
    try:
        onnx.checker.check_model(str(path))  # parses the file: no protobuf error escapes
    except (onnx.checker.ValidationError, OSError, RuntimeError) as error:
        _check_external_data(path)
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UserError(
            f"'{path}' is not a valid ONNX model ({reason}): re-export it, "
            "e.g. with torch.onnx.export"
        ) from None
    model = onnx.load(path, load_external_data=False)
    known = onnx.defs.onnx_opset_version()  # operators of a later opset may mean other things
    opset = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=0)
    if opset > known:
        raise UserError(f"'{path}' uses ONNX opset {opset}; edgegap reads opsets up to {known}: "
                        f"re-export it with opset_version <= {known}")  # fmt: skip
    if model.functions:
        model = onnx.inliner.inline_local_functions(model)
    return model


def _check_external_data(path: Path) -> None:
    """A file whose weights are stored beside it (a model over 2 GB, `save_as_external_data`)
    names their files; one that is not there is the user's to copy, not a corrupt model."""
    try:
        model = onnx.load(path, load_external_data=False)
    except Exception:  # not even a protobuf: the checker's error says so
        return
    for tensor in model.graph.initializer:
        if tensor.data_location != TensorProto.EXTERNAL:
            continue
        location = next((e.value for e in tensor.external_data if e.key == "location"), "")
        if not (path.parent / location).is_file():
            raise UserError(
                f"'{path}' keeps its weights in '{location}', which is not beside it in "
                f"'{path.parent}': copy that file there (onnx.save_model(..., "
                "save_as_external_data=True) writes both)"
            )


def _assigned(
    values: Sequence[onnx.ValueInfoProto], inputs: Sequence[ModelInput], path: Path
) -> list[tuple[onnx.ValueInfoProto, ModelInput]]:
    """Which graph input each given input sets: by name, or by position for unnamed ones."""
    by_name = {value.name: value for value in values}
    pairs = []
    for index, given in enumerate(inputs):
        if given.name is None:
            if index >= len(values):
                raise UserError(f"'{path}' takes {len(values)} input(s), not {len(inputs)}: "
                                "give one --input per graph input")  # fmt: skip
            pairs.append((values[index], given))
        elif given.name in by_name:
            pairs.append((by_name[given.name], given))
        else:
            raise UserError(f"'{path}' has no input '{given.name}': its inputs are "
                            + ", ".join(by_name))  # fmt: skip
    return pairs


def _set_shape(value: onnx.ValueInfoProto, given: ModelInput, path: Path) -> dict[str, int]:
    """Fix `value`'s dimensions to the given shape; the symbolic names it replaced, with
    their sizes (other inputs that share a name take the same size)."""
    check_shape(given.shape)
    tensor = value.type.tensor_type
    if given.dtype is not None and _DTYPE_NAMES.get(tensor.elem_type) != given.dtype:
        raise UserError(f"'{path}': input '{value.name}' is "
                        f"{_DTYPE_NAMES.get(tensor.elem_type, 'of another type')} in the graph, "
                        f"not {given.dtype}: drop the dtype or give the graph's")  # fmt: skip
    dims = tensor.shape.dim
    if tensor.HasField("shape") and len(dims) != len(given.shape):
        raise UserError(
            f"'{path}' takes input '{value.name}' of rank {len(dims)}: give a shape of "
            f"{len(dims)} dimensions"
        )
    named = {d.dim_param: n for d, n in zip(dims, given.shape, strict=False) if d.dim_param}
    del dims[:]
    for size in given.shape:
        dims.add(dim_value=size)
    return named


def _fix_inputs(
    model: onnx.ModelProto, inputs: Sequence[ModelInput] | None, path: Path
) -> tuple[ModelInput, ...]:
    """Give every graph input static dimensions: the given inputs' shapes (and theirs to the
    symbolic dimensions of other inputs that share the names), 1 for a symbolic batch.
    Returns every graph input as the model takes it."""
    graph = model.graph
    initializers = {t.name for t in graph.initializer}
    values = [value for value in graph.input if value.name not in initializers]
    if not values:
        raise UserError(f"'{path}' has no graph input: re-export it with its input")
    named: dict[str, int] = {}
    changed = False
    for value, given in _assigned(values, inputs or [], path):
        before = [d.dim_value for d in value.type.tensor_type.shape.dim]
        named |= _set_shape(value, given, path)
        changed = changed or before != list(given.shape)
    if changed:  # shapes recorded for the old input size would contradict inference
        del graph.value_info[:]
        for output in graph.output:
            output.type.tensor_type.ClearField("shape")
    found = []
    for value in values:
        tensor = value.type.tensor_type
        if not tensor.HasField("shape"):
            raise UserError(f"'{path}': input '{value.name}' has no known rank: give --input-shape")
        for axis, dim in enumerate(tensor.shape.dim):
            if dim.HasField("dim_value"):
                continue
            if dim.dim_param in named:
                dim.dim_value = named[dim.dim_param]
            elif axis == 0 or "batch" in dim.dim_param.lower():
                dim.dim_value = 1
            else:
                fix = (
                    "give --input-shape"
                    if value is values[0]
                    else f"give --input {value.name}:SHAPE"
                )
                raise UserError(
                    f"'{path}': dimension {axis} ('{dim.dim_param}') of input '{value.name}' "
                    f"is unknown: {fix}"
                )
        shape = tuple(d.dim_value for d in tensor.shape.dim)
        if any(d <= 0 for d in shape):
            raise UserError(
                f"'{path}': input '{value.name}' has shape {shape}, with a dimension below 1: "
                "give --input-shape (positive integers), or re-export the model"
            )
        try:
            check_dims(f"input '{value.name}'", shape)
        except BadNode as bad:
            raise UserError(f"'{path}': {bad}: give a smaller --input-shape") from None
        found.append(ModelInput(shape, value.name, _DTYPE_NAMES.get(tensor.elem_type)))
    return tuple(found)


def _skeleton(model: onnx.ModelProto) -> onnx.ModelProto:
    """`model` for shape inference alone: initializers above `FOLD_LIMIT` elements become
    inputs of their shape and type, so that inference, which copies its model, does not copy
    the weights (a ViT's 346 MB, once per pass)."""
    graph = model.graph
    named = {value.name for value in graph.input}
    large = [t for t in graph.initializer if math.prod(t.dims) > FOLD_LIMIT]
    kept = [t for t in graph.initializer if math.prod(t.dims) <= FOLD_LIMIT]
    inputs = [*graph.input, *(helper.make_tensor_value_info(t.name, t.data_type, list(t.dims))
                              for t in large if t.name not in named)]  # fmt: skip
    light = helper.make_graph(list(graph.node), graph.name, inputs, list(graph.output), kept,
                              value_info=list(graph.value_info))  # fmt: skip
    skeleton = helper.make_model(light, opset_imports=list(model.opset_import))
    skeleton.ir_version = model.ir_version
    skeleton.functions.extend(model.functions)
    return skeleton


# Shape arithmetic folded before inference, where shape inference cannot see a value: the
# legacy (TorchScript) exporter computes a ViT's class-token expansion or BERT's attention-mask
# shape from Shape, ConstantOfShape, Where and Equal nodes, whose values onnx's data
# propagation does not carry, leaving later shapes unknown. Only integer and boolean tensors
# this small are folded: shapes and indices, never weights or activations.
FOLD_LIMIT = 4096
_FOLDED_TYPES = frozenset({TensorProto.INT64, TensorProto.INT32, TensorProto.BOOL})


def _shape_value(node: onnx.NodeProto, known: dict[str, onnx.ValueInfoProto]) -> Any:
    """A Shape node's value where inference knows its input's every dimension, else None."""
    import numpy as np

    value = known.get(node.input[0])
    dims = value.type.tensor_type.shape.dim if value is not None else None
    if not dims or not all(d.HasField("dim_value") for d in dims):
        return None
    attrs = {a.name: _attribute(a) for a in node.attribute}
    sizes = [d.dim_value for d in dims][attrs.get("start", 0) : attrs.get("end", len(dims))]
    return np.array(sizes, dtype=np.int64)


def _evaluated(node: onnx.NodeProto, values: dict[str, Any]) -> list[Any] | None:
    """A standard node's outputs computed from constant inputs, where they are all small
    integer or boolean tensors; None otherwise."""
    import numpy as np
    from onnx.reference import ReferenceEvaluator

    if node.domain not in ("", "ai.onnx") or any(a.type in (5, 10) for a in node.attribute):
        return None  # another domain's operator, or one with a subgraph (If, Loop, Scan)
    try:
        found = ReferenceEvaluator(node).run(None, {n: values[n] for n in node.input if n})
    except Exception:  # the reference cannot run it (an operator it lacks): left as it is
        return None
    outputs = [np.asarray(o) for o in found]
    small = all(
        helper.np_dtype_to_tensor_dtype(o.dtype) in _FOLDED_TYPES and o.size <= FOLD_LIMIT
        for o in outputs
    )
    return outputs if small else None


def _fold_shape_arithmetic(model: onnx.ModelProto, folder: Path) -> None:
    """Replace, in place, every node computing a small integer tensor from constants (or a
    Shape of a tensor of known shape) by an initializer, until inference sees them all. A
    small constant stored beside the file (`folder`, a model over 2 GB) is read from there."""
    from onnx import numpy_helper

    graph = model.graph
    while True:
        try:
            inferred = onnx.shape_inference.infer_shapes(_skeleton(model), data_prop=True).graph
        except onnx.shape_inference.InferenceError:
            return  # `_infer` says what fails
        known = {v.name: v for v in (*inferred.input, *inferred.value_info)}
        values = {t.name: numpy_helper.to_array(t, base_dir=str(folder))
                  for t in graph.initializer
                  if t.data_type in _FOLDED_TYPES and math.prod(t.dims) <= FOLD_LIMIT}  # fmt: skip
        nodes = list(graph.node)
        replaced: set[int] = set()  # positions of the nodes that become initializers
        for index, node in enumerate(nodes):
            if node.op_type == "Shape":
                shape = _shape_value(node, known)
                outputs = None if shape is None else [shape]
            elif all(name in values for name in node.input if name):
                outputs = _evaluated(node, values)
            else:
                continue
            if outputs is None:
                continue
            values.update(zip(node.output, outputs, strict=True))
            if node.op_type != "Constant":  # a Constant is already a value the reader reads
                replaced.add(index)
        if not replaced:
            return
        created = [name for index in sorted(replaced) for name in nodes[index].output]
        del graph.node[:]
        graph.node.extend(n for index, n in enumerate(nodes) if index not in replaced)
        graph.initializer.extend(numpy_helper.from_array(values[name], name) for name in created)


def _infer(model: onnx.ModelProto, path: Path) -> dict[str, _Tensor]:
    """Every tensor's shape and element type, by name."""
    try:
        inferred = onnx.shape_inference.infer_shapes(_skeleton(model), data_prop=True)
    except onnx.shape_inference.InferenceError as error:
        reason = str(error).strip().splitlines()[0]
        raise UserError(
            f"shape inference fails on '{path}' ({reason}): check --input-shape"
        ) from None
    graph = inferred.graph
    tensors = {v.name: _tensor(v) for v in (*graph.input, *graph.value_info, *graph.output)}
    tensors.update({t.name: _Tensor(tuple(t.dims), t.data_type) for t in model.graph.initializer})
    return tensors


class _Reader:
    """Walks the nodes in order, folding static ones and recording the rest as layers."""

    def __init__(
        self, graph: onnx.GraphProto, tensors: dict[str, _Tensor], bits: int | None, path: Path
    ) -> None:
        self.graph = graph
        self.tensors = tensors
        self.bits = bits
        self.path = path
        # Static tensors -> the initializers (or Constant outputs) their value derives from.
        self.sources = {t.name: frozenset({t.name}) for t in graph.initializer}
        # Batch-norm running statistics are buffers in PyTorch, not parameters; integer
        # weights that a DequantizeLinear reads are parameters.
        batch_norms = [n for n in graph.node if n.op_type == "BatchNormalization"]
        self.statistics = {name for n in batch_norms for name in n.input[3:5]}
        self.quantized = {n.input[0] for n in graph.node if n.op_type == "DequantizeLinear"}
        self.parameters = {name for name in self.sources if self._is_parameter(name)}
        self.read: set[str] = set()
        self.layers: list[Layer] = []
        # Activation tensors -> the index of the layer that produced them (aliases share it).
        self.producer: dict[str, int] = {}
        self.uncounted: Counter[str] = Counter()

    def _is_parameter(self, name: str) -> bool:
        """Single values are the scales and epsilons exporters emit, not parameters."""
        tensor = self.tensors.get(name, _UNKNOWN)
        if name in self.statistics or tensor.elements <= 1:
            return False
        return name in self.quantized or _is_float(tensor.elem_type)

    def visit(self, index: int, node: onnx.NodeProto) -> None:
        present = [i for i, name in enumerate(node.input) if name]
        values = [node.input[i] for i in present if i not in METADATA_INPUTS.get(node.op_type, ())]
        if node.op_type == "Constant":
            constant = node.output[0]
            self.sources[constant] = frozenset({constant})
            if self._is_parameter(constant):
                self.parameters.add(constant)
        elif all(name in self.sources for name in values):
            read = frozenset().union(*(self.sources[name] for name in values))
            self.sources.update(dict.fromkeys(filter(None, node.output), read))
        elif node.op_type in ALIASES:
            if node.input and node.input[0] in self.producer:
                self.producer[node.output[0]] = self.producer[node.input[0]]
        else:
            self.layers.append(self._layer(index, node, present))
            self.producer.update(dict.fromkeys(filter(None, node.output), len(self.layers) - 1))

    def _elements(self, names: Iterable[str]) -> int:
        return sum(self.tensors.get(name, _UNKNOWN).elements for name in names)

    def _layer(self, index: int, node: onnx.NodeProto, present: list[int]) -> Layer:
        tensors = self.tensors
        weights = frozenset(i for i in present if node.input[i] in self.sources)
        activations = [tensors.get(node.input[i], _UNKNOWN) for i in present if i not in weights]
        out = tensors.get(node.output[0], _UNKNOWN)
        label = node.name or f"{node.op_type}_{index}"
        # An operator of another domain (com.microsoft, a vendor's) has no formula here, even
        # where its name matches a standard one: it is recorded with its bytes and listed in
        # `uncounted_ops`, never counted as zero work nor refused.
        standard = node.domain in ("", "ai.onnx")
        op = f"onnx::{node.op_type}" if standard else f"onnx::{node.domain}.{node.op_type}"
        formula = ONNX_FORMULAS.get(node.op_type) if standard else None
        count = None
        if formula is not None:
            inputs = tuple(tensors.get(name, _UNKNOWN).shape for name in node.input)
            attrs = {a.name: _attribute(a) for a in node.attribute}
            try:
                check_attributes(node.op_type, attrs)
                if out.shape is None or any(a.shape is None for a in activations):
                    raise UnknownShape
                for name, shape in zip(node.input, inputs, strict=True):
                    if name and shape is not None:
                        check_dims(f"input '{name}'", shape)
                call = Call(inputs, frozenset(present), weights, attrs, out.shape)
                count = formula(call)  # checks what its op needs, before the output's size
                check_dims(f"output '{node.output[0]}'", out.shape)
            except BadNode as bad:
                raise UserError(
                    f"node '{label}' ({node.op_type}) in '{self.path}': {bad}"
                ) from None
            except UnknownShape:
                raise UserError(
                    f"shape inference cannot determine the shapes of node '{label}' "
                    f"({node.op_type}) in '{self.path}': give --input-shape, or re-export "
                    "with static shapes and constants folded (torch.onnx.export(dynamo=True))"
                ) from None
        if count is None:
            self.uncounted[op] += 1
            count = OpCount("uncounted")
        initializers = frozenset().union(*(self.sources[node.input[i]] for i in weights))
        fresh = (initializers & self.parameters) - self.read
        self.read |= fresh
        # Weights take the bit-width of the largest one read, or else of the output.
        largest = max(initializers, key=lambda n: self._elements([n]), default=node.output[0])
        return Layer(
            index=len(self.layers),
            name=label,
            op=op,
            kind=count.kind,
            input_shapes=tuple(a.shape or () for a in activations),
            output_shape=out.shape or (),
            elementwise_flops=count.elementwise_flops,
            params=self._elements(fresh),
            weight_elements=self._elements(initializers)
            if count.gathered is None
            else count.gathered,
            input_elements=sum(a.elements for a in activations),
            output_elements=out.elements,
            weight_bits=self._bits(tensors.get(largest, out)),
            activation_bits=self._bits(out),
            gemms=count.gemms,
            producers=tuple(
                self.producer.get(node.input[i], -1) for i in present if i not in weights
            ),
            gathers=count.gathered is not None,
        )

    def outputs(self) -> tuple[int, ...]:
        """The layers whose results are graph outputs."""
        names = (output.name for output in self.graph.output)
        return tuple(sorted({self.producer[n] for n in names if n in self.producer}))

    def _bits(self, tensor: _Tensor) -> int:
        return self.bits or element_bits(tensor.elem_type)

    def unused_params(self) -> int:
        return self._elements(self.parameters - self.read)

    def peak_activation_bytes(self) -> int:
        """Simulate liveness in node order: a buffer lives from its producer (graph inputs
        from the start) to its last consumer (graph outputs to the end); aliases share it."""
        nodes = self.graph.node
        static = self.sources.keys()
        root: dict[str, str] = {}
        produced: list[list[str]] = [[] for _ in nodes]
        last_use: dict[str, int] = {}
        for index, node in enumerate(nodes):
            if all(name in static for name in node.output if name):
                continue  # folded: reads shapes at most
            for name in node.input:
                if name and name not in static:
                    last_use[root.get(name, name)] = index
            if node.op_type in ALIASES:
                root[node.output[0]] = root.get(node.input[0], node.input[0])
            else:
                produced[index] = [name for name in node.output if name]
        for output in self.graph.output:
            last_use[root.get(output.name, output.name)] = len(nodes)
        freed: list[list[str]] = [[] for _ in range(len(nodes) + 1)]
        for name, index in last_use.items():
            freed[index].append(name)
        inputs = [value.name for value in self.graph.input if value.name not in static]
        current = peak = sum(self._bytes(name) for name in inputs)
        for index, names in enumerate(produced):
            current += sum(self._bytes(name) for name in names)
            peak = max(peak, current)
            unused = [name for name in names if name not in last_use]
            current -= sum(self._bytes(name) for name in freed[index] + unused)
        return peak

    def _bytes(self, name: str) -> int:
        tensor = self.tensors.get(name, _UNKNOWN)
        return bits_to_bytes(tensor.elements, self._bits(tensor))


def profile_onnx(
    path: Path, inputs: Sequence[ModelInput] | None, bits: int | None, name: str
) -> Workload:
    """Count every node of the ONNX model at `path` into a Workload.

    `inputs` fix graph inputs' shapes (by name, or in order where unnamed); `bits` overrides
    the bit-width of weights and activations, which otherwise follows each tensor's element
    type.
    """
    model = _load(path)
    graph_inputs = _fix_inputs(model, inputs, path)
    _fold_shape_arithmetic(model, path.parent)
    reader = _Reader(model.graph, _infer(model, path), bits, path)
    for index, node in enumerate(model.graph.node):
        reader.visit(index, node)
    return Workload(
        model=name,
        input_shape=graph_inputs[0].shape,
        layers=tuple(reader.layers),
        peak_activation_bytes=reader.peak_activation_bytes(),
        unused_params=reader.unused_params(),
        uncounted_ops=dict(reader.uncounted),
        outputs=reader.outputs(),
        inputs=graph_inputs,
    )


def _attribute(attribute: onnx.AttributeProto) -> Any:
    value = helper.get_attribute_value(attribute)
    return value.decode() if isinstance(value, bytes) else value
