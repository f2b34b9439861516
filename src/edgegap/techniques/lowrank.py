"""Low-rank factorisation: a weight matrix of rank r stored and applied as two thin factors.

- Linear(k, n) becomes Linear(k, r, bias=False) -> Linear(r, n) by truncated SVD (Xue, Li,
  Gong, "Restructuring of deep neural network acoustic models with singular value
  decomposition", Interspeech 2013; Denton, Zaremba, Bruna, LeCun, Fergus, NeurIPS 2014).
- Conv2d(C, N, kh x kw) becomes a vertical kh x 1 convolution to r channels then a horizontal
  1 x kw convolution to N: scheme 2 of Jaderberg, Vedaldi, Zisserman ("Speeding up
  convolutional neural networks with low rank expansions", BMVC 2014), in the closed form of
  Tai, Xiao, Zhang, Wang, E (ICLR 2016): the kernel reshaped to a (C*kh) x (N*kw) matrix, whose
  truncated SVD gives both filter banks. Conv1d is the same scheme with kw = 1: a k-tap
  convolution to r channels, then a 1-tap one. Strides, padding and dilation split by axis,
  so at full rank the pair computes exactly the original convolution.

By Eckart-Young the rank-r truncation minimises the Frobenius error of that matrix; the error
is the sum of the discarded squared singular values. A layer is factorised only when the two
factors hold fewer parameters than it.

The registered technique "low-rank" chooses ranks one of three ways: `macs_kept` (the one
rank rule, `rank_keeping`, for real layers and for any profiled workload's weighted
products alike), `energy` of the singular values, or a validation `max_drop_pp` budget.
"""

from __future__ import annotations

import copy
import math
from dataclasses import replace
from typing import TYPE_CHECKING

import torch
from torch import nn

from edgegap.errors import UserError
from edgegap.techniques.base import Compressed, NotAvailable, Param, Setting, Technique, register
from edgegap.techniques.storage import dense_bytes
from edgegap.training.datasets import Dataset
from edgegap.training.loop import accuracy
from edgegap.workload.layer import Gemm, Workload

if TYPE_CHECKING:
    from edgegap.hardware.platform import Platform

Factorizable = nn.Linear | nn.Conv1d | nn.Conv2d


def factorizable(model: nn.Module) -> dict[str, Factorizable]:
    """Linear layers and ungrouped, zero-padded convolutions, by module path."""
    return {
        name: module
        for name, module in model.named_modules()
        if isinstance(module, nn.Linear)
        or (
            isinstance(module, nn.Conv1d | nn.Conv2d)
            and module.groups == 1
            and module.padding_mode == "zeros"
        )
    }


def kernel_matrix(layer: Factorizable) -> torch.Tensor:
    """The weight as the matrix the factorisation truncates: rows (input channel, kernel row),
    columns (output channel, kernel column); a Linear layer's is its transposed weight."""
    weight = layer.weight.detach()
    if isinstance(layer, nn.Linear):
        return weight.T
    if isinstance(layer, nn.Conv1d):
        return weight.permute(1, 2, 0).reshape(-1, weight.shape[0])
    out_channels, in_channels, height, width = weight.shape
    return weight.permute(1, 2, 0, 3).reshape(in_channels * height, out_channels * width)


def singular_values(layer: Factorizable) -> torch.Tensor:
    """Singular values of the layer's kernel matrix, descending, in float64."""
    values: torch.Tensor = torch.linalg.svdvals(kernel_matrix(layer).double())
    return values


def factorized_params(layer: Factorizable, rank: int) -> int:
    rows, columns = kernel_matrix(layer).shape
    return rank * (rows + columns) + (0 if layer.bias is None else layer.bias.numel())


def factorize(layer: Factorizable, rank: int) -> nn.Sequential:
    """The layer as two layers holding its rank-`rank` truncation; the square roots of the
    singular values go to both factors, so neither starts badly scaled for fine-tuning."""
    left, values, right = torch.linalg.svd(kernel_matrix(layer).double(), full_matrices=False)
    if not 1 <= rank <= len(values):
        raise UserError(f"rank {rank} must be in 1..{len(values)} for this layer")
    root = values[:rank].sqrt()
    first = (left[:, :rank] * root).T.float()  # (rank, rows)
    second = (root[:, None] * right[:rank]).float()  # (rank, columns)
    bias = layer.bias is not None
    first_layer: Factorizable
    second_layer: Factorizable
    if isinstance(layer, nn.Linear):
        first_layer = nn.Linear(layer.in_features, rank, bias=False)
        second_layer = nn.Linear(rank, layer.out_features, bias)
        weights = (first, second.T)
    elif isinstance(layer, nn.Conv1d):
        padding = layer.padding if isinstance(layer.padding, str) else layer.padding[0]
        first_layer = nn.Conv1d(
            layer.in_channels, rank, layer.kernel_size[0], layer.stride[0], padding,
            layer.dilation[0], bias=False,
        )  # fmt: skip
        second_layer = nn.Conv1d(rank, layer.out_channels, 1, bias=bias)
        weights = (first.reshape(rank, layer.in_channels, -1), second.T[:, :, None])
    else:
        (kh, kw), (sh, sw), (dh, dw) = layer.kernel_size, layer.stride, layer.dilation
        vertical: str | tuple[int, int]
        horizontal: str | tuple[int, int]
        if isinstance(layer.padding, str):  # "valid" and "same" split by axis as they are
            vertical = horizontal = layer.padding
        else:
            vertical, horizontal = (layer.padding[0], 0), (0, layer.padding[1])
        first_layer = nn.Conv2d(
            layer.in_channels, rank, (kh, 1), (sh, 1), vertical, (dh, 1), bias=False
        )
        second_layer = nn.Conv2d(
            rank, layer.out_channels, (1, kw), (1, sw), horizontal, (1, dw), bias=bias
        )
        weights = (
            first.reshape(rank, layer.in_channels, kh, 1),
            second.reshape(rank, layer.out_channels, 1, kw).transpose(0, 1),
        )
    with torch.no_grad():
        first_layer.weight.copy_(weights[0])
        second_layer.weight.copy_(weights[1])
        if layer.bias is not None and second_layer.bias is not None:
            second_layer.bias.copy_(layer.bias.detach())
    return nn.Sequential(first_layer, second_layer)


def energy_rank(values: torch.Tensor, energy: float) -> int:
    """The smallest rank whose singular values keep `energy` of the total squared sum."""
    squares = values.double() ** 2
    if float(squares.sum()) == 0.0:
        return 1  # an all-zero weight: rank 1 already holds it
    kept = squares.cumsum(0) / squares.sum()
    kept[-1] = 1.0  # rounding must not push the full rank below the threshold
    return int(torch.searchsorted(kept, torch.tensor([energy], dtype=kept.dtype))) + 1


def low_rank(
    model: nn.Module, ranks: dict[str, int] | None = None, energy: float | None = None
) -> Compressed:
    """A copy of the model with layers factorised: at the rank given per layer name, or, for
    every factorisable layer, at the smallest rank keeping `energy` of the squared singular
    values. A layer whose factors would not hold fewer parameters stays whole (an explicit
    rank that saves nothing is an error). Storage is the new model's float32 parameters."""
    layers = factorizable(model)
    if (ranks is None) == (energy is None):
        raise UserError("give either ranks (per layer name) or energy (a fraction), not both")
    if energy is not None:
        if not 0.0 < energy <= 1.0:
            raise UserError(f"energy {energy} must be a fraction in (0, 1]")
        chosen = {
            name: energy_rank(singular_values(layer), energy) for name, layer in layers.items()
        }
        chosen = {
            name: rank
            for name, rank in chosen.items()
            if factorized_params(layers[name], rank) < _params(layers[name])
        }
    else:
        assert ranks is not None
        for name, rank in ranks.items():
            if name not in layers:
                raise UserError(
                    f"layer '{name}' cannot be factorised: use one of {', '.join(layers)}"
                )
            if rank < 1:
                raise UserError(f"rank {rank} of layer '{name}' must be at least 1")
            if factorized_params(layers[name], rank) >= _params(layers[name]):
                rows, columns = kernel_matrix(layers[name]).shape
                raise UserError(
                    f"rank {rank} of layer '{name}' saves no parameters: use a rank below "
                    f"{rows * columns / (rows + columns):.1f}"
                )
        chosen = dict(ranks)
    factorised = copy.deepcopy(model)
    for name, rank in chosen.items():
        parent, _, child = name.rpartition(".")
        setattr(factorised.get_submodule(parent), child, factorize(layers[name], rank))
    return Compressed(
        technique="low-rank factorisation",
        model=factorised,
        storage_bytes=dense_bytes(factorised),
        params={
            "ranks": chosen,
            "full_ranks": {name: len(singular_values(layers[name])) for name in chosen},
            "energy": energy,
        },
    )


def _params(layer: nn.Module) -> int:
    return sum(p.numel() for p in layer.parameters())


def rank_for_accuracy_budget(
    model: nn.Module,
    data: Dataset,
    max_drop_pp: float,
    lowest_energy: float = 0.5,
    steps: int = 6,
) -> Compressed:
    """The lowest global energy threshold, found by bisection over [lowest_energy, 1], whose
    factorised model loses at most `max_drop_pp` percentage points of validation accuracy
    against the original; reports that model's test accuracy too. Energy 1 keeps every layer
    exact, so the search always has a feasible answer; accuracy need not fall monotonically
    with energy, so only energies actually measured within budget are returned (or the model
    unfactorised, when none is)."""
    if max_drop_pp < 0:
        raise UserError(f"max_drop_pp {max_drop_pp} must be non-negative")
    if not 0.0 < lowest_energy < 1.0:
        raise UserError(f"lowest_energy {lowest_energy} must be in (0, 1)")
    baseline = accuracy(model, data.x_val, data.y_val)
    trials: list[tuple[float, float]] = []

    def within_budget(energy: float) -> tuple[Compressed, float] | None:
        candidate = low_rank(model, energy=energy)
        measured = accuracy(candidate.model, data.x_val, data.y_val)
        trials.append((energy, measured))
        return (candidate, measured) if 100 * (baseline - measured) <= max_drop_pp else None

    found = within_budget(lowest_energy)
    if found is None:
        # Energy 1 keeps each layer's full numerical rank; where even that loses a sample (a
        # rank-deficient, pruned layer rebuilt in float32), the model stays unfactorised.
        unchanged = Compressed("low-rank", copy.deepcopy(model), dense_bytes(model))
        exact = within_budget(1.0) or (unchanged, baseline)
        found, low, high = exact, lowest_energy, 1.0
        for _ in range(steps):
            middle = (low + high) / 2
            if (better := within_budget(middle)) is not None:
                found, high = better, middle
            else:
                low = middle
    best, best_accuracy = found
    return Compressed(
        technique=best.technique,
        model=best.model,
        storage_bytes=best.storage_bytes,
        params=best.params
        | {
            "max_drop_pp": max_drop_pp,
            "val_accuracy_before": baseline,
            "val_accuracy": best_accuracy,
            "test_accuracy_before": accuracy(model, data.x_test, data.y_test),
            "test_accuracy": accuracy(best.model, data.x_test, data.y_test),
            "trials": trials,
        },
    )


def rank_keeping(macs_kept: float, rows: int, cols: int) -> int:
    """The rank r whose two factors, (rows x r) and (r x cols), cost `macs_kept` of the
    full product's MACs: r (rows + cols) = macs_kept rows cols (Jaderberg et al. 2014;
    Denton et al. 2014). 0 when no rank of at least 1 saves anything."""
    rank = math.floor(macs_kept * rows * cols / (rows + cols))
    return rank if rank >= 1 and rank * (rows + cols) < rows * cols else 0


def _factorised(gemm: Gemm, macs_kept: float) -> tuple[Gemm, ...]:
    """A weighted product as two thin ones; an activation x activation product (attention)
    holds no weights to factorise and stays whole, as does one too small to gain."""
    rank = rank_keeping(macs_kept, gemm.k, gemm.n) if gemm.weighted else 0
    return (replace(gemm, n=rank), replace(gemm, k=rank)) if rank else (gemm,)


@register(
    "low-rank",
    group="factorisation",
    summary="weight matrices as two thin factors (truncated SVD, Jaderberg scheme 2)",
    sources=("Jaderberg, Vedaldi, Zisserman, BMVC 2014", "Denton et al., NeurIPS 2014"),
)
class LowRank(Technique):
    params = (
        Param("macs_kept", None, 0.01, 1.0, help="fraction of each layer's MACs kept"),
        Param("energy", None, 0.01, 1.0, help="fraction of squared singular values kept"),
        Param("max_drop_pp", None, 0.0, 100.0, help="validation accuracy budget"),
    )
    bare = "energy"
    gentler_when = "higher"

    def from_label(self, label: str) -> Setting:
        """Published results state the fraction of MACs kept."""
        return self.setting(label, macs_kept=float(label))

    def setting(self, label: str | None = None, **values: float) -> Setting:
        given = [name for name in ("macs_kept", "energy", "max_drop_pp") if name in values]
        if len(given) > 1:
            raise UserError(f"low-rank: give one of macs_kept, energy, max_drop_pp, not "
                            f"{' and '.join(given)}")  # fmt: skip
        return super().setting(label, **(values or {"energy": 0.9}))

    def apply(
        self, workload: Workload, platform: Platform, setting: Setting
    ) -> tuple[Workload, Platform]:
        macs_kept = setting.get("macs_kept")
        if macs_kept is None:
            raise NotAvailable("low-rank on a profiled workload needs macs_kept: energy and "
                            "max_drop_pp need the trained weights")  # fmt: skip
        layers = []
        for layer in workload.layers:
            gemms = tuple(g for old in layer.gemms for g in _factorised(old, macs_kept))
            if gemms == layer.gemms:
                layers.append(layer)
                continue
            weights = sum(g.groups * g.k * g.n for g in gemms if g.weighted)
            old = sum(g.groups * g.k * g.n for g in layer.gemms if g.weighted)
            layers.append(
                replace(
                    layer,
                    gemms=gemms,
                    params=layer.params - old + weights,
                    weight_elements=layer.weight_elements - old + weights,
                )
            )
        return workload.with_layers(layers), platform

    def run(self, model: nn.Module, setting: Setting, data: Dataset | None, seed: int,
            previous: Compressed) -> Compressed:  # fmt: skip
        if (budget := setting.get("max_drop_pp")) is not None:
            if data is None:
                raise UserError("low-rank with max_drop_pp measures accuracy: give a dataset")
            return rank_for_accuracy_budget(model, data, budget)
        if (macs_kept := setting.get("macs_kept")) is not None:
            layers = factorizable(model)
            ranks = {
                name: rank
                for name, layer in layers.items()
                if (rank := rank_keeping(macs_kept, *kernel_matrix(layer).shape))
                and factorized_params(layer, rank) < _params(layer)
            }
            return low_rank(model, ranks=ranks)
        return low_rank(model, energy=setting["energy"])
