"""The tracer's shape rules (`meta_outputs`) against torch's own meta kernels: on whole
models, each rule's output beside the kernel's, and property tests on the rules."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from edgegap.workload import zoo
from edgegap.workload.meta_outputs import META_OUTPUTS, ModelShapeError, _broadcast
from edgegap.workload.tracer import _mapped, trace


def _primary(out: Any) -> torch.Tensor:
    return out[0] if isinstance(out, tuple) else out


def _layout(t: torch.Tensor) -> tuple[Any, ...]:
    """Shape, dtype and the strides that matter (a size-1 dimension's stride does not)."""
    strides = tuple(s for n, s in zip(t.shape, t.stride(), strict=True) if n > 1)
    return tuple(t.shape), t.dtype, strides


@contextmanager
def _checked(mismatches: list[str], used: set[str]) -> Iterator[None]:
    """Every rule runs beside torch's kernel; a difference is recorded."""
    rules = dict(META_OUTPUTS)

    def checking(operator: Any, rule: Any) -> Any:
        def check(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            made = rule(args, kwargs)
            if made is not None:
                used.add(str(operator))
                # an in-place rule returns its target, which torch's kernel writes into
                if made is not args[0]:
                    expected = _primary(operator(*_mapped(args), **_mapped(kwargs)))
                    if _layout(_primary(made)) != _layout(expected):
                        got = _layout(_primary(made))
                        mismatches.append(f"{operator}: {got} != {_layout(expected)}")
            return made

        return check

    META_OUTPUTS.update({op: checking(op, rule) for op, rule in rules.items()})
    try:
        yield
    finally:
        META_OUTPUTS.update(rules)


def _trace_checked(names: list[str], empty: bool = True) -> set[str]:
    """Trace each model on a meta input, built on the meta device (`empty`) or with real
    weights on the CPU."""
    mismatches: list[str] = []
    used: set[str] = set()
    with _checked(mismatches, used):
        for name in names:
            shape = zoo.default_input_shape(name)
            assert shape is not None
            model = zoo.build_torchvision(name, shape, empty=empty)
            trace(model, [torch.empty(shape, device="meta")], name)
    assert not mismatches, mismatches[:5]
    return used


def test_the_rules_agree_with_torch_on_models_of_every_kind():
    names = ["efficientnet_b0", "swin_t", "densenet121", "regnet_y_400mf", "vit_b_16",
             "mobilenet_v3_small", "convnext_tiny", "maxvit_t"]  # fmt: skip
    used = _trace_checked(names)
    assert {"aten.convolution.default", "aten.cat.default", "aten.add.Tensor",
            "aten.native_layer_norm.default", "aten.bmm.default", "aten.index.Tensor",
            "aten._unsafe_view.default", "aten.ne.Scalar"} <= used  # fmt: skip


def test_the_rules_agree_with_torch_on_a_model_with_real_weights():
    """A user's CPU model traced on a meta input: its weights stay on the CPU."""
    used = _trace_checked(["swin_t", "efficientnet_b0"], empty=False)
    assert {"aten.convolution.default", "aten.addmm.default", "aten.mul.Tensor"} <= used


@pytest.mark.slow
def test_the_rules_agree_with_torch_on_every_torchvision_classifier():
    _trace_checked(list(zoo.classification_models()))


@pytest.mark.slow
def test_the_rules_agree_with_torch_on_video_and_segmentation_models():
    _trace_checked(["r3d_18", "mvit_v2_s", "fcn_resnet50", "lraspp_mobilenet_v3_large"])


dims = st.integers(1, 9)


@settings(max_examples=200, deadline=None)
@given(
    batch=st.integers(1, 2),
    spatial=st.integers(1, 3),
    groups=st.integers(1, 3),
    per_group=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    size=dims,
    kernel=st.integers(1, 4),
    stride=st.integers(1, 3),
    padding=st.integers(0, 2),
    dilation=st.integers(1, 2),
    transposed=st.booleans(),
    output_padding=st.integers(0, 1),
)
def test_the_convolution_rule_agrees_with_torch(
    batch, spatial, groups, per_group, size, kernel, stride, padding, dilation, transposed,
    output_padding,
):  # fmt: skip
    """Every convolution torch's kernel accepts: the same output; every one it refuses: no
    output (torch's kernel then raises the model's error)."""
    c_in, c_out = per_group[0] * groups, per_group[1] * groups
    x = torch.empty(batch, c_in, *[size] * spatial, device="meta")
    if transposed:
        weight = torch.empty(c_in, per_group[1], *[kernel] * spatial, device="meta")
        output_padding = min(output_padding, max(stride, dilation) - 1)
    else:
        weight = torch.empty(c_out, per_group[0], *[kernel] * spatial, device="meta")
    args = (x, weight, None, [stride] * spatial, [padding] * spatial, [dilation] * spatial,
            transposed, [output_padding] * spatial, groups)  # fmt: skip
    made = META_OUTPUTS[torch.ops.aten.convolution.default](args, {})
    try:
        expected = torch.ops.aten.convolution.default(*args)
    except RuntimeError:
        assert made is None
        return
    assert made is not None and _layout(made) == _layout(expected)


shapes = st.lists(st.integers(0, 3), max_size=4).map(tuple)


@given(st.lists(shapes, min_size=1, max_size=3))
def test_broadcasting_agrees_with_torch(given_shapes):
    try:
        expected = tuple(torch.broadcast_shapes(*given_shapes))
    except RuntimeError:
        expected = None
    assert _broadcast(*given_shapes) == expected


@settings(deadline=None)
@given(
    shape=st.lists(st.integers(1, 4), min_size=1, max_size=4),
    dims=st.lists(st.integers(-4, 3), max_size=3, unique=True),
    keep=st.booleans(),
)
def test_the_mean_rule_agrees_with_torch(shape, dims, keep):
    x = torch.empty(shape, device="meta")
    made = META_OUTPUTS[torch.ops.aten.mean.dim]((x, dims, keep), {})
    try:
        expected = torch.ops.aten.mean.dim(x, dims, keep)
    except (RuntimeError, IndexError):
        assert made is None
        return
    assert made is not None and _layout(made) == _layout(expected)


@settings(deadline=None)
@given(
    shapes=st.lists(st.lists(st.integers(0, 3), min_size=1, max_size=3), min_size=1, max_size=3),
    dim=st.integers(-3, 2),
)
def test_the_cat_rule_agrees_with_torch(shapes, dim):
    tensors = [torch.empty(s, device="meta") for s in shapes]
    made = META_OUTPUTS[torch.ops.aten.cat.default]((tensors, dim), {})
    try:
        expected = torch.ops.aten.cat.default(tensors, dim)
    except (RuntimeError, IndexError):
        assert made is None
        return
    if made is not None:  # a rule may decline what torch accepts (its kernel then runs)
        assert _layout(made) == _layout(expected)


@st.composite
def layouts(draw: Any, shape: tuple[int, ...]) -> torch.Tensor:
    """A meta tensor of `shape` in any layout torch makes: a permutation of a contiguous
    tensor, maybe sliced with a step (not dense)."""
    order = draw(st.permutations(range(len(shape))))
    stepped = [draw(st.booleans()) for _ in shape]
    base = torch.empty([shape[d] * (2 if stepped[d] else 1) for d in order], device="meta")
    base = base[tuple(slice(None, None, 2 if stepped[d] else 1) for d in order)]
    return base.permute([order.index(d) for d in range(len(shape))])


def _on_cpu(value: Any) -> Any:
    """A meta tensor's twin on the CPU (its shape and strides): the kernels a model runs."""
    if isinstance(value, torch.Tensor):
        return torch.empty_strided(value.shape, value.stride(), dtype=value.dtype)
    if isinstance(value, list | tuple):
        return type(value)(_on_cpu(v) for v in value)
    return value


def _agrees_with_the_cpu_kernel(operator: Any, args: tuple[Any, ...], **kwargs: Any) -> None:
    made = META_OUTPUTS[operator](args, kwargs)
    if made is not None:  # a rule may decline (torch's kernel then runs)
        expected = operator(*_on_cpu(args), **kwargs)
        assert _layout(_primary(made)) == _layout(_primary(expected))


small_shapes = st.lists(st.integers(1, 4), min_size=1, max_size=5).map(tuple)


@settings(max_examples=150, deadline=None)
@given(data=st.data(), shape=small_shapes)
def test_element_wise_layouts_agree_with_the_cpu_kernels(data, shape):
    """TensorIterator's output layout, on inputs of every layout and broadcast: a permuted
    input's permutation, a broadcast input deciding nothing."""
    a = data.draw(layouts(shape))
    kept = data.draw(st.lists(st.booleans(), min_size=len(shape), max_size=len(shape)))
    lead = data.draw(st.integers(0, len(shape)))
    b = data.draw(layouts(tuple(n if k else 1 for n, k in zip(shape, kept, strict=True))[lead:]))
    first, second = data.draw(st.permutations([a, b]))
    aten = torch.ops.aten
    for operator in (aten.add.Tensor, aten.mul.Tensor, aten.gt.Tensor):
        _agrees_with_the_cpu_kernel(operator, (first, second))
    for operator in (aten.gelu.default, aten.relu.default):
        _agrees_with_the_cpu_kernel(operator, (a,))
    _agrees_with_the_cpu_kernel(aten.mul.Scalar, (a, 0.5))
    _agrees_with_the_cpu_kernel(aten.eq.Scalar, (a, 0))
    _agrees_with_the_cpu_kernel(aten.clone.default, (a,), memory_format=torch.contiguous_format)
    _agrees_with_the_cpu_kernel(aten.native_layer_norm.default, (a, shape[-1:], None, None, 1e-5))
    _agrees_with_the_cpu_kernel(aten.mean.dim, (a, [len(shape) - 1], False))


@settings(max_examples=150, deadline=None)
@given(data=st.data(), shape=small_shapes, parts=st.integers(1, 3))
def test_the_cat_rule_agrees_with_the_cpu_kernel_on_every_layout(data, shape, parts):
    dim = data.draw(st.integers(0, len(shape) - 1))
    sizes = [data.draw(st.integers(1, 3)) for _ in range(parts)]
    tensors = [data.draw(layouts((*shape[:dim], n, *shape[dim + 1 :]))) for n in sizes]
    _agrees_with_the_cpu_kernel(torch.ops.aten.cat.default, (tensors, dim))


def test_a_channels_last_input_keeps_its_layout():
    x = torch.empty(1, 8, 4, 4, device="meta").to(memory_format=torch.channels_last)
    for made in (
        META_OUTPUTS[torch.ops.aten.add.Tensor]((x, x), {}),
        META_OUTPUTS[torch.ops.aten.silu.default]((x,), {}),
    ):
        assert made is not None and made.is_contiguous(memory_format=torch.channels_last)
    assert META_OUTPUTS[torch.ops.aten._softmax.default]((x, 1, False), {}) is None


def test_an_integer_division_is_left_to_torch():
    x = torch.empty(4, dtype=torch.int64, device="meta")
    assert META_OUTPUTS[torch.ops.aten.div.Tensor]((x, x), {}) is None


def test_matrices_that_do_not_fit_are_the_models_error_in_torchs_cpu_words():
    a, b = torch.empty(2, 3, device="meta"), torch.empty(4, 5, device="meta")
    with pytest.raises(ModelShapeError, match=r"cannot be multiplied \(2x3 and 4x5\)"):
        META_OUTPUTS[torch.ops.aten.mm.default]((a, b), {})


@settings(max_examples=60, deadline=None)
@given(
    rows=st.integers(1, 12), experts=st.integers(1, 4), k=st.sampled_from([8, 16]),
    n=st.sampled_from([8, 16]), dtype=st.sampled_from([torch.float32, torch.bfloat16]),
)  # fmt: skip
def test_the_grouped_product_rule_agrees_with_the_cpu_kernel(rows, experts, k, n, dtype):
    """A mixture of experts' product: routed rows times their experts' stack, at float32
    too, which torch's meta kernel refuses (offsets: the rows routed so far, by expert)."""
    x = torch.randn(rows, k, dtype=dtype)
    stack = torch.randn(experts, k, n, dtype=dtype)
    offsets = torch.linspace(0, rows, experts + 1)[1:].round().to(torch.int32)
    rule = META_OUTPUTS[torch.ops.aten._grouped_mm.default]
    made = rule((x.to("meta"), stack.to("meta")), {"offs": offsets.to("meta")})
    expected = torch._grouped_mm(x, stack, offs=offsets)
    assert _layout(made) == _layout(expected)
