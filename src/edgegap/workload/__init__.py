"""Demand: models -> per-layer workloads."""

from edgegap.workload.layer import Gemm, Layer, Totals, Workload
from edgegap.workload.profile import profile

__all__ = ["Gemm", "Layer", "Totals", "Workload", "profile"]
