"""Compute engines as plug-ins: one module per engine type, each an `Engine` that answers the
cost model's questions about a layer (`base.Engine` says which), for its spec in
`platform.Compute`."""

from __future__ import annotations

from typing import Any

from edgegap.hardware.engines.base import Engine
from edgegap.hardware.engines.cpu import Cpu
from edgegap.hardware.engines.in_memory import InMemory
from edgegap.hardware.engines.systolic import Systolic
from edgegap.hardware.engines.vector import Vector
from edgegap.hardware.layers import LayerArrays
from edgegap.hardware.platform import Compute

# compute.type -> its engine; one entry per member of `platform.Compute`
ENGINES: dict[str, type[Engine[Any]]] = {
    "systolic": Systolic,
    "vector": Vector,
    "in-memory": InMemory,
    "cpu": Cpu,
}


def engine_for(compute: Compute, layers: LayerArrays) -> Engine[Any]:
    """The engine that costs `layers` on `compute`."""
    return ENGINES[compute.type](compute, layers)


__all__ = ["ENGINES", "Engine", "engine_for"]
