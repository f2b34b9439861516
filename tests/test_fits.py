"""Trend fits: exact recovery, bootstrap reproducibility, bad data."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgegap.errors import UserError
from edgegap.trends.fits import MIN_DISTINCT_X, MIN_R2, fit_exponential


def test_recovers_an_exact_doubling_every_two_years():
    years = np.arange(2010, 2021)
    fit = fit_exponential("demo", years, 5 * 2 ** ((years - 2010) / 2))
    assert fit.annual_factor == pytest.approx(math.sqrt(2))
    assert fit.doubling_years == pytest.approx(2)
    assert fit.r2 == pytest.approx(1)
    assert fit.ci95 == pytest.approx((fit.slope, fit.slope))
    assert fit.predict([2030])[0] == pytest.approx(5 * 2**10)


def test_a_30_percent_yearly_decline():
    years = np.arange(2012, 2018)
    fit = fit_exponential("top5", years, 16.4 * 0.7 ** (years - 2012))
    assert fit.annual_factor == pytest.approx(0.7)
    assert fit.doubling_years == pytest.approx(math.log(2) / -math.log(0.7))


def test_bootstrap_is_seeded_and_brackets_the_fit():
    rng = np.random.default_rng(1)
    years = np.arange(2000, 2020)
    values = 10 ** (0.1 * (years - 2000) + rng.normal(0, 0.2, years.size))
    first, second = fit_exponential("a", years, values), fit_exponential("a", years, values)
    assert first.ci95 == second.ci95
    assert first.ci95[0] < first.slope < first.ci95[1]
    low, high = first.band([2010, 2030])
    assert (low < first.predict([2010, 2030])).all() and (first.predict([2010, 2030]) < high).all()
    assert high[1] - low[1] > high[0] - low[0]  # the band widens away from the data


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


def test_a_clean_trend_is_significant():
    years = np.arange(2010, 2021)
    fit = fit_exponential("demo", years, 5 * 2 ** ((years - 2010) / 2))
    assert fit.significant and fit.enough_points and fit.distinct_x == 11
    assert fit.to_dict()["significant"] is True


def test_a_weak_fit_is_no_significant_trend():
    """Seven scattered points whose slope interval includes no change: not significant, and
    the record says so; as does an R² below the threshold even with an interval clear of 0."""
    years = np.array([2010, 2013, 2014, 2014, 2014, 2016, 2017])
    energy = np.array([14.0, 10.0, 40.0, 20.0, 13.3, 3.9, 2.0])  # Fig. 4b's DRAM points
    weak = fit_exponential("dram", years, energy)
    assert weak.ci95[0] <= 0 <= weak.ci95[1] and not weak.significant
    assert weak.to_dict()["significant"] is False
    rng = np.random.default_rng(3)
    many = np.arange(1900, 2100, dtype=float)
    noisy = fit_exponential("noisy", many, 10 ** (0.002 * (many - 1900) + rng.normal(0, 0.3, 200)))
    assert noisy.r2 < MIN_R2 and not noisy.ci95[0] <= 0 <= noisy.ci95[1]
    assert not noisy.significant


def test_three_distinct_years_are_too_few_to_draw():
    fit = fit_exponential("asic", [2014, 2014, 2014, 2015, 2015, 2016, 2016], [1, 2, 3, 4, 5, 6, 7])
    assert fit.n == 7 and fit.distinct_x == 3 < MIN_DISTINCT_X and not fit.enough_points
