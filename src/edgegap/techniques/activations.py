"""Activation sparsity measured on real data: the zeros a zero-skipping accelerator skips.

ReLU networks feed many exact zeros to their next layer; Cnvlutin (Albericio et al., ISCA
2016) skips the multiplies whose input activation is zero and Eyeriss (Chen et al., ISCA 2016)
gates them. What such a chip saves is the zero fraction of each weighted layer's *input*,
which only running the model on real inputs tells: this module measures it with forward hooks
and hands it to the cost model as `activation_density`.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from edgegap.errors import UserError
from edgegap.techniques.base import Compressed, LayerAnnotation, Setting, Technique, register
from edgegap.techniques.storage import dense_bytes, prunable

if TYPE_CHECKING:
    from edgegap.training.datasets import Dataset

RECTIFIERS = (nn.ReLU, nn.ReLU6)


def activation_sparsity(model: nn.Module, x: torch.Tensor) -> dict[str, float]:
    """Zero fractions over a forward pass on `x`, by module path: of each weighted layer's
    (convolution, linear) input, and of each ReLU module's output. A module called more than
    once is measured over all its calls; functional ReLUs are seen through the next layer's
    input only."""
    if len(x) == 0:
        raise UserError("activation sparsity needs at least one input sample")
    weighted = set(prunable(model))
    zeros: defaultdict[str, int] = defaultdict(int)
    elements: defaultdict[str, int] = defaultdict(int)

    def count(name: str, tensor: torch.Tensor) -> None:
        zeros[name] += int((tensor == 0).sum())
        elements[name] += tensor.numel()

    handles = []
    for name, module in model.named_modules():
        if name in weighted:

            def input_hook(module: nn.Module, args: tuple[Any, ...], name: str = name) -> None:
                count(name, args[0])

            handles.append(module.register_forward_pre_hook(input_hook))
        elif isinstance(module, RECTIFIERS):

            def output_hook(
                module: nn.Module, args: tuple[Any, ...], out: torch.Tensor, name: str = name
            ) -> None:
                count(name, out)

            handles.append(module.register_forward_hook(output_hook))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(x)
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    return {name: zeros[name] / elements[name] for name in elements}


def measure_activation_sparsity(model: nn.Module, x: torch.Tensor) -> Compressed:
    """The model unchanged, each weighted layer annotated with the density (nonzero fraction)
    of its input on `x`, so a zero-skipping platform's cost reflects the data."""
    fractions = activation_sparsity(model, x)
    weighted = prunable(model)
    return Compressed(
        technique="activation-sparsity",
        model=model,
        storage_bytes=dense_bytes(model),
        annotations={
            name: LayerAnnotation(activation_density=1.0 - fraction)
            for name, fraction in fractions.items()
            if name in weighted
        },
        params={"samples": len(x), "zero_fraction": fractions},
    )


@register(
    "activation-sparsity",
    group="pruning",
    summary="zero activations measured on data, skipped by a zero-skipping chip",
    sources=("Albericio et al., 'Cnvlutin', ISCA 2016", "Chen et al., 'Eyeriss', ISCA 2016"),
)
class ActivationSparsity(Technique):
    keeps_weights = True

    def run(self, model: nn.Module, setting: Setting, data: Dataset | None, seed: int,
            previous: Compressed) -> Compressed:  # fmt: skip
        if data is None:
            raise UserError("activation-sparsity measures zeros on data: give a dataset")
        return measure_activation_sparsity(model, data.x_val)
