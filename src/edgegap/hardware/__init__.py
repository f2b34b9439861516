"""Supply: hardware platforms as data, and the cost model that runs a workload on them."""

from edgegap.hardware.catalog import builtin_names, load_platform
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
from edgegap.hardware.platform import Compute, MemoryLevel, Platform
from edgegap.hardware.verdict import Verdict, verdict

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
