"""The aten operators a common leaf module issues in inference, issued straight from its
call.

Getting an operator to the recorder costs a traced module a fifth of its time: the module's
Python forward, `torch.nn.functional`'s, and torch's dispatch into a Python mode (about 5 us
of 25). For the modules every model is made of, this registry states the operators their
forward would issue on a meta input, with the arguments torch's dispatcher would hand the
recorder (trailing defaults left out, as it does), and the tracer hands them over itself.
What a rule is not sure of (a layout, an unusual setting, an input of another rank) it
declines by returning None before it dispatches anything, and the module's own forward runs.
tests/test_module_calls.py checks every rule against the module's forward on every
torchvision classifier, on language models and on random settings (property tests).

Adding a module is one decorated function, keyed by the module's exact type (a subclass may
override `forward`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

aten = torch.ops.aten
# hands an operator and its arguments to the recorder, as torch's dispatcher would
Dispatch = Callable[..., Any]
ModuleCall = Callable[[Any, torch.Tensor, Dispatch], Any]
MODULE_CALLS: dict[type[nn.Module], ModuleCall] = {}


def issues(*modules: type[nn.Module]) -> Callable[[ModuleCall], ModuleCall]:
    """Register `call` as what `modules` issue when called on one meta tensor."""

    def register(call: ModuleCall) -> ModuleCall:
        for module in modules:
            MODULE_CALLS[module] = call
        return call

    return register


@issues(nn.Conv1d, nn.Conv2d, nn.Conv3d)
def _convolution(conv: nn.Conv2d, x: torch.Tensor, dispatch: Dispatch) -> Any:
    spatial = len(conv.kernel_size)
    if conv.padding_mode != "zeros" or isinstance(conv.padding, str) or x.dim() != spatial + 2:
        return None
    return dispatch(
        aten.convolution.default, x, conv.weight, conv.bias, list(conv.stride),
        list(conv.padding), list(conv.dilation), False, [0] * spatial, conv.groups,
    )  # fmt: skip


_BATCH_NORM_RANKS = {nn.BatchNorm1d: (2, 3), nn.BatchNorm2d: (4,), nn.BatchNorm3d: (5,)}


@issues(*_BATCH_NORM_RANKS)
def _batch_norm(norm: nn.BatchNorm2d, x: torch.Tensor, dispatch: Dispatch) -> Any:
    """With running statistics, in eval mode (the empty by-product torch makes first is never
    recorded, so it is not made)."""
    mean, variance = norm.running_mean, norm.running_var
    if norm.training or mean is None or variance is None:
        return None
    if x.dim() not in _BATCH_NORM_RANKS[type(norm)]:
        return None
    momentum = 0.0 if norm.momentum is None else norm.momentum
    return dispatch(
        aten.native_batch_norm.default, x, norm.weight, norm.bias, mean, variance, False,
        momentum, norm.eps,
    )[0]  # fmt: skip


@issues(nn.LayerNorm)
def _layer_norm(norm: nn.LayerNorm, x: torch.Tensor, dispatch: Dispatch) -> Any:
    shape = list(norm.normalized_shape)
    if x.dim() < len(shape) or list(x.shape[x.dim() - len(shape) :]) != shape:
        return None
    return dispatch(aten.native_layer_norm.default, x, shape, norm.weight, norm.bias, norm.eps)[0]


# each activation's operator, out of place and in place
_ACTIVATIONS: dict[type[nn.Module], tuple[Any, Any]] = {
    nn.ReLU: (aten.relu.default, aten.relu_.default),
    nn.SiLU: (aten.silu.default, aten.silu_.default),
    nn.Hardswish: (aten.hardswish.default, aten.hardswish_.default),
    nn.Hardsigmoid: (aten.hardsigmoid.default, aten.hardsigmoid_.default),
    nn.Sigmoid: (aten.sigmoid.default, aten.sigmoid_.default),
    nn.Tanh: (aten.tanh.default, aten.tanh_.default),
}


@issues(*_ACTIVATIONS)
def _activation(activation: nn.Module, x: torch.Tensor, dispatch: Dispatch) -> Any:
    out_of_place, in_place = _ACTIVATIONS[type(activation)]
    return dispatch(in_place if getattr(activation, "inplace", False) else out_of_place, x)


@issues(nn.ReLU6)
def _relu6(activation: nn.ReLU6, x: torch.Tensor, dispatch: Dispatch) -> Any:
    operator = aten.hardtanh_.default if activation.inplace else aten.hardtanh.default
    return dispatch(operator, x, 0.0, 6.0)


@issues(nn.GELU)
def _gelu(activation: nn.GELU, x: torch.Tensor, dispatch: Dispatch) -> Any:
    if activation.approximate == "none":
        return dispatch(aten.gelu.default, x)
    return dispatch(aten.gelu.default, x, approximate=activation.approximate)


@issues(nn.AdaptiveAvgPool2d)
def _global_average(pool: nn.AdaptiveAvgPool2d, x: torch.Tensor, dispatch: Dispatch) -> Any:
    """Pooling to one value a channel is a mean over height and width (a channels-last input
    is restrided after it: declined)."""
    size = pool.output_size
    if size not in (1, (1, 1), [1, 1]) or x.dim() not in (3, 4) or not x.is_contiguous():
        return None
    return dispatch(aten.mean.dim, x, [-1, -2], True)


@issues(nn.Linear)
def _linear(linear: nn.Linear, x: torch.Tensor, dispatch: Dispatch) -> Any:
    """As `aten::linear` runs it: a matrix, or a contiguous batch of them flattened into one."""
    weight, bias = linear.weight, linear.bias
    if x.dim() < 2 or x.numel() == 0 or weight.dim() != 2:
        return None
    if x.dim() > 2 and not x.is_contiguous():
        return None
    if x.dim() == 2:
        transposed = dispatch(aten.t.default, weight)
        if bias is None:
            return dispatch(aten.mm.default, x, transposed)
        return dispatch(aten.addmm.default, bias, x, transposed)
    rows, out_shape = [x.numel() // x.shape[-1], x.shape[-1]], [*x.shape[:-1], weight.shape[0]]
    if bias is None:  # a matrix product, folded
        transposed = dispatch(aten.t.default, weight)
        flat = dispatch(aten.view.default, x, rows)
        return dispatch(aten._unsafe_view.default, dispatch(aten.mm.default, flat, transposed),
                        out_shape)  # fmt: skip
    flat = dispatch(aten.view.default, x, rows)
    transposed = dispatch(aten.t.default, weight)
    return dispatch(aten.view.default, dispatch(aten.addmm.default, bias, flat, transposed),
                    out_shape)  # fmt: skip
