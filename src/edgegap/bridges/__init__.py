"""Bridges: transforms that close the gap. An architecture bridge maps a Platform (and, where
it changes what runs, the Workload) to new ones the cost model evaluates unchanged."""

from edgegap.bridges.architecture import BridgeReport, architecture_bridges, evaluate_bridges

__all__ = [
    "BridgeReport",
    "architecture_bridges",
    "evaluate_bridges",
]
