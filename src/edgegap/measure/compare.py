"""A measured latency beside the cost model's estimate for the same model, input and
precision on a platform: the check a user runs against a YAML file describing their own
machine."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from edgegap.errors import UserError
from edgegap.hardware import Platform, estimate
from edgegap.hardware.intervals import Interval, interval_record, latency_interval
from edgegap.measure.latency import AS_STORED, Measurement
from edgegap.workload import Workload, profile


@dataclass(frozen=True)
class Comparison:
    """The cost model's latency for a measured model on `platform`, at the precisions the
    platform ran its layers at, and the ratio estimate / measured median (above 1: the model
    predicts slower than measured)."""

    measurement: Measurement
    platform: str
    precisions: tuple[str, ...]
    macs: int
    estimate_s: float
    interval: Interval | None  # where the measurement was expected (`hardware.intervals`)

    @property
    def ratio(self) -> float:
        return self.estimate_s / self.measurement.wall_median_s

    @property
    def achieved_macs_per_s(self) -> float:
        """MACs of the workload over the measured median: the MAC rate this machine reached."""
        return self.macs / self.measurement.wall_median_s

    def to_dict(self) -> dict[str, Any]:
        return {
            "platform": self.platform,
            "precisions": list(self.precisions),
            "macs": self.macs,
            "estimate_s": self.estimate_s,
            "interval": interval_record(self.interval, self.estimate_s),
            "ratio": self.ratio,
            "achieved_macs_per_s": self.achieved_macs_per_s,
        }


def measured_workload(measurement: Measurement) -> Workload:
    """The workload of what was measured: the same model and input shape, profiled at the
    precision it ran at (an ONNX file as stored: each tensor's own)."""
    if measurement.source == "module":
        raise UserError(
            f"{measurement.model} was measured from a module: profile it and pass the workload"
        )
    dtype = None if measurement.precision == AS_STORED else measurement.precision
    return profile(measurement.model, measurement.input_shape, dtype)


def beside_estimate(
    measurement: Measurement, platform: Platform, workload: Workload | None = None
) -> Comparison:
    """The estimate of `workload` (by default `measured_workload(measurement)`) on
    `platform` beside the measurement."""
    workload = workload if workload is not None else measured_workload(measurement)
    cost = estimate(workload, platform)
    precisions = tuple(sorted({layer.precision for layer in cost.layers if layer.macs}))
    return Comparison(
        measurement,
        platform.name,
        precisions,
        workload.totals.macs,
        cost.totals.latency_s,
        latency_interval(cost, platform),
    )
