"""A grid of 12 compression recipes on LeNet-5 and the shipped MNIST digits, measured three
ways with `edgegap compress --grid`: in one process (no Ray), on a local Ray of 2 workers,
and on a Ray cluster of two nodes on loopback (`edgegap.loopback_cluster`, one CPU each)
through `--ray-address`. Prints the wall times (the whole command, Python start-up, Ray's
and dense training included), the speed-ups, whether the outputs are byte-identical, and the
machine's load average before each run, and writes them to docs/benchmarks.md.

    .venv/bin/python benchmarks/ray_grid.py
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from docs_section import write_section

from edgegap.loopback_cluster import loopback_cluster

# Every recipe fine-tunes LeNet-5 for the same number of epochs (eight, as a pruning
# schedule might), so that 12 tasks split evenly over 2 workers; the cheaper narrow channel
# prunings come last, where a worker left idle at the end waits least.
GRID = """\
model: lenet-5
dataset: mnist10k
dense_epochs: 2
seed: 0
target: eyeriss
recipes:
  - steps: [prune: {sparsity: 0.5, steps: 4, epochs: 2}]
    vary: {prune.sparsity: [0.5, 0.6, 0.7, 0.8, 0.9, 0.95]}
  - steps: [prune-channels: {keep: 0.5, epochs: 8}]
    vary: {prune-channels.keep: [0.8, 0.7, 0.6, 0.5, 0.4, 0.3]}
"""


def timed(grid: Path, *options: str) -> tuple[float, bytes, float]:
    """Wall seconds, the JSON output and the 1-minute load average before the run."""
    load = os.getloadavg()[0]
    command = [sys.executable, "-m", "edgegap", "compress", "--grid", str(grid),
               "--format", "json", *options]  # fmt: skip
    start = time.perf_counter()
    output = subprocess.run(command, check=True, capture_output=True).stdout
    return time.perf_counter() - start, output, load


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="runs of each way, interleaved")
    rounds = parser.parse_args().rounds
    ways = {
        "serial (`--workers 1`, no Ray)": (),
        "local Ray, `--workers 2`": ("--workers", "2"),
        "2-node loopback cluster, `--ray-address`": ("--ray-address",),
    }
    runs: dict[str, list[tuple[float, bytes, float]]] = {name: [] for name in ways}
    with tempfile.TemporaryDirectory() as folder:
        grid = Path(folder) / "grid.yaml"
        grid.write_text(GRID, encoding="utf-8")
        start = time.perf_counter()
        with loopback_cluster(2) as address:
            cluster_start_s = time.perf_counter() - start
            for _ in range(rounds):  # interleaved: a burst of load falls on every way alike
                for name, options in ways.items():
                    given = (*options, address) if options == ("--ray-address",) else options
                    runs[name].append(timed(grid, *given))
                    print(name, f"{runs[name][-1][0]:.1f} s, load {runs[name][-1][2]:.2f}")
    serial = runs[next(iter(ways))]
    reference = serial[0][1]
    fastest_serial = min(wall for wall, _, _ in serial)
    recipes = reference.count(b'"recipe": ')
    lines = [
        "| run | fastest wall s | speed-up | every output identical to serial | wall s (load "
        "average before) of each round |",
        "|---|---|---|---|---|",
    ]
    for name, done in runs.items():
        fastest = min(wall for wall, _, _ in done)
        same = all(output == reference for _, output, _ in done)
        each = ", ".join(f"{wall:.1f} ({load:.2f})" for wall, _, load in done)
        lines.append(f"| {name} | {fastest:.1f} | {fastest_serial / fastest:.2f}x | "
                     f"{'yes' if same else 'no'} | {each} |")  # fmt: skip
    table = "\n".join(lines)
    print(table)
    body = f"""\
`benchmarks/ray_grid.py`: `edgegap compress --grid` on {recipes} recipes of LeNet-5 on
mnist10k (pruning at six sparsities, channel pruning at six widths, eight fine-tuning
epochs each; two dense epochs shared by all; energy on Eyeriss) on this
{os.cpu_count()}-CPU machine, {rounds} round(s) of the three ways interleaved (the
fastest round compared: a burst of other processes' load falls on one round, not on one
way). Wall time of the whole command: Python and torch start-up, Ray's start and stop,
dense training and every recipe. The cluster is two Ray nodes of one CPU each on loopback
(`python -m edgegap.loopback_cluster`, started in {cluster_start_s:.1f} s, not counted),
which the command reaches with `--ray-address`.

{table}

Each task runs on one torch thread, seeded from the grid's seed, so the JSON is the same
byte for byte in every run. What brings the speed-up near 2x on 2 cores: Ray and its two
workers start while the driver trains the dense model, each worker imports torch and
receives the dataset and the dense weights once (not per task), and each task goes to
whichever worker is free. What it cannot hide: Ray's start (about 4 s) and stop, the dense
training, which every recipe waits for, and other processes on the same cores (the load
average column; above 2 the two workers share the cores with them).
"""
    write_section("## Grid search on Ray (`benchmarks/ray_grid.py`)", body)


if __name__ == "__main__":
    main()
