"""Technology scaling of a platform, by hand on the tabulated nodes."""

from pathlib import Path

import pytest

from edgegap.errors import UserError
from edgegap.hardware import estimate, load_platform
from edgegap.hardware.technology import node_factors, scale_platform
from edgegap.workload import profile

TINY = Path(__file__).parent / "data" / "platforms" / "tiny.yaml"


def test_tabulated_and_interpolated_factors():
    assert node_factors(45) == node_factors(45.0)
    assert node_factors(45).area == pytest.approx(1.0)
    assert node_factors(7).energy == pytest.approx(0.05552)
    # 28 nm lies between 32 and 20 nm: log-log interpolation stays between them
    f28 = node_factors(28)
    assert node_factors(20).area < f28.area < node_factors(32).area
    with pytest.raises(UserError, match="no scaling data for 1 nm"):
        node_factors(1)


def test_tiny_platform_from_28_to_7_nm():
    """tiny.yaml is at 28 nm: energy x E(7)/E(28), clock x D(28)/D(7), area x A(7)/A(28)."""
    platform = load_platform(TINY)
    f28, f7 = node_factors(28), node_factors(7)
    scaled = scale_platform(platform, 7)
    assert scaled.process_nm == 7 and scaled.name == "tiny-7nm"
    assert scaled.area_mm2 == pytest.approx(1.0 * f7.area / f28.area)
    assert scaled.compute.clock_mhz == pytest.approx(100 * f28.delay / f7.delay)
    assert scaled.compute.mac_energy_pj["int8"] == pytest.approx(f7.energy / f28.energy)
    sram, dram = scaled.level("buffer"), scaled.level("offchip")
    assert sram is not None and dram is not None
    assert sram.energy_pj_per_bit == pytest.approx(f7.energy / f28.energy)
    assert dram.energy_pj_per_bit == 10.0  # off-chip memory is another technology
    assert scaled.power_budget_w == platform.power_budget_w


def test_scaling_end_is_explicit_and_switchable():
    platform = load_platform("eyeriss")
    stopped = scale_platform(platform, 3)  # default: no gain past 5 nm
    assert stopped.compute.mac_energy_pj == scale_platform(platform, 5).compute.mac_energy_pj
    running = scale_platform(platform, 3, scaling_ends_nm=None)
    assert running.compute.mac_energy_pj["int16"] < stopped.compute.mac_energy_pj["int16"]


def test_a_scaled_platform_runs_through_the_cost_model_unchanged():
    workload = profile("resnet18", dtype="int8")
    base = estimate(workload, load_platform("systolic-generic"))
    scaled = estimate(workload, scale_platform(load_platform("systolic-generic"), 7))
    mac = base.totals.energy_breakdown.compute["mac"]
    assert scaled.totals.energy_breakdown.compute["mac"] < mac
    assert scaled.totals.latency_s < base.totals.latency_s


def test_scale_cli():
    import json

    from typer.testing import CliRunner

    from edgegap.cli import app

    runner = CliRunner()
    record = json.loads(
        runner.invoke(app, ["scale", "tpu-v1", "--node", "7", "--format", "json"]).stdout
    )
    assert record["process_nm"] == 7 and record["name"] == "tpu-v1-7nm"
    table = runner.invoke(app, ["scale", "eyeriss", "--node", "5"])
    assert table.exit_code == 0 and "MAC energy int16" in table.stdout
    for args in (["--node", "1", "--scaling-ends", "none"], ["--node", "5", "--scaling-ends", "x"]):
        bad = runner.invoke(app, ["scale", "eyeriss", *args])
        assert bad.exit_code == 2 and bad.stderr.startswith("error: ")
