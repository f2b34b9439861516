"""The residuals file the validation benchmarks share: src/edgegap/hardware/data/residuals.csv,
one row per compared number, from which every estimate takes its interval
(`edgegap.hardware.intervals`). Each benchmark replaces its own rows and keeps the others'."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from pathlib import Path

from edgegap.atomic import write_text

RESIDUALS = Path(__file__).resolve().parent.parent / "src/edgegap/hardware/data/residuals.csv"
FIELDS = ("benchmark", "platform", "kind", "case", "quantity", "split", "predicted",
          "measured", "unit", "source")  # fmt: skip


def six(value: float) -> str:
    return f"{value:.6g}"


def write_residuals(benchmark: str, rows: Iterable[dict[str, str]]) -> None:
    """Replace `benchmark`'s rows (dicts of FIELDS, benchmark included) in residuals.csv,
    sorted, atomically."""
    kept: list[dict[str, str]] = []
    if RESIDUALS.exists():
        with RESIDUALS.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            if tuple(reader.fieldnames or ()) != FIELDS:
                raise SystemExit(f"{RESIDUALS}: header is not {','.join(FIELDS)}")
            kept = [record for record in reader if record["benchmark"] != benchmark]
    records = sorted([*kept, *rows], key=lambda r: tuple(r[field] for field in FIELDS))
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    write_text(RESIDUALS, text.getvalue())
