"""Counting formulas on shapes: the one place each rule of arithmetic lives.

Both the PyTorch tracer (keyed by aten operator) and the ONNX reader (keyed by ONNX op
type) call these functions, so a convolution is counted the same way wherever it comes from.

Conventions (docs/counting.md):
- MACs are the multiply-accumulates of convolution, matrix products and attention, counted
  exactly as torchvision's published `_ops`: batch x weight elements x output positions for a
  convolution, m x k x n per matrix product. Nothing else has MACs.
- FLOPs = 2 x MACs (`OPS_PER_MAC`) + one FLOP per elementary arithmetic or transcendental
  function applied to one element (bias adds, normalisation, activations, softmax,
  element-wise arithmetic, pooling windows, interpolation taps): the `elementwise_flops`.
  The per-element costs are in `ELEMENT_FLOPS`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from edgegap.workload.layer import Counted, Gemm

Shape = Sequence[int]

# FLOPs per output element for element-wise work, by canonical operation name.
# fmt: off
ELEMENT_FLOPS: dict[str, int] = {
    # arithmetic and comparisons: one operation
    "add": 1, "sub": 1, "mul": 1, "div": 1, "neg": 1, "abs": 1, "pow": 1,
    "maximum": 1, "minimum": 1, "where": 1, "compare": 1, "masked_fill": 1,
    "exp": 1, "log": 1, "sqrt": 1, "rsqrt": 1, "reciprocal": 1, "erf": 1, "sin": 1, "cos": 1,
    "logical": 1,                       # and, or, xor, not (logical or bitwise, on masks)
    "select": 1,                        # tril, triu: keep or zero each element, as `where`
    "cumsum": 1,                        # a running sum: one add per element
    # activations, written out as their elementary operations
    "relu": 1, "clamp": 1, "hardtanh": 1, "tanh": 1,
    "leaky_relu": 2,                    # mul, max
    "elu": 3, "softplus": 3,            # exp, add or sub, mul or log
    "hardsigmoid": 3,                   # add 3, clamp, div 6
    "sigmoid": 4, "hardswish": 4,       # neg, exp, add, div | hardsigmoid, mul
    "silu": 5, "mish": 5,               # sigmoid, mul | softplus, tanh, mul
    "gelu": 5,                          # x/2 (1 + erf(x / sqrt 2))
    "gelu_tanh": 9,                     # x^3, scale, add, scale, tanh, add, mul, mul 0.5
    # normalisation (inference): batch norm folds to a per-channel scale and shift
    "batch_norm": 2,
    "layer_norm": 7,                    # mean, centre, square, accumulate, normalise, affine (2)
    "softmax": 5,                       # max, subtract, exp, sum, divide
    # interpolation taps per output element
    "nearest": 0, "linear": 3, "bilinear": 9, "bicubic": 31, "trilinear": 21,
    # data movement: copies, gathers, padding
    "move": 0,
    # integer formats: quantize (x / scale + zero point) or dequantize ((q - zero point) x scale)
    "quantize": 2,
}
# fmt: on


@dataclass(frozen=True)
class OpCount(Counted):
    """What one operator does: its kind, matrix form (if it has one) and the FLOPs that are
    not multiply-accumulates; MACs and FLOPs follow, as in a `Layer`."""

    kind: str
    elementwise_flops: int = 0
    gemms: tuple[Gemm, ...] = ()
    gathered: int | None = None  # a lookup's elements read of its table (None: all it reads)
    # An in-place write's elements (a new token scattered into a preallocated KV cache): it
    # reads and writes those, not the whole tensor it writes into (None: as its tensors are).
    written: int | None = None


def lookup(table: Shape, elements: int) -> OpCount:
    """A table lookup that gathers `elements` of its table (its rows looked up): it reads
    those, never more than the table, however often a row repeats."""
    return OpCount("embedding", gathered=min(elements, numel(table)))


def numel(shape: Shape) -> int:
    return math.prod(shape)


def elementwise(kind: str, operation: str, out: Shape) -> OpCount:
    return OpCount(kind, elementwise_flops=ELEMENT_FLOPS[operation] * numel(out))


def conv(x: Shape, w: Shape, out: Shape, groups: int, transposed: bool, bias: bool) -> OpCount:
    """Convolution of any dimensionality, grouped, depthwise, dilated or transposed.

    A forward convolution with weight (Cout, Cin/g, *k) is g GEMMs of
    (batch*output positions) x (Cin/g * k) x (Cout/g); a transposed one, with weight
    (Cin, Cout/g, *k), scatters each input position: g GEMMs of
    (batch*input positions) x (Cin/g) x (Cout/g * k). Dilation and stride only change `out`.
    """
    batch = x[0]
    kernel = numel(w[2:])
    if transposed:
        gemm = Gemm(groups, batch * numel(x[2:]), w[0] // groups, w[1] * kernel, weighted=True)
    else:
        gemm = Gemm(groups, batch * numel(out[2:]), w[1] * kernel, w[0] // groups, weighted=True)
    bias_flops = numel(out) if bias else 0
    return OpCount("conv", bias_flops, (gemm,))


def matmul(a: Shape, b: Shape, out: Shape, weighted: bool, bias: bool = False) -> OpCount:
    """Matrix product with numpy broadcasting of batch dimensions; 1-D operands allowed.

    `weighted`: one operand is a stored weight (a linear layer), not a computed activation.
    """
    m = a[-2] if len(a) > 1 else 1
    k = a[-1]
    n = b[-1] if len(b) > 1 else 1
    groups = numel(out) // (m * n) if m * n else 0
    gemm = Gemm(groups, m, k, n, weighted)
    bias_flops = numel(out) if bias else 0
    return OpCount("matmul", bias_flops, (gemm,))


def grouped_matmul(x: Shape, stack: Shape, out: Shape, weighted: bool) -> OpCount:
    """A mixture of experts' products (`torch._grouped_mm`): each of the routed rows of `x`
    (rows x k) times the k x n matrix of its expert, one of a stack of E (E x k x n).

    Which expert a row goes to is the router's choice, a value, so the rows are taken as
    spread evenly over min(E, rows) experts, and those experts' matrices as read: exact for
    a decode step (its token is routed to its top-k distinct experts, k rows) and for a
    prompt long enough to reach every expert; in between, an upper bound on the experts
    read. Any other layout (a 3-D batch, a 2-D stack grouped along k) is a matrix product.
    """
    if len(x) != 2 or len(stack) != 3:
        return matmul(x, stack, out, weighted)
    rows, k = x
    experts, n = stack[0], stack[-1]
    hit = min(experts, rows)
    if not hit:
        return OpCount("matmul")
    each, extra = divmod(rows, hit)  # `extra` experts take one row more than the rest
    shares = ((extra, each + 1), (hit - extra, each))
    gemms = tuple(Gemm(count, m, k, n, weighted) for count, m in shares if count and m)
    return OpCount("matmul", gemms=gemms, gathered=hit * k * n if weighted else None)


def attention(q: Shape, k: Shape, v: Shape) -> OpCount:
    """Scaled dot-product attention: scores Q K^T, softmax, then scores @ V.

    q (..., L, E), k (..., S, E), v (..., S, Ev): MACs = heads x L x S x (E + Ev), the two
    matrix products torchvision counts; FLOPs add the scaling and the softmax on L x S scores.
    Both products multiply activations: neither operand is a stored weight.
    """
    heads = numel(q[:-2])
    length, embed = q[-2], q[-1]
    source = k[-2]
    scores = Gemm(heads, length, embed, source, weighted=False)
    mixed = Gemm(heads, length, source, v[-1], weighted=False)
    score_elements = heads * length * source
    softmax = (ELEMENT_FLOPS["mul"] + ELEMENT_FLOPS["softmax"]) * score_elements
    return OpCount("attention", softmax, (scores, mixed))


def pool(x: Shape, out: Shape, kernel: Shape | None, average: bool) -> OpCount:
    """Pooling: one comparison or add per window element, plus a divide for averages.

    `kernel=None` means adaptive pooling, whose windows tile the input.
    """
    outputs = numel(out)
    window_work = numel(x) if kernel is None else outputs * numel(kernel)
    return OpCount("pool", elementwise_flops=window_work + (outputs if average else 0))


def reduction(x: Shape, out: Shape, per_input: int = 1, per_output: int = 0) -> OpCount:
    """A reduction over some dimensions: `per_input` FLOPs per input element (1 for a sum or
    max), `per_output` per result (the divide of a mean, the square root of a norm)."""
    return OpCount("reduction", elementwise_flops=per_input * numel(x) + per_output * numel(out))


def upsample(out: Shape, mode: str) -> OpCount:
    return OpCount("upsample", elementwise_flops=ELEMENT_FLOPS[mode] * numel(out))
