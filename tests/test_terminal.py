"""The terminal: tables readable at 80 columns and through a pipe, `--version`, commands that
start without torch, and `estimate` over several models and platforms."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from cli_checks import one_line_error
from typer.testing import CliRunner

from edgegap.cli import app, si
from edgegap.hardware import builtin_names
from edgegap.workload.published import zoo_models

SRC = Path(__file__).resolve().parent.parent / "src"
TOPOLOGY = Path(__file__).resolve().parent / "data" / "scalesim" / "alexnet_conv.csv"
# A quantity as `si` writes it: digits, an SI prefix, a unit.
QUANTITY = re.compile(r"-?\d+(\.\d+)?[fpnµmkMGTPE]?(B|s|J|W|OP/s)?")


def run(*args: str, columns: int = 80) -> str:
    """The command's stdout as a pipe of `columns` characters shows it (CliRunner's stdout
    is no terminal, as a pipe is not)."""
    result = CliRunner(env={"COLUMNS": str(columns)}).invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def _edgegap(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """A real process with stdout on a pipe and no terminal anywhere (stdin too)."""
    base = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    base["PYTHONPATH"] = f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"
    return subprocess.run(
        [sys.executable, "-m", "edgegap", *args],
        env={**base, **(env or {})},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
    )


def rows_of(text: str, first: str) -> list[list[str]]:
    """The table rows whose first cell is `first`, split into cells."""
    return [line.split() for line in text.splitlines() if line.split()[:1] == [first]]


def assert_readable(text: str, columns: int = 80) -> None:
    assert "…" not in text and "..." not in text
    assert max(map(len, text.splitlines())) <= columns


# --- numbers -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (4_089_184_256, "", "4.09G"),
        (25_557_032, "", "25.6M"),
        (102_228_128, "B", "102MB"),
        (11_000_000, "B", "11MB"),
        (818, "", "818"),
        (999.7, "", "1k"),  # rounds into the next prefix, never "1e+03"
        (999_700, "B", "1MB"),
        (0, "", "0"),
        (0.0, "J", "0J"),
        (4.09e-3, "s", "4.09ms"),
        (0.278, "W", "278mW"),
        (836e-6, "s", "836µs"),
        (1.52e-12, "J", "1.52pJ"),
        (3.03e-14, "J", "30.3fJ"),
        (-4.09e9, "", "-4.09G"),
        (9.18e13, "OP/s", "91.8TOP/s"),
    ],
)
def test_si_is_three_digits_and_a_prefix(value: float, unit: str, text: str):
    assert si(value, unit) == text


def test_si_out_of_range_and_not_finite():
    assert si(1e-20, "J") == "1e-20J"
    assert si(float("nan")) == "nan"
    assert si(float("inf"), "s") == "infs"


# --- tables at 80 columns and through a pipe ---------------------------------------------


def test_profile_numbers_are_whole_through_a_real_pipe():
    """The report that started this: `edgegap profile resnet50 | cat` cut every number to
    "4.0…". No COLUMNS, no terminal: rich's 80 columns."""
    result = _edgegap("profile", "resnet50")
    assert result.returncode == 0, result.stderr
    assert_readable(result.stdout)
    [row] = rows_of(result.stdout, "resnet50")
    assert row[1:4] == ["1x3x224x224", "4.09G", "8.22G"] or row[1:3] == ["1x3x224x224", "4.09G"]
    assert "25.6M" in row and "102MB" in row
    assert all(QUANTITY.fullmatch(cell) for cell in row[2:]), row


@pytest.mark.parametrize("columns", [60, 80, 100, 200])
def test_hw_list_names_are_whole(columns: int):
    text = run("hw", "list", columns=columns)
    assert_readable(text, columns)
    for name in builtin_names():
        assert rows_of(text, name), (name, text)
    assert ("hidden to fit" in text) == (columns <= 80)  # kind and year, then more


@pytest.mark.parametrize("columns", [60, 80, 200])
def test_zoo_model_names_are_whole(columns: int):
    text = run("zoo", columns=columns)
    assert_readable(text, columns)
    for model in zoo_models():
        [row] = rows_of(text, model.model)
        assert row[1:4] == [str(model.input_size), si(model.params), f"{model.gmacs:.3f}"]
    if columns >= 120:
        assert "ResNet50_Weights.IMAGENET1K_V2" in text


def test_per_layer_tables_keep_names_and_numbers():
    text = run("profile", "vit_b_16", "--per-layer")
    assert_readable(text)
    assert "encoder.layers.encoder_layer_11.self_attention" in text
    [total] = rows_of(text, "TOTAL")
    assert total[1] == "17.6G" and all(QUANTITY.fullmatch(cell) for cell in total[1:]), total
    estimate = run("estimate", "resnet18", "--target", "eyeriss")
    assert_readable(estimate)
    [conv1] = rows_of(estimate, "conv1+bn1+relu")  # fused as Eyeriss runs it
    assert "118M" in conv1 and "4.09ms" in conv1 and "1.74mJ" in conv1


def test_a_console_too_narrow_for_a_name_folds_it_and_keeps_the_numbers():
    """60 columns cannot hold vit_b_16's 45-character layer names beside the columns that
    are never hidden: the names fold onto a second line, the numbers stay whole."""
    text = run("estimate", "vit_b_16", "--target", "eyeriss", columns=60)
    assert_readable(text, 60)
    [total] = rows_of(text, "TOTAL")
    assert all(QUANTITY.fullmatch(cell) for cell in total[1:]), total
    assert "hidden to fit 60 columns: precision, cycles, util." in " ".join(text.split())


@pytest.mark.parametrize(
    "args",
    [
        ["techniques"],
        ["scale", "eyeriss", "--node", "5"],
        ["sweep", "resnet18", "--array", "8..64", "--sram-kb", "64..256"],
        ["bridges", "resnet18"],
        ["estimate", "--topology", str(TOPOLOGY), "--target", "eyeriss,tpu-v1"],
    ],
    ids=lambda args: args[0],
)
def test_other_tables_fit_80_columns(args: list[str]):
    assert_readable(run(*args))


def test_a_wide_console_hides_nothing():
    text = run("profile", "resnet50", columns=200)
    assert "hidden" not in text
    assert rows_of(text, "resnet50")[0][1:5] == ["1x3x224x224", "4.09G", "8.22G", "25.6M"]


# --- --version ---------------------------------------------------------------------------


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version_from_package_metadata(flag: str):
    result = CliRunner().invoke(app, [flag])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"edgegap {metadata.version('edgegap')}\n"
    assert re.fullmatch(r"edgegap \d+\.\d+\.\d+\S*\n", result.stdout)


# --- no torch where none is needed -------------------------------------------------------

HEAVY = ("torch", "torchvision", "onnx", "onnxruntime", "pandas", "numpy", "matplotlib")
_LOADED = """
import runpy, sys
sys.argv = ["edgegap", *sys.argv[1:]]
try:
    runpy.run_module("edgegap", run_name="__main__")
except SystemExit as done:
    code = done.code
heavy = [m for m in {heavy!r} if m in sys.modules]
print("LOADED", ",".join(heavy), file=sys.stderr)
sys.exit(code)
"""


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["--version"],
        ["hw", "list"],
        ["hw", "show", "eyeriss"],
        ["hw", "show", "eyeriss", "--format", "json"],
        ["zoo"],
        ["zoo", "--format", "json"],
        ["zoo", "--format", "csv"],
        ["estimate", "--help"],
    ],
    ids=" ".join,
)
def test_light_commands_import_no_torch(args: list[str]):
    """`--help`, `hw` and `zoo` need neither torch nor the cost model's numpy and pandas."""
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    result = subprocess.run(
        [sys.executable, "-c", _LOADED.format(heavy=HEAVY), *args],
        env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout
    assert result.stderr.splitlines()[-1] == "LOADED ", result.stderr


def test_importing_the_package_and_the_cli_imports_no_torch():
    code = "import edgegap, edgegap.cli, edgegap.hardware, sys; "
    code += f"print([m for m in {HEAVY!r} if m in sys.modules])"
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_deferred_names_still_resolve():
    import edgegap
    import edgegap.hardware as hardware

    assert callable(hardware.estimate) and callable(hardware.fits)
    assert hardware.Cost.__name__ == "Cost"
    assert callable(edgegap.profile)
    with pytest.raises(AttributeError):
        _ = hardware.no_such_name


# --- estimate: several models on several platforms ---------------------------------------

PAIRS = [
    ("resnet18", "eyeriss"),
    ("resnet18", "cortex-m7"),
    ("mobilenet_v2", "eyeriss"),
    ("mobilenet_v2", "cortex-m7"),
]
SEVERAL = ["estimate", "resnet18", "mobilenet_v2", "--target", "eyeriss,cortex-m7"]


# The latency's range beside it: "(111-208)", "(2.6)" or "(not validated)"
RANGE = re.compile(r"\((\d+(\.\d+)?(-\d+(\.\d+)?)?|not validated)\)")


def test_estimate_side_by_side_table():
    text = run(*SEVERAL, columns=100)
    assert_readable(text, 100)
    rows = [row for model in ("resnet18", "mobilenet_v2") for row in rows_of(text, model)]
    assert [(row[0], row[1]) for row in rows] == PAIRS
    for row in rows:
        if row[4] == "(not":  # "(not validated)": one cell
            row[4:6] = [f"{row[4]} {row[5]}"]
        assert row[2] in ("int8", "int16"), row  # the precision policy, named
        assert QUANTITY.fullmatch(row[3]) and RANGE.fullmatch(row[4]), row
        assert all(QUANTITY.fullmatch(cell) for cell in row[5:8]), row
        assert row[8] in ("yes", "no")
    cortex = [row for row in rows if row[1] == "cortex-m7"]
    assert all(row[8] == "no" for row in cortex)
    assert "hidden" not in text  # at 100 columns every column shows
    narrow = run(*SEVERAL)
    assert_readable(narrow)  # 80 columns: the range kept, the memory column hidden
    assert "hidden to fit 80 columns: memory" in " ".join(narrow.split())
    assert RANGE.fullmatch(rows_of(narrow, "resnet18")[0][4]), narrow
    assert "resnet18 on cortex-m7: weights 11.7 MB do not fit flash (2.1 MB)" in text


def test_estimate_json_csv_jsonl_one_record_per_pair():
    records = json.loads(run(*SEVERAL, "--format", "json"))
    assert [(r["model"], r["platform"]) for r in records] == PAIRS
    assert {"totals", "fit", "layers"} <= set(records[0])
    lines = run(*SEVERAL, "--format", "jsonl").splitlines()
    assert [json.loads(line) for line in lines] == records
    table = list(csv.DictReader(io.StringIO(run(*SEVERAL, "--format", "csv"))))
    assert [(r["model"], r["platform"]) for r in table] == PAIRS
    for row, record in zip(table, records, strict=True):
        assert float(row["latency_s"]) == record["totals"]["latency_s"]
        assert float(row["energy_j"]) == record["totals"]["energy_j"]
        assert float(row["average_power_w"]) == record["power"]["average_w"]
        assert row["fits_memory"] == str(record["fit"]["fits"])
        assert row["memory_reason"] == record["fit"]["reason"]


def test_estimate_repeated_target_and_one_pair_unchanged():
    repeated = json.loads(
        run("estimate", "resnet18", "--target", "eyeriss", "--target", "cortex-m7", "--format",
            "json")
    )  # fmt: skip
    assert [r["platform"] for r in repeated] == ["eyeriss", "cortex-m7"]
    one = json.loads(run("estimate", "resnet18", "--target", "eyeriss", "--format", "json"))
    assert isinstance(one, dict) and one["platform"] == "eyeriss" and one["layers"]
    assert "TOTAL" in run("estimate", "resnet18", "--target", "eyeriss")


def test_estimate_topology_on_several_targets():
    records = json.loads(
        run("estimate", "--topology", str(TOPOLOGY), "--target", "eyeriss,tpu-v1", "--format",
            "json", "--array", "16x16")
    )  # fmt: skip
    assert [r["platform"] for r in records] == ["eyeriss", "tpu-v1"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["estimate", "resnet18", "resnt50", "--target", "eyeriss"], "unknown model 'resnt50'"),
        (["estimate", "resnet18", "--target", "eyeriss,eyeris"], "unknown platform 'eyeris'"),
        (["estimate", "resnet18", "--target", "eyeriss,,tpu-v1"], "empty platform name"),
        (["estimate", "resnet18", "--topology", str(TOPOLOGY)], "one of them"),
        (["estimate"], "one of them"),
        (["estimate", "resnet18", "--target", "eyeriss,jetson-orin-nano", "--array", "8x8"],
         "jetson-orin-nano is not"),
    ],
)  # fmt: skip
def test_estimate_bad_names_are_one_line(args: list[str], message: str):
    assert message in one_line_error(*args)
