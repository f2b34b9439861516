"""Trend fits on constructed data with known answers: exact recovery, intervals, p-values,
the significance rule, combined (gap) rates, bootstrap reproducibility, bad data."""

import json
import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats

from edgegap.errors import UserError
from edgegap.trends.fits import MIN_N, combined_rate, fit_exponential


def test_recovers_an_exact_doubling_every_two_years():
    years = np.arange(2010, 2021)
    fit = fit_exponential("demo", years, 5 * 2 ** ((years - 2010) / 2))
    assert fit.rate.factor == pytest.approx(math.sqrt(2))
    assert fit.rate.doubling_years == pytest.approx(2)
    assert fit.r2 == pytest.approx(1)
    assert fit.t_ci95 == pytest.approx((fit.slope, fit.slope), abs=1e-12)
    assert fit.boot_ci95 == pytest.approx((fit.slope, fit.slope))
    assert fit.p_value == pytest.approx(0, abs=1e-12)
    assert fit.predict([2030])[0] == pytest.approx(5 * 2**10)
    assert fit.significant


def test_a_30_percent_yearly_decline():
    years = np.arange(2012, 2018)
    fit = fit_exponential("top5", years, 16.4 * 0.7 ** (years - 2012))
    assert fit.rate.factor == pytest.approx(0.7)
    assert fit.rate.doubling_years == pytest.approx(math.log(2) / -math.log(0.7))  # halving


def test_a_flat_noisy_series_is_not_significant():
    """Residuals symmetric about the middle year leave a slope of exactly zero: p = 1, both
    intervals straddle no change, and the fit says "no significant trend"."""
    years = np.arange(2000, 2020)
    half = np.array([0.3, -0.2, 0.25, -0.35, 0.1, -0.05, 0.4, -0.3, 0.15, -0.3])
    logs = np.concatenate([half, half[::-1]])
    fit = fit_exponential("flat", years, 10**logs)
    assert fit.slope == pytest.approx(0, abs=1e-12)
    assert fit.p_value == pytest.approx(1)
    assert fit.t_ci95[0] < 0 < fit.t_ci95[1] and fit.boot_ci95[0] < 0 < fit.boot_ci95[1]
    assert not fit.significant and fit.to_dict()["significant"] is False


def test_a_clean_noisy_exponential_recovers_its_rate():
    """x1.26 a year (slope 0.1) under 0.05 decades of noise, 30 points: the slope is found
    within 0.01 and both intervals hold it."""
    rng = np.random.default_rng(7)
    years = np.arange(1995, 2025, dtype=float)
    fit = fit_exponential("clean", years, 10 ** (0.1 * (years - 1995) + rng.normal(0, 0.05, 30)))
    assert fit.slope == pytest.approx(0.1, abs=0.01)
    assert fit.t_ci95[0] < 0.1 < fit.t_ci95[1] and fit.boot_ci95[0] < 0.1 < fit.boot_ci95[1]
    assert fit.significant and fit.p_value < 1e-10


def test_the_bootstrap_is_seeded_and_byte_identical_run_to_run():
    rng = np.random.default_rng(1)
    years = np.arange(2000, 2020)
    values = 10 ** (0.1 * (years - 2000) + rng.normal(0, 0.2, years.size))
    first = fit_exponential("a", years, values)
    np.random.seed(12345)  # the global generator plays no part
    second = fit_exponential("a", years, values)
    assert json.dumps(first.to_dict()) == json.dumps(second.to_dict())
    assert (first.boot_slopes == second.boot_slopes).all()
    low, high = first.band([2010, 2030])
    assert (low < first.predict([2010, 2030])).all() and (first.predict([2010, 2030]) < high).all()
    assert high[1] - low[1] > high[0] - low[0]  # the band widens away from the data


def test_too_few_points_are_never_significant():
    """A perfect exponential on MIN_N - 1 points has p = 0 and intervals clear of zero, yet
    is not called significant: the minimum n is part of the rule."""
    years = np.arange(2010, 2010 + MIN_N - 1)
    fit = fit_exponential("short", years, 2.0 ** (years - 2010))
    assert fit.p_value == pytest.approx(0, abs=1e-12)
    assert not fit.significant
    assert fit_exponential(
        "enough", np.arange(2010, 2010 + MIN_N), 2.0 ** np.arange(MIN_N)
    ).significant


def test_only_year_fits_have_factors_per_year():
    fit = fit_exponential("ops", [1.2, 0.9, 0.7, 0.5, 0.4], [1, 3, 9, 20, 60],
                          "log10_top5_error_pct", "ops")  # fmt: skip
    record = fit.to_dict()
    assert "factor_per_year" not in record and "doubling_or_halving_years" not in record
    assert record["slope_unit"] == "decades of ops per decade of top5_error_pct"
    years = fit_exponential("y", [2010, 2011, 2012], [1, 2, 4]).to_dict()
    assert years["factor_per_year"] == pytest.approx(2)
    assert years["factor_per_year_t_ci95"] and years["factor_per_year_bootstrap_ci95"]


def test_a_gap_of_two_clean_trends_is_their_ratio():
    years = np.arange(2010, 2022)
    demand = fit_exponential("demand", years, 2.0 ** (years - 2010))
    supply = fit_exponential("supply", years, 1.5 ** (years - 2010))
    gap = combined_rate([(demand, 1), (supply, -1)])
    assert gap.factor == pytest.approx(2 / 1.5)
    assert gap.significant and not gap.weak_fits


def test_a_gap_resting_on_a_weak_fit_is_not_significant():
    """However clear its own interval, a gap is not established when one fit is not."""
    years = np.arange(2010, 2022)
    demand = fit_exponential("demand", years, 10.0 ** (years - 2010))  # x10 a year
    half = np.array([0.3, -0.2, 0.25, -0.35, 0.1, -0.05])
    flat = fit_exponential("flat", years, 10 ** np.concatenate([half, half[::-1]]))
    gap = combined_rate([(demand, 1), (flat, -1)])
    assert gap.t_ci95[0] > 0 and gap.boot_ci95[0] > 0  # the gap's own interval is clear
    assert not gap.significant and gap.weak_fits == ["flat"]
    assert gap.to_dict()["significant"] is False


@pytest.mark.parametrize(
    ("x", "y"),
    [([1, 2, 3], [1, -1, 2]), ([1, 2, float("nan")], [1, 2, 3]), ([1, 1, 1], [1, 2, 3]),
     ([1, 2], [1, 2])],
)  # fmt: skip
def test_bad_data_is_a_user_error(x, y):
    with pytest.raises(UserError):
        fit_exponential("bad", x, y)


@settings(max_examples=50, deadline=None)
@given(
    st.floats(-0.5, 0.5),
    st.floats(-3, 3),
    st.lists(st.integers(1990, 2030), min_size=3, max_size=30, unique=True),
)
def test_noise_free_lines_are_recovered(slope, intercept, years):
    x = np.array(years, dtype=float)
    fit = fit_exponential("p", x, 10 ** (intercept + slope * (x - 2000)))
    assert fit.slope == pytest.approx(slope, abs=1e-9)


noisy_series = st.lists(
    st.tuples(st.integers(1990, 2030), st.floats(-2, 2)), min_size=4, max_size=25
).filter(lambda rows: len({x for x, _ in rows}) >= 3)


@settings(max_examples=60, deadline=None)
@given(noisy_series)
def test_the_kernel_agrees_with_scipy_linregress(rows):
    """Slope, its standard error and the p-value are those of an ordinary least-squares fit
    (scipy's linregress on the same logs)."""
    x = np.array([r[0] for r in rows], dtype=float)
    logs = np.array([r[1] for r in rows])
    fit = fit_exponential("h", x, 10**logs)
    if np.ptp(logs) == 0:  # a flat series: scipy's r, and so its stderr, is undefined (nan)
        assert fit.slope == 0 and fit.se == 0
        return
    reference = stats.linregress(x, logs)
    assert fit.slope == pytest.approx(reference.slope, abs=1e-9)
    assert fit.se == pytest.approx(reference.stderr, rel=1e-6, abs=1e-12)
    if reference.stderr > 1e-9:
        assert fit.p_value == pytest.approx(reference.pvalue, rel=1e-6, abs=1e-9)
    assert fit.t_ci95[0] <= fit.slope <= fit.t_ci95[1]
    assert 0 <= fit.p_value <= 1
    assert fit.significant <= (fit.n >= MIN_N)


@settings(max_examples=40, deadline=None)
@given(noisy_series, st.floats(-5, 5))
def test_a_constant_factor_changes_no_statistic_of_the_slope(rows, shift):
    """Multiplying y by 10^shift moves the intercept only: the slope, both intervals, p and
    the verdict stay the same."""
    x = np.array([r[0] for r in rows], dtype=float)
    logs = np.array([r[1] for r in rows])
    # a spread near float rounding (1e-12 on logs of order 1) is noise that log10(10**y) itself
    # changes with the shift: the statistics then move by rounding, not by the factor
    assume(np.ptp(logs) == 0 or np.ptp(logs) > 1e-6)
    base, moved = fit_exponential("a", x, 10**logs), fit_exponential("a", x, 10 ** (logs + shift))
    assert moved.slope == pytest.approx(base.slope, abs=1e-9)
    assert moved.t_ci95 == pytest.approx(base.t_ci95, abs=1e-8)
    assert moved.boot_ci95 == pytest.approx(base.boot_ci95, abs=1e-8)
    assert moved.p_value == pytest.approx(base.p_value, abs=1e-8)
