"""Modules that issue their operators from their call (`workload.module_calls`) record the
workload their forward records: layer for layer, with the same peak, links and outputs, on
every torchvision classifier, on library models and their generation phases, and on random
module settings, inputs and layouts."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar
from unittest import mock

import pytest
import torch
import torchvision
from hypothesis import given, settings
from hypothesis import strategies as st
from independent_counts import SAMPLE
from torch import nn

import edgegap
from edgegap.workload.layer import Workload
from edgegap.workload.module_calls import MODULE_CALLS
from edgegap.workload.phases import Phase
from edgegap.workload.tracer import trace

T = TypeVar("T")


def _both_ways(profile: Callable[[], T]) -> tuple[T, T]:
    """The workload with the registry, and with every module's forward run instead."""
    issued = profile()
    with mock.patch.dict(MODULE_CALLS, clear=True):
        forwarded = profile()
    return issued, forwarded


def _assert_same(issued: Workload, forwarded: Workload) -> None:
    assert len(issued.layers) == len(forwarded.layers)
    for mine, theirs in zip(issued.layers, forwarded.layers, strict=True):
        assert mine == theirs
    assert issued == forwarded


def test_the_registry_is_used_and_changes_nothing_on_a_built_model() -> None:
    model = torchvision.models.efficientnet_b0().eval()
    calls: list[str] = []
    convolution = MODULE_CALLS[nn.Conv2d]

    def counted(module: nn.Module, x: torch.Tensor, dispatch: Callable[..., object]) -> object:
        calls.append(type(module).__name__)
        return convolution(module, x, dispatch)

    with mock.patch.dict(MODULE_CALLS, {nn.Conv2d: counted}):
        issued = edgegap.profile(model, (1, 3, 224, 224))
    assert len(calls) == 81  # every convolution issued from its call
    _assert_same(issued, _both_ways(lambda: edgegap.profile(model, (1, 3, 224, 224)))[1])


@pytest.mark.parametrize(
    "name", ["resnet18", "mobilenet_v3_small", "vit_b_16", "convnext_tiny", "swin_t"]
)
def test_built_models_trace_the_same(name: str) -> None:
    model = torchvision.models.get_model(name).eval()
    _assert_same(*_both_ways(lambda: edgegap.profile(model, (1, 3, 224, 224))))


@pytest.mark.slow
@pytest.mark.parametrize("name", torchvision.models.list_models(module=torchvision.models))
def test_every_classifier_traces_the_same(name: str) -> None:
    _assert_same(*_both_ways(lambda: edgegap.profile(name)))


@pytest.mark.slow
@pytest.mark.parametrize("spec", list(SAMPLE))
def test_library_models_trace_the_same(spec: str) -> None:
    _assert_same(*_both_ways(lambda: edgegap.profile(spec)))


@pytest.mark.slow
@pytest.mark.parametrize("phase", [Phase("prefill", tokens=16), Phase("decode", context=64)])
@pytest.mark.parametrize("spec", ["hf:HuggingFaceTB/SmolLM2-135M", "hf:Qwen/Qwen2.5-0.5B"])
def test_generation_phases_trace_the_same(spec: str, phase: Phase) -> None:
    _assert_same(*_both_ways(lambda: edgegap.profile(spec, phase=phase)))


# ------------------------------------------------------------- random settings, one module


@st.composite
def _convolutions(draw: st.DrawFn) -> tuple[nn.Module, tuple[int, ...]]:
    spatial = draw(st.integers(1, 3))
    groups = draw(st.sampled_from([1, 2]))
    channels_in, channels_out = (groups * draw(st.integers(1, 3)) for _ in range(2))
    kernel = draw(st.integers(1, 3))
    padding = draw(st.one_of(st.integers(0, 2), st.sampled_from(["same", "valid"])))
    dilation = draw(st.integers(1, 2))
    stride = 1 if padding == "same" else draw(st.integers(1, 2))
    conv = (nn.Conv1d, nn.Conv2d, nn.Conv3d)[spatial - 1](
        channels_in, channels_out, kernel, stride=stride, padding=padding, dilation=dilation,
        groups=groups, bias=draw(st.booleans()),
        padding_mode=draw(st.sampled_from(["zeros"] * 5 + ["reflect"])),
    )  # fmt: skip
    size = draw(st.integers(dilation * (kernel - 1) + 3, 7))
    batch = draw(st.sampled_from([(), (1,), (1,), (2,), (2,)]))  # () unbatched: declined
    return conv, (*batch, channels_in, *[size] * spatial)


@st.composite
def _norms(draw: st.DrawFn) -> tuple[nn.Module, tuple[int, ...]]:
    channels = draw(st.integers(1, 4))
    kind = draw(st.sampled_from(["bn1", "bn1-3d", "bn2", "bn3", "ln"]))
    if kind == "ln":
        width = draw(st.integers(1, 4))
        shape = (2, channels, width)
        normalized = draw(st.sampled_from([shape[-1:], shape[-2:], (width + 1,)]))
        norm: nn.Module = nn.LayerNorm(normalized, elementwise_affine=draw(st.booleans()))
        return norm, shape
    norm_type = {"bn1": nn.BatchNorm1d, "bn1-3d": nn.BatchNorm1d, "bn2": nn.BatchNorm2d,
                 "bn3": nn.BatchNorm3d}[kind]  # fmt: skip
    norm = norm_type(
        channels,
        momentum=draw(st.sampled_from([0.1, None])),
        affine=draw(st.booleans()),
        track_running_stats=draw(st.booleans()),
    )
    rank = {"bn1": 2, "bn1-3d": 3, "bn2": 4, "bn3": 5}[kind]
    return norm, (2, channels, *[3] * (rank - 2))


@st.composite
def _pointwise(draw: st.DrawFn) -> tuple[nn.Module, tuple[int, ...]]:
    inplace = draw(st.booleans())
    module = draw(
        st.sampled_from(
            [nn.ReLU(inplace), nn.SiLU(inplace), nn.Hardswish(inplace), nn.Hardsigmoid(inplace),
             nn.ReLU6(inplace), nn.Sigmoid(), nn.Tanh(), nn.GELU(), nn.GELU("tanh"),
             nn.AdaptiveAvgPool2d(1), nn.AdaptiveAvgPool2d((1, 1)), nn.AdaptiveAvgPool2d(2)]
        )
    )  # fmt: skip
    return module, tuple(draw(st.lists(st.integers(1, 4), min_size=3, max_size=4)))


@st.composite
def _linears(draw: st.DrawFn) -> tuple[nn.Module, tuple[int, ...]]:
    features = draw(st.integers(1, 4))
    linear = nn.Linear(features, draw(st.integers(1, 4)), bias=draw(st.booleans()))
    lead = draw(st.lists(st.integers(0, 3), min_size=0, max_size=3))
    return linear, (*lead, features)


_FAMILIES = {
    "convolution": _convolutions(),
    "normalization": _norms(),
    "pointwise": _pointwise(),
    "linear": _linears(),
}


class _Around(nn.Module):
    """The module between two operators, on an input of a layout the strategy chose: what
    reaches it is an activation a layer produced, its output one a layer reads."""

    def __init__(self, inner: nn.Module, layout: str) -> None:
        super().__init__()
        self.inner, self.layout = inner, layout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x * 2
        if self.layout == "channels_last" and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        elif self.layout == "transposed" and x.dim() >= 2:
            x = x.transpose(0, 1).contiguous().transpose(0, 1)
        return self.inner(x) + 1


@pytest.mark.filterwarnings("ignore:Using padding='same'")  # torch's, on a declined case
@pytest.mark.parametrize("family", list(_FAMILIES))
@settings(max_examples=120, deadline=None)
@given(
    data=st.data(),
    layout=st.sampled_from(["contiguous", "contiguous", "channels_last", "transposed"]),
    device=st.sampled_from(["meta", "cpu"]),
)
def test_random_modules_trace_the_same(
    family: str, data: st.DataObject, layout: str, device: str
) -> None:
    """On meta weights, and on real weights meeting meta inputs (a user's built model)."""
    inner, shape = data.draw(_FAMILIES[family])
    model = _Around(inner, layout).to(device).eval()
    example = torch.empty(shape, device="meta")

    def traced() -> Workload | str:
        try:
            return trace(model, [example], "m")
        except Exception as error:  # a setting the module refuses: refused both ways
            return type(error).__name__

    issued, forwarded = _both_ways(traced)
    assert issued == forwarded
