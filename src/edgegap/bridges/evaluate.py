"""Every architecture technique of the registry on one workload against a baseline platform,
evaluated by the one cost model: the `edgegap bridges` table."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from edgegap.errors import UserError
from edgegap.hardware.cost import Cost, estimate
from edgegap.hardware.platform import Platform
from edgegap.techniques import NotAvailable, Setting, techniques
from edgegap.techniques.architecture import Architecture, Bridge, Skipped, Unsourced
from edgegap.workload.layer import Workload


@dataclass(frozen=True)
class BridgeResult:
    technique: str  # the registered technique that built the bridge
    bridge: Bridge
    cost: Cost
    latency_factor: float  # baseline latency / bridge latency: > 1 is faster
    energy_factor: float  # baseline energy / bridge energy: > 1 saves energy


@dataclass(frozen=True)
class BridgeReport:
    model: str
    platform: Platform
    baseline: Cost
    results: list[BridgeResult]
    skipped: list[Skipped]

    def to_dict(self) -> dict[str, Any]:
        totals = self.baseline.totals
        return {
            "model": self.model,
            "platform": self.platform.name,
            "baseline": {
                "latency_s": totals.latency_s,
                "energy_j": totals.energy_j,
                "area_mm2": self.platform.area_mm2,
                "energy_breakdown": totals.energy_breakdown.to_dict(),
            },
            "bridges": [
                {
                    "name": r.bridge.name,
                    "technique": r.technique,
                    "kind": r.bridge.kind,
                    "latency_s": r.cost.totals.latency_s,
                    "energy_j": r.cost.totals.energy_j,
                    "area_mm2": r.bridge.area_mm2,
                    "latency_factor": r.latency_factor,
                    "energy_factor": r.energy_factor,
                    "energy_breakdown": r.cost.totals.energy_breakdown.to_dict(),
                    "notes": r.bridge.notes,
                    "sources": list(r.bridge.sources),
                }
                for r in self.results
            ],
            "skipped": [
                {"name": s.name, "technique": s.technique, "reason": s.reason} for s in self.skipped
            ],
        }


def evaluate_bridges(
    workload: Workload,
    platform: Platform,
    options: Mapping[str, Mapping[str, Any]] | None = None,
) -> BridgeReport:
    """The baseline and every architecture technique's candidates (or the setting `options`
    gives it by name, e.g. `{"scaling": {"node_nm": 3}}`) on the same workload, by the one
    cost model; a technique that cannot be built on this platform is listed as skipped, with
    the reason."""
    known = {t.name for t in techniques(group="architecture")}
    unknown = sorted(set(options or {}) - known)
    if unknown:
        raise UserError(f"no architecture technique {', '.join(unknown)}: use {', '.join(known)}")
    baseline = estimate(workload, platform)
    results, skipped = [], []
    for technique in techniques(group="architecture"):
        if not isinstance(technique, Architecture):
            raise UserError(f"{technique.name} is in the architecture group but does not "
                            "subclass techniques.architecture.Architecture")  # fmt: skip
        given = (options or {}).get(technique.name)
        try:
            settings: list[Setting] = (
                [technique.setting(**given)] if given is not None
                else technique.candidates(workload, platform)
            )  # fmt: skip
        except (NotAvailable, Unsourced) as reason:
            skipped.append(Skipped(technique.summary, technique.name, str(reason)))
            continue
        for setting in settings:
            try:
                bridge = technique.bridge(workload, platform, setting)
            except (NotAvailable, Unsourced) as reason:
                skipped.append(Skipped(setting.label or technique.summary, technique.name,
                                       str(reason)))  # fmt: skip
                continue
            cost = estimate(bridge.workload, bridge.platform)
            results.append(
                BridgeResult(
                    technique.name,
                    bridge,
                    cost,
                    baseline.totals.latency_s / cost.totals.latency_s,
                    baseline.totals.energy_j / cost.totals.energy_j,
                )
            )
    return BridgeReport(workload.model, platform, baseline, results, skipped)
