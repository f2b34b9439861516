"""Host validation (issue 13): calibrate this machine from microbenchmarks only, predict every
zoo classifier, compare with its measured latency (benchmarks/measure_zoo.py).

The split is declared here before any prediction of a zoo model was looked at: DEVELOPMENT
models may be looked at while the CPU engine and its calibration are designed (their errors
are in-sample); every other model is HELD OUT, and its errors are first computed once the
engine is frozen.
"""

from __future__ import annotations

from edgegap.workload import zoo


def development_models() -> tuple[str, ...]:
    """Every fourth zoo classifier in alphabetical order: 20 of 80, across the families."""
    return tuple(sorted(zoo.classification_models())[::4])
