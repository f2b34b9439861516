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
from edgegap.workload.tracer import trace


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
                    expected = _primary(operator(*args, **kwargs))
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


def _trace_checked(names: list[str]) -> set[str]:
    mismatches: list[str] = []
    used: set[str] = set()
    with _checked(mismatches, used):
        for name in names:
            shape = zoo.default_input_shape(name)
            assert shape is not None
            model = zoo.build_torchvision(name, shape, empty=True)
            trace(model, [torch.empty(shape, device="meta")], name)
    assert not mismatches, mismatches[:5]
    return used


def test_the_rules_agree_with_torch_on_models_of_every_kind():
    names = ["efficientnet_b0", "swin_t", "densenet121", "regnet_y_400mf", "vit_b_16",
             "mobilenet_v3_small", "convnext_tiny", "maxvit_t"]  # fmt: skip
    used = _trace_checked(names)
    assert {"aten.convolution.default", "aten.cat.default", "aten.add.Tensor",
            "aten.native_layer_norm.default", "aten.bmm.default"} <= used  # fmt: skip


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


def test_a_strided_input_is_left_to_torch():
    x = torch.empty(1, 8, 4, 4, device="meta").to(memory_format=torch.channels_last)
    assert META_OUTPUTS[torch.ops.aten.add.Tensor]((x, x), {}) is None
    assert META_OUTPUTS[torch.ops.aten.silu.default]((x,), {}) is None


def test_an_integer_division_is_left_to_torch():
    x = torch.empty(4, dtype=torch.int64, device="meta")
    assert META_OUTPUTS[torch.ops.aten.div.Tensor]((x, x), {}) is None


def test_matrices_that_do_not_fit_are_the_models_error_in_torchs_cpu_words():
    a, b = torch.empty(2, 3, device="meta"), torch.empty(4, 5, device="meta")
    with pytest.raises(ModelShapeError, match=r"cannot be multiplied \(2x3 and 4x5\)"):
        META_OUTPUTS[torch.ops.aten.mm.default]((a, b), {})
