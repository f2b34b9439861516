"""Whether a model fits a platform: one rule for the cost model, the report and the planner.

The rule: the weights, at the platform precision the cost model runs each layer at
(`precision_for`; on a zero-skipping platform only the nonzero ones), plus the working
activations (the largest layer's inputs and outputs), must fit where the model lives: the
off-chip level when the platform has one (DRAM, or an MCU's flash), else its on-chip buffers
together (every level, when it has no buffer). A level that states no `size_bytes` is taken
as large enough.
"""

from __future__ import annotations

from dataclasses import dataclass

from edgegap.hardware.layers import LayerArrays
from edgegap.hardware.platform import MemoryLevel, Platform
from edgegap.workload import fusion
from edgegap.workload.layer import Workload


@dataclass(frozen=True)
class Fit:
    fits: bool
    needed_bytes: int
    capacity_bytes: int | None  # None: the platform does not state one
    level: str  # the memory level (or levels, joined by " + ") that must hold the model
    reason: str  # one line: what is needed, and what the level holds


def fits(workload: Workload, platform: Platform, fuse: bool = True) -> Fit:
    """Whether `workload` fits `platform` by the module's rule, with the numbers and a reason;
    with `fuse`, as its compiler fuses it (as `estimate` does)."""
    if fuse:
        workload = fusion.fuse(workload, platform.fuses)
    return fit_of(LayerArrays.of(workload, platform), platform)


def _home(platform: Platform) -> list[MemoryLevel]:
    offchip = platform.level("offchip")
    if offchip is not None:
        return [offchip]
    buffers = [level for level in platform.memory if level.role == "buffer"]
    return buffers or list(platform.memory)


def _size(count: int, unit: float, name: str) -> str:
    return f"{count:,} B" if name == "B" else f"{count / unit:.1f} {name}"


def fit_of(layers: LayerArrays, platform: Platform) -> Fit:
    """The rule on a workload already in the cost model's arrays."""
    home = _home(platform)
    sizes = [level.size_bytes for level in home]
    capacity = None if any(size is None for size in sizes) else sum(s or 0 for s in sizes)
    level = " + ".join(level.name for level in home)
    needed = layers.resident_bytes
    largest = max(needed, capacity or 0)
    unit, name = next(
        ((u, n) for u, n in ((1e9, "GB"), (1e6, "MB"), (1e3, "kB")) if largest >= u), (1, "B")
    )
    precisions = "/".join(
        dict.fromkeys(p for p, w in zip(layers.precision, layers.weights, strict=True) if w > 0)
    )
    reason = (
        f"{_size(layers.weight_bytes, unit, name)} of weights"
        + (f" at {precisions}" if precisions else "")
        + f" and {_size(layers.working_bytes, unit, name)} of activations need "
        + _size(needed, unit, name)
        + "; "
        + (
            f"{level} capacity not stated (taken as large enough)"
            if capacity is None
            else f"{level} holds {_size(capacity, unit, name)}"
        )
    )
    return Fit(capacity is None or needed <= capacity, needed, capacity, level, reason)
