"""Measured speed on a real runtime, compared: models timed alternately on ONNX Runtime so that
a speed-up between them is measured under the same load.

The cost model predicts what a bridge buys; this module measures it on the CPU at hand, so the
two can stand side by side (Xu et al., "Scaling for edge inference of deep neural networks",
Nature Electronics 2018, argue the gap must be closed on real hardware). Export, int8
quantisation and the session are the measurement stage's (`edgegap.measure.runtime`), shared
with `edgegap measure`, and re-exported here.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

import numpy as np

from edgegap.errors import UserError
from edgegap.measure.runtime import INPUT_SEED as INPUT_SEED
from edgegap.measure.runtime import export_onnx as export_onnx
from edgegap.measure.runtime import inference_session as inference_session
from edgegap.measure.runtime import quantize_static_int8 as quantize_static_int8
from edgegap.workload.shapes import check_shape


def time_interleaved(
    calls: Sequence[Callable[[], object]], runs: int = 20, warmup: int = 3
) -> list[dict[str, float]]:
    """Wall-clock time of each call: median, quartiles and interquartile range in
    milliseconds over `runs` timed runs after `warmup` untimed ones. The calls alternate run by
    run, so load from other processes on a shared machine falls on all of them alike and their
    ratio stays fair."""
    if runs < 2 or warmup < 0:
        raise UserError(f"need runs >= 2 and warmup >= 0, got runs={runs}, warmup={warmup}")
    for _ in range(warmup):
        for call in calls:
            call()
    times: list[list[float]] = [[] for _ in calls]
    for _ in range(runs):
        for call, samples in zip(calls, times, strict=True):
            start = time.perf_counter()
            call()
            samples.append((time.perf_counter() - start) * 1e3)
    stats = []
    for samples in times:
        q1, median, q3 = statistics.quantiles(samples, n=4, method="inclusive")
        stats.append({"median_ms": median, "q1_ms": q1, "q3_ms": q3, "iqr_ms": q3 - q1})
    return stats


def measure_latencies(
    paths: Sequence[Path],
    input_shape: Sequence[int],
    runs: int = 20,
    warmup: int = 3,
    threads: int = 1,
) -> list[dict[str, float]]:
    """Latency of one inference of each ONNX model on the same seeded random input, the
    models interleaved (`time_interleaved`) so that a speed-up between them is measured under
    the same load."""
    shape = tuple(input_shape)
    check_shape(shape)
    x = np.random.default_rng(INPUT_SEED).standard_normal(shape).astype(np.float32)
    sessions = [inference_session(path, threads) for path in paths]
    feeds = [{session.get_inputs()[0].name: x} for session in sessions]
    return time_interleaved(
        [partial(session.run, None, feed) for session, feed in zip(sessions, feeds, strict=True)],
        runs,
        warmup,
    )


def measure_latency(
    path: Path, input_shape: Sequence[int], runs: int = 20, warmup: int = 3, threads: int = 1
) -> dict[str, float]:
    """Latency of one inference of the ONNX model at `path`, batch as in `input_shape`, on
    ONNX Runtime's CPU provider with `threads` intra-op threads (see `time_interleaved`)."""
    return measure_latencies([path], input_shape, runs, warmup, threads)[0]
