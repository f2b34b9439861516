"""Measured latency of a handful of zoo models on this machine (`edgegap.measure`), at 1 and 2
onnxruntime threads, beside the simplest baseline prediction: MACs over the machine's measured
fp32 GEMM peak. Writes docs/measure-host.md.

Each model is exported once (seeded random weights, fp32) and then measured in `--rounds`
rounds; a round measures every model at every thread count (and the GEMM peak) in turn, so a
burst of load from other processes falls on all of them rather than on one. The statistics pool
the timed runs of every round; the spread of the per-round medians shows how repeatable they
were. The achieved MAC rate (profiled MACs over the median latency) is what a calibrated
platform must predict; the baseline divides the MACs by the peak, as a datasheet user would.

Run: .venv/bin/python benchmarks/measure_host.py [--rounds 5] [--runs 20]  (about 2-5 minutes
on 2 cores)
"""

from __future__ import annotations

import argparse
import datetime
import platform as host
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnx import TensorProto, helper, numpy_helper

import edgegap
from edgegap.atomic import write_text
from edgegap.host import cpu_features, load_average, logical_cpus
from edgegap.measure import Measurement, OnnxModel, measure, median, onnx_file, percentile, prepare

DOC = Path(__file__).resolve().parent.parent / "docs" / "measure-host.md"
MODELS = (
    "resnet18", "mobilenet_v2", "mobilenet_v3_small", "squeezenet1_0", "efficientnet_b0",
    "shufflenet_v2_x1_0", "regnet_y_400mf",
)  # fmt: skip
GEMM = 1024  # square fp32 MatMul for the peak
WITHIN = 0.25  # the band: a prediction within +-25% of the measurement


def gemm_model(folder: Path) -> OnnxModel:
    """A 1024^3 fp32 MatMul, x @ B with B a constant: the rate MLAS's GEMM reaches here."""
    rng = np.random.default_rng(0)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [GEMM, GEMM])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [GEMM, GEMM])
    b = numpy_helper.from_array(rng.standard_normal((GEMM, GEMM), np.float32), "b")
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "b"], ["y"])], "gemm", [x], [y],
                              [b])  # fmt: skip
    path = folder / "gemm.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return onnx_file(path, name=f"GEMM {GEMM}^3")


@dataclass
class Pooled:
    """Every round's measurement of one model at one thread count."""

    rounds: list[Measurement]

    @property
    def wall(self) -> list[float]:
        return [t for m in self.rounds for t in m.wall_s]

    @property
    def cpu(self) -> list[float]:
        return [t for m in self.rounds for t in m.cpu_s]

    @property
    def median(self) -> float:
        return median(self.wall)

    def spread(self) -> str:
        medians = [m.wall_median_s * 1e3 for m in self.rounds]
        return f"{min(medians):.3g} to {max(medians):.3g}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()
    threads = [t for t in (1, 2) if t <= logical_cpus()]
    cpu = cpu_features()
    print(f"CPU: {cpu.model} ({logical_cpus()} logical CPUs); threads {threads}", flush=True)
    macs = {"gemm": GEMM**3, **{name: edgegap.profile(name).totals.macs for name in MODELS}}
    load_before = load_average()
    with tempfile.TemporaryDirectory(prefix="measure-host-") as folder:
        work = Path(folder)
        prepared = {"gemm": gemm_model(work)}
        for name in MODELS:
            print(f"exporting {name}", flush=True)
            prepared[name] = prepare(name, work)
        results: dict[tuple[str, int], Pooled] = {}
        for round_ in range(args.rounds):
            for name, model in prepared.items():
                for count in threads:
                    m = measure(model, threads=count, runs=args.runs, warmup=args.warmup)
                    results.setdefault((name, count), Pooled([])).rounds.append(m)
                    print(f"round {round_ + 1} {name} x{count}: {m.wall_median_s * 1e3:.2f} ms "
                          f"(CPU {m.cpu_median_s * 1e3:.2f} ms)", flush=True)  # fmt: skip
    load_after = load_average()
    peak = {count: GEMM**3 / results[("gemm", count)].median for count in threads}
    rows, errors = table(results, macs, peak, threads)
    text = document(args, cpu.model, cpu.present(), threads, peak, rows, errors, results,
                    (load_before, load_after))  # fmt: skip
    print(text, flush=True)
    write_text(DOC, text)


def table(
    results: dict[tuple[str, int], Pooled],
    macs: dict[str, int],
    peak: dict[int, float],
    threads: list[int],
) -> tuple[list[str], dict[int, list[float]]]:
    rows = [
        "| model | MMACs | threads | median ms | p90 ms | min ms | round medians ms | CPU ms "
        "| CPU/wall | speed-up x2 | GMAC/s | GMAC/s per CPU-s | MACs/peak ms | baseline error |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
        "| ---: | ---: |",
    ]
    errors: dict[int, list[float]] = {count: [] for count in threads}
    for name in ("gemm", *MODELS):
        for count in threads:
            pooled = results[(name, count)]
            wall, cpu = pooled.wall, pooled.cpu
            baseline = macs[name] / peak[count]
            error = baseline / pooled.median - 1
            if name != "gemm":  # the peak itself: 0% by definition
                errors[count].append(error)
            speedup = results[(name, 1)].median / pooled.median if count > 1 else None
            label = f"GEMM {GEMM}^3 (the peak)" if name == "gemm" else name
            rows.append(
                f"| {label} | {macs[name] / 1e6:.0f} | {count} | {pooled.median * 1e3:.2f} "
                f"| {percentile(wall, 90) * 1e3:.2f} | {min(wall) * 1e3:.2f} | {pooled.spread()} "
                f"| {median(cpu) * 1e3:.2f} | {median(cpu) / pooled.median:.2f} "
                f"| {f'{speedup:.2f}x' if speedup else ''} "
                f"| {macs[name] / pooled.median / 1e9:.1f} | {macs[name] / median(cpu) / 1e9:.1f} "
                f"| {baseline * 1e3:.2f} | {error:+.0%} |"
            )
    return rows, errors


def document(
    args: argparse.Namespace,
    cpu: str,
    flags: str,
    threads: list[int],
    peak: dict[int, float],
    rows: list[str],
    errors: dict[int, list[float]],
    results: dict[tuple[str, int], Pooled],
    load: tuple[float | None, float | None],
) -> str:
    sample = results[(MODELS[0], threads[0])].rounds[0]
    loads = " and ".join(f"{v:.2f}" if v is not None else "n/a" for v in load)
    gemm = "; ".join(
        f"{count} thread(s): {results[('gemm', count)].median * 1e3:.2f} ms, "
        f"{peak[count] / 1e9:.1f} GMAC/s" for count in threads
    )  # fmt: skip
    summary = []
    for count in threads:
        found = errors[count]
        inside = sum(abs(e) <= WITHIN for e in found)
        summary.append(
            f"- {count} thread(s): {inside} of {len(found)} models within ±{WITHIN:.0%}, median "
            f"|error| {median([abs(e) for e in found]):.0%}, from {min(found):+.0%} to "
            f"{max(found):+.0%}."
        )
    return (
        "# Measured latency on this machine\n\n"
        f"Produced by `.venv/bin/python benchmarks/measure_host.py --rounds {args.rounds} "
        f"--runs {args.runs}` on {datetime.date.today()}: CPU {cpu} ({sample.logical_cpus} "
        f"logical CPUs the process may use), flags {flags}; onnxruntime "
        f"{ort.__version__} ({sample.provider}, {sample.graph_optimization}, "
        f"{sample.execution_mode}, {sample.inter_op_threads} inter-op thread, idle workers "
        f"{'spinning' if sample.spinning else 'sleeping'}), torch {torch.__version__}, Python "
        f"{host.python_version()}. 1-minute load average {loads} before and after the timed "
        "runs: the machine is shared, and other processes ran beside these.\n\n"
        "Each model is `edgegap.measure.prepare`d once (torchvision's own random "
        "initialisation, seed 0, exported by the dynamo exporter, fp32, batch 1, 224x224) and "
        f"then measured in {args.rounds} rounds of {args.runs} timed runs after {args.warmup} "
        "warm-ups; a round measures every model at every thread count in turn. Statistics pool "
        f'the {args.rounds * args.runs} timed runs; "round medians" is the range of the '
        "per-round medians. CPU ms is the median process CPU time per run (all threads); CPU/wall "
        "below 1 at one thread is time the process waited for a CPU. Speed-up x2: the 1-thread "
        "median over the 2-thread one. GMAC/s: MACs (`edgegap.profile`, torchvision's "
        "`_ops`) over the median wall time; per CPU-s: over the median CPU time, the rate per "
        "busy core-second, which waiting does not dilute.\n\n"
        f"**Baseline.** MACs / peak, the peak being this machine's fp32 GEMM rate measured in "
        f"the same rounds ({GEMM}^3 MatMul in onnxruntime; {gemm}); error = baseline / "
        "measured - 1 (negative: the baseline predicts faster than measured). This is the "
        "prediction a calibrated platform must clearly beat (issue 13).\n\n"
        + "\n".join(rows)
        + "\n\nBaseline against measurement:\n\n"
        + "\n".join(summary)
        + "\n"
    )


if __name__ == "__main__":
    main()
