"""A mixture of experts (`formulas.grouped_matmul`): a token runs its top-k experts of E, so a
decode step computes and reads k experts' matrices while the model holds all E. Against
Qwen3-30B-A3B's model card and equations, and against the same tiny model run for real with
transformers' per-expert loop (its routing a value, not a shape)."""

from __future__ import annotations

import json
from typing import Any

import torch
from hypothesis import given
from hypothesis import strategies as st
from independent_counts import qwen3_moe, shipped_config
from test_edge_llms import published_range

import edgegap
from edgegap.workload import formulas
from edgegap.workload.phases import Phase

QWEN3_MOE = "Qwen/Qwen3-30B-A3B"
TINY = {
    "model_type": "qwen3_moe", "architectures": ["Qwen3MoeForCausalLM"], "hidden_size": 64,
    "intermediate_size": 128, "moe_intermediate_size": 32, "num_hidden_layers": 2,
    "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16, "num_experts": 8,
    "num_experts_per_tok": 2, "vocab_size": 256, "tie_word_embeddings": False,
    "decoder_sparse_step": 1, "mlp_only_layers": [], "norm_topk_prob": True,
}  # fmt: skip


def _expert_bytes(config: dict[str, Any], experts: int, element_bytes: int = 2) -> int:
    """The bytes of `experts` experts of every layer (gate, up and down matrices)."""
    per_expert = 3 * config["hidden_size"] * config["moe_intermediate_size"]
    return config["num_hidden_layers"] * experts * per_expert * element_bytes


@given(
    rows=st.integers(1, 4096), experts=st.integers(1, 256), k=st.integers(1, 64),
    n=st.integers(1, 64),
)  # fmt: skip
def test_grouped_products_count_every_row_once_and_read_at_most_the_rows_experts(
    rows: int, experts: int, k: int, n: int
) -> None:
    count = formulas.grouped_matmul((rows, k), (experts, k, n), (rows, n), weighted=True)
    assert count.macs == rows * k * n
    assert sum(g.groups for g in count.gemms) == min(rows, experts)
    assert count.gathered == min(rows, experts) * k * n
    assert max(g.m for g in count.gemms) - min(g.m for g in count.gemms) <= 1  # spread evenly


def test_qwen3_moe_decode_counts_as_its_equations_and_its_cards_figures() -> None:
    """Model card: 30.5B parameters, 3.3B activated. A decode step reads its 8 of 128
    experts a layer, the attention and the router; the card's activated figure also counts
    the whole token embedding, of which the step reads one row."""
    config = shipped_config(QWEN3_MOE)
    workload = edgegap.profile("qwen3-30b-a3b", phase=Phase("decode", context=512))
    assert workload.uncounted_ops == {} and workload.notes == ()
    expected = qwen3_moe(config, length=1, context=512)
    assert (workload.totals.macs, workload.totals.params) == (expected.macs, expected.params)
    low, high = published_range(config["_params"])
    assert low <= workload.totals.params <= high
    embedding = config["vocab_size"] * config["hidden_size"]
    read = workload.totals.weight_bytes // 2  # bfloat16
    low, high = published_range(config["_active_params"])
    assert low <= read + embedding - 2048 <= high  # one row of the table was read already
    idle = config["num_experts"] - config["num_experts_per_tok"]
    assert workload.totals.params * 2 - workload.totals.weight_bytes >= _expert_bytes(config, idle)


def test_a_long_prompt_reads_every_expert_and_a_batch_no_more_than_its_tokens_route_to() -> None:
    config = shipped_config(QWEN3_MOE)
    prefill = edgegap.profile("qwen3-30b-a3b", phase=Phase("prefill", tokens=128))
    decode = edgegap.profile("qwen3-30b-a3b", phase=Phase("decode", context=64))
    batch = edgegap.profile("qwen3-30b-a3b", phase=Phase("decode", context=64, batch=4))
    per_token = _expert_bytes(config, config["num_experts_per_tok"])
    row = config["hidden_size"] * 2  # of the token embedding, one per token
    assert prefill.totals.weight_bytes - decode.totals.weight_bytes == (
        _expert_bytes(config, config["num_experts"]) - per_token + 127 * row
    )
    assert batch.totals.weight_bytes - decode.totals.weight_bytes == 3 * (per_token + row)
    assert prefill.totals.macs == qwen3_moe(config, length=128).macs


def test_a_tiny_moe_counts_the_same_traced_as_run_for_real_with_the_per_expert_loop(
    tmp_path: Any,
) -> None:
    """transformers' eager experts loop over the experts the tokens were routed to (`nonzero`
    on the routing: a value), so the CPU module runs on real tensors; the grouped product
    edgegap traces on the meta device counts the same MACs and parameters, both as the
    equations say."""
    from transformers import AutoConfig, AutoModelForCausalLM

    path = tmp_path / "config.json"
    path.write_text(json.dumps(TINY))
    traced = edgegap.profile(f"hf:{path}", phase=Phase("prefill", tokens=1))
    fields = {k: v for k, v in TINY.items() if k != "model_type"}
    config = AutoConfig.for_model("qwen3_moe", **fields, experts_implementation="eager")
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config).eval()
    looped = edgegap.profile(model, inputs=["input_ids:1x1:int64"])
    expected = qwen3_moe(TINY, length=1)
    for workload in (traced, looped):
        assert (workload.totals.macs, workload.totals.params) == (expected.macs, expected.params)
    assert traced.uncounted_ops == {}
