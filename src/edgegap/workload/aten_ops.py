"""The registry of per-operator formulas for PyTorch, keyed by aten operator.

Adding an operator is one decorated function of shapes (tensor arguments arrive as tuples
of their sizes; `args.weights` holds the positions of those that are model parameters or
buffers, or views of them):

    @register(aten.my_op)
    def _my_op(args, kwargs, out):
        return formulas.elementwise("activation", "relu", out)

Operators missing from the registry are still recorded (with their bytes) and listed in
`Workload.uncounted_ops`, so nothing is silently counted as zero.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, NamedTuple

import torch

from edgegap.workload import formulas
from edgegap.workload.formulas import OpCount

aten = torch.ops.aten
Shape = Sequence[int]


class Args(tuple[Any, ...]):
    """An operator's positional arguments as a formula sees them: tensors as their shapes,
    and `weights`, the positions of the tensors that are model state (a parameter, a buffer,
    or a view of one such as a linear layer's transposed weight), not activations."""

    weights: frozenset[int]

    def __new__(cls, values: Sequence[Any], weights: frozenset[int] = frozenset()) -> Args:
        args = super().__new__(cls, values)
        args.weights = weights
        return args


class Packed(NamedTuple):
    """A quantized module's packed parameters as a formula sees them: the weight's shape and
    whether a bias is packed with it."""

    weight: Shape
    bias: bool


Formula = Callable[[Args, dict[str, Any], Shape], OpCount]

ATEN_FORMULAS: dict[Any, Formula] = {}


def register(*ops: Any) -> Callable[[Formula], Formula]:
    """Register `formula` for every overload of each aten operator packet in `ops`."""

    def decorator(formula: Formula) -> Formula:
        for op in ops:
            ATEN_FORMULAS[op] = formula
        return formula

    return decorator


def register_elementwise(kind: str, operations: dict[str, Sequence[Any]]) -> None:
    """Register element-wise operators whose cost is `ELEMENT_FLOPS[name]` per output element."""
    for operation, ops in operations.items():

        def formula(
            args: tuple[Any, ...], kwargs: dict[str, Any], out: Shape, operation: str = operation
        ) -> OpCount:
            return formulas.elementwise(kind, operation, out)

        register(*ops)(formula)


# Operators that allocate, alias or reinterpret memory without computing: never recorded.
# (Every operator whose schema says it returns a view is skipped as well.)
IGNORED: frozenset[Any] = frozenset(
    {
        aten.empty, aten.empty_like, aten.empty_strided, aten.zeros, aten.zeros_like,
        aten.ones, aten.ones_like, aten.full, aten.full_like, aten.new_zeros, aten.new_empty,
        aten.new_ones, aten.new_full, aten.scalar_tensor, aten.arange, aten.linspace,
        aten.lift_fresh, aten.detach, aten._local_scalar_dense, aten._unsafe_view,
        aten.as_strided_, aten.resize_,
    }
)  # fmt: skip


@register(aten.convolution, aten._convolution)
def _convolution(args: tuple[Any, ...], kwargs: dict[str, Any], out: Shape) -> OpCount:
    x, w, bias, _stride, _padding, _dilation, transposed, _output_padding, groups = args[:9]
    return formulas.conv(x, w, out, groups=groups, transposed=transposed, bias=bias is not None)


@register(aten.mm, aten.bmm)
def _mm(args: Args, kwargs: dict[str, Any], out: Shape) -> OpCount:
    weighted = 1 in args.weights  # the (k x n) operand is a stored weight
    return formulas.matmul(args[0], args[1], out, weighted)


@register(aten._grouped_mm)
def _grouped_mm(args: Args, kwargs: dict[str, Any], out: Shape) -> OpCount:
    """A mixture of experts' products: the routed rows (`args[0]`) times their experts'
    matrices, a stack (`args[1]`, stored weights in a model)."""
    return formulas.grouped_matmul(args[0], args[1], out, 1 in args.weights)


@register(aten.addmm, aten.baddbmm)
def _addmm(args: Args, kwargs: dict[str, Any], out: Shape) -> OpCount:
    """bias + a @ b: nn.Linear's addmm(bias, x, weight.t()) multiplies by a parameter."""
    weighted = 2 in args.weights
    return formulas.matmul(args[1], args[2], out, weighted, bias=True)


@register(
    aten._scaled_dot_product_flash_attention,
    aten._scaled_dot_product_flash_attention_for_cpu,
    aten._scaled_dot_product_efficient_attention,
    aten._scaled_dot_product_cudnn_attention,
    aten._scaled_dot_product_fused_attention_overrideable,
)
def _attention(args: tuple[Any, ...], kwargs: dict[str, Any], out: Shape) -> OpCount:
    return formulas.attention(args[0], args[1], args[2])


@register(
    aten.max_pool1d, aten.max_pool2d, aten.max_pool3d,
    aten.max_pool2d_with_indices, aten.max_pool3d_with_indices,
)  # fmt: skip
def _max_pool(args: tuple[Any, ...], kwargs: dict[str, Any], out: Shape) -> OpCount:
    return formulas.pool(args[0], out, kernel=args[1], average=False)


@register(aten.avg_pool1d, aten.avg_pool2d, aten.avg_pool3d)
def _avg_pool(args: tuple[Any, ...], kwargs: dict[str, Any], out: Shape) -> OpCount:
    return formulas.pool(args[0], out, kernel=args[1], average=True)


@register(
    aten.adaptive_avg_pool1d, aten.adaptive_avg_pool2d, aten.adaptive_avg_pool3d,
    aten._adaptive_avg_pool2d, aten._adaptive_avg_pool3d,
)  # fmt: skip
def _adaptive_avg_pool(args: tuple[Any, ...], kwargs: dict[str, Any], out: Shape) -> OpCount:
    return formulas.pool(args[0], out, kernel=None, average=True)


@register(aten.adaptive_max_pool1d, aten.adaptive_max_pool2d, aten.adaptive_max_pool3d)
def _adaptive_max_pool(args: tuple[Any, ...], kwargs: dict[str, Any], out: Shape) -> OpCount:
    return formulas.pool(args[0], out, kernel=None, average=False)


@register(aten.sum, aten.amax, aten.amin, aten.max, aten.min)
def _sum(args: tuple[Any, ...], kwargs: dict[str, Any], out: Shape) -> OpCount:
    """One FLOP per input element: a sum, or a max or min whole or along a dimension (Phi-3's
    rotary embedding takes the largest position id to choose its scaling factors)."""
    return formulas.reduction(args[0], out)


@register(aten.topk, aten.histc)
def _select(args: tuple[Any, ...], kwargs: dict[str, Any], out: Shape) -> OpCount:
    """One comparison per input element: a router's top-k experts of its scores (k much less
    than the experts), or a count of the tokens routed to each expert."""
    return formulas.reduction(args[0], out, per_output=0)


@register(aten.sort)
def _sort(args: tuple[Any, ...], kwargs: dict[str, Any], out: Shape) -> OpCount:
    """A comparison sort: n ceil(log2 n) comparisons for each row of n along the sorted
    dimension (a router's token-expert pairs, sorted by expert)."""
    x = args[0]
    dim = kwargs.get("dim", args[1] if len(args) > 1 and isinstance(args[1], int) else -1)
    length = x[dim] if x else 1
    depth = math.ceil(math.log2(length)) if length > 1 else 0
    return formulas.reduction(x, out, per_input=depth)


@register(aten.mean)
def _mean(args: tuple[Any, ...], kwargs: dict[str, Any], out: Shape) -> OpCount:
    return formulas.reduction(args[0], out, per_output=1)


@register(aten.cumsum, aten.cumsum_)
def _cumsum(args: tuple[Any, ...], kwargs: dict[str, Any], out: Shape) -> OpCount:
    """A running sum (a language model's position ids from its mask): one add per element."""
    return formulas.elementwise("reduction", "cumsum", out)


@register(aten.linalg_vector_norm)
def _vector_norm(args: tuple[Any, ...], kwargs: dict[str, Any], out: Shape) -> OpCount:
    return formulas.reduction(args[0], out, per_input=2, per_output=1)  # square, add; sqrt


@register(aten.gelu, aten.gelu_)
def _gelu(args: tuple[Any, ...], kwargs: dict[str, Any], out: Shape) -> OpCount:
    approximate = kwargs.get("approximate", args[1] if len(args) > 1 else "none")
    return formulas.elementwise("activation", "gelu_tanh" if approximate == "tanh" else "gelu", out)


_UPSAMPLE_MODES = {
    aten.upsample_nearest1d: "nearest", aten.upsample_nearest2d: "nearest",
    aten.upsample_nearest3d: "nearest", aten._upsample_nearest_exact1d: "nearest",
    aten._upsample_nearest_exact2d: "nearest", aten._upsample_nearest_exact3d: "nearest",
    aten.upsample_linear1d: "linear", aten.upsample_bilinear2d: "bilinear",
    aten._upsample_bilinear2d_aa: "bilinear", aten.upsample_trilinear3d: "trilinear",
    aten.upsample_bicubic2d: "bicubic", aten._upsample_bicubic2d_aa: "bicubic",
}  # fmt: skip

for _op, _mode in _UPSAMPLE_MODES.items():

    def _upsample(
        args: tuple[Any, ...], kwargs: dict[str, Any], out: Shape, mode: str = _mode
    ) -> OpCount:
        return formulas.upsample(out, mode)

    register(_op)(_upsample)


# grid_sampler_2d's interpolation_mode, as torch numbers it (torch.nn.functional.grid_sample):
# each output element interpolates from the taps of its mode, as an upsampling does.
_GRID_SAMPLER_MODES = {0: "bilinear", 1: "nearest", 2: "bicubic"}


@register(aten.grid_sampler_2d)
def _grid_sampler(args: tuple[Any, ...], kwargs: dict[str, Any], out: Shape) -> OpCount:
    """RAFT's look-up in its correlation pyramid: a bilinear sample per output element."""
    return formulas.upsample(out, _GRID_SAMPLER_MODES[args[2]])


@register(aten.embedding)
def _embedding(args: tuple[Any, ...], kwargs: dict[str, Any], out: Shape) -> OpCount:
    """One row of the table (`args[0]`) per index: the output's elements."""
    return formulas.lookup(args[0], formulas.numel(out))


@register(aten._embedding_bag)
def _embedding_bag(args: tuple[Any, ...], kwargs: dict[str, Any], out: Shape) -> OpCount:
    """One row per index (`args[1]`), however many bags the rows are summed into."""
    return formulas.lookup(args[0], formulas.numel(args[1]) * args[0][-1])


register_elementwise(
    "activation",
    {
        "relu": [aten.relu, aten.relu_, aten.threshold, aten.threshold_],
        "clamp": [aten.clamp, aten.clamp_, aten.clamp_min, aten.clamp_min_, aten.clamp_max,
                  aten.clamp_max_],
        "hardtanh": [aten.hardtanh, aten.hardtanh_],
        "tanh": [aten.tanh, aten.tanh_],
        "leaky_relu": [aten.leaky_relu, aten.leaky_relu_, aten._prelu_kernel],
        "elu": [aten.elu, aten.elu_],
        "softplus": [aten.softplus],
        "hardsigmoid": [aten.hardsigmoid, aten.hardsigmoid_],
        "sigmoid": [aten.sigmoid, aten.sigmoid_],
        "hardswish": [aten.hardswish, aten.hardswish_],
        "silu": [aten.silu, aten.silu_],
        "mish": [aten.mish, aten.mish_],
    },
)  # fmt: skip
register_elementwise(
    "elementwise",
    {
        "add": [aten.add, aten.add_],
        "sub": [aten.sub, aten.sub_, aten.rsub],
        "mul": [aten.mul, aten.mul_],
        "div": [aten.div, aten.div_, aten.floor_divide, aten.floor_divide_],
        "neg": [aten.neg, aten.neg_],
        "abs": [aten.abs, aten.abs_],
        "pow": [aten.pow, aten.pow_],
        "exp": [aten.exp, aten.exp_],
        "log": [aten.log, aten.log_],
        "sqrt": [aten.sqrt, aten.sqrt_],
        "rsqrt": [aten.rsqrt, aten.rsqrt_],
        "reciprocal": [aten.reciprocal, aten.reciprocal_],
        "erf": [aten.erf, aten.erf_],
        "maximum": [aten.maximum],
        "minimum": [aten.minimum],
        "where": [aten.where],
        "compare": [aten.eq, aten.ne, aten.lt, aten.le, aten.gt, aten.ge, aten.isnan,
                    aten.isinf],
        "masked_fill": [aten.masked_fill, aten.masked_fill_],
        "sin": [aten.sin, aten.sin_],
        "cos": [aten.cos, aten.cos_],
        "logical": [aten.logical_and, aten.logical_and_, aten.logical_or, aten.logical_or_,
                    aten.logical_xor, aten.logical_xor_, aten.logical_not, aten.logical_not_,
                    aten.bitwise_and, aten.bitwise_and_, aten.bitwise_or, aten.bitwise_or_,
                    aten.bitwise_xor, aten.bitwise_xor_, aten.bitwise_not, aten.bitwise_not_],
        "select": [aten.tril, aten.tril_, aten.triu, aten.triu_],
    },
)  # fmt: skip
register_elementwise(
    "norm",
    {
        "batch_norm": [aten.native_batch_norm, aten._native_batch_norm_legit,
                       aten._native_batch_norm_legit_no_training],
        "layer_norm": [aten.native_layer_norm, aten.native_group_norm],
    },
)  # fmt: skip
register_elementwise("softmax", {"softmax": [aten._softmax, aten._log_softmax, aten._safe_softmax]})
register_elementwise(
    "movement",
    {
        "move": [aten.cat, aten.stack, aten.clone, aten._to_copy, aten.copy_, aten.copy,
                 aten.constant_pad_nd, aten.reflection_pad1d, aten.reflection_pad2d,
                 aten.replication_pad1d, aten.replication_pad2d, aten.roll, aten.flip,
                 aten.repeat, aten.index, aten._unsafe_index, aten.index_select, aten.gather,
                 aten.fill_, aten.zero_, aten.im2col, aten.index_copy, aten.index_put],
    },
)  # fmt: skip


# `self[index] = source` in place (a decode step writing its token into a preallocated KV
# cache): the source's elements move, the rest of `self` is not touched.
@register(aten.index_copy_)
def _index_copy_in_place(args: tuple[Any, ...], kwargs: dict[str, Any], out: Shape) -> OpCount:
    return OpCount("movement", written=formulas.numel(args[3]))  # (self, dim, index, source)


@register(aten.index_put_)
def _index_put_in_place(args: tuple[Any, ...], kwargs: dict[str, Any], out: Shape) -> OpCount:
    return OpCount("movement", written=formulas.numel(args[2]))  # (self, indices, values)


# Fast Fourier transforms. A length-N complex FFT is 5 N log2 N real FLOPs (radix-2: N/2 log2 N
# butterflies, each a complex multiply, 6 FLOPs, and a complex add and subtract, 4); a real-input
# (r2c) or real-output (c2r) transform does half; a multi-dimensional one is the same count with
# N the product of its lengths. A normalised transform scales each real output component once.
# No MACs: an FFT runs on the vector lanes, not as a matrix product.
def _fft(
    signal: Shape, dims: Sequence[int], per_point: float, normalized: int, scaled: int
) -> OpCount:
    length = formulas.numel([signal[d] for d in dims])
    flops = per_point * formulas.numel(signal) * math.log2(length) if length > 1 else 0.0
    return OpCount("fft", elementwise_flops=round(flops) + (scaled if normalized else 0))


@register(aten._fft_r2c)
def _fft_r2c(args: tuple[Any, ...], kwargs: dict[str, Any], out: Shape) -> OpCount:
    x, dims, normalization = args[:3]
    return _fft(x, dims, 2.5, normalization, 2 * formulas.numel(out))


@register(aten._fft_c2r)
def _fft_c2r(args: tuple[Any, ...], kwargs: dict[str, Any], out: Shape) -> OpCount:
    _, dims, normalization = args[:3]  # the real output holds the transform's lengths
    return _fft(out, dims, 2.5, normalization, formulas.numel(out))


@register(aten._fft_c2c)
def _fft_c2c(args: tuple[Any, ...], kwargs: dict[str, Any], out: Shape) -> OpCount:
    x, dims, normalization = args[:3]
    return _fft(x, dims, 5.0, normalization, 2 * formulas.numel(out))


# Quantized modules (torch.ao.nn.quantized; torchvision's models built with quantize=True) run
# the integer kernels of the `quantized` namespace on packed weights (`Packed`), counted as
# their float counterparts; a fused ReLU adds its FLOP per output element. Quantize and
# dequantize, at the edges of an integer region, scale and shift each element.
quantized = torch.ops.quantized


def _relu_fused(count: OpCount, out: Shape) -> OpCount:
    return replace(count, elementwise_flops=count.elementwise_flops + formulas.numel(out))


def _quantized_conv(args: Args, out: Shape) -> OpCount:
    x, packed = args[0], args[1]
    return formulas.conv(x, packed.weight, out, groups=x[1] // packed.weight[1],
                         transposed=False, bias=packed.bias)  # fmt: skip


def _quantized_linear(args: Args, out: Shape) -> OpCount:
    x, packed = args[0], args[1]
    out_features, in_features = packed.weight[:2]
    return formulas.matmul(x, (in_features, out_features), out, weighted=True, bias=packed.bias)


@register(quantized.conv1d, quantized.conv2d, quantized.conv3d)
def _qconv(args: Args, kwargs: dict[str, Any], out: Shape) -> OpCount:
    return _quantized_conv(args, out)


@register(quantized.conv1d_relu, quantized.conv2d_relu, quantized.conv3d_relu)
def _qconv_relu(args: Args, kwargs: dict[str, Any], out: Shape) -> OpCount:
    return _relu_fused(_quantized_conv(args, out), out)


@register(quantized.linear, quantized.linear_dynamic)
def _qlinear(args: Args, kwargs: dict[str, Any], out: Shape) -> OpCount:
    return _quantized_linear(args, out)


@register(quantized.linear_relu)
def _qlinear_relu(args: Args, kwargs: dict[str, Any], out: Shape) -> OpCount:
    return _relu_fused(_quantized_linear(args, out), out)


@register(quantized.matmul)
def _qmatmul(args: Args, kwargs: dict[str, Any], out: Shape) -> OpCount:
    return formulas.matmul(args[0], args[1], out, weighted=False)


@register(quantized.add_relu, quantized.mul_relu, quantized.add_scalar_relu)
def _qarithmetic_relu(args: Args, kwargs: dict[str, Any], out: Shape) -> OpCount:
    return _relu_fused(formulas.elementwise("elementwise", "add", out), out)


@register(aten.quantized_max_pool1d, aten.quantized_max_pool2d)
def _qmax_pool(args: Args, kwargs: dict[str, Any], out: Shape) -> OpCount:
    return formulas.pool(args[0], out, kernel=args[1], average=False)


register_elementwise("elementwise", {
    "add": [quantized.add, quantized.add_scalar, quantized.mul, quantized.mul_scalar],
    "quantize": [aten.quantize_per_tensor, aten.quantize_per_channel, aten.dequantize],
})  # fmt: skip
register_elementwise("activation", {
    "relu": [quantized.relu6, quantized.threshold],
    "hardswish": [quantized.hardswish], "sigmoid": [quantized.sigmoid],
    "leaky_relu": [quantized.leaky_relu], "elu": [quantized.elu, quantized.celu],
})  # fmt: skip
register_elementwise("norm", {
    "batch_norm": [quantized.batch_norm2d], "layer_norm": [quantized.layer_norm],
})  # fmt: skip
register_elementwise("softmax", {"softmax": [quantized.softmax]})
register_elementwise("movement", {"move": [quantized.cat]})
