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
  moved x energy per bit at each level.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from edgegap.hardware import systolic
from edgegap.hardware.platform import Platform
from edgegap.workload.layer import Layer, Workload

PRECISION_BITS = {
    "fp32": 32, "fp16": 16, "bf16": 16, "int16": 16, "int8": 8, "int4": 4, "int2": 2, "binary": 1,
}  # fmt: skip

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
class LayerCost:
    name: str
    op: str
    kind: str
    precision: str
    macs: int
    cycles: int
    utilization: float
    latency_s: float
    bound: str  # "compute" or "memory"
    limiter: str  # "compute" or the memory level whose traffic takes longest
    energy_j: float
    energy_breakdown: dict[str, float]
    traffic_bytes: dict[str, int]


@dataclass(frozen=True)
class CostTotals:
    cycles: int
    latency_s: float
    throughput_per_s: float
    energy_j: float
    power_w: float
    fits_power_budget: bool
    energy_breakdown: dict[str, float]


@dataclass(frozen=True)
class Cost:
    model: str
    platform: str
    layers: tuple[LayerCost, ...]
    totals: CostTotals

    def to_dict(self, per_layer: bool = True) -> dict[str, Any]:
        record: dict[str, Any] = {
            "model": self.model,
            "platform": self.platform,
            "totals": asdict(self.totals),
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
            row |= {f"energy_{k}_j": v for k, v in breakdown.items()}
            row |= {f"traffic_{k}_bytes": v for k, v in traffic.items()}
            rows.append(row)
        return pd.DataFrame(rows)


def precision_for(platform: Platform, bits: int) -> str:
    """The platform precision a layer of `bits` runs at: the narrowest supported that holds
    it, or the widest supported when none does (the deployment quantises to what the chip
    offers)."""
    supported = sorted(platform.compute.precisions, key=lambda p: PRECISION_BITS[p])
    for precision in supported:
        if PRECISION_BITS[precision] >= bits:
            return precision
    return supported[-1]


def _mac_layer(layer: Layer, platform: Platform, operands: tuple[int, int, int]) -> tuple[int, int]:
    """(buffer bytes, compute cycles) of a layer with matrix products.

    On a systolic array the stationary operand is read from the buffer once and the streamed
    one once per fold of the other array dimension (the array's shifting supplies the sliding
    window's reuse, so an input is fetched, not its im2col copies); partial sums accumulate
    beside the array and each output is written once.
    """
    compute = platform.compute
    weights, inputs, outputs = operands
    if compute.type == "vector":
        lanes = compute.peak_macs_per_cycle * compute.utilization
        return weights + inputs + outputs, math.ceil(_executed_macs(layer, platform) / lanes)
    assert compute.rows and compute.cols and compute.dataflow
    dataflow = compute.dataflow
    cycle_count = 0
    for gemm in layer.gemms:
        sr, sc, t = systolic.operand_dims(gemm.m, gemm.k, gemm.n, dataflow)
        cycle_count += gemm.groups * int(
            systolic.cycles(sr, sc, t, compute.rows, compute.cols, dataflow)
        )
    largest = max(layer.gemms, key=lambda gemm: gemm.macs)
    sr, sc, _ = systolic.operand_dims(largest.m, largest.k, largest.n, dataflow)
    row_folds, col_folds = (int(f) for f in systolic.folds(sr, sc, compute.rows, compute.cols))
    if dataflow == "os":
        reads = inputs * col_folds + weights * row_folds
    elif dataflow == "ws":
        reads = weights + inputs * col_folds
    else:
        reads = inputs + weights * col_folds
    return reads + outputs, cycle_count


def _executed_macs(layer: Layer, platform: Platform) -> int:
    if platform.compute.zero_skipping:
        return round(layer.macs * layer.weight_density * layer.activation_density)
    return layer.macs


def _offchip_bytes(weights: int, inputs: int, outputs: int, buffer_bytes: int | None) -> int:
    """Off-chip traffic of one layer, half the buffer holding activations and half weight tiles.

    While the layer's input and output fit their half, activations stay on chip (they arrive
    from the previous layer and wait for the next) and only the weights stream in, once.
    Otherwise a tiled loop nest keeps a tile of one operand in half the buffer and streams the
    other once per tile, whichever order moves fewer bytes; outputs are written once.
    """
    if buffer_bytes is None:
        return weights + inputs + outputs
    half = max(buffer_bytes // 2, 1)
    if inputs + outputs <= half:
        return weights
    keep_weights = weights + outputs + inputs * math.ceil(weights / half)
    keep_inputs = inputs + outputs + weights * math.ceil(inputs / half)
    return min(keep_weights, keep_inputs)


def estimate_layer(layer: Layer, platform: Platform) -> LayerCost:
    compute = platform.compute
    precision = precision_for(platform, max(layer.weight_bits, layer.activation_bits))
    bits = PRECISION_BITS[precision]
    mac_energy_j = compute.mac_energy_pj[precision] * 1e-12  # type: ignore[index]
    macs = _executed_macs(layer, platform)
    density = layer.weight_density if compute.zero_skipping else 1.0
    weights = math.ceil(layer.weight_elements * density * bits / 8)
    inputs = math.ceil(layer.input_elements * bits / 8)
    outputs = math.ceil(layer.output_elements * bits / 8)
    elementwise_ops = max(layer.flops - 2 * layer.macs, 0)

    if layer.gemms:
        buffer_bytes, compute_cycles = _mac_layer(layer, platform, (weights, inputs, outputs))
    else:
        buffer_bytes = weights + inputs + outputs
        compute_cycles = math.ceil(elementwise_ops / compute.vector_ops_per_cycle)
    traffic: dict[str, int] = {}
    buffer = platform.level("buffer")
    for level in platform.memory:
        if level.role == "register":
            traffic[level.name] = math.ceil(REGISTER_ACCESSES_PER_MAC * macs * bits / 8)
        elif level.role == "array":
            hops = ARRAY_HOPS_PER_MAC if compute.type == "systolic" else 0
            traffic[level.name] = math.ceil(hops * macs * bits / 8)
        elif level.role == "buffer":
            traffic[level.name] = buffer_bytes
        else:
            capacity = buffer.size_bytes if buffer is not None else None
            traffic[level.name] = _offchip_bytes(weights, inputs, outputs, capacity)

    clock_hz = compute.clock_mhz * 1e6
    times = {"compute": compute_cycles / clock_hz}
    for level in platform.memory:
        if level.bandwidth_gb_s is not None:
            times[level.name] = traffic[level.name] / (level.bandwidth_gb_s * 1e9)
    bound = max(times, key=lambda key: times[key])
    latency_s = times[bound]

    breakdown = {
        "mac": macs * mac_energy_j,
        "elementwise": elementwise_ops * mac_energy_j * ELEMENTWISE_ENERGY_FRACTION,
    }
    for level in platform.memory:
        breakdown[level.name] = traffic[level.name] * 8 * level.energy_pj_per_bit * 1e-12
    peak = compute_cycles * compute.peak_macs_per_cycle
    return LayerCost(
        name=layer.name,
        op=layer.op,
        kind=layer.kind,
        precision=precision,
        macs=macs,
        cycles=compute_cycles,
        utilization=macs / peak if peak and layer.gemms else 0.0,
        latency_s=latency_s,
        bound="compute" if bound == "compute" else "memory",
        limiter=bound,
        energy_j=sum(breakdown.values()),
        energy_breakdown=breakdown,
        traffic_bytes=traffic,
    )


def estimate(workload: Workload, platform: Platform) -> Cost:
    """Latency and energy of one inference of `workload` (its batch) on `platform`."""
    layers = tuple(estimate_layer(layer, platform) for layer in workload.layers)
    latency = sum(layer.latency_s for layer in layers)
    energy = sum(layer.energy_j for layer in layers)
    breakdown: dict[str, float] = {}
    for layer in layers:
        for key, value in layer.energy_breakdown.items():
            breakdown[key] = breakdown.get(key, 0.0) + value
    power = energy / latency if latency else 0.0
    batch = workload.input_shape[0] if workload.input_shape else 1
    return Cost(
        model=workload.model,
        platform=platform.name,
        layers=layers,
        totals=CostTotals(
            cycles=sum(layer.cycles for layer in layers),
            latency_s=latency,
            throughput_per_s=batch / latency if latency else 0.0,
            energy_j=energy,
            power_w=power,
            fits_power_budget=power <= platform.power_budget_w,
            energy_breakdown=breakdown,
        ),
    )
