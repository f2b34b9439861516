"""Per-operator-kind speed of a calibrated CPU: the time of a layer from timed microbenchmarks
of its kind (`edgegap calibrate`), never from the peak alone.

Each kind keeps its samples: the features of a timed one-operator graph and its seconds. A
layer's time is a smooth base fitted to them (`base_seconds`: a fixed cost, MACs at a peak rate
scaled down where a matrix dimension is too small to fill the vector units, bytes at a stream
rate) corrected by the samples nearest to it (`NEIGHBOURS`, in log-feature space): the base
carries the trend between shapes, the neighbours what a kernel library does at shapes like
this one (a blocked layout that needs channels in multiples of 16, a special path for 1 x 1
convolutions). This is the kernel-level prediction of nn-Meter (Zhang et al., MobiSys 2021),
with a roofline-shaped base instead of a random forest.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]

# Kinds that multiply matrices: their features are the product's groups, m, k, n, the stride
# and kernel area of a convolution (1 and 1 for a matrix product) and the bytes moved. A
# "streamed_matmul" is a linear layer whose weights come from DRAM (`calibrate.graphs.
# streamed_matmul`); a "matmul"'s operands were in the caches.
MATRIX_KINDS = ("conv", "depthwise", "grouped", "matmul", "streamed_matmul")
# Kinds that stream their operands: their feature is the bytes moved.
STREAMING_KINDS = ("elementwise", "activation", "affine", "movement", "pool", "reduction", "norm",
                   "softmax")  # fmt: skip
KINDS = MATRIX_KINDS + STREAMING_KINDS
MATRIX_FEATURES = ("groups", "m", "k", "n", "stride", "area", "bytes")
STREAMING_FEATURES = ("bytes",)
# The base's parameters, in order: log fixed seconds, log peak MACs/s, log half-rate m, k and n
# (the size at which a dimension alone halves the rate), log bytes/s, then log-rate changes for
# a 1 x 1 kernel, per log of the kernel area, and for channels in multiples of 8 and of 16 (the
# blocks vector kernels work in: 8 floats in AVX2, 16 in AVX-512).
MATRIX_PARAMETERS = ("log_fixed_s", "log_macs_per_s", "log_half_m", "log_half_k", "log_half_n",
                     "log_bytes_per_s", "pointwise", "per_log_area", "by_8", "by_16")  # fmt: skip
STREAMING_PARAMETERS = ("log_fixed_s", "log_bytes_per_s")
NEIGHBOURS = 6
# Distances below this (in log units) count as the same shape: the weight 1 / (d + this).
NEIGHBOUR_SOFTENING = 0.3
# A neighbour correction is shrunk towards none by this weight: far neighbours say little.
NEIGHBOUR_PRIOR = 0.5


def features_of(kind: str) -> tuple[str, ...]:
    return MATRIX_FEATURES if kind in MATRIX_KINDS else STREAMING_FEATURES


def parameters_of(kind: str) -> tuple[str, ...]:
    return MATRIX_PARAMETERS if kind in MATRIX_KINDS else STREAMING_PARAMETERS


def _blocks(kind: str, x: Floats) -> tuple[Floats, Floats]:
    """Whether the channels a kernel blocks by come in multiples of 8 and of 16: a matrix
    product's k and n, a convolution's input and output channels (per group where groups
    run one by one; all of them for a depthwise convolution, which runs them side by side)."""
    groups, k, n, area = x[:, 0], x[:, 2], x[:, 3], x[:, 5]
    if kind in ("matmul", "streamed_matmul"):
        channels_in, channels_out = k, n
    elif kind == "depthwise":
        channels_in = channels_out = groups
    else:
        channels_in, channels_out = k / area, n
    by = [((channels_in % b == 0) & (channels_out % b == 0)).astype(np.float64) for b in (8, 16)]
    return by[0], by[1]


def base_seconds(kind: str, parameters: Sequence[float], x: Floats) -> Floats:
    """The smooth part of the prediction for feature rows `x` (n, features)."""
    p = np.asarray(parameters, dtype=np.float64)
    fixed = np.exp(p[0])
    if kind not in MATRIX_KINDS:
        return np.asarray(fixed + x[:, 0] / np.exp(p[1]), dtype=np.float64)
    groups, m, k, n, _, area, moved = (x[:, i] for i in range(7))
    by_8, by_16 = _blocks(kind, x)
    macs = groups * m * k * n
    filled = (m / (m + np.exp(p[2]))) * (k / (k + np.exp(p[3]))) * (n / (n + np.exp(p[4])))
    shape = np.exp(p[6] * (area == 1) + p[7] * np.log(area) + p[8] * by_8 + p[9] * by_16)
    rate = np.exp(p[1]) * filled * shape
    return np.asarray(fixed + macs / rate + moved / np.exp(p[5]), dtype=np.float64)


def _coordinates(kind: str, x: Floats) -> Floats:
    """Where a shape sits for the neighbour search: logs of its sizes, its stride and kernel
    area, and its channel blocks."""
    if kind not in MATRIX_KINDS:
        return np.log(x[:, :1])
    groups, m, k, n, stride, area, _ = (x[:, i] for i in range(7))
    by_8, by_16 = _blocks(kind, x)
    return np.stack([np.log(groups), np.log(m), np.log(k), np.log(n), stride - 1.0,
                     np.log(area), by_8, by_16], axis=1)  # fmt: skip


def predict_seconds(kind: str, parameters: Sequence[float], samples: Floats, x: Floats) -> Floats:
    """Seconds of each feature row of `x` on the kind whose timed `samples` (rows of features
    then seconds) fitted `parameters`: the base times the distance-weighted mean of the
    nearest samples' ratios of measured to base time, shrunk towards 1 where they are far."""
    base = base_seconds(kind, parameters, x)
    if not len(samples) or not len(x):
        return base
    known, seconds = samples[:, :-1], samples[:, -1]
    log_ratio = np.log(seconds) - np.log(base_seconds(kind, parameters, known))
    here, there = _coordinates(kind, x), _coordinates(kind, known)
    distance = np.sqrt(((here[:, None, :] - there[None, :, :]) ** 2).sum(axis=2))
    nearest = np.argsort(distance, axis=1, kind="stable")[:, :NEIGHBOURS]
    weight = 1.0 / (np.take_along_axis(distance, nearest, axis=1) + NEIGHBOUR_SOFTENING)
    correction = (log_ratio[nearest] * weight).sum(axis=1) / (weight.sum(axis=1) + NEIGHBOUR_PRIOR)
    return np.asarray(base * np.exp(correction), dtype=np.float64)


def fit_parameters(kind: str, samples: Floats) -> tuple[float, ...]:
    """The base's parameters that best fit `samples` in log time (least squares)."""
    from scipy.optimize import least_squares  # type: ignore[import-untyped]  # calibration only

    x, seconds = samples[:, :-1], samples[:, -1]
    # Physical bounds keep a dimension the samples never vary (a depthwise n of 1) finite.
    times, rates, halves, changes = (np.log(1e-9), np.log(1e-1)), (np.log(1e7), np.log(1e14)), (
        -5.0, 12.0), (-3.0, 3.0)  # fmt: skip
    if kind in MATRIX_KINDS:
        start = [np.log(5e-6), np.log(5e10), 2.0, 2.0, 2.0, np.log(2e10), 0.0, 0.0, 0.0, 0.0]
        bounds = [times, rates, halves, halves, halves, rates, changes, changes, changes, changes]
    else:
        start = [np.log(5e-6), np.log(1e10)]
        bounds = [times, rates]
    lower, upper = zip(*bounds, strict=True)
    result = least_squares(
        lambda p: np.log(base_seconds(kind, p, x)) - np.log(seconds), start,
        bounds=(lower, upper), method="trf",
    )  # fmt: skip
    return tuple(float(v) for v in result.x)


def leave_one_out_errors(kind: str, samples: Floats) -> Floats:
    """Each sample predicted from the others (the base fitted on all): the relative errors a
    layer of a shape not timed can expect."""
    parameters = fit_parameters(kind, samples)
    errors = []
    for i in range(len(samples)):
        rest = np.delete(samples, i, axis=0)
        predicted = predict_seconds(kind, parameters, rest, samples[i : i + 1, :-1])[0]
        errors.append(predicted / samples[i, -1] - 1)
    return np.array(errors)
