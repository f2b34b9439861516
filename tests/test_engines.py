"""Compute engines as plug-ins: the `compute.type` union of specs, one `Engine` per type
behind one interface, and the cost model around it (docs/cost-model.md, Engines)."""

from __future__ import annotations

from pathlib import Path
from typing import get_args

import numpy as np
import pytest
from torch import nn

import edgegap
from edgegap.errors import UserError
from edgegap.hardware import estimate, load_platform
from edgegap.hardware.catalog import CATALOG, parse_platform
from edgegap.hardware.cost import ELEMENTWISE_ENERGY_FRACTION, Designs
from edgegap.hardware.engines import ENGINES, Engine
from edgegap.hardware.layers import Floats, Ints
from edgegap.hardware.platform import ENGINE_TYPES, SHARED, VectorCompute

TINY = Path(__file__).parent / "data" / "platforms" / "tiny.yaml"


def test_every_engine_type_has_an_engine_for_its_spec():
    tags = {get_args(spec.model_fields["type"].annotation)[0]: spec for spec in ENGINE_TYPES}
    assert set(ENGINES) == set(tags)
    for tag, engine in ENGINES.items():
        assert get_args(engine.__orig_bases__[0])[0] is tags[tag]  # type: ignore[attr-defined]


class Toy(Engine[VectorCompute]):
    """1,000 cycles a layer, one register access per MAC, the buffer serving only outputs,
    a picojoule per MAC under a name of its own."""

    register_accesses_per_mac = 1

    def cycles(self, designs: Designs) -> Ints:
        return np.full((len(self.layers.macs), len(designs)), 1000)

    def buffer_bytes(self, designs: Designs) -> Ints:
        return np.broadcast_to(self.layers.outputs[:, None], (len(self.layers.macs), len(designs)))

    def energy(self) -> dict[str, Floats]:
        return {"toy": self.layers.macs * 1e-12}


def test_the_cost_model_asks_the_engine_and_does_the_rest(monkeypatch):
    """Linear(8 -> 4) at batch 2, int8, on the tiny platform's memories: 64 MACs, 36 B of
    weights, 16 B of inputs, 8 B of outputs, 8 bias adds. The toy's 1,000 cycles at 100 MHz
    (10 us) outlast the memories (DRAM: 36 B of weights at 0.1 GB/s, 360 ns), so the layer is
    compute-bound; the register file sees 64 accesses of a byte, the buffer the 8 B the toy
    says, DRAM the weights (the activations fit half the buffer); the energy is the toy's
    plus the element-wise work plus every bit moved."""
    monkeypatch.setitem(ENGINES, "vector", Toy)
    platform = load_platform(TINY).with_compute(type="vector", macs_per_cycle=4)
    workload = edgegap.profile(nn.Linear(8, 4), (2, 8), dtype="int8")
    (layer,) = estimate(workload, platform).layers
    assert layer.cycles == 1000
    assert (layer.latency_s, layer.bound) == (pytest.approx(10e-6), "compute")
    assert layer.traffic_bytes == {"rf": 64, "sram": 8, "dram": 36}
    assert layer.energy_breakdown.compute == pytest.approx(
        {"toy": 64e-12, "elementwise": 8 * 1e-12 * ELEMENTWISE_ENERGY_FRACTION}
    )
    assert layer.energy_breakdown.memory == pytest.approx(
        {"rf": 64 * 8 * 0.1e-12, "sram": 8 * 8 * 1e-12, "dram": 36 * 8 * 10e-12}
    )


def _refused(text: str, origin: str) -> str:
    with pytest.raises(UserError) as error:
        parse_platform(text, origin)
    message = str(error.value)
    assert "\n" not in message and len(message) < 200, message
    return message


def test_a_runtime_s_fixed_time_per_layer_adds_to_each_layer_and_costs_no_energy():
    """`fixed_s_per_layer` (a launch, a barrier) is added to every layer the platform runs,
    after the roofline: it overlaps neither the compute nor the memory time."""
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 8))
    workload = edgegap.profile(model, (1, 64))
    plain = load_platform(TINY).with_compute(type="vector", macs_per_cycle=8)
    launched = plain.with_compute(fixed_s_per_layer=2e-6)
    before, after = estimate(workload, plain), estimate(workload, launched)
    assert len(after.layers) == len(before.layers) >= 2
    for old, new in zip(before.layers, after.layers, strict=True):
        assert new.latency_s == pytest.approx(old.latency_s + 2e-6, rel=1e-12)
        assert new.energy_j == old.energy_j and new.bound == old.bound
    with pytest.raises(UserError, match="fixed_s_per_layer"):
        plain.with_compute(fixed_s_per_layer=-1e-6)


def test_a_field_of_another_engine_type_is_refused_in_one_line():
    m7 = (CATALOG / "cortex-m7.yaml").read_text(encoding="utf-8")
    line = m7.splitlines().index("  type: vector") + 2
    rows = m7.replace("  type: vector\n", "  type: vector\n  rows: 4\n")
    assert _refused(rows, "m7.yaml") == (
        f"m7.yaml:{line}: compute.rows: a field of a systolic array (type: systolic), not of "
        "a vector engine"
    )
    tiny = TINY.read_text()
    crossbar = tiny.replace("dataflow: os", "dataflow: os\n  crossbar: {rows: 4}")
    assert _refused(crossbar, "chip.yaml") == (
        "chip.yaml:15: compute.crossbar: a field of an in-memory engine (type: in-memory), "
        "not of a systolic array"
    )
    assert _refused(tiny.replace("type: systolic", "type: gpu"), "chip.yaml") == (
        "chip.yaml:11: compute.type: must be one of systolic, vector, in-memory, cpu, got 'gpu'"
    )
    assert _refused(tiny.replace("  rows: 4\n  cols: 4\n", ""), "chip.yaml") == (
        "chip.yaml:11: compute: a systolic array needs rows, cols"
    )


def test_changing_the_type_keeps_only_what_every_engine_shares():
    tiny = load_platform(TINY)
    vector = tiny.with_compute(type="vector", macs_per_cycle=8)
    assert isinstance(vector.compute, VectorCompute)
    shared = {key: value for key, value in tiny.compute.model_dump().items() if key in SHARED}
    assert vector.compute.model_dump() == shared | {
        "type": "vector", "macs_per_cycle": 8, "macs_per_cycle_by_precision": {},
        "utilization": 1.0, "fixed_s_per_layer": 0.0}  # fmt: skip
    with pytest.raises(UserError, match=r"tiny with rows=8: compute\.rows: a field of a systolic"):
        vector.with_compute(rows=8)


def test_every_engine_answers_its_peak_and_prints_in_file_order():
    jetson, eyeriss = load_platform("jetson-orin-nano"), load_platform("eyeriss")
    assert jetson.compute.macs_per_cycle_at("int8") == 2 * jetson.compute.peak_macs_per_cycle
    assert eyeriss.compute.macs_per_cycle_at("int16") == eyeriss.compute.peak_macs_per_cycle
    assert eyeriss.compute.peak_macs_per_cycle == 12 * 14
    dumped = list(eyeriss.compute.model_dump())
    assert dumped[:5] == ["type", "rows", "cols", "dataflow", "clock_mhz"]
    assert list(jetson.compute.model_dump())[-2:] == ["source", "notes"]
