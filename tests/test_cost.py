"""The cost model on hand-worked examples (tests/data/platforms/tiny.yaml)."""

import json
from pathlib import Path

import pytest
from torch import nn

import edgegap
from edgegap.hardware import Platform, estimate, load_platform, precision_for
from edgegap.hardware.cost import ELEMENTWISE_ENERGY_FRACTION

TINY = Path(__file__).parent / "data" / "platforms" / "tiny.yaml"


def test_linear_layer_by_hand():
    """Linear(8 -> 4) at batch 2, int8, on a 4x4 output-stationary array at 100 MHz.

    Matrix form m=2 (batch), k=8, n=4: os maps Sr=m=2 rows, Sc=n=4 columns, T=k=8, one fold:
    cycles = 1 x (T + rows + cols - 2) - 1 = 13. Bytes at 8 bits: weights 32 + bias 4 = 36,
    inputs 16, outputs 8. Buffer reads: inputs x 1 column fold + weights x 1 row fold +
    outputs = 60 B; off-chip: the activations (24 B) fit half the 1 KB buffer and stay on chip,
    so only the 36 B of weights stream in. Times: compute 130 ns, buffer 60 ns, DRAM 360 ns:
    DRAM-bound, 360 ns. Energy (pJ): MACs 64 x 1; bias adds 8 x 1 x 0.196; register
    3 x 64 x 8 bit x 0.1 = 153.6; buffer 480 bit x 1 = 480; DRAM 288 bit x 10 = 2880.
    """
    workload = edgegap.profile(nn.Linear(8, 4), (2, 8), dtype="int8")
    cost = estimate(workload, load_platform(TINY))
    (layer,) = cost.layers
    assert layer.cycles == 13
    assert layer.traffic_bytes == {"rf": 192, "sram": 60, "dram": 36}
    assert layer.latency_s == pytest.approx(360e-9)
    assert (layer.bound, layer.limiting_level) == ("memory", "dram")
    assert layer.utilization == pytest.approx(64 / (13 * 16))
    compute = {"mac": 64e-12, "elementwise": 8e-12 * ELEMENTWISE_ENERGY_FRACTION}
    memory = {"rf": 153.6e-12, "sram": 480e-12, "dram": 2880e-12}
    assert layer.energy_breakdown.compute == pytest.approx(compute)
    assert layer.energy_breakdown.memory == pytest.approx(memory)
    assert layer.energy_breakdown.largest() == ("memory", "dram", pytest.approx(2880e-12))
    assert cost.totals.energy_j == pytest.approx(sum(compute.values()) + sum(memory.values()))
    power = cost.power  # tiny states no idle power: taken as 0, and said so
    assert (power.fps, power.idle_w, power.idle_stated) == (30.0, 0.0, False)
    assert power.max_fps == pytest.approx(2 / 360e-9)  # a batch of 2 every 360 ns
    assert power.average_w == pytest.approx(cost.totals.energy_j / 2 * 30)
    assert power.peak_w == pytest.approx(cost.totals.energy_j / 360e-9)
    assert power.sustains_rate and power.fits_budget  # 0.1 uW at 30 frames/s, 1 mW budget
    flat_out = estimate(workload, load_platform(TINY), fps=1e9).power  # above 5.6 M frames/s
    assert not flat_out.sustains_rate and not flat_out.fits_budget
    assert flat_out.average_w == pytest.approx(cost.totals.energy_j / 2 * 1e9)  # what it needs


def test_working_set_larger_than_the_buffer_is_refetched():
    """With a 16 B buffer (8 B halves), keeping input tiles resident and streaming the 36 B of
    weights once per tile (16 B / 8 B = 2 tiles) moves 16 + 8 + 2 x 36 = 96 B, cheaper than
    the other order (36 + 8 + 16 x ceil(36 / 8) = 124 B)."""
    platform = load_platform(TINY)
    memory = [level.model_dump() for level in platform.memory]
    memory[1]["size_bytes"] = 16
    small = type(platform).model_validate(platform.model_dump() | {"memory": memory})
    workload = edgegap.profile(nn.Linear(8, 4), (2, 8), dtype="int8")
    (layer,) = estimate(workload, small).layers
    assert layer.traffic_bytes["dram"] == 96


def test_precision_and_sparsity_flow_through():
    platform = load_platform(TINY)
    assert precision_for(platform, 8) == "int8"
    assert precision_for(platform, 4) == "int8"  # narrowest supported that holds it
    assert precision_for(platform, 32) == "fp16"  # widest supported when none holds it
    model = nn.Linear(64, 64)
    fp16 = estimate(edgegap.profile(model, (1, 64), dtype="float16"), platform)
    int8 = estimate(edgegap.profile(model, (1, 64), dtype="int8"), platform)
    assert fp16.totals.energy_breakdown.compute["mac"] == pytest.approx(
        4 * int8.totals.energy_breakdown.compute["mac"]
    )
    assert int8.totals.energy_breakdown.memory["dram"] < fp16.totals.energy_breakdown.memory["dram"]


def test_vector_engine_and_zero_skipping():
    platform = load_platform("cortex-m7")
    skipping = platform.with_compute(zero_skipping=True)
    workload = edgegap.profile(nn.Linear(256, 256), (1, 256), dtype="int8")
    layer = workload.layers[0]
    sparse = type(workload)(
        workload.model,
        workload.input_shape,
        (type(layer)(**{**layer.__dict__, "weight_density": 0.25}),),
        workload.peak_activation_bytes,
    )
    dense_cost = estimate(sparse, platform).layers[0]
    sparse_cost = estimate(sparse, skipping).layers[0]
    assert dense_cost.macs == 256 * 256
    assert sparse_cost.macs == 256 * 256 // 4
    assert sparse_cost.cycles < dense_cost.cycles
    assert sparse_cost.energy_j < dense_cost.energy_j


def test_every_builtin_platform_runs_resnet18():
    workload = edgegap.profile("resnet18", dtype="int8")
    for name in edgegap.hardware.builtin_names():
        cost = estimate(workload, load_platform(name))
        assert cost.totals.latency_s > 0 and cost.totals.energy_j > 0, name
        assert cost.totals.energy_breakdown.total == pytest.approx(cost.totals.energy_j)


def test_a_vector_engine_runs_narrow_precisions_at_their_own_rate():
    """Linear(8 -> 4) at batch 2: 64 MACs. A vector engine of 4 fp16 MACs per cycle takes 16
    cycles at fp16; at 8 int8 MACs per cycle, 8 cycles (the bias adds ride along with the
    MACs, as on every engine)."""
    tiny = load_platform(TINY)
    vector = tiny.with_compute(type="vector", rows=None, cols=None, dataflow=None,
                               macs_per_cycle=4, macs_per_cycle_by_precision={"int8": 8},
                               vector_lanes=8)  # fmt: skip
    fp16 = estimate(edgegap.profile(nn.Linear(8, 4), (2, 8), dtype="float16"), vector)
    int8 = estimate(edgegap.profile(nn.Linear(8, 4), (2, 8), dtype="int8"), vector)
    assert (fp16.layers[0].cycles, int8.layers[0].cycles) == (16, 8)


def test_a_buffer_that_caches_weights_moves_nothing_off_chip_once_they_fit():
    """The Linear(8 -> 4) example's 36 B of weights and 24 B of activations fit the 1 KB
    buffer: with caching, the steady-state DRAM traffic is zero and the layer is no longer
    DRAM-bound (130 ns of compute); with a 32 B buffer they do not fit and stream as before."""
    platform = load_platform(TINY)
    memory = [level.model_dump() for level in platform.memory]
    memory[1]["caches_weights"] = True
    caching = type(platform).model_validate(platform.model_dump() | {"memory": memory})
    workload = edgegap.profile(nn.Linear(8, 4), (2, 8), dtype="int8")
    (layer,) = estimate(workload, caching).layers
    assert layer.traffic_bytes["dram"] == 0
    assert layer.latency_s == pytest.approx(130e-9)
    memory[1]["size_bytes"] = 32
    small = type(platform).model_validate(platform.model_dump() | {"memory": memory})
    assert estimate(workload, small).layers[0].traffic_bytes["dram"] > 0


def _renamed(level: str, name: str) -> Platform:
    """The tiny platform with the memory level of role `level` named `name`."""
    platform = load_platform(TINY)
    memory = [m.model_dump() | ({"name": name} if m.role == level else {}) for m in platform.memory]
    return Platform.model_validate(platform.model_dump() | {"memory": memory})


def test_a_memory_level_named_like_a_compute_component_keeps_both_energies():
    """An off-chip level named `mac` (or `elementwise`) does not overwrite the MAC energy: the
    total equals the same platform's with the level named `dram`."""
    workload = edgegap.profile(nn.Linear(8, 4), (2, 8), dtype="int8")
    reference = estimate(workload, _renamed("offchip", "dram"))
    for name in ("mac", "elementwise"):
        cost = estimate(workload, _renamed("offchip", name))
        assert cost.totals.energy_j == reference.totals.energy_j, name
        breakdown = cost.totals.energy_breakdown
        assert breakdown.compute["mac"] == reference.totals.energy_breakdown.compute["mac"]
        assert breakdown.memory[name] == reference.totals.energy_breakdown.memory["dram"]
        assert breakdown.largest() == ("memory", name, breakdown.memory[name])
        assert breakdown.label("memory", name) == f"memory {name}"
        frame = cost.to_dataframe()
        assert frame["energy_compute_mac_j"].sum() == pytest.approx(64e-12)
        assert frame[f"energy_memory_{name}_j"].sum() == pytest.approx(2880e-12)


def test_a_memory_level_named_compute_is_reported_as_the_memory_bound():
    """The Linear(8 -> 4) example is DRAM-bound (360 ns against 130 ns of compute): with the
    DRAM level named `compute` it is still memory-bound, limited by that level."""
    workload = edgegap.profile(nn.Linear(8, 4), (2, 8), dtype="int8")
    (layer,) = estimate(workload, _renamed("offchip", "compute")).layers
    assert (layer.bound, layer.limiting_level) == ("memory", "compute")
    assert layer.latency_s == pytest.approx(360e-9)
    record = json.loads(estimate(workload, _renamed("offchip", "compute")).to_json())
    assert record["layers"][0]["limiting_level"] == "compute"
    assert record["layers"][0]["energy_breakdown"]["memory"]["compute"] == pytest.approx(2880e-12)


def test_a_compute_bound_layer_has_no_limiting_level():
    """With the weights cached on chip the example runs at its 130 ns of compute."""
    platform = load_platform(TINY)
    memory = [level.model_dump() for level in platform.memory]
    memory[1]["caches_weights"] = True
    caching = Platform.model_validate(platform.model_dump() | {"memory": memory})
    workload = edgegap.profile(nn.Linear(8, 4), (2, 8), dtype="int8")
    (layer,) = estimate(workload, caching).layers
    assert (layer.bound, layer.limiting_level) == ("compute", None)


def test_the_estimate_table_marks_a_level_named_compute_as_memory(tmp_path):
    from typer.testing import CliRunner

    from edgegap.cli import app

    yaml = TINY.read_text().replace("name: dram", "name: compute")
    (tmp_path / "odd.yaml").write_text(yaml)
    topology = Path(__file__).parent / "data" / "scalesim" / "alexnet_conv.csv"
    result = CliRunner().invoke(
        app,
        ["estimate", "--topology", str(topology), "--target", str(tmp_path / "odd.yaml")],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    assert "memory compute" in result.output
