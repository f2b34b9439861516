"""Outputs of operators on the meta device, made from shape rules instead of torch's kernels.

Inside a dispatch mode torch's meta kernels run as Python (a batch norm 0.7 ms, an add
0.2 ms, a convolution 0.1 ms) and were most of a trace; an empty tensor of the right shape
costs 3 us. A rule returns the output torch's CPU kernel would (shape, dtype and layout, which
decides whether a later `view` works or a `reshape` copies), or None where it is not sure (an
integer division, shapes that do not fit, a layout rule not repeated here): torch's kernel
then runs, and its error is the model's (a matrix product whose shapes do not fit raises the
error torch's CPU kernel would, `ModelShapeError`). A rule's output is on the meta device when
one of its inputs is (a traced activation meeting a real model's weights); tensors all real
are the model's own data, which torch's kernel computes. tests/test_meta_outputs.py checks
every rule beside torch's kernels: on every torchvision classifier, and beside the CPU kernel
on inputs of every layout (property tests).

Adding an operator is one decorated function, keyed by its overloads.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch

aten = torch.ops.aten
_META = torch.device("meta")
Rule = Callable[[tuple[Any, ...], dict[str, Any]], Any]
META_OUTPUTS: dict[Any, Rule] = {}


def outputs(*operators: Any) -> Callable[[Rule], Rule]:
    """Register `rule` as the output maker of `operators`."""

    def register(rule: Rule) -> Rule:
        for operator in operators:
            META_OUTPUTS[operator] = rule
        return rule

    return register


def _empty(shape: Sequence[int], dtype: torch.dtype) -> torch.Tensor:
    return torch.empty(shape, dtype=dtype, device=_META)  # a device, not its name to parse


def _traced(*values: Any) -> bool:
    """Some tensor among `values` is on the meta device (an activation being traced), so the
    output is too; the others may be a real model's weights. Tensors all real are data the
    model computes with (an index, a mask): torch's kernel computes them."""
    return any(isinstance(v, torch.Tensor) and v.is_meta for v in values)


def _plain(*values: Any) -> bool:
    """`_traced`, and every tensor among `values` is contiguous (numbers pass)."""
    contiguous = all(v.is_contiguous() for v in values if isinstance(v, torch.Tensor))
    return contiguous and _traced(*values)


def _broadcast(*shapes: Sequence[int]) -> tuple[int, ...] | None:
    """The shape `shapes` broadcast to; None where they do not (torch.broadcast_shapes, a
    tenth of the time)."""
    size = max(map(len, shapes))
    result = [1] * size
    for shape in shapes:
        for i, n in enumerate(shape, size - len(shape)):
            if n != 1:
                if result[i] not in (1, n):
                    return None
                result[i] = n
    return tuple(result)


def _iterator_strides(shape: Sequence[int], tensors: Sequence[torch.Tensor]) -> list[int]:
    """The strides TensorIterator gives an element-wise operator's output: its dimensions
    ordered as the inputs' strides order them (the first input that tells two dimensions
    apart decides; a broadcast dimension tells nothing), then laid out densely. A contiguous
    input makes a contiguous output; a permuted one (channels-last, a transposed matrix) its
    permutation."""
    ndim = len(shape)
    operands = []
    for t in tensors:
        offset = ndim - t.dim()
        strides = [0] * ndim
        for i, (n, stride) in enumerate(zip(t.shape, t.stride(), strict=True)):
            strides[offset + i] = 0 if n == 1 and shape[offset + i] != 1 else stride
        operands.append(strides)

    def after(d0: int, d1: int) -> int:
        """1 if dimension d0 goes after (is slower than) d1, -1 if before, 0 if no input says."""
        for strides in operands:
            s0, s1 = strides[d0], strides[d1]
            if s0 == 0 or s1 == 0:
                continue
            if s0 != s1:
                return 1 if s0 > s1 else -1
            if shape[d0] > shape[d1]:
                return 1
        return 0

    order = list(range(ndim - 1, -1, -1))  # fastest first; insertion sort, ambiguity allowed
    for i in range(1, ndim):
        moving = i
        for j in range(i - 1, -1, -1):
            verdict = after(order[j], order[moving])
            if verdict > 0:
                order[j], order[moving] = order[moving], order[j]
                moving = j
            elif verdict < 0:
                break
    result, step = [0] * ndim, 1
    for d in order:
        result[d] = step
        step *= shape[d]
    return result


def _elementwise(
    shape: Sequence[int], dtype: torch.dtype, tensors: Sequence[torch.Tensor]
) -> torch.Tensor:
    if all(t.is_contiguous() for t in tensors):
        return _empty(shape, dtype)
    return torch.empty_strided(shape, _iterator_strides(shape, tensors), dtype=dtype, device="meta")


@outputs(
    aten.gelu.default, aten.silu.default, aten.sigmoid.default, aten.relu.default,
    aten.hardswish.default, aten.hardsigmoid.default, aten.hardtanh.default, aten.tanh.default,
    aten.clamp.default, aten.clamp_min.default,
)  # fmt: skip
def _unary(args: tuple[Any, ...], kwargs: dict[str, Any]) -> torch.Tensor | None:
    x = args[0]
    if not _traced(x) or x.numel() == 0:
        return None
    return _elementwise(x.shape, x.dtype, [x])


# Softmax and a copy keep a contiguous input's layout (torch's rule for a strided input is not
# repeated here).
@outputs(
    aten._softmax.default, aten._safe_softmax.default, aten.clone.default, aten.roll.default
)  # fmt: skip
def _same_as_input(args: tuple[Any, ...], kwargs: dict[str, Any]) -> torch.Tensor | None:
    x = args[0]
    layout = kwargs.get("memory_format")
    copied = layout is torch.contiguous_format and _traced(x)  # `contiguous()` of any layout
    if not copied and (not _plain(x) or layout not in (None, torch.preserve_format)):
        return None
    return _empty(x.shape, x.dtype)


@outputs(aten._unsafe_view.default)
def _reshaped(args: tuple[Any, ...], kwargs: dict[str, Any]) -> torch.Tensor | None:
    """`reshape` of a tensor `view` cannot take: torch copies it, then reshapes the copy."""
    x, shape = args[0], list(args[1])
    if not _plain(x) or shape.count(-1) > 1 or any(n < -1 for n in shape):
        return None
    known = math.prod(n for n in shape if n != -1)
    if -1 in shape:
        if known == 0 or x.numel() % known:
            return None
        shape[shape.index(-1)] = x.numel() // known
    elif known != x.numel():
        return None
    return _empty(shape, x.dtype)


@outputs(
    aten.eq.Scalar, aten.ne.Scalar, aten.lt.Scalar, aten.le.Scalar, aten.gt.Scalar,
    aten.ge.Scalar, aten.eq.Tensor, aten.ne.Tensor, aten.lt.Tensor, aten.le.Tensor,
    aten.gt.Tensor, aten.ge.Tensor,
)  # fmt: skip
def _comparison(args: tuple[Any, ...], kwargs: dict[str, Any]) -> torch.Tensor | None:
    tensors = [v for v in args[:2] if isinstance(v, torch.Tensor)]
    shape = _broadcast(*(t.shape for t in tensors))
    if not _traced(*tensors) or shape is None or 0 in shape:
        return None
    return _elementwise(shape, torch.bool, tensors)


@outputs(aten.scalar_tensor.default)
def _scalar(args: tuple[Any, ...], kwargs: dict[str, Any]) -> torch.Tensor | None:
    if kwargs.get("device") != _META:
        return None
    return _empty((), kwargs.get("dtype") or torch.get_default_dtype())


@outputs(aten.index.Tensor)
def _index(args: tuple[Any, ...], kwargs: dict[str, Any]) -> torch.Tensor | None:
    """`x[index]` by one integer index tensor on the first dimension (a table lookup, such as
    a relative-position bias): the index's shape, then the rest of `x`'s."""
    x, indices = args[0], args[1]
    if len(indices) != 1 or not isinstance(index := indices[0], torch.Tensor):
        return None
    if not _plain(x, index) or index.dtype not in (torch.int64, torch.int32) or x.dim() == 0:
        return None
    return _empty((*index.shape, *x.shape[1:]), x.dtype)


# In-place operators return their first argument, whatever they compute.
@outputs(
    aten.relu_.default, aten.silu_.default, aten.sigmoid_.default, aten.hardswish_.default,
    aten.hardsigmoid_.default, aten.hardtanh_.default, aten.add_.Tensor, aten.mul_.Tensor,
    aten.copy_.default,
)  # fmt: skip
def _in_place(args: tuple[Any, ...], kwargs: dict[str, Any]) -> torch.Tensor | None:
    target: torch.Tensor = args[0]
    other = args[1] if len(args) > 1 else None
    if not target.is_meta:
        return None
    if isinstance(other, torch.Tensor) and _broadcast(target.shape, other.shape) != target.shape:
        return None
    return target


@outputs(aten.add.Tensor, aten.sub.Tensor, aten.mul.Tensor, aten.div.Tensor)
@outputs(aten.add.Scalar, aten.sub.Scalar, aten.mul.Scalar, aten.div.Scalar)
def _arithmetic(args: tuple[Any, ...], kwargs: dict[str, Any]) -> torch.Tensor | None:
    a, b = args[0], args[1]
    if not _traced(a, b) or kwargs.get("rounding_mode") is not None:
        return None
    tensors = [v for v in (a, b) if isinstance(v, torch.Tensor)]
    shape = _broadcast(*(t.shape for t in tensors))
    dtype = torch.result_type(a, b)
    # integer division promotes: torch's; an empty tensor's strides: torch's
    if shape is None or not dtype.is_floating_point or 0 in shape:
        return None
    return _elementwise(shape, dtype, tensors)


@outputs(aten.masked_fill.Scalar)
def _masked_fill(args: tuple[Any, ...], kwargs: dict[str, Any]) -> torch.Tensor | None:
    x, mask = args[0], args[1]
    if not _plain(x, mask) or _broadcast(x.shape, mask.shape) != tuple(x.shape):
        return None
    return _empty(x.shape, x.dtype)


@outputs(aten.mean.dim, aten.sum.dim_IntList)
def _reduction(args: tuple[Any, ...], kwargs: dict[str, Any]) -> torch.Tensor | None:
    x = args[0]
    dims = args[1] if len(args) > 1 else None
    keep = args[2] if len(args) > 2 else kwargs.get("keepdim", False)
    dtype = kwargs.get("dtype") or x.dtype
    # a reduction's output is contiguous whatever its input's layout
    if not _traced(x) or not x.dtype.is_floating_point or not dtype.is_floating_point:
        return None
    if x.dim() == 0 or any(not -x.dim() <= d < x.dim() for d in dims or ()):
        return None
    reduced = {d % x.dim() for d in dims} if dims else set(range(x.dim()))
    if dims and len(reduced) < len(dims):  # a dimension named twice: torch refuses
        return None
    shape = [1 if i in reduced else n for i, n in enumerate(x.shape) if keep or i not in reduced]
    return _empty(shape, dtype)


def _channels_last_like(t: torch.Tensor) -> bool:
    """Whether torch's `suggest_memory_format` takes the 4-d `t` for channels-last (its test,
    `is_channels_last_strides_2d`, ambiguous cases counted as contiguous)."""
    sizes, strides = t.shape, t.stride()
    if strides[1] == 0:
        return False
    smallest = 0
    for d in (1, 3, 2, 0):
        if sizes[d] == 0 or strides[d] < smallest or (d == 0 and smallest == strides[1]):
            return False
        smallest = strides[d] * (sizes[d] if sizes[d] > 1 else 1)
    return True


@outputs(aten.cat.default)
def _cat(args: tuple[Any, ...], kwargs: dict[str, Any]) -> torch.Tensor | None:
    """Contiguous where an input's layout suggests it (all but a channels-last 4-d or a 5-d
    tensor), as torch's kernel decides."""
    given: list[torch.Tensor] = list(args[0])
    tensors = [t for t in given if t.dim() > 1 or t.numel() > 0]  # torch skips empty 1-d
    dim = args[1] if len(args) > 1 else kwargs.get("dim", 0)
    if not tensors or not _traced(*tensors) or len({t.dtype for t in tensors}) > 1:
        return None
    if not all(t.is_contiguous() for t in given) and not any(
        t.dim() not in (4, 5) or (t.dim() == 4 and not _channels_last_like(t)) for t in given
    ):
        return None
    first = tensors[0]
    if len({t.dim() for t in tensors}) > 1 or not -first.dim() <= dim < first.dim():
        return None
    dim %= first.dim()
    rest = {(*t.shape[:dim], *t.shape[dim + 1 :]) for t in tensors}
    if len(rest) > 1:
        return None
    shape = list(first.shape)
    shape[dim] = sum(t.shape[dim] for t in tensors)
    return _empty(shape, first.dtype)


@outputs(aten.convolution.default)
def _convolution(args: tuple[Any, ...], kwargs: dict[str, Any]) -> torch.Tensor | None:
    """torch's meta kernel makes a contiguous output, whatever the input's layout."""
    x, weight, bias, stride, padding, dilation, transposed, output_padding, groups = args
    spatial = x.dim() - 2
    if not x.is_meta or weight.dim() != x.dim():
        return None
    settings = [list(s) for s in (stride, padding, dilation, output_padding)]
    settings = [s * spatial if len(s) == 1 else s for s in settings]
    if spatial < 1 or any(len(s) != spatial for s in settings[:3]) or groups < 1:
        return None
    stride, padding, dilation, output_padding = settings
    kernel = weight.shape[2:]
    if transposed:
        if x.shape[1] != weight.shape[0] or len(output_padding) != spatial:
            return None
        channels = weight.shape[1] * groups
        sizes = [
            (n - 1) * s - 2 * p + d * (k - 1) + o + 1
            for n, s, p, d, k, o in zip(
                x.shape[2:], stride, padding, dilation, kernel, output_padding, strict=True
            )
        ]
    else:
        if x.shape[1] != weight.shape[1] * groups or weight.shape[0] % groups:
            return None
        channels = weight.shape[0]
        sizes = [
            (n + 2 * p - d * (k - 1) - 1) // s + 1
            for n, s, p, d, k in zip(x.shape[2:], stride, padding, dilation, kernel, strict=True)
        ]
    if any(n < 1 for n in sizes) or x.shape[1] == 0:
        return None
    if bias is not None and tuple(bias.shape) != (channels,):
        return None
    return _empty((x.shape[0], channels, *sizes), x.dtype)


class ModelShapeError(RuntimeError):
    """Shapes the model gave an operator do not fit, said as torch's CPU kernel says it (its
    meta kernel's words are obscure): the model's error, not the tracer's."""


def _product(a: torch.Tensor, b: torch.Tensor, dims: int) -> torch.Tensor | None:
    """The product of two meta matrices (`dims` 2) or batches of them (`dims` 3)."""
    if not _traced(a, b) or a.dtype != b.dtype:
        return None
    if a.dim() != dims or b.dim() != dims or a.shape[:-2] != b.shape[:-2]:
        return None
    if a.shape[-1] != b.shape[-2]:
        if dims == 3:
            return None
        shapes = f"{'x'.join(map(str, a.shape))} and {'x'.join(map(str, b.shape))}"
        raise ModelShapeError(f"mat1 and mat2 shapes cannot be multiplied ({shapes})")
    return _empty((*a.shape[:-1], b.shape[-1]), a.dtype)


@outputs(aten.mm.default)
def _mm(args: tuple[Any, ...], kwargs: dict[str, Any]) -> torch.Tensor | None:
    return _product(args[0], args[1], 2)


@outputs(aten.bmm.default)
def _bmm(args: tuple[Any, ...], kwargs: dict[str, Any]) -> torch.Tensor | None:
    return _product(args[0], args[1], 3)


@outputs(aten._grouped_mm.default)
def _grouped_mm(args: tuple[Any, ...], kwargs: dict[str, Any]) -> torch.Tensor | None:
    """A mixture of experts' routed rows (S x k) times their experts' stack (E x k x n): S x n,
    at every float type, as the CPU kernel (torch's meta kernel takes only 16-bit floats, and
    a float32 model is traced at float32)."""
    x, stack = args[0], args[1]
    offsets = kwargs.get("offs", args[2] if len(args) > 2 else None)
    fits = x.dim() == 2 and stack.dim() == 3 and x.shape[1] == stack.shape[1]
    if not (fits and x.dtype == stack.dtype and offsets is not None and _traced(x, stack)):
        return None
    return _empty((x.shape[0], stack.shape[2]), x.dtype)


@outputs(aten.addmm.default)
def _addmm(args: tuple[Any, ...], kwargs: dict[str, Any]) -> torch.Tensor | None:
    bias, a, b = args[0], args[1], args[2]
    out = _product(a, b, 2)
    if out is None or _broadcast(bias.shape, out.shape) != out.shape:
        return None
    return out


def _normalized(
    x: torch.Tensor, statistics: Sequence[int]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A normalisation's output and its saved statistics: by-products inference never reads."""
    return (
        _empty(x.shape, x.dtype),
        _empty(statistics, torch.float32),
        _empty(statistics, torch.float32),
    )


@outputs(aten.native_batch_norm.default, aten._native_batch_norm_legit_no_training.default)
def _batch_norm(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    x, weight = args[0], args[1]
    if not _plain(x) or x.dim() < 2 or (weight is not None and weight.shape != (x.shape[1],)):
        return None
    return _normalized(x, (0,))


@outputs(aten.native_layer_norm.default)
def _layer_norm(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Contiguous whatever the input's layout (torch's kernel reads a contiguous copy)."""
    x, normalized = args[0], tuple(args[1])
    if (
        not _traced(x)
        or not normalized
        or tuple(x.shape[x.dim() - len(normalized) :]) != normalized
    ):
        return None
    return _normalized(x, (*x.shape[: x.dim() - len(normalized)], *[1] * len(normalized)))


@outputs(aten.native_group_norm.default)
def _group_norm(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    x, batch, channels, groups = args[0], args[3], args[4], args[6]
    if not _plain(x) or x.dim() < 2 or x.shape[0] != batch or x.shape[1] != channels:
        return None
    if channels % groups:
        return None
    return _normalized(x, (batch, groups))


@outputs(aten.empty.memory_format)
def _empty_of(args: tuple[Any, ...], kwargs: dict[str, Any]) -> torch.Tensor | None:
    if kwargs.get("device") != _META:
        return None
    return torch.empty(args[0], **kwargs)
