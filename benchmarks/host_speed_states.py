"""Why the host validation compares fastest runs: this machine's cores run at two speeds.

Times a few models back to back in one process for `--seconds`, one run of each in turn at 1
onnxruntime thread, and reports per model the spread of the process CPU time per run: the
fastest, the 10th, 50th and 90th percentiles, the slowest, and the share of runs within 5% of
the fastest. On a machine of one's own the runs sit within a few percent of each other; on a
shared virtual machine a busy neighbour slows the core for seconds at a time, inside CPU time,
and every model slows together.

A second table times one operator on two inputs of the same shape: swin_t's first-stage
attention softmax (9,408 rows of 49) on standard-normal logits and on logits 30 times wider, as
a mask of -100 makes them; the wide ones' exponentials underflow to denormal numbers, which the
CPU computes slowly: a cost the shapes a cost model sees cannot show. Writes the "Host speed
states" section of docs/benchmarks.md.

Run: .venv/bin/python benchmarks/host_speed_states.py [--seconds 40]
"""

from __future__ import annotations

import argparse
import datetime
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from docs_section import write_section

from edgegap.calibrate import graphs
from edgegap.host import cpu_features
from edgegap.measure import percentile, prepare
from edgegap.measure.runtime import inference_session

MODELS = ("resnet50", "densenet121", "timm.models.densenet:densenet121")
SHAPE = (1, 3, 224, 224)
NEAR_FASTEST = 0.05


SOFTMAX_ROWS, SOFTMAX_WIDTH = 9408, 49  # swin_t's first stage: 64 windows x 3 heads x 49
SCALES = (1.0, 30.0)


def softmax_table() -> list[str]:
    kernel = graphs.normalization("softmax", SOFTMAX_ROWS, SOFTMAX_WIDTH)
    rng = np.random.default_rng(0)
    lines = [
        f"Softmax over the last axis of 1 x {SOFTMAX_ROWS:,} x {SOFTMAX_WIDTH}, 1 thread, the "
        "fastest of 50 runs after 5 warm-ups (wall time):",
        "",
        "| logits | fastest ms |",
        "|---|---|",
    ]
    with tempfile.TemporaryDirectory(prefix="speed-states-") as folder:
        path = Path(folder) / "softmax.onnx"
        onnx.save(kernel.model, path)
        session = inference_session(path, threads=1)
        for scale in SCALES:
            feed = {"x": (rng.standard_normal(kernel.input_shapes[0]) * scale).astype(np.float32)}
            for _ in range(5):
                session.run(None, feed)
            runs = []
            for _ in range(50):
                began = time.perf_counter()
                session.run(None, feed)
                runs.append(time.perf_counter() - began)
            lines.append(f"| standard normal x {scale:g} | {min(runs) * 1e3:.2f} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=40.0)
    args = parser.parse_args()
    feed = np.random.default_rng(0).standard_normal(SHAPE).astype(np.float32)
    times: dict[str, list[float]] = {name: [] for name in MODELS}
    with tempfile.TemporaryDirectory(prefix="speed-states-") as folder:
        sessions = {}
        for name in MODELS:
            session = inference_session(prepare(name, Path(folder), SHAPE).path, threads=1)
            sessions[name] = (session, session.get_inputs()[0].name)
        for session, input_name in sessions.values():
            session.run(None, {input_name: feed})
        start = time.perf_counter()
        while time.perf_counter() - start < args.seconds:
            for name, (session, input_name) in sessions.items():
                began = time.process_time()
                session.run(None, {input_name: feed})
                times[name].append(time.process_time() - began)
    lines = [
        f"Produced by `.venv/bin/python benchmarks/host_speed_states.py --seconds "
        f"{args.seconds:g}` on {datetime.date.today()}, {cpu_features().model}, onnxruntime "
        f"{ort.__version__}: the models of the table run one after another in one process "
        "for that long, 1 thread, seeded random weights and input, 224 x 224; process CPU "
        "time per run, in ms.",
        "",
        "| model | runs | fastest | p10 | median | p90 | slowest | median / fastest | "
        f"runs within {NEAR_FASTEST:.0%} of the fastest |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, found in times.items():
        ms = [t * 1e3 for t in found]
        fastest = min(ms)
        near = sum(t <= fastest * (1 + NEAR_FASTEST) for t in ms) / len(ms)
        lines.append(
            f"| {name} | {len(ms)} | {fastest:.1f} | {percentile(ms, 10):.1f} | "
            f"{percentile(ms, 50):.1f} | {percentile(ms, 90):.1f} | {max(ms):.1f} | "
            f"{percentile(ms, 50) / fastest:.2f} | {near:.0%} |"
        )
    lines += ["", *softmax_table()]
    body = "\n".join(lines)
    print(body)
    write_section("## Host speed states", body)


if __name__ == "__main__":
    main()
