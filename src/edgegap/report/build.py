"""The main job's report, written atomically into one directory:

- `index.html` (with `plotly.min.js` beside it): the report to read in a browser, offline;
- `report.json`: every number the page shows, byte-identical from run to run;

- `models.csv`, `models.json`: the built-in models profiled, beside what torchvision publishes
  (`_ops`, `num_params`, accuracy); `layers/MODEL.csv`: their per-layer workloads;
- `edge.csv`: each model on each built-in platform at the platform's deployment precision
  (`hardware.deployment_precision`): latency, energy per inference, average power at 30
  frames/s with idle power, whether it fits the power budget, sustains 30 frames/s, and
  whether its weights and peak activations fit where they live (`hardware.fits`), with the
  verdict and its reasons (`hardware.verdict`), and the latency's interval from the
  validation rows of the platform's class (`hardware.intervals`; empty: not validated);
- `trends/`: the paper's Figures 1-4, Fig. 4c (open language models against edge memory) and
  the outlook figure (PNG, HTML) and `trends.json`;
- the generative section: Fig. 4c with its memory gap, and every shipped edge language model's
  decode tokens/s on the edge language-model targets (`report.generative`);
- the architecture bridges for two models on two edge targets, and plans that close the gap
  for chosen models and budgets.
"""

from __future__ import annotations

import contextlib
import json
import platform as host
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from edgegap import atomic
from edgegap.hardware import (
    REAL_TIME_FPS,
    builtin_names,
    deployment_precision,
    estimate,
    load_platform,
    verdict,
)
from edgegap.hardware.intervals import interval_for
from edgegap.host import cpu_features
from edgegap.report.page import render
from edgegap.runner import Outcome, Task, Workers, run_tasks
from edgegap.workload import Workload, profile, published, zoo

QUICK_MODELS = ("alexnet", "vgg16", "resnet50", "mobilenet_v2", "efficientnet_b0", "vit_b_16")
LAYER_VIEW_MODEL = "resnet50"
BRIDGE_CASES = (("resnet18", "eyeriss"), ("mobilenet_v2", "edge-tpu"))
# (model, target, latency budget in ms, frames per second the power budget is at, what the
# plan may change): the README's example and an MCU case. Memory and power are held to the
# platform's own budgets; every budget, with its value and origin, is in the record.
PLAN_CASES = (
    ("resnet50", "eyeriss", 100.0, 10.0, "both"),
    ("mobilenet_v2", "cortex-m7", 1000.0, 1.0, "model"),
)
# What the closing plans may change: the model, as its owner can on the chip they have.
CLOSING_CHANGE = "model"
# Where a plan is sought for each of the representative models, at REAL_TIME_FPS.
EDGE_TARGETS = ("eyeriss", "edge-tpu", "nvdla-small", "jetson-orin-nano", "cortex-m7")
QUICK_TARGETS = ("eyeriss", "edge-tpu")
# The quick report's decode table: a small, a 1B, a 7B and a 13B that three of the six targets
# cannot hold.
QUICK_LANGUAGE_MODELS = ("smollm2-135m", "llama-3.2-1b", "qwen2.5-7b", "llama-2-13b")


def summary_row(workload: Workload) -> dict[str, object]:
    return {
        "model": workload.model,
        "input_shape": "x".join(map(str, workload.input_shape)),
        **workload.totals.to_dict(),
    }


def edge_rows(
    profiled: Callable[[str], Workload], model: str, platforms: Sequence[str] | None = None
) -> list[dict[str, object]]:
    """`model` on every built-in platform (or those named) at that platform's deployment
    precision (`profiled(dtype)` gives the workload at a dtype), power at REAL_TIME_FPS."""
    rows = []
    for name in builtin_names() if platforms is None else platforms:
        platform = load_platform(name)
        precision = deployment_precision(platform)
        cost = estimate(profiled(precision), platform, REAL_TIME_FPS)
        totals, power, fit = cost.totals, cost.power, cost.fit
        found = verdict(cost)
        interval = interval_for(platform)
        low, high = interval.apply(totals.latency_s * 1e3) if interval else (None, None)
        rows.append(
            {
                "model": model,
                "platform": name,
                "precision": precision,
                "latency_ms": totals.latency_s * 1e3,
                "energy_mj": totals.energy_j * 1e3,
                "max_fps": power.max_fps,
                "power_w": power.average_w,
                "peak_power_w": power.peak_w,
                "fits_power_budget": power.fits_budget,
                "real_time": power.sustains_rate,
                "weights_mb": fit.weight_bytes / 1e6,
                "memory_mb": fit.needed_bytes / 1e6,
                "fits_memory": fit.fits,
                "memory_reason": fit.reason,
                "runs": found.runs,
                "reasons": list(found.reasons),
                "latency_low_ms": low,
                "latency_high_ms": high,
                "interval_level": interval.level if interval else None,
                "interval_basis": interval.basis if interval else None,
                "interval_n": interval.n if interval else 0,
            }
        )
    return rows


def model_part(input: dict[str, Any], seed: int, shared: Any) -> dict[str, Any]:
    """The report's part for one model, a runner task (so `--workers` spreads the zoo): the
    model profiled, its layers as CSV text, its summary row and its rows on every platform
    of `input["platforms"]`, each dtype profiled once."""
    name = input["model"]
    workloads: dict[str | None, Workload] = {}

    def at(dtype: str | None = None) -> Workload:
        if dtype not in workloads:
            workloads[dtype] = profile(name, dtype=dtype)
        return workloads[dtype]

    workload = at()
    return {
        "row": summary_row(workload),
        "layers": workload.to_dataframe().to_csv(),
        "edge": edge_rows(at, name, input["platforms"]),
    }


@dataclass(frozen=True)
class Report:
    """What `build_report` wrote (`record`: report.json) and the models whose task failed
    twice (`failures`), left out of it."""

    record: dict[str, Any] | None  # None: every model failed, nothing written
    failures: list[Outcome]


def intervals() -> dict[str, dict[str, Any] | None]:
    """Each built-in platform's latency interval as multipliers of an estimate, with its
    basis; None: not validated."""
    found = {name: interval_for(load_platform(name)) for name in builtin_names()}
    return {name: interval.to_dict() if interval else None for name, interval in found.items()}


def machine() -> dict[str, str]:
    """What ran the report: versions and the machine (no clock time, so reruns are identical)."""
    return {
        "edgegap": metadata.version("edgegap"),
        "python": host.python_version(),
        "torch": metadata.version("torch"),
        "torchvision": metadata.version("torchvision"),
        "system": host.system(),
        "machine": host.machine(),
        "cpu": cpu_features().model,
    }


def _clean(value: Any) -> Any:
    """JSON-ready: NaN and missing values as null, numpy scalars as Python numbers."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if value is pd.NA or value is pd.NaT:
        return None
    return value


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [_clean(row) for row in frame.to_dict(orient="records")]


def _closing_models(names: Sequence[str]) -> list[str]:
    """The models a plan is sought for on every target: the representative ones present."""
    return [n for n in names if n in QUICK_MODELS] or list(names[: len(QUICK_MODELS)])


def report_steps(models: Sequence[str]) -> int:
    """How many progress messages `build_report` sends."""
    return len(models) + 3 + len(BRIDGE_CASES) + len(PLAN_CASES) + len(_closing_models(models))


def build_report(
    out: Path,
    models: Sequence[str] | None = None,
    progress: Callable[[str], None] | None = None,
    targets: Sequence[str] = EDGE_TARGETS,
    workers: Workers | None = None,
    language_models: Sequence[str] | None = None,
) -> Report:
    """Profile `models` (default: the whole zoo) and estimate them on every built-in platform,
    one runner task a model (on `workers`: this process by default), then recompute the
    trends, decode `language_models` (default: every shipped one) on the edge language-model
    targets, evaluate the bridges and plans, and write it all into `out` at once. A model
    whose task fails twice is left out of the tables and named in `failures`."""
    from plotly.offline import get_plotlyjs

    from edgegap.bridges import evaluate_bridges
    from edgegap.plan import Budget, plan
    from edgegap.plan.search import as_change, published_accuracy, searched
    from edgegap.report import generative
    from edgegap.trends import compute_trends
    from edgegap.trends.figures import GENERATIVE_FIGURE, plotly_figures, write_figures

    def step(message: str) -> None:
        if progress is not None:
            progress(message)

    workloads: dict[tuple[str, str | None], Workload] = {}

    def workload_of(name: str, dtype: str | None = None) -> Workload:
        """Each model profiled once per dtype for the whole report."""
        if (name, dtype) not in workloads:
            workloads[name, dtype] = profile(name, dtype=dtype)
        return workloads[name, dtype]

    names = list(models) if models is not None else list(zoo.classification_models())
    platforms = list(builtin_names())
    reported = 0

    def profiled(done: int, total: int) -> None:
        nonlocal reported
        for _ in range(done - reported):  # one message a model, as report_steps counts
            step(f"profiled {done} of {total} models")
        reported = done

    tasks = [Task({"model": name, "platforms": platforms}) for name in names]
    record: dict[str, Any] | None = None
    failures: list[Outcome] = []
    # the output path is checked before the models are profiled, not after
    with contextlib.suppress(_NoModel), atomic.directory(out) as staging:
        outcomes = run_tasks(model_part, tasks, workers=workers, progress=profiled)
        failures = [outcome for outcome in outcomes if outcome.result is None]
        names = [o.task.input["model"] for o in outcomes if o.result is not None]
        if not names:
            raise _NoModel  # a report of no model is not written: the one there stays
        metadata = published.zoo_table().set_index("model")
        rows, edge = [], []
        (staging / "layers").mkdir()
        for outcome in outcomes:
            if outcome.result is None:
                continue
            name, part = outcome.task.input["model"], outcome.result
            (staging / "layers" / f"{name}.csv").write_text(part["layers"], encoding="utf-8",
                                                             newline="")  # fmt: skip
            row = part["row"]
            if name in metadata.index:
                meta = metadata.loc[name]
                row = row | {
                    "published_gmacs": meta["gmacs"],
                    "published_params": meta["params"],
                    "acc1": meta["acc1"],
                    "acc5": meta["acc5"],
                    "source": meta["source"],
                }
            rows.append(row)
            edge += part["edge"]
        table = pd.DataFrame(rows)
        table.to_csv(staging / "models.csv", index=False)
        (staging / "models.json").write_text(table.to_json(orient="records", indent=1))
        edge_table = pd.DataFrame(edge)
        flat = edge_table.assign(reasons=edge_table["reasons"].str.join("; "))
        flat.to_csv(staging / "edge.csv", index=False)
        step("trends")
        trends = compute_trends()
        (staging / "trends").mkdir()
        write_figures(trends, staging / "trends")
        (staging / "trends" / "trends.json").write_text(
            json.dumps(trends.to_dict(), indent=1, allow_nan=False) + "\n"
        )
        step("generative: decode tokens/s of the edge language models")
        decode = {
            "figure": GENERATIVE_FIGURE,
            "context": generative.CONTEXT,
            "weights": generative.WEIGHTS,
            "kv_cache": generative.KV_CACHE,
            "targets": list(generative.TARGETS),
            "rows": generative.decode_verdicts(models=language_models),
        }
        bridges = []
        for model, target in BRIDGE_CASES:
            step(f"bridges: {model} on {target}")
            platform = load_platform(target)
            workload = workload_of(model, deployment_precision(platform))
            bridges.append(
                evaluate_bridges(workload, platform).to_dict()
                | {"precision": deployment_precision(platform)}
            )
        plan_records = []
        for model, target, latency_ms, fps, change in PLAN_CASES:
            step(f"plan: {model} on {target} in {latency_ms:g} ms at {fps:g} frames/s")
            platform = load_platform(target)
            result = plan(
                model,
                workload_of(model, deployment_precision(platform)),
                platform,
                Budget(latency_s=latency_ms / 1e3, fps=fps),
                change=as_change(change),
            )
            plan_records.append(result.to_dict())
        closing = []
        closing_budget = Budget(latency_s=1 / REAL_TIME_FPS, fps=REAL_TIME_FPS)
        for model in _closing_models(names):
            step(f"plans for {model} at {REAL_TIME_FPS:g} frames/s")
            for target in targets:
                platform = load_platform(target)
                workload = workload_of(model, deployment_precision(platform))
                result = plan(model, workload, platform, closing_budget,
                              change=as_change(CLOSING_CHANGE))  # fmt: skip
                closing.append(
                    {
                        "model": model,
                        "platform": target,
                        "precision": result.precision.name,
                        "baseline_latency_s": result.baseline.latency_s,
                        "meets_budget": result.meets_budget,
                        "latency_s": result.recipe.point.latency_s,
                        "energy_j": result.recipe.point.energy_j,
                        "power_w": result.recipe.point.power_w,
                        "memory_bytes": result.recipe.point.memory_bytes,
                        "accuracy_drop_pp": result.recipe.accuracy_drop_pp,
                        "recipe": result.recipe.describe(),
                        "budget": result.budget.to_dict(),
                        "budgets": [check.text for check in result.checks()],
                        "unmet": result.unmet,
                    }
                )
        layer_view = LAYER_VIEW_MODEL if LAYER_VIEW_MODEL in names else names[0]
        record = _clean(
            {
                "machine": machine(),
                "models": _records(table),
                "layers": {"model": layer_view,
                           "rows": _records(pd.read_csv(staging / "layers" / f"{layer_view}.csv"))},
                "edge": _records(edge_table),
                "trends": trends.to_dict(),
                "generative": decode,
                "bridges": bridges,
                "plans": plan_records,
                "closing": {"fps": REAL_TIME_FPS, "rows": closing,
                            "budget": closing_budget.to_dict(), "change": CLOSING_CHANGE,
                            "searched": list(searched(as_change(CLOSING_CHANGE)))},
                "verdict": {"models": _closing_models(names), "targets": list(targets),
                            "fps": REAL_TIME_FPS},
                "real_time_fps": REAL_TIME_FPS,
                "intervals": intervals(),
                "sources": _sources(trends.tables),
                "published_accuracy": _records(published_accuracy()),
            }
        )  # fmt: skip
        step("writing index.html")
        (staging / "report.json").write_text(
            json.dumps(record, indent=1, sort_keys=True, allow_nan=False) + "\n"
        )
        (staging / "plotly.min.js").write_text(get_plotlyjs(), encoding="utf-8")
        figures = plotly_figures(trends)
        (staging / "index.html").write_text(render(record, figures), encoding="utf-8")
    return Report(record, failures)


class _NoModel(Exception):
    """Every model's task failed: the report is abandoned, its staging removed."""


def _sources(tables: dict[str, pd.DataFrame]) -> list[dict[str, Any]]:
    """Every data row the trends use, with the source it cites."""
    rows = []
    for name, frame in sorted(tables.items()):
        source_columns = [c for c in frame.columns if c.endswith("source")]
        for _, row in frame.iterrows():
            cited = "; ".join(str(row[c]) for c in source_columns if pd.notna(row[c]))
            rows.append({"table": name, "name": str(row.get("name", "")), "source": cited})
    return rows
