"""Bridges on the hardware side, evaluated: every architecture technique of the registry
against a baseline platform (`evaluate_bridges`), and the design-space sweep of an array."""

from edgegap.bridges.evaluate import BridgeReport, evaluate_bridges

__all__ = ["BridgeReport", "evaluate_bridges"]
