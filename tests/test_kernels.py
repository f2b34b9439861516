"""The calibrated CPU's per-kind speed (`hardware.kernels`): the base, the neighbour correction
and the fit, on synthetic samples whose true law is known."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgegap.hardware import kernels


def _matrix_rows(rng: np.random.Generator, count: int) -> np.ndarray:
    groups = np.ones(count)
    m = np.exp(rng.uniform(0, np.log(4096), count)).round()
    k = (np.exp(rng.uniform(np.log(16), np.log(4096), count)) / 16).round().clip(1) * 16
    n = (np.exp(rng.uniform(np.log(16), np.log(4096), count)) / 16).round().clip(1) * 16
    moved = 4 * (m * k + k * n + m * n)
    return np.stack([groups, m, k, n, np.ones(count), np.ones(count), moved], axis=1)


TRUE = (np.log(4e-6), np.log(6e10), np.log(10.0), np.log(20.0), np.log(30.0), np.log(3e10),
        0.0, 0.0, 0.0, 0.0)  # fmt: skip


def _samples(count: int, noise: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = _matrix_rows(rng, count)
    seconds = kernels.base_seconds("matmul", TRUE, x) * np.exp(rng.normal(0, noise, count))
    return np.column_stack([x, seconds])


def test_fit_recovers_the_law_of_noiseless_samples() -> None:
    samples = _samples(200, 0.0)
    fitted = kernels.fit_parameters("matmul", samples)
    predicted = kernels.base_seconds("matmul", fitted, samples[:, :-1])
    assert np.allclose(predicted, samples[:, -1], rtol=1e-3)


def test_leave_one_out_errors_reflect_the_noise() -> None:
    quiet = np.median(np.abs(kernels.leave_one_out_errors("matmul", _samples(150, 0.02))))
    noisy = np.median(np.abs(kernels.leave_one_out_errors("matmul", _samples(150, 0.3))))
    assert quiet < 0.05 < noisy


def test_neighbours_correct_a_shape_the_base_misses() -> None:
    """A kernel library's special case (here: one shape runs 2x slower than the law) is
    learnt from the samples at that shape, which the smooth base cannot express."""
    samples = _samples(200, 0.0)
    special = np.tile(samples[:1], (5, 1))
    special[:, -1] *= 2.0
    table = np.vstack([samples[1:], special])
    fitted = kernels.fit_parameters("matmul", table)
    at = special[:1, :-1]
    base = kernels.base_seconds("matmul", fitted, at)[0]
    corrected = kernels.predict_seconds("matmul", fitted, table, at)[0]
    assert abs(corrected / special[0, -1] - 1) < abs(base / special[0, -1] - 1)


def test_streaming_kinds_fit_a_fixed_cost_and_a_rate() -> None:
    moved = np.exp(np.linspace(np.log(4e3), np.log(6e7), 40))
    seconds = 3e-6 + moved / 2e10
    fitted = kernels.fit_parameters("elementwise", np.column_stack([moved, seconds]))
    assert np.exp(fitted[0]) == pytest.approx(3e-6, rel=0.05)
    assert np.exp(fitted[1]) == pytest.approx(2e10, rel=0.05)


@settings(max_examples=40, deadline=None)
@given(
    m=st.integers(1, 8192), k=st.integers(1, 8192), n=st.integers(1, 8192),
    scale=st.floats(1.0, 64.0),
)  # fmt: skip
def test_predictions_are_positive_and_grow_with_the_work(
    m: int, k: int, n: int, scale: float
) -> None:
    samples = _samples(60, 0.1)
    fitted = kernels.fit_parameters("matmul", samples)
    row = np.array([[1, m, k, n, 1, 1, 4 * (m * k + k * n + m * n)]], dtype=np.float64)
    bigger = row.copy()
    bigger[0, 1] *= scale
    bigger[0, 6] = 4 * (bigger[0, 1] * k + k * n + bigger[0, 1] * n)
    base, grown = (kernels.base_seconds("matmul", fitted, r)[0] for r in (row, bigger))
    assert 0 < base <= grown
    assert kernels.predict_seconds("matmul", fitted, samples, row)[0] > 0
