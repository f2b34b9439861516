"""The paper's analysis, recomputed from the data: demand and supply trends, and the gap.

Demand (Figs 1, 2, 3a, 4a): parameters and operations of DNNs against the year and against
ImageNet top-5 error. Supply (Figs 3b, 4b): performance density of chips and energy per bit
of memories against the year. The gap compares their growth and projects it forward under a
stated CMOS-scaling assumption.
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
from edgegap.trends.fits import MIN_DISTINCT_X, MIN_R2, Fit, fit_exponential

# Performance density is compared at one precision: a chip's peak operations are weighted by
# their bit-width relative to 16 bits (bit-operations per 16), so an int8 TOPS counts half a
# 16-bit TOPS and an fp32 TFLOPS twice.
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
    gaps: dict[str, Any]
    paper_checks: list[dict[str, Any]]
    tables: dict[str, pd.DataFrame] = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "fits": {name: fit.to_dict() for name, fit in self.fits.items()},
            "gaps": self.gaps,
            "paper_checks": self.paper_checks,
            "significance": {
                "min_r2": MIN_R2,
                "min_distinct_x": MIN_DISTINCT_X,
                "rule": "a fit is significant when its R² is at least min_r2 and its 95% "
                "bootstrap slope interval excludes 0 (no change); a trend is drawn only over "
                "at least min_distinct_x distinct x values",
            },
        }


def models_table() -> pd.DataFrame:
    models = data.load("dnn_models")
    models["ops"] = OPS_PER_MAC * models["macs"].astype("Float64")  # the paper's operations
    # Demand against accuracy is fitted on log error: a power law keeps growing as the error
    # halves, where a line in the error itself would flatten as it nears zero.
    models["log10_top5_error_pct"] = np.log10(models["top5_error_pct"].astype("Float64"))
    return models


def frontier(models: pd.DataFrame) -> pd.DataFrame:
    """ImageNet classifiers that beat every earlier year's best top-5 error: the paper's
    "leading designs" (competition entries are often ensembles; dnn_models.csv notes which)."""
    ranked = models[models["imagenet"] & models["top5_error_pct"].notna()].sort_values("year")
    best_before = ranked.groupby("year")["top5_error_pct"].min().cummin().shift(fill_value=np.inf)
    return ranked[ranked["top5_error_pct"] < ranked["year"].map(best_before)]


def error_floor(models: pd.DataFrame) -> float:
    """The lowest top-5 error (%) of the leading designs: no error projection goes below it."""
    return float(frontier(models)["top5_error_pct"].astype(float).min())


def platforms_table() -> pd.DataFrame:
    chips = data.load("platforms")
    bits = chips["peak_precision"].map(BITS).astype("Float64")
    chips["gops_16b"] = chips["peak_ops"] / 1e9 * bits / REFERENCE_BITS
    chips["perf_density_gops_mm2"] = chips["gops_16b"] / chips["die_area_mm2"]
    chips["efficiency_gops_w"] = chips["gops_16b"] / chips["power_w"]
    return chips


def _fit(name: str, frame: pd.DataFrame, x: str, y: str) -> Fit | None:
    rows = frame[[x, y]].dropna()
    if len(rows) < 3 or rows[x].nunique() < 2:
        return None
    values = rows.astype(float)
    return fit_exponential(name, values[x].to_numpy(), values[y].to_numpy(), x, y)


def fit_all(models: pd.DataFrame, chips: pd.DataFrame, memories: pd.DataFrame) -> dict[str, Fit]:
    imagenet = models[models["imagenet"]]
    leaders = frontier(models)
    specs: list[tuple[str, pd.DataFrame, str, str]] = [
        ("params_vs_year", models[~models["imagenet"]], "year", "params"),
        ("params_vs_year.imagenet", imagenet, "year", "params"),
        ("top5_vs_year", leaders, "year", "top5_error_pct"),
        ("ops_vs_year", leaders, "year", "ops"),
        ("ops_vs_top5", leaders, "log10_top5_error_pct", "ops"),
        ("params_vs_top5", leaders, "log10_top5_error_pct", "params"),
        ("perf_density_vs_year", chips, "year", "perf_density_gops_mm2"),
        (
            "memory_energy_vs_year",
            memories[memories["type"] != "sram"],
            "year",
            "energy_pj_per_bit",
        ),
    ]
    for kind in sorted(chips["kind"].dropna().unique()):
        specs.append(
            (
                f"perf_density_vs_year.{kind}",
                chips[chips["kind"] == kind],
                "year",
                "perf_density_gops_mm2",
            )
        )
    fits = {name: _fit(name, frame, x, y) for name, frame, x, y in specs}
    return {name: fit for name, fit in fits.items() if fit is not None}


def _capped(year: npt.NDArray[np.int64], assumptions: Assumptions) -> npt.NDArray[np.int64]:
    if assumptions.scaling_ends is None:
        return year
    return np.asarray(np.minimum(year, assumptions.scaling_ends))


def gap_projection(
    fits: dict[str, Fit],
    budget: Budget,
    assumptions: Assumptions,
    floor_pct: float,
    start: int = 2012,
) -> dict[str, Any]:
    """The performance and energy gaps of the state of the art on an edge budget, per year.

    Each year's leading top-5 error (its trend) sets the demand through the accuracy fits:
    operations per image x frame rate against performance density x area (performance gap),
    parameters x weight bits x memory energy per bit against power / frame rate (energy gap;
    the paper takes parameters as a proxy for memory accesses). Supply stops improving after
    `scaling_ends`. The projected error stops at `floor_pct` (`error_floor`), so the accuracy
    fits are read inside the range of errors they were fitted on. Bands: 95% bootstrap
    intervals of the demand fits.
    """
    years = np.arange(start, assumptions.until + 1)
    error = np.maximum(fits["top5_vs_year"].predict(years), floor_pct)
    log_error = np.log10(error)
    ops = fits["ops_vs_top5"].predict(log_error)
    ops_low, ops_high = fits["ops_vs_top5"].band(log_error)
    params = fits["params_vs_top5"].predict(log_error)
    params_low, params_high = fits["params_vs_top5"].band(log_error)
    density = fits[f"perf_density_vs_year.{assumptions.density_kind}"]
    supply_ops = density.predict(_capped(years, assumptions)) * 1e9 * budget.area_mm2
    energy_per_bit = fits["memory_energy_vs_year"].predict(_capped(years, assumptions)) * 1e-12
    energy_budget = budget.power_w / budget.fps
    performance = ops * budget.fps / supply_ops
    energy = params * budget.weight_bits * energy_per_bit / energy_budget

    def first_year_over(ratio: np.ndarray) -> int | None:
        over = np.flatnonzero(ratio > 1)
        return int(years[over[0]]) if len(over) else None

    return {
        "budget": budget.__dict__,
        "assumptions": {
            "scaling_ends": assumptions.scaling_ends,
            "density_kind": assumptions.density_kind,
            "density_fit": density.name,
            "top5_error_floor_pct": floor_pct,
            "note": "supply (performance density, memory energy per bit) stops improving after "
            "scaling_ends; the paper expects this when CMOS scaling ends around 5 nm. The "
            "projected top-5 error stops at the lowest error the leading designs have reached "
            "(top5_error_floor_pct): the fits are not read past their data",
        },
        "years": years.tolist(),
        "top5_error_pct": error.tolist(),
        "performance_gap": performance.tolist(),
        "performance_gap_band": [
            (ops_low * budget.fps / supply_ops).tolist(),
            (ops_high * budget.fps / supply_ops).tolist(),
        ],
        "energy_gap": energy.tolist(),
        "energy_gap_band": [
            (params_low * budget.weight_bits * energy_per_bit / energy_budget).tolist(),
            (params_high * budget.weight_bits * energy_per_bit / energy_budget).tolist(),
        ],
        "performance_gap_exceeds_budget_from": first_year_over(performance),
        "energy_gap_exceeds_budget_from": first_year_over(energy),
    }


def growth_gaps(fits: dict[str, Fit], assumptions: Assumptions) -> dict[str, Any]:
    """Demand growth over capacity growth, per year: above 1, the gap widens.

    Beside each factor: `ci95`, its interval (a fit's 95% bootstrap interval; for a gap, the
    widest ratio the two fits' intervals allow, a conservative range), `fits`, the fits it
    comes from, and `significant`: every one of those fits significant (`Fit.significant`) and
    the interval excluding 1 (no change)."""
    ops = fits["ops_vs_year"]
    params = fits["params_vs_year"]
    density = fits[f"perf_density_vs_year.{assumptions.density_kind}"]
    memory = fits["memory_energy_vs_year"]  # energy per bit falls: bits per joule grow
    ops_ci, params_ci, density_ci = (f.annual_factor_ci95 for f in (ops, params, density))
    memory_ci = (1 / memory.annual_factor_ci95[1], 1 / memory.annual_factor_ci95[0])
    factors: dict[str, tuple[float, tuple[float, float], list[Fit]]] = {
        "ops_growth_per_year": (ops.annual_factor, ops_ci, [ops]),
        "params_growth_per_year": (params.annual_factor, params_ci, [params]),
        "perf_density_growth_per_year": (density.annual_factor, density_ci, [density]),
        "memory_efficiency_growth_per_year": (1 / memory.annual_factor, memory_ci, [memory]),
        "performance_gap_growth_per_year": (
            ops.annual_factor / density.annual_factor,
            (ops_ci[0] / density_ci[1], ops_ci[1] / density_ci[0]),
            [ops, density],
        ),
        "energy_gap_growth_per_year": (
            params.annual_factor / (1 / memory.annual_factor),
            (params_ci[0] / memory_ci[1], params_ci[1] / memory_ci[0]),
            [params, memory],
        ),
    }
    growth: dict[str, Any] = {name: factor for name, (factor, _, _) in factors.items()}
    growth["ci95"] = {name: list(ci) for name, (_, ci, _) in factors.items()}
    growth["fits"] = {name: [f.name for f in used] for name, (_, _, used) in factors.items()}
    growth["significant"] = {
        name: all(f.significant for f in used) and not ci[0] <= 1 <= ci[1]
        for name, (_, ci, used) in factors.items()
    }
    return growth


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


def paper_checks(
    models: pd.DataFrame, chips: pd.DataFrame, fits: dict[str, Fit]
) -> list[dict[str, Any]]:
    """The paper's stated numbers beside ours; `ok` within the stated tolerance."""
    by_name = models.set_index("name")

    def ops_of(name: str) -> float:
        return float(by_name["ops"].astype(float)[name]) / 1e9

    gpus = chips[chips["kind"] == "gpu"].dropna(subset=["perf_density_gops_mm2"])
    early = gpus[gpus["year"].between(2011, 2014)]["perf_density_gops_mm2"].astype(float)
    moved = gpus[gpus["year"].between(2015, 2016)]["perf_density_gops_mm2"].astype(float)
    brain = brain_distance(chips)
    checks = [
        ("AlexNet operations per image (G)", 1.4, ops_of("AlexNet"), 0.10),
        ("VGG-19 operations per image (G)", 38.0, ops_of("VGG-19"), 0.10),
        (
            "top-5 error falls about 30% per year (factor per year)",
            0.70,
            fits["top5_vs_year"].annual_factor,
            0.10,
        ),
        (
            "GPU performance density 2015-16 over 2011-14, medians (about 2x)",
            2.0,
            float(moved.median() / early.median()) if len(early) and len(moved) else math.nan,
            0.35,
        ),
        (
            "GPU performance density flat 2011-14 (max over min)",
            1.0,
            float(early.max() / early.min()) if len(early) else math.nan,
            0.5,
        ),
        (
            "brain over the most efficient chip, orders of magnitude (more than 5; ours: upper "
            "end of the brain's range, a synaptic event counted as one operation)",
            5.0,
            max(brain["orders_of_magnitude"]),
            0.2,
        ),
    ]
    return [
        {
            "claim": claim,
            "paper": paper,
            "ours": ours,
            "ok": bool(math.isfinite(ours) and abs(ours - paper) <= tolerance * paper),
            "tolerance": tolerance,
        }
        for claim, paper, ours, tolerance in checks
    ]


def compute_trends(budget: Budget | None = None, assumptions: Assumptions | None = None) -> Trends:
    budget = budget or Budget()
    assumptions = assumptions or Assumptions()
    models = models_table()
    chips = platforms_table()
    memories = data.load("memories")
    fits = fit_all(models, chips, memories)
    gaps = {
        "growth": growth_gaps(fits, assumptions),
        "projection": gap_projection(fits, budget, assumptions, error_floor(models)),
        "brain": brain_distance(chips),
    }
    return Trends(
        fits=fits,
        gaps=gaps,
        paper_checks=paper_checks(models, chips, fits),
        tables={"models": models, "platforms": chips, "memories": memories},
    )
