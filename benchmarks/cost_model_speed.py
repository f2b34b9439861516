"""How fast the analytic cost model sweeps a design space, next to SCALE-Sim.

The claim (docs/benchmarks.md): at least 1 million (layer, design) pairs per second when
sweeping systolic-array shapes, dataflows and buffer sizes with numpy. In the same run, where
SCALE-Sim 3.0.0 is installed in its own environment (`--scalesim-python`, it needs
numpy<2.4), SCALE-Sim simulates the same layers on one design, and edgegap's wall time for that
design is put beside it.

Run: .venv/bin/python benchmarks/cost_model_speed.py [--scalesim-python /path/to/python]
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import platform as host
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from docs_section import write_section

import edgegap
from edgegap.bridges.sweep import sweep
from edgegap.hardware import load_platform
from edgegap.hardware.cost import Designs, estimate, evaluate_designs
from edgegap.hardware.systolic import DATAFLOWS
from edgegap.workload.scalesim import read_topology

ROOT = Path(__file__).resolve().parent.parent
HEADING = "## Cost model: design-space sweep speed"
TOPOLOGY = ROOT / "tests" / "data" / "scalesim" / "alexnet_conv.csv"
SIZES = np.arange(8, 257, 8)  # array rows and columns 8..256
BUFFERS_KB = (64, 128, 256, 512, 1024, 2048, 4096)

SCALESIM_RUN = """
import sys, time
from scalesim.scale_sim import scalesim
config, topology, layout, out = sys.argv[1:5]
start = time.perf_counter()
sim = scalesim(save_disk_space=True, verbose=False, config=config, topology=topology,
               layout=layout, input_type_gemm=False)
sim.run_scale(top_path=out)
print(time.perf_counter() - start)
"""


def grid() -> Designs:
    combos = list(itertools.product(SIZES, SIZES, range(3), BUFFERS_KB))
    rows, cols, dataflow, buffer_kb = (np.array(column) for column in zip(*combos, strict=True))
    return Designs(rows, cols, dataflow, buffer_kb * 1024)


def best_of(call, repeats: int = 3) -> float:
    call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return min(times)


def scalesim_seconds(python: str) -> float:
    """Wall time of SCALE-Sim on the AlexNet topology, 32x32 os, compute cycles only."""
    template = (ROOT / "tests" / "data" / "scalesim" / "scale.cfg").read_text()
    with tempfile.TemporaryDirectory() as work:
        config = Path(work) / "scale.cfg"
        config.write_text(re.sub(r"run_name = .*", "run_name = bench", template))
        layout = Path(work) / "layout.csv"
        layout.write_text("Layer name,\n")
        result = subprocess.run(
            [python, "-c", SCALESIM_RUN, str(config), str(TOPOLOGY), str(layout), work + "/out"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
    return float(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scalesim-python", help="python of a venv with scalesim==3.0.0")
    args = parser.parse_args()

    platform = load_platform("systolic-generic")
    designs = grid()
    rows = []
    for name in ("resnet50", "mobilenet_v2"):
        workload = edgegap.profile(name, dtype="int8")
        # Every traced layer (fuse=False): the pairs counted are the pairs evaluated.
        seconds = best_of(
            lambda w=workload: evaluate_designs(w, platform, designs, fuse=False), repeats=1
        )
        pairs = len(workload.layers) * len(designs)
        rows.append((name, len(workload.layers), len(designs), pairs, seconds))

    resnet50 = edgegap.profile("resnet50", dtype="int8")
    swept = sweep(resnet50, platform, list(SIZES), list(SIZES), list(BUFFERS_KB), DATAFLOWS)
    topology = read_topology(TOPOLOGY)
    one = platform.with_compute(rows=32, cols=32, dataflow="os")
    edgegap_seconds = best_of(lambda: estimate(topology, one))
    scalesim = scalesim_seconds(args.scalesim_python) if args.scalesim_python else None

    lines = [
        f"Produced by `.venv/bin/python benchmarks/cost_model_speed.py"
        f"{' --scalesim-python ...' if scalesim else ''}` on {datetime.date.today()}; "
        f"{host.processor() or host.machine()}, Python {host.python_version()}.",
        "",
        f"Sweep: array rows and columns 8..256 in steps of 8, dataflows os/ws/is, buffers "
        f"{', '.join(map(str, BUFFERS_KB))} KB on `systolic-generic` (int8): "
        f"{len(designs):,} designs, every layer of the model (MAC layers and the rest), one "
        "`evaluate_designs` call (latency, energy and traffic per level for every pair).",
        "",
        "| model | layers | designs | (layer, design) pairs | seconds | pairs per second |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, layers, count, pairs, seconds in rows:
        rate = pairs / seconds
        lines.append(f"| {name} | {layers} | {count:,} | {pairs:,} | {seconds:.2f} | {rate:,.0f} |")
    lines += [
        "",
        f"`edgegap sweep resnet50 --array 8..256:8` (the same {len(swept.designs):,} designs, "
        f"with area and the Pareto front of latency, energy and area): "
        f"{swept.elapsed_s:.2f} s, {len(swept.pareto)} designs on the front (goal: 10,000 "
        "designs in under 10 s).",
        "",
        "Same layers, one design (AlexNet's five conv layers from "
        "`tests/data/scalesim/alexnet_conv.csv`, 32x32, os):",
        "",
        "| tool | seconds | cycles agree |",
        "| --- | ---: | --- |",
        f"| edgegap `estimate` | {edgegap_seconds:.4f} | exactly (tests/test_systolic.py) |",
    ]
    if scalesim is not None:
        lines.append(f"| SCALE-Sim 3.0.0 | {scalesim:.1f} | |")
        lines += ["", f"edgegap is {scalesim / edgegap_seconds:,.0f}x faster on this design."]
    else:
        lines += ["", "SCALE-Sim was not run (no `--scalesim-python`)."]
    body = "\n".join(lines)
    print(f"{HEADING}\n\n{body}")
    write_section(HEADING, body)


if __name__ == "__main__":
    sys.exit(main())
