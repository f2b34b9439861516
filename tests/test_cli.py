"""The CLI contract: formats, exit codes, one-line errors."""

import json
import subprocess
import sys
import textwrap

import pytest
from typer.testing import CliRunner

import edgegap.hardware
from edgegap.cli import app

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args))


def test_jsonl_is_one_object_per_model():
    result = run("profile", "resnet18", "alexnet", "--format", "jsonl")
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 2
    record = json.loads(lines[1])
    assert record["model"] == "alexnet"
    assert record["input_shape"] == [1, 3, 224, 224]
    assert record["totals"]["macs"] == 714_188_480  # torchvision's AlexNet _ops, exactly
    assert record["totals"]["params"] == 61_100_840
    for key in ("flops", "weight_bytes", "activation_bytes", "min_traffic_bytes"):
        assert isinstance(record["totals"][key], int)
    layer = record["layers"][0]
    assert {"name", "op", "macs", "flops", "params"} <= set(layer)
    assert sum(x["macs"] for x in record["layers"]) == record["totals"]["macs"]


def test_json_single_object_and_list():
    one = json.loads(run("profile", "resnet18", "--format", "json").stdout)
    assert one["model"] == "resnet18"
    many = json.loads(run("profile", "resnet18", "squeezenet1_1", "--format", "json").stdout)
    assert [m["model"] for m in many] == ["resnet18", "squeezenet1_1"]


def test_input_shape_and_dtype_options():
    def totals(*args: str) -> dict:
        return json.loads(run("profile", "resnet18", "--format", "json", *args).stdout)["totals"]

    one = totals("--input-shape", "1,3,112,112")
    two = totals("--input-shape", "2,3,112,112")
    int8 = totals("--input-shape", "2,3,112,112", "--dtype", "int8")
    assert two["macs"] == 2 * one["macs"]
    assert int8["macs"] == two["macs"]
    assert int8["weight_bytes"] * 4 == two["weight_bytes"]
    assert int8["activation_bytes"] * 4 == two["activation_bytes"]


def test_csv_and_table_formats():
    csv = run("profile", "resnet18", "--format", "csv", "--per-layer")
    assert csv.exit_code == 0
    assert csv.stdout.splitlines()[0].startswith("index,name,op,kind")
    table = run("profile", "resnet18", "--per-layer")
    assert table.exit_code == 0
    assert "TOTAL" in table.stdout and "layer1.0.conv1" in table.stdout


def test_zoo_lists_models_with_metadata():
    result = run("zoo", "--format", "json")
    rows = json.loads(result.stdout)
    assert len(rows) >= 80
    assert {"model", "params", "gmacs", "acc1"} <= set(rows[0])


def test_callable_source(tmp_path, monkeypatch):
    (tmp_path / "mymodels.py").write_text(
        textwrap.dedent(
            """
            import torch.nn as nn
            def tiny():
                return nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU())
            def not_a_model():
                return 42
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    ok = run("profile", "mymodels:tiny", "--input-shape", "1,1,5,5", "--format", "json")
    assert json.loads(ok.stdout)["totals"]["macs"] == 4 * 9 * 9
    bad = run("profile", "mymodels:not_a_model", "--input-shape", "1,1,5,5")
    assert bad.exit_code == 2
    assert "not a torch.nn.Module" in bad.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["profile", "resnt50"], "did you mean resnet50"),
        (["profile", "resnet50", "--input-shape", "1,3,x"], "malformed input shape"),
        (["profile", "resnet50", "--input-shape", "1,3,0,224"], "impossible input shape"),
        (["profile", "resnet50", "--input-shape", "1,1,224,224"], "cannot run on input shape"),
        (["profile", "resnet50", "--dtype", "float7"], "unknown dtype"),
        (["profile", "missing.onnx"], "missing.onnx"),
        (["profile", "no_such_module:build", "--input-shape", "1,3"], "cannot import"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(args, message):
    result = run(*args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def test_corrupt_onnx_is_a_user_error(tmp_path):
    bad = tmp_path / "corrupt.onnx"
    bad.write_bytes(b"\x08\x07not really protobuf" * 10)
    result = run("profile", str(bad))
    assert result.exit_code == 2
    assert "corrupt.onnx" in result.stderr


def test_installed_entry_point_prints_no_traceback():
    result = subprocess.run(
        [sys.executable, "-m", "edgegap", "profile", "not_a_model"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: unknown model 'not_a_model'")
    assert "Traceback" not in result.stderr


def test_report_writes_tables_atomically(tmp_path):
    out = tmp_path / "report"
    out.mkdir()
    (out / "stale.txt").write_text("from an older run")
    result = run("report", "--out", str(out), "--quick")
    assert result.exit_code == 0, result.output
    assert not (out / "stale.txt").exists()
    models = json.loads((out / "models.json").read_text())
    assert {m["model"] for m in models} >= {"alexnet", "resnet50"}
    assert (out / "layers" / "resnet50.csv").exists()
    edge = (out / "edge.csv").read_text().splitlines()
    assert edge[0].startswith("model,platform,precision,latency_ms,energy_mj")
    assert len(edge) - 1 == len(models) * len(edgegap.hardware.builtin_names())
    assert json.loads((out / "trends" / "trends.json").read_text())["paper_checks"]
    assert (out / "trends" / "fig3b_perf_density_vs_year.png").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["report"]  # no staging left behind
