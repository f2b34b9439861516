"""Exponential trends: least-squares fits of log10(quantity) against a predictor, with
bootstrap confidence intervals.

An exponential trend y = 10^(a + b x) is a straight line in log space; against the year, the
slope gives the annual growth factor 10^b and the doubling (or halving) time log10(2) / |b|.
The 95% intervals come from a seeded bootstrap over the data points (resampled with
replacement, refitted, percentiles), so they are reproducible run to run.

A fit is *significant* (`Fit.significant`) when its R² reaches `MIN_R2` and its 95% slope
interval excludes zero (no change); anything else is reported as "no significant trend". A
trend is drawn only over at least `MIN_DISTINCT_X` distinct x values (`Fit.enough_points`):
seven chips from three years are three points in time, not a trend.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from edgegap.errors import UserError

Floats = npt.NDArray[np.float64]
BOOTSTRAP_SAMPLES = 2000
SEED = 20180417  # the paper's publication date: any fixed seed makes reruns identical
MIN_R2 = 0.5  # below it the line explains less than half the variance of log10(y)
MIN_DISTINCT_X = 4  # distinct x values (years) a trend is drawn over
NO_TREND = "no significant trend"


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
    ci95: tuple[float, float]  # of the slope
    boot_slopes: Floats
    boot_intercepts: Floats
    distinct_x: int  # distinct x values among the n points

    @property
    def significant(self) -> bool:
        """R² at least `MIN_R2` and a 95% slope interval that excludes zero (no change)."""
        return self.r2 >= MIN_R2 and not self.ci95[0] <= 0 <= self.ci95[1]

    @property
    def enough_points(self) -> bool:
        """At least `MIN_DISTINCT_X` distinct x values: enough to draw a trend through."""
        return self.distinct_x >= MIN_DISTINCT_X

    @property
    def annual_factor(self) -> float:
        """y's factor per unit of x (per year for trends against time)."""
        return float(10**self.slope)

    @property
    def annual_factor_ci95(self) -> tuple[float, float]:
        return (float(10 ** self.ci95[0]), float(10 ** self.ci95[1]))

    @property
    def doubling_years(self) -> float:
        """Years for y to double (growth) or halve (decline); infinite for a flat trend."""
        return math.log10(2) / abs(self.slope) if self.slope else math.inf

    def predict(self, x: npt.ArrayLike) -> Floats:
        return np.asarray(10 ** (self.intercept + self.slope * np.asarray(x, dtype=float)))

    def band(self, x: npt.ArrayLike, level: float = 0.95) -> tuple[Floats, Floats]:
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
            "slope": self.slope,
            "intercept": self.intercept,
            "annual_factor": self.annual_factor,
            "doubling_years": self.doubling_years if math.isfinite(self.doubling_years) else None,
            "r2": self.r2,
            "ci95": list(self.ci95),
            "n": self.n,
            "distinct_x": self.distinct_x,
            "significant": self.significant,
        }
        if self.x == "year":
            record["annual_factor_ci95"] = list(self.annual_factor_ci95)
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
    slope, intercept = _least_squares(xs, logs)
    residual = logs - (intercept + slope * xs)
    total = ((logs - logs.mean()) ** 2).sum()
    r2 = 1 - (residual**2).sum() / total if total else 1.0
    rng = np.random.default_rng(SEED)
    picks = rng.integers(0, len(xs), size=(BOOTSTRAP_SAMPLES, len(xs)))
    boot_slopes, boot_intercepts = _least_squares(xs[picks], logs[picks])
    usable = np.isfinite(boot_slopes)  # resamples that drew a single x cannot fit a line
    boot_slopes, boot_intercepts = boot_slopes[usable], boot_intercepts[usable]
    low, high = np.percentile(boot_slopes, [2.5, 97.5])
    return Fit(
        name=name,
        x=x_label,
        y=y_label,
        slope=float(slope),
        intercept=float(intercept),
        r2=float(r2),
        n=len(xs),
        ci95=(float(low), float(high)),
        boot_slopes=boot_slopes,
        boot_intercepts=boot_intercepts,
        distinct_x=len(np.unique(xs)),
    )
