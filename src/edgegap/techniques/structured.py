"""Structured pruning: whole filters (output channels) and hidden neurons removed, so the dense
model itself shrinks and every platform gains, with no sparse format or zero-skipping needed.

Two criteria rank a layer's channels:
- `l1`: the L1 norm of each filter's weights (Li, Kadav, Durdanovic, Samet, Graf, "Pruning
  Filters for Efficient ConvNets", ICLR 2017);
- `activation`: the mean magnitude of each channel as the next weighted layer sees it, measured
  on a calibration batch (`data.x_val`): the data-driven "mean activation" criterion Molchanov,
  Tyree, Karras, Aila, Kautz compare against (ICLR 2017); a channel whose ReLU output is always
  zero (average percentage of zeros 100%, Hu, Peng, Tai, Tang, "Network Trimming", 2016) scores
  zero and goes first.

Removing output channel j of a layer removes input channel j of the next weighted layer, the
matching BatchNorm statistics in between, and, across a Flatten, the block of input features
channel j flattens into.

The registered technique "prune-channels" keeps a fraction `keep` of every layer's channels
in both faces: run for real here, or, on any profiled workload, as a uniform width
multiplier (`pruned_workload`). Published results state the fraction of MACs kept; a layer's
MACs scale by the width on both its sides, so `width_for` is the one conversion.
"""

from __future__ import annotations

import copy
import math
from dataclasses import replace
from typing import TYPE_CHECKING

import torch
from torch import nn

from edgegap.errors import UserError
from edgegap.techniques.base import Compressed, Param, Setting, Technique, register
from edgegap.techniques.storage import dense_bytes
from edgegap.training.datasets import Dataset
from edgegap.training.loop import train
from edgegap.workload.layer import Gemm, Layer, Workload

if TYPE_CHECKING:
    from edgegap.hardware.platform import Platform

WEIGHTED = (nn.Conv1d, nn.Conv2d, nn.Linear)
BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d)
CHANNELWISE = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.GELU, nn.Tanh, nn.Sigmoid, nn.Dropout,
    nn.Identity, nn.MaxPool1d, nn.MaxPool2d, nn.AvgPool1d, nn.AvgPool2d,
)  # fmt: skip
CRITERIA = ("l1", "activation")
SUPPORTED = (
    "an nn.Sequential chain of Conv1d/Conv2d/Linear layers with BatchNorm, activations, pooling, "
    "dropout and Flatten in between (like lenet-5, mnist1d-cnn, lenet-300-100)"
)


def weighted_layers(model: nn.Sequential) -> list[str]:
    """Names of the chain's weighted layers, in order; UserError for any other architecture."""
    names = []
    spatial = flat = False  # whether the activation has channel and spatial dims, or features
    for name, module in model.named_children():
        if isinstance(module, nn.Conv1d | nn.Conv2d):
            if module.groups != 1 or flat:
                raise UserError(f"layer {name} cannot be pruned by channels: use {SUPPORTED}")
            spatial = True
        elif isinstance(module, nn.Linear):
            if spatial:
                raise UserError(
                    f"layer {name} follows a convolution without Flatten: use {SUPPORTED}"
                )
            flat = True
        elif isinstance(module, nn.Flatten):
            if (module.start_dim, module.end_dim) != (1, -1):
                raise UserError(f"Flatten {name} must flatten dims 1..-1 for {SUPPORTED}")
            spatial, flat = False, True
        elif not isinstance(module, BATCH_NORMS + CHANNELWISE):
            raise UserError(
                f"structured pruning cannot pass through {name} ({type(module).__name__}): "
                f"it needs {SUPPORTED}"
            )
        if isinstance(module, WEIGHTED):
            names.append(name)
    if len(names) < 2:
        raise UserError(f"structured pruning needs two weighted layers or more in {SUPPORTED}")
    return names


def _weight(model: nn.Module, name: str) -> torch.Tensor:
    layer = model.get_submodule(name)
    assert isinstance(layer, WEIGHTED)
    return layer.weight


def l1_scores(model: nn.Sequential, names: list[str]) -> dict[str, torch.Tensor]:
    """Each output channel's filter L1 norm (Li et al., ICLR 2017)."""
    return {name: _weight(model, name).detach().abs().flatten(1).sum(1) for name in names}


def activation_scores(model: nn.Sequential, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Each output channel's mean |activation| over the batch and positions, taken where the
    next weighted layer (or the Flatten before it) reads it: after BatchNorm, ReLU and pooling."""
    scores = {}
    pending: str | None = None  # the weighted layer whose outputs are not scored yet
    model.eval()
    with torch.no_grad():
        for name, module in model.named_children():
            if pending is not None and isinstance(module, (*WEIGHTED, nn.Flatten)):
                scores[pending] = x.abs().transpose(0, 1).flatten(1).mean(1)
                pending = None
            x = module(x)
            if isinstance(module, WEIGHTED):
                pending = name
    return scores


def _keep_fractions(keep: float | dict[str, float], prunable: list[str]) -> dict[str, float]:
    fractions = dict.fromkeys(prunable, keep) if isinstance(keep, float | int) else dict(keep)
    for name, fraction in fractions.items():
        if name not in prunable:
            raise UserError(
                f"layer '{name}' cannot be pruned by channels: use one of {', '.join(prunable)} "
                "(the last layer's outputs are the classes)"
            )
        if not 0.0 < fraction <= 1.0:
            raise UserError(f"keep fraction {fraction} of layer '{name}' must be in (0, 1]")
    return {name: float(fraction) for name, fraction in fractions.items()}


def select_channels(scores: torch.Tensor, fraction: float) -> torch.Tensor:
    """Indices, ascending, of the round(fraction * n) highest-scoring channels (at least one;
    ties go to the lower index)."""
    count = max(1, round(fraction * len(scores)))
    return torch.argsort(-scores, stable=True)[:count].sort().values


def _slice(
    module: nn.Conv1d | nn.Conv2d | nn.Linear,
    kept_in: torch.Tensor | None,
    kept_out: torch.Tensor | None,
) -> None:
    """Keep only the given input and output channels of a weighted layer, in place."""
    weight = module.weight.detach()
    if kept_out is not None:
        weight = weight[kept_out]
        if module.bias is not None:
            module.bias = nn.Parameter(module.bias.detach()[kept_out].clone())
    if kept_in is not None:
        weight = weight[:, kept_in]
    module.weight = nn.Parameter(weight.clone())
    inputs, outputs = int(weight.shape[1]), int(weight.shape[0])
    if isinstance(module, nn.Linear):
        module.in_features, module.out_features = inputs, outputs
    else:
        module.in_channels, module.out_channels = inputs, outputs


def _slice_batch_norm(module: nn.BatchNorm1d | nn.BatchNorm2d, kept: torch.Tensor) -> None:
    for key in ("weight", "bias"):
        value = getattr(module, key)
        if value is not None:
            setattr(module, key, nn.Parameter(value.detach()[kept].clone()))
    for key in ("running_mean", "running_var"):
        value = getattr(module, key)
        if value is not None:
            setattr(module, key, value[kept].clone())
    module.num_features = len(kept)


def _as_features(kept: torch.Tensor, channels: int, features: int) -> torch.Tensor:
    """Channels kept before a Flatten as the features they become: channel c of C flattens
    into features c*s .. c*s + s-1, s = features / C."""
    if features % channels:
        raise UserError(f"{features} features do not split into {channels} channels: {SUPPORTED}")
    size = features // channels
    return (kept[:, None] * size + torch.arange(size)[None, :]).flatten()


def rebuild(model: nn.Sequential, kept_out: dict[str, torch.Tensor]) -> nn.Sequential:
    """A copy of the chain with each layer's output channels cut to `kept_out[name]` and the
    layers downstream cut to match."""
    pruned = copy.deepcopy(model)
    kept: torch.Tensor | None = None  # channels (or features) of the activation still present
    channels = 0  # the original model's channel (or feature) count of that activation
    for name, module in pruned.named_children():
        if kept is not None and isinstance(module, WEIGHTED + BATCH_NORMS):
            size = (
                module.num_features if isinstance(module, BATCH_NORMS) else module.weight.shape[1]
            )
            if size != channels:
                kept, channels = _as_features(kept, channels, int(size)), int(size)
        if isinstance(module, BATCH_NORMS) and kept is not None:
            _slice_batch_norm(module, kept)
        elif isinstance(module, WEIGHTED):
            channels = int(module.weight.shape[0])
            _slice(module, kept, kept_out.get(name))
            kept = kept_out.get(name)
    return pruned


def prune_channels(
    model: nn.Module,
    keep: float | dict[str, float],
    criterion: str = "l1",
    data: Dataset | None = None,
    fine_tune_epochs: int = 0,
    seed: int = 0,
) -> Compressed:
    """Keep the best `keep` fraction of output channels of every weighted layer but the last
    (a float for all, or by layer name; unnamed layers keep everything), rebuild the smaller
    dense model, and optionally fine-tune it. Storage is the new model's float32 parameters."""
    if not isinstance(model, nn.Sequential):
        raise UserError(f"structured pruning needs {SUPPORTED}, not a {type(model).__name__}")
    names = weighted_layers(model)
    fractions = _keep_fractions(keep, names[:-1])
    if criterion not in CRITERIA:
        raise UserError(
            f"unknown pruning criterion '{criterion}': use one of {', '.join(CRITERIA)}"
        )
    if data is None and (criterion == "activation" or fine_tune_epochs > 0):
        raise UserError("give data: the activation criterion and fine-tuning need a dataset")
    if criterion == "l1":
        scores = l1_scores(model, names)
    else:
        assert data is not None
        scores = activation_scores(model, data.x_val)
    kept = {name: select_channels(scores[name], f) for name, f in fractions.items() if f < 1.0}
    pruned = rebuild(model, kept)
    if fine_tune_epochs > 0:
        assert data is not None
        train(pruned, data, fine_tune_epochs, seed=seed)
    return Compressed(
        technique=f"structured pruning ({criterion})",
        model=pruned,
        storage_bytes=dense_bytes(pruned),
        params={
            "criterion": criterion,
            "kept_channels": {name: index.tolist() for name, index in kept.items()},
            "channels": {  # (kept, original) output channels
                name: (len(_weight(pruned, name)), len(_weight(model, name))) for name in names[:-1]
            },
            "fine_tune_epochs": fine_tune_epochs,
        },
    )


def width_for(macs_kept: float) -> float:
    """The channel fraction that keeps `macs_kept` of a layer's MACs: both its input and its
    output channels shrink, so MACs scale by the width squared."""
    return math.sqrt(macs_kept)


def _scaled(value: int, factor: float) -> int:
    return max(1, math.ceil(value * factor))


def pruned_workload(workload: Workload, width: float) -> Workload:
    """Every channel count inside the network scaled by `width`: the first weighted layer
    keeps its image channels and the last its classes; a depthwise layer keeps one filter per
    remaining channel (its groups shrink); element-wise layers scale by the width."""
    weighted = [i for i, x in enumerate(workload.layers) if x.gemms]
    first, last = (weighted[0], weighted[-1]) if weighted else (-1, -1)
    layers = []
    for index, layer in enumerate(workload.layers):
        k_factor = 1.0 if index == first else width
        n_factor = 1.0 if index == last else width
        if not layer.gemms:
            layers.append(_rescaled(layer, (), width, width, width))
            continue
        if all(g.n == 1 and g.groups > 1 for g in layer.gemms):  # depthwise
            gemms = tuple(replace(g, groups=_scaled(g.groups, width)) for g in layer.gemms)
        else:
            gemms = tuple(
                replace(g, k=_scaled(g.k, k_factor), n=_scaled(g.n, n_factor)) for g in layer.gemms
            )
        ratio = sum(g.macs for g in gemms) / max(layer.macs, 1)
        layers.append(_rescaled(layer, gemms, ratio, k_factor, n_factor))
    return workload.with_layers(layers)


def _rescaled(
    layer: Layer, gemms: tuple[Gemm, ...], macs_ratio: float, in_factor: float, out_factor: float
) -> Layer:
    factor = macs_ratio if gemms else out_factor
    return replace(
        layer,
        gemms=gemms,
        elementwise_flops=round(layer.elementwise_flops * factor),
        params=round(layer.params * factor),
        weight_elements=round(layer.weight_elements * factor),
        input_elements=round(layer.input_elements * in_factor),
        cache_elements=round(layer.cache_elements * in_factor),
        output_elements=round(layer.output_elements * out_factor),
    )


@register(
    "prune-channels",
    group="pruning",
    summary="whole filters and neurons removed: a smaller dense model",
    sources=("Li, Kadav, Durdanovic, Samet, Graf, ICLR 2017", "Molchanov et al., ICLR 2017"),
)
class PruneChannels(Technique):
    params = (
        Param("keep", 0.5, 0.01, 1.0, help="fraction of each layer's channels kept"),
        Param("criterion", "l1", choices=CRITERIA),
        Param("epochs", 1, 0, 1000, integer=True, help="fine-tuning epochs"),
    )
    bare = "keep"
    gentler_when = "higher"

    def from_label(self, label: str) -> Setting:
        """Published results state the fraction of MACs kept."""
        return self.setting(label, keep=width_for(float(label)))

    def apply(
        self, workload: Workload, platform: Platform, setting: Setting
    ) -> tuple[Workload, Platform]:
        return pruned_workload(workload, setting["keep"]), platform

    def run(self, model: nn.Module, setting: Setting, data: Dataset | None, seed: int,
            previous: Compressed) -> Compressed:  # fmt: skip
        return prune_channels(model, setting["keep"], setting["criterion"], data,
                              setting["epochs"], seed)  # fmt: skip
