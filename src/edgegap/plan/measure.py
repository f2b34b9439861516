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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from edgegap.runner import Outcome, Task, Workers, run_tasks
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
    """Losses measured on `data` for a copy of `model` (called `name`) trained here (seeded),
    each computed once, as a task of `edgegap.runner` (`measure` runs many at once, on
    several workers or a cluster); the caller's model is left as it is."""

    model: nn.Module
    data: Dataset
    seed: int = 0
    kind: str = "measured"
    name: str = "model"
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
        if setting not in self.settings(technique):
            return None
        if (technique, setting) not in self._cache:
            failed = self.measure([(technique, setting)])
            if failed:
                raise RuntimeError(failed[0].describe())
        return self._cache[(technique, setting)]

    def measure(
        self,
        pairs: Sequence[tuple[str, str]],
        workers: Workers | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> list[Outcome]:
        """Measure every (technique, setting) of `pairs` not measured yet; the tasks that
        failed twice (their losses stay unknown: the plan leaves those settings out)."""
        todo = [pair for pair in pairs if pair not in self._cache]
        common = {"model": self.name, "dataset": self.data.name, "dense_epochs": DENSE_EPOCHS}
        tasks = [Task(common | {"technique": t, "setting": s}, self.seed) for t, s in todo]
        outcomes = run_tasks(measure_loss, tasks, self._shared, workers, progress)
        for pair, outcome in zip(todo, outcomes, strict=True):
            if outcome.result is not None:
                found = outcome.result
                self._cache[pair] = None if found["drop_pp"] is None else (
                    found["drop_pp"], found["source"])  # fmt: skip
        return [outcome for outcome in outcomes if outcome.result is None]

    def _shared(self) -> tuple[nn.Module, Dataset, float]:
        return self.trained, self.data, self.dense_accuracy


def measure_loss(input: dict[str, Any], seed: int, shared: Any) -> dict[str, Any]:
    """One task: the technique at the setting run on a copy of the trained model, its loss of
    validation accuracy in percentage points (a gain is no loss; None where the model has
    nothing the technique applies to, such as no 3x3 convolution)."""
    trained, data, dense_accuracy = shared
    trained = copy.deepcopy(trained)
    name, label = input["technique"], input["setting"]
    technique = get(name)
    labelled = technique.from_label(label)
    setting = technique.setting(label, **(labelled.params | FIXED.get(name, {})))
    dense = Compressed("dense", trained, dense_bytes(trained))
    try:
        result = technique.run(trained, setting, data, seed, dense)
    except NotAvailable:
        return {"drop_pp": None, "source": None}
    after = accuracy(result.model, data.x_val, data.y_val)
    source = (
        f"measured on {data.name} validation ({len(data.y_val)} samples): "
        f"{dense_accuracy:.2%} -> {after:.2%}"
    )
    return {"drop_pp": max(100 * (dense_accuracy - after), 0.0), "source": source}
