"""The curated tables behind the trends, read once and validated at load.

Each CSV ships inside the package with a primary source in every row: `dnn_models.csv` (DNNs
1998 -> today, ImageNet classifiers tagged with their evaluation protocol, and the largest
networks of their day), `platforms.csv` (GPUs, FPGAs, ASICs, NPUs 2010 -> today, GPUs also at
fp32 and boost clock), `memory_energy.csv` (DRAM and SRAM energy per bit, dated by product
introduction, each row a product, a proposal or a generic estimate), `brain.csv` (the
biological reference of the paper's outlook), and for generative models (the 2026 form of
Fig. 4): `open_llms.csv` (the largest open-weight decoder-only language models 2019 -> today,
total and, for mixtures of experts, active parameters, from model cards and papers) and
`edge_memory.csv` (DRAM capacity and peak bandwidth of edge devices by year: modules, boards,
laptops, phones, from datasheets and spec pages). The bridges' memory technologies are another
table (`edgegap/hardware/data/memories.csv`): this one holds only what the trend fits.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import numpy as np
import pandas as pd

from edgegap.errors import UserError

DATA = resources.files("edgegap.trends") / "data"

# column -> pandas dtype; every table also has `notes` and a source column
SCHEMAS: dict[str, dict[str, str]] = {
    "dnn_models": {
        "name": "string", "year": "Int64", "imagenet": "boolean", "protocol": "string",
        "top1_error_pct": "Float64", "top5_error_pct": "Float64", "params": "Int64",
        "macs": "Int64", "architecture": "string", "profile_input": "string",
        "error_source": "string", "size_source": "string", "notes": "string",
    },
    "platforms": {
        "name": "string", "kind": "string", "year": "Int64", "process_nm": "Float64",
        "die_area_mm2": "Float64", "peak_ops": "Float64", "peak_precision": "string",
        "fp32_boost_ops": "Float64", "fp32_base_ops": "Float64", "power_w": "Float64",
        "edge": "boolean", "source": "string", "notes": "string",
    },
    "memory_energy": {
        "name": "string", "type": "string", "status": "string", "year": "Int64",
        "energy_pj_per_bit": "Float64", "source": "string", "notes": "string",
    },
    "brain": {
        "quantity": "string", "value": "Float64", "unit": "string", "source": "string",
        "notes": "string",
    },
    "open_llms": {
        "name": "string", "year": "Int64", "released": "string", "params": "Int64",
        "active_params": "Int64", "architecture": "string", "source": "string",
        "notes": "string",
    },
    "edge_memory": {
        "name": "string", "kind": "string", "year": "Int64", "dram_gb": "Float64",
        "bandwidth_gb_s": "Float64", "memory_type": "string", "source": "string",
        "notes": "string",
    },
}  # fmt: skip
SOURCE_COLUMNS = {"dnn_models": ("error_source", "size_source")}
YEARS = {
    "dnn_models": (1998, 2026), "platforms": (2010, 2026), "memory_energy": (2005, 2026),
    "open_llms": (2018, 2026), "edge_memory": (2015, 2026),
}  # fmt: skip
# Columns whose values come from a closed list: a typo would silently drop a row from a fit.
# ilsvrc-test: the ILSVRC test set as submitted (ensembles allowed); single-val: one model on
# the validation set; none: no ImageNet result. product / proposal / generic: a memory one can
# buy (the only rows fitted), an architecture proposed in a paper, a textbook estimate.
CATEGORIES: dict[str, dict[str, tuple[str, ...]]] = {
    "dnn_models": {"protocol": ("ilsvrc-test", "single-val", "none")},
    "platforms": {"kind": ("gpu", "asic", "fpga", "npu")},
    "memory_energy": {
        "type": ("dram", "3d-dram", "sram"), "status": ("product", "proposal", "generic")
    },
    "open_llms": {"architecture": ("dense", "moe")},
    "edge_memory": {"kind": ("module", "sbc", "laptop", "phone")},
}  # fmt: skip


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
    for column, allowed in CATEGORIES.get(name, {}).items():
        unknown = frame.index[~frame[column].isin(allowed)]
        if len(unknown):
            raise UserError(
                f"{origin}:{unknown[0] + 2}: {column} must be one of {', '.join(allowed)}"
            )
    if name in YEARS:
        low, high = YEARS[name]
        outside = frame.index[~frame["year"].between(low, high)]
        if len(outside):
            raise UserError(f"{origin}:{outside[0] + 2}: year outside {low}-{high}")
    return frame


@cache
def _load(name: str) -> pd.DataFrame:
    path = DATA / f"{name}.csv"
    return parse_table(name, path.read_text(encoding="utf-8"), f"{name}.csv")


def load(name: str) -> pd.DataFrame:
    """A built-in table by name (dnn_models, platforms, memory_energy, brain, open_llms,
    edge_memory); the copy is yours."""
    return _load(name).copy()
