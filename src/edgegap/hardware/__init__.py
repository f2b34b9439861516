"""Supply: hardware platforms as data, and the cost model that runs a workload on them."""

from edgegap.hardware.catalog import builtin_names, load_platform
from edgegap.hardware.cost import Cost, CostTotals, EnergyBreakdown, LayerCost, estimate
from edgegap.hardware.fit import Fit, fits
from edgegap.hardware.layers import precision_for
from edgegap.hardware.platform import Compute, MemoryLevel, Platform

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
