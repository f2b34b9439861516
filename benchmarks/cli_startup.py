"""How long `edgegap` commands take as a user sees it: a fresh process each time, from start
to exit (imports, work, output to a pipe), median wall time of several runs.

The commands that need no model (`--help`, `hw list`, `hw show`, `zoo`) should not pay for
torch; `profile resnet18` does, and is the yardstick the others are divided by. With
`--baseline REV` the same commands also run from the `src/` of that git revision, in the same
session and interleaved with the current tree's runs, so both columns see the same machine.

Run: .venv/bin/python benchmarks/cli_startup.py [--runs 7] [--baseline REV]
Writes docs/cli-startup.md.
"""

from __future__ import annotations

import argparse
import datetime
import io
import os
import platform as host
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from edgegap.atomic import write_text

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "cli-startup.md"
COMMANDS = [
    ["--help"],
    ["hw", "list"],
    ["hw", "show", "eyeriss"],
    ["zoo"],
    ["profile", "resnet18"],
]
YARDSTICK = ["profile", "resnet18"]
HEAVY = ("torch", "torchvision", "pandas", "numpy")
_LOADED = (
    "import runpy, sys; sys.argv = ['edgegap', *sys.argv[1:]]\n"
    "try:\n    runpy.run_module('edgegap', run_name='__main__')\n"
    "except SystemExit:\n    pass\n"
    f"print(','.join(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)\n"
)


def _env(src: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(src), "COLUMNS": "80"}


def wall_time(src: Path, args: list[str]) -> float:
    """Seconds from spawning `python -m edgegap ARGS` to its exit, stdout on a pipe."""
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "edgegap", *args],
        env=_env(src), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, check=True,
    )  # fmt: skip
    return time.perf_counter() - start


def heavy_modules(src: Path, args: list[str]) -> str:
    """Which of torch, torchvision, pandas and numpy the command loaded (an untimed run)."""
    result = subprocess.run(
        [sys.executable, "-c", _LOADED, *args],
        env=_env(src), stdin=subprocess.DEVNULL, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return result.stderr.strip().splitlines()[-1] if result.stderr.strip() else ""


def extract(revision: str, into: Path) -> Path:
    """The `src/` of a git revision, unpacked under `into`."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", revision, "src"], capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into / "src"


def measure(trees: dict[str, Path], runs: int) -> dict[tuple[str, str], list[float]]:
    times: dict[tuple[str, str], list[float]] = {}
    for src in trees.values():  # warm the file cache; not counted
        for args in COMMANDS:
            wall_time(src, args)
    for _ in range(runs):  # interleaved: every command of every tree in each round
        for args in COMMANDS:
            for tree, src in trees.items():
                times.setdefault((tree, " ".join(args)), []).append(wall_time(src, args))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="timed runs per command")
    parser.add_argument("--baseline", help="git revision whose src/ to time beside this one")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        trees = {"now": ROOT / "src"}
        if args.baseline:
            trees = {"before": extract(args.baseline, Path(scratch)), **trees}
        times = measure(trees, args.runs)
        loaded = {
            (tree, " ".join(c)): heavy_modules(src, c)
            for tree, src in trees.items()
            for c in COMMANDS
        }
    median = {key: statistics.median(values) for key, values in times.items()}
    yardstick = " ".join(YARDSTICK)
    if args.baseline:
        header = [
            "| command | before (s) | now (s) | speed-up | now / `profile resnet18` | "
            "before loads | now loads |",
            "| --- | ---: | ---: | ---: | ---: | --- | --- |",
        ]
    else:
        header = [
            "| command | seconds | / `profile resnet18` | loads |",
            "| --- | ---: | ---: | --- |",
        ]
    rows = []
    for command in (" ".join(c) for c in COMMANDS):
        now = median["now", command]
        share = f"{now / median['now', yardstick]:.2f}"
        loads = loaded["now", command] or "none of them"
        if args.baseline:
            before = median["before", command]
            rows.append(
                f"| `edgegap {command}` | {before:.2f} | {now:.2f} | {before / now:.1f}x | "
                f"{share} | {loaded['before', command] or 'none of them'} | {loads} |"
            )
        else:
            rows.append(f"| `edgegap {command}` | {now:.2f} | {share} | {loads} |")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    command_line = "benchmarks/cli_startup.py" + (
        f" --runs {args.runs}" + (f" --baseline {args.baseline}" if args.baseline else "")
    )
    lines = [
        "# CLI start-up",
        "",
        f"Produced by `.venv/bin/python {command_line}` on {datetime.date.today()}; "
        f"{host.machine()}, {os.cpu_count()} CPUs, Python {host.python_version()}, load "
        f"average {load:.1f} at the end. Each cell is the median wall time of {args.runs} "
        "runs of a fresh `python -m edgegap ...` process with stdout on a pipe (imports, work "
        "and exit; the file cache warmed by one untimed run of each); all cells come from "
        "this one run, the trees' runs interleaved. `loads`: which of "
        f"{', '.join(HEAVY)} the command imported.",
        "",
        *(
            [
                f"`before` is the `src/` of git revision `{args.baseline}`, where every "
                "command imported torch and torchvision before parsing its arguments; `now` is "
                "this tree, where a command imports what it uses when it runs.",
                "",
            ]
            if args.baseline
            else []
        ),
        *header,
        *rows,
        "",
        "`--help`, `hw` and `zoo` need no torch (the zoo's metadata ships as "
        "`src/edgegap/workload/data/zoo.csv`); `tests/test_terminal.py` checks that they "
        "import none of it. A test of the times themselves would depend on the machine, so "
        "there is none: rerun this script.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    write_text(DOC, text)


if __name__ == "__main__":
    main()
