"""The cost model: a Workload on a Platform -> latency and energy, per layer and in total.

Per layer (docs/cost-model.md):
- compute: the platform's engine (`hardware.engines`: a systolic array folds each matrix
  product over its PEs, a vector engine runs MACs at its rate, crossbars step input vectors
  through arrays holding the weights) answers the cycles, the accesses a MAC costs at the
  register file and the inter-PE network, the traffic at the innermost buffer and the energy
  of the MACs;
- traffic at every level outside a buffer: the bytes that cross its boundary, given the
  capacity inside it (`_crossing`): the weights while the activations fit, the re-fetches of
  a tiled loop nest when they do not, nothing beyond a buffer that caches every weight;
- latency = max(compute time, traffic / bandwidth at each level that states one): a roofline
  per layer that names the bound (register files and inter-PE networks are built to feed the
  PEs every cycle: they cost energy, not time);
- energy = the engine's MAC energy + element-wise operations + bits moved x energy per bit at
  each level (a level whose access the MAC energy already includes,
  `mac_energy_includes`, states 0 pJ/bit);
- power at a frame rate = energy per frame x the rate + the platform's idle power, and back
  to back at the fastest rate it sustains (`Power`).

The model is written once, over numpy arrays of (layer, design) pairs: `estimate` evaluates
the platform as it is, `evaluate_designs` any number of variants of its array and buffer.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from edgegap.errors import UserError
from edgegap.hardware.engines import Engine, engine_for
from edgegap.hardware.fit import Fit, fit_of
from edgegap.hardware.layers import Bools, Floats, Ints, LayerArrays
from edgegap.hardware.platform import Platform
from edgegap.hardware.systolic import DATAFLOWS
from edgegap.precision import bits_to_bytes_array
from edgegap.workload import fusion
from edgegap.workload.layer import Workload

# The frame rate power is quoted at unless a caller gives one: real-time video.
REAL_TIME_FPS = 30.0
# An element-wise operation (add, compare, scale) costs this fraction of a MAC: the fp32 add
# over the fp32 multiply-add in Horowitz, "Computing's energy problem", ISSCC 2014 (0.9 pJ /
# (3.7 + 0.9) pJ at 45 nm).
ELEMENTWISE_ENERGY_FRACTION = 0.9 / (3.7 + 0.9)


@dataclass(frozen=True)
class EnergyBreakdown:
    """Joules by fixed compute component (`mac`, or a crossbar's `crossbar`, `dac`, `adc`,
    `write`; then `elementwise`) and, apart, by memory level (the platform's own names, which
    may be anything, `mac` included)."""

    compute: dict[str, float]
    memory: dict[str, float]

    @property
    def total(self) -> float:
        return sum(self.compute.values()) + sum(self.memory.values())

    def largest(self) -> tuple[str, str, float]:
        """The largest part as (namespace, name, joules): ("memory", "dram", 1.2e-3)."""
        parts = [("compute", k, v) for k, v in self.compute.items()]
        parts += [("memory", k, v) for k, v in self.memory.items()]
        return max(parts, key=lambda part: part[2])

    def to_dict(self) -> dict[str, dict[str, float]]:
        return {"compute": dict(self.compute), "memory": dict(self.memory)}

    def label(self, namespace: str, name: str) -> str:
        """`name`, prefixed by its namespace where the other namespace has the same name."""
        other = self.memory if namespace == "compute" else self.compute
        return f"{namespace} {name}" if name in other else name


@dataclass(frozen=True)
class LayerCost:
    name: str
    op: str
    kind: str
    precision: str
    macs: int
    cycles: int
    utilization: float
    latency_s: float
    bound: Literal["compute", "memory"]
    limiting_level: str | None  # the memory level whose traffic takes longest; None: compute
    energy_j: float
    energy_breakdown: EnergyBreakdown
    traffic_bytes: dict[str, int]


@dataclass(frozen=True)
class CostTotals:
    cycles: int
    latency_s: float
    throughput_per_s: float  # inferences (images of the batch) per second, back to back
    energy_j: float  # per run of the workload's batch, above idle
    energy_breakdown: EnergyBreakdown


@dataclass(frozen=True)
class Power:
    """Power as a user measures it at a frame rate: the energy of the frames run each second
    plus what the platform draws idle between them (`Platform.idle_power_w`). `average_w` is
    what the rate needs, so it grows with the model; where the platform cannot sustain the
    rate, it runs back to back at `peak_w` and misses the rate (`sustains_rate`)."""

    fps: float  # the frame rate asked for
    max_fps: float  # back-to-back frames per second
    sustains_rate: bool
    idle_w: float
    idle_stated: bool  # False: the platform publishes no idle power; taken as 0
    average_w: float  # energy per frame x fps + idle
    peak_w: float  # back to back: energy per frame x max_fps + idle
    budget_w: float
    fits_budget: bool  # average_w within budget_w

    @classmethod
    def at(cls, fps: float, totals: CostTotals, frames: int, platform: Platform) -> Power:
        per_frame = totals.energy_j / frames
        idle = platform.idle_power_w or 0.0
        average = per_frame * fps + idle
        return cls(
            fps=fps,
            max_fps=totals.throughput_per_s,
            sustains_rate=totals.throughput_per_s >= fps,
            idle_w=idle,
            idle_stated=platform.idle_power_w is not None,
            average_w=average,
            peak_w=per_frame * totals.throughput_per_s + idle,
            budget_w=platform.power_budget_w,
            fits_budget=average <= platform.power_budget_w,
        )


@dataclass(frozen=True)
class Cost:
    model: str
    platform: str
    layers: tuple[LayerCost, ...]
    totals: CostTotals
    power: Power  # at the frame rate `estimate` was given
    fit: Fit  # `hardware.fit`: whether the model fits where it lives on the platform

    def to_dict(self, per_layer: bool = True) -> dict[str, Any]:
        record: dict[str, Any] = {
            "model": self.model,
            "platform": self.platform,
            "totals": asdict(self.totals),
            "power": asdict(self.power),
            "fit": asdict(self.fit),
        }
        if per_layer:
            record["layers"] = [asdict(layer) for layer in self.layers]
        return record

    def to_json(self, per_layer: bool = True, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(per_layer), indent=indent)

    def to_dataframe(self) -> pd.DataFrame:
        rows = []
        for layer in self.layers:
            row = asdict(layer)
            breakdown = row.pop("energy_breakdown")
            traffic = row.pop("traffic_bytes")
            for namespace in ("compute", "memory"):
                row |= {f"energy_{namespace}_{k}_j": v for k, v in breakdown[namespace].items()}
            row |= {f"traffic_{k}_bytes": v for k, v in traffic.items()}
            rows.append(row)
        return pd.DataFrame(rows)


@dataclass(frozen=True)
class Designs:
    """Variants of one platform's array and buffer, evaluated together.

    `dataflow` holds indices into `systolic.DATAFLOWS`; `buffer_bytes` is the capacity of the
    outermost buffer (`Platform.level("buffer")`, the one that decides off-chip traffic), 0
    where the platform has none. An engine without a systolic array ignores rows, cols and
    dataflow.
    """

    rows: Ints
    cols: Ints
    dataflow: Ints
    buffer_bytes: Ints

    @classmethod
    def of(cls, platform: Platform) -> Designs:
        """The platform as it is: one design."""
        rows, cols, dataflow = platform.compute.array or (1, 1, "os")
        buffer = platform.level("buffer")
        size = buffer.size_bytes if buffer is not None and buffer.size_bytes else 0
        return cls(
            rows=np.array([rows]),
            cols=np.array([cols]),
            dataflow=np.array([DATAFLOWS.index(dataflow)]),
            buffer_bytes=np.array([size]),
        )

    def __len__(self) -> int:
        return len(self.rows)


@dataclass(frozen=True)
class Evaluation:
    """Arrays of shape (L, D) (or broadcastable to it), one column per design. Fixed compute
    components and the platform's memory levels (keyed by their names) are kept apart."""

    cycles: Ints
    traffic: dict[str, Ints]  # each level
    compute_time: Floats
    memory_time: dict[str, Floats]  # each level that states a bandwidth
    compute_energy: dict[str, Floats]  # "mac" (or the crossbar's parts) and "elementwise"
    memory_energy: dict[str, Floats]  # each level
    fixed_s: float = 0.0  # each layer's time that nothing overlaps (`Engine.fixed_s`)

    def _times(self) -> list[Floats]:
        """Compute first, then the levels in order: the first of equal times names the bound."""
        shape = self.cycles.shape
        times = [self.compute_time, *self.memory_time.values()]
        return [np.broadcast_to(t, shape) for t in times]

    @property
    def latency_s(self) -> Floats:
        latency: Floats = np.maximum.reduce(self._times()) + self.fixed_s
        return latency

    @property
    def energy_j(self) -> Floats:
        shape = self.cycles.shape
        parts = [*self.compute_energy.values(), *self.memory_energy.values()]
        energy: Floats = np.add.reduce([np.broadcast_to(e, shape) for e in parts])
        return energy


def _crossing(layers: LayerArrays, capacity: Ints, cached: Bools) -> Ints:
    """The bytes that cross the boundary outside buffers of `capacity` (1, D), half of it
    holding activations and half weight tiles.

    While a layer's input and output fit their half, activations stay inside (they arrive
    from the previous layer and wait for the next) and only the weights cross, once.
    Otherwise a tiled loop nest keeps a tile of one operand in its half and streams the other
    once per tile, whichever order moves fewer bytes; outputs cross once. With no buffer
    inside, every operand crosses once. Where a buffer inside caches every weight beside the
    largest layer's activations (`cached`), nothing crosses in the steady state (the first
    inference's load is not counted).
    """
    weights, inputs, outputs = (x[:, None] for x in (layers.weights, layers.inputs, layers.outputs))
    half = np.maximum(capacity // 2, 1)
    keep_weights = weights + outputs + inputs * np.maximum(-(-weights // half), 1)
    keep_inputs = inputs + outputs + weights * -(-inputs // half)
    tiled = np.minimum(keep_weights, keep_inputs)
    traffic = np.where(inputs + outputs <= half, weights, tiled)
    traffic = np.where(capacity > 0, traffic, weights + inputs + outputs)
    crossing: Ints = np.where(cached, 0, traffic)
    return crossing


def _traffic(engine: Engine[Any], platform: Platform, designs: Designs) -> dict[str, Ints]:
    """Bytes at each memory level, innermost first. The register file and the inter-PE
    network see the accesses the engine's MACs cost, the innermost buffer what the engine
    reads from it; every level outside a buffer sees what crosses into it (`_crossing`), given
    the largest capacity inside (a layer that fits L1 does not spill out of L2) and whether a
    buffer inside caches the weights. The outermost buffer's capacity is the design's."""
    layers, width = engine.moved, len(designs)
    innermost, outermost = next(iter(platform.buffers), None), platform.level("buffer")
    capacity = np.zeros((1, width), dtype=np.int64)  # the largest buffer inside, so far
    cached = np.zeros((1, width), dtype=bool)  # a buffer inside holds every weight
    traffic: dict[str, Ints] = {}
    for level in platform.memory:
        if level.role == "register":
            accesses = engine.register_accesses_per_mac * layers.macs
            traffic[level.name] = bits_to_bytes_array(accesses, layers.bits)[:, None]
        elif level.role == "array":
            hops = engine.array_hops_per_mac * layers.macs
            traffic[level.name] = bits_to_bytes_array(hops, layers.bits)[:, None]
        elif level is innermost:
            traffic[level.name] = engine.buffer_bytes(designs)
        else:
            traffic[level.name] = _crossing(layers, capacity, cached)
        if level.role == "buffer":
            size = designs.buffer_bytes[None, :] if level is outermost else level.size_bytes or 0
            capacity = np.maximum(capacity, size)
            if level.caches_weights:
                cached = cached | (size >= layers.resident_bytes)
    return traffic


def _evaluate(layers: LayerArrays, platform: Platform, designs: Designs) -> Evaluation:
    engine = engine_for(platform.compute, layers)
    cycles = engine.cycles(designs)
    traffic = _traffic(engine, platform, designs)
    compute_time: Floats = cycles / (platform.compute.clock_mhz * 1e6)
    compute_energy = {key: value[:, None] for key, value in engine.energy().items()}
    compute_energy["elementwise"] = (
        layers.elementwise_ops * layers.mac_energy_j * ELEMENTWISE_ENERGY_FRACTION
    )[:, None]
    memory_time: dict[str, Floats] = {}
    memory_energy: dict[str, Floats] = {}
    for level in platform.memory:
        timed = level.role == "offchip" or not engine.on_chip_memory_in_time
        if level.bandwidth_gb_s is not None and timed:
            memory_time[level.name] = np.asarray(traffic[level.name] / (level.bandwidth_gb_s * 1e9))
        memory_energy[level.name] = np.asarray(
            traffic[level.name] * 8 * level.energy_pj_per_bit * 1e-12, dtype=np.float64
        )
    return Evaluation(
        cycles, traffic, compute_time, memory_time, compute_energy, memory_energy, engine.fixed_s
    )


def evaluate_designs(
    workload: Workload, platform: Platform, designs: Designs, fuse: bool = True
) -> Evaluation:
    """The cost model for every (layer, design) pair at once: a design-space sweep's core.
    With `fuse`, the layers are those the platform's compiler runs (`workload.fusion`)."""
    if fuse:
        workload = fusion.fuse(workload, platform.fuses)
    return _evaluate(LayerArrays.of(workload, platform), platform, designs)


def estimate(
    workload: Workload, platform: Platform, fps: float = REAL_TIME_FPS, fuse: bool = True
) -> Cost:
    """Latency and energy of one inference of `workload` (its batch) on `platform`, power at
    `fps` frames per second, and whether it fits the platform's memory. With `fuse`, of the
    layers its compiler runs: `fusion.fuse(workload, platform.fuses)` (a batch norm folded
    into its convolution, an activation or residual add into its producer)."""
    if not (fps > 0 and math.isfinite(fps)):
        raise UserError(f"the frame rate must be a positive number, got {fps:g}")
    if fuse:
        workload = fusion.fuse(workload, platform.fuses)
    layers = LayerArrays.of(workload, platform)
    fit = fit_of(layers, platform)
    if platform.level("offchip") is None and not fit.fits:
        raise UserError(
            f"{workload.model} on {platform.name}: {fit.reason}, and it has no off-chip "
            "memory: add an offchip level or a larger buffer"
        )
    result = _evaluate(layers, platform, Designs.of(platform))
    latency = result.latency_s[:, 0]
    energy = result.energy_j[:, 0]
    limits: list[str | None] = [None, *result.memory_time]
    limiter = np.argmax(np.stack([t[:, 0] for t in result._times()]), axis=0)
    peak = [platform.compute.macs_per_cycle_at(p) for p in layers.precision]
    costs = []
    for i, layer in enumerate(workload.layers):
        cycles = int(result.cycles[i, 0])
        has_gemm = bool(layer.gemms)
        costs.append(
            LayerCost(
                name=layer.name,
                op=layer.op,
                kind=layer.kind,
                precision=layers.precision[i],
                macs=int(layers.macs[i]),
                cycles=cycles,
                utilization=int(layers.macs[i]) / (cycles * peak[i])
                if has_gemm and cycles
                else 0.0,
                latency_s=float(latency[i]),
                bound="compute" if limiter[i] == 0 else "memory",
                limiting_level=limits[limiter[i]],
                energy_j=float(energy[i]),
                energy_breakdown=EnergyBreakdown(
                    {k: float(v[i, 0]) for k, v in result.compute_energy.items()},
                    {k: float(v[i, 0]) for k, v in result.memory_energy.items()},
                ),
                traffic_bytes={k: int(v[i, 0]) for k, v in result.traffic.items()},
            )
        )
    total_latency = float(latency.sum())
    batch = workload.input_shape[0] if workload.input_shape else 1
    totals = CostTotals(
        cycles=int(result.cycles[:, 0].sum()),
        latency_s=total_latency,
        throughput_per_s=batch / total_latency if total_latency else 0.0,
        energy_j=float(energy.sum()),
        energy_breakdown=EnergyBreakdown(
            {k: float(v[:, 0].sum()) for k, v in result.compute_energy.items()},
            {k: float(v[:, 0].sum()) for k, v in result.memory_energy.items()},
        ),
    )
    return Cost(
        model=workload.model,
        platform=platform.name,
        fit=fit,
        layers=tuple(costs),
        totals=totals,
        power=Power.at(fps, totals, batch, platform),
    )
