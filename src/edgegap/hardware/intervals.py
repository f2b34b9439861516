"""How far off an estimate may be: measured / predicted ratios of the validation rows
(`data/residuals.csv`, written by the benchmarks) of the platform's class, as an interval of
multipliers of the estimate.

Why ratios of a class and not an error bar of the model: the cost model is deterministic,
and what it leaves out (clock trees, compilers, DRAM refresh, the host link) shows only
against measurements. A platform borrows its class's record:

1. its own held-out rows, when it has at least `MIN_OWN_HELD_OUT` of them (one is enough for
   a calibrated platform, whose rows describe that very machine better than any other chip);
2. else the held-out rows of every platform of its `kind`;
3. only where no held-out row exists: its own in-sample rows, else its kind's, and the basis
   says "in-sample only" (rows the catalog may have been set from flatter the model).

From `PERCENTILE_ROWS` rows up the interval is the 10th to 90th percentile of the ratios
(level "80%"); below that too few rows make a percentile a guess, so it is their min..max
(level "min-max"). No row at all: no interval (None), shown as "not validated".
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

import numpy as np

from edgegap.errors import UserError
from edgegap.hardware.platform import Platform

if TYPE_CHECKING:
    from edgegap.hardware.cost import Cost

RESIDUALS = resources.files("edgegap.hardware") / "data" / "residuals.csv"
HEADER = (
    "benchmark", "platform", "kind", "case", "quantity", "split", "predicted", "measured",
    "unit", "source",
)  # fmt: skip
Quantity = Literal["latency", "power"]
Split = Literal["in-sample", "held-out"]
UNITS: dict[str, str] = {"latency": "s", "power": "W"}  # latency: seconds per inference
SPLITS: tuple[Split, ...] = get_args(Split)
KINDS: tuple[str, ...] = get_args(Platform.model_fields["kind"].annotation)
PERCENTILE_ROWS = 10  # from this many rows up, the 10th-90th percentile; below, min..max
PERCENTILES = (10.0, 90.0)
MIN_OWN_HELD_OUT = 3  # held-out rows of the platform itself before they replace its kind's


@dataclass(frozen=True)
class Residual:
    """One measured-vs-predicted row, with where it is in the file."""

    benchmark: str
    platform: str
    kind: str
    case: str
    quantity: str
    split: Split
    predicted: float
    measured: float
    unit: str
    source: str
    line: int

    @property
    def ratio(self) -> float:
        """Measured over predicted: the multiplier that turns the estimate into the truth."""
        return self.measured / self.predicted


@dataclass(frozen=True)
class Interval:
    """Where the measured value is expected, as multipliers `low`..`high` of an estimate;
    `level` "80%" (10th-90th percentile of `n` ratios) or "min-max" (fewer rows); `basis`
    says which rows, `split` whether they were held out."""

    low: float
    high: float
    level: str
    basis: str
    n: int
    split: Split

    def apply(self, value: float) -> tuple[float, float]:
        """The interval around an estimate, in its units: (low, high)."""
        return value * self.low, value * self.high

    def to_dict(self) -> dict[str, Any]:
        return {"low_factor": self.low, "high_factor": self.high, "level": self.level,
                "basis": self.basis, "n": self.n, "split": self.split}  # fmt: skip

    @property
    def text(self) -> str:
        """ "x0.96-x1.04, min-max of in-sample only, 2 rows of eyeriss" (one multiplier where
        both read the same)."""
        low, high = f"x{self.low:.3g}", f"x{self.high:.3g}"
        return f"{low if low == high else f'{low}-{high}'}, {self.level} of {self.basis}"


def _number(text: str, column: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise UserError(f"{where}: {column} '{text[:40]}' is not a number") from None
    if not (math.isfinite(value) and value > 0):
        raise UserError(f"{where}: {column} must be a finite positive number, not {text[:40]}")
    return value


def parse_residuals(text: str, origin: str) -> tuple[Residual, ...]:
    """The rows of a residuals CSV, each checked; a bad one is a `UserError` naming
    `origin` and its line."""
    reader = csv.reader(text.splitlines())
    try:
        header = next(reader, None)
        if header is None or tuple(name.strip() for name in header) != HEADER:
            raise UserError(f"{origin}:1: the header must be {','.join(HEADER)}")
        rows = []
        for values in reader:
            where = f"{origin}:{reader.line_num}"
            if not any(value.strip() for value in values):
                continue
            if len(values) != len(HEADER):
                raise UserError(f"{where}: {len(values)} fields, expected {len(HEADER)}")
            row = dict(zip(HEADER, (value.strip() for value in values), strict=True))
            empty = [name for name in HEADER if not row[name]]
            if empty:
                raise UserError(f"{where}: empty {', '.join(empty)}")
            if row["quantity"] not in UNITS:
                raise UserError(f"{where}: quantity '{row['quantity'][:40]}': use latency or power")
            if row["unit"] != UNITS[row["quantity"]]:
                raise UserError(
                    f"{where}: {row['quantity']} is in {UNITS[row['quantity']]}, "
                    f"not '{row['unit'][:40]}'"
                )
            if row["split"] not in SPLITS:
                raise UserError(f"{where}: split '{row['split'][:40]}': use in-sample or held-out")
            if row["kind"] not in KINDS:
                raise UserError(f"{where}: kind '{row['kind'][:40]}': use {', '.join(KINDS)}")
            predicted = _number(row["predicted"], "predicted", where)
            measured = _number(row["measured"], "measured", where)
            rows.append(
                Residual(row["benchmark"], row["platform"], row["kind"], row["case"],
                         row["quantity"], row["split"], predicted, measured, row["unit"],
                         row["source"], reader.line_num)
            )  # fmt: skip
    except csv.Error as error:
        raise UserError(f"{origin}:{reader.line_num}: malformed CSV ({error})") from None
    return tuple(rows)


@cache
def residuals(path: Path | None = None) -> tuple[Residual, ...]:
    """The validation rows, read and checked once: `path`, or the package's residuals.csv
    (none where the file is absent: every estimate is then "not validated")."""
    source = RESIDUALS if path is None else path
    try:
        text = source.read_text(encoding="utf-8")
    except FileNotFoundError:
        if path is None:
            return ()
        raise UserError(f"cannot read residuals {path}: no such file") from None
    except OSError as error:
        raise UserError(f"cannot read residuals {source}: {error.strerror or error}") from None
    except UnicodeDecodeError as error:
        raise UserError(f"{source}: not a UTF-8 text file (byte {error.start})") from None
    return parse_residuals(text, str(source))


def ratio_interval(ratios: Sequence[float]) -> tuple[float, float, str]:
    """(low, high, level) of measured / predicted ratios: the 10th-90th percentile from
    `PERCENTILE_ROWS` ratios up, else their min..max."""
    if not ratios:
        raise ValueError("no ratios: no interval")
    values = np.asarray(ratios, dtype=float)
    if len(values) < PERCENTILE_ROWS:
        return float(values.min()), float(values.max()), "min-max"
    low, high = np.percentile(values, PERCENTILES)
    return float(low), float(high), f"{PERCENTILES[1] - PERCENTILES[0]:g}%"


def _rows(count: int) -> str:
    return f"{count} row" if count == 1 else f"{count} rows"


def class_rows(
    rows: Sequence[Residual], name: str, kind: str, quantity: str, calibrated: bool = False
) -> tuple[list[Residual], Split, str]:
    """The rows an estimate on platform `name` of `kind` borrows (the module's rule), their
    split, and whose they are ("eyeriss", "kind npu"); no rows: an empty list."""
    rows = [row for row in rows if row.quantity == quantity]
    own_minimum = 1 if calibrated else MIN_OWN_HELD_OUT
    for split in SPLITS[::-1]:  # held-out first
        own = [row for row in rows if row.split == split and row.platform == name]
        kin = [row for row in rows if row.split == split and row.kind == kind]
        if split == "held-out" and len(own) >= own_minimum:
            return own, split, name
        if split == "held-out" and kin:
            return kin, split, f"kind {kind}"
        if split == "in-sample" and own:
            return own, split, name
        if split == "in-sample" and kin:
            return kin, split, f"kind {kind}"
    return [], "held-out", ""


def interval_for(
    platform: Platform, quantity: Quantity = "latency", path: Path | None = None
) -> Interval | None:
    """The interval of `quantity` estimates on `platform` from its class's rows (`path`, or
    the package's residuals.csv); None where no row is of its name or kind."""
    calibrated = getattr(platform, "calibration", None) is not None
    found, split, whose = class_rows(
        residuals(path), platform.name, platform.kind, quantity, calibrated
    )
    if not found:
        return None
    low, high, level = ratio_interval([row.ratio for row in found])
    words = "held-out" if split == "held-out" else "in-sample only"
    return Interval(low, high, level, f"{words}, {_rows(len(found))} of {whose}", len(found),
                    split)  # fmt: skip


def latency_interval(cost: Cost, platform: Platform) -> Interval | None:
    """The interval of `cost`'s latency, from the validation rows of `platform`'s class."""
    if cost.platform != platform.name:
        raise ValueError(f"a cost on {cost.platform} with the platform {platform.name}")
    return interval_for(platform, "latency")


def latency_bounds(cost: Cost, platform: Platform) -> tuple[float, float] | None:
    """(low_s, high_s) around `cost`'s latency per run; None where not validated."""
    interval = latency_interval(cost, platform)
    return None if interval is None else interval.apply(cost.totals.latency_s)


def interval_record(interval: Interval | None, latency_s: float) -> dict[str, Any] | None:
    """The JSON form: the range in seconds, the multipliers, level, basis and n; None where
    not validated."""
    if interval is None:
        return None
    low_s, high_s = interval.apply(latency_s)
    return {"low_s": low_s, "high_s": high_s} | interval.to_dict()


def not_validated(platform: Platform) -> str:
    """Why a platform has no interval, in words."""
    return f"not validated: no residual rows of {platform.name} or of kind {platform.kind}"
