"""The cost model: a Workload on a Platform -> latency and energy, per layer and in total.

Per layer (docs/cost-model.md):
- compute: MAC layers fold their matrix form over a systolic array (`systolic.cycles`) or run
  at MACs per cycle x utilisation on a vector engine; other layers run their element-wise
  FLOPs on the platform's vector lanes;
- traffic per memory level: the register file sees three operand accesses per MAC, the
  inter-PE network two hops, the on-chip buffer each operand as often as the dataflow re-reads
  it, off-chip memory the weights while the activations fit on chip, and the re-fetches of a
  tiled loop nest when they do not;
- latency = max(compute time, traffic / bandwidth at each level that states one): a roofline
  per layer that names the bound (register files and inter-PE networks are built to feed the
  PEs every cycle: they cost energy, not time);
- energy = MACs x energy per MAC at the layer's precision + element-wise operations + bits
  moved x energy per bit at each level (a level whose access the MAC energy already includes,
  `Compute.mac_energy_includes`, states 0 pJ/bit);
- power at a frame rate = energy per frame x the rate + the platform's idle power, and back
  to back at the fastest rate it sustains (`Power`).

The model is written once, over numpy arrays of (layer, design) pairs: `estimate` evaluates
the platform as it is, `evaluate_designs` any number of variants of its array and buffer.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from edgegap.errors import UserError
from edgegap.hardware import systolic
from edgegap.hardware.fit import Fit, fit_of
from edgegap.hardware.layers import Floats, Ints, LayerArrays
from edgegap.hardware.platform import Platform
from edgegap.precision import bits_to_bytes_array
from edgegap.workload import fusion
from edgegap.workload.layer import Workload

# The frame rate power is quoted at unless a caller gives one: real-time video.
REAL_TIME_FPS = 30.0
# An element-wise operation (add, compare, scale) costs this fraction of a MAC: the fp32 add
# over the fp32 multiply-add in Horowitz, "Computing's energy problem", ISSCC 2014 (0.9 pJ /
# (3.7 + 0.9) pJ at 45 nm).
ELEMENTWISE_ENERGY_FRACTION = 0.9 / (3.7 + 0.9)
# Operand accesses to the register file per MAC: weight, input, partial sum (Chen et al.,
# "Eyeriss", ISCA 2016, Section V's accounting of a MAC's data movement).
REGISTER_ACCESSES_PER_MAC = 3
# Hops on the inter-PE network per MAC in a systolic array: the two moving operands.
ARRAY_HOPS_PER_MAC = 2


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

    `dataflow` holds indices into `systolic.DATAFLOWS`; `buffer_bytes` is 0 where the platform
    has no on-chip buffer. A vector engine ignores rows, cols and dataflow.
    """

    rows: Ints
    cols: Ints
    dataflow: Ints
    buffer_bytes: Ints

    @classmethod
    def of(cls, platform: Platform) -> Designs:
        """The platform as it is: one design."""
        compute = platform.compute
        buffer = platform.level("buffer")
        size = buffer.size_bytes if buffer is not None and buffer.size_bytes else 0
        return cls(
            rows=np.array([compute.rows or 1]),
            cols=np.array([compute.cols or 1]),
            dataflow=np.array([systolic.DATAFLOWS.index(compute.dataflow or "os")]),
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

    def _times(self) -> list[Floats]:
        """Compute first, then the levels in order: the first of equal times names the bound."""
        shape = self.cycles.shape
        times = [self.compute_time, *self.memory_time.values()]
        return [np.broadcast_to(t, shape) for t in times]

    @property
    def latency_s(self) -> Floats:
        latency: Floats = np.maximum.reduce(self._times())
        return latency

    @property
    def energy_j(self) -> Floats:
        shape = self.cycles.shape
        parts = [*self.compute_energy.values(), *self.memory_energy.values()]
        energy: Floats = np.add.reduce([np.broadcast_to(e, shape) for e in parts])
        return energy


@dataclass(frozen=True)
class _CrossbarTiling:
    """Per product, as the arrays hold it: groups that fit one array side by side are packed
    on its block diagonal (a depthwise layer's 9 x 1 filters share an array instead of taking
    one each), so `groups`, `k` and `n` are those of the packed products."""

    groups: Ints
    k: Ints
    n: Ints
    cells: Ints  # per weight
    row_tiles: Ints  # arrays along the reduction axis
    col_tiles: Ints  # arrays along the output axis


def _crossbar_tiling(layers: LayerArrays, platform: Platform) -> _CrossbarTiling:
    xbar = platform.compute.crossbar
    assert xbar is not None
    groups, k, n = layers.gemm[:, 0], layers.gemm[:, 2], layers.gemm[:, 3]
    cells = -(-layers.gemm_bits // xbar.bits_per_cell)
    fit = np.minimum(xbar.rows // k, xbar.cols // (n * cells))
    pack = np.maximum(np.minimum(fit, groups), 1)
    k, n = k * pack, n * pack
    return _CrossbarTiling(
        -(-groups // pack), k, n, cells, -(-k // xbar.rows), -(-(n * cells) // xbar.cols)
    )


def crossbar_tiles(workload: Workload, platform: Platform) -> int:
    """Arrays an in-memory platform needs to hold every weight of `workload` at once."""
    layers = LayerArrays.of(workload, platform)
    if not len(layers.gemm_layers):
        return 0
    tiling = _crossbar_tiling(layers, platform)
    return int((tiling.groups * tiling.row_tiles * tiling.col_tiles).sum())


@dataclass(frozen=True)
class _InMemory:
    """Per-layer cycles and energy of the matrix products on crossbars (L,), and whether all
    the model's weights stay programmed in the arrays (then no weight ever moves)."""

    cycles: Ints
    energy: dict[str, Floats]
    resident: bool


def _in_memory(layers: LayerArrays, platform: Platform) -> _InMemory:
    """Each product (m x k) @ (k x n) maps its k x n weights onto ceil(k / rows) x
    ceil(n cells / cols) arrays (small groups packed, `_CrossbarTiling`); each of the m input
    vectors takes ceil(bits / dac_bits) steps.
    A step reads the array (all rows driven by DACs) and converts every used column once; it
    lasts one cycle or the time the array's ADCs need for its columns. Arrays work in
    parallel; when the model's arrays outnumber the chip's, every layer's cells are written
    before it runs (energy per cell, time per row)."""
    xbar = platform.compute.crossbar
    assert xbar is not None
    count = len(layers.macs)
    empty: dict[str, Floats] = {k: np.zeros(count) for k in ("crossbar", "dac", "adc", "write")}
    if not len(layers.gemm_layers):
        return _InMemory(np.zeros(count, dtype=np.int64), empty, True)
    m, bits = layers.gemm[:, 1], layers.gemm_bits
    tiling = _crossbar_tiling(layers, platform)
    groups, k, n, cells = tiling.groups, tiling.k, tiling.n, tiling.cells
    row_tiles, col_tiles = tiling.row_tiles, tiling.col_tiles
    tiles = groups * row_tiles * col_tiles
    steps = m * -(-bits // xbar.dac_bits)
    used_cols = np.minimum(n * cells, xbar.cols)
    conversion_cycles = np.ceil(
        -(-used_cols // xbar.adcs_per_array)
        * xbar.adc_conversion_ns
        * platform.compute.clock_mhz
        / 1e3
    ).astype(np.int64)
    step_cycles = np.maximum(conversion_cycles, 1)
    passes = -(-tiles // xbar.arrays)
    resident = int(tiles.sum()) <= xbar.arrays
    write_cycles = (
        np.zeros_like(tiles)
        if resident
        else np.ceil(
            passes * xbar.rows * xbar.write_ns_per_row * platform.compute.clock_mhz / 1e3
        ).astype(np.int64)
    )
    per_gemm = {
        "crossbar": tiles * steps * xbar.read_energy_pj,
        "dac": groups * col_tiles * steps * k * xbar.dac_energy_pj,
        "adc": groups * row_tiles * steps * n * cells * xbar.adc_energy_pj,
        "write": (0.0 if resident else 1.0)
        * groups
        * k
        * n
        * cells
        * xbar.write_energy_pj_per_cell,
    }

    def per_layer(values: npt.NDArray[Any]) -> npt.NDArray[Any]:
        out = np.zeros(count, dtype=values.dtype)
        out[layers.gemm_layers] = np.add.reduceat(values, layers.gemm_starts)
        return out

    cycles = per_layer(passes * steps * step_cycles + write_cycles)
    energy = {
        key: per_layer(np.asarray(v, dtype=np.float64)) * 1e-12 for key, v in per_gemm.items()
    }
    return _InMemory(cycles, energy, resident)


def _compute_cycles(
    layers: LayerArrays, platform: Platform, designs: Designs, crossbars: _InMemory | None
) -> Ints:
    compute = platform.compute
    count, width = len(layers.macs), len(designs)
    rows, cols, dataflow = designs.rows[None, :], designs.cols[None, :], designs.dataflow[None, :]
    lanes = (
        cols if compute.type == "systolic" else np.full((1, width), compute.vector_ops_per_cycle)
    )
    cycles = np.broadcast_to(-(-layers.elementwise_ops[:, None] // lanes), (count, width)).copy()
    if not len(layers.gemm_layers):
        return cycles
    if crossbars is not None:  # a MAC layer's bias adds ride along, as on the other engines
        cycles[layers.gemm_layers] = crossbars.cycles[layers.gemm_layers, None]
        return cycles
    if compute.type == "vector":
        peak = np.array([compute.macs_per_cycle_at(p) for p in layers.precision])
        rate = (peak[layers.gemm_layers] * compute.utilization)[:, None]
        macs = layers.macs[layers.gemm_layers, None]
        cycles[layers.gemm_layers] = np.ceil(macs / rate).astype(np.int64)
        return cycles
    groups, m, k, n = (layers.gemm[:, i, None] for i in range(4))
    per_gemm = systolic.grouped_cycles(groups, m, k, n, rows, cols, dataflow)
    cycles[layers.gemm_layers] = np.add.reduceat(per_gemm, layers.gemm_starts, axis=0)
    return cycles


def _buffer_bytes(layers: LayerArrays, platform: Platform, designs: Designs) -> Ints:
    """Buffer traffic. On a systolic array the stationary operand is read once and the
    streamed one once per fold of the other array dimension (the array's shifting supplies a
    sliding window's reuse, so an input is fetched, not its im2col copies); partial sums
    accumulate beside the array and each output is written once. Elsewhere every operand
    passes once."""
    weights, inputs, outputs = (x[:, None] for x in (layers.weights, layers.inputs, layers.outputs))
    once = np.broadcast_to(weights + inputs + outputs, (len(layers.macs), len(designs)))
    if platform.compute.type != "systolic":
        return once
    m, k, n = (layers.largest[:, i, None] for i in range(3))
    dataflow = designs.dataflow[None, :]
    sr, sc, _ = systolic.operand_dims(m, k, n, dataflow)
    row_folds, col_folds = systolic.folds(sr, sc, designs.rows[None, :], designs.cols[None, :])
    streamed = np.choose(
        dataflow,
        [inputs * col_folds + weights * row_folds, weights + inputs * col_folds,
         inputs + weights * col_folds],
    )  # fmt: skip
    has_gemm = (layers.largest[:, 0] > 0)[:, None]
    return np.where(has_gemm, streamed + outputs, once)


def _offchip_bytes(layers: LayerArrays, designs: Designs, caches_weights: bool) -> Ints:
    """Off-chip traffic, half the buffer holding activations and half weight tiles.

    While a layer's input and output fit their half, activations stay on chip (they arrive
    from the previous layer and wait for the next) and only the weights stream in, once.
    Otherwise a tiled loop nest keeps a tile of one operand in half the buffer and streams the
    other once per tile, whichever order moves fewer bytes; outputs are written once. With no
    buffer, every operand passes once. A buffer that caches weights and holds them all beside
    the largest layer's activations moves nothing off chip in the steady state (the first
    inference's load is not counted).
    """
    weights, inputs, outputs = (x[:, None] for x in (layers.weights, layers.inputs, layers.outputs))
    half = np.maximum(designs.buffer_bytes[None, :] // 2, 1)
    keep_weights = weights + outputs + inputs * np.maximum(-(-weights // half), 1)
    keep_inputs = inputs + outputs + weights * -(-inputs // half)
    tiled = np.minimum(keep_weights, keep_inputs)
    traffic = np.where(inputs + outputs <= half, weights, tiled)
    traffic = np.where(designs.buffer_bytes[None, :] > 0, traffic, weights + inputs + outputs)
    if caches_weights:
        traffic = np.where(designs.buffer_bytes[None, :] >= layers.resident_bytes, 0, traffic)
    return traffic


def _evaluate(layers: LayerArrays, platform: Platform, designs: Designs) -> Evaluation:
    compute = platform.compute
    crossbars = _in_memory(layers, platform) if compute.type == "in-memory" else None
    cycles = _compute_cycles(layers, platform, designs, crossbars)
    if crossbars is not None and crossbars.resident:
        layers = replace(layers, weights=np.zeros_like(layers.weights))  # programmed once
    register_accesses = 0 if crossbars is not None else REGISTER_ACCESSES_PER_MAC
    hops = ARRAY_HOPS_PER_MAC if compute.type == "systolic" else 0
    traffic: dict[str, Ints] = {}
    for level in platform.memory:
        if level.role == "register":
            accesses = register_accesses * layers.macs
            traffic[level.name] = bits_to_bytes_array(accesses, layers.bits)[:, None]
        elif level.role == "array":
            traffic[level.name] = bits_to_bytes_array(hops * layers.macs, layers.bits)[:, None]
        elif level.role == "buffer":
            traffic[level.name] = _buffer_bytes(layers, platform, designs)
        else:
            buffer = platform.level("buffer")
            cached = buffer is not None and buffer.caches_weights
            traffic[level.name] = _offchip_bytes(layers, designs, cached)
    compute_time: Floats = cycles / (compute.clock_mhz * 1e6)
    compute_energy: dict[str, Floats] = (
        {"mac": (layers.macs * layers.mac_energy_j)[:, None]}
        if crossbars is None
        else {key: value[:, None] for key, value in crossbars.energy.items()}
    )
    compute_energy["elementwise"] = (
        layers.elementwise_ops * layers.mac_energy_j * ELEMENTWISE_ENERGY_FRACTION
    )[:, None]
    memory_time: dict[str, Floats] = {}
    memory_energy: dict[str, Floats] = {}
    for level in platform.memory:
        if level.bandwidth_gb_s is not None:
            memory_time[level.name] = np.asarray(traffic[level.name] / (level.bandwidth_gb_s * 1e9))
        memory_energy[level.name] = np.asarray(
            traffic[level.name] * 8 * level.energy_pj_per_bit * 1e-12, dtype=np.float64
        )
    return Evaluation(cycles, traffic, compute_time, memory_time, compute_energy, memory_energy)


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
    compute = platform.compute
    peak = [compute.macs_per_cycle_at(p) if compute.type == "vector" else
            compute.peak_macs_per_cycle for p in layers.precision]  # fmt: skip
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
