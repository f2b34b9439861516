"""The edge language models' table in README.md ("## Edge language models"): every shipped
configuration that carries its model card's parameter figure (`_params`), profiled by
`edgegap.profile` as one decode step after 2048 tokens at bfloat16, on the meta device; then a
line naming the short names whose card gives no figure (outside the table).

Per row: the parameters edgegap counts beside the card's figure; the decode step's MACs (one
token); its KV cache, the bytes of its `past_key_*`/`past_value_*` inputs at 2 bytes an
element; the weights' bytes at bfloat16 as held (`stored_weight_bytes`, a tied table
once) and as the step reads them (`weight_bytes`). Then the vision-language model's vision
tower on its default image. Counts only, no timing: the table is the same on any machine.

Run: .venv/bin/python benchmarks/edge_llms.py
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from docs_section import write_section

import edgegap
from edgegap.workload import hf_models
from edgegap.workload.phases import Phase, cache_inputs

README = Path(__file__).resolve().parent.parent / "README.md"
HEADING = "## Edge language models"
BEFORE = "## Estimating latency and energy on a chip"
CONTEXT = 2048
BF16_BYTES = 2


def rows() -> list[str]:
    short = {repo: alias for alias, repo in hf_models.ALIASES.items()}
    lines = []
    for name, text in hf_models.shipped().items():
        config = json.loads(text)
        if "_params" not in config:
            continue
        workload = edgegap.profile(
            f"hf:{name}", dtype="bfloat16", phase=Phase("decode", context=CONTEXT)
        )
        cache = cache_inputs(workload)
        cache_bytes = sum(math.prod(i.shape) for i in cache) * BF16_BYTES
        layers = config["num_hidden_layers"]
        query_heads = config["num_attention_heads"]
        heads = f"{query_heads}/{config.get('num_key_value_heads', query_heads)}"
        card = config["_params"] + (
            f" ({config['_params_counts']})" if "_params_counts" in config else ""
        )
        lines.append(
            f"| `{short.get(name, 'hf:' + name)}` ({name}) | {workload.totals.params:,} | {card} "
            f"| {layers} | {heads} | {workload.totals.macs / 1e9:.3f} "
            f"| {cache_bytes / 1e6:,.1f} | {workload.totals.stored_weight_bytes / 1e9:.2f} "
            f"| {workload.totals.weight_bytes / 1e9:.2f} |"
        )
    return lines


def without_figure() -> str:
    """The shipped short names whose card gives no parameter figure: outside the table."""
    shipped = hf_models.shipped()
    named = [
        f"`{alias}` ({repo})"
        for alias, repo in hf_models.ALIASES.items()
        if repo in shipped and "_params" not in json.loads(shipped[repo])
    ]
    return (
        "Also shipped, outside the table because their cards give no parameter figure: "
        f"{', '.join(named)}. A vision-language model's decode step runs its language model, "
        "which ships apart (`hf:ORG/NAME/language_model`); the whole model has no decode step."
    )


def vision_tower() -> str:
    """The vision tower's line: what it costs to turn the default image into tokens."""
    alias = "qwen2.5-vl-3b-vision"
    workload = edgegap.profile(alias, dtype="bfloat16")
    side = hf_models.IMAGE_SIDE
    tokens = workload.layers[-1].output_shape[0]
    return (
        f"Its vision tower, `{alias}` ({hf_models.ALIASES[alias]}, built from the model's "
        f"`vision_config`), encodes a {side} x {side} image into {tokens} tokens for the "
        f"language model: {workload.totals.macs / 1e9:,.1f} GMACs, "
        f"{workload.totals.params:,} parameters, {workload.totals.weight_bytes / 1e9:.2f} GB "
        "of weights at bfloat16 (`--input-shape 1,3,H,W` for another image, each side a "
        "multiple of 28). The time to the first token of an image and a prompt is the tower's "
        f"time plus the prefill of the {tokens} image tokens and the prompt's "
        f"(`edgegap profile qwen2.5-vl-3b --phase prefill --tokens {tokens + 32}` for a "
        "32-token prompt)."
    )


def main() -> None:
    body = "\n".join(
        [
            "The language models people run on the edge ship as their Hub configurations "
            "(`src/edgegap/workload/data/hf/`, every field's source in its `_source`), each by a "
            f"short name: `edgegap profile llama-3.2-1b --phase decode --context {CONTEXT}`. "
            f"One decode step after {CONTEXT} tokens, batch 1, at bfloat16, counted on the meta "
            "device (no weights); written by `.venv/bin/python benchmarks/edge_llms.py`. "
            "Parameters are edgegap's count (a tied embedding once) beside the model card's "
            "figure (`_params`, its source in `_params_source`; `tests/test_edge_llms.py` holds "
            "each within the figure's rounding). The KV cache is the step's "
            "`past_key_*`/`past_value_*` inputs (key-value heads x tokens x head size per layer, "
            "2 bytes an element; MB = 10^6 bytes); weights are their bytes at bfloat16 "
            "(GB = 10^9 bytes), as held and as one decode step reads them (one row of an "
            "untied embedding table; a mixture of experts' routed experts only).",
            "",
            "| model | params (edgegap) | params (card) | layers | heads q/kv | decode GMACs "
            f"per token at {CONTEXT} | KV cache MB at {CONTEXT}, bf16 | weights GB, bf16 "
            "| weights GB read per token, bf16 |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
            *rows(),
            "",
            without_figure(),
            "",
            vision_tower(),
        ]
    )
    print(f"{HEADING}\n\n{body}")
    write_section(HEADING, body, README, BEFORE)


if __name__ == "__main__":
    main()
