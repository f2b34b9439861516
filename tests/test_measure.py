"""`edgegap measure`: latency on this machine in onnxruntime, on a tiny conv net (fast). No
assertion is about how long anything takes: only about what was timed and how it is
summarised."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from cli_checks import error_leaving_nothing, one_line_error
from hypothesis import given
from hypothesis import strategies as st
from torch import nn
from typer.testing import CliRunner

from edgegap.cli import app
from edgegap.errors import UserError
from edgegap.hardware import load_platform
from edgegap.host import logical_cpus
from edgegap.measure import (
    Measurement,
    beside_estimate,
    measure,
    median,
    onnx_file,
    percentile,
    prepare,
)
from edgegap.measure.latency import (
    INPUT_SEED,
    WEIGHT_SEED,
    build_model,
    check_settings,
    example_inputs,
    time_runs,
)
from edgegap.measure.runtime import inference_session
from edgegap.workload import profile

SHAPE = (1, 3, 16, 16)
TWO = min(2, logical_cpus())
# What may differ between two measurements of the same model: the timings and the load.
TIMINGS = {"wall_s", "cpu_s", "load_before", "load_after", "wall_median_s", "wall_p90_s",
           "wall_min_s", "wall_mean_s", "cpu_median_s", "cpu_per_wall"}  # fmt: skip


def tiny_net() -> nn.Module:
    """A conv, batch-norm, ReLU, pooling and linear layer: the kinds a CNN times."""
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10),
    ).eval()  # fmt: skip


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    return prepare(tiny_net(), tmp_path_factory.mktemp("measure"), SHAPE, name="tiny")


@pytest.fixture(scope="module")
def measured(prepared) -> Measurement:
    return measure(prepared, runs=7, warmup=2)


def test_statistics_are_positive_and_ordered(measured):
    m = measured
    assert (m.runs, m.warmup, m.threads) == (7, 2, 1)
    assert len(m.wall_s) == len(m.cpu_s) == 7
    assert all(t > 0 for t in m.wall_s) and all(t >= 0 for t in m.cpu_s)
    assert 0 < m.wall_min_s <= m.wall_median_s <= m.wall_p90_s <= max(m.wall_s)
    assert m.wall_min_s <= m.wall_mean_s <= max(m.wall_s)
    assert m.wall_median_s == sorted(m.wall_s)[3]  # odd count: the middle run
    assert m.cpu_median_s == sorted(m.cpu_s)[3]
    assert m.cpu_per_wall == pytest.approx(m.cpu_median_s / m.wall_median_s)


def test_measurement_says_what_ran_and_where(measured):
    record = measured.to_dict()
    assert record["model"] == "tiny" and record["source"] == "module"
    assert record["precision"] == "fp32" and record["input_shape"] == list(SHAPE)
    assert record["provider"] == "CPUExecutionProvider"
    assert record["graph_optimization"] == "ORT_ENABLE_ALL"
    assert record["execution_mode"] == "ORT_SEQUENTIAL" and record["inter_op_threads"] == 1
    assert record["onnxruntime_version"] and record["cpu"] and record["opset"] >= 18
    assert record["logical_cpus"] == logical_cpus()
    assert record["input_seed"] == INPUT_SEED and record["weight_seed"] is None
    json.dumps(record, allow_nan=False)  # JSON-ready


def test_runs_and_threads_reach_onnxruntime(prepared):
    m = measure(prepared, threads=TWO, runs=3, warmup=0)
    assert m.threads == TWO and len(m.wall_s) == 3 and not m.spinning
    assert measure(prepared, threads=TWO, runs=1, warmup=0, spinning=True).spinning
    session = inference_session(prepared.path, TWO, spinning=False)
    options = session.get_session_options()
    assert (options.intra_op_num_threads, options.inter_op_num_threads) == (TWO, 1)
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"


def test_everything_but_the_timings_is_deterministic(prepared):
    first, second = (measure(prepared, runs=2, warmup=1).to_dict() for _ in range(2))
    assert {k: v for k, v in first.items() if k not in TIMINGS} == {
        k: v for k, v in second.items() if k not in TIMINGS
    }


def test_time_runs_runs_warmup_then_timed_runs():
    class Counting:
        calls = 0

        def run(self, outputs, feeds):
            self.calls += 1

    session = Counting()
    wall, cpu = time_runs(session, {}, runs=5, warmup=3)  # type: ignore[arg-type]
    assert session.calls == 8 and len(wall) == len(cpu) == 5
    assert all(isinstance(t, int) and t > 0 for t in wall)


def test_input_is_seeded_and_the_graph_computes_the_model(prepared):
    session = inference_session(prepared.path)
    feeds = example_inputs(session, SHAPE)
    again = example_inputs(session, SHAPE)
    (name, x), = feeds.items()  # fmt: skip
    assert x.dtype == np.float32 and x.shape == SHAPE
    np.testing.assert_array_equal(x, again[name])
    assert not np.array_equal(x, example_inputs(session, SHAPE, seed=INPUT_SEED + 1)[name])
    expected = tiny_net()(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(session.run(None, feeds)[0], expected, rtol=1e-4, atol=1e-5)


def test_zoo_weights_are_seeded_and_leave_the_callers_generator_alone():
    torch.manual_seed(123)
    state = torch.random.get_rng_state()
    first, shape = build_model("squeezenet1_0", None)
    second, _ = build_model("squeezenet1_0", (1, 3, 64, 64))
    assert shape == (1, 3, 224, 224) and not first.training
    assert torch.equal(torch.random.get_rng_state(), state)
    for a, b in zip(first.parameters(), second.parameters(), strict=True):
        assert a.device.type == "cpu" and torch.equal(a, b)
    assert WEIGHT_SEED == 0


def test_int8_is_static_qdq_and_measured(tmp_path):
    int8 = prepare(tiny_net(), tmp_path, SHAPE, dtype="int8", name="tiny")
    assert int8.precision == "int8" and int8.path.name == "model-int8.onnx"
    ops = {node.op_type for node in onnx.load(str(int8.path)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    m = measure(int8, runs=2, warmup=0)
    assert m.precision == "int8" and len(m.wall_s) == 2
    from_file = prepare(int8.path.parent / "model.onnx", tmp_path / "file", dtype="int8")
    assert (from_file.precision, from_file.source) == ("int8", "onnx file")


def test_an_onnx_file_is_measured_as_stored(prepared):
    m = measure(prepared.path, runs=2, warmup=0)
    assert m.precision == "as stored" and m.source == "onnx file"
    assert m.input_shape == SHAPE and m.model == str(prepared.path)
    with pytest.raises(UserError, match=r"takes input .* of shape 1,3,16,16"):
        onnx_file(prepared.path, (1, 3, 32, 32))
    with pytest.raises(UserError, match="no ONNX file"):
        measure(prepared.path.parent / "missing.onnx")


def test_bad_settings_are_user_errors():
    for threads, runs, warmup in ((0, 1, 0), (logical_cpus() + 1, 1, 0), (True, 1, 0),
                                  (1, 0, 0), (1, 1, -1), (1.5, 1, 0)):  # fmt: skip
        with pytest.raises(UserError):
            check_settings(threads, runs, warmup)  # type: ignore[arg-type]
    with pytest.raises(UserError, match=r"fp32 .* or int8"):
        measure(tiny_net(), SHAPE, dtype="int4")


def test_a_failed_preparation_leaves_nothing(tmp_path):
    with pytest.raises(UserError, match="cannot run on input shape 1,4,16,16"):
        prepare(tiny_net(), tmp_path, (1, 4, 16, 16))  # 4 channels into a 3-channel conv
    with pytest.raises(UserError, match="meta device"):
        prepare(tiny_net().to("meta"), tmp_path, SHAPE)
    with pytest.raises(UserError, match="unknown model"):
        prepare("resnet1800", tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_graph_dynamo_cannot_translate_is_exported_by_torchscript(tmp_path, monkeypatch):
    """torch 2.14's dynamo exporter fails on some timm models (hiera, beit, twins, nest); the
    TorchScript exporter writes those, and the measurement says which exporter it was."""
    export = torch.onnx.export

    def dynamo_fails(*args, dynamo=True, **kwargs):
        if dynamo:
            raise RuntimeError("Failed to convert the exported program to an ONNX model")
        return export(*args, dynamo=False, **kwargs)

    assert prepare(tiny_net(), tmp_path / "a", SHAPE).exporter == "dynamo"
    monkeypatch.setattr(torch.onnx, "export", dynamo_fails)
    model = prepare(tiny_net(), tmp_path / "b", SHAPE, name="tiny")
    assert model.exporter == "torchscript"
    reference = tiny_net()(torch.zeros(SHAPE)).detach().numpy()
    session = inference_session(model.path, 1)
    out = session.run(None, {session.get_inputs()[0].name: np.zeros(SHAPE, np.float32)})[0]
    np.testing.assert_allclose(out, reference, rtol=1e-5, atol=1e-6)
    assert measure(model, runs=1, warmup=0).to_dict()["exporter"] == "torchscript"

    def both_fail(*args, **kwargs):
        raise RuntimeError("Failed to convert the exported program to an ONNX model")

    monkeypatch.setattr(torch.onnx, "export", both_fail)
    with pytest.raises(UserError, match="cannot export tiny to ONNX: RuntimeError: Failed"):
        prepare(tiny_net(), tmp_path / "c", SHAPE, name="tiny")
    assert list((tmp_path / "c").iterdir()) == []


def test_beside_the_estimate(measured):
    platform = load_platform("cortex-m7")
    comparison = beside_estimate(measured, platform, profile(tiny_net(), SHAPE, "fp32"))
    # the M7 lists no fp32 MAC rate: fp32 layers run at its widest precision
    assert comparison.platform == platform.name and comparison.precisions == ("int16",)
    assert comparison.macs == 3 * 16 * 9 * 16 * 16 + 16 * 10
    assert comparison.ratio == pytest.approx(comparison.estimate_s / measured.wall_median_s)
    assert comparison.achieved_macs_per_s == pytest.approx(comparison.macs / measured.wall_median_s)
    with pytest.raises(UserError, match="pass the workload"):
        beside_estimate(measured, platform)  # a module cannot be profiled again by name
    assert comparison.interval is None  # no validation row of the M7 or of an MCU
    host = load_platform(Path(__file__).parent / "data" / "calibrated-host.yaml")
    on_host = beside_estimate(measured, host, profile(tiny_net(), SHAPE, "fp32"))
    record = on_host.to_dict()["interval"]
    assert record is not None and record["low_s"] <= on_host.estimate_s * record["high_factor"]


# --- percentiles ------------------------------------------------------------------------------

samples = st.lists(
    st.floats(min_value=-1e9, max_value=1e9, allow_nan=False), min_size=1, max_size=50
)
quantiles = st.floats(min_value=0, max_value=100)


@given(samples, quantiles)
def test_percentile_lies_within_the_values_and_agrees_with_numpy(values, q):
    p = percentile(values, q)
    assert min(values) <= p <= max(values)
    assert p == pytest.approx(float(np.percentile(values, q)), rel=1e-9, abs=1e-6)


@given(samples, quantiles, quantiles)
def test_percentile_rises_with_q(values, q1, q2):
    low, high = sorted((q1, q2))
    assert percentile(values, low) <= percentile(values, high)


@given(samples, st.randoms(use_true_random=False))
def test_percentile_ignores_order_and_its_ends_are_min_and_max(values, random):
    shuffled = list(values)
    random.shuffle(shuffled)
    assert percentile(shuffled, 37.5) == percentile(values, 37.5)
    assert percentile(values, 0) == min(values) and percentile(values, 100) == max(values)
    if len(values) % 2:
        assert median(values) == sorted(values)[len(values) // 2]


def test_percentile_refuses_no_values_and_q_out_of_range():
    with pytest.raises(ValueError):
        percentile([], 50)
    for q in (-1, 100.5, math.nan):
        with pytest.raises(ValueError):
            percentile([1.0], q)


# --- the command ------------------------------------------------------------------------------

runner = CliRunner()


def test_cli_table_and_json(prepared):
    path = str(prepared.path)
    table = runner.invoke(app, ["measure", path, "--runs", "3", "--warmup", "1"])
    assert table.exit_code == 0, table.output
    text = " ".join(table.stdout.split())  # the caption wraps at the console's width
    assert "as stored" in text and "3 timed runs after 1 warm-ups" in text
    result = runner.invoke(app, ["measure", path, "--runs", "4", "--format", "json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert record["runs"] == 4 and len(record["wall_s"]) == 4 and record["threads"] == 1
    assert record["wall_min_s"] <= record["wall_median_s"] <= record["wall_p90_s"]
    assert "estimate" not in record


def test_cli_beside_an_estimate_and_csv(prepared):
    path = str(prepared.path)
    argv = ["measure", path, path, "--runs", "2", "--threads", str(TWO), "--target", "cortex-m7"]
    result = runner.invoke(app, [*argv, "--format", "json"])
    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)
    assert len(records) == 2 and {r["threads"] for r in records} == {TWO}
    estimate = records[0]["estimate"]
    assert estimate["platform"] == load_platform("cortex-m7").name
    assert estimate["ratio"] == pytest.approx(estimate["estimate_s"] / records[0]["wall_median_s"])
    table = runner.invoke(app, argv)
    text = " ".join(table.stdout.split())
    assert table.exit_code == 0 and f"{TWO} thread(s)" in text
    assert "est./meas. its ratio to the measured median" in text
    csv = runner.invoke(app, [*argv, "--format", "csv"])
    header, *rows = csv.stdout.strip().splitlines()
    assert len(rows) == 2 and "wall_median_s" in header and "estimate_ratio" in header


def test_cli_measures_a_callable_it_exports(tmp_path):
    result = runner.invoke(app, ["measure", "test_measure:tiny_net", "--input-shape",
                                 "1,3,16,16", "--runs", "2", "--format", "jsonl"])  # fmt: skip
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert record["source"] == "callable" and record["weight_seed"] == WEIGHT_SEED


def test_cli_errors_are_one_line(tmp_path: Path, prepared):
    assert "unknown model 'resnet1800'" in one_line_error("measure", "resnet1800")
    assert "--threads" in one_line_error("measure", "resnet18", "--threads", "0")
    assert "threads must be" in one_line_error(
        "measure", "resnet18", "--threads", str(logical_cpus() + 1)
    )
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(b"not a protobuf \x00\x01\x02")
    assert "corrupt.onnx" in error_leaving_nothing(tmp_path, "measure", str(corrupt))
    assert "no ONNX file" in one_line_error("measure", str(tmp_path / "missing.onnx"))
    assert "impossible input shape" in one_line_error(
        "measure", "resnet18", "--input-shape", "1,0,224,224"
    )
    assert "of shape 1,3,16,16" in one_line_error(
        "measure", str(prepared.path), "--input-shape", "1,3,8,8"
    )
    assert "int8" in one_line_error("measure", "resnet18", "--dtype", "int4")
    assert "unknown platform" in one_line_error("measure", "resnet18", "--target", "nope")


@pytest.mark.slow
def test_a_zoo_model_end_to_end_at_fp32_and_int8():
    """A torchvision model built, exported, quantised and timed, each beside its estimate
    (profiled again by name at the measured precision)."""
    argv = ["measure", "mobilenet_v3_small", "--runs", "3", "--target", "edge-tpu"]
    for dtype in ("fp32", "int8"):
        result = runner.invoke(app, [*argv, "--dtype", dtype, "--format", "json"])
        assert result.exit_code == 0, result.output
        record = json.loads(result.stdout)
        assert record["precision"] == dtype and record["source"] == "torchvision"
        assert record["weight_seed"] == WEIGHT_SEED and record["input_shape"] == [1, 3, 224, 224]
        assert record["estimate"]["macs"] == profile("mobilenet_v3_small").totals.macs
