"""Whether a model fits a platform: one rule for the cost model, the report and the planner.

The rule places two things, each where a deployment keeps it:
- the weights, every parameter as it is held (a lookup's table whole, however few rows a
  pass reads), at the precision the cost model runs each layer at or as stored where that
  is narrower (`LayerArrays`; on a zero-skipping platform only the nonzero ones), live in
  the outermost level: off-chip DRAM,
  an MCU's flash, or, on a chip with neither, its on-chip buffers together (however many:
  each holds data of its own, as a scratchpad does);
- the peak live activations (the most bytes alive at one moment of the forward pass, at the
  platform precision, and at least the largest layer's inputs plus outputs) live in working
  memory: the outermost writable level. That is DRAM where there is DRAM (beside the weights),
  and the on-chip RAM (the buffers together) where the outermost level is read-only (flash,
  `read_only`).
Each placement must fit its level's `size_bytes`; a level that states none is taken as large
enough, and the reason says so. Levels holding both count both against one capacity.
"""

from __future__ import annotations

from dataclasses import dataclass

from edgegap.hardware.layers import LayerArrays
from edgegap.hardware.platform import MemoryLevel, Platform
from edgegap.workload import fusion
from edgegap.workload.layer import Workload


@dataclass(frozen=True)
class Placement:
    """What one memory level (or a chip's buffers together) must hold."""

    holds: str  # "weights", "activations" or "weights and activations"
    level: str  # the level's name, or several joined by " + "
    needed_bytes: int
    capacity_bytes: int | None  # None: the platform does not state one

    @property
    def fits(self) -> bool:
        return self.capacity_bytes is None or self.needed_bytes <= self.capacity_bytes


@dataclass(frozen=True)
class Fit:
    fits: bool
    needed_bytes: int  # weights plus peak live activations
    weight_bytes: int
    activation_bytes: int
    placements: tuple[Placement, ...]
    reason: str  # one line: what is needed where, and what each level holds


def fits(workload: Workload, platform: Platform, fuse: bool = True) -> Fit:
    """Whether `workload` fits `platform` by the module's rule, with the numbers and a reason;
    with `fuse`, as its compiler fuses it (as `estimate` does)."""
    if fuse:
        workload = fusion.fuse(workload, platform.fuses)
    return fit_of(LayerArrays.of(workload, platform), platform)


def _on_chip(platform: Platform) -> list[MemoryLevel]:
    return platform.buffers or [level for level in platform.memory if level.role != "offchip"]


def _homes(platform: Platform) -> tuple[list[MemoryLevel], list[MemoryLevel]]:
    """Where the weights live, and where the activations do."""
    offchip = platform.level("offchip")
    if offchip is None:
        return _on_chip(platform), _on_chip(platform)
    return [offchip], _on_chip(platform) if offchip.read_only else [offchip]


def _capacity(levels: list[MemoryLevel]) -> int | None:
    sizes = [level.size_bytes for level in levels]
    return None if any(size is None for size in sizes) else sum(s or 0 for s in sizes)


def size_text(count: float) -> str:
    """Bytes for a reader: 60 B, 4.3 kB, 86.6 MB, 8.6 GB (SI prefixes)."""
    for unit, name in ((1e9, "GB"), (1e6, "MB"), (1e3, "kB")):
        if count >= unit:
            return f"{count / unit:.1f} {name}"
    return f"{count:,.0f} B"


def fit_of(layers: LayerArrays, platform: Platform) -> Fit:
    """The rule on a workload already in the cost model's arrays."""
    weight_home, activation_home = _homes(platform)
    weights, activations = layers.stored_weight_bytes, layers.peak_activation_bytes
    if weight_home == activation_home:
        parts = [("weights and activations", weight_home, weights + activations)]
    else:
        parts = [("weights", weight_home, weights), ("activations", activation_home, activations)]
    placements = tuple(
        Placement(holds, " + ".join(level.name for level in home), needed, _capacity(home))
        for holds, home, needed in parts
    )
    precisions = "/".join(
        dict.fromkeys(
            p for p, w in zip(layers.precision, layers.stored_weights, strict=True) if w > 0
        )
    )
    need = (
        f"{size_text(weights)} of {precisions + ' ' if precisions else ''}weights and "
        f"{size_text(activations)} of peak activations"
    )
    where = [
        f"{p.level} capacity not stated (taken as large enough)"
        if p.capacity_bytes is None
        else f"{p.holds} {'fit' if p.fits else 'do not fit'} {p.level} "
        f"({size_text(p.capacity_bytes)})"
        for p in placements
    ]
    fit = all(placement.fits for placement in placements)
    return Fit(fit, weights + activations, weights, activations, placements,
               f"{need}; {'; '.join(where)}")  # fmt: skip
