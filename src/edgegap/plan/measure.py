"""Accuracy losses measured, not looked up: for a built-in small model and a dataset, each
technique the plan searches is run for real on a trained copy of the model and its
validation accuracy compared with the dense model's. As with published results, a measured
gain (fine-tuning can add accuracy to a briefly trained model) counts as no loss.

The techniques are the ones `edgegap compress` runs (quantization, structured and magnitude
pruning, Winograd); low-rank is left out here, because its real factorisation does not keep
the fraction of MACs the plan's workload transform assumes. Losses are measured on the
validation split (the plan chooses with them), after `FINE_TUNE_EPOCHS` of fine-tuning where
the technique trains.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import torch
from torch import nn

from edgegap.compress.datasets import Dataset
from edgegap.compress.pruning import prunable, prune_iteratively
from edgegap.compress.quantization import quantize
from edgegap.compress.structured import prune_channels
from edgegap.compress.training import accuracy, train
from edgegap.compress.winograd import winograd_transform
from edgegap.errors import UserError

DENSE_EPOCHS = 10
FINE_TUNE_EPOCHS = 1
SETTINGS = {
    "int8-ptq": ["W8A8"],
    "int4-qat": ["W4A8"],
    "pruning-channels": ["0.75", "0.5", "0.25"],
    "pruning-unstructured": ["0.5", "0.8", "0.9"],
    "winograd": ["F(2x2,3x3)", "F(4x4,3x3)"],
}


@dataclass
class MeasuredAccuracy:
    """Losses measured on `data` for `model` (trained here, seeded), each computed once."""

    model: nn.Module
    data: Dataset
    seed: int = 0
    kind: str = "measured"
    _dense: float | None = None
    _cache: dict[tuple[str, str], tuple[float, str] | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        torch.manual_seed(self.seed)
        train(self.model, self.data, DENSE_EPOCHS, seed=self.seed)
        self._dense = accuracy(self.model, self.data.x_val, self.data.y_val)

    def settings(self, technique: str) -> list[str]:
        return SETTINGS.get(technique, [])

    def drop(self, technique: str, setting: str) -> tuple[float, str] | None:
        key = (technique, setting)
        if key not in self._cache:
            self._cache[key] = self._measure(technique, setting)
        return self._cache[key]

    def _measure(self, technique: str, setting: str) -> tuple[float, str] | None:
        assert self._dense is not None
        data, seed = self.data, self.seed
        if setting not in self.settings(technique):
            return None
        if technique == "int8-ptq":
            model = quantize(self.model, "int8", calibration=data.x_train[:256],
                             activation_bits=8).model  # fmt: skip
        elif technique == "int4-qat":
            model = quantize(self.model, "qat", data=data, bits=4, epochs=FINE_TUNE_EPOCHS,
                             seed=seed, activation_bits=8).model  # fmt: skip
        elif technique == "pruning-channels":
            keep = math.sqrt(float(setting))  # both sides of a layer shrink: MACs x keep^2
            model = prune_channels(self.model, keep, "l1", data, FINE_TUNE_EPOCHS, seed).model
        elif technique == "pruning-unstructured":
            model = copy.deepcopy(self.model)
            targets = dict.fromkeys(prunable(model), float(setting))
            prune_iteratively(model, data, targets, steps=2, epochs_per_step=FINE_TUNE_EPOCHS,
                              seed=seed)  # fmt: skip
        else:
            try:
                model = winograd_transform(self.model, int(setting[2])).model
            except UserError:
                return None  # no 3x3 stride-1 convolution to compute this way
        after = accuracy(model, data.x_val, data.y_val)
        source = (
            f"measured on {data.name} validation ({len(data.y_val)} samples): "
            f"{self._dense:.2%} -> {after:.2%}"
        )
        return max(100 * (self._dense - after), 0.0), source  # a gain counts as no loss
