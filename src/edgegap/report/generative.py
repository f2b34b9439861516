"""Will it run? Every shipped edge language model's decode tokens/s on the edge targets, or
what does not fit: the one computation behind the report's table and the README's (written by
`benchmarks/generative.py`).

Decode is one step at batch 1 after `CONTEXT` tokens, weights as llama.cpp's `WEIGHTS` files
hold them, KV cache `KV_CACHE`, activations fp16, estimated on each target's sustained memory
bandwidth (the catalog's, set by the rule in docs/generative.md); tokens/s = 1 / latency.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from edgegap.errors import UserError
from edgegap.hardware import estimate, load_platform
from edgegap.hardware.fit import size_text
from edgegap.techniques import weight_formats
from edgegap.workload import Workload, hf_models, profile
from edgegap.workload.phases import Phase

TARGETS = ("raspberry-pi-5", "snapdragon-8g3-cpu", "apple-a15", "orin-nano-super",
           "apple-m4-gpu", "jetson-agx-orin")  # fmt: skip
CONTEXT, WEIGHTS, KV_CACHE = 2048, "q4_k_m", "f16"


@cache
def decode_step(spec: str, context: int, weights: str, kv_cache: str) -> Workload:
    """One decode step of `spec` after `context` tokens, its weights and KV cache in the
    named formats, activations at fp16."""
    workload = profile(spec, dtype="float16", phase=Phase("decode", context=context))
    return weight_formats.cached_as(weight_formats.formatted(workload, weights), kv_cache)


def edge_models() -> dict[str, str]:
    """The shipped language models with a published size, by short name (or `hf:` name)."""
    short = {repo: alias for alias, repo in hf_models.ALIASES.items()}
    return {
        short.get(name, f"hf:{name}"): f"hf:{name}"
        for name, text in hf_models.shipped().items()
        if '"_params"' in text
    }


def decode_verdicts(
    targets: Sequence[str] = TARGETS, models: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    """One row a model (of `edge_models`, all by default) and target: tokens/s where weights,
    cache and activations fit the target's memory, else the bytes it needs."""
    platforms = [load_platform(name) for name in targets]
    shipped = edge_models()
    unknown = sorted(set(models or ()) - set(shipped))
    if unknown:
        raise UserError(f"not a shipped edge language model: {', '.join(unknown)}")
    rows = []
    for model, spec in shipped.items():
        if models is not None and model not in models:
            continue
        step = decode_step(spec, CONTEXT, WEIGHTS, KV_CACHE)
        for platform in platforms:
            cost = estimate(step, platform)
            fits = cost.fit.fits
            rows.append(
                {
                    "model": model,
                    "platform": platform.name,
                    "fits": fits,
                    "tokens_per_s": 1 / cost.totals.latency_s if fits else None,
                    "needed_bytes": cost.fit.needed_bytes,
                }
            )
    return rows


def cell_text(row: dict[str, Any]) -> str:
    """A table cell: tokens/s to one decimal, or what the model needs."""
    if row["fits"]:
        return f"{row['tokens_per_s']:.1f}"
    return f"needs {size_text(row['needed_bytes'])}"


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """The rows as the README's markdown table, a model a line, a target a column."""
    targets = list(dict.fromkeys(row["platform"] for row in rows))
    models = list(dict.fromkeys(row["model"] for row in rows))
    cells = {(row["model"], row["platform"]): cell_text(row) for row in rows}
    lines = [f"| model | {' | '.join(targets)} |", "|---|" + "---:|" * len(targets)]
    for model in models:
        lines.append(
            f"| `{model}` | " + " | ".join(cells[model, target] for target in targets) + " |"
        )
    return "\n".join(lines)
