"""Supply: hardware platforms as data, and the cost model that runs a workload on them."""

from edgegap.hardware.catalog import builtin_names, load_platform
from edgegap.hardware.cost import Cost, LayerCost, estimate
from edgegap.hardware.platform import Compute, MemoryLevel, Platform

__all__ = [
    "Compute",
    "Cost",
    "LayerCost",
    "MemoryLevel",
    "Platform",
    "builtin_names",
    "estimate",
    "load_platform",
]
