"""The paper's analysis, recomputed from the data: demand and supply trends, and the gap.

Demand (Figs 1, 2, 3a, 4a): parameters and operations of DNNs against the year and against
ImageNet top-5 error. Supply (Figs 3b, 4b): performance density of chips and energy per bit
of memories against the year. Each gap has one definition, used by its growth rate and its
projection alike: performance gap = operations per image of the leading designs x frame rate
/ (performance density x chip area); energy gap = parameters of the leading designs x weight
bits x DRAM energy per bit / (power / frame rate). Until supply stops improving (the stated
end of CMOS scaling) a gap grows by the ratio of its fits' factors per year; after it, by
demand's factor alone. A gap resting on a fit that is not significant says so beside it.

Generative models (the 2026 form of Fig. 4): parameters of the leading open language models
against the DRAM capacity and the bandwidth of the leading edge devices; the memory gap is the
leading model's weights at `GENERATIVE_WEIGHTS` over the largest edge DRAM, and a decode step,
which reads every weight once, runs at most at bandwidth / weight bytes tokens per second.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from edgegap.precision import BITS, OPS_PER_MAC
from edgegap.trends import data
from edgegap.trends.fits import (
    LEVEL,
    MIN_N,
    NO_TREND,
    Fit,
    Rate,
    aligned_bootstraps,
    combined_rate,
    fit_exponential,
)

# The outlook (brain distance, Fig. 5) weights a chip's peak by its bit-width relative to 16
# bits, so an int8 TOPS counts half a 16-bit TOPS; the density trends do not (`CONVENTIONS`).
REFERENCE_BITS = 16
# Human top-5 error on ImageNet: 5.1%, the better of two trained annotators (Russakovsky et
# al., "ImageNet Large Scale Visual Recognition Challenge", IJCV 115(3) 2015, Section 6.4).
# Machines passed it in 2015, so it is a reference line in Fig. 2, not a floor. The floor of
# an error projection is the lowest error the leading designs have reached (`error_floor`):
# below it the fit would run past every data point, and at least 6% of the ImageNet
# validation labels are themselves wrong (Northcutt, Athalye & Mueller, "Pervasive Label
# Errors in Test Sets Destabilize Machine Learning Benchmarks", NeurIPS Datasets and
# Benchmarks 2021), so a point or two of error below it is not measurable on that set.
HUMAN_TOP5_ERROR_PCT = 5.1
HUMAN_TOP5_ERROR_SOURCE = (
    "Russakovsky et al., 'ImageNet Large Scale Visual Recognition Challenge', IJCV 115(3) "
    "2015, Section 6.4 (trained annotator A: 5.1% top-5 error)"
)
# "Leading designs" (the paper's Figs 2, 3a, 4a): ImageNet classifiers that beat every earlier
# year's best top-5 error under one protocol. The main series is the paper's own: results on
# the ILSVRC test set as submitted, ensembles included (AlexNet's 16.4%, VGG-19's 7.32%,
# Inception-v4's 3.08%); a model's size is then one member's. Single models on the validation
# set are a second series, never mixed into the first.
LEADING_PROTOCOL = "ilsvrc-test"
SECOND_PROTOCOL = "single-val"
PROTOCOLS = {
    "ilsvrc-test": "ILSVRC test set as submitted (ensembles allowed; size of one member)",
    "single-val": "single model on the validation set",
}
# The paper: DRAM energy per bit improved 2012-2015 and not after; tested piecewise here.
PLATEAU_YEAR = 2015
# Weights of an open model at the edge are int4 (llama.cpp's Q4 files, 4.5-4.9 bits with their
# scales, are the common way to run one): the memory gap counts 4 bits a parameter, a floor.
GENERATIVE_WEIGHTS = "int4"


@dataclass(frozen=True)
class Convention:
    """How one hardware trend counts a chip's peak: one precision, one clock."""

    kind: str
    precision: str
    clock: str
    ops_column: str

    def describe(self) -> str:
        clock = "" if self.clock == "published" else f" at {self.clock} clock"
        return f"{self.precision} peak{clock}"


CONVENTIONS = {
    # fp32 is the one precision every GPU in the table runs at full rate (tensor-core fp16
    # arrives with V100), and boost is the clock NVIDIA's peak figures state.
    "gpu": Convention("gpu", "fp32", "boost", "fp32_boost_ops"),
    "asic": Convention("asic", "native", "published", "peak_ops"),
    "fpga": Convention("fpga", "native", "published", "peak_ops"),
    "npu": Convention("npu", "native", "published", "peak_ops"),
}


@dataclass(frozen=True)
class Budget:
    """An edge deployment: chip area, power, frame rate and weight precision."""

    area_mm2: float = 10.0
    power_w: float = 1.0
    fps: float = 30.0
    weight_bits: int = 8


@dataclass(frozen=True)
class Assumptions:
    """CMOS scaling: the paper expects density gains to stop when scaling ends around 5 nm.

    `scaling_ends` is the last year performance density and memory energy improve (5 nm-class
    nodes reached volume production in 2020 and 3 nm in 2022-23); None lets the fitted trends
    run on. The supply follows one kind's density trend: GPUs by default, the one continuous
    series of leading chips (ASICs published for low power scatter by design, as the paper
    notes).
    """

    scaling_ends: int | None = 2025
    until: int = 2030
    density_kind: str = "gpu"  # the platform kind whose density trend is the supply


@dataclass(frozen=True)
class Trends:
    fits: dict[str, Fit]
    unfitted: dict[str, str]  # fit name -> why it could not be fitted
    gaps: dict[str, Any]
    paper_checks: list[dict[str, Any]]
    tables: dict[str, pd.DataFrame] = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "fits": {name: fit.to_dict() for name, fit in self.fits.items()},
            "unfitted": self.unfitted,
            "gaps": self.gaps,
            "paper_checks": self.paper_checks,
            "conventions": {
                kind: {"precision": c.precision, "clock": c.clock, "column": c.ops_column}
                for kind, c in CONVENTIONS.items()
            },
            "leading_designs": {
                "protocol": LEADING_PROTOCOL,
                "second_series": SECOND_PROTOCOL,
                "protocols": PROTOCOLS,
                "rule": "ImageNet classifiers that beat every earlier year's best top-5 "
                "error, under one protocol at a time",
            },
            "significance": {
                "min_n": MIN_N,
                "level": LEVEL,
                "rule": "a fit is significant when it has at least min_n points and both its "
                "95% t interval and its 95% seeded-bootstrap interval of the slope exclude 0 "
                "(no change); a gap when its own intervals exclude no change and every fit "
                "it rests on is significant",
            },
        }


def models_table() -> pd.DataFrame:
    models = data.load("dnn_models")
    models["ops"] = OPS_PER_MAC * models["macs"].astype("Float64")  # the paper's operations
    # Demand against accuracy is fitted on log error: a power law keeps growing as the error
    # halves, where a line in the error itself would flatten as it nears zero.
    models["log10_top5_error_pct"] = np.log10(models["top5_error_pct"].astype("Float64"))
    return models


def record_setters(frame: pd.DataFrame, column: str, lower_is_better: bool = False) -> pd.DataFrame:
    """The rows that beat every earlier year's best `column` (the leading designs, models,
    devices of their day); rows of one year do not compete with each other."""
    ranked = frame[frame[column].notna()].sort_values("year", kind="stable")
    values = ranked[column].astype(float)
    by_year = values.groupby(ranked["year"])
    if lower_is_better:
        best_before = by_year.min().cummin().shift(fill_value=np.inf)
        return ranked[values < ranked["year"].map(best_before)]
    best_before = by_year.max().cummax().shift(fill_value=-np.inf)
    return ranked[values > ranked["year"].map(best_before)]


def frontier(models: pd.DataFrame, protocol: str = LEADING_PROTOCOL) -> pd.DataFrame:
    """The leading designs under one protocol: ImageNet classifiers that beat every earlier
    year's best top-5 error."""
    tested = models[models["imagenet"] & (models["protocol"] == protocol)]
    return record_setters(tested, "top5_error_pct", lower_is_better=True)


def error_floor(models: pd.DataFrame) -> float:
    """The lowest top-5 error (%) of the leading designs: no error projection goes below it."""
    return float(frontier(models)["top5_error_pct"].astype(float).min())


def platforms_table() -> pd.DataFrame:
    """Chips with their density under their kind's convention (`perf_density_gops_mm2`) and
    under the alternatives the sensitivity fits use: best dense precision weighted to 16 bits
    (`perf_density_16b_gops_mm2`) and, for GPUs, fp32 at base clock."""
    chips = data.load("platforms")
    bits = chips["peak_precision"].map(BITS).astype("Float64")
    chips["gops_16b"] = chips["peak_ops"] / 1e9 * bits / REFERENCE_BITS
    trend_ops = pd.Series(pd.NA, index=chips.index, dtype="Float64")
    for kind, convention in CONVENTIONS.items():
        rows = chips["kind"] == kind
        trend_ops[rows] = chips.loc[rows, convention.ops_column]
    chips["trend_gops"] = trend_ops / 1e9
    chips["perf_density_gops_mm2"] = chips["trend_gops"] / chips["die_area_mm2"]
    chips["perf_density_16b_gops_mm2"] = chips["gops_16b"] / chips["die_area_mm2"]
    chips["perf_density_base_gops_mm2"] = chips["fp32_base_ops"] / 1e9 / chips["die_area_mm2"]
    chips["efficiency_gops_w"] = chips["gops_16b"] / chips["power_w"]
    return chips


def open_llms_table() -> pd.DataFrame:
    """Open language models with their weight bytes at `GENERATIVE_WEIGHTS`, held and (for a
    mixture of experts) read per token."""
    llms = data.load("open_llms")
    per_param = BITS[GENERATIVE_WEIGHTS] / 8
    llms["weight_bytes"] = llms["params"].astype("Float64") * per_param
    llms["active_weight_bytes"] = llms["active_params"].astype("Float64") * per_param
    return llms


def edge_memory_table() -> pd.DataFrame:
    """Edge devices with their DRAM in bytes and bandwidth in bytes/s: on one axis with weight
    bytes, the distance to the DRAM is the memory gap, to the bandwidth the seconds a token."""
    edge = data.load("edge_memory")
    edge["dram_bytes"] = edge["dram_gb"] * 1e9
    edge["bandwidth_bytes_s"] = edge["bandwidth_gb_s"] * 1e9
    return edge


def memory_products(memories: pd.DataFrame) -> pd.DataFrame:
    """The off-chip DRAM products: proposals and generic estimates are drawn, never fitted."""
    return memories[(memories["type"] != "sram") & (memories["status"] == "product")]


def _fit(name: str, frame: pd.DataFrame, x: str, y: str) -> Fit | str:
    """The fit, or why there is none."""
    rows = frame[[x, y]].dropna()
    if len(rows) < 3 or rows[x].nunique() < 2:
        names = ", ".join(frame.loc[rows.index, "name"].astype(str)) or "none"
        return f"{len(rows)} point(s) at {rows[x].nunique()} distinct {x} ({names}): too few"
    values = rows.astype(float)
    return fit_exponential(name, values[x].to_numpy(), values[y].to_numpy(), x, y)


def fit_specs(
    models: pd.DataFrame,
    chips: pd.DataFrame,
    memories: pd.DataFrame,
    llms: pd.DataFrame,
    edge: pd.DataFrame,
) -> list[tuple[str, pd.DataFrame, str, str]]:
    """Every fit: name, rows, x, y."""
    leaders = frontier(models)
    singles = frontier(models, SECOND_PROTOCOL)
    gpus = chips[chips["kind"] == "gpu"]
    both_clocks = gpus[gpus["perf_density_base_gops_mm2"].notna()]
    products = memory_products(memories)
    error = "log10_top5_error_pct"
    specs = [
        ("params_vs_year", models[~models["imagenet"]], "year", "params"),
        ("params_vs_year.imagenet", models[models["imagenet"]], "year", "params"),
        ("top5_vs_year", leaders, "year", "top5_error_pct"),
        ("top5_vs_year.single_model", singles, "year", "top5_error_pct"),
        ("ops_vs_year", leaders, "year", "ops"),
        ("params_vs_year.leaders", leaders, "year", "params"),
        ("ops_vs_top5", leaders, error, "ops"),
        ("params_vs_top5", leaders, error, "params"),
        ("ops_vs_top5.single_model", singles, error, "ops"),
        ("params_vs_top5.single_model", singles, error, "params"),
    ]
    for kind in sorted(chips["kind"].dropna().unique()):
        specs.append(
            (f"perf_density_vs_year.{kind}", chips[chips["kind"] == kind], "year",
             "perf_density_gops_mm2")
        )  # fmt: skip
    density = "perf_density_gops_mm2"
    specs += [
        ("perf_density_vs_year.gpu.paper_window", gpus[gpus["year"] <= 2017], "year", density),
        ("perf_density_vs_year.gpu.best_precision", gpus, "year", "perf_density_16b_gops_mm2"),
        ("perf_density_vs_year.gpu.boost_clock_subset", both_clocks, "year", density),
        ("perf_density_vs_year.gpu.base_clock_subset", both_clocks, "year",
         "perf_density_base_gops_mm2"),
        ("perf_density_vs_year.asic.16b_equivalent", chips[chips["kind"] == "asic"], "year",
         "perf_density_16b_gops_mm2"),
        ("memory_energy_vs_year", products, "year", "energy_pj_per_bit"),
        (f"memory_energy_vs_year.to_{PLATEAU_YEAR}", products[products["year"] <= PLATEAU_YEAR],
         "year", "energy_pj_per_bit"),
        (f"memory_energy_vs_year.from_{PLATEAU_YEAR}",
         products[products["year"] >= PLATEAU_YEAR], "year", "energy_pj_per_bit"),
        ("open_llm_weight_bytes_vs_year.leaders", record_setters(llms, "weight_bytes"), "year",
         "weight_bytes"),
        ("edge_dram_vs_year.leaders", record_setters(edge, "dram_bytes"), "year", "dram_bytes"),
        ("edge_bandwidth_vs_year.leaders", record_setters(edge, "bandwidth_bytes_s"), "year",
         "bandwidth_bytes_s"),
    ]  # fmt: skip
    return specs


def fit_all(
    models: pd.DataFrame,
    chips: pd.DataFrame,
    memories: pd.DataFrame,
    llms: pd.DataFrame,
    edge: pd.DataFrame,
) -> tuple[dict[str, Fit], dict[str, str]]:
    """Every fit that the data allow, and for the rest why not."""
    results = {name: _fit(name, frame, x, y) for name, frame, x, y in fit_specs(
        models, chips, memories, llms, edge
    )}  # fmt: skip
    fits = {name: r for name, r in results.items() if isinstance(r, Fit)}
    return fits, {name: r for name, r in results.items() if isinstance(r, str)}


def _capped(year: npt.NDArray[np.int64], assumptions: Assumptions) -> npt.NDArray[np.int64]:
    if assumptions.scaling_ends is None:
        return year
    return np.asarray(np.minimum(year, assumptions.scaling_ends))


@dataclass(frozen=True)
class Gap:
    """One gap, defined once: a demand fit times a supply fit to the power `supply_power`
    (-1 for density, which divides demand; +1 for energy per bit, which multiplies it),
    times the budget's constant, with supply frozen after the end of scaling."""

    name: str
    what: str
    demand: Fit
    supply: Fit
    supply_power: int
    scale: float  # the budget's constant factor

    @property
    def terms(self) -> tuple[tuple[Fit, int], ...]:
        return ((self.demand, 1), (self.supply, self.supply_power))

    def series(
        self, years: npt.NDArray[np.int64], assumptions: Assumptions
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """The gap per year and its 95% band (paired bootstraps of both fits)."""
        at = (years.astype(float), _capped(years, assumptions).astype(float))
        log_gap = sum(
            sign * (fit.intercept + fit.slope * x)
            for (fit, sign), x in zip(self.terms, at, strict=True)
        )
        boots = aligned_bootstraps([self.demand, self.supply])
        lines = sum(
            sign * (intercepts[:, None] + slopes[:, None] * x[None, :])
            for (slopes, intercepts), (_, sign), x in zip(boots, self.terms, at, strict=True)
        )
        tail = 100 * (1 - LEVEL) / 2
        low, high = np.percentile(np.asarray(lines), [tail, 100 - tail], axis=0)
        offset = math.log10(self.scale)
        return 10 ** (np.asarray(log_gap) + offset), 10 ** (low + offset), 10 ** (high + offset)

    @property
    def rate(self) -> Rate:
        """Growth per year while supply still improves."""
        return combined_rate(self.terms)

    @property
    def demand_rate(self) -> Rate:
        """Growth per year after supply stops improving: demand's alone."""
        return self.demand.rate


def gaps_of(fits: dict[str, Fit], budget: Budget, assumptions: Assumptions) -> list[Gap]:
    density = fits[f"perf_density_vs_year.{assumptions.density_kind}"]
    energy_budget_j = budget.power_w / budget.fps
    return [
        Gap(
            "performance_gap",
            "performance gap (operations per image x frame rate / (density x area))",
            fits["ops_vs_year"],
            density,
            -1,
            budget.fps / (1e9 * budget.area_mm2),  # density is in GOPS/mm²
        ),
        Gap(
            "energy_gap",
            "energy gap (parameters x weight bits x DRAM energy per bit / energy per frame)",
            fits["params_vs_year.leaders"],
            fits["memory_energy_vs_year"],
            1,
            budget.weight_bits * 1e-12 / energy_budget_j,  # energy per bit is in pJ
        ),
    ]


def _evidence(rate: Rate, fits: dict[str, Fit]) -> str:
    """The clause that says whether a rate is established, and on what it rests."""
    if rate.significant:
        return "significant"
    weak = [f"{name} (n={fits[name].n}, p={fits[name].p_value:.2g})" for name in rate.weak_fits]
    if weak:
        return f"{NO_TREND}: it rests on {', '.join(weak)}, not significant"
    return f"{NO_TREND}: its interval includes no change (p={rate.p_value:.2g})"


def describe_rate(what: str, rate: Rate, fits: dict[str, Fit]) -> str:
    low, high = rate.factor_interval(rate.t_ci95)
    boot_low, boot_high = rate.factor_interval(rate.boot_ci95)
    return (
        f"{what}: x{rate.factor:.3g} per year (95% t interval {low:.3g}-{high:.3g}, bootstrap "
        f"{boot_low:.3g}-{boot_high:.3g}); {_evidence(rate, fits)}"
    )


def growth_rates(fits: dict[str, Fit], gaps: list[Gap], assumptions: Assumptions) -> dict[str, Any]:
    """Demand, supply and each gap per year, every rate with both intervals, p, the fits it
    rests on, whether it is established, and a sentence that says so."""
    density = fits[f"perf_density_vs_year.{assumptions.density_kind}"]
    memory = fits["memory_energy_vs_year"]
    rates = {
        "ops_growth_per_year": ("operations per image of the leading designs",
                                fits["ops_vs_year"].rate),
        "params_growth_per_year": ("parameters of the leading designs",
                                   fits["params_vs_year.leaders"].rate),
        "largest_params_growth_per_year": ("parameters of the largest networks",
                                           fits["params_vs_year"].rate),
        "perf_density_growth_per_year": (f"{assumptions.density_kind.upper()} performance "
                                         "density", density.rate),
        "memory_energy_per_bit_per_year": ("DRAM energy per bit", memory.rate),
    }  # fmt: skip
    for gap in gaps:
        rates[f"{gap.name}_growth_per_year"] = (gap.what, gap.rate)
    return {
        name: rate.to_dict() | {"what": what, "statement": describe_rate(what, rate, fits)}
        for name, (what, rate) in rates.items()
    }


def gap_projection(
    fits: dict[str, Fit],
    gaps: list[Gap],
    assumptions: Assumptions,
    floor_pct: float,
    models: pd.DataFrame,
    start: int = 2012,
) -> dict[str, Any]:
    """Each gap per year from `start` to `until`, by the same definition as its growth rate:
    before `scaling_ends` it grows by the growth section's factor, after it by demand's alone.
    Bands: 95% paired bootstraps of the gap's fits. The projected top-5 error (Fig. 2's
    trend) stops at `floor_pct`, the lowest error reached, so it stays above zero."""
    years = np.arange(start, assumptions.until + 1)
    error = np.maximum(fits["top5_vs_year"].predict(years), floor_pct)
    demand_until = int(frontier(models)["year"].max())
    record: dict[str, Any] = {
        "assumptions": {
            "scaling_ends": assumptions.scaling_ends,
            "until": assumptions.until,
            "density_kind": assumptions.density_kind,
            "density_fit": f"perf_density_vs_year.{assumptions.density_kind}",
            "density_convention": CONVENTIONS[assumptions.density_kind].describe(),
            "top5_error_floor_pct": floor_pct,
            "demand_data_until": demand_until,
            "note": "supply (performance density, memory energy per bit) stops improving after "
            "scaling_ends, when the paper expects CMOS scaling to end (around 5 nm); demand "
            "follows its year fits past its last data point (demand_data_until), an "
            "extrapolation; the projected top-5 error stops at top5_error_floor_pct",
        },
        "years": years.tolist(),
        "top5_error_pct": error.tolist(),
    }
    for gap in gaps:
        line, low, high = gap.series(years, assumptions)
        over = np.flatnonzero(line > 1)
        rate, after = gap.rate, gap.demand_rate
        weak = sorted({*rate.weak_fits, *after.weak_fits})
        first = int(years[over[0]]) if len(over) else None
        record[gap.name] = {
            "ratio": line.tolist(),
            "band95": [low.tolist(), high.tolist()],
            "growth_per_year_until_scaling_ends": rate.factor,
            "growth_per_year_after_scaling_ends": after.factor,
            "exceeds_budget_from": first,
            "weak_fits": weak,
            "significant": rate.significant and after.significant,
            "statement": _projection_statement(gap, line, years, first, weak, assumptions),
        }
    return record


def _projection_statement(
    gap: Gap,
    line: npt.NDArray[np.float64],
    years: npt.NDArray[np.int64],
    first: int | None,
    weak: list[str],
    assumptions: Assumptions,
) -> str:
    ends = assumptions.scaling_ends
    where = f"{line[0]:.2g}x the budget in {years[0]} and {line[-1]:.2g}x in {years[-1]}"
    crossing = f", over budget from {first}" if first is not None else ", never over budget"
    scaling = f" (supply frozen after {ends})" if ends is not None else ""
    verdict = (
        f"; not established: it rests on {', '.join(weak)}, not significant"
        if weak
        else "; every fit it rests on is significant"
    )
    return f"The {gap.name.replace('_', ' ')} is {where}{crossing}{scaling}{verdict}."


def memory_plateau(fits: dict[str, Fit], unfitted: dict[str, str]) -> dict[str, Any]:
    """The paper's "no improvement after 2015", tested piecewise: the product fit to 2015 and
    from 2015, each a rate or the reason there is none."""
    sides = {side: f"memory_energy_vs_year.{side}" for side in (
        f"to_{PLATEAU_YEAR}", f"from_{PLATEAU_YEAR}"
    )}  # fmt: skip
    record: dict[str, Any] = {"break_year": PLATEAU_YEAR}
    for side, name in sides.items():
        if name in fits:
            record[side] = describe_rate(name, fits[name].rate, fits)
        else:
            record[side] = f"{name}: not fitted, {unfitted[name]}"
    record["testable"] = all(name in fits for name in sides.values())
    return record


def sensitivity(fits: dict[str, Fit]) -> dict[str, str]:
    """Each hardware trend beside the same trend under the other convention."""
    pairs = {
        "gpu_precision": ("perf_density_vs_year.gpu", "perf_density_vs_year.gpu.best_precision"),
        "gpu_clock": (
            "perf_density_vs_year.gpu.boost_clock_subset",
            "perf_density_vs_year.gpu.base_clock_subset",
        ),
        "gpu_paper_window": ("perf_density_vs_year.gpu", "perf_density_vs_year.gpu.paper_window"),
        "asic_weighting": ("perf_density_vs_year.asic", "perf_density_vs_year.asic.16b_equivalent"),
    }
    return {
        key: "; ".join(describe_rate(name, fits[name].rate, fits) for name in names)
        for key, names in pairs.items()
        if all(name in fits for name in names)
    }


def brain_distance(chips: pd.DataFrame) -> dict[str, Any]:
    """Orders of magnitude between the most energy-efficient chip and the brain, counting a
    synaptic event as one operation (the paper's outlook: more than five). The brain's
    events per joule span the published range of synapse counts (brain.csv)."""
    brain = data.load("brain").set_index("quantity")["value"].astype(float)
    events = (brain["synaptic_events_per_joule_low"], brain["synaptic_events_per_joule_high"])
    efficiency = chips["efficiency_gops_w"].astype(float).fillna(0.0)
    best = int(efficiency.to_numpy().argmax())
    ops_per_joule = float(efficiency.iloc[best]) * 1e9
    return {
        "brain_events_per_joule": [float(e) for e in events],
        "truenorth_events_per_joule": float(brain["truenorth_synaptic_events_per_joule"]),
        "best_chip": str(chips["name"].iloc[best]),
        "best_chip_ops_per_joule_16b": ops_per_joule,
        "orders_of_magnitude": [math.log10(e / ops_per_joule) for e in events],
        "paper_orders_of_magnitude": float(brain["paper_brain_efficiency_gap"]),
    }


def _density_ratio(
    gpus: pd.DataFrame, numerator: pd.Series, denominator: pd.Series
) -> tuple[float | None, list[str]]:
    """Median density of one set of GPUs over another's, and the GPUs used."""
    top, bottom = gpus[numerator], gpus[denominator]
    if top.empty or bottom.empty:
        return None, []
    density = "perf_density_gops_mm2"
    ratio = float(top[density].astype(float).median() / bottom[density].astype(float).median())
    return ratio, [str(n) for n in pd.concat([bottom, top])["name"]]


def paper_checks(
    models: pd.DataFrame, chips: pd.DataFrame, fits: dict[str, Fit]
) -> list[dict[str, Any]]:
    """The paper's stated numbers beside ours, with the points each rests on. Agreement is
    judged by the tests, which hold the tolerances; here only the numbers."""
    by_name = models.set_index("name")

    def ops_of(name: str) -> float:
        return float(by_name["ops"].astype(float)[name]) / 1e9

    gpus = chips[chips["kind"] == "gpu"].dropna(subset=["perf_density_gops_mm2"])
    year = gpus["year"]
    early = year.between(2011, 2014)
    flat = gpus[early]["perf_density_gops_mm2"].astype(float)
    in_2015, names_2015 = _density_ratio(gpus, year == 2015, early)
    in_2016, names_2016 = _density_ratio(gpus, year == 2016, early)
    nodes = {int(y): sorted({f"{n:g} nm" for n in gpus[year == y]["process_nm"]}) for y in
             (2015, 2016)}  # fmt: skip
    brain = brain_distance(chips)
    checks: list[tuple[str, float, float | None, list[str]]] = [
        ("AlexNet operations per image (G)", 1.4, ops_of("AlexNet"), ["AlexNet"]),
        ("VGG-19 operations per image (G)", 38.0, ops_of("VGG-19"), ["VGG-19"]),
        (
            "top-5 error of the leading designs falls about 30% per year (factor per year)",
            0.70,
            fits["top5_vs_year"].rate.factor,
            [str(n) for n in frontier(models)["name"]],
        ),
        (
            "GPU performance density flat 2011-14 (max over min, fp32 at boost clock)",
            1.0,
            float(flat.max() / flat.min()) if len(flat) >= 2 else None,
            [str(n) for n in gpus[early]["name"]],
        ),
        (
            "GPU performance density about 2x when technology moved to 20 nm in 2015: the 2015 "
            f"GPUs ({', '.join(nodes[2015]) or 'none'}; no 20 nm GPU in the table) over "
            "2011-14, medians",
            2.0,
            in_2015,
            names_2015,
        ),
        (
            f"the same for the 2016 GPUs ({', '.join(nodes[2016]) or 'none'}) over 2011-14, "
            "medians",
            2.0,
            in_2016,
            names_2016,
        ),
        (
            "brain over the most efficient chip, orders of magnitude (more than 5; ours: upper "
            "end of the brain's range, a synaptic event counted as one operation)",
            5.0,
            max(brain["orders_of_magnitude"]),
            [brain["best_chip"]],
        ),
    ]
    return [
        {"claim": claim, "paper": paper, "ours": ours, "n": len(points), "points": points}
        for claim, paper, ours, points in checks
    ]


GENERATIVE_FITS = (
    "open_llm_weight_bytes_vs_year.leaders", "edge_dram_vs_year.leaders",
    "edge_bandwidth_vs_year.leaders",
)  # fmt: skip


def _largest(frame: pd.DataFrame, column: str) -> pd.Series:
    """The row with the largest `column`, the latest of equals."""
    ordered = frame.sort_values([column, "year"], kind="stable")
    return ordered.iloc[-1]


def generative_gap(
    fits: dict[str, Fit], llms: pd.DataFrame, edge: pd.DataFrame, assumptions: Assumptions
) -> dict[str, Any]:
    """The memory gap of generative models: the leading open model's weights at
    `GENERATIVE_WEIGHTS` over the largest edge DRAM, today from the data and per year from the
    fits (supply frozen after `scaling_ends`, as every gap); and the decode bound, bandwidth of
    the fastest edge device / weight bytes (every weight read once per token; a mixture of
    experts reads its active weights only, but must hold them all)."""
    weights, dram, bandwidth = (fits[name] for name in GENERATIVE_FITS)
    gap = Gap(
        "memory_gap",
        f"memory gap (leading open model's {GENERATIVE_WEIGHTS} weight bytes / largest edge DRAM)",
        weights, dram, -1, 1.0,
    )  # fmt: skip
    decode = combined_rate(((bandwidth, 1), (weights, -1)))
    model, device, fastest = (
        _largest(llms, "params"), _largest(edge, "dram_gb"), _largest(edge, "bandwidth_gb_s")
    )  # fmt: skip
    weight_bytes = float(model["weight_bytes"])
    active = model["active_weight_bytes"]
    active_bytes = None if pd.isna(active) else float(active)
    ratio = weight_bytes / float(device["dram_bytes"])
    tokens = float(fastest["bandwidth_bytes_s"]) / weight_bytes
    tokens_active = None if active_bytes is None else tokens * weight_bytes / active_bytes
    years = np.arange(int(llms["year"].min()), assumptions.until + 1)
    line, low, high = gap.series(years, assumptions)
    what = "decode tokens/s bound (fastest edge bandwidth / leading open model's weight bytes)"
    leaders = record_setters(llms, "weight_bytes")
    active_text = (
        f" ({tokens_active:.3g} tokens/s reading only its {active_bytes / 1e9:.3g} GB of "
        "active weights, were they held)"
        if tokens_active is not None and active_bytes is not None
        else ""
    )
    statement = (
        f"The largest open model, {model['name']} ({model['released']}, "
        f"{float(model['params']) / 1e9:,.0f}B parameters), holds {weight_bytes / 1e9:,.0f} GB "
        f"of {GENERATIVE_WEIGHTS} weights, {ratio:.3g}x the largest edge DRAM "
        f"({device['name']}, {float(device['dram_gb']):g} GB); on the fastest edge memory "
        f"({fastest['name']}, {float(fastest['bandwidth_gb_s']):g} GB/s) a decode step would "
        f"run at most {tokens:.3g} tokens/s{active_text}. Per year, the "
        + describe_rate(gap.what, gap.rate, fits)
        + "; the "
        + describe_rate(what, decode, fits)
        + "."
    )
    return {
        "weights": GENERATIVE_WEIGHTS,
        "fits": list(GENERATIVE_FITS),
        "leading_models": [str(n) for n in leaders["name"]],
        "leading_dram_devices": [str(n) for n in record_setters(edge, "dram_bytes")["name"]],
        "leading_bandwidth_devices": [
            str(n) for n in record_setters(edge, "bandwidth_bytes_s")["name"]
        ],
        "now": {
            "model": str(model["name"]),
            "model_params": float(model["params"]),
            "model_weight_bytes": weight_bytes,
            "model_active_weight_bytes": active_bytes,
            "dram_device": str(device["name"]),
            "dram_gb": float(device["dram_gb"]),
            "weights_over_dram": ratio,
            "bandwidth_device": str(fastest["name"]),
            "bandwidth_gb_s": float(fastest["bandwidth_gb_s"]),
            "decode_tokens_per_s_bound": tokens,
            "decode_tokens_per_s_bound_active": tokens_active,
        },
        "memory_gap_growth_per_year": gap.rate.to_dict() | {"what": gap.what},
        "decode_bound_per_year": decode.to_dict() | {"what": what},
        "projection": {
            "years": years.tolist(),
            "ratio": line.tolist(),
            "band95": [low.tolist(), high.tolist()],
            "scaling_ends": assumptions.scaling_ends,
        },
        "statement": statement,
    }


def compute_trends(budget: Budget | None = None, assumptions: Assumptions | None = None) -> Trends:
    budget = budget or Budget()
    assumptions = assumptions or Assumptions()
    models = models_table()
    chips = platforms_table()
    memories = data.load("memory_energy")
    llms = open_llms_table()
    edge = edge_memory_table()
    fits, unfitted = fit_all(models, chips, memories, llms, edge)
    gaps = gaps_of(fits, budget, assumptions)
    record = {
        "budget": budget.__dict__,
        "growth": growth_rates(fits, gaps, assumptions),
        "projection": gap_projection(fits, gaps, assumptions, error_floor(models), models),
        "memory_plateau": memory_plateau(fits, unfitted),
        "sensitivity": sensitivity(fits),
        "brain": brain_distance(chips),
        "generative": generative_gap(fits, llms, edge, assumptions),
    }
    return Trends(
        fits=fits,
        unfitted=unfitted,
        gaps=record,
        paper_checks=paper_checks(models, chips, fits),
        tables={
            "models": models,
            "platforms": chips,
            "memories": memories,
            "open_llms": llms,
            "edge_memory": edge,
        },
    )
