"""Exponential trends: least-squares fits of log10(quantity) against a predictor, with a
t-based and a seeded bootstrap interval of the slope, a p-value, and a significance verdict.

An exponential trend y = 10^(a + b x) is a straight line in log space. Against the year, the
slope gives the factor per year 10^b and the doubling (or halving) time log10(2) / |b|; against
anything else (log10 of the top-5 error, say) the slope is reported as it is: decades of y per
decade (or unit) of x, with no "per year" reading.

Two intervals, because each misleads alone on a few points: the t interval assumes normal
residuals; the bootstrap (resampling the points with replacement, `SEED`-ed, so reruns give
the same bytes) assumes only that the points are exchangeable. A fit is *significant* when
both 95% intervals exclude zero (no change) and it rests on at least `MIN_N` points: the one
place that number lives.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats  # type: ignore[import-untyped]

from edgegap.errors import UserError

Floats = npt.NDArray[np.float64]
BOOTSTRAP_SAMPLES = 2000
SEED = 20180417  # the paper's publication date: any fixed seed makes reruns identical
MIN_N = 5  # points below which no fit is called significant, whatever its intervals
LEVEL = 0.95
NO_TREND = "no significant trend"


def excludes_zero(interval: tuple[float, float]) -> bool:
    return not interval[0] <= 0 <= interval[1]


@dataclass(frozen=True)
class Rate:
    """A slope in log10 units per unit of x with its evidence: standard error, degrees of
    freedom, the two 95% intervals, the p-value of no change, and the fits it rests on."""

    slope: float
    se: float
    dof: float
    t_ci95: tuple[float, float]
    boot_ci95: tuple[float, float]
    p_value: float
    fits: tuple[Fit, ...]

    @property
    def significant(self) -> bool:
        """Both intervals clear of no change, and every fit it rests on significant."""
        return (
            excludes_zero(self.t_ci95)
            and excludes_zero(self.boot_ci95)
            and all(fit.significant for fit in self.fits)
        )

    @property
    def weak_fits(self) -> list[str]:
        """The fits this rate rests on that are not significant themselves."""
        return [fit.name for fit in self.fits if not fit.significant]

    @property
    def factor(self) -> float:
        return float(10**self.slope)

    def factor_interval(self, interval: tuple[float, float]) -> tuple[float, float]:
        return (float(10 ** interval[0]), float(10 ** interval[1]))

    @property
    def doubling_years(self) -> float | None:
        """Years to double (growth) or halve (decline); None for no change at all."""
        return math.log10(2) / abs(self.slope) if self.slope else None

    def to_dict(self) -> dict[str, object]:
        return {
            "factor_per_year": self.factor,
            "factor_per_year_t_ci95": list(self.factor_interval(self.t_ci95)),
            "factor_per_year_bootstrap_ci95": list(self.factor_interval(self.boot_ci95)),
            "doubling_or_halving_years": self.doubling_years,
            "p_value": self.p_value,
            "fits": [fit.name for fit in self.fits],
            "weak_fits": self.weak_fits,
            "significant": self.significant,
        }


@dataclass(frozen=True)
class Fit:
    """log10(y) = intercept + slope * x, fitted on n points."""

    name: str
    x: str
    y: str
    slope: float
    intercept: float
    r2: float
    n: int
    distinct_x: int
    se: float  # standard error of the slope
    t_ci95: tuple[float, float]  # of the slope
    boot_ci95: tuple[float, float]  # of the slope
    p_value: float  # two-sided, of slope = 0
    boot_slopes: Floats
    boot_intercepts: Floats

    @property
    def significant(self) -> bool:
        """At least `MIN_N` points and both 95% slope intervals clear of no change."""
        return self.n >= MIN_N and excludes_zero(self.t_ci95) and excludes_zero(self.boot_ci95)

    @property
    def per_year(self) -> bool:
        return self.x == "year"

    @property
    def rate(self) -> Rate:
        """The slope as a rate with its evidence (a factor per year for year fits)."""
        return Rate(
            self.slope, self.se, self.n - 2, self.t_ci95, self.boot_ci95, self.p_value, (self,)
        )

    @property
    def slope_unit(self) -> str:
        if self.per_year:
            return f"decades of {self.y} per year"
        per = (
            f"decade of {self.x.removeprefix('log10_')}"
            if self.x.startswith("log10_")
            else (f"unit of {self.x}")
        )
        return f"decades of {self.y} per {per}"

    def predict(self, x: npt.ArrayLike) -> Floats:
        return np.asarray(10 ** (self.intercept + self.slope * np.asarray(x, dtype=float)))

    def band(self, x: npt.ArrayLike, level: float = LEVEL) -> tuple[Floats, Floats]:
        """Pointwise bootstrap interval of the fitted line at `x`."""
        xs = np.asarray(x, dtype=float)
        lines = self.boot_intercepts[:, None] + self.boot_slopes[:, None] * xs[None, :]
        tail = 100 * (1 - level) / 2
        low, high = np.percentile(lines, [tail, 100 - tail], axis=0)
        return 10**low, 10**high

    def to_dict(self) -> dict[str, object]:
        record: dict[str, object] = {
            "x": self.x,
            "y": self.y,
            "n": self.n,
            "distinct_x": self.distinct_x,
            "r2": self.r2,
            "slope": self.slope,
            "slope_unit": self.slope_unit,
            "slope_t_ci95": list(self.t_ci95),
            "slope_bootstrap_ci95": list(self.boot_ci95),
            "p_value": self.p_value,
            "significant": self.significant,
        }
        if self.per_year:
            rate = self.rate.to_dict()
            record |= {key: rate[key] for key in (
                "factor_per_year", "factor_per_year_t_ci95", "factor_per_year_bootstrap_ci95",
                "doubling_or_halving_years",
            )}  # fmt: skip
        return record


def _least_squares(x: Floats, y: Floats) -> tuple[Floats, Floats]:
    """Slopes and intercepts of each row of (x, y) at once (rows = bootstrap samples)."""
    x_mean = x.mean(axis=-1, keepdims=True)
    y_mean = y.mean(axis=-1, keepdims=True)
    sxx = ((x - x_mean) ** 2).sum(axis=-1)
    sxy = ((x - x_mean) * (y - y_mean)).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = sxy / sxx
    return slope, y_mean[..., 0] - slope * x_mean[..., 0]


def t_interval(slope: float, se: float, dof: float) -> tuple[tuple[float, float], float]:
    """The 95% t interval of a slope and the two-sided p-value of no change."""
    if se == 0:
        return (slope, slope), 0.0 if slope else 1.0
    half = float(stats.t.ppf(0.5 + LEVEL / 2, dof)) * se
    p_value = float(2 * stats.t.sf(abs(slope) / se, dof))
    return (slope - half, slope + half), p_value


def percentile_interval(samples: Floats) -> tuple[float, float]:
    tail = 100 * (1 - LEVEL) / 2
    low, high = np.percentile(samples, [tail, 100 - tail])
    return float(low), float(high)


def fit_exponential(
    name: str, x: npt.ArrayLike, y: npt.ArrayLike, x_label: str = "year", y_label: str = ""
) -> Fit:
    """Fit log10(y) against x; y must be positive and finite, x finite and not all equal."""
    xs = np.asarray(x, dtype=float)
    ys = np.asarray(y, dtype=float)
    if xs.shape != ys.shape or xs.ndim != 1:
        raise UserError(f"{name}: x and y must be 1-D and of equal length")
    if not (np.isfinite(xs).all() and np.isfinite(ys).all()) or (ys <= 0).any():
        raise UserError(f"{name}: data must be finite, and y positive, to fit a log trend")
    if len(xs) < 3 or np.ptp(xs) == 0:
        raise UserError(f"{name}: a trend needs at least 3 points with different x")
    logs = np.log10(ys)
    slope, intercept = (float(v) for v in _least_squares(xs, logs))
    residual = logs - (intercept + slope * xs)
    total = float(((logs - logs.mean()) ** 2).sum())
    sse = float((residual**2).sum())
    r2 = 1 - sse / total if total else 1.0
    se = math.sqrt(sse / (len(xs) - 2) / float(((xs - xs.mean()) ** 2).sum()))
    t_ci95, p_value = t_interval(slope, se, len(xs) - 2)
    rng = np.random.default_rng(SEED)
    picks = rng.integers(0, len(xs), size=(BOOTSTRAP_SAMPLES, len(xs)))
    boot_slopes, boot_intercepts = _least_squares(xs[picks], logs[picks])
    usable = np.isfinite(boot_slopes)  # resamples that drew a single x cannot fit a line
    return Fit(
        name=name,
        x=x_label,
        y=y_label,
        slope=slope,
        intercept=intercept,
        r2=float(r2),
        n=len(xs),
        distinct_x=len(np.unique(xs)),
        se=se,
        t_ci95=t_ci95,
        boot_ci95=percentile_interval(boot_slopes[usable]),
        p_value=p_value,
        boot_slopes=boot_slopes[usable],
        boot_intercepts=boot_intercepts[usable],
    )


def aligned_bootstraps(fits: Sequence[Fit]) -> list[tuple[Floats, Floats]]:
    """Each fit's bootstrap (slopes, intercepts) cut to a common length, every fit after the
    first reordered by its own seeded permutation: the fits' data sets are independent, so
    their resamples must pair at random, not index by index."""
    common = min(len(fit.boot_slopes) for fit in fits)
    aligned = []
    for index, fit in enumerate(fits):
        count = len(fit.boot_slopes)
        order = (
            np.random.default_rng(SEED + index).permutation(count) if index else np.arange(count)
        )
        aligned.append((fit.boot_slopes[order][:common], fit.boot_intercepts[order][:common]))
    return aligned


def combined_rate(terms: Sequence[tuple[Fit, int]]) -> Rate:
    """The growth per year of a product of fitted quantities, each to the power +1 or -1 (a
    gap: demand over supply): slopes add with their signs; the t interval takes
    Welch-Satterthwaite degrees of freedom, the bootstrap pairs the fits' resamples
    (`aligned_bootstraps`). Significant only if every fit is (`Rate.significant`)."""
    fits = [fit for fit, _ in terms]
    slope = sum(sign * fit.slope for fit, sign in terms)
    parts = [(fit.se**2, fit.n - 2) for fit in fits]
    se = math.sqrt(sum(variance for variance, _ in parts))
    spread = sum(variance**2 / dof for variance, dof in parts)
    dof = se**4 / spread if spread else float(min(dof for _, dof in parts))
    t_ci95, p_value = t_interval(slope, se, dof)
    boots = aligned_bootstraps(fits)
    paired = sum(sign * slopes for (slopes, _), (_, sign) in zip(boots, terms, strict=True))
    return Rate(
        slope, se, dof, t_ci95, percentile_interval(np.asarray(paired)), p_value, tuple(fits)
    )
