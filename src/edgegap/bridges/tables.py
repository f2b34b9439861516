"""The bridges' sourced tables (data/*.csv), read once each."""

from __future__ import annotations

from functools import cache
from importlib import resources

import pandas as pd


@cache
def read(name: str) -> pd.DataFrame:
    """data/NAME.csv as it is; callers index and filter their own copy."""
    path = resources.files("edgegap.bridges") / "data" / f"{name}.csv"
    with path.open(encoding="utf-8") as handle:
        return pd.read_csv(handle)
