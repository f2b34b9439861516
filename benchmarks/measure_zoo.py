"""Measure every torchvision classifier of the zoo on this machine (`edgegap.measure`), at 1
and 2 onnxruntime threads, into benchmarks/data/host-zoo.csv: the measured side of the host
validation (benchmarks/validate_host.py), kept apart because it takes about an hour.

Each model is exported once (seeded random weights, fp32, batch 1, its default input size) and
measured in `--rounds` rounds; a round times every thread count in turn, so a burst of load
from other processes falls on both. Each round runs at least `--runs` timed runs and at least
`--seconds` of them after 2 warm-ups. The CSV keeps, per (model, threads), the medians of wall
and CPU time over all timed runs and the spread of the per-round medians; the machine, the
load and the date are in every row. A rerun skips the rows already in the file (`--redo` to
measure them again), so an interrupted run resumes.

Run: .venv/bin/python benchmarks/measure_zoo.py [--models a,b | --held-out] [--rounds 3]
(`--held-out`: the held-out split in force in validate_host.py, `HELD_OUT`)
"""

from __future__ import annotations

import argparse
import csv
import datetime
import io
import math
import tempfile
from pathlib import Path

import onnxruntime as ort

from edgegap.atomic import write_text
from edgegap.host import cpu_features, load_average, logical_cpus
from edgegap.measure import measure, median, percentile, prepare
from edgegap.workload import zoo

CSV = Path(__file__).resolve().parent / "data" / "host-zoo.csv"
TIMM_INPUT = (1, 3, 224, 224)
FIELDS = (
    "model", "threads", "input_shape", "wall_median_ms", "cpu_median_ms", "wall_p90_ms",
    "wall_min_ms", "cpu_min_ms", "round_medians_ms", "runs", "rounds", "cpu", "onnxruntime",
    "load_before", "load_after", "date",
)  # fmt: skip


Key = tuple[str, int, str]  # model, threads, the CPU it was measured on


def read_rows() -> dict[Key, dict[str, str]]:
    """Every measured row, by model, thread count and CPU: a machine of another CPU measures
    its own rows beside this one's (a calibration is compared with its own CPU's only)."""
    if not CSV.is_file():
        return {}
    with CSV.open() as handle:
        return {(r["model"], int(r["threads"]), r["cpu"]): r for r in csv.DictReader(handle)}


def write_rows(rows: dict[Key, dict[str, str]]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, FIELDS, lineterminator="\n")
    writer.writeheader()
    for key in sorted(rows):
        writer.writerow(rows[key])
    write_text(CSV, buffer.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--models",
        default="",
        help="comma-separated names or package.module:callable specs; "
        "default: all 80 zoo classifiers",
    )
    parser.add_argument(
        "--held-out",
        action="store_true",
        help="the held-out split declared in validate_host.py (HELD_OUT) instead of --models",
    )
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--redo", action="store_true")
    args = parser.parse_args()
    if args.held_out and args.models:
        parser.error("--held-out and --models choose the models two ways: give one")
    if args.held_out:
        from validate_host import HELD_OUT  # this folder is on the path of a script run here

        names = list(HELD_OUT)
    else:
        names = args.models.split(",") if args.models else list(zoo.classification_models())
    threads = [t for t in (1, 2) if t <= logical_cpus()]
    rows = read_rows()
    host = cpu_features().model
    for name in names:
        if not args.redo and all((name, t, host) in rows for t in threads):
            continue
        with tempfile.TemporaryDirectory(prefix="measure-zoo-") as folder:
            shape = TIMM_INPUT if ":" in name else None  # a callable has no default size
            try:
                model = prepare(name, Path(folder), shape)
            except Exception as error:  # a model the exporter cannot take is reported, not fatal
                print(f"{name}: skipped, {type(error).__name__}: {error}".splitlines()[0])
                continue
            probe = measure(model, threads=1, runs=1, warmup=1).wall_median_s
            runs = max(args.runs, math.ceil(args.seconds / max(probe, 1e-6)))
            results: dict[int, list] = {t: [] for t in threads}
            load_before = load_average()
            for _ in range(args.rounds):
                for count in threads:
                    results[count].append(measure(model, threads=count, runs=runs, warmup=2))
            load_after = load_average()
        for count, rounds in results.items():
            wall = [t for m in rounds for t in m.wall_s]
            cpu = [t for m in rounds for t in m.cpu_s]
            rows[(name, count, host)] = {
                "model": name,
                "threads": str(count),
                "input_shape": "x".join(map(str, model.input_shape)),
                "wall_median_ms": f"{median(wall) * 1e3:.4g}",
                "cpu_median_ms": f"{median(cpu) * 1e3:.4g}",
                "wall_p90_ms": f"{percentile(wall, 90) * 1e3:.4g}",
                "wall_min_ms": f"{min(wall) * 1e3:.4g}",
                "cpu_min_ms": f"{min(cpu) * 1e3:.4g}",
                "round_medians_ms": " ".join(f"{m.wall_median_s * 1e3:.4g}" for m in rounds),
                "runs": str(runs),
                "rounds": str(args.rounds),
                "cpu": host,
                "onnxruntime": ort.__version__,
                "load_before": f"{load_before:.2f}" if load_before is not None else "",
                "load_after": f"{load_after:.2f}" if load_after is not None else "",
                "date": str(datetime.date.today()),
            }
            row = rows[(name, count, host)]
            print(f"{name} x{count}: {row['wall_median_ms']} ms (CPU {row['cpu_median_ms']} ms)",
                  flush=True)  # fmt: skip
        write_rows(rows)


if __name__ == "__main__":
    main()
