"""Trend fits: exact recovery, bootstrap reproducibility, bad data."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgegap.errors import UserError
from edgegap.trends.fits import fit_exponential


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
