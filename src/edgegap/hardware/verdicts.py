"""Whether a model runs on a platform, and what stops it: the answer `estimate`, the report's
first table and the multi-model comparison give, from one `Cost`.

A model runs when it fits the platform's memory (`hardware.fit`), sustains the frame rate
its power was quoted at, and the power that rate needs is within the power budget. Each
failed check is one short reason, fit for a table cell; a platform too slow for the rate
says so with the power the rate would need, not as a second reason.
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


def verdict(cost: Cost) -> Verdict:
    reasons = [
        f"{placement.holds} {size_text(placement.needed_bytes)} do not fit {placement.level} "
        f"({size_text(placement.capacity_bytes)})"
        for placement in cost.fit.placements
        if placement.capacity_bytes is not None and not placement.fits
    ]
    power = cost.power
    if not power.sustains_rate:
        reasons.append(
            f"{power.max_fps:.3g} of {power.fps:g} frames/s (the rate would need "
            f"{power.average_w:.3g} W)"
        )
    elif not power.fits_budget:
        reasons.append(f"{power.average_w:.3g} W over the {power.budget_w:g} W budget")
    return Verdict(not reasons, tuple(reasons))
