"""Intervals from validation residuals: the percentile and min..max rules, the class a
platform borrows rows from, bad residual rows, and the interval in `estimate`, `plan` and
their JSON."""

from __future__ import annotations

import csv
import io
import json
import statistics
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from cli_checks import one_line_error
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from edgegap.cli import app
from edgegap.errors import UserError
from edgegap.hardware import estimate, intervals, load_platform
from edgegap.hardware.intervals import (
    HEADER,
    PERCENTILE_ROWS,
    interval_for,
    latency_bounds,
    latency_interval,
    parse_residuals,
    ratio_interval,
    residuals,
)
from edgegap.workload.scalesim import read_topology

TOPOLOGY = Path(__file__).resolve().parent / "data" / "scalesim" / "alexnet_conv.csv"
RATIOS = st.lists(st.floats(0.01, 100, allow_nan=False), min_size=1, max_size=40)


def _row(platform: str = "chip-a", kind: str = "npu", split: str = "held-out",
         predicted: str = "1.0", measured: str = "1.2", quantity: str = "latency",
         unit: str | None = None, source: str = "a test") -> str:  # fmt: skip
    unit = unit if unit is not None else {"latency": "s", "power": "W"}.get(quantity, "s")
    values = ["test", platform, kind, "case", quantity, split, predicted, measured, unit, source]
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(values)
    return buffer.getvalue()


def _file(tmp_path: Path, *rows: str, name: str = "residuals.csv") -> Path:
    path = tmp_path / name
    path.write_text(",".join(HEADER) + "\n" + "".join(rows), encoding="utf-8")
    return path


# --- the rules on ratios ------------------------------------------------------------------


def test_few_rows_give_their_min_max_and_many_the_10th_to_90th_percentile() -> None:
    assert ratio_interval([1.2, 0.8, 1.0]) == (0.8, 1.2, "min-max")
    many = [0.5 + 0.1 * i for i in range(11)]  # 0.5 .. 1.5
    low, high, level = ratio_interval(many)
    assert level == "80%" and low == pytest.approx(0.6) and high == pytest.approx(1.4)
    assert ratio_interval([2.0] * (PERCENTILE_ROWS - 1))[2] == "min-max"
    assert ratio_interval([2.0] * PERCENTILE_ROWS)[2] == "80%"
    with pytest.raises(ValueError, match="no ratios"):
        ratio_interval([])


@given(RATIOS)
def test_an_interval_holds_the_median_ratio_and_is_ordered(ratios: list[float]) -> None:
    low, high, _ = ratio_interval(ratios)
    assert low <= statistics.median(ratios) <= high
    assert low <= high  # low <= 1 <= high is not promised: a biased model misses 1


@given(st.lists(st.floats(0.01, 100, allow_nan=False), min_size=1, max_size=PERCENTILE_ROWS - 2),
       st.floats(0.01, 100, allow_nan=False))  # fmt: skip
def test_adding_a_row_never_shrinks_a_min_max_interval(ratios: list[float], more: float) -> None:
    low, high, level = ratio_interval(ratios)
    wider_low, wider_high, wider_level = ratio_interval([*ratios, more])
    assert level == wider_level == "min-max"
    assert wider_low <= low and wider_high >= high


@given(RATIOS, st.floats(1e-6, 1e3))
def test_apply_scales_an_estimate_by_the_multipliers(ratios: list[float], value: float) -> None:
    low, high, level = ratio_interval(ratios)
    interval = intervals.Interval(low, high, level, "test", len(ratios), "held-out")
    assert interval.apply(value) == (value * low, value * high)


# --- the class a platform borrows from ----------------------------------------------------


def _platform(name: str, kind: str, calibration: object = None) -> SimpleNamespace:
    return SimpleNamespace(name=name, kind=kind, calibration=calibration)


def test_own_held_out_rows_first_when_there_are_enough(tmp_path: Path) -> None:
    own = [_row(measured=str(1 + i / 10)) for i in range(3)]
    path = _file(tmp_path, *own, _row("chip-b", measured="5"))
    found = interval_for(_platform("chip-a", "npu"), path=path)  # type: ignore[arg-type]
    assert found is not None and found.basis == "held-out, 3 rows of chip-a"
    assert (found.low, found.high, found.n, found.split) == (1.0, 1.2, 3, "held-out")


def test_too_few_own_held_out_rows_borrow_the_kinds(tmp_path: Path) -> None:
    path = _file(tmp_path, _row(measured="1.1"), _row("chip-b", measured="0.5"),
                 _row("chip-c", kind="gpu", measured="9"))  # fmt: skip
    found = interval_for(_platform("chip-a", "npu"), path=path)  # type: ignore[arg-type]
    assert found is not None and found.basis == "held-out, 2 rows of kind npu"
    assert (found.low, found.high) == (0.5, 1.1)  # the gpu row is not of its kind
    # a calibrated platform's own rows describe that machine: one is enough
    calibrated = _platform("chip-a", "npu", calibration={"when": "today"})
    found = interval_for(calibrated, path=path)  # type: ignore[arg-type]
    assert found is not None and found.basis == "held-out, 1 row of chip-a"


def test_in_sample_rows_only_where_no_held_out_row_exists(tmp_path: Path) -> None:
    path = _file(tmp_path, _row(split="in-sample", measured="1.1"),
                 _row(split="in-sample", measured="0.9"),
                 _row("chip-b", split="in-sample", measured="3"))  # fmt: skip
    found = interval_for(_platform("chip-a", "npu"), path=path)  # type: ignore[arg-type]
    assert found is not None and found.basis == "in-sample only, 2 rows of chip-a"
    assert found.split == "in-sample" and found.level == "min-max"
    stranger = interval_for(_platform("chip-z", "npu"), path=path)  # type: ignore[arg-type]
    assert stranger is not None and stranger.basis == "in-sample only, 3 rows of kind npu"
    # one held-out row of the kind anywhere outranks every in-sample row
    path = _file(tmp_path, _row(split="in-sample"), _row("chip-b", measured="2"), name="b.csv")
    found = interval_for(_platform("chip-a", "npu"), path=path)  # type: ignore[arg-type]
    assert found is not None and found.basis == "held-out, 1 row of kind npu"


def test_no_row_of_the_name_or_kind_is_no_interval(tmp_path: Path) -> None:
    path = _file(tmp_path, _row(kind="gpu"), _row(quantity="power"))
    assert interval_for(_platform("chip-a", "mcu"), path=path) is None  # type: ignore[arg-type]
    power = interval_for(_platform("chip-a", "npu"), "power", path)  # type: ignore[arg-type]
    assert power is not None and power.n == 1  # latency rows do not count for power


# --- the file ---------------------------------------------------------------------------

BAD = [
    ("nan", _row(predicted="nan"), ":2: predicted must be a finite positive number"),
    ("inf", _row(measured="inf"), ":2: measured must be a finite positive number"),
    ("zero", _row(predicted="0"), ":2: predicted must be a finite positive number"),
    ("negative", _row(measured="-1"), ":2: measured must be a finite positive number"),
    ("words", _row(measured="fast"), ":2: measured 'fast' is not a number"),
    ("quantity", _row(quantity="energy"), ":2: quantity 'energy': use latency or power"),
    ("unit", _row(unit="ms"), ":2: latency is in s, not 'ms'"),
    ("split", _row(split="test"), ":2: split 'test': use in-sample or held-out"),
    ("kind", _row(kind="tpu"), ":2: kind 'tpu': use asic"),
    ("no-source", _row(source=""), ":2: empty source"),
    ("short", "test,chip-a,npu\n", ":2: 3 fields, expected 10"),
    ("third-line", _row() + _row(predicted="x"), ":3: predicted 'x' is not a number"),
]


@pytest.mark.parametrize(("row", "message"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_a_bad_row_names_the_file_and_line(tmp_path: Path, row: str, message: str) -> None:
    path = _file(tmp_path, row)
    with pytest.raises(UserError, match="residuals.csv" + message.replace("(", r"\(")) as error:
        residuals(path)
    assert "\n" not in str(error.value)


def test_a_bad_header_and_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"x.csv:1: the header must be benchmark,platform,kind"):
        parse_residuals("platform,kind\n", "x.csv")
    with pytest.raises(UserError, match="cannot read residuals"):
        residuals(tmp_path / "absent.csv")
    assert parse_residuals(",".join(HEADER) + "\n\n", "x.csv") == ()  # blank lines skipped


def test_the_packaged_rows_are_valid_and_sourced() -> None:
    rows = residuals()
    assert rows and all(row.source and row.benchmark for row in rows)
    kinds = {row.kind for row in rows}
    assert kinds <= set(intervals.KINDS)


# --- the interval where estimates are shown -----------------------------------------------

KNOWN = [
    _row("eyeriss", "asic", "held-out", "1.0", "1.25"),
    _row("eyeriss", "asic", "held-out", "1.0", "0.8"),
    _row("eyeriss", "asic", "held-out", "1.0", "1.1"),
]


@pytest.fixture
def known(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The package's residuals replaced by three eyeriss rows (x0.8-x1.25), no mcu row."""
    path = _file(tmp_path, *KNOWN)
    monkeypatch.setattr(intervals, "RESIDUALS", path)
    residuals.cache_clear()
    yield path
    residuals.cache_clear()


def _cli(*args: str, columns: int = 100) -> str:
    """stdout of a command that succeeds (a plan may miss its budgets: exit code 1)."""
    result = CliRunner(env={"COLUMNS": str(columns)}).invoke(app, list(args))
    assert result.exit_code in ((0, 1) if args[0] == "plan" else (0,)), result.output
    return result.stdout


def test_latency_interval_of_a_cost(known: Path) -> None:
    platform = load_platform("eyeriss")
    cost = estimate(read_topology(TOPOLOGY), platform)
    found = latency_interval(cost, platform)
    assert found is not None and (found.low, found.high) == (0.8, 1.25)
    assert found.basis == "held-out, 3 rows of eyeriss" and found.level == "min-max"
    assert latency_bounds(cost, platform) == (cost.totals.latency_s * 0.8,
                                              cost.totals.latency_s * 1.25)  # fmt: skip
    with pytest.raises(ValueError, match="a cost on eyeriss"):
        latency_interval(cost, load_platform("edge-tpu"))
    mcu = load_platform("cortex-m7")
    assert latency_bounds(estimate(read_topology(TOPOLOGY), mcu), mcu) is None


def test_estimate_table_json_and_csv_carry_the_interval(known: Path) -> None:
    args = ["estimate", "--topology", str(TOPOLOGY), "--target"]
    one = _cli(*args, "eyeriss")
    assert "if it errs as on its validation rows (x0.8-x1.25, min-max of held-out, 3 rows" in (
        " ".join(one.split())
    )
    record = json.loads(_cli(*args, "eyeriss", "--format", "json"))
    latency, interval = record["totals"]["latency_s"], record["interval"]
    assert interval["low_s"] == latency * 0.8 and interval["high_s"] == latency * 1.25
    assert (interval["level"], interval["n"], interval["split"]) == ("min-max", 3, "held-out")
    assert interval["basis"] == "held-out, 3 rows of eyeriss"
    several = _cli(*args, "eyeriss,cortex-m7")
    [eyeriss] = [line for line in several.splitlines() if line.startswith("alexnet_conv  eyeriss")]
    low, high = latency * 0.8 * 1e3, latency * 1.25 * 1e3  # ms, as the estimate reads
    assert f"({low:.3g}-{high:.3g})" in eyeriss
    [cortex] = [line for line in several.splitlines() if "cortex-m7 " in line and "(" in line]
    assert "(not validated)" in cortex
    assert "cortex-m7: not validated: no residual rows of cortex-m7 or of kind mcu" in several
    records = json.loads(_cli(*args, "eyeriss,cortex-m7", "--format", "json"))
    assert records[1]["interval"] is None
    lines = _cli(*args, "eyeriss,cortex-m7", "--format", "jsonl").splitlines()
    assert [json.loads(line) for line in lines] == records
    table = list(csv.DictReader(io.StringIO(_cli(*args, "eyeriss,cortex-m7", "--format", "csv"))))
    assert float(table[0]["latency_high_s"]) == interval["high_s"]
    assert table[0]["interval_basis"] == interval["basis"] and table[1]["interval_n"] == ""


def test_a_bad_residuals_file_is_a_one_line_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(intervals, "RESIDUALS", _file(tmp_path, _row(predicted="nan")))
    residuals.cache_clear()
    try:
        line = one_line_error("estimate", "--topology", str(TOPOLOGY), "--target", "eyeriss")
    finally:
        residuals.cache_clear()
    assert "residuals.csv:2: predicted must be a finite positive number" in line


def test_plan_states_the_range_where_it_states_latency(known: Path) -> None:
    args = ["plan", "resnet18", "--target", "eyeriss", "--latency-ms", "50"]
    record = json.loads(_cli(*args, "--format", "json"))
    base, recipe = record["baseline"], record["estimate"]
    assert base["interval"]["low_s"] == base["latency_s"] * 0.8
    assert recipe["interval"]["high_s"] == recipe["latency_s"] * 1.25
    text = " ".join(_cli(*args).split())
    assert "latency range: " in text and "for the baseline's estimated" in text
    assert "x0.8-x1.25, min-max of held-out, 3 rows of eyeriss" in text
    # a recipe that changes the chip is not described by the chip's rows
    hardware = json.loads(_cli(*args, "--change", "hardware", "--format", "json"))
    steps = [row["technique"] for row in hardware["recipe"]]
    assert steps and hardware["estimate"]["interval"] is None, steps
    assert hardware["baseline"]["interval"] is not None


def test_si_range_writes_the_ends_in_the_values_prefix() -> None:
    from edgegap.cli import si_range

    assert si_range(12.3e-3, 9.8e-3, 15.1e-3, "s") == "12.3ms (9.8-15.1)"
    assert si_range(1.73e-3, 2.6e-3, 2.6e-3, "s") == "1.73ms (2.6)"  # one row: one value
    assert si_range(565e-3, 541e-3, 1.017, "s") == "565ms (541ms-1.02s)"  # past the prefix


def test_a_users_calibration_does_not_take_the_validation_machines_rows_for_its_own() -> None:
    """`edgegap calibrate` names a user's machine `host`; the project's two validation CPUs
    are named apart, so a user's calibration borrows the CPU kind's held-out rows (the AMD
    machine's: the Intel rows are all development), and each validation CPU finds its own."""
    names = {row.platform for row in residuals() if row.kind == "cpu"}
    assert "host" not in names
    assert {"validation-host", "validation-host-amd"} <= names
    found, split, whose = intervals.class_rows(residuals(), "host", "cpu", "latency", True)
    assert split == "held-out" and whose == "kind cpu"
    assert {row.platform for row in found} == {"validation-host-amd"}  # Intel's: in-sample
    own, _, whose = intervals.class_rows(residuals(), "validation-host-amd", "cpu", "latency", True)
    assert whose == "validation-host-amd" and {row.platform for row in own} == {whose}
