"""Supply: hardware platforms as data, and the cost model that runs a workload on them.

The platform schema and catalog load with the package (pydantic and YAML: all that `edgegap
hw list` needs); the cost model and the fit rule (numpy, pandas) load on first use of one of
their names.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from edgegap.hardware.catalog import builtin_names, load_platform
from edgegap.hardware.platform import Compute, MemoryLevel, Platform

if TYPE_CHECKING:
    from edgegap.hardware.cost import (
        REAL_TIME_FPS,
        Cost,
        CostTotals,
        EnergyBreakdown,
        LayerCost,
        Power,
        estimate,
    )
    from edgegap.hardware.fit import Fit, Placement, fits
    from edgegap.hardware.layers import deployment_precision, precision_for
    from edgegap.hardware.verdicts import Verdict, verdict

# name -> the module of this package that defines it, imported when the name is first used
_DEFERRED = {
    "REAL_TIME_FPS": "cost", "Cost": "cost", "CostTotals": "cost", "EnergyBreakdown": "cost",
    "LayerCost": "cost", "Power": "cost", "estimate": "cost", "Fit": "fit", "Placement": "fit",
    "fits": "fit", "deployment_precision": "layers", "precision_for": "layers",
    "Verdict": "verdicts", "verdict": "verdicts",
}  # fmt: skip


def __getattr__(name: str) -> Any:
    if name not in _DEFERRED:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_DEFERRED[name]}"), name)


__all__ = [
    "REAL_TIME_FPS",
    "Compute",
    "Cost",
    "CostTotals",
    "EnergyBreakdown",
    "Fit",
    "LayerCost",
    "MemoryLevel",
    "Placement",
    "Platform",
    "Power",
    "Verdict",
    "builtin_names",
    "deployment_precision",
    "estimate",
    "fits",
    "load_platform",
    "precision_for",
    "verdict",
]
