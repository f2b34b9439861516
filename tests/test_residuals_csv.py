"""residuals.csv, the validation residuals behind the estimate's intervals: its exact header,
sorted rows, one split per row, every row sourced and on a catalog platform."""

import csv
import math
from pathlib import Path

import edgegap
from edgegap.hardware import builtin_names, load_platform

RESIDUALS = Path(edgegap.__file__).parent / "hardware" / "data" / "residuals.csv"
HEADER = "benchmark,platform,kind,case,quantity,split,predicted,measured,unit,source"


def test_header_order_and_values():
    text = RESIDUALS.read_text(encoding="utf-8")
    assert text.splitlines()[0] == HEADER
    rows = list(csv.DictReader(text.splitlines()))
    assert rows, "no residuals"
    fields = HEADER.split(",")
    assert rows == sorted(rows, key=lambda r: tuple(r[f] for f in fields))
    keys = [(r["benchmark"], r["platform"], r["case"], r["quantity"]) for r in rows]
    assert len(keys) == len(set(keys)), "a residual appears twice"
    for row in rows:
        assert row["split"] in ("in-sample", "held-out"), row
        assert (row["quantity"], row["unit"]) in (("latency", "s"), ("power", "W")), row
        assert row["source"].strip(), row
        for name in ("predicted", "measured"):
            value = float(row[name])
            assert math.isfinite(value) and value > 0, row


def test_silicon_rows_name_catalog_platforms_and_their_kind():
    rows = [r for r in csv.DictReader(RESIDUALS.open(encoding="utf-8"))]
    silicon = [r for r in rows if r["benchmark"] == "validate_silicon"]
    assert {r["platform"] for r in silicon} == {"eyeriss", "nvdla-small", "edge-tpu"}
    for row in silicon:
        assert row["platform"] in builtin_names()
        assert row["kind"] == load_platform(row["platform"]).kind
    assert {r["split"] for r in silicon} == {"in-sample", "held-out"}
