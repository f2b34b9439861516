"""Architecture bridges on hand-worked examples: each transform yields a platform (and workload)
that the one cost model evaluates; the numbers below are worked out in each docstring."""

import json
import math
from pathlib import Path

import pytest
from torch import nn
from typer.testing import CliRunner

import edgegap
from edgegap.bridges import evaluate_bridges
from edgegap.cli import app
from edgegap.errors import UserError
from edgegap.hardware import estimate, fits, load_platform
from edgegap.hardware.cost import ELEMENTWISE_ENERGY_FRACTION
from edgegap.hardware.platform import Platform
from edgegap.techniques.architecture import (
    in_sensor,
    parameter,
    spiking,
    sram_energy_exponent,
    systolic_bridges,
    with_offchip,
)

TINY = Path(__file__).parent / "data" / "platforms" / "tiny.yaml"


def crossbar_platform(arrays: int) -> Platform:
    """The tiny platform with ISAAC-like crossbars: 128x128, 2-bit cells, 1-bit DACs, one ADC
    per array converting in 0.78 ns, 10 MHz steps, easy energies."""
    tiny = load_platform(TINY)
    crossbar = {
        "technology": "reram", "rows": 128, "cols": 128, "arrays": arrays, "bits_per_cell": 2,
        "dac_bits": 1, "adc_bits": 8, "adcs_per_array": 1, "adc_conversion_ns": 0.78,
        "read_energy_pj": 30.0, "dac_energy_pj": 0.5, "adc_energy_pj": 2.0,
        "write_energy_pj_per_cell": 100.0, "write_ns_per_row": 1000.0,
    }  # fmt: skip
    platform = tiny.with_compute(
        type="in-memory", rows=None, cols=None, dataflow=None, clock_mhz=10,
        crossbar=crossbar, vector_lanes=4,
    )  # fmt: skip
    memory = [m.model_dump() for m in platform.memory if m.role != "register"]
    return Platform.model_validate(platform.model_dump() | {"memory": memory})


def test_crossbar_layer_by_hand():
    """Linear(256 -> 128), no bias, batch 1, int8, on 8 arrays.

    A weight takes 8 / 2 = 4 cells; the 256 x 128 weights need ceil(256/128) = 2 row tiles x
    ceil(128 x 4 / 128) = 4 column tiles = 8 arrays: all resident. The input enters 8 bits /
    1-bit DAC = 8 steps; one ADC converts 128 columns in 99.84 ns < one 100 ns step, so the
    layer takes 8 cycles = 0.8 us. Energy (pJ): reads 8 arrays x 8 steps x 30 = 1,920; DACs
    4 column tiles x 8 steps x 256 rows x 0.5 = 4,096; ADCs 2 row tiles x 8 steps x 128 x 4
    columns x 2 = 16,384; no writes. Resident weights never move: the buffer sees the input
    (256 B) and the output (128 B), DRAM nothing (the activations fit on chip).
    """
    workload = edgegap.profile(nn.Linear(256, 128, bias=False), (1, 256), dtype="int8")
    (layer,) = estimate(workload, crossbar_platform(8)).layers
    assert layer.cycles == 8
    assert layer.energy_breakdown.compute["crossbar"] == pytest.approx(1920e-12)
    assert layer.energy_breakdown.compute["dac"] == pytest.approx(4096e-12)
    assert layer.energy_breakdown.compute["adc"] == pytest.approx(16384e-12)
    assert layer.energy_breakdown.compute["write"] == 0
    assert layer.traffic_bytes == {"sram": 384, "dram": 0}


def test_crossbar_weights_that_do_not_fit_are_rewritten():
    """The same layer on 4 arrays: 8 tiles run in 2 passes of 8 steps (16 cycles), each pass
    first writes 128 rows at 1 us = 128 us (1,280 cycles per pass at 10 MHz): 2,576 cycles.
    Every cell is written: 256 x 128 x 4 cells x 100 pJ = 13.1 uJ; the weights now stream
    from DRAM once (32 KiB)."""
    workload = edgegap.profile(nn.Linear(256, 128, bias=False), (1, 256), dtype="int8")
    (layer,) = estimate(workload, crossbar_platform(4)).layers
    assert layer.cycles == 2 * 8 + 2 * 1280
    assert layer.energy_breakdown.compute["write"] == pytest.approx(256 * 128 * 4 * 100e-12)
    assert layer.traffic_bytes["dram"] == 256 * 128


def test_near_data_swaps_the_offchip_energy_per_bit():
    """HBM2 (3.97 pJ/bit, 256 GB/s in memories.csv) for the tiny platform's DRAM (10 pJ/bit):
    the 36 B of weights of the Linear(8 -> 4) example cost 288 bits x 3.97 pJ."""
    workload = edgegap.profile(nn.Linear(8, 4), (2, 8), dtype="int8")
    platform = with_offchip(load_platform(TINY), "HBM2")
    (layer,) = estimate(workload, platform).layers
    assert layer.energy_breakdown.memory["hbm2"] == pytest.approx(288 * 3.97e-12)
    assert layer.latency_s == pytest.approx(130e-9)  # no longer DRAM-bound: compute 13 cycles


def test_sram_energy_grows_with_capacity_as_horowitz_measured():
    """Horowitz's 45 nm SRAM rows: 8 KB 0.156, 32 KB 0.3125, 1 MB 1.5625 pJ/bit. The
    least-squares slope of log energy on log size is 0.4726 (8 KB -> 1 MB is 10x for 128x)."""
    assert sram_energy_exponent() == pytest.approx(0.4726, abs=1e-4)


def test_in_sensor_drops_dram_and_grows_the_buffer():
    """Linear(8 -> 4) at batch 2, int8, needs 36 B of weights + 24 B of activations = 60 B
    on chip: the 1 KB buffer already holds it, so nothing grows and only DRAM goes."""
    workload = edgegap.profile(nn.Linear(8, 4), (2, 8), dtype="int8")
    tiny = load_platform(TINY)
    assert fits(workload, tiny).needed_bytes == 60
    bridge = in_sensor(workload, tiny)
    assert bridge.platform.level("offchip") is None
    assert bridge.platform.level("buffer").size_bytes == 1024
    (layer,) = estimate(workload, bridge.platform).layers
    assert "dram" not in layer.energy_breakdown.memory
    big = edgegap.profile(nn.Linear(64, 64), (1, 64), dtype="int8")
    grown = in_sensor(big, tiny).platform.level("buffer")
    assert grown.size_bytes == 64 * 64 + 64 + 128
    assert grown.energy_pj_per_bit == pytest.approx(
        (grown.size_bytes / 1024) ** sram_energy_exponent()
    )


def test_a_platform_without_dram_must_hold_the_model():
    workload = edgegap.profile(nn.Linear(64, 64), (1, 64), dtype="int8")
    tiny = load_platform(TINY)
    memory = [m.model_dump() for m in tiny.memory if m.role != "offchip"]
    no_dram = Platform.model_validate(tiny.model_dump() | {"memory": memory})
    message = (
        r"^Linear on tiny: 4.2 kB of int8 weights and 128 B of peak activations; weights and "
        r"activations do not fit sram \(1.0 kB\), and it has no off-chip memory"
    )
    with pytest.raises(UserError, match=message):
        estimate(workload, no_dram)


def test_spiking_energy_is_events_times_energy_per_event():
    """Linear(8 -> 4) at batch 2 has 64 MACs; at 0.25 spikes per neuron, 16 synaptic events x
    26 pJ (TrueNorth) = 416 pJ, plus the 8 bias adds at the element-wise fraction of 26 pJ;
    the synapse memory's reads are in the event energy."""
    workload = edgegap.profile(nn.Linear(8, 4), (2, 8), dtype="int8")
    bridge = spiking(workload, load_platform(TINY), spikes_per_neuron=0.25)
    assert parameter("truenorth.energy_per_synaptic_event").value == 26
    cost = estimate(bridge.workload, bridge.platform)
    assert cost.totals.energy_breakdown.compute["mac"] == pytest.approx(16 * 26e-12)
    expected = 16 * 26e-12 + 8 * 26e-12 * ELEMENTWISE_ENERGY_FRACTION
    assert cost.totals.energy_j == pytest.approx(expected)
    with pytest.raises(UserError, match="positive"):
        spiking(workload, load_platform(TINY), spikes_per_neuron=math.nan)


def test_systolic_bridge_picks_the_fastest_dataflow():
    workload = edgegap.profile(nn.Conv2d(16, 32, 3), (1, 16, 16, 16), dtype="int8")
    tiny = load_platform(TINY)
    latency = {
        flow: estimate(workload, tiny.with_compute(dataflow=flow)).totals.latency_s
        for flow in ("os", "ws", "is")
    }
    best_flow, best_shape = systolic_bridges(workload, tiny)
    assert best_flow.platform.compute.dataflow == min(latency, key=latency.__getitem__)
    shape = best_shape.platform.compute
    assert shape.rows * shape.cols == 16
    best_latency = estimate(workload, best_shape.platform).totals.latency_s
    assert best_latency <= min(latency.values())


def test_every_bridge_is_evaluated_with_factors_and_sources():
    report = evaluate_bridges(edgegap.profile("resnet18", dtype="int8"), load_platform("eyeriss"))
    kinds = {r.bridge.kind for r in report.results}
    assert kinds == {"systolic", "near-data", "in-memory", "spiking", "scaling"}
    base = report.baseline.totals
    for result in report.results:
        assert result.bridge.sources, result.bridge.name
        total = result.cost.totals
        assert result.energy_factor == pytest.approx(base.energy_j / total.energy_j)
        assert result.latency_factor == pytest.approx(base.latency_s / total.latency_s)
    assert {s.name for s in report.skipped} >= {"near-data: Wide I/O (mobile, TSV)"}


def test_bridges_cli_json_contract():
    result = CliRunner().invoke(app, ["bridges", "mobilenet_v2", "--target", "edge-tpu",
                                      "--format", "json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    record = json.loads(result.output)
    assert {"model", "platform", "baseline", "bridges"} <= set(record)
    assert {"latency_s", "energy_j", "area_mm2"} <= set(record["baseline"])
    keys = {"name", "technique", "kind", "latency_s", "energy_j", "area_mm2", "latency_factor",
            "energy_factor", "sources"}  # fmt: skip
    for bridge in record["bridges"]:
        assert keys <= set(bridge)
        assert bridge["kind"] in ("systolic", "near-data", "in-memory", "spiking", "scaling")


def test_bridges_cli_rejects_bad_input():
    runner = CliRunner()
    result = runner.invoke(app, ["bridges", "resnet18", "--target", "nope"])
    assert result.exit_code == 2 and "unknown platform" in result.output
    result = runner.invoke(app, ["bridges", "resnet18", "--spikes-per-neuron", "-1"])
    assert result.exit_code == 2 and "spikes_per_neuron must be in" in result.output


def test_edram_bridge_uses_dadiannaos_energy_and_density_at_the_nodes_scale():
    """Linear(64 -> 64) at int8 needs 4,288 B on chip; the tiny platform (28 nm, 1 mm²) gets an
    eDRAM buffer of that size at 0.121 pJ/bit (DaDianNao's, derived at ISAAC's 32 nm) times the
    28 nm / 32 nm energy factor, and 1.08 MB/mm² (32 nm, DaDianNao's MB read as MiB) divided by
    the area factor for the 3,264 B added."""
    from edgegap.hardware.technology import node_factors
    from edgegap.techniques.architecture import edram

    workload = edgegap.profile(nn.Linear(64, 64), (1, 64), dtype="int8")
    bridge = edram(workload, load_platform(TINY))
    buffer = bridge.platform.level("buffer")
    here, there = node_factors(28), node_factors(32)
    assert buffer.size_bytes == 4288
    assert buffer.energy_pj_per_bit == pytest.approx(0.121 * here.energy / there.energy)
    density = 1.08 * there.area / here.area  # MB per mm² at 28 nm
    assert bridge.area_mm2 == pytest.approx(1.0 + 3264 / 2**20 / density)
    assert bridge.platform.level("offchip") is None


def test_depthwise_filters_share_crossbars_on_the_block_diagonal():
    """A 3x3 depthwise convolution of 16 channels at int8: each channel's 9 x 1 filter takes
    9 rows and 4 two-bit cells. A 128 x 128 array holds min(128 // 9, 128 // 4) = 14 of them
    side by side, so 16 channels need 2 arrays, not 16."""
    from edgegap.hardware.engines.in_memory import crossbar_tiles

    workload = edgegap.profile(nn.Conv2d(16, 16, 3, padding=1, groups=16), (1, 16, 8, 8),
                               dtype="int8")  # fmt: skip
    platform = crossbar_platform(64)
    assert crossbar_tiles(workload, platform, platform.compute.crossbar) == 2


def test_bridges_cli_scaling_that_never_ends():
    result = CliRunner().invoke(
        app, ["bridges", "alexnet", "--target", "eyeriss", "--scaling-ends", "none",
              "--format", "json"]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    scaled = next(b for b in json.loads(result.output)["bridges"] if b["technique"] == "scaling")
    assert scaled["name"] == "scaling: 5 nm"
    with pytest.raises(UserError, match="no architecture technique scalin"):
        evaluate_bridges(edgegap.profile("alexnet"), load_platform("eyeriss"), {"scalin": {}})
