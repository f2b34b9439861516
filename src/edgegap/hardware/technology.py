"""Technology: what a process node and a memory technology give a design, from sourced tables
(data/*.csv, a citation in every row).

- Node scaling (`data/cmos_scaling.csv`): area, dynamic energy and delay relative to 45 nm,
  from Stillmaker & Baas, "Scaling equations for the accurate prediction of CMOS device
  performance from 180 nm to 7 nm" (Integration 58, 2017), extended to 5 and 3 nm with TSMC's
  published node-to-node claims. Between tabulated nodes the factors are interpolated linearly
  in log(node) and log(factor). The paper expects scaling to stop helping around 5 nm: with
  `scaling_ends_nm` (default 5) a node below it gets that node's factors, no better; None lets
  the table's trend run on.
- Area (`data/area_model.csv`): the MAC array and the on-chip buffer at the TPU v1's published
  floor-plan densities (28 nm), scaled to a platform's node.
- Memory technologies (`data/memories.csv`): SRAM, DRAM and stacked memories, energy per bit
  and bandwidth; the trends read the same table.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np
import numpy.typing as npt
import pandas as pd

from edgegap.errors import UserError
from edgegap.hardware.platform import Platform

DATA = resources.files("edgegap.hardware") / "data"
MEMORY_TABLE = DATA / "memories.csv"
SCALING_ENDS_NM = 5.0
ON_CHIP = ("register", "array", "buffer")


@cache
def _read(name: str) -> pd.DataFrame:
    with (DATA / f"{name}.csv").open(encoding="utf-8") as handle:
        return pd.read_csv(handle)


# --- node scaling --------------------------------------------------------------------------


@dataclass(frozen=True)
class NodeFactors:
    """Area, dynamic energy per operation and gate delay, relative to 45 nm."""

    node_nm: float
    area: float
    energy: float
    delay: float


@cache
def _scaling_table() -> pd.DataFrame:
    table = _read("cmos_scaling")
    columns = ["area_factor", "energy_factor", "delay_factor"]
    return table.dropna(subset=columns).sort_values("node_nm")[["node_nm", *columns]]


def node_factors(node_nm: float) -> NodeFactors:
    table = _scaling_table()
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
    if not 1 <= node_nm <= 1000:  # the range a platform's process_nm allows (platform.py)
        raise UserError(f"impossible node {node_nm:g} nm: give a size in 1..1000 nm, e.g. 5")
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
        "(edgegap.hardware.technology, data/cmos_scaling.csv)."
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


# --- area ----------------------------------------------------------------------------------


def _area_table() -> pd.DataFrame:
    return _read("area_model").set_index("parameter")


def area_source(parameter: str) -> str:
    """The citation of one density in data/area_model.csv."""
    return str(_area_table().loc[parameter, "source"])


@cache
def _area_model() -> dict[str, float]:
    scale = {}
    for parameter, row in _area_table().iterrows():
        scale[str(parameter)] = float(row["value"]) / node_factors(float(row["node_nm"])).area
    return scale  # per 45 nm-equivalent area unit


def array_and_buffer_area(
    platform: Platform, macs: npt.NDArray[np.int64], buffer_bytes: npt.NDArray[np.int64]
) -> npt.NDArray[np.float64]:
    """Area (mm²) of `macs` MACs and a `buffer_bytes` SRAM buffer at the platform's node."""
    model = _area_model()
    node = node_factors(platform.process_nm).area
    mib = buffer_bytes / 2**20
    area = (macs * model["mac_array_area_per_mac"] + mib * model["sram_area_per_mib"]) * node
    return np.asarray(area, dtype=np.float64)


# --- memory technologies -------------------------------------------------------------------


@dataclass(frozen=True)
class MemoryTechnology:
    name: str
    type: str
    energy_pj_per_bit: float | None  # None: no sourced value
    bandwidth_gb_s: float | None
    source: str


def memory_technologies() -> pd.DataFrame:
    """data/memories.csv as it is; the copy is yours."""
    return _read("memories").copy()


def memory_technology(name: str) -> MemoryTechnology:
    """One row of data/memories.csv by name."""
    table = _read("memories").set_index("name")
    if name not in table.index:
        raise UserError(f"unknown memory '{name}': use a name from memories.csv")
    row = table.loc[name]

    def number(column: str) -> float | None:
        return None if pd.isna(row[column]) else float(row[column])

    return MemoryTechnology(
        name,
        str(row["type"]),
        number("energy_pj_per_bit"),
        number("bandwidth_gb_s"),
        str(row["source"]),
    )
