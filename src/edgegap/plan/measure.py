"""Accuracy losses measured, not looked up: for a built-in small model and a dataset, each
technique the plan searches is run for real (its measured face in the registry) on a trained
copy of the model and its validation accuracy compared with the dense model's. As with
published results, a measured gain (fine-tuning can add accuracy to a briefly trained model)
counts as no loss.

Losses are measured on the validation split (the plan chooses with them), after the
technique's default fine-tuning (one epoch) where it trains.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from torch import nn

from edgegap.techniques import Compressed, NotAvailable, get
from edgegap.techniques.storage import dense_bytes
from edgegap.training import Dataset, accuracy, train

DENSE_EPOCHS = 10
SETTINGS = {
    "int8": ["W8A8"],
    "qat": ["W4A8"],
    "prune-channels": ["0.75", "0.5", "0.25"],
    "prune": ["0.5", "0.8", "0.9"],
    "winograd": ["F(2x2,3x3)", "F(4x4,3x3)"],
}
# Settings the measurement fixes beyond the label: two pruning steps of one epoch each.
FIXED = {"prune": {"steps": 2}}


@dataclass
class MeasuredAccuracy:
    """Losses measured on `data` for a copy of `model` trained here (seeded), each computed
    once; the caller's model is left as it is."""

    model: nn.Module
    data: Dataset
    seed: int = 0
    kind: str = "measured"
    trained: nn.Module = field(init=False)
    dense_accuracy: float = field(init=False)
    _cache: dict[tuple[str, str], tuple[float, str] | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.trained = copy.deepcopy(self.model)
        train(self.trained, self.data, DENSE_EPOCHS, seed=self.seed)
        self.dense_accuracy = accuracy(self.trained, self.data.x_val, self.data.y_val)

    def settings(self, technique: str) -> list[str]:
        return SETTINGS.get(technique, [])

    def drop(self, technique: str, setting: str) -> tuple[float, str] | None:
        key = (technique, setting)
        if key not in self._cache:
            self._cache[key] = self._measure(technique, setting)
        return self._cache[key]

    def _measure(self, name: str, label: str) -> tuple[float, str] | None:
        if label not in self.settings(name):
            return None
        technique = get(name)
        labelled = technique.from_label(label)
        setting = technique.setting(label, **(labelled.params | FIXED.get(name, {})))
        dense = Compressed("dense", self.trained, dense_bytes(self.trained))
        try:
            result = technique.run(self.trained, setting, self.data, self.seed, dense)
        except NotAvailable:
            return None  # nothing in this model for the technique (no 3x3 convolution)
        after = accuracy(result.model, self.data.x_val, self.data.y_val)
        source = (
            f"measured on {self.data.name} validation ({len(self.data.y_val)} samples): "
            f"{self.dense_accuracy:.2%} -> {after:.2%}"
        )
        return max(100 * (self.dense_accuracy - after), 0.0), source  # a gain is no loss
