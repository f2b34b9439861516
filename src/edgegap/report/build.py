"""The main job's report, written atomically into one directory:

- `models.csv`, `models.json`: the built-in models profiled, beside what torchvision publishes
  (`_ops`, `num_params`, accuracy); `layers/MODEL.csv`: their per-layer workloads;
- `edge.csv`: each model on each built-in platform at int8 (or the platform's nearest
  precision): latency, energy per inference, average power, whether it fits the power budget,
  sustains 30 frames/s, and whether its weights fit the platform's outermost memory;
- `trends/`: the paper's Figures 1-4 and the outlook figure (PNG, HTML) and `trends.json`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from edgegap import atomic
from edgegap.hardware import builtin_names, estimate, load_platform
from edgegap.workload import Workload, profile, zoo

REAL_TIME_FPS = 30.0
QUICK_MODELS = ("alexnet", "vgg16", "resnet50", "mobilenet_v2", "efficientnet_b0", "vit_b_16")


def summary_row(workload: Workload) -> dict[str, object]:
    return {
        "model": workload.model,
        "input_shape": "x".join(map(str, workload.input_shape)),
        **workload.totals.to_dict(),
    }


def edge_rows(workload: Workload) -> list[dict[str, object]]:
    rows = []
    weight_bytes = workload.totals.weight_bytes
    for name in builtin_names():
        platform = load_platform(name)
        totals = estimate(workload, platform).totals
        capacity = platform.memory[-1].size_bytes  # None: off-chip DRAM, taken as large enough
        rows.append(
            {
                "model": workload.model,
                "platform": name,
                "latency_ms": totals.latency_s * 1e3,
                "energy_mj": totals.energy_j * 1e3,
                "power_w": totals.power_w,
                "fits_power_budget": totals.fits_power_budget,
                "real_time": totals.throughput_per_s >= REAL_TIME_FPS,
                "weights_mb": weight_bytes / 1e6,
                "weights_fit": capacity is None or weight_bytes <= capacity,
            }
        )
    return rows


def build_report(
    out: Path,
    models: Sequence[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """Profile `models` (default: the whole zoo), estimate them on every built-in platform,
    recompute the trends, and write it all into `out` at once. Returns the models table."""
    from edgegap.trends import compute_trends
    from edgegap.trends.figures import write_figures

    names = list(models) if models is not None else list(zoo.classification_models())
    published = zoo.zoo_table().set_index("model")
    rows, edge = [], []
    with atomic.directory(out) as staging:
        (staging / "layers").mkdir()
        for name in names:
            if progress is not None:
                progress(name)
            workload = profile(name)
            workload.to_dataframe().to_csv(staging / "layers" / f"{name}.csv")
            row = summary_row(workload)
            if name in published.index:
                meta = published.loc[name]
                row |= {
                    "published_gmacs": meta["gmacs"],
                    "published_params": meta["params"],
                    "acc1": meta["acc1"],
                    "acc5": meta["acc5"],
                    "source": meta["source"],
                }
            rows.append(row)
            edge += edge_rows(profile(name, dtype="int8"))
        table = pd.DataFrame(rows)
        table.to_csv(staging / "models.csv", index=False)
        (staging / "models.json").write_text(table.to_json(orient="records", indent=1))
        pd.DataFrame(edge).to_csv(staging / "edge.csv", index=False)
        trends = compute_trends()
        (staging / "trends").mkdir()
        write_figures(trends, staging / "trends", until=2030)
        (staging / "trends" / "trends.json").write_text(
            json.dumps(trends.to_dict(), indent=1, allow_nan=False) + "\n"
        )
    return table
