"""Language-model decode on edge devices, estimated by edgegap and compared with published
measurements (issue 16): writes docs/generative.md.

The rows are `benchmarks/data/llm-decode-published.csv`, split into in-sample and held-out
rows before any estimate (the rule in `llm-decode-published.md`); how each row is estimated
was declared there too, before any estimate ("Estimation set-up"). Per row: the row's model
(`llm-decode-models.csv`) profiled as one decode step at the row's mean context on the meta
device, its weights and KV cache in the row's formats (`llm-decode-setup.csv`), estimated on
the row's catalog platform; tokens/s = 1 / latency. Beside it the naive estimate the
calculators make: stored weight bytes / the datasheet's peak bandwidth.

Rules 2 and 3 (declared in `llm-decode-published.md`, each after the held-out sets before
it were seen): every row whose error had been seen is a training row, and each catalog device
gets two numbers from its training rows, a sustained off-chip bandwidth and a fixed time per
layer the runtime spends (`fit_device`; a device whose rows do not span sizes borrows the
fixed time of its compute unit, `device_numbers`). Rule 3 is rule 2's procedure with the third
set among the training rows. The benchmark derives these numbers, checks the catalog carries
them (and stops, printing what differs, if not), reports each training row's error when it
is left out of its device's fit, then compares the fourth held-out set (`held_out_4`),
gathered and declared after rule 3 and before any estimate of its rows.

Counts and arithmetic only, no timing: the same on any machine.

    .venv/bin/python benchmarks/generative.py
"""

from __future__ import annotations

import csv
import math
import re
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from docs_section import write_section
from scipy.optimize import brentq

from edgegap.hardware import Platform, estimate, load_platform
from edgegap.hardware.platform import VectorCompute
from edgegap.report.generative import decode_step

DATA = Path(__file__).resolve().parent / "data"
DOC = Path(__file__).resolve().parent.parent / "docs" / "generative.md"
HEADING = "## Published decode throughput on edge devices (`benchmarks/generative.py`)"
UNSTATED_PROMPT, UNSTATED_GENERATED = 16, 128  # the declared defaults (llm-decode-published.md)
README = DOC.parent.parent / "README.md"
VERDICT_HEADING = "## Will it run? Edge language models on edge targets"
README_BEFORE = "## Estimating latency and energy on a chip"
SIGNIFICANT = 3  # digits a fitted bandwidth is carried to in the catalog
# The rows whose errors had been seen when rule 3 was declared (2026-12-04): they set the
# catalog's numbers by rule 2's procedure. The fourth set was gathered and declared after it,
# before any estimate.
TRAINING = ("in_sample", "held_out", "held_out_2", "held_out_3")
HELD_OUT = {"held_out_4": "fourth held-out set"}
# Rule 2's fixed times per layer to choose from: none, or 60 log-spaced from 10 ns to 100 us.
FIXED_GRID = (0.0, *(float(f) for f in np.geomspace(1e-8, 1e-4, 60)))
SIZE_SPREAD = 1.25  # a device's rows tell a fixed time from a bandwidth if bytes span this
UNBOUNDED_GB_S = 1e7  # an off-chip rate that bounds no layer: what is left is the rest

# The catalog platform of each `catalog_device` of the published rows.
PLATFORMS = {
    "apple-m1-8gpu": "apple-m1",
    "apple-m2-10gpu": "apple-m2",
    "apple-m3pro-18gpu": "apple-m3-pro",
    "apple-m4-10gpu": "apple-m4-gpu",
    "apple-m4pro-20gpu": "apple-m4-pro",
    "apple-m4max-40gpu": "apple-m4-max",
    "apple-a15": "apple-a15",
    "jetson-orin-nano-8gb-15w": "jetson-orin-nano",
    "jetson-orin-nano-8gb-super": "orin-nano-super",
    "jetson-agx-orin-gpu": "jetson-agx-orin",
    "jetson-agx-orin-cpu": "agx-orin-cpu",
    "igx-orin-igpu": "igx-orin",
    "raspberry-pi-5": "raspberry-pi-5",
    "raspberry-pi-500-plus": "pi-500-plus",
    "snapdragon-8gen3-cpu": "snapdragon-8g3-cpu",
    "snapdragon-x-elite-npu": "snapdragon-x-elite",
}


def _table(path: Path, key: str) -> dict[str, dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return {row[key]: row for row in csv.DictReader(handle)}


def _tokens(cell: str, unstated: int) -> int:
    """The first number of a length cell ("9", "about 6 (...)", "1024 (per ...)"), or the
    declared default where the cell states none."""
    found = re.search(r"\d+", cell)
    return int(found[0]) if found and not cell.startswith("not stated") else unstated


@dataclass(frozen=True)
class Row:
    """One published measurement, with what the declared set-up makes of it."""

    row_id: str
    device: str
    kind: str
    unit: str
    model: str
    spec: str
    weights: str
    kv_cache: str
    context: int
    measured: float
    split: str
    source: str

    @property
    def platform(self) -> str:
        return PLATFORMS[self.device]


def rows() -> list[Row]:
    """The published rows that are not excluded, read with the declared set-up."""
    setup = _table(DATA / "llm-decode-setup.csv", "precision")
    models = _table(DATA / "llm-decode-models.csv", "model")
    read = []
    for cell in _table(DATA / "llm-decode-published.csv", "row_id").values():
        if cell["split"] == "excluded":
            continue
        prompt = _tokens(cell["prompt_tokens"], UNSTATED_PROMPT)
        generated = _tokens(cell["generated_tokens"], UNSTATED_GENERATED)
        stated = cell["compute_unit"].upper()  # "CPU (...; 'No GPU detected')" is a CPU
        unit = min((stated.find(u), u) for u in ("GPU", "CPU", "NPU") if u in stated)[1]
        read.append(
            Row(
                row_id=cell["row_id"],
                device=cell["catalog_device"],
                kind=cell["device_kind"],
                unit=unit,
                model=cell["model"],
                spec=models[cell["model"]]["spec"],
                weights=setup[cell["precision"]]["weights"],
                kv_cache=setup[cell["precision"]]["kv_cache"],
                context=prompt + generated // 2,
                measured=float(cell["decode_tok_s"]),
                split=cell["split"],
                source=cell["source_url"],
            )
        )
    return read


def offchip(platform: Platform) -> tuple[float, float]:
    """The off-chip level's sustained bandwidth and the datasheet peak (GB/s)."""
    level = platform.level("offchip")
    assert level is not None and level.bandwidth_gb_s is not None, platform.name
    return level.bandwidth_gb_s, level.peak_bandwidth_gb_s or level.bandwidth_gb_s


def fixed_s(platform: Platform) -> float:
    """The catalog's fixed seconds per layer (a runtime's launch of it)."""
    assert isinstance(platform.compute, VectorCompute), platform.name
    return platform.compute.fixed_s_per_layer


@dataclass(frozen=True)
class Timed:
    """A row's decode step on its catalog platform, as the cost model times it, apart from
    the two numbers the rule fits: each layer's time with off-chip memory infinitely fast (its
    compute and on-chip levels) and its off-chip bytes. At a sustained bandwidth B and a
    fixed time F per layer the step takes sum(max(compute, bytes / B)) + layers x F, which is
    what `estimate` gives on the platform carrying B and F (`check_timed`)."""

    row: Row
    peak_gb_s: float
    compute_s: np.ndarray
    offchip_bytes: np.ndarray

    @classmethod
    def of(cls, row: Row) -> Timed:
        platform = load_platform(row.platform)
        unbounded = with_numbers(platform, UNBOUNDED_GB_S, 0.0)
        cost = estimate(decode_step(row.spec, row.context, row.weights, row.kv_cache), unbounded)
        name = unbounded.level("offchip").name  # type: ignore[union-attr]
        return cls(
            row=row,
            peak_gb_s=offchip(platform)[1],
            compute_s=np.array([layer.latency_s for layer in cost.layers]),
            offchip_bytes=np.array([layer.traffic_bytes[name] for layer in cost.layers], float),
        )

    def tokens_per_s(self, gb_s: float, fixed: float) -> float:
        memory = self.offchip_bytes / (gb_s * 1e9)
        return 1 / float(np.maximum(self.compute_s, memory).sum() + len(self.compute_s) * fixed)

    def log_error(self, gb_s: float, fixed: float) -> float:
        return math.log(self.tokens_per_s(gb_s, fixed) / self.row.measured)

    def fitted_bandwidth(self, fixed: float) -> float:
        """The sustained bandwidth (GB/s) at which the estimate is the measured tokens/s
        with `fixed` seconds per layer; a thousandth of the peak or ten times it at most."""
        low, high = math.log(self.peak_gb_s * 1e-3), math.log(self.peak_gb_s * 10)
        excess = lambda log_gb_s: self.log_error(math.exp(log_gb_s), fixed)  # noqa: E731
        if excess(high) < 0 or excess(low) > 0:
            return math.exp(high if excess(high) < 0 else low)
        return math.exp(brentq(excess, low, high, xtol=1e-9))


def with_numbers(platform: Platform, gb_s: float, fixed: float) -> Platform:
    """`platform` whose off-chip level sustains `gb_s` (its peak kept as the peak) and whose
    runtime spends `fixed` seconds per layer."""
    peak = offchip(platform)[1]
    memory = [
        level.model_copy(update={"bandwidth_gb_s": gb_s, "peak_bandwidth_gb_s": max(peak, gb_s)})
        if level.role == "offchip" else level
        for level in platform.memory
    ]  # fmt: skip
    compute = platform.compute.model_copy(update={"fixed_s_per_layer": fixed})
    return platform.model_copy(update={"memory": memory, "compute": compute})


def rounded(value: float) -> float:
    return float(f"{value:.{SIGNIFICANT}g}")


def _log_median(values: list[float]) -> float:
    return math.exp(statistics.median(math.log(v) for v in values))


def fit_device(timed: list[Timed], grid: tuple[float, ...]) -> tuple[float, float]:
    """A device's (sustained GB/s, fixed seconds per layer) from its rows: at each fixed
    time of `grid`, the bandwidth is the median of the rows' fitted ones (the peak at most);
    the pair whose estimates miss the rows least (sum of |log error|) is kept, the first of
    equals."""
    peak = timed[0].peak_gb_s
    best: tuple[float, float, float] | None = None
    for fixed in grid:
        gb_s = min(peak, _log_median([t.fitted_bandwidth(fixed) for t in timed]))
        loss = sum(abs(t.log_error(gb_s, fixed)) for t in timed)
        if best is None or loss < best[0]:
            best = (loss, gb_s, fixed)
    assert best is not None
    return best[1], best[2]


def spans_sizes(timed: list[Timed]) -> bool:
    """Whether a device's rows move different amounts enough to tell a fixed time per layer
    from a bandwidth: the largest step's off-chip bytes at least SIZE_SPREAD x the smallest."""
    sizes = [float(t.offchip_bytes.sum()) for t in timed]
    return max(sizes) >= SIZE_SPREAD * min(sizes)


Numbers = dict[str, tuple[float, float, str]]  # device -> (GB/s, s per layer, how it was set)


def device_numbers(training: list[Timed], devices: dict[str, tuple[str, float]],
                   grid: tuple[float, ...] = FIXED_GRID) -> Numbers:  # fmt: skip
    """Rules 2 and 3 (llm-decode-published.md): every catalog device of `devices` (device ->
    (compute unit, peak GB/s)) gets a sustained bandwidth and a fixed time per layer. A
    device whose training rows span sizes fits both (`fit_device`); another takes its
    compute unit's median fixed time (every fitted device's where its unit has none) and the
    median bandwidth its rows fit at it, or without rows the unit's median fraction of
    peak."""
    by_device: dict[str, list[Timed]] = {}
    for t in training:
        by_device.setdefault(t.row.device, []).append(t)
    numbers: Numbers = {}
    per_unit: dict[str, list[tuple[float, float]]] = {}
    for device, timed in sorted(by_device.items()):
        if spans_sizes(timed):
            gb_s, fixed = fit_device(timed, grid)
            numbers[device] = (gb_s, fixed, f"fitted on its {len(timed)} rows")
            per_unit.setdefault(devices[device][0], []).append((gb_s / timed[0].peak_gb_s, fixed))
    every = [pair for pairs in per_unit.values() for pair in pairs]
    for device, (unit, peak) in sorted(devices.items()):
        if device in numbers:
            continue
        pairs, whose = (
            (per_unit[unit], f"{unit} devices")
            if unit in per_unit
            else (every, "devices of every unit")
        )
        fixed = statistics.median(f for _, f in pairs)
        timed = by_device.get(device, [])
        if timed:
            gb_s = min(peak, _log_median([t.fitted_bandwidth(fixed) for t in timed]))
            how = (
                f"the bandwidth its {len(timed)} row(s) fit at the median fixed time of "
                f"fitted {whose}"
            )
        else:
            gb_s = peak * statistics.median(f for f, _ in pairs)
            how = f"peak x the median fraction of fitted {whose}"
        numbers[device] = (gb_s, fixed, how)
    return {device: (min(rounded(g), devices[device][1]), rounded(f), how)
            for device, (g, f, how) in numbers.items()}  # fmt: skip


def leave_one_out(training: list[Timed], devices: dict[str, tuple[str, float]],
                  grid: tuple[float, ...]) -> list[float]:  # fmt: skip
    """Each training row's error when the rule sets its device's numbers without it."""
    errors = []
    for i, t in enumerate(training):
        gb_s, fixed, _ = device_numbers(training[:i] + training[i + 1 :], devices, grid)[
            t.row.device
        ]
        errors.append(t.tokens_per_s(gb_s, fixed) / t.row.measured - 1)
    return errors


def catalog_differences(numbers: Numbers) -> list[str]:
    """Where the catalog's sustained bandwidth or fixed time per layer is not the rule's."""
    lines = []
    for device, (gb_s, fixed, _) in sorted(numbers.items()):
        platform = load_platform(PLATFORMS[device])
        for name, carried, ruled in (
            ("off-chip bandwidth_gb_s", offchip(platform)[0], gb_s),
            ("compute fixed_s_per_layer", fixed_s(platform), fixed),
        ):
            if not math.isclose(carried, ruled, rel_tol=1e-9, abs_tol=1e-15):
                lines.append(f"{PLATFORMS[device]}: the catalog's {name} is {carried:g}, the "
                             f"rule gives {ruled:g}")  # fmt: skip
    return lines


def naive(row: Row) -> float:
    """Tokens/s as the calculators estimate them: stored weight bytes / peak bandwidth."""
    workload = decode_step(row.spec, row.context, row.weights, row.kv_cache)
    peak = offchip(load_platform(row.platform))[1]
    return peak * 1e9 / workload.totals.stored_weight_bytes


def error(estimated: float, measured: float) -> float:
    return estimated / measured - 1


def _pct(value: float) -> str:
    return f"{value * 100:+.0f}%"


def median_abs(errors: list[float]) -> str:
    return f"{statistics.median(abs(e) for e in errors) * 100:.0f}%" if errors else "-"


Result = tuple[Row, float, float]  # a row, edgegap's tokens/s, the naive tokens/s


def estimated(chosen: list[Row]) -> list[Result]:
    """Each row with edgegap's estimate on its catalog platform and the naive one."""
    results = []
    for row in chosen:
        workload = decode_step(row.spec, row.context, row.weights, row.kv_cache)
        results.append((row, 1 / estimate(workload, load_platform(row.platform)).totals.latency_s,
                        naive(row)))  # fmt: skip
    return results


def check_timed(results: list[Result], timed: dict[str, Timed], numbers: Numbers) -> None:
    """`Timed`, which the fits use, gives what `estimate` gives on the catalog platform."""
    for row, ours, _ in results:
        gb_s, fixed, _ = numbers[row.device]
        assert math.isclose(timed[row.row_id].tokens_per_s(gb_s, fixed), ours, rel_tol=1e-6), row


def summary_lines(label: str, results: list[Result], by: str = "kind") -> list[str]:
    """The summary table's rows for a set of rows: all of them, then each device kind (or
    each declared split)."""
    groups = sorted({getattr(row, by) for row, _, _ in results})
    lines = []
    for part, chosen in [("all", results)] + [
        (group, [r for r in results if getattr(r[0], by) == group]) for group in groups
    ]:
        ours = [error(o, row.measured) for row, o, _ in chosen]
        theirs = [error(t, row.measured) for row, _, t in chosen]
        lines.append(
            f"| {label} | {part} | {len(chosen)} | {median_abs(ours)} "
            f"| {sum(abs(e) <= 0.25 for e in ours)}/{len(ours)} | {median_abs(theirs)} "
            f"| {sum(abs(e) <= 0.25 for e in theirs)}/{len(theirs)} |"
        )
    return lines


def row_lines(results: list[Result], left_out: dict[str, float] | None = None) -> list[str]:
    """One table line per row: measured, edgegap's estimate and error (and, for a training
    row, its error when left out of the fit), the naive one and its."""
    extra = ("| left out ", "---:|") if left_out is not None else ("", "")
    lines = [
        "| row | split | device (platform) | model | weights | context | measured tok/s "
        f"| edgegap | error {extra[0]}| naive | naive error |",
        f"|---|---|---|---|---|---:|---:|---:|---:|{extra[1]}---:|---:|",
    ]
    for row, ours, theirs in results:
        loo = f"| {_pct(left_out[row.row_id])} " if left_out is not None else ""
        lines.append(
            f"| [{row.row_id}]({row.source}) | {row.split} | {row.platform} | `{row.spec}` "
            f"| {row.weights} | {row.context} | {row.measured:g} | {ours:.1f} "
            f"| {_pct(error(ours, row.measured))} {loo}| {theirs:.1f} "
            f"| {_pct(error(theirs, row.measured))} |"
        )
    return lines


def verdicts() -> str:
    """The README's table: every shipped edge model's decode tokens/s on the edge targets, or
    what does not fit, at the format and context people run them with (computed by
    `edgegap.report.generative`, which the report's table shares)."""
    from edgegap.report.generative import CONTEXT, WEIGHTS, decode_verdicts, markdown_table

    return "\n".join([
        f"Decode tokens/s at batch 1 after {CONTEXT} tokens, weights as llama.cpp's "
        f"{WEIGHTS.upper()} files hold them, KV cache f16, estimated by edgegap on each "
        "target's sustained memory bandwidth and its runtime's fixed time per layer (both "
        "fitted on the target's published decode runs, or taken from like targets, by rule 3 "
        "in [docs/generative.md](docs/generative.md), whose held-out rows show how far to "
        "trust it); \"needs\" where weights, cache and activations exceed the target's "
        "memory. Written by `benchmarks/generative.py`.",
        "",
        markdown_table(decode_verdicts()),
    ])  # fmt: skip


SUMMARY_HEAD = [
    "| rows | part | n | edgegap median abs error | within 25% | naive median abs error "
    "| naive within 25% |",
    "|---|---|---:|---:|---:|---:|---:|",
]


def main() -> None:
    read = rows()
    timed = {row.row_id: Timed.of(row) for row in read}
    devices = {row.device: (row.unit, timed[row.row_id].peak_gb_s) for row in read}
    training = [timed[row.row_id] for row in read if row.split in TRAINING]
    numbers = device_numbers(training, devices)
    differences = catalog_differences(numbers)
    if differences:
        sys.exit("the catalog does not carry rule 3's numbers:\n" + "\n".join(differences))
    fitted = estimated([row for row in read if row.split in TRAINING])
    held = {split: estimated([row for row in read if row.split == split]) for split in HELD_OUT}
    check_timed(fitted + [r for results in held.values() for r in results], timed, numbers)
    left_out = dict(zip([t.row.row_id for t in training],
                        leave_one_out(training, devices, FIXED_GRID), strict=True))  # fmt: skip
    bandwidth_only = leave_one_out(training, devices, (0.0,))
    naive_of = {row.row_id: theirs for row, _, theirs in fitted}
    summary = list(SUMMARY_HEAD)
    for split, label in HELD_OUT.items():
        summary += summary_lines(f"{label}, held out", held[split])
    summary += summary_lines("training rows, each left out of its fit", [
        (t.row, t.row.measured * (1 + left_out[t.row.row_id]), naive_of[t.row.row_id])
        for t in training
    ], by="split")  # fmt: skip
    summary += summary_lines("training rows, left out, bandwidth only (no fixed time)", [
        (t.row, t.row.measured * (1 + e), naive_of[t.row.row_id])
        for t, e in zip(training, bandwidth_only, strict=True)
    ])[:1]  # fmt: skip
    summary += summary_lines("training rows, fitted (in-sample)", fitted, by="split")[:1]
    catalog = [
        "| catalog device | platform | sustained GB/s | peak GB/s | fraction | fixed us per layer "
        "| set by |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for device, (gb_s, fixed, how) in sorted(numbers.items()):
        peak = devices[device][1]
        catalog.append(f"| {device} | {PLATFORMS[device]} | {gb_s:g} | {peak:g} "
                       f"| {gb_s / peak:.2f} | {fixed * 1e6:.3g} | {how} |")  # fmt: skip
    body = "\n".join([
        "Decode tokens/s at batch 1 as published (`benchmarks/data/llm-decode-published.csv`, "
        "each row's source linked), against edgegap's estimate and the naive one (stored "
        "weight bytes / datasheet peak bandwidth). Rule 3 (`benchmarks/data/"
        "llm-decode-published.md`) sets two numbers a device, its sustained bandwidth and a "
        "fixed time per layer the runtime spends, from every row whose error had been seen "
        "(the training rows: the in-sample rows and the first three held-out sets). The fourth "
        "held-out set was gathered and declared after rule 3 and before any estimate of its "
        "rows; it sets nothing. A training row's \"left out\" error is its estimate when its "
        "device's numbers are fitted without it, the error to expect on a new row of a known "
        "device.",
        "",
        *summary,
        "",
        "What rule 3 sets, for each catalog device:",
        "",
        *catalog,
        "",
        *(line for split, label in HELD_OUT.items() if held[split]
          for line in (f"Every row of the {label}:", "", *row_lines(held[split]), "")),
        "Every training row (fitted on; each earlier set's errors under the rule it was held "
        "out from are in the text above):",
        "",
        *row_lines(fitted, left_out),
    ])  # fmt: skip
    print(f"{HEADING}\n\n{body}")
    write_section(HEADING, body, DOC)
    table = verdicts()
    print(f"{VERDICT_HEADING}\n\n{table}")
    write_section(VERDICT_HEADING, table, README, README_BEFORE)


if __name__ == "__main__":
    main()
