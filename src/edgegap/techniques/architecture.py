"""Architecture bridges: each a transform of a platform (and, where the bridge changes what
runs, of the workload) that the one cost model then evaluates unchanged.

The paper's "Architecture innovations", made quantitative against a baseline edge platform:
- systolic: the dataflow, and the array shape at the same number of PEs, that suit the workload;
- near-data: off-chip DRAM replaced by stacked memory (HBM2, HMC) from `memories.csv`
  (`hardware.technology`); eDRAM beside the compute holding the whole model (DaDianNao); and
  the in-sensor case (ShiDianNao) with no DRAM at all, the SRAM buffer grown to hold the model;
- in-memory: the MAC array replaced by ReRAM crossbars with ISAAC's published parameters,
  enough of them to hold every weight; SRAM compute-in-memory is listed as skipped, since no
  source read gives its energy per array operation (docs/bridges.md);
- spiking: synaptic events x TrueNorth's energy per event, for a given spike count per neuron;
- scaling: the same design at another node (`hardware.technology.scale_platform`).
Each is a registered technique of the "architecture" group: `bridge` builds the new platform
with its area, notes and sources, `apply` is its analytic face.
Every parameter is read from `data/bridge_parameters.csv` or `memories.csv` with its source; a
bridge whose inputs are not sourced is listed as skipped, with the reason.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources
from typing import Any, Literal

import numpy as np
import pandas as pd

from edgegap.errors import UserError
from edgegap.hardware.cost import Designs, evaluate_designs
from edgegap.hardware.engines.in_memory import crossbar_tiles
from edgegap.hardware.fit import fits
from edgegap.hardware.layers import precision_for
from edgegap.hardware.platform import Crossbar, Platform
from edgegap.hardware.systolic import DATAFLOWS
from edgegap.hardware.technology import (
    SCALING_ENDS_NM,
    area_source,
    array_and_buffer_area,
    memory_technologies,
    memory_technology,
    node_factors,
    scale_platform,
)
from edgegap.techniques.base import NotAvailable, Param, Setting, Technique, register
from edgegap.workload.layer import Workload

Kind = Literal["systolic", "near-data", "in-memory", "spiking", "scaling"]
NEAR_DATA_MEMORIES = (
    "HBM2",
    "HMC (Hybrid Memory Cube, Gen1)",
    "Wide I/O (mobile, TSV)",
)
SEARCHES = ("dataflow", "shape")  # what the systolic technique searches, in that order
SPIKES_PER_NEURON = 1.0  # an assumption the user sets: one spike per neuron per inference
SCALE_SIM = "Samajdar et al., 'SCALE-Sim', ISPASS 2020 (dataflow folding rules)"
EDRAM = "near-data: eDRAM holds the model (DaDianNao-style)"
IN_SENSOR = "in-sensor: no DRAM (ShiDianNao-style)"
RERAM = "in-memory: ReRAM crossbars (ISAAC)"
SRAM_CIM = "in-memory: SRAM compute-in-memory"
SRAM_CIM_REASON = (
    "no source read gives an SRAM array's energy per operation: Zhang et al. (JSSC 2017) "
    "publish energy per decision only, Chih et al. (ISSCC 2021) TOPS/W at an unconfirmed "
    "precision"
)


@dataclass(frozen=True)
class Parameter:
    value: float
    unit: str
    source: str


@cache
def _parameters() -> pd.DataFrame:
    path = resources.files("edgegap.techniques") / "data" / "bridge_parameters.csv"
    with path.open(encoding="utf-8") as handle:
        return pd.read_csv(handle).set_index("parameter")


def parameter(name: str) -> Parameter:
    """A sourced value from data/bridge_parameters.csv; a cell left empty there is unsourced."""
    table = _parameters()
    if name not in table.index:
        raise KeyError(name)
    row = table.loc[name]
    if pd.isna(row["value"]):
        raise Unsourced(f"{name} has no sourced value in bridge_parameters.csv")
    return Parameter(float(row["value"]), str(row["unit"]), str(row["source"]))


class Unsourced(Exception):
    """A bridge needs a number that no source read so far gives."""


@dataclass(frozen=True)
class Bridge:
    name: str
    kind: Kind
    platform: Platform
    workload: Workload
    area_mm2: float | None
    sources: tuple[str, ...]
    notes: str = ""


@dataclass(frozen=True)
class Skipped:
    name: str
    technique: str
    reason: str


def _sources(*names: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(parameter(n).source for n in names))


# --- systolic ---------------------------------------------------------------------------


def _best(workload: Workload, platform: Platform, designs: Designs) -> int:
    """The design with the lowest latency, energy breaking ties."""
    evaluation = evaluate_designs(workload, platform, designs)
    latency, energy = evaluation.latency_s.sum(axis=0), evaluation.energy_j.sum(axis=0)
    return int(np.lexsort((energy, latency))[0])


def _as_array(workload: Workload, platform: Platform) -> tuple[Platform, int]:
    """The platform with a systolic array, and its PE count: an engine without one (a vector
    engine) becomes a near-square array of its MACs per cycle at the precision of the
    workload's heaviest layer."""
    compute = platform.compute
    busiest = max(workload.layers, key=lambda layer: layer.macs)
    precision = precision_for(platform, max(busiest.weight_bits, busiest.activation_bits))
    pes = compute.macs_per_cycle_at(precision)
    if compute.array is None:
        rows = 2 ** round(math.log2(pes) / 2)
        platform = platform.with_compute(
            type="systolic", rows=rows, cols=max(pes // rows, 1), dataflow="ws",
            vector_lanes=compute.vector_ops_per_cycle,
        )  # fmt: skip
    return platform, pes


def systolic_bridges(workload: Workload, platform: Platform) -> list[Bridge]:
    """The dataflow that suits the workload on the platform's array, then the best array shape
    (rows x cols dividing the same PE count) with the best dataflow for it (`_as_array` for a
    vector engine)."""
    compute = platform.compute
    if compute.type == "in-memory":
        return []
    platform, pes = _as_array(workload, platform)
    assert platform.compute.array is not None
    rows, cols, _ = platform.compute.array
    buffer = Designs.of(platform).buffer_bytes[0]
    bridges = []
    flows = np.arange(len(DATAFLOWS))
    same_array = Designs(np.full(3, rows), np.full(3, cols), flows, np.full(3, buffer))
    best = _best(workload, platform, same_array)
    note = f"{rows}x{cols} array"
    if compute.array is None:
        note = f"the {compute.type} engine's {pes} MACs/cycle as a {note}"
    bridges.append(
        Bridge(
            f"systolic: {DATAFLOWS[best]} dataflow",
            "systolic",
            platform.with_compute(dataflow=DATAFLOWS[best]),
            workload,
            platform.area_mm2,
            (SCALE_SIM,),
            note,
        )
    )
    shapes = [(r, pes // r) for r in range(1, pes + 1) if pes % r == 0]
    grid = np.array([(r, c, f) for r, c in shapes for f in flows])
    designs = Designs(grid[:, 0], grid[:, 1], grid[:, 2], np.full(len(grid), buffer))
    rows, cols, flow = grid[_best(workload, platform, designs)]
    bridges.append(
        Bridge(
            f"systolic: {rows}x{cols} {DATAFLOWS[flow]}",
            "systolic",
            platform.with_compute(rows=int(rows), cols=int(cols), dataflow=DATAFLOWS[flow]),
            workload,
            platform.area_mm2,
            (SCALE_SIM,),
            f"best of {len(shapes)} shapes of {pes} PEs x 3 dataflows",
        )
    )
    return bridges


# --- near-data and in-sensor ------------------------------------------------------------


def _separable(platform: Platform, roles: tuple[str, ...], change: str) -> None:
    """Refuse a bridge that changes memory levels whose energy is inside the MAC energy: the
    measured power it came from cannot say how much of it they were."""
    levels = [level.name for level in platform.included_levels() if level.role in roles]
    if levels:
        raise Unsourced(
            f"{platform.name}'s MAC energy is a measured power that already includes "
            f"{', '.join(levels)}, so {change} has no energy of its own to change"
        )


def with_offchip(platform: Platform, memory: str) -> Platform:
    """The platform with its off-chip memory replaced by a technology from memories.csv, at
    the capacity of the memory it replaces (the bridge changes the technology, not the size
    of the model the chip can hold)."""
    _separable(platform, ("offchip",), "replacing the off-chip memory")
    technology = memory_technology(memory)
    for column in ("energy_pj_per_bit", "bandwidth_gb_s"):
        if getattr(technology, column) is None:
            raise Unsourced(f"{memory} has no sourced {column.replace('_', ' ')}")
    offchip = platform.level("offchip")
    record = {
        "name": memory.split(" (")[0].lower().replace(" ", "-"),
        "role": "offchip",
        "bandwidth_gb_s": technology.bandwidth_gb_s,
        "energy_pj_per_bit": technology.energy_pj_per_bit,
        "size_bytes": offchip.size_bytes if offchip else None,
        "source": technology.source,
        "notes": f"replaces {offchip.name if offchip else 'no off-chip level'} (near-data bridge)",
    }
    memory_levels = [m.model_dump() for m in platform.memory if m.role != "offchip"] + [record]
    return Platform.model_validate(
        platform.model_dump() | {"name": f"{platform.name}-{record['name']}",
                                 "memory": memory_levels}
    )  # fmt: skip


@cache
def sram_energy_exponent() -> float:
    """How SRAM energy per bit grows with capacity: the slope of log(energy) on log(size)
    through Horowitz's 45 nm 8 KB, 32 KB and 1 MB rows (memories.csv)."""
    rows = _sram_rows()
    sizes = [float(n.split()[1]) * (1024 if n.split()[2] == "MB" else 1) for n in rows["name"]]
    slope = np.polyfit(np.log(sizes), np.log(rows["energy_pj_per_bit"].astype(float)), 1)[0]
    return float(slope)


def _sram_rows() -> pd.DataFrame:
    table = memory_technologies()
    return table[table["name"].str.match(r"SRAM \d+ [KM]B \(45 nm\)")]


def _sram_sources() -> tuple[str, ...]:
    """Where the grown SRAM's numbers come from: Horowitz's energy rows, the TPU v1's density."""
    energies = dict.fromkeys(_sram_rows()["source"].astype(str))
    return (*energies, area_source("sram_area_per_mib"))


def _model_on_chip(
    workload: Workload, platform: Platform, technology: Literal["sram", "edram"]
) -> tuple[Platform, float | None, str]:
    """The platform with no DRAM and its outermost buffer grown to hold every weight and the
    largest layer's activations: SRAM whose energy per bit grows with capacity (Horowitz's
    rows), or eDRAM at DaDianNao's energy and density (scaled from 32 nm to the platform's
    node)."""
    buffer = platform.level("buffer")
    if buffer is None or buffer.size_bytes is None:
        raise Unsourced(f"{platform.name} has no on-chip buffer to grow")
    _separable(platform, ("buffer", "offchip"), f"moving the model on chip ({technology})")
    size = max(buffer.size_bytes, fits(workload, platform).needed_bytes)
    added = size - buffer.size_bytes
    if technology == "sram":
        energy = buffer.energy_pj_per_bit * (size / buffer.size_bytes) ** sram_energy_exponent()
        added_area = float(array_and_buffer_area(platform, np.array([0]), np.array([added]))[0])
    else:
        node = parameter("isaac.tech_node").value  # ISAAC's scaling of DaDianNao: 32 nm
        here, there = node_factors(platform.process_nm), node_factors(node)
        energy = (
            parameter("dadiannao.edram_energy_per_bit_derived").value * here.energy / there.energy
        )
        density = parameter("dadiannao.edram_density_32nm").value * there.area / here.area
        added_area = added / 2**20 / density  # DaDianNao's 36 MB read as MiB
    memory = []
    for level in platform.memory:
        if level.role == "offchip":
            continue
        record = level.model_dump()
        if level is buffer:
            record |= {
                "name": f"{technology}-buffer",
                "size_bytes": size,
                "energy_pj_per_bit": energy,
                "notes": f"{technology} sized to hold the model (was {buffer.size_bytes} B of "
                f"{buffer.name})",
            }
        memory.append(record)
    area = platform.area_mm2 + added_area if platform.area_mm2 is not None else None
    new = Platform.model_validate(
        platform.model_dump() | {"name": f"{platform.name}-{technology}", "memory": memory}
    )
    return new, area, f"{technology} buffer {size / 2**20:.2f} MiB, {energy:.3g} pJ/bit, no DRAM"


def in_sensor(workload: Workload, platform: Platform) -> Bridge:
    """ShiDianNao's premise (Du et al., ISCA 2015): the whole model in on-chip SRAM, the image
    straight from the sensor, no DRAM."""
    new, area, notes = _model_on_chip(workload, platform, "sram")
    return Bridge(
        IN_SENSOR, "near-data", new, workload, area, _sram_sources(), notes,
    )  # fmt: skip


def edram(workload: Workload, platform: Platform) -> Bridge:
    """DaDianNao's premise (Chen et al., MICRO 2014): weights kept in on-chip eDRAM beside the
    compute, no DRAM traffic."""
    new, area, notes = _model_on_chip(workload, platform, "edram")
    return Bridge(
        EDRAM, "near-data", new, workload, area,
        _sources("dadiannao.edram_energy_per_bit_derived", "dadiannao.edram_density_32nm"),
        notes,
    )  # fmt: skip


# --- in-memory ---------------------------------------------------------------------------


def _isaac_crossbar() -> dict[str, Any]:
    """ISAAC's array, without the count of arrays (the model's weights decide it)."""
    return {
        "technology": "reram",
        "rows": int(parameter("isaac.crossbar_rows").value),
        "cols": int(parameter("isaac.crossbar_cols").value),
        "bits_per_cell": int(parameter("isaac.bits_per_cell").value),
        "dac_bits": int(parameter("isaac.dac_resolution").value),
        "adc_bits": int(parameter("isaac.adc_resolution").value),
        "adcs_per_array": int(parameter("isaac.adcs_per_crossbar").value),
        "adc_conversion_ns": parameter("isaac.adc_latency_per_conversion").value,
        "read_energy_pj": parameter("isaac.crossbar_read_energy_per_array").value,
        "dac_energy_pj": parameter("isaac.dac_energy_per_row_activation").value,
        "adc_energy_pj": parameter("isaac.adc_energy_per_conversion").value,
        "write_energy_pj_per_cell": parameter("neurosim.write_energy_per_pulse_at_gmax").value,
        "write_ns_per_row": parameter("neurosim.write_pulse_width").value * 1e9,
    }


def crossbar_arrays_needed(workload: Workload, platform: Platform, crossbar: dict[str, Any]) -> int:
    """Arrays that hold every weight of the workload at the platform's precision."""
    shape = Crossbar.model_validate(crossbar | {"arrays": 1})
    return max(crossbar_tiles(workload, platform, shape), 1)


def in_memory_reram(workload: Workload, platform: Platform) -> Bridge:
    """ISAAC's crossbars (Shafiee et al., ISCA 2016: 128x128 ReRAM arrays, 2-bit cells, 1-bit
    DACs, one 8-bit 1.28 GS/s ADC per array, 100 ns read cycle) in place of the MAC array,
    enough arrays to keep every weight programmed. The digital periphery keeps the baseline's
    element-wise throughput; ISAAC's 32 nm energies are used at any node (the ADC dominates
    and does not follow logic scaling). Writes use NeuroSim's per-pulse energy and width."""
    _separable(platform, ("register", "array", "buffer", "offchip"), "replacing the MACs")
    read_cycle_ns = parameter("isaac.crossbar_read_cycle").value
    clock_mhz = 1e3 / read_cycle_ns
    lanes = platform.compute.vector_ops_per_cycle * platform.compute.clock_mhz / clock_mhz
    arrays = crossbar_arrays_needed(workload, platform, _isaac_crossbar())
    crossbar = _isaac_crossbar() | {"arrays": arrays}
    new = platform.with_compute(
        type="in-memory", crossbar=crossbar, clock_mhz=clock_mhz,
        vector_lanes=max(round(lanes), 1),
    )  # fmt: skip
    new = Platform.model_validate(
        new.model_dump()
        | {"name": f"{platform.name}-reram", "memory": [
            m.model_dump() for m in platform.memory if m.role in ("buffer", "offchip")]}
    )  # fmt: skip
    per_array = parameter("isaac.tile_area").value / (
        parameter("isaac.imas_per_tile").value * parameter("isaac.arrays_per_ima").value
    )
    scale = (
        node_factors(platform.process_nm).area
        / node_factors(parameter("isaac.tech_node").value).area
    )
    area = None
    if platform.area_mm2 is not None:
        macs = np.array([platform.compute.peak_macs_per_cycle])
        mac_area = float(array_and_buffer_area(platform, macs, np.array([0]))[0])
        area = max(platform.area_mm2 - mac_area, 0.0) + arrays * per_array * scale
    return Bridge(
        RERAM,
        "in-memory",
        new,
        workload,
        area,
        _sources(
            "isaac.crossbar_rows", "isaac.adc_energy_per_conversion", "isaac.tile_area",
            "neurosim.write_energy_per_pulse_at_gmax",
        ),
        f"{arrays} arrays of {crossbar['rows']}x{crossbar['cols']} hold the weights",
    )  # fmt: skip


# --- spiking -----------------------------------------------------------------------------


def spiking(
    workload: Workload, platform: Platform, spikes_per_neuron: float = SPIKES_PER_NEURON
) -> Bridge:
    """An event-driven chip at TrueNorth's published energy per synaptic event (26 pJ, which
    covers the core's synapse memory read and neuron update) and peak event rate. Each input
    spike costs one event per synapse it reaches, so a layer costs MACs x spikes per neuron
    events; the dense MAC energy it replaces is the baseline's."""
    if spikes_per_neuron <= 0 or not math.isfinite(spikes_per_neuron):
        raise UserError(f"spikes per neuron must be positive, got {spikes_per_neuron}")
    event = parameter("truenorth.energy_per_synaptic_event")
    synapses = parameter("truenorth.synapses")
    chips = max(math.ceil(workload.totals.params / synapses.value), 1)
    rate = parameter("truenorth.max_synaptic_ops_per_s").value * chips
    clock_mhz = 1.0  # nominal: events per microsecond
    compute = {
        "type": "vector",
        "macs_per_cycle": round(rate / (clock_mhz * 1e6)),
        "clock_mhz": clock_mhz,
        "mac_energy_pj": dict.fromkeys(platform.compute.precisions, event.value),
        "utilization": 1.0,
        "zero_skipping": True,
        "source": event.source,
        "notes": f"TrueNorth's energy per synaptic event and peak event rate, x{chips} chips",
    }
    memory = [
        {
            "name": "neurosynaptic-cores",
            "role": "register",
            "size_bytes": max(
                int(synapses.value) * chips // 8, fits(workload, platform).needed_bytes
            ),
            "energy_pj_per_bit": 0.0,
            "source": synapses.source,
            "notes": "synapse memory inside each core: its reads are in the event energy",
        }
    ]
    new = Platform.model_validate(
        platform.model_dump()
        | {
            "name": f"{platform.name}-spiking",
            "compute": compute,
            "memory": memory,
            "idle_power_w": None,
        }  # TrueNorth's static power is not among the parameters
    )
    layers = tuple(
        replace(layer, activation_density=spikes_per_neuron) for layer in workload.layers
    )
    return Bridge(
        "spiking: TrueNorth events",
        "spiking",
        new,
        workload.with_layers(layers),
        None,
        _sources("truenorth.energy_per_synaptic_event", "truenorth.max_synaptic_ops_per_s"),
        f"{chips} chip(s) of {synapses.value:.3g} synapses; {spikes_per_neuron:g} spike(s) per "
        "neuron per inference (an assumption: set it)",
    )


# --- the registry's architecture techniques -------------------------------------------------


class Architecture(Technique):
    """A bridge on the hardware side: `bridge` builds the new platform (and, for spiking, the
    workload) with its area, notes and sources; the analytic face is its platform and
    workload."""

    group = "architecture"
    changes = "hardware"

    def bridge(self, workload: Workload, platform: Platform, setting: Setting) -> Bridge:
        raise NotImplementedError

    def candidates(self, workload: Workload, platform: Platform) -> list[Setting]:
        return [self.setting()]

    def apply(
        self, workload: Workload, platform: Platform, setting: Setting
    ) -> tuple[Workload, Platform]:
        try:
            built = self.bridge(workload, platform, setting)
        except Unsourced as reason:
            raise NotAvailable(str(reason)) from None
        return built.workload, built.platform


@register(
    "systolic",
    summary="the dataflow, then the array shape at the same PEs, that suit the workload",
    sources=(SCALE_SIM,),
)
class Systolic(Architecture):
    params = (
        Param("search", "shape", choices=SEARCHES,
              help="the best dataflow on the platform's array, or the best shape and dataflow"),
        Param("rows", None, 1, 1 << 20, integer=True, nullable=True, help="a design found"),
        Param("cols", None, 1, 1 << 20, integer=True, nullable=True),
        Param("dataflow", None, choices=DATAFLOWS, nullable=True),
    )  # fmt: skip
    bare = "search"

    def candidates(self, workload: Workload, platform: Platform) -> list[Setting]:
        """Each search with the design it finds, labelled "systolic: 21x8 ws"."""
        return [
            self.setting(b.name, search=s, rows=a[0], cols=a[1], dataflow=a[2])
            for b, s in zip(systolic_bridges(workload, platform), SEARCHES, strict=True)
            if (a := b.platform.compute.array)
        ]

    def apply(
        self, workload: Workload, platform: Platform, setting: Setting
    ) -> tuple[Workload, Platform]:
        """A design the setting names is built as it is; otherwise it is searched for."""
        if setting.get("rows") is None or platform.compute.type == "in-memory":
            return super().apply(workload, platform, setting)
        arrayed, _ = _as_array(workload, platform)
        design = {k: setting[k] for k in ("rows", "cols", "dataflow")}
        return workload, arrayed.with_compute(**design)

    def bridge(self, workload: Workload, platform: Platform, setting: Setting) -> Bridge:
        designs = systolic_bridges(workload, platform)
        if not designs:
            raise NotAvailable(f"{platform.name} computes in memory: it has no array to shape")
        return designs[SEARCHES.index(setting["search"])]


@register(
    "offchip-memory",
    summary="off-chip DRAM replaced by stacked memory (HBM2, HMC) near the compute",
    sources=("O'Connor et al., MICRO 2017", "memories.csv"),
)
class OffchipMemory(Architecture):
    params = (Param("memory", "HBM2", choices=NEAR_DATA_MEMORIES),)
    bare = "memory"

    def candidates(self, workload: Workload, platform: Platform) -> list[Setting]:
        if platform.level("offchip") is None:
            return []
        return [self.setting(f"near-data: {m}", memory=m) for m in NEAR_DATA_MEMORIES]

    def bridge(self, workload: Workload, platform: Platform, setting: Setting) -> Bridge:
        if platform.level("offchip") is None:
            raise NotAvailable(f"{platform.name} has no off-chip memory to replace")
        new = with_offchip(platform, setting["memory"])
        offchip = new.level("offchip")
        assert offchip is not None
        return Bridge(f"near-data: {setting['memory']}", "near-data", new, workload,
                      platform.area_mm2, (offchip.source,), offchip.notes)  # fmt: skip


@register("edram", summary=EDRAM, sources=("Chen et al., 'DaDianNao', MICRO 2014",))
class Edram(Architecture):
    def bridge(self, workload: Workload, platform: Platform, setting: Setting) -> Bridge:
        return edram(workload, platform)


@register("in-sensor", summary=IN_SENSOR, sources=("Du et al., 'ShiDianNao', ISCA 2015",))
class InSensor(Architecture):
    def bridge(self, workload: Workload, platform: Platform, setting: Setting) -> Bridge:
        return in_sensor(workload, platform)


@register("reram", summary=RERAM, sources=("Shafiee et al., 'ISAAC', ISCA 2016",))
class ReramCrossbar(Architecture):
    def bridge(self, workload: Workload, platform: Platform, setting: Setting) -> Bridge:
        return in_memory_reram(workload, platform)


@register("sram-cim", summary=SRAM_CIM, sources=("Zhang, Wang, Verma, JSSC 2017",))
class SramComputeInMemory(Architecture):
    def bridge(self, workload: Workload, platform: Platform, setting: Setting) -> Bridge:
        raise Unsourced(SRAM_CIM_REASON)


@register(
    "spiking",
    summary="an event-driven chip at TrueNorth's energy per synaptic event",
    sources=("Merolla et al., Science 345, 2014",),
)
class Spiking(Architecture):
    params = (Param("spikes_per_neuron", SPIKES_PER_NEURON, 1e-6, 1e6),)
    bare = "spikes_per_neuron"

    def bridge(self, workload: Workload, platform: Platform, setting: Setting) -> Bridge:
        return spiking(workload, platform, setting["spikes_per_neuron"])


@register(
    "scaling",
    summary="the platform at another process node, with scaling stopping at a node",
    sources=("Stillmaker & Baas, Integration 58, 2017; TSMC node claims (cmos_scaling.csv)",),
)
class Scaling(Architecture):
    params = (
        Param("node_nm", 5.0, 1.0, 500.0, help="target process node"),
        Param("scaling_ends_nm", SCALING_ENDS_NM, 1.0, 500.0, nullable=True,
              help="node below which scaling stops helping (None: never)"),
    )  # fmt: skip
    bare = "node_nm"

    def bridge(self, workload: Workload, platform: Platform, setting: Setting) -> Bridge:
        node = setting["node_nm"]
        # Off-chip memory does not follow the logic node; a MAC energy that includes it would.
        _separable(platform, ("offchip",), "scaling the logic node")
        scaled = scale_platform(platform, node, setting.get("scaling_ends_nm"))
        return Bridge(f"scaling: {node:g} nm", "scaling", scaled, workload, scaled.area_mm2,
                      self.sources, scaled.notes.split(" (edgegap")[0])  # fmt: skip
