"""The published decode-throughput table (benchmarks/data/llm-decode-published.csv, issue 16)
parses, every row carries its source and a declared split, and the split keeps the rule
written in llm-decode-published.md: at most one in-sample row per catalog device, and at
least 12 held-out rows; the second set, gathered and declared later under the same rule, holds at
least 15 held-out rows of its own, and the third set at least 12. Each row's model maps to the
configuration edgegap profiles for it (llm-decode-models.csv)."""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgegap.workload import hf_models

DATA = Path(__file__).resolve().parents[1] / "benchmarks" / "data"
CSV = DATA / "llm-decode-published.csv"
MODELS = DATA / "llm-decode-models.csv"  # each model cell's configuration
SPLITS = {
    "in_sample",
    "held_out",
    "excluded",
    "in_sample_2",
    "held_out_2",
    "in_sample_3",
    "held_out_3",
}
REQUIRED = (
    "row_id",
    "device",
    "catalog_device",
    "model",
    "precision",
    "runtime",
    "context_note",
    "batch",
    "decode_tok_s",
    "source_url",
    "source_quote",
    "source_date",
    "split",
    "split_reason",
)


def rows() -> list[dict[str, str]]:
    with CSV.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_parses_with_every_required_column_filled() -> None:
    table = rows()
    assert table, "no rows"
    for row in table:
        for column in REQUIRED:
            assert row[column].strip(), f"{row['row_id']}: empty {column}"
        assert float(row["decode_tok_s"]) > 0, row["row_id"]
        assert row["batch"] == "1", row["row_id"]
        assert row["metric"] == "decode", row["row_id"]


def test_every_row_has_a_source_url_and_a_declared_split() -> None:
    for row in rows():
        assert row["source_url"].startswith("https://"), row["row_id"]
        assert row["split"] in SPLITS, row["row_id"]


def test_row_ids_are_unique() -> None:
    counts = Counter(row["row_id"] for row in rows())
    assert [name for name, n in counts.items() if n > 1] == []


def test_at_most_one_in_sample_row_per_catalog_device() -> None:
    counts = Counter(row["catalog_device"] for row in rows() if row["split"] == "in_sample")
    assert [device for device, n in counts.items() if n > 1] == []


def test_at_least_twelve_held_out_rows_across_four_device_kinds() -> None:
    held = [row for row in rows() if row["split"] == "held_out"]
    assert len(held) >= 12
    assert len({row["device_kind"] for row in held}) >= 4


def test_second_set_holds_fifteen_held_out_rows_on_catalog_devices() -> None:
    """The second set's in-sample rows may only set a device the first set did not know."""
    first = {row["catalog_device"] for row in rows() if row["split"] in ("in_sample", "held_out")}
    second = [row for row in rows() if row["split"].endswith("_2")]
    assert sum(row["split"] == "held_out_2" for row in second) >= 15
    assert [row["row_id"] for row in second
            if row["split"] == "in_sample_2" and row["catalog_device"] in first] == []  # fmt: skip
    counts = Counter(row["catalog_device"] for row in second if row["split"] == "in_sample_2")
    assert [device for device, n in counts.items() if n > 1] == []


def test_third_set_holds_twelve_held_out_rows_on_catalog_devices() -> None:
    """The third set (declared 2026-12-04, before any estimate of it) may set no device known
    to an earlier set."""
    earlier = {row["catalog_device"] for row in rows() if row["split"] in
               ("in_sample", "held_out", "in_sample_2", "held_out_2")}  # fmt: skip
    third = [row for row in rows() if row["split"].endswith("_3")]
    assert sum(row["split"] == "held_out_3" for row in third) >= 12
    assert [row["row_id"] for row in third
            if row["split"] == "in_sample_3"
            and row["catalog_device"] in earlier] == []  # fmt: skip


def test_the_rule_file_names_the_split_and_its_meaning() -> None:
    text = (DATA / "llm-decode-published.md").read_text()
    assert "held_out" in text and "in_sample" in text
    assert "after looking at" in text


def test_every_model_cell_maps_to_one_shipped_language_model() -> None:
    """llm-decode-models.csv holds each distinct `model` cell once, verbatim, with the `hf:`
    spec edgegap profiles for it (a shipped configuration with a decode step) and why."""
    with MODELS.open(newline="", encoding="utf-8") as handle:
        mapping = list(csv.DictReader(handle))
    assert list(mapping[0]) == ["model", "spec", "why"]
    assert sorted(row["model"] for row in mapping) == sorted({row["model"] for row in rows()})
    for row in mapping:
        name = row["spec"].removeprefix(hf_models.PREFIX)
        assert row["spec"].startswith(hf_models.PREFIX) and name in hf_models.shipped(), row
        assert hf_models.decode_inputs(hf_models.resolve(name), context=1), row  # it decodes
        assert row["why"].strip(), row


def _benchmark():  # type: ignore[no-untyped-def]
    """benchmarks/generative.py, which estimates these rows."""
    import sys

    folder = str(DATA.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    import generative

    return generative


def test_every_estimated_row_has_its_formats_context_and_a_catalog_platform() -> None:
    from edgegap.hardware import builtin_names
    from edgegap.techniques import weight_formats

    read = _benchmark().rows()
    assert len(read) == sum(row["split"] != "excluded" for row in rows())
    for row in read:
        assert row.platform in builtin_names(), row.row_id
        assert row.weights in weight_formats.formats(), row.row_id
        assert row.kv_cache in weight_formats.kv_types(), row.row_id
        assert row.context >= 64, row.row_id  # the declared rule: tg128 is the shortest


def _synthetic(gb_s: float, fixed: float, sizes: list[float]):  # type: ignore[no-untyped-def]
    """Rows of one device, each a decode step of `size` off-chip bytes over 100 layers,
    measured at exactly what `gb_s` and `fixed` give."""
    import numpy as np

    benchmark = _benchmark()
    timed = []
    for i, size in enumerate(sizes):
        row = benchmark.Row(row_id=f"r{i}", device="dev", kind="k", unit="GPU", model="m",
                            spec="s", weights="f16", kv_cache="f16", context=64, measured=1.0,
                            split="in_sample", source="https://example.org")  # fmt: skip
        step = benchmark.Timed(row, 100.0, np.full(100, 1e-7), np.full(100, size / 100))
        measured = step.tokens_per_s(gb_s, fixed)
        timed.append(benchmark.Timed(replace(row, measured=measured), 100.0, step.compute_s,
                                     step.offchip_bytes))  # fmt: skip
    return benchmark, timed


@settings(max_examples=40, deadline=None)
@given(gb_s=st.floats(5.0, 100.0), index=st.integers(0, 60))
def test_rule_2_recovers_a_device_s_bandwidth_and_fixed_time(gb_s: float, index: int) -> None:
    """Rows made by a bandwidth (up to the peak) and a fixed time of the grid give them back."""
    benchmark, timed = _synthetic(gb_s, benchmark_grid()[index], [1e8, 4e8, 2e9])
    fitted_gb_s, fixed = benchmark.fit_device(timed, benchmark.FIXED_GRID)
    assert fitted_gb_s == pytest.approx(gb_s, rel=1e-6)
    assert fixed == benchmark.FIXED_GRID[index]


def test_rule_2_gives_a_device_without_a_size_spread_its_unit_s_fixed_time() -> None:
    grid = benchmark_grid()
    benchmark, spread = _synthetic(50.0, grid[50], [1e8, 1e9])
    _, single = _synthetic(20.0, grid[40], [5e8])
    other = [replace(t, row=replace(t.row, device="other")) for t in single]
    numbers = benchmark.device_numbers(spread + other, {"dev": ("GPU", 100.0),
                                                         "other": ("GPU", 100.0)})  # fmt: skip
    assert numbers["dev"][:2] == (50.0, benchmark.rounded(grid[50]))
    fixed = numbers["other"][1]
    assert fixed == numbers["dev"][1]  # its unit's only fitted device's
    assert other[0].tokens_per_s(numbers["other"][0], fixed) == pytest.approx(
        other[0].row.measured, rel=1e-2
    )  # its one row sets the bandwidth at that time


def benchmark_grid() -> tuple[float, ...]:
    return _benchmark().FIXED_GRID  # type: ignore[no-any-return]


@pytest.mark.slow
def test_the_catalog_carries_rule_2_s_numbers() -> None:
    """Each platform's sustained off-chip bandwidth and fixed time per layer are what rule 2
    fits on the training rows, as llm-decode-published.md declares."""
    benchmark = _benchmark()
    read = benchmark.rows()
    timed = [benchmark.Timed.of(row) for row in read]
    devices = {t.row.device: (t.row.unit, t.peak_gb_s) for t in timed}
    training = [t for t in timed if t.row.split in benchmark.TRAINING]
    assert benchmark.catalog_differences(benchmark.device_numbers(training, devices)) == []
