"""`edgegap plan`: for a model and an edge target, state the gap against each budget, then
search combinations of techniques from the registry for the Pareto front of accuracy loss,
latency and energy.

Each technique the plan searches (`SEARCHED`) contributes at most one of its settings, and
the architecture and the quantization groups at most one step each (`EXCLUSIVE`):
hardware techniques their candidates for this workload and platform (the best systolic
dataflow and shape at the same PEs; off-chip memory replaced by HBM2), model techniques the
settings the accuracy source knows a loss for. Every combination's latency, energy and memory
come from the cost model on the transformed workload and platform, through each technique's
analytic face. Accuracy loss is the sum of its steps' losses (the additivity is an
assumption), from an `Accuracy` source: published ImageNet results (`PublishedAccuracy`: the
model's own rows, else a conservative transfer from other models) or losses measured on a
dataset for a small model (`plan.measure.MeasuredAccuracy`). A model that does not fit the
platform's memory never meets the budgets (`hardware.fits`).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any, Protocol

import numpy as np
import pandas as pd

from edgegap.errors import UserError
from edgegap.hardware.cost import estimate
from edgegap.hardware.platform import Platform
from edgegap.pareto import pareto_mask
from edgegap.techniques import NotAvailable, Setting, Technique, get
from edgegap.workload import profile
from edgegap.workload.layer import Workload

# What the plan searches, in this order: hardware techniques at these settings of their
# candidates (None: all), then model techniques at the settings the accuracy source knows.
SEARCHED: dict[str, tuple[str, ...] | None] = {
    "systolic": ("shape",),
    "offchip-memory": ("HBM2",),
    "int8": None,
    "qat": None,
    "prune-channels": None,
    "low-rank": None,
    "prune": None,
    "winograd": None,
}
# Groups whose techniques exclude each other: one change of array or memory, one number
# format. Pruning, factorisation and algorithm techniques compose, at most one setting each.
EXCLUSIVE = ("architecture", "quantization")


@dataclass(frozen=True)
class Budget:
    latency_s: float | None = None
    energy_j: float | None = None
    memory_bytes: float | None = None

    def __post_init__(self) -> None:
        for name, unit in (("latency", "s"), ("energy", "j"), ("memory", "bytes")):
            value = getattr(self, f"{name}_{unit}")
            if value is not None and not (value > 0 and math.isfinite(value)):
                raise UserError(f"the {name} budget must be a positive number, got {value:g}")

    def ratios(self, latency_s: float, energy_j: float, memory_bytes: float) -> dict[str, float]:
        """Demand over budget for each budget given: above 1 is over."""
        pairs = {"latency": (latency_s, self.latency_s), "energy": (energy_j, self.energy_j),
                 "memory": (memory_bytes, self.memory_bytes)}  # fmt: skip
        return {k: used / limit for k, (used, limit) in pairs.items() if limit is not None}


@dataclass(frozen=True)
class Step:
    """A technique at one setting, with the accuracy it costs and where that number is from."""

    setting: Setting
    accuracy_drop_pp: float
    source: str

    @property
    def technique(self) -> Technique:
        return get(self.setting.technique)

    def apply(self, workload: Workload, platform: Platform) -> tuple[Workload, Platform]:
        return self.technique.apply(workload, platform, self.setting)

    def describe(self) -> str:
        return f"{self.setting.technique} ({self.setting.label})"


@dataclass(frozen=True)
class Point:
    latency_s: float
    energy_j: float
    memory_bytes: int  # `hardware.fits`: weights and working activations
    fits: bool  # whether they fit where the model lives on the platform

    @classmethod
    def of(cls, workload: Workload, platform: Platform) -> Point:
        cost = estimate(workload, platform)
        return cls(cost.totals.latency_s, cost.totals.energy_j, cost.fit.needed_bytes,
                   cost.fit.fits)  # fmt: skip


@dataclass(frozen=True)
class Candidate:
    steps: tuple[Step, ...]
    point: Point

    @property
    def accuracy_drop_pp(self) -> float:
        return sum(step.accuracy_drop_pp for step in self.steps)

    def describe(self) -> str:
        return " -> ".join(step.describe() for step in self.steps) or "baseline"


@cache
def published_accuracy() -> pd.DataFrame:
    path = resources.files("edgegap.plan") / "data" / "published_accuracy.csv"
    with path.open(encoding="utf-8") as handle:
        table = pd.read_csv(handle)
    return table.dropna(subset=["drop_pp"])


def _published(technique: str, setting: str, model: str) -> tuple[float, str] | None:
    """The published accuracy loss for this technique and setting, conservatively: the largest
    of the model's own rows (or of rows for any model, where the technique is exact); for a
    model without rows, the largest loss any model shows at this setting or a gentler one (a
    transfer, said in the source). A published gain counts as no loss."""
    table = published_accuracy()
    rows = table[table["technique"] == technique]
    own = rows[rows["model"].isin([model, "any"]) & (rows["setting"].astype(str) == setting)]
    if not own.empty:
        row = own.sort_values("drop_pp").iloc[-1]
        return max(float(row["drop_pp"]), 0.0), str(row["source"])
    if rows["model"].isin([model, "any"]).any():
        return None  # the model's own results do not include this setting
    known = get(technique)
    if known.gentler_when is None:
        pool = rows[rows["setting"].astype(str) == setting]
    else:
        pool = rows[[known.gentler(float(v), float(setting)) for v in rows["setting"]]]
    if pool.empty:
        return None
    row = pool.sort_values("drop_pp").iloc[-1]
    return (
        max(float(row["drop_pp"]), 0.0),
        f"{row['source']} (measured on {row['model']} at {row['setting']}, not {model})",
    )


class Accuracy(Protocol):
    """Where a plan's accuracy losses come from: the settings it knows a technique at, and
    the loss (percentage points) and its source for one setting."""

    @property
    def kind(self) -> str:
        """ "published" or "measured"."""
        ...

    def settings(self, technique: str) -> list[str]: ...

    def drop(self, technique: str, setting: str) -> tuple[float, str] | None: ...


@dataclass(frozen=True)
class PublishedAccuracy:
    """ImageNet results from plan/data/published_accuracy.csv, for a torchvision model."""

    model: str
    kind: str = "published"

    def settings(self, technique: str) -> list[str]:
        return _settings(technique, self.model)

    def drop(self, technique: str, setting: str) -> tuple[float, str] | None:
        return _published(technique, setting, self.model)


def _settings(technique: str, model: str) -> list[str]:
    """The settings published for the model (or for any model, where the technique is exact);
    all settings where the model has none."""
    table = published_accuracy()
    rows = table[table["technique"] == technique]
    own = rows[rows["model"].isin([model, "any"])]
    return sorted(set((own if not own.empty else rows)["setting"].astype(str)))


def option_groups(
    workload: Workload, platform: Platform, accuracy: Accuracy
) -> list[list[Step | None]]:
    """The choices per group of `EXCLUSIVE` techniques, or per technique otherwise; None is
    "leave this group out"."""
    groups: dict[str, list[Step | None]] = {}
    for name, wanted in SEARCHED.items():
        technique = get(name)
        key = technique.group if technique.group in EXCLUSIVE else technique.name
        options = groups.setdefault(key, [None])
        if technique.changes == "hardware":
            for setting in technique.candidates(workload, platform):
                if wanted is None or setting.get(technique.bare or "") in wanted:
                    options.append(Step(setting, 0.0, "architecture only: the model is unchanged"))
        else:
            for label in accuracy.settings(name):
                found = accuracy.drop(name, label)
                try:
                    setting = technique.from_label(label)
                except NotAvailable:
                    continue
                if found is not None:
                    options.append(Step(setting, *found))
    return list(groups.values())


def _apply(steps: Sequence[Step], workload: Workload, platform: Platform) -> Point | None:
    """The cost of the steps applied in order; None when one cannot apply here."""
    try:
        for step in steps:
            workload, platform = step.apply(workload, platform)
    except NotAvailable:
        return None
    return Point.of(workload, platform)


@dataclass(frozen=True)
class Plan:
    model: str
    platform: Platform
    budget: Budget
    baseline: Point
    candidates: list[Candidate]
    recipe: Candidate
    contributions: list[dict[str, Any]] = field(default_factory=list)
    accuracy_source: str = "published"

    @property
    def meets_budget(self) -> bool:
        return meets(self.recipe.point, self.budget)

    @property
    def pareto(self) -> list[Candidate]:
        points = np.array(
            [[c.accuracy_drop_pp, c.point.latency_s, c.point.energy_j] for c in self.candidates]
        )
        mask = pareto_mask(points)
        front = [c for c, keep in zip(self.candidates, mask, strict=True) if keep]
        return sorted(front, key=lambda c: (c.point.latency_s, c.accuracy_drop_pp))

    def gap(self) -> list[str]:
        """The baseline against each budget, in words."""
        base = self.baseline
        ratios = self.budget.ratios(base.latency_s, base.energy_j, base.memory_bytes)
        return [
            f"{name}: {ratio:.3g}x over the budget"
            if ratio > 1
            else f"{name}: fits ({ratio:.0%} of the budget)"
            for name, ratio in ratios.items()
        ]

    def to_dict(self) -> dict[str, Any]:
        def point(p: Point) -> dict[str, Any]:
            return {"latency_s": p.latency_s, "energy_j": p.energy_j,
                    "memory_bytes": p.memory_bytes, "fits": p.fits}  # fmt: skip

        budget = {
            "latency_s": self.budget.latency_s,
            "energy_j": self.budget.energy_j,
            "memory_bytes": self.budget.memory_bytes,
        }
        return {
            "model": self.model,
            "platform": self.platform.name,
            "budget": budget,
            "baseline": point(self.baseline),
            "gap": self.gap(),
            "meets_budget": self.meets_budget,
            "recipe": self.contributions,
            "estimate": point(self.recipe.point)
            | {
                "accuracy_drop_pp": self.recipe.accuracy_drop_pp,
                "accuracy_source": self.accuracy_source,
            },
            "pareto": [
                point(c.point) | {"recipe": c.describe(), "accuracy_drop_pp": c.accuracy_drop_pp}
                for c in self.pareto
            ],
            "candidates_evaluated": len(self.candidates),
        }


def meets(point: Point, budget: Budget) -> bool:
    """Within every budget given, and the model fits the platform's memory."""
    return point.fits and _worst_ratio(point, budget) <= 1


def _worst_ratio(point: Point, budget: Budget) -> float:
    ratios = budget.ratios(point.latency_s, point.energy_j, point.memory_bytes)
    return max(ratios.values(), default=0.0)


def choose(
    candidates: Sequence[Candidate], budget: Budget, max_accuracy_drop_pp: float | None = None
) -> Candidate:
    """The recipe: among the candidates within the accuracy limit, the one that meets every
    budget with the least accuracy loss (then the fewest changes, then the least energy);
    when none meets them, the one that fits memory and comes closest to the budgets (a model
    that does not fit ranks after every one that does)."""
    allowed = [
        c for c in candidates
        if max_accuracy_drop_pp is None or c.accuracy_drop_pp <= max_accuracy_drop_pp
    ]  # fmt: skip
    if not allowed:
        raise UserError(f"no combination loses at most {max_accuracy_drop_pp} pp: raise it")
    meeting = [c for c in allowed if meets(c.point, budget)]
    if meeting:
        return min(meeting, key=lambda c: (c.accuracy_drop_pp, len(c.steps), c.point.energy_j))
    return min(
        allowed,
        key=lambda c: (not c.point.fits, _worst_ratio(c.point, budget), c.accuracy_drop_pp),
    )


def plan(
    model: str,
    workload: Workload,
    platform: Platform,
    budget: Budget,
    max_accuracy_drop_pp: float | None = None,
    accuracy: Accuracy | None = None,
) -> Plan:
    """Every combination of one option per searched technique, evaluated by the cost model
    (combinations that reach the same cost are kept once, with the least loss, then the
    fewest steps); the recipe is `choose`'s."""
    source = accuracy or PublishedAccuracy(model)
    baseline = Point.of(workload, platform)
    groups = [
        [
            None,
            *(
                s
                for s in group
                if s is not None and _apply((s,), workload, platform) not in (None, baseline)
            ),
        ]
        for group in option_groups(workload, platform, source)
    ]  # fmt: skip  (an option that changes nothing alone, int8 on a 16-bit chip, is dropped)
    best: dict[Point, Candidate] = {}
    for choice in itertools.product(*groups):
        steps = tuple(step for step in choice if step is not None)
        point = _apply(steps, workload, platform)
        if point is None:
            continue
        candidate = Candidate(steps, point)
        known = best.get(point)
        rank = (candidate.accuracy_drop_pp, len(steps))
        if known is None or rank < (known.accuracy_drop_pp, len(known.steps)):
            best[point] = candidate  # the same cost for less loss or fewer steps
    candidates = list(best.values())
    recipe = choose(candidates, budget, max_accuracy_drop_pp)
    contributions = []
    previous = baseline
    for index, step in enumerate(recipe.steps):
        point = _apply(recipe.steps[: index + 1], workload, platform)
        assert point is not None
        contributions.append(
            {
                "technique": step.setting.technique,
                "setting": step.setting.label,
                "params": step.setting.params,
                "contribution": {
                    "latency_factor": previous.latency_s / point.latency_s,
                    "energy_factor": previous.energy_j / point.energy_j,
                    "memory_factor": previous.memory_bytes / point.memory_bytes,
                    "accuracy_drop_pp": step.accuracy_drop_pp,
                },
                "source": step.source,
            }
        )
        previous = point
    return Plan(model, platform, budget, baseline, candidates, recipe, contributions, source.kind)


def plan_for(
    model: str,
    platform: Platform,
    budget: Budget,
    max_accuracy_drop_pp: float | None = None,
    dataset: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> Plan:
    """`edgegap plan`: the model profiled (by name, builder or file), its losses published or,
    with `dataset`, measured on it for a built-in small model, then `plan`."""
    if budget == Budget():
        raise UserError("give at least one budget: --latency-ms, --energy-mj or --memory-mb")
    accuracy: Accuracy | None = None
    if dataset is None:
        workload = profile(model)
    else:
        from edgegap.plan.measure import MeasuredAccuracy
        from edgegap.training import resolve_dataset, seeded_model

        data = resolve_dataset(dataset)
        network = seeded_model(model, data)
        if progress is not None:
            progress(f"training {model} on {data.name}")
        accuracy = MeasuredAccuracy(network, data)
        workload = profile(network, (1, *data.sample_shape), name=model)
    if progress is not None:
        progress("searching combinations of techniques")
    return plan(model, workload, platform, budget, max_accuracy_drop_pp, accuracy)
