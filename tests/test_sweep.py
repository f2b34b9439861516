"""The design-space sweep: ranges, the Pareto filter, agreement with single estimates."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import edgegap
from edgegap.bridges.sweep import parse_range, sweep
from edgegap.cli import app
from edgegap.errors import UserError
from edgegap.hardware import estimate, load_platform
from edgegap.hardware.technology import array_and_buffer_area
from edgegap.pareto import pareto_mask


def test_ranges():
    assert parse_range("8..64", "array") == [8, 16, 32, 64]
    assert parse_range("8..32:8", "array") == [8, 16, 24, 32]
    assert parse_range("12", "array") == [12]
    for bad in ("8..x", "0..0", "64..8"):
        with pytest.raises(UserError):
            parse_range(bad, "array")


def test_pareto_by_hand():
    points = np.array([[1, 5, 1], [2, 2, 2], [3, 3, 3], [1, 5, 1], [0.5, 9, 1]], dtype=float)
    # (3,3,3) is dominated by (2,2,2); the duplicate (1,5,1)s do not dominate each other
    assert pareto_mask(points).tolist() == [True, True, False, True, True]


def test_every_design_equals_its_own_estimate():
    workload = edgegap.profile("resnet18", dtype="int8")
    platform = load_platform("systolic-generic")
    result = sweep(workload, platform, [16, 32], [8, 64], [128, 1024], ["os", "ws", "is"])
    assert len(result.designs) == 2 * 2 * 2 * 3
    row = result.designs.iloc[7]
    rows, cols = (int(v) for v in row["array"].split("x"))
    memory = [m.model_dump() for m in platform.memory]
    buffer = next(m for m in memory if m["role"] == "buffer")
    buffer["size_bytes"] = int(row["sram_kb"]) * 1024
    variant = type(platform).model_validate(
        platform.with_compute(rows=rows, cols=cols, dataflow=row["dataflow"]).model_dump()
        | {"memory": memory}
    )
    totals = estimate(workload, variant).totals
    assert row["latency_s"] == pytest.approx(totals.latency_s)
    assert row["energy_j"] == pytest.approx(totals.energy_j)
    assert result.pareto["pareto"].all() and len(result.pareto) >= 1


def test_area_grows_with_macs_and_buffer():
    platform = load_platform("systolic-generic")
    areas = array_and_buffer_area(platform, np.array([64, 256, 256]), np.array([1, 1, 2**20]))
    assert areas[0] < areas[1] < areas[2]


def test_sweep_cli_contract():
    runner = CliRunner()
    args = ["sweep", "resnet18", "--array", "16..64", "--sram-kb", "128..512", "--format", "json"]
    record = json.loads(runner.invoke(app, args).stdout)
    assert record["designs_evaluated"] == 3 * 3 * 3 * 3
    assert {"array", "sram_kb", "dataflow", "latency_s", "energy_j", "area_mm2"} <= set(
        record["pareto"][0]
    )
    bad = runner.invoke(app, ["sweep", "resnet18", "--target", "cortex-m7"])
    assert bad.exit_code == 2 and "vector engine" in bad.stderr
    bad = runner.invoke(app, ["sweep", "resnet18", "--dataflow", "rs"])
    assert bad.exit_code == 2 and "unknown dataflow" in bad.stderr


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(*[st.integers(0, 4)] * 3), min_size=1, max_size=40))
def test_pareto_matches_brute_force(rows):
    points = np.array(rows, dtype=float)
    brute = [not any((q <= p).all() and (q < p).any() for q in points) for p in points]
    assert pareto_mask(points).tolist() == brute
