"""Systolic-array cycles against SCALE-Sim 3.0.0's own reports, exactly.

References: tests/data/scalesim/reference_cycles.csv, made by running SCALE-Sim on the topology
CSVs beside it (tests/data/scalesim/README.md says how).
"""

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from edgegap.cli import app
from edgegap.errors import UserError
from edgegap.hardware import estimate, load_platform, systolic
from edgegap.workload.scalesim import read_topology

DATA = Path(__file__).parent / "data" / "scalesim"
REFERENCE = list(csv.DictReader((DATA / "reference_cycles.csv").read_text().splitlines()))
RUNS = sorted({(r["topology"], int(r["array_rows"]), int(r["array_cols"]), r["dataflow"])
               for r in REFERENCE})  # fmt: skip


def test_reference_covers_both_networks_all_dataflows_and_a_non_square_array():
    assert {run[0] for run in RUNS} >= {"alexnet", "resnet18"}
    assert {run[3] for run in RUNS} == {"os", "ws", "is"}
    assert any(rows != cols for _, rows, cols, _ in RUNS)


@pytest.mark.parametrize("run", RUNS, ids=lambda r: f"{r[0]}-{r[1]}x{r[2]}-{r[3]}")
def test_cycles_equal_scalesim_on_every_layer(run):
    topology, rows, cols, dataflow = run
    expected = [r for r in REFERENCE if (r["topology"], int(r["array_rows"]),
                int(r["array_cols"]), r["dataflow"]) == run]  # fmt: skip
    platform = load_platform("systolic-generic").with_compute(
        rows=rows, cols=cols, dataflow=dataflow
    )
    cost = estimate(read_topology(DATA / f"{topology}_conv.csv"), platform)
    assert [layer.cycles for layer in cost.layers] == [int(r["total_cycles"]) for r in expected]
    for layer, reference in zip(cost.layers, expected, strict=True):
        assert 100 * layer.utilization == pytest.approx(float(reference["overall_util_pct"]))


@given(
    st.integers(1, 500), st.integers(1, 500), st.integers(1, 500),
    st.integers(1, 64), st.integers(1, 64), st.sampled_from(["os", "ws", "is"]),
)  # fmt: skip
def test_cycles_bound_the_macs(m, k, n, rows, cols, dataflow):
    """No schedule beats rows x cols MACs per cycle, and vectorised equals scalar.

    SCALE-Sim's `Total Cycles` is the index of the last cycle, counted from 0: one less than
    the cycles elapsed, hence the + 1."""
    sr, sc, t = systolic.operand_dims(m, k, n, dataflow)
    cycles = int(systolic.cycles(sr, sc, t, rows, cols, dataflow))
    assert (cycles + 1) * rows * cols >= m * k * n
    many = systolic.cycles(np.array([sr, sr]), np.array([sc, sc]), np.array([t, t]),
                           np.array([rows, 1]), np.array([cols, 1]), dataflow)  # fmt: skip
    assert many[0] == cycles


def test_topology_errors(tmp_path):
    missing = tmp_path / "missing.csv"
    missing.write_text("Layer name, IFMAP Height, IFMAP Width, Filter Height, Channels,\n")
    with pytest.raises(UserError, match=r"missing.csv:1: missing columns Filter Width"):
        read_topology(missing)
    bad = tmp_path / "bad.csv"
    header = (DATA / "alexnet_conv.csv").read_text().splitlines()[0]
    bad.write_text(f"{header}\nconv1, 227, 227, 11, 11, 3, -96, 4,\n")
    with pytest.raises(UserError, match=r"bad.csv:2: Num Filter: must be positive"):
        read_topology(bad)
    bad.write_text(f"{header}\nconv1, 7, 7, 11, 11, 3, 96, 4,\n")
    with pytest.raises(UserError, match="larger than"):
        read_topology(bad)


def test_estimate_cli_topology_contract():
    runner = CliRunner()
    args = ["estimate", "--topology", str(DATA / "alexnet_conv.csv"), "--array", "16x64",
            "--dataflow", "ws", "--format", "json"]  # fmt: skip
    record = json.loads(runner.invoke(app, args).stdout)
    layer = record["layers"][0]
    assert {"name", "cycles", "utilization", "latency_s", "energy_j", "bound",
            "energy_breakdown"} <= set(layer)  # fmt: skip
    assert {"latency_s", "energy_j", "energy_breakdown"} <= set(record["totals"])
    assert {"fps", "average_w", "peak_w", "fits_budget", "sustains_rate"} <= set(record["power"])
    assert {"fits", "placements", "reason"} <= set(record["fit"])
    for args, message in [
        (["estimate", "--topology", "x.csv", "--array", "0x4"], "impossible --array"),
        (["estimate", "--topology", "x.csv", "--dataflow", "rs"], "unknown dataflow"),
        (["estimate", "resnet18", "--target", "cortex-m7", "--array", "4x4"], "systolic"),
        (["estimate", "--topology", "nope.csv"], "cannot read topology"),
    ]:
        result = runner.invoke(app, args)
        assert result.exit_code == 2 and message in result.stderr, (args, result.stderr)


def test_estimate_cli_model_contract():
    runner = CliRunner()
    args = ["estimate", "resnet18", "--target", "eyeriss", "--batch", "2", "--format", "json"]
    record = json.loads(runner.invoke(app, args).stdout)
    assert record["model"] == "resnet18" and record["platform"] == "eyeriss"
    assert all(layer["bound"] in ("compute", "memory") for layer in record["layers"])
    assert record["totals"]["throughput_per_s"] == pytest.approx(2 / record["totals"]["latency_s"])


def test_depthwise_groups_pack_along_the_block_diagonal():
    """64 groups of (64 x 9) @ (9 x 1), a 3x3 depthwise convolution of 64 channels on 8x8, on a
    4x4 output-stationary array. One group at a time: 16 row folds of 9 + 4 + 4 - 2 = 15
    cycles, 16 x 15 - 1 = 239 each, 15,296 in all. Packed 4 at a time (4 columns, one per
    group) as (64 x 36) @ (36 x 4): 16 folds of 36 + 6 = 42, 671 per pack, 16 packs: 10,736."""
    one_by_one = 64 * int(systolic.cycles(*systolic.operand_dims(64, 9, 1, "os"), 4, 4, "os"))
    assert one_by_one == 15_296
    assert int(systolic.grouped_cycles(64, 64, 9, 1, 4, 4, "os")) == 10_736


@settings(max_examples=50, deadline=None)
@given(
    groups=st.integers(1, 64), m=st.integers(1, 300), k=st.integers(1, 80),
    n=st.integers(1, 80), rows=st.integers(1, 64), cols=st.integers(1, 64),
    dataflow=st.sampled_from(systolic.DATAFLOWS),
)  # fmt: skip
def test_packing_never_costs_more_and_leaves_one_group_exact(groups, m, k, n, rows, cols,
                                                           dataflow):  # fmt: skip
    alone = int(systolic.cycles(*systolic.operand_dims(m, k, n, dataflow), rows, cols, dataflow))
    packed = int(systolic.grouped_cycles(groups, m, k, n, rows, cols, dataflow))
    assert packed <= groups * alone
    if groups == 1:
        assert packed == alone


# A depthwise row in SCALE-Sim's convention (scalesim/topology_utils.py, load_arrays_conv, in
# scale-sim-v2 and scale-sim-v3: a layer name containing "DP" is run as `Channels` layers of
# one channel, each with the row's `Num Filter` filters). Its shape is MobileNet's first
# depthwise layer as SCALE-Sim's example topologies/conv_nets/mobilenet.csv writes it
# ("Conv2,  112, 112,    3, 3,      32,      1,     1,"), with "DP" added to its name: no
# example CSV of SCALE-Sim carries the mark.
MOBILENET_CONV2 = "Conv2,  112, 112,    3, 3,      32,      1,     1,"


def _one_row(tmp_path, row):
    header = (DATA / "alexnet_conv.csv").read_text().splitlines()[0]
    path = tmp_path / "topology.csv"
    path.write_text(f"{header}\n{row}\n")
    return read_topology(path)


def test_a_dp_row_is_a_depthwise_convolution_as_scalesim_reads_it(tmp_path):
    (dense,) = _one_row(tmp_path, MOBILENET_CONV2).layers
    (depthwise,) = _one_row(tmp_path, MOBILENET_CONV2.replace("Conv2,", "Conv2_DP,")).layers
    assert depthwise.name == "Conv2_DP" and dense.name == "Conv2"
    # SCALE-Sim's expansion: 32 layers of one 112x112 channel and one 3x3 filter each
    per_channel = 110 * 110 * 3 * 3 * 1 * 1
    assert [(g.groups, g.m, g.k, g.n) for g in depthwise.gemms] == [(32, 110 * 110, 9, 1)]
    assert depthwise.macs == 32 * per_channel == 3_484_800
    assert depthwise.output_shape == (1, 32, 110, 110) and depthwise.params == 32 * 9
    # the same row without the mark is dense with one filter: the same MACs, one channel out
    assert [(g.groups, g.k, g.n) for g in dense.gemms] == [(1, 32 * 9, 1)]
    assert dense.macs == depthwise.macs and dense.output_shape == (1, 1, 110, 110)
    # a depth multiplier: each channel with its own Num Filter filters
    (multiplied,) = _one_row(tmp_path, "DPconv, 16, 16, 3, 3, 8, 2, 1,").layers
    assert multiplied.output_shape == (1, 16, 14, 14) and multiplied.macs == 8 * 2 * 14 * 14 * 9


@pytest.mark.parametrize("dataflow", ["os", "ws", "is"])
def test_a_dp_row_takes_at_most_scalesims_channel_by_channel_cycles(tmp_path, dataflow):
    """SCALE-Sim runs the channels one after another (its per-channel `Total Cycles` summed);
    edgegap takes the fewer of that and the channels packed on the block diagonal
    (`systolic.grouped_cycles`), so it reports fewer cycles where packing fits."""
    row = MOBILENET_CONV2.replace("Conv2,", "Conv2_DP,")
    platform = load_platform("systolic-generic").with_compute(rows=32, cols=32, dataflow=dataflow)
    (layer,) = estimate(_one_row(tmp_path, row), platform).layers
    one_channel = int(systolic.cycles(*systolic.operand_dims(110 * 110, 9, 1, dataflow), 32, 32,
                                      dataflow))  # fmt: skip
    assert layer.cycles <= 32 * one_channel
    if dataflow == "ws":  # 9 x 1 filters, 3 to the 32 rows: packed, 11 folds instead of 32
        packed = int(systolic.cycles(*systolic.operand_dims(110 * 110, 27, 3, dataflow), 32, 32,
                                     dataflow))  # fmt: skip
        assert layer.cycles == 11 * packed == 134_123  # the README's figures
        assert 32 * one_channel == 390_176
