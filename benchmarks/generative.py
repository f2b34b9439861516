"""Language-model decode on edge devices, estimated by edgegap and compared with published
measurements (issue 16): writes docs/generative.md.

The rows are `benchmarks/data/llm-decode-published.csv`, split into in-sample and held-out
rows before any estimate (the rule in `llm-decode-published.md`); how each row is estimated
was declared there too, before any estimate ("Estimation set-up"). Per row: the row's model
(`llm-decode-models.csv`) profiled as one decode step at the row's mean context on the meta
device, its weights and KV cache in the row's formats (`llm-decode-setup.csv`), estimated on
the row's catalog platform; tokens/s = 1 / latency. Beside it the naive estimate the
calculators make: stored weight bytes / the datasheet's peak bandwidth.

An in-sample row sets one number, its device's sustained off-chip bandwidth; a device without
one takes its peak times the median fitted fraction of its compute unit's in-sample devices.
The benchmark derives these numbers by that rule, checks the catalog carries them (and
stops, printing what differs, if not), then compares the held-out rows: the first held-out set
and, apart from it, the second (`held_out_2`), gathered and declared after the first set's errors
were seen and before any estimate of its own rows.

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

from docs_section import write_section
from scipy.optimize import brentq

from edgegap.hardware import Platform, estimate, load_platform
from edgegap.report.generative import decode_step

DATA = Path(__file__).resolve().parent / "data"
DOC = Path(__file__).resolve().parent.parent / "docs" / "generative.md"
HEADING = "## Published decode throughput on edge devices (`benchmarks/generative.py`)"
UNSTATED_PROMPT, UNSTATED_GENERATED = 16, 128  # the declared defaults (llm-decode-published.md)
README = DOC.parent.parent / "README.md"
VERDICT_HEADING = "## Will it run? Edge language models on edge targets"
README_BEFORE = "## Estimating latency and energy on a chip"
SIGNIFICANT = 3  # digits a fitted bandwidth is carried to in the catalog
# The held-out sets, each reported apart: the first (declared 2026-12-02, its errors seen since)
# and the second, gathered and declared 2026-12-04 before any estimate of it.
SETS = {"held_out": "first held-out set", "held_out_2": "second held-out set"}

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
        unit = next(u for u in ("GPU", "CPU", "NPU") if u in cell["compute_unit"].upper())
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


def with_bandwidth(platform: Platform, gb_s: float) -> Platform:
    """`platform` whose off-chip level sustains `gb_s` (its peak kept as the peak)."""
    peak = offchip(platform)[1]
    memory = [
        level.model_copy(update={"bandwidth_gb_s": gb_s, "peak_bandwidth_gb_s": max(peak, gb_s)})
        if level.role == "offchip" else level
        for level in platform.memory
    ]  # fmt: skip
    return platform.model_copy(update={"memory": memory})


def tokens_per_s(row: Row, platform: Platform) -> float:
    workload = decode_step(row.spec, row.context, row.weights, row.kv_cache)
    return 1 / estimate(workload, platform).totals.latency_s


def fitted_bandwidth(row: Row, platform: Platform) -> float:
    """The sustained bandwidth (GB/s) at which edgegap's estimate of `row` is its measured
    tokens/s: the one number an in-sample row may set."""
    peak = offchip(platform)[1]

    def excess(log_gb_s: float) -> float:
        return math.log(
            tokens_per_s(row, with_bandwidth(platform, math.exp(log_gb_s))) / row.measured
        )

    low, high = math.log(peak * 1e-3), math.log(peak * 10)
    if excess(high) < 0:
        sys.exit(f"{row.row_id}: {row.measured} tokens/s is beyond any bandwidth on "
                 f"{platform.name}: its compute bounds the step")  # fmt: skip
    return math.exp(brentq(excess, low, high, xtol=1e-9))


def rounded(value: float) -> float:
    return float(f"{value:.{SIGNIFICANT}g}")


def sustained_bandwidths(
    read: list[Row],
) -> tuple[dict[str, float], dict[str, str], dict[str, float]]:
    """Per catalog device, the sustained bandwidth the declared rule gives, how it was set,
    and the median fitted fraction of peak per compute unit."""
    fitted: dict[str, float] = {}
    how: dict[str, str] = {}
    fractions: dict[str, list[float]] = {}
    for row in read:
        if row.split != "in_sample":
            continue
        platform = load_platform(row.platform)
        gb_s = rounded(fitted_bandwidth(row, platform))
        fitted[row.device] = gb_s
        how[row.device] = f"fitted on {row.row_id}"
        fractions.setdefault(row.unit, []).append(gb_s / offchip(platform)[1])
    every = [f for unit in fractions.values() for f in unit]
    median = {unit: statistics.median(f) for unit, f in fractions.items()}
    for row in read:
        if row.device in fitted:
            continue
        share = median.get(row.unit)
        fraction = share if share is not None else statistics.median(every)
        peak = offchip(load_platform(row.platform))[1]
        fitted[row.device] = rounded(peak * fraction)
        unit = row.unit if share is not None else "devices of every unit"
        how[row.device] = f"peak x {fraction:.3f}, the median of in-sample {unit}"
    return fitted, how, median


def catalog_differences(sustained: dict[str, float]) -> list[str]:
    """Where the catalog's sustained bandwidth is not the declared rule's."""
    lines = []
    for device, gb_s in sorted(sustained.items()):
        carried = offchip(load_platform(PLATFORMS[device]))[0]
        if not math.isclose(carried, gb_s, rel_tol=1e-9):
            lines.append(f"{PLATFORMS[device]}: the catalog's off-chip bandwidth_gb_s is "
                         f"{carried:g}, the rule gives {gb_s:g}")  # fmt: skip
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
    return [(row, tokens_per_s(row, load_platform(row.platform)), naive(row)) for row in chosen]


def summary_lines(label: str, results: list[Result]) -> list[str]:
    """The summary table's rows for one held-out set: all its rows, then each device kind."""
    kinds = sorted({row.kind for row, _, _ in results})
    lines = []
    for part, chosen in [("all", results)] + [
        (kind, [r for r in results if r[0].kind == kind]) for kind in kinds
    ]:
        ours = [error(o, row.measured) for row, o, _ in chosen]
        theirs = [error(t, row.measured) for row, _, t in chosen]
        lines.append(
            f"| {label} | {part} | {len(chosen)} | {median_abs(ours)} "
            f"| {sum(abs(e) <= 0.25 for e in ours)}/{len(ours)} | {median_abs(theirs)} "
            f"| {sum(abs(e) <= 0.25 for e in theirs)}/{len(theirs)} |"
        )
    return lines


def row_lines(results: list[Result]) -> list[str]:
    """One table line per row: measured, edgegap's estimate and error, the naive one and its."""
    lines = [
        "| row | device (platform) | model | weights | context | measured tok/s | edgegap "
        "| error | naive | naive error |",
        "|---|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row, ours, theirs in results:
        lines.append(
            f"| [{row.row_id}]({row.source}) | {row.platform} | `{row.spec}` | {row.weights} "
            f"| {row.context} | {row.measured:g} | {ours:.1f} | {_pct(error(ours, row.measured))} "
            f"| {theirs:.1f} | {_pct(error(theirs, row.measured))} |"
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
        "target's sustained memory bandwidth (fitted on a published measurement, or derived "
        "from its peak by the rule in [docs/generative.md](docs/generative.md), whose "
        "held-out rows show how far to trust it); \"needs\" where weights, cache and "
        "activations exceed the target's memory. Written by `benchmarks/generative.py`.",
        "",
        markdown_table(decode_verdicts()),
    ])  # fmt: skip


def main() -> None:
    read = rows()
    sustained, how, fractions = sustained_bandwidths(read)
    differences = catalog_differences(sustained)
    if differences:
        sys.exit(
            "the catalog does not carry the declared rule's bandwidths:\n" + "\n".join(differences)
        )
    results = {split: estimated([row for row in read if row.split == split]) for split in SETS}
    summary = [
        "| held-out set | rows | n | edgegap median abs error | within 25% "
        "| naive median abs error | naive within 25% |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for split, label in SETS.items():
        summary += summary_lines(label, results[split])
    catalog = [
        "| catalog device | platform | sustained GB/s | peak GB/s | fraction | set by |",
        "|---|---|---:|---:|---:|---|",
    ]
    for device, gb_s in sorted(sustained.items()):
        peak = offchip(load_platform(PLATFORMS[device]))[1]
        catalog.append(f"| {device} | {PLATFORMS[device]} | {gb_s:g} | {peak:g} "
                       f"| {gb_s / peak:.2f} | {how[device]} |")  # fmt: skip
    body = "\n".join([
        "Decode tokens/s at batch 1 as published (`benchmarks/data/llm-decode-published.csv`, "
        "each row's source linked), against edgegap's estimate and the naive one (stored "
        "weight bytes / datasheet peak bandwidth). Rows, split and estimation set-up were "
        "declared before any estimate (`benchmarks/data/llm-decode-published.md`). The second "
        "held-out set was gathered and declared on 2026-12-04, after the first set's errors had "
        "been seen and before any estimate of its own rows; it sets no catalog number.",
        "",
        *summary,
        "",
        "What the in-sample rows set (one number a device: the sustained off-chip bandwidth at "
        "which edgegap's estimate equals the row), and what a device without one takes:",
        "",
        *catalog,
        "",
        "Median fitted fraction of peak per compute unit: "
        + ", ".join(f"{unit} {value:.3f}" for unit, value in sorted(fractions.items())) + ".",
        "",
        *(line for split, label in SETS.items()
          for line in (f"Every row of the {label}:", "", *row_lines(results[split]), "")),
    ]).rstrip()  # fmt: skip
    print(f"{HEADING}\n\n{body}")
    write_section(HEADING, body, DOC)
    table = verdicts()
    print(f"{VERDICT_HEADING}\n\n{table}")
    write_section(VERDICT_HEADING, table, README, README_BEFORE)


if __name__ == "__main__":
    main()
