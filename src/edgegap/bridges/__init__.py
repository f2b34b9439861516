"""Bridges: transforms that close the gap. An architecture bridge maps a Platform to a new
Platform the cost model evaluates unchanged."""

from edgegap.bridges.scaling import node_factors, scale_platform

__all__ = ["node_factors", "scale_platform"]
