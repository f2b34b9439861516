"""`edgegap plan`: for a model and an edge target, state the gap against each budget, then
search combinations of techniques from the registry for the Pareto front of accuracy loss,
latency and energy.

What a plan may change is the reader's (`change`): the model (the default: quantization,
pruning, factorisation, algorithm and coding techniques, which the model's owner applies),
the hardware (the architecture group: another chip) or both. Each technique the plan searches
(`SEARCHED`, filtered by group) contributes at most one of its settings, and the architecture
and the quantization groups at most one step each (`EXCLUSIVE`): hardware techniques their
candidates for this workload and platform (the best systolic dataflow and shape at the same
PEs; off-chip memory replaced by HBM2), model techniques the settings the accuracy source
knows a loss for. Every combination's latency, energy, power and memory come from the cost
model on the transformed workload and platform, through each technique's analytic face.

The baseline is the model at the platform's deployment precision
(`hardware.deployment_precision`) unless the caller gives another; reaching it from the model
as trained (float32) costs that quantization's accuracy loss (`Precision`), and the
quantization group searches only narrower formats. Accuracy loss is the sum of the
baseline's and the steps' losses (the additivity is an assumption; a narrower format's
published loss, measured from float32, replaces the baseline's), from an `Accuracy` source:
published ImageNet results (`PublishedAccuracy`: the model's own rows, else a conservative
transfer from other models) or losses measured on a dataset for a small model
(`plan.measure.MeasuredAccuracy`).

Every budget is explicit (`Budget`, `Check`): latency and energy where the caller gives them;
memory and power always, the caller's number or else the platform's own (its memory
capacities by the fit rule, `hardware.fits`, and its power budget at the frame rate). A plan
meets its budgets only when every one holds, so a plan with the platform's budgets alone
answers whether the model runs on it at all.

A language model's plan (`Budget.per_pass`: the budget is a decode rate in tokens/s) is the
same search over what a language model ships in: one decode step after `context` tokens is
the baseline, its weights' file format and its KV cache's type the techniques
(`GENERATION_SEARCHED`, at most one of each), and its quality cost the perplexity increase
over F16 that llama.cpp publishes for each type on a reference model
(`PublishedPerplexity`, techniques/data/perplexity.csv): transferred to the user's model, not
measured for it. Memory is the fit rule's on the decode step (weights as stored, the KV cache
at its context and batch, activations), power is checked at the decode rate, and a prefill
of the prompt gives the time to the first token where a budget asks for it.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import cache
from importlib import resources
from typing import Any, Literal, Protocol

import numpy as np
import pandas as pd

from edgegap.errors import UserError
from edgegap.hardware.cost import REAL_TIME_FPS, estimate
from edgegap.hardware.fit import Placement, size_text
from edgegap.hardware.intervals import Interval, interval_for, interval_record
from edgegap.hardware.layers import deployment_precision
from edgegap.hardware.platform import Platform
from edgegap.pareto import pareto_mask
from edgegap.precision import BITS, FP32_BITS, bits_of
from edgegap.runner import Workers
from edgegap.techniques import GROUPS, NotAvailable, Setting, Technique, get, techniques
from edgegap.techniques.base import Group
from edgegap.workload import profile
from edgegap.workload.layer import Workload
from edgegap.workload.phases import PROMPT_TOKENS, Phase

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
# What a language model's plan searches: its weights' file format and its KV cache's type,
# each at the settings a published perplexity increase exists for, at most one of each.
GENERATION_SEARCHED: dict[str, tuple[str, ...] | None] = {"weight-format": None, "kv-cache": None}
# Groups whose techniques exclude each other: one change of array or memory, one number
# format. Pruning, factorisation and algorithm techniques compose, at most one setting each.
EXCLUSIVE = ("architecture", "quantization")
# What a plan may change, by technique group: the model (what its owner can do), the
# hardware (the architecture group: another chip), or both.
Change = Literal["model", "hardware", "both"]
CHANGES: dict[str, tuple[Group, ...]] = {
    "model": tuple(group for group in GROUPS if group != "architecture"),
    "hardware": ("architecture",),
    "both": GROUPS,
}
GIVEN = "given"
PLATFORMS = "the platform's"


def as_change(text: str) -> Change:
    """`text` as a `Change`, or a one-line error."""
    for change in ("model", "hardware", "both"):
        if text == change:
            return change
    raise UserError(f"unknown change '{text}': use {', '.join(CHANGES)}")


def searched(change: Change, generation: bool = False) -> dict[str, tuple[str, ...] | None]:
    """`SEARCHED`, less the techniques whose group `change` leaves alone; for a language
    model's plan (`generation`), `GENERATION_SEARCHED`, which changes the model only."""
    groups = CHANGES[as_change(change)]
    if generation:
        if change != "model":
            raise UserError(
                f"--change {change}: a language model's plan changes its weight and cache "
                "formats only (--change model)"
            )
        return dict(GENERATION_SEARCHED)
    return {name: wanted for name, wanted in SEARCHED.items() if get(name).group in groups}


def _positive(value: float | None, what: str) -> None:
    if value is not None and not (value > 0 and math.isfinite(value)):
        raise UserError(f"the {what} must be a positive number, got {value:g}")


@dataclass(frozen=True)
class Budget:
    """What a plan must meet. Latency and energy per inference where given; memory and power
    always: the number given, or else the platform's own (memory: its capacities, where the
    fit rule places weights and activations; power: its budget, once `on` a platform), power
    at `fps` frames per second."""

    latency_s: float | None = None
    energy_j: float | None = None
    memory_bytes: float | None = None  # compared against the fit rule's needed bytes
    power_w: float | None = None
    fps: float | None = None  # None: `rate` derives it
    power_from_platform: bool = False  # set by `on`: power_w is the platform's budget
    # A language model's plan: the tokens one pass (a decode step of that many sequences)
    # yields, `fps` its decode steps per second; None: an image model's, a frame a pass.
    per_pass: int | None = None
    ttft_s: float | None = None  # a language model's time to the first token of its prompt

    def __post_init__(self) -> None:
        _positive(self.latency_s, "latency budget")
        _positive(self.energy_j, "energy budget")
        _positive(self.memory_bytes, "memory budget")
        _positive(self.power_w, "power budget")
        _positive(self.fps, "frame rate")
        _positive(self.ttft_s, "time to first token budget")
        if self.per_pass is not None and (self.per_pass < 1 or self.fps is None):
            raise UserError("a language model's plan needs a decode rate and a batch of >= 1")

    @property
    def generation(self) -> bool:
        """A language model's plan: its rate is decoded tokens per second."""
        return self.per_pass is not None

    @property
    def unit(self) -> str:
        return "tokens/s" if self.generation else "frames/s"

    def shown(self, passes_per_s: float) -> float:
        """A rate of passes per second in the budget's unit: tokens/s for a decode step of
        `per_pass` sequences, frames/s for an inference."""
        return passes_per_s * (self.per_pass or 1)

    @property
    def rate(self) -> float:
        """The frame rate the plan must sustain and its power is checked at: `fps` where
        given, else real time (30 frames/s), or the slower rate a latency budget allows (one
        inference after another: a 200 ms budget is 5 frames/s)."""
        if self.fps is not None:
            return self.fps
        if self.latency_s is not None:
            return min(REAL_TIME_FPS, 1 / self.latency_s)
        return REAL_TIME_FPS

    def on(self, platform: Platform) -> Budget:
        """The budget with the platform's power budget where none is given."""
        if self.power_w is not None:
            return self
        return replace(self, power_w=platform.power_budget_w, power_from_platform=True)

    def origin(self, name: str) -> str | None:
        """Where the budget called `name` comes from: "given", the platform's (memory and
        power not given), or None (latency and energy not given: no such budget)."""
        if name == "rate":
            if self.fps is not None:
                return GIVEN
            slower = self.latency_s is not None and 1 / self.latency_s < REAL_TIME_FPS
            return "the latency budget's" if slower else "real time"
        given = {"latency": self.latency_s, "energy": self.energy_j,
                 "memory": self.memory_bytes, "power": self.power_w,
                 "ttft": self.ttft_s}[name]  # fmt: skip
        if name == "memory" and given is None:
            return PLATFORMS
        if name == "power" and (given is None or self.power_from_platform):
            return f"{PLATFORMS} budget"
        return GIVEN if given is not None else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "latency_s": self.latency_s,
            "energy_j": self.energy_j,
            "memory_bytes": self.memory_bytes,
            "power_w": self.power_w,
            "fps": self.rate,
            "per_pass": self.per_pass,
            "ttft_s": self.ttft_s,
            "rate": self.shown(self.rate),
            "unit": self.unit,
            "origin": {
                name: self.origin(name)
                for name in ("latency", "energy", "memory", "power", "rate")
                + (("ttft",) if self.generation else ())
            },
        }


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

    def describe(self, every_value: bool = False) -> str:
        """ "prune-channels (0.56)"; with `every_value`, each parameter value too."""
        label = self.setting.label
        if every_value:
            values = ", ".join(f"{k}={v}" for k, v in self.setting.values)
            label = f"{label}: {values}" if values else label
        return f"{self.setting.technique} ({label})"


@dataclass(frozen=True)
class Point:
    """What the cost model says of one combination: latency and energy per inference,
    average power at the budget's frame rate, and the fit rule's answer."""

    latency_s: float
    energy_j: float
    memory_bytes: int  # `hardware.fits`: weights and peak activations
    fits: bool  # whether they fit where the model lives on the platform
    power_w: float = 0.0  # energy per frame x the frame rate + idle power
    max_fps: float = math.inf  # frames per second back to back
    placements: tuple[Placement, ...] = ()  # what each memory level must hold, and holds
    fit_reason: str = ""
    ttft_s: float | None = None  # a language model's prefill of its prompt, where planned

    @classmethod
    def of(
        cls,
        workload: Workload,
        platform: Platform,
        fps: float = REAL_TIME_FPS,
        prefill: Workload | None = None,
    ) -> Point:
        cost = estimate(workload, platform, fps)
        fit, power = cost.fit, cost.power
        ttft = None if prefill is None else estimate(prefill, platform).totals.latency_s
        return cls(cost.totals.latency_s, cost.totals.energy_j, fit.needed_bytes, fit.fits,
                   power.average_w, power.max_fps, fit.placements, fit.reason,
                   ttft)  # fmt: skip


def _over(ratio: float) -> str:
    return f"{ratio:.3g}x over" if ratio > 1 else f"within ({ratio:.0%})"


def _number(value: float) -> str:
    """Three significant figures, and whole numbers from 1000 up: 0.488, 52.7, 1,000."""
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"


def _capacities(placements: Sequence[Placement]) -> str:
    """ "flash 2.1 MB for weights, data_ram 1.0 MB for activations"."""
    return ", ".join(
        f"{p.level} "
        f"{size_text(p.capacity_bytes) if p.capacity_bytes is not None else '(size not stated)'}"
        f" for {p.holds}"
        for p in placements
    )


@dataclass(frozen=True)
class Check:
    """One budget against one point: its value and where it comes from, and the demand."""

    name: str  # latency, energy, memory, frame rate (decode rate), power, time to first token
    budget: str  # the budget's value in words: "200 ms", "0.488 W at 30 frames/s"
    origin: str  # "given", "the platform's", "the platform's budget"
    demand: str  # the demand in words: "245 ms"
    ratio: float  # the demand over the budget (the worst part of it): above 1 is over
    limit: float | None  # the budget's number in SI units (s, J, bytes, W); None: capacities
    used: float  # the demand's number in the same units
    stated: bool = True  # False: the platform states no capacity, taken as large enough
    verb: str = "needs"  # how the demand reads: "needs 245 ms", "reaches 4.3 frames/s"

    @property
    def met(self) -> bool:
        return self.ratio <= 1

    @property
    def text(self) -> str:
        verdict = _over(self.ratio) if self.stated else "taken as large enough"
        if self.verb == "reaches":  # a rate: frames or tokens per second
            verdict = f"{self.ratio:.3g}x too slow" if self.ratio > 1 else "sustained"
        return f"{self.name} {self.budget} ({self.origin}): {self.verb} {self.demand}, {verdict}"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "budget": self.budget, "origin": self.origin,
                "limit": self.limit, "demand": self.used, "ratio": self.ratio, "met": self.met,
                "text": self.text}  # fmt: skip


def _memory(point: Point, given: float | None) -> Check:
    """Against the number given, or else the platform's capacities; the model must fit the
    platform's memory either way."""
    ratios = [p.needed_bytes / p.capacity_bytes for p in point.placements if p.capacity_bytes]
    fit_ratio = max(ratios, default=0.0 if point.fits else math.inf)
    overflow = [
        f"{p.holds} {size_text(p.needed_bytes)} > {p.level} {size_text(p.capacity_bytes)}"
        for p in point.placements
        if p.capacity_bytes is not None and not p.fits
    ]
    if given is not None:
        demand = size_text(point.memory_bytes)
        if not point.fits:
            demand += f" ({point.memory_bytes / given:.0%}), but {' and '.join(overflow)}"
        ratio = max(point.memory_bytes / given, fit_ratio if not point.fits else 0.0)
        return Check("memory", size_text(given), GIVEN, demand, ratio, given, point.memory_bytes)
    stated = any(p.capacity_bytes is not None for p in point.placements) or not point.fits
    demand = " and ".join(f"{size_text(p.needed_bytes)} of {p.holds}" for p in point.placements)
    return Check("memory", _capacities(point.placements), PLATFORMS,
                 demand or size_text(point.memory_bytes), fit_ratio, None, point.memory_bytes,
                 stated)  # fmt: skip


def checks(point: Point, budget: Budget) -> tuple[Check, ...]:
    """The point against every budget: latency and energy where given, memory always, power
    once the budget is `on` a platform."""
    found = []
    if budget.latency_s is not None:
        found.append(Check("latency", f"{_number(budget.latency_s * 1e3)} ms", GIVEN,
                           f"{_number(point.latency_s * 1e3)} ms",
                           point.latency_s / budget.latency_s, budget.latency_s,
                           point.latency_s))  # fmt: skip
    if budget.energy_j is not None:
        found.append(Check("energy", f"{_number(budget.energy_j * 1e3)} mJ", GIVEN,
                           f"{_number(point.energy_j * 1e3)} mJ",
                           point.energy_j / budget.energy_j, budget.energy_j,
                           point.energy_j))  # fmt: skip
    if budget.ttft_s is not None:
        ttft = math.inf if point.ttft_s is None else point.ttft_s
        found.append(Check("time to first token", f"{_number(budget.ttft_s * 1e3)} ms", GIVEN,
                           f"{_number(ttft * 1e3)} ms", ttft / budget.ttft_s, budget.ttft_s,
                           ttft))  # fmt: skip
    found.append(_memory(point, budget.memory_bytes))
    rate, unit = budget.rate, budget.unit
    shown, reached = budget.shown(rate), budget.shown(point.max_fps)
    found.append(Check("decode rate" if budget.generation else "frame rate",
                       f"{_number(shown)} {unit}", budget.origin("rate") or GIVEN,
                       f"{_number(reached)} {unit}",
                       rate / point.max_fps if point.max_fps else math.inf, shown, reached,
                       verb="reaches"))  # fmt: skip
    if budget.power_w is not None:
        demand = f"{_number(point.power_w)} W"
        origin = budget.origin("power") or GIVEN
        power = f"{_number(budget.power_w)} W at {_number(shown)} {unit}"
        found.append(Check("power", power, origin,
                           demand, point.power_w / budget.power_w, budget.power_w,
                           point.power_w))  # fmt: skip
    return tuple(found)


def meets(point: Point, budget: Budget) -> bool:
    """Within every budget, and the model fits the platform's memory."""
    return point.fits and all(check.met for check in checks(point, budget))


@dataclass(frozen=True)
class Precision:
    """The precision the baseline runs at, where that choice comes from, and what reaching it
    from the model as trained (float32) costs in accuracy, with the source of that number."""

    name: str  # "int8"
    origin: str  # "the platform's deployment precision", "given", "as profiled"
    accuracy_drop_pp: float
    source: str


# A language model's baseline precision: llama.cpp's reference (F16 weights, an f16 KV cache:
# the published increases are over it), and the fp16 activations edgegap's decode estimates
# are validated at (docs/generative.md). Not the platform's deployment precision: at int8 the
# cost model runs every cache type of 8 bits or more at int8, and no KV type would matter.
REFERENCE = "float16"
REFERENCE_ORIGIN = (
    "llama.cpp's reference, F16 weights and an f16 KV cache, with fp16 activations as the "
    "decode estimates are validated"
)


@dataclass(frozen=True)
class Candidate:
    steps: tuple[Step, ...]
    point: Point
    baseline_drop_pp: float = 0.0  # what the baseline's precision costs (`Precision`)

    @property
    def accuracy_drop_pp(self) -> float:
        return self.baseline_drop_pp + sum(step.accuracy_drop_pp for step in self.steps)

    def describe(self, every_value: bool = False) -> str:
        return " -> ".join(step.describe(every_value) for step in self.steps) or "baseline"


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


@cache
def published_perplexity() -> pd.DataFrame:
    path = resources.files("edgegap.techniques") / "data" / "perplexity.csv"
    with path.open(encoding="utf-8") as handle:
        return pd.read_csv(handle, keep_default_na=False, dtype={"setting": str})


# What a language model's plan measures quality by, in words.
PERPLEXITY = "wikitext-2 perplexity increase over F16"


@dataclass(frozen=True)
class PublishedPerplexity:
    """llama.cpp's published perplexity increases over F16 for its weight and KV-cache types
    (techniques/data/perplexity.csv), each measured on a reference model and transferred to
    `model`: not measured for it, as a plan's ImageNet losses for a model without rows are
    transferred from others."""

    model: str
    kind: str = "published, transferred"

    def settings(self, technique: str) -> list[str]:
        table = published_perplexity()
        return sorted(table[table["technique"] == technique]["setting"])

    def drop(self, technique: str, setting: str) -> tuple[float, str] | None:
        table = published_perplexity()
        rows = table[(table["technique"] == technique) & (table["setting"] == setting)]
        if rows.empty:
            return None
        row = rows.iloc[0]
        reference = str(row["reference_model"])
        if not reference:  # the reference itself: nothing transferred
            return float(row["ppl_increase"]), str(row["source"])
        transferred = f"measured on {reference}, transferred to {self.model}: not measured for it"
        return float(row["ppl_increase"]), f"{row['source']} ({transferred})"


def _settings(technique: str, model: str) -> list[str]:
    """The settings published for the model (or for any model, where the technique is exact);
    all settings where the model has none."""
    table = published_accuracy()
    rows = table[table["technique"] == technique]
    own = rows[rows["model"].isin([model, "any"])]
    return sorted(set((own if not own.empty else rows)["setting"].astype(str)))


def option_groups(
    workload: Workload,
    platform: Platform,
    accuracy: Accuracy,
    change: Change = "model",
    generation: bool = False,
) -> list[list[Step | None]]:
    """The choices per group of `EXCLUSIVE` techniques, or per technique otherwise (in a
    language model's plan always: its weights' format and its cache's type are one each),
    among the techniques `change` searches; None is "leave this group out"."""
    groups: dict[str, list[Step | None]] = {}
    for name, wanted in searched(change, generation).items():
        technique = get(name)
        exclusive = technique.group in EXCLUSIVE and not generation
        key = technique.group if exclusive else technique.name
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


def _apply(
    steps: Sequence[Step],
    workload: Workload,
    platform: Platform,
    fps: float = REAL_TIME_FPS,
    prefill: Workload | None = None,
) -> Point | None:
    """The cost of the steps applied in order (to a language model's `prefill` too, where
    one is planned); None when one cannot apply here."""
    try:
        for step in steps:
            if prefill is not None:
                prefill = _prefilled(step, prefill, platform)
            workload, platform = step.apply(workload, platform)
    except NotAvailable:
        return None
    return Point.of(workload, platform, fps, prefill)


def _prefilled(step: Step, prefill: Workload, platform: Platform) -> Workload:
    """The prefill after `step`; a step of the decode step alone leaves it as it is (a KV
    cache type: a prefill reads no cache, and writing its prompt's keys and values is a small
    part of it)."""
    try:
        return step.apply(prefill, platform)[0]
    except NotAvailable:
        return prefill


def _narrower(before: Workload, after: Workload) -> bool:
    """Whether `after` holds every layer's weights and activations in no more bits than
    `before`, and some in fewer: a narrower number format."""
    pairs = list(zip(before.layers, after.layers, strict=False))
    bits = [(b.weight_bits, b.activation_bits, a.weight_bits, a.activation_bits)
            for b, a in pairs]  # fmt: skip
    return all(aw <= bw and aa <= ba for bw, ba, aw, aa in bits) and any(
        aw < bw or aa < ba for bw, ba, aw, aa in bits
    )


def _widest_bits(workload: Workload) -> int:
    """The bits a workload was profiled at: the widest of its weighted layers'."""
    return max((max(layer.weight_bits, layer.activation_bits) for layer in workload.layers
                if layer.weight_elements), default=FP32_BITS)  # fmt: skip


def _bits_name(bits: int) -> str:
    """A float32 model at 32 bits or more, an integer format below."""
    if bits >= FP32_BITS:
        return "fp32"
    return next((n for n, b in BITS.items() if b == bits and n.startswith("int")), f"{bits}-bit")


def precision_loss(precision: str, accuracy: Accuracy) -> tuple[float, str]:
    """What running at `precision` costs a float32 model in accuracy, and the source: for an
    integer format of N bits, the first quantization technique of the registry (int8 for
    8 bits) for which the accuracy source knows W<N>A<N>; where none does, 0 assumed, said."""
    bits = bits_of(precision)
    if bits is None or bits >= FP32_BITS:
        return 0.0, "the model as trained (float32): no quantization"
    if precision.startswith("int"):
        label = f"W{bits}A{bits}"
        for technique in techniques(group="quantization"):
            if label not in accuracy.settings(technique.name):
                continue
            found = accuracy.drop(technique.name, label)
            if found is not None:
                return found[0], f"{technique.name} ({label}): {found[1]}"
    return 0.0, f"no {accuracy.kind} loss for float32 -> {precision}: 0 assumed"


def _beyond(step: Step, base: Precision) -> Step:
    """A narrower format's step, its loss counted beyond the baseline's: both losses are
    measured from float32, so the narrower one replaces the baseline's."""
    if base.accuracy_drop_pp <= 0:
        return step
    extra = max(step.accuracy_drop_pp - base.accuracy_drop_pp, 0.0)
    return Step(
        step.setting,
        extra,
        f"{step.source} ({step.accuracy_drop_pp:.3g} pp from float32, less the baseline's "
        f"{base.accuracy_drop_pp:.3g} pp at {base.name})",
    )


@dataclass(frozen=True)
class Plan:
    model: str
    platform: Platform
    budget: Budget  # `on` the platform: every limit the plan is held to
    precision: Precision
    baseline: Point
    candidates: list[Candidate]
    recipe: Candidate
    contributions: list[dict[str, Any]] = field(default_factory=list)
    accuracy_source: str = "published"
    change: Change = "model"
    failures: tuple[str, ...] = ()  # measurements that failed twice, with their inputs
    phases: tuple[Phase, ...] = ()  # a language model's: the decode step, then any prefill

    @property
    def meets_budget(self) -> bool:
        return meets(self.recipe.point, self.budget)

    @property
    def searched(self) -> list[str]:
        return list(searched(self.change, self.generation))

    def checks(self, point: Point | None = None) -> tuple[Check, ...]:
        """The recipe's point (or `point`) against every budget."""
        return checks(self.recipe.point if point is None else point, self.budget)

    @property
    def unmet(self) -> list[str]:
        """The budgets the recipe misses."""
        return [check.name for check in self.checks() if not check.met]

    @property
    def generation(self) -> bool:
        return self.budget.generation

    @property
    def loss_key(self) -> str:
        """What the quality cost is called in the plan's record."""
        return "ppl_increase" if self.generation else "accuracy_drop_pp"

    @property
    def pareto(self) -> list[Candidate]:
        """The front of quality cost, latency and energy; for a language model, of perplexity
        increase, decode rate (latency a step) and memory."""
        points = np.array([
            [c.accuracy_drop_pp, c.point.latency_s,
             c.point.memory_bytes if self.generation else c.point.energy_j]
            for c in self.candidates
        ])  # fmt: skip
        mask = pareto_mask(points)
        front = [c for c, keep in zip(self.candidates, mask, strict=True) if keep]
        return sorted(front, key=lambda c: (c.point.latency_s, c.accuracy_drop_pp))

    def pareto_rows(self) -> list[tuple[Candidate, str]]:
        """The front with each combination's text, unique: where two would read the same,
        both name every parameter value."""
        front = self.pareto
        texts = [c.describe() for c in front]
        texts = [c.describe(every_value=True) if texts.count(t) > 1 else t
                 for c, t in zip(front, texts, strict=True)]  # fmt: skip
        return list(zip(front, texts, strict=True))

    def interval(self, candidate: Candidate | None = None) -> Interval | None:
        """The latency interval of the baseline, or of `candidate`: the validation rows of the
        target's class (`hardware.intervals`); None for a candidate that changes the chip,
        whose rows those are not, and for a language model's decode step, which they are not
        either (docs/generative.md compares decode rates with published ones)."""
        if self.generation:
            return None
        if candidate is not None and any(
            s.technique.changes == "hardware" for s in candidate.steps
        ):
            return None
        return interval_for(self.platform)

    def gap(self) -> list[str]:
        """The baseline against each budget, in words: the budget, where it is from, the
        demand against it."""
        return [check.text for check in self.checks(self.baseline)]

    def to_dict(self) -> dict[str, Any]:
        loss = self.loss_key

        def point(p: Point) -> dict[str, Any]:
            found = {"latency_s": p.latency_s, "energy_j": p.energy_j,
                     "memory_bytes": p.memory_bytes, "fits": p.fits, "fit_reason": p.fit_reason,
                     "power_w": p.power_w, "max_fps": p.max_fps}  # fmt: skip
            if self.generation:
                found |= {"tokens_per_s": self.budget.shown(p.max_fps), "ttft_s": p.ttft_s}
            return found

        precision = self.precision
        return {
            "model": self.model,
            "platform": self.platform.name,
            "change": self.change,
            "searched": self.searched,
            "quality": PERPLEXITY if self.generation else "ImageNet top-1 accuracy loss, pp",
            "precision": {
                "name": precision.name,
                "origin": precision.origin,
                loss: precision.accuracy_drop_pp,
                "source": precision.source,
            },
            "budget": self.budget.to_dict(),
            "budgets": [check.to_dict() for check in self.checks(self.baseline)],
            "baseline": point(self.baseline)
            | {
                loss: precision.accuracy_drop_pp,
                "interval": interval_record(self.interval(), self.baseline.latency_s),
            },
            "gap": self.gap(),
            "meets_budget": self.meets_budget,
            "recipe": self.contributions,
            "estimate": point(self.recipe.point)
            | {
                loss: self.recipe.accuracy_drop_pp,
                "accuracy_source": self.accuracy_source,
                "interval": interval_record(
                    self.interval(self.recipe), self.recipe.point.latency_s
                ),
                "budgets": [check.to_dict() for check in self.checks()],
                "unmet": self.unmet,
            },
            "pareto": [
                point(c.point) | {"recipe": text, loss: c.accuracy_drop_pp}
                for c, text in self.pareto_rows()
            ],
            "candidates_evaluated": len(self.candidates),
        } | ({"failed_measurements": list(self.failures)} if self.failures else {}) | (
            {"phases": [asdict(phase) for phase in self.phases]} if self.phases else {}
        )  # fmt: skip


def choose(
    candidates: Sequence[Candidate], budget: Budget, max_accuracy_drop_pp: float | None = None
) -> Candidate:
    """The recipe: among the candidates within the accuracy limit, the one that meets every
    budget with the least accuracy loss (then the fewest changes, then the least energy; for
    a language model, whose memory is the tight budget, the fewest bytes, then the least
    energy); when none meets them, the one that fits memory and comes closest to the budgets
    (its worst demand over budget, then the fewest budgets missed; a model that does not fit
    ranks after every one that does)."""
    allowed = [
        c for c in candidates
        if max_accuracy_drop_pp is None or c.accuracy_drop_pp <= max_accuracy_drop_pp
    ]  # fmt: skip
    if not allowed:
        limit = (f"raises perplexity by at most {max_accuracy_drop_pp}" if budget.generation
                 else f"loses at most {max_accuracy_drop_pp} pp")  # fmt: skip
        raise UserError(f"no combination {limit}: raise it")
    meeting = [c for c in allowed if meets(c.point, budget)]

    def least(c: Candidate) -> tuple[float, float, float]:
        fewer = c.point.memory_bytes if budget.generation else len(c.steps)
        return c.accuracy_drop_pp, fewer, c.point.energy_j

    if meeting:
        return min(meeting, key=least)

    def distance(c: Candidate) -> tuple[bool, float, int, float]:
        found = checks(c.point, budget)
        worst = max((check.ratio for check in found), default=0.0)
        missed = sum(not check.met for check in found)
        return not c.point.fits, worst, missed, c.accuracy_drop_pp

    return min(allowed, key=distance)


def plan(
    model: str,
    workload: Workload,
    platform: Platform,
    budget: Budget,
    max_accuracy_drop_pp: float | None = None,
    accuracy: Accuracy | None = None,
    change: Change = "model",
    precision: str | None = None,
    prefill: Workload | None = None,
) -> Plan:
    """Every combination of one option per technique `change` searches, evaluated by the cost
    model (combinations that reach the same cost are kept once, with the least loss, then the
    fewest steps); the recipe is `choose`'s against the budget `on` the platform.

    `workload` is the baseline; `precision` names the precision it was profiled at where the
    user chose it (`--dtype`), else it is read off the workload (the platform's deployment
    precision when it is that). A language model's plan (`budget.generation`) takes one
    decode step as `workload`, and the `prefill` of its prompt where a time-to-first-token
    budget is given."""
    generation = budget.generation
    source = accuracy or (PublishedPerplexity(model) if generation else PublishedAccuracy(model))
    searched(change, generation)  # an unknown change is a user error
    if budget.ttft_s is not None and prefill is None:
        raise UserError("a time-to-first-token budget needs the prefill of the prompt")
    budget = budget.on(platform)
    if generation:
        if precision not in (None, REFERENCE) or _widest_bits(workload) != bits_of(REFERENCE):
            raise UserError(f"a language model's plan takes its decode step at {REFERENCE}: "
                            f"{REFERENCE_ORIGIN}")  # fmt: skip
        base = Precision(REFERENCE, REFERENCE_ORIGIN, 0.0, "the reference of the increases")
    else:
        if precision is not None:
            origin = GIVEN
        else:
            deployed, widest = deployment_precision(platform), _widest_bits(workload)
            if widest == BITS[deployed]:
                precision, origin = deployed, "the platform's deployment precision"
            else:
                precision, origin = _bits_name(widest), "as profiled"
        base = Precision(precision, origin, *precision_loss(precision, source))
    fps = budget.rate
    baseline = Point.of(workload, platform, fps, prefill)

    def useful(step: Step) -> bool:
        """It applies and changes the cost; a number format only if narrower than the
        baseline's (int8 on a 16-bit chip changes nothing alone, int8 on int8 neither). A
        language model's formats are all candidates: their increases are over F16, not over
        the baseline."""
        if _apply((step,), workload, platform, fps, prefill) in (None, baseline):
            return False
        if step.technique.group != "quantization" or generation:
            return True
        return _narrower(workload, step.apply(workload, platform)[0])

    groups = [
        [None, *(_beyond(s, base) if s.technique.group == "quantization" else s
                 for s in group if s is not None and useful(s))]
        for group in option_groups(workload, platform, source, change, generation)
    ]  # fmt: skip
    best: dict[Point, Candidate] = {}
    for choice in itertools.product(*groups):
        steps = tuple(step for step in choice if step is not None)
        point = _apply(steps, workload, platform, fps, prefill)
        if point is None:
            continue
        candidate = Candidate(steps, point, base.accuracy_drop_pp)
        known = best.get(point)
        rank = (candidate.accuracy_drop_pp, len(steps))
        if known is None or rank < (known.accuracy_drop_pp, len(known.steps)):
            best[point] = candidate  # the same cost for less loss or fewer steps
    candidates = list(best.values())
    recipe = choose(candidates, budget, max_accuracy_drop_pp)
    contributions = []
    previous = baseline
    for index, step in enumerate(recipe.steps):
        point = _apply(recipe.steps[: index + 1], workload, platform, fps, prefill)
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
                    "ppl_increase" if generation else "accuracy_drop_pp": step.accuracy_drop_pp,
                },
                "source": step.source,
            }
        )
        previous = point
    return Plan(model, platform, budget, base, baseline, candidates, recipe, contributions,
                source.kind, change)  # fmt: skip


def plan_for(
    model: str,
    platform: Platform,
    budget: Budget,
    max_accuracy_drop_pp: float | None = None,
    dataset: str | None = None,
    progress: Callable[[str], None] | None = None,
    change: Change = "model",
    dtype: str | None = None,
    workers: Workers | None = None,
    context: int = 0,
    prompt_tokens: int = PROMPT_TOKENS,
) -> Plan:
    """`edgegap plan`: the model profiled (by name, builder or file) at `dtype`, or else the
    platform's deployment precision, its losses published or, with `dataset`, measured on it
    for a built-in small model (every candidate setting a task of `edgegap.runner`, run on
    `workers`), then `plan` over what `change` allows. A language model's plan
    (`budget.generation`) profiles one decode step after `context` tokens, and the prefill
    of `prompt_tokens` where the budget holds a time to the first token."""
    searched(change, budget.generation)  # an unknown change fails before any profiling
    if budget.generation and dtype is not None:
        raise UserError(f"--dtype: a language model's plan runs at {REFERENCE}, "
                        f"{REFERENCE_ORIGIN}")  # fmt: skip
    precision = REFERENCE if budget.generation else dtype or deployment_precision(platform)
    accuracy: Accuracy | None = None
    failures: tuple[str, ...] = ()
    prefill = None
    phases: tuple[Phase, ...] = ()
    if budget.generation:
        if dataset is not None:
            raise UserError("--dataset measures an image model's losses: a language model's "
                            "perplexity increases are published")  # fmt: skip
        batch = budget.per_pass or 1
        phases = (Phase("decode", context=context, batch=batch),)
        if budget.ttft_s is not None:
            phases += (Phase("prefill", tokens=prompt_tokens, batch=batch),)
        workload = profile(model, dtype=precision, phase=phases[0])
        if len(phases) > 1:
            prefill = profile(model, dtype=precision, phase=phases[1])
    elif dataset is None:
        workload = profile(model, dtype=precision)
    else:
        from edgegap.plan.measure import MeasuredAccuracy
        from edgegap.training import resolve_dataset, seeded_model

        data = resolve_dataset(dataset)
        network = seeded_model(model, data)
        if progress is not None:
            progress(f"training {model} on {data.name}")
        measured = MeasuredAccuracy(network, data, name=model)
        pairs = [(name, label) for name in searched(change) for label in measured.settings(name)]

        def measuring(done: int, total: int) -> None:
            if progress is not None:
                progress(f"measured {done} of {total} settings on {data.name}")

        failed = measured.measure(pairs, workers, measuring)
        failures = tuple(outcome.describe() for outcome in failed)
        accuracy = measured
        workload = profile(network, (1, *data.sample_shape), precision, name=model)
    if progress is not None:
        progress("searching combinations of techniques")
    found = plan(model, workload, platform, budget, max_accuracy_drop_pp, accuracy, change, dtype,
                 prefill)  # fmt: skip
    return replace(found, failures=failures, phases=phases)
