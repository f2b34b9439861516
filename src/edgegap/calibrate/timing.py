"""Timing a microbenchmark in ONNX Runtime: the operator's own time from the session's profile.

ONNX Runtime's profiler records each node's kernel time per run, and the process CPU time
of the run bounds what the run did (a thread's wait for a core on a shared machine is not
CPU time). A one-operator graph may gain
layout changes at its edges (ReorderInput/ReorderOutput into and out of the NCHWc blocked
layout), which inside a model happen only where the layout changes, so they are left out; the
session's per-run work (feeding inputs, allocating the output) is left out the same way, and
measured apart as the dispatch overhead (`dispatch_overhead`).
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from edgegap.calibrate.graphs import Kernel, chain
from edgegap.measure.runtime import inference_session
from edgegap.measure.stats import median

LAYOUT_CHANGES = ("ReorderInput", "ReorderOutput")
WARMUP = 2
TARGET_S = 0.03  # time each microbenchmark at least this long, in at least MIN_RUNS runs
MIN_RUNS = 5


def _feeds(kernel: Kernel) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    names = [i.name for i in kernel.model.graph.input]
    return {n: rng.standard_normal(s).astype(np.float32) for n, s in zip(names, kernel.input_shapes,
                                                                          strict=True)}  # fmt: skip


CONVOLUTIONS = ("Conv", "FusedConv")


def _operator_share(events: list[dict[str, Any]], runs: int, in_context: bool) -> np.ndarray:
    """Per timed run, the share of the run the microbenchmark's operator took in the profile.
    Alone, every node but the layout changes at the graph's edges; between convolutions,
    every node but the first and last convolutions and the layout changes into the first and
    out of the last (the first and last nodes of a run), so that those around the operator
    count (and an operator the runtime runs as a convolution, a batch norm's per-channel one,
    counts too)."""
    whole = [e["dur"] for e in events if e.get("cat") == "Session" and e["name"] == "model_run"]
    nodes = [
        e for e in events if e.get("cat") == "Node" and str(e["name"]).endswith("_kernel_time")
    ]
    per_run = len(nodes) // max(len(whole), 1)
    shares = []
    for index in range(len(whole) - runs, len(whole)):
        run = nodes[index * per_run : (index + 1) * per_run]
        ops = [str(e.get("args", {}).get("op_name")) for e in run]
        if in_context:
            convolutions = [i for i, op in enumerate(ops) if op in CONVOLUTIONS]
            around = {convolutions[0], convolutions[-1]} if convolutions else set()
            kept = [e for i, (e, op) in enumerate(zip(run, ops, strict=True))
                    if i not in around
                    and not (op in LAYOUT_CHANGES and i in (0, len(run) - 1))]  # fmt: skip
        else:
            kept = [e for e, op in zip(run, ops, strict=True) if op not in LAYOUT_CHANGES]
        operator = sum(float(e["dur"]) for e in kept)
        shares.append(min(operator / max(float(whole[index]), 1.0), 1.0))
    return np.array(shares)


def kernel_seconds(kernel: Kernel, threads: int) -> float:
    """The median over runs of the microbenchmark's operator time in a run, in seconds (per
    copy, where the graph runs `copies` of the layer): the
    process CPU time of the run over `threads`, times the operator's share of the run in the
    profile (`_operator_share`). CPU time does not count the time a thread waited for a core
    on a shared machine; the profile's wall-clock shares split it."""
    feeds = _feeds(kernel)
    with tempfile.TemporaryDirectory(prefix="edgegap-calibrate-") as folder:
        path = Path(folder) / "kernel.onnx"
        onnx.save(kernel.model, path)
        session = inference_session(
            path, threads, spinning=False, profile_prefix=str(Path(folder) / "profile")
        )
        start = time.process_time()
        session.run(None, feeds)
        once = time.process_time() - start
        runs = max(MIN_RUNS, min(200, int(TARGET_S / max(once, 1e-6))))
        for _ in range(WARMUP - 1):
            session.run(None, feeds)
        cpu = []
        for _ in range(runs):
            start = time.process_time()
            session.run(None, feeds)
            cpu.append((time.process_time() - start) / threads)
        events = json.loads(Path(session.end_profiling()).read_text())
    share = _operator_share(events, runs, kernel.in_context)
    return median(list(np.asarray(cpu) * share)) / kernel.copies


def dispatch_overhead(threads: int, lengths: tuple[int, int] = (1, 65)) -> tuple[float, float]:
    """(seconds per run, seconds per operator) that ONNX Runtime spends around the operators:
    the wall time of runs of two chains of tiny ReLUs, the slope per operator and the intercept
    per run."""
    times = []
    for length in lengths:
        kernel = chain(length)
        with tempfile.TemporaryDirectory(prefix="edgegap-calibrate-") as folder:
            path = Path(folder) / "chain.onnx"
            onnx.save(kernel.model, path)
            session = inference_session(path, threads, spinning=False)
            feeds = _feeds(kernel)
            for _ in range(20):
                session.run(None, feeds)
            walls = []
            for _ in range(200):
                start = time.perf_counter_ns()
                session.run(None, feeds)
                walls.append((time.perf_counter_ns() - start) * 1e-9)
        times.append(median(walls))
    per_operator = max((times[1] - times[0]) / (lengths[1] - lengths[0]), 0.0)
    return max(times[0] - per_operator * lengths[0], 0.0), per_operator
