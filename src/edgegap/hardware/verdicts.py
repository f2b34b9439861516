"""Whether a model runs on a platform, and what stops it: the answer `estimate`, the report's
first table and the multi-model comparison give, from one `Cost`.

A model runs when it fits the platform's memory (`hardware.fit`), sustains the frame rate
its power was quoted at, draws at most the power budget there, and meets a latency budget
when one is given. Each failed check is one short reason, fit for a table cell.
"""

from __future__ import annotations

from dataclasses import dataclass

from edgegap.hardware.cost import Cost
from edgegap.hardware.fit import size_text


@dataclass(frozen=True)
class Verdict:
    runs: bool
    reasons: tuple[str, ...]  # empty when it runs

    @property
    def text(self) -> str:
        return "runs" if self.runs else "; ".join(self.reasons)


def verdict(cost: Cost, latency_budget_s: float | None = None) -> Verdict:
    reasons = [
        f"{placement.holds} {size_text(placement.needed_bytes)} do not fit {placement.level} "
        f"({size_text(placement.capacity_bytes)})"
        for placement in cost.fit.placements
        if placement.capacity_bytes is not None and not placement.fits
    ]
    power = cost.power
    if not power.sustains_rate:
        reasons.append(f"{power.max_fps:.3g} of {power.fps:g} frames/s")
    if not power.fits_budget:
        reasons.append(f"{power.average_w:.3g} W over the {power.budget_w:g} W budget")
    latency = cost.totals.latency_s
    if latency_budget_s is not None and latency > latency_budget_s:
        reasons.append(f"{latency * 1e3:.3g} ms over the {latency_budget_s * 1e3:.3g} ms budget")
    return Verdict(not reasons, tuple(reasons))
