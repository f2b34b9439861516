"""Technology scaling: a platform projected from its process node to another.

Factors (area, dynamic energy, delay, relative to 45 nm) come from `data/cmos_scaling.csv`:
Stillmaker & Baas, "Scaling equations for the accurate prediction of CMOS device performance
from 180 nm to 7 nm" (Integration 58, 2017), extended to 5 and 3 nm with TSMC's published
node-to-node claims; each row cites its source. Between tabulated nodes the factors are
interpolated linearly in log(node) and log(factor).

The paper expects scaling to stop helping around 5 nm: with `scaling_ends_nm` (default 5) a
node below it gets that node's factors, no better; None lets the table's trend run on.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import pandas as pd

from edgegap.bridges import tables
from edgegap.errors import UserError
from edgegap.hardware.platform import Platform

SCALING_ENDS_NM = 5.0
ON_CHIP = ("register", "array", "buffer")


@dataclass(frozen=True)
class NodeFactors:
    """Area, dynamic energy per operation and gate delay, relative to 45 nm."""

    node_nm: float
    area: float
    energy: float
    delay: float


@cache
def _table() -> pd.DataFrame:
    table = tables.read("cmos_scaling")
    columns = ["area_factor", "energy_factor", "delay_factor"]
    return table.dropna(subset=columns).sort_values("node_nm")[["node_nm", *columns]]


def node_factors(node_nm: float) -> NodeFactors:
    table = _table()
    low, high = float(table["node_nm"].min()), float(table["node_nm"].max())
    if not low <= node_nm <= high:
        raise UserError(f"no scaling data for {node_nm:g} nm: the table spans {low:g}-{high:g} nm")
    log_nodes = np.log(table["node_nm"].to_numpy(dtype=float))

    def at(column: str) -> float:
        values = np.log(table[column].to_numpy(dtype=float))
        return float(np.exp(np.interp(np.log(node_nm), log_nodes, values)))

    return NodeFactors(node_nm, at("area_factor"), at("energy_factor"), at("delay_factor"))


def scale_platform(
    platform: Platform, node_nm: float, scaling_ends_nm: float | None = SCALING_ENDS_NM
) -> Platform:
    """The same design at another node: area, on-chip energies and clock scale; off-chip
    memory is another technology and stays; the power budget is the user's, not the node's."""
    if node_nm <= 0:
        raise UserError(f"impossible node {node_nm:g} nm: give a positive size, e.g. 5")
    effective = max(node_nm, scaling_ends_nm) if scaling_ends_nm else node_nm
    before, after = node_factors(platform.process_nm), node_factors(effective)
    energy = after.energy / before.energy
    speed = before.delay / after.delay
    compute = platform.compute.model_dump() | {
        "clock_mhz": platform.compute.clock_mhz * speed,
        "mac_energy_pj": {p: e * energy for p, e in platform.compute.mac_energy_pj.items()},
    }
    memory = []
    for level in platform.memory:
        record = level.model_dump()
        if level.role in ON_CHIP:
            record["energy_pj_per_bit"] = level.energy_pj_per_bit * energy
            if level.bandwidth_gb_s is not None:
                record["bandwidth_gb_s"] = level.bandwidth_gb_s * speed
        memory.append(record)
    ends = f", scaling assumed to end at {scaling_ends_nm:g} nm" if scaling_ends_nm else ""
    note = (
        f"Projected from {platform.process_nm:g} nm to {node_nm:g} nm{ends}: area x"
        f"{after.area / before.area:.3g}, on-chip energy x{energy:.3g}, clock x{speed:.3g} "
        "(edgegap.bridges.scaling, data/cmos_scaling.csv)."
    )
    return Platform.model_validate(
        platform.model_dump()
        | {
            "name": f"{platform.name}-{node_nm:g}nm",
            "process_nm": node_nm,
            "area_mm2": platform.area_mm2 * after.area / before.area if platform.area_mm2 else None,
            "compute": compute,
            "memory": memory,
            "notes": f"{note} {platform.notes}".strip(),
        }
    )
