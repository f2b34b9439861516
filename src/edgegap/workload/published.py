"""What torchvision publishes for each built-in model's DEFAULT weights, shipped as a table.

`data/zoo.csv` is generated from the installed torchvision (`python -m edgegap.workload.zoo
--write`; `tests/test_torchvision_zoo.py` regenerates it and fails if the shipped file
differs), so that listing the zoo needs neither torch nor torchvision. `COLUMNS` says where
in torchvision each column comes from.
"""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

SHIPPED = Path(__file__).parent / "data" / "zoo.csv"

# column -> its source in torchvision (`weights` is `get_model_weights(model).DEFAULT`)
COLUMNS: dict[str, str] = {
    "model": "torchvision.models.list_models(module=torchvision.models)",
    "weights": "str(weights)",
    "input_size": "weights.transforms crop_size (the input is 1 x 3 x size x size)",
    "params": "weights.meta['num_params']",
    "gmacs": "weights.meta['_ops'] (GMACs, rounded to three decimals by torchvision)",
    "acc1": "weights.meta['_metrics']['ImageNet-1K']['acc@1'] (%)",
    "acc5": "weights.meta['_metrics']['ImageNet-1K']['acc@5'] (%)",
    "source": "weights.meta['recipe'] (the training recipe the numbers come from)",
}


@dataclass(frozen=True)
class ZooModel:
    """One built-in model and the metadata of its DEFAULT weights, as `COLUMNS` describes."""

    model: str
    weights: str
    input_size: int
    params: int
    gmacs: float
    acc1: float
    acc5: float
    source: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def to_csv(models: tuple[ZooModel, ...] | list[ZooModel]) -> str:
    """The table as CSV text, in the form `data/zoo.csv` ships in."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for model in models:
        writer.writerow(getattr(model, column) for column in COLUMNS)
    return buffer.getvalue()


def _parse(row: dict[str, str]) -> ZooModel:
    return ZooModel(
        model=row["model"],
        weights=row["weights"],
        input_size=int(row["input_size"]),
        params=int(row["params"]),
        gmacs=float(row["gmacs"]),
        acc1=float(row["acc1"]),
        acc5=float(row["acc5"]),
        source=row["source"],
    )


@cache
def zoo_models() -> tuple[ZooModel, ...]:
    """Every built-in model (torchvision's image classifiers), in torchvision's order."""
    text = SHIPPED.read_text(encoding="utf-8")
    return tuple(_parse(row) for row in csv.DictReader(io.StringIO(text)))


def zoo_table() -> pd.DataFrame:
    """`zoo_models()` as a DataFrame, one row per model."""
    import pandas as pd

    return pd.DataFrame([model.to_dict() for model in zoo_models()], columns=list(COLUMNS))
