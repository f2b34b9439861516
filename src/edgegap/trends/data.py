"""The curated tables behind the trends, read once and validated at load.

Each CSV ships inside the package with a citation in every row: `dnn_models.csv` (DNNs
1998 -> today, ImageNet classifiers and the largest networks of their day), `platforms.csv`
(GPUs, FPGAs, ASICs, NPUs 2011 -> today), `memories.csv` (SRAM and DRAM energy per bit; it
lives in `edgegap/hardware/data/`, whose technology module reads it too), `brain.csv` (the
biological reference of the paper's outlook).
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import numpy as np
import pandas as pd

from edgegap.errors import UserError
from edgegap.hardware.technology import MEMORY_TABLE

DATA = resources.files("edgegap.trends") / "data"

# column -> pandas dtype; every table also has `notes` and a source column
SCHEMAS: dict[str, dict[str, str]] = {
    "dnn_models": {
        "name": "string", "year": "Int64", "imagenet": "boolean", "top1_error_pct": "Float64",
        "top5_error_pct": "Float64", "params": "Int64", "macs": "Int64",
        "torchvision": "string", "error_source": "string", "size_source": "string",
        "notes": "string",
    },
    "platforms": {
        "name": "string", "kind": "string", "year": "Int64", "process_nm": "Float64",
        "die_area_mm2": "Float64", "peak_ops": "Float64", "peak_precision": "string",
        "power_w": "Float64", "edge": "boolean", "source": "string", "notes": "string",
    },
    "memories": {
        "name": "string", "type": "string", "year": "Int64", "energy_pj_per_bit": "Float64",
        "bandwidth_gb_s": "Float64", "source": "string", "notes": "string",
    },
    "brain": {
        "quantity": "string", "value": "Float64", "unit": "string", "source": "string",
        "notes": "string",
    },
}  # fmt: skip
SOURCE_COLUMNS = {"dnn_models": ("error_source", "size_source")}
YEARS = {"dnn_models": (1998, 2026), "platforms": (2010, 2026), "memories": (2010, 2026)}


def parse_table(name: str, text: str, origin: str) -> pd.DataFrame:
    """Validate a table: the expected columns, typed values, a source in every row, no NaN
    or negative numbers, years within the table's span."""
    from io import StringIO

    schema = SCHEMAS[name]
    try:
        frame = pd.read_csv(StringIO(text), dtype=schema, keep_default_na=True)
    except (ValueError, TypeError) as error:
        raise UserError(f"{origin}: {str(error).splitlines()[0]}") from None
    missing = [column for column in schema if column not in frame.columns]
    if missing:
        raise UserError(f"{origin}: missing columns {', '.join(missing)}")
    sources = frame[list(SOURCE_COLUMNS.get(name, ("source",)))].fillna("")
    unsourced = frame.index[(sources.apply(lambda c: c.str.strip().str.len()) == 0).all(axis=1)]
    if len(unsourced):
        raise UserError(f"{origin}:{unsourced[0] + 2}: row without a source")
    for column, kind in schema.items():
        if kind in ("Int64", "Float64"):
            values = frame[column].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
            if np.isinf(values).any() or (values < 0).any():
                bad = int(np.flatnonzero(np.isinf(values) | (values < 0))[0])
                raise UserError(f"{origin}:{bad + 2}: {column} must be a finite positive number")
    if name in YEARS:
        low, high = YEARS[name]
        outside = frame.index[~frame["year"].between(low, high)]
        if len(outside):
            raise UserError(f"{origin}:{outside[0] + 2}: year outside {low}-{high}")
    return frame


@cache
def _load(name: str) -> pd.DataFrame:
    path = MEMORY_TABLE if name == "memories" else DATA / f"{name}.csv"
    return parse_table(name, path.read_text(encoding="utf-8"), f"{name}.csv")


def load(name: str) -> pd.DataFrame:
    """A built-in table by name (dnn_models, platforms, memories, brain); the copy is yours."""
    return _load(name).copy()
