"""The demand side of the report: every built-in model profiled, next to what its authors
published."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from edgegap import atomic
from edgegap.workload import Workload, profile, zoo


def summary_row(workload: Workload) -> dict[str, object]:
    totals = workload.totals
    return {
        "model": workload.model,
        "input_shape": "x".join(map(str, workload.input_shape)),
        **totals.to_dict(),
    }


def build_zoo_report(
    out: Path,
    models: Sequence[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """Profile `models` (default: the whole zoo) and write, atomically, into `out`:
    `models.csv` and `models.json` (totals beside torchvision's published `_ops` and
    `num_params`) and `layers/MODEL.csv` (per-layer workloads)."""
    names = list(models) if models is not None else list(zoo.classification_models())
    published = zoo.zoo_table().set_index("model")
    rows = []
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
                row["published_gmacs"] = meta["gmacs"]
                row["published_params"] = meta["params"]
                row["acc1"] = meta["acc1"]
                row["acc5"] = meta["acc5"]
                row["source"] = meta["source"]
            rows.append(row)
        table = pd.DataFrame(rows)
        table.to_csv(staging / "models.csv", index=False)
        (staging / "models.json").write_text(table.to_json(orient="records", indent=1))
    return table
