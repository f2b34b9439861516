"""`edgegap plan`: for a model and an edge target, state the gap against each budget, then
search combinations of bridges for the Pareto front of accuracy loss, latency and energy.

Options per group (each group contributes at most one step):
- architecture: none, the best systolic dataflow and shape at the same PEs, or off-chip
  memory replaced by HBM2 (`bridges.architecture`);
- quantization: int8 weights and activations (post-training), int4 weights with int8
  activations (quantization-aware training);
- channel pruning, unstructured pruning, low-rank: at the settings the accuracy source knows;
- Winograd F(2x2,3x3) and F(4x4,3x3).
Every combination's latency, energy and memory come from the cost model on the transformed
workload and platform. Accuracy loss is the sum of its steps' losses (the additivity is an
assumption), from an `Accuracy` source: published ImageNet results (`PublishedAccuracy`:
the model's own rows, else a conservative transfer from other models) or losses measured on
a dataset for a small model (`plan.measure.MeasuredAccuracy`).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache, partial
from importlib import resources
from typing import Any, Protocol

import numpy as np
import pandas as pd

from edgegap.bridges import algorithm
from edgegap.bridges.architecture import Unsourced, systolic_bridges, with_offchip
from edgegap.errors import UserError
from edgegap.hardware.cost import estimate
from edgegap.hardware.fit import fits
from edgegap.hardware.platform import Platform
from edgegap.pareto import pareto_mask
from edgegap.workload.layer import Workload

Transform = Callable[[Workload, Platform], tuple[Workload, Platform]]


@dataclass(frozen=True)
class Budget:
    latency_s: float | None = None
    energy_j: float | None = None
    memory_bytes: float | None = None

    def __post_init__(self) -> None:
        for name in ("latency_s", "energy_j", "memory_bytes"):
            value = getattr(self, name)
            if value is not None and not (value > 0 and math.isfinite(value)):
                raise UserError(f"budget {name} must be a positive number, got {value}")

    def ratios(self, latency_s: float, energy_j: float, memory_bytes: float) -> dict[str, float]:
        """Demand over budget for each budget given: above 1 is over."""
        pairs = {"latency": (latency_s, self.latency_s), "energy": (energy_j, self.energy_j),
                 "memory": (memory_bytes, self.memory_bytes)}  # fmt: skip
        return {k: used / limit for k, (used, limit) in pairs.items() if limit is not None}


@dataclass(frozen=True)
class Step:
    technique: str
    params: dict[str, Any]
    apply: Transform
    accuracy_drop_pp: float
    source: str


@dataclass(frozen=True)
class Point:
    latency_s: float
    energy_j: float
    memory_bytes: int  # `hardware.fits`: weights and working activations
    fits: bool  # whether they fit where the model lives on the platform

    @classmethod
    def of(cls, workload: Workload, platform: Platform) -> Point:
        totals = estimate(workload, platform).totals
        fit = fits(workload, platform)
        return cls(totals.latency_s, totals.energy_j, fit.needed_bytes, fit.fits)


@dataclass(frozen=True)
class Candidate:
    steps: tuple[Step, ...]
    point: Point

    @property
    def accuracy_drop_pp(self) -> float:
        return sum(step.accuracy_drop_pp for step in self.steps)

    def describe(self) -> str:
        return " -> ".join(step.technique for step in self.steps) or "baseline"


@cache
def published_accuracy() -> pd.DataFrame:
    path = resources.files("edgegap.plan") / "data" / "published_accuracy.csv"
    with path.open(encoding="utf-8") as handle:
        table = pd.read_csv(handle)
    return table.dropna(subset=["drop_pp"])


# Techniques whose numeric setting orders them: a transfer takes the worst loss of every
# published result at least as gentle (more MACs kept; fewer weights removed).
GENTLER = {
    "pruning-channels": lambda published, asked: published >= asked,
    "low-rank": lambda published, asked: published >= asked,
    "pruning-unstructured": lambda published, asked: published <= asked,
}


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
    gentler = GENTLER.get(technique)
    if gentler is None:
        pool = rows[rows["setting"].astype(str) == setting]
    else:
        pool = rows[[gentler(float(v), float(setting)) for v in rows["setting"]]]
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


def _on_workload(transform: Callable[[Workload], Workload]) -> Transform:
    def apply(workload: Workload, platform: Platform) -> tuple[Workload, Platform]:
        return transform(workload), platform

    return apply


def _on_platform(transform: Callable[[Platform], Platform]) -> Transform:
    def apply(workload: Workload, platform: Platform) -> tuple[Workload, Platform]:
        return workload, transform(platform)

    return apply


def _with_array(designed: Platform, platform: Platform) -> Platform:
    """`platform` with the compute (array shape, dataflow) of `designed`."""
    return platform.model_copy(update={"compute": designed.compute})


def option_groups(
    workload: Workload, platform: Platform, accuracy: Accuracy
) -> list[list[Step | None]]:
    """The choices per group; None is "leave this group out"."""
    groups: list[list[Step | None]] = []
    architecture: list[Step | None] = [None]
    if platform.compute.type != "in-memory":
        best = systolic_bridges(workload, platform)[-1]
        compute = best.platform.compute
        architecture.append(
            Step(
                "systolic-array",
                {"array": f"{compute.rows}x{compute.cols}", "dataflow": compute.dataflow},
                _on_platform(partial(_with_array, best.platform)),
                0.0,
                "architecture only: the model is unchanged",
            )
        )
    if platform.level("offchip") is not None:
        try:
            with_offchip(platform, "HBM2")
            architecture.append(
                Step("memory-hbm2", {"offchip": "HBM2"},
                     _on_platform(partial(with_offchip, memory="HBM2")), 0.0,
                     "architecture only: the model is unchanged")
            )  # fmt: skip
        except Unsourced:
            pass
    groups.append(architecture)
    quantization: list[Step | None] = [None]
    for technique, bits, activation_bits in (("int8-ptq", 8, 8), ("int4-qat", 4, 8)):
        found = next(
            (d for setting in accuracy.settings(technique)
             if (d := accuracy.drop(technique, setting)) is not None),
            None,
        )  # fmt: skip
        if found is not None:
            quantization.append(
                Step(technique, {"bits": bits, "activation_bits": activation_bits},
                     _on_workload(partial(algorithm.quantize, bits=bits,
                                          activation_bits=activation_bits)), *found)
            )  # fmt: skip
    groups.append(quantization)
    for technique, transform in (
        ("pruning-channels", algorithm.prune_channels),
        ("low-rank", algorithm.low_rank),
        ("pruning-unstructured", None),
    ):
        group: list[Step | None] = [None]
        for setting in accuracy.settings(technique):
            found = accuracy.drop(technique, setting)
            if found is None:
                continue
            value = float(setting)
            if transform is None:
                apply = _on_workload(partial(algorithm.prune_weights, sparsity=value))
                params = {"sparsity": value}
            else:
                apply = _on_workload(partial(transform, macs_kept=value))
                params = {"macs_kept": value}
            group.append(Step(technique, params, apply, *found))
        groups.append(group)
    winograd: list[Step | None] = [None]
    for tile in algorithm.WINOGRAD_TILES:
        found = accuracy.drop("winograd", f"F({tile}x{tile},3x3)")
        if found is not None:
            winograd.append(
                Step("winograd", {"tile": tile},
                     _on_workload(partial(algorithm.winograd, tile=tile)), *found)
            )  # fmt: skip
    groups.append(winograd)
    return groups


def _apply(steps: Sequence[Step], workload: Workload, platform: Platform) -> Point:
    for step in steps:
        workload, platform = step.apply(workload, platform)
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
        point = self.recipe.point
        ratios = self.budget.ratios(point.latency_s, point.energy_j, point.memory_bytes)
        return all(r <= 1 for r in ratios.values())

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
        def point(p: Point) -> dict[str, float]:
            return {"latency_s": p.latency_s, "energy_j": p.energy_j,
                    "memory_bytes": p.memory_bytes}  # fmt: skip

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


def plan(
    model: str,
    workload: Workload,
    platform: Platform,
    budget: Budget,
    max_accuracy_drop_pp: float | None = None,
    accuracy: Accuracy | None = None,
) -> Plan:
    """Every combination of one option per group, evaluated by the cost model (combinations
    that reach the same cost are kept once, with the least loss); the recipe is
    the combination that meets every budget with the least accuracy loss (then the fewest
    changes, then the least energy), or, when none does, the one closest to the budget within
    the accuracy limit."""
    baseline = Point.of(workload, platform)
    groups = [
        [
            None,
            *(s for s in group if s is not None and _apply((s,), workload, platform) != baseline),
        ]
        for group in option_groups(workload, platform, accuracy or PublishedAccuracy(model))
    ]  # an option that changes nothing alone (int8 on a 16-bit-only chip) changes nothing
    best: dict[Point, Candidate] = {}
    for choice in itertools.product(*groups):
        steps = tuple(step for step in choice if step is not None)
        candidate = Candidate(steps, _apply(steps, workload, platform))
        known = best.get(candidate.point)
        rank = (candidate.accuracy_drop_pp, len(steps))
        if known is None or rank < (known.accuracy_drop_pp, len(known.steps)):
            best[candidate.point] = candidate  # the same cost for less loss or fewer steps
    candidates = list(best.values())
    allowed = [
        c for c in candidates
        if max_accuracy_drop_pp is None or c.accuracy_drop_pp <= max_accuracy_drop_pp
    ]  # fmt: skip
    if not allowed:
        raise UserError(f"no combination loses at most {max_accuracy_drop_pp} pp: raise it")

    def worst_ratio(c: Candidate) -> float:
        ratios = budget.ratios(c.point.latency_s, c.point.energy_j, c.point.memory_bytes)
        return max(ratios.values(), default=0.0)

    meeting = [c for c in allowed if worst_ratio(c) <= 1]
    if meeting:
        recipe = min(meeting, key=lambda c: (c.accuracy_drop_pp, len(c.steps), c.point.energy_j))
    else:
        recipe = min(allowed, key=lambda c: (worst_ratio(c), c.accuracy_drop_pp))
    contributions = []
    previous = baseline
    for index, step in enumerate(recipe.steps):
        point = _apply(recipe.steps[: index + 1], workload, platform)
        contributions.append(
            {
                "technique": step.technique,
                "params": step.params,
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
    kind = (accuracy or PublishedAccuracy(model)).kind
    return Plan(model, platform, budget, baseline, candidates, recipe, contributions, kind)
