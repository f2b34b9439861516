"""Design-space sweep of a systolic platform: array shape, dataflow and buffer size, every
design evaluated by the one cost model (`evaluate_designs`), and the Pareto front of latency,
energy and area.

Area counts what the sweep changes: the MAC array and the on-chip buffer
(`hardware.technology.array_and_buffer_area`: the TPU v1's published floor-plan densities
scaled to the platform's node).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from edgegap.errors import UserError
from edgegap.hardware.cost import Designs, evaluate_designs
from edgegap.hardware.platform import Platform
from edgegap.hardware.systolic import DATAFLOWS
from edgegap.hardware.technology import array_and_buffer_area
from edgegap.pareto import pareto_mask
from edgegap.workload.layer import Workload

CHUNK = 4096  # designs per evaluation: bounds memory at (layers x CHUNK) arrays


@dataclass(frozen=True)
class SweepResult:
    designs: pd.DataFrame  # one row per design: array, sram_kb, dataflow, latency, energy, area
    elapsed_s: float

    @property
    def pareto(self) -> pd.DataFrame:
        return self.designs[self.designs["pareto"]].sort_values("latency_s")

    def to_dict(self) -> dict[str, Any]:
        columns = ["array", "sram_kb", "dataflow", "latency_s", "energy_j", "area_mm2"]
        return {
            "designs_evaluated": len(self.designs),
            "elapsed_s": self.elapsed_s,
            "pareto": self.pareto[columns].to_dict(orient="records"),
        }


def sweep(
    workload: Workload,
    platform: Platform,
    rows: Sequence[int],
    cols: Sequence[int],
    sram_kb: Sequence[int],
    dataflows: Sequence[str],
    progress: Callable[[int, int], None] | None = None,
) -> SweepResult:
    """Every combination of rows x cols x buffer size (the outermost buffer's) x dataflow, on
    `platform` otherwise."""
    if platform.compute.array is None:
        raise UserError(
            f"a sweep varies a systolic array; {platform.name} is {platform.compute.described}"
        )
    if platform.level("buffer") is None:
        raise UserError(f"{platform.name} has no on-chip buffer level to size")
    unknown = [d for d in dataflows if d not in DATAFLOWS]
    if unknown:
        raise UserError(f"unknown dataflow {', '.join(unknown)}: use os, ws or is")
    grid = np.array(
        list(itertools.product(rows, cols, [DATAFLOWS.index(d) for d in dataflows], sram_kb)),
        dtype=np.int64,
    ).reshape(-1, 4)
    start = time.perf_counter()
    latency = np.empty(len(grid))
    energy = np.empty(len(grid))
    for first in range(0, len(grid), CHUNK):
        part = grid[first : first + CHUNK]
        designs = Designs(part[:, 0], part[:, 1], part[:, 2], part[:, 3] * 1024)
        evaluation = evaluate_designs(workload, platform, designs)
        latency[first : first + CHUNK] = evaluation.latency_s.sum(axis=0)
        energy[first : first + CHUNK] = evaluation.energy_j.sum(axis=0)
        if progress is not None:
            progress(min(first + CHUNK, len(grid)), len(grid))
    area = array_and_buffer_area(platform, grid[:, 0] * grid[:, 1], grid[:, 3] * 1024)
    frame = pd.DataFrame(
        {
            "array": [f"{r}x{c}" for r, c in grid[:, :2]],
            "sram_kb": grid[:, 3],
            "dataflow": [DATAFLOWS[i] for i in grid[:, 2]],
            "latency_s": latency,
            "energy_j": energy,
            "area_mm2": area,
        }
    )
    frame["pareto"] = pareto_mask(np.column_stack([latency, energy, area]))
    return SweepResult(frame, time.perf_counter() - start)


# The largest value each swept option takes: an array side as a platform file allows, a
# buffer of 2**30 KB (1 TiB); and the most designs one option may contribute.
RANGE_BOUNDS = {"array": 65536, "sram-kb": 2**30}
MAX_VALUES = 10_000


def parse_range(text: str, name: str) -> list[int]:
    """`8..256` -> powers of two from 8 to 256; `8..256:8` -> 8, 16, ..., 256; `32` -> [32]."""
    bound = RANGE_BOUNDS.get(name, 2**31 - 1)
    step: int | None = None  # None: powers of two
    try:
        if ".." not in text:
            low = high = int(text)
            step = 1
        else:
            span, _, step_text = text.partition(":")
            low, high = (int(part) for part in span.split(".."))
            step = int(step_text) if step_text else None
    except ValueError:
        raise UserError(f"malformed --{name} '{text}': use A..B, A..B:STEP or a number") from None
    if not 1 <= low <= high:
        raise UserError(f"--{name} '{text}': give A..B with 1 <= A <= B")
    if max(low, high) > bound:
        raise UserError(f"--{name} '{text}' goes above {bound:,}: give values up to {bound:,}")
    if step is None:
        values = [2**k for k in range(64) if low <= 2**k <= high]
    elif step <= 0:
        raise UserError(f"--{name} '{text}': the step must be a positive integer")
    elif (high - low) // step + 1 > MAX_VALUES:
        raise UserError(
            f"--{name} '{text}' gives more than {MAX_VALUES:,} values: use a larger step"
        )
    else:
        values = list(range(low, high + 1, step))
    if not values or min(values) <= 0:
        raise UserError(f"--{name} '{text}' gives no positive values")
    return values
