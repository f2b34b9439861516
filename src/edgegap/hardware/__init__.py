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
    from edgegap.hardware.cost import Cost, CostTotals, EnergyBreakdown, LayerCost, estimate
    from edgegap.hardware.fit import Fit, fits
    from edgegap.hardware.layers import precision_for

# name -> the module of this package that defines it, imported when the name is first used
_DEFERRED = {
    "Cost": "cost", "CostTotals": "cost", "EnergyBreakdown": "cost", "LayerCost": "cost",
    "estimate": "cost", "Fit": "fit", "fits": "fit", "precision_for": "layers",
}  # fmt: skip


def __getattr__(name: str) -> Any:
    if name not in _DEFERRED:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_DEFERRED[name]}"), name)


__all__ = [
    "Compute",
    "Cost",
    "CostTotals",
    "EnergyBreakdown",
    "Fit",
    "LayerCost",
    "MemoryLevel",
    "Platform",
    "builtin_names",
    "estimate",
    "fits",
    "load_platform",
    "precision_for",
]
