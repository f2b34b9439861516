"""Unstructured magnitude pruning with fine-tuning (Han, Pool, Tran, Dally, NIPS 2015), and the
sparse storage that makes it pay: compressed sparse rows with relative indices (Han, Mao, Dally,
"Deep Compression", ICLR 2016).

A transform: a model in, the pruned model plus its workload annotated with each layer's weight
density out, so the cost model sees the sparsity.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import torch
from torch import nn

from edgegap.errors import UserError
from edgegap.precision import FP32_BITS, bits_to_bytes
from edgegap.techniques.base import Compressed, NotAvailable, Param, Setting, Technique, register
from edgegap.techniques.storage import bias_bits, prunable
from edgegap.training.datasets import Dataset
from edgegap.training.loop import train
from edgegap.workload.layer import Workload

if TYPE_CHECKING:
    from edgegap.hardware.platform import Platform

INDEX_BITS = 5  # Deep Compression's relative-index width for fc layers


def magnitude_masks(model: nn.Module, sparsity: dict[str, float]) -> dict[str, torch.Tensor]:
    """Keep the largest-magnitude weights of each layer; `sparsity` is the fraction removed."""
    masks = {}
    for name, weight in prunable(model).items():
        drop = round(weight.numel() * sparsity.get(name, 0.0))
        threshold = weight.detach().abs().flatten().kthvalue(drop).values if drop else -1.0
        masks[name] = (weight.detach().abs() > threshold).to(weight.dtype)
    return masks


def apply_masks(model: nn.Module, masks: dict[str, torch.Tensor]) -> None:
    with torch.no_grad():
        for name, weight in prunable(model).items():
            if name in masks:
                weight.mul_(masks[name])


def prune_iteratively(
    model: nn.Module,
    data: Dataset,
    sparsity: dict[str, float],
    steps: int = 3,
    epochs_per_step: int = 2,
    lr: float = 5e-4,
    seed: int = 0,
    weight_decay: float = 0.0,
) -> dict[str, torch.Tensor]:
    """Raise each layer's sparsity to its target in `steps` equal steps, retraining with the
    pruned weights held at zero (and L2 weight decay, as Han et al. regularise) after each;
    returns the final masks (model pruned in place)."""
    masks: dict[str, torch.Tensor] = {}

    def hold_pruned_at_zero() -> None:
        apply_masks(model, masks)

    for step in range(1, steps + 1):
        masks = magnitude_masks(model, {k: v * step / steps for k, v in sparsity.items()})
        apply_masks(model, masks)
        train(model, data, epochs_per_step, lr=lr, seed=seed + step,
              after_step=hold_pruned_at_zero, weight_decay=weight_decay)  # fmt: skip
    return masks


def layer_sparsity(model: nn.Module) -> dict[str, float]:
    return {name: float((w == 0).float().mean()) for name, w in prunable(model).items()}


def weights_kept(model: nn.Module) -> float:
    """The fraction of the prunable weights that are nonzero."""
    weights = prunable(model)
    total = sum(w.numel() for w in weights.values())
    return sum(int(w.count_nonzero()) for w in weights.values()) / total


@dataclass(frozen=True)
class SparseSize:
    """Bytes of one weight tensor in relative-index sparse format."""

    nonzeros: int
    entries: int  # nonzeros plus the filler zeros inserted when a gap overflows the index
    value_bits: int
    index_bits: int

    @property
    def bytes(self) -> int:
        return bits_to_bytes(self.entries, self.value_bits + self.index_bits)


def relative_index_size(weight: torch.Tensor, value_bits: int, index_bits: int) -> SparseSize:
    """Deep Compression's format: each nonzero stores its value and the distance from the
    previous one in `index_bits`; a gap longer than 2^index_bits - 1 costs a filler zero entry
    per overflow. The tensor is flattened in row-major order (rows of a matrix, filters of a
    convolution)."""
    positions = torch.nonzero(weight.flatten()).flatten()
    if len(positions) == 0:
        return SparseSize(0, 0, value_bits, index_bits)
    gaps = torch.diff(positions, prepend=torch.tensor([-1])) - 1  # zeros skipped before each
    span = 2**index_bits  # a step of up to span - 1 zeros fits one entry
    fillers = int(torch.div(gaps, span, rounding_mode="floor").sum())
    return SparseSize(len(positions), len(positions) + fillers, value_bits, index_bits)


def annotate_density(workload: Workload, model: nn.Module) -> Workload:
    """The workload with each pruned layer's weight density, for the cost model."""
    density = {name: 1.0 - s for name, s in layer_sparsity(model).items()}
    layers = tuple(
        replace(layer, weight_density=density[layer.name]) if layer.name in density else layer
        for layer in workload.layers
    )
    return workload.with_layers(layers)


def pruned_bytes(model: nn.Module, index_bits: int) -> int:
    """Pruned weights in relative-index format with 32-bit values, biases dense."""
    bits = bias_bits(model)
    for weight in prunable(model).values():
        size = relative_index_size(weight.detach(), FP32_BITS, index_bits)
        bits += size.entries * (FP32_BITS + index_bits)
    return bits_to_bytes(bits, 1)


def sparse_workload(workload: Workload, sparsity: float) -> Workload:
    """Each weighted layer keeps 1 - sparsity of its weights (a zero-skipping platform skips
    the rest; others store and run them)."""
    layers = tuple(
        replace(x, weight_density=x.weight_density * (1 - sparsity)) if x.weight_elements else x
        for x in workload.layers
    )
    return workload.with_layers(layers)


@register(
    "prune",
    group="pruning",
    summary="magnitude pruning with retraining, stored with relative indices",
    sources=("Han, Pool, Tran, Dally, NeurIPS 2015", "Han, Mao, Dally, ICLR 2016"),
)
class Prune(Technique):
    params = (
        Param("sparsity", 0.9, 0.0, 0.99, per_layer=True, help="fraction of weights removed"),
        Param("steps", 3, 1, 100, integer=True),
        Param("epochs", 1, 0, 1000, integer=True, help="retraining epochs per step"),
        Param("lr", 5e-4, 1e-7, 1.0),
        Param("weight_decay", 0.0, 0.0, 1.0),
        Param("index_bits", INDEX_BITS, 1, 16, integer=True),
    )
    bare = "sparsity"
    gentler_when = "lower"

    def apply(
        self, workload: Workload, platform: Platform, setting: Setting
    ) -> tuple[Workload, Platform]:
        sparsity = setting["sparsity"]
        if isinstance(sparsity, dict):
            raise NotAvailable("prune: a per-layer sparsity needs the model; give one value")
        return sparse_workload(workload, sparsity), platform

    def run(self, model: nn.Module, setting: Setting, data: Dataset | None, seed: int,
            previous: Compressed) -> Compressed:  # fmt: skip
        if data is None:
            raise UserError("prune retrains: give a dataset")
        pruned = copy.deepcopy(model)
        layers = list(prunable(pruned))
        sparsity = setting["sparsity"]
        targets = per_layer(sparsity, layers, "sparsity")
        prune_iteratively(pruned, data, targets, steps=setting["steps"],
                          epochs_per_step=setting["epochs"], lr=setting["lr"], seed=seed,
                          weight_decay=setting["weight_decay"])  # fmt: skip
        index_bits = setting["index_bits"]
        return Compressed("magnitude pruning", pruned, pruned_bytes(pruned, index_bits),
                          state={"index_bits": index_bits})  # fmt: skip


def per_layer(value: float | dict[str, float], layers: list[str], name: str) -> dict[str, float]:
    """One value for every layer, or a {layer: value} mapping (layers left out get none)."""
    if not isinstance(value, dict):
        return dict.fromkeys(layers, value)
    unknown = sorted(set(value) - set(layers))
    if unknown:
        raise UserError(f"{name}: no layer {', '.join(unknown)}; the model has {', '.join(layers)}")
    return dict(value)
