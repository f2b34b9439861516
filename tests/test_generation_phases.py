"""A language model's generation phases (`edgegap.workload.phases`): a prefill of its prompt
and one decode step on the KV cache of the tokens before it, against counts written from the
architectures' equations (`independent_counts.py`), with the cache as the step's inputs."""

from __future__ import annotations

import json

import pytest
from cli_checks import one_line_error, runner
from independent_counts import gpt2, llama, shipped_config

import edgegap
from edgegap.cli import app
from edgegap.errors import UserError
from edgegap.workload.phases import Phase


def _cache(workload: edgegap.Workload) -> list[edgegap.workload.shapes.ModelInput]:
    return [i for i in workload.inputs if i.name and i.name.startswith("past_")]


@pytest.mark.parametrize("context", [1, 64, 2048])
def test_a_decode_step_of_gpt2_attends_to_its_context_and_itself(context: int) -> None:
    workload = edgegap.profile("hf:gpt2", phase=Phase("decode", context=context))
    expected = gpt2(shipped_config("gpt2"), length=1, context=context)
    assert (workload.totals.macs, workload.totals.params) == (expected.macs, expected.params)
    assert workload.inputs[0].shape == (1, 1) and workload.inputs[0].dtype == "int64"
    cache = _cache(workload)
    assert len(cache) == 2 * 12 and {i.shape for i in cache} == {(1, 12, context, 64)}
    assert workload.uncounted_ops == {} and workload.notes == ()


def test_grouped_query_attention_caches_its_key_value_heads_only() -> None:
    """Qwen2.5-0.5B: 14 query heads share 2 key-value heads; bfloat16 as its config says."""
    config = shipped_config("Qwen/Qwen2.5-0.5B")
    workload = edgegap.profile("hf:Qwen/Qwen2.5-0.5B", phase=Phase("decode", context=512))
    expected = llama(config, length=1, qkv_bias=True, context=512)
    assert (workload.totals.macs, workload.totals.params) == (expected.macs, expected.params)
    head_size = config["hidden_size"] // config["num_attention_heads"]
    cache = _cache(workload)
    assert {i.shape for i in cache} == {(1, config["num_key_value_heads"], 512, head_size)}
    assert {i.dtype for i in cache} == {"bfloat16"}
    cache_bytes = 2 * config["num_hidden_layers"] * 2 * 512 * head_size * 2
    assert sum(2 * i.shape[0] * i.shape[1] * i.shape[2] * i.shape[3] for i in cache) == (
        cache_bytes
    )


def test_a_sliding_window_layer_caches_its_window(tmp_path) -> None:
    """A layer of window W holds W - 1 tokens before the step (transformers' cache), so it
    attends to W however long the context; a full-attention layer to all of it."""
    config = {
        "model_type": "gemma2", "architectures": ["Gemma2ForCausalLM"], "hidden_size": 64,
        "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
        "num_key_value_heads": 2, "head_dim": 16, "vocab_size": 1000, "sliding_window": 16,
        "layer_types": ["sliding_attention", "full_attention"],
    }  # fmt: skip
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    short, long = (edgegap.profile(f"hf:{path}", phase=Phase("decode", context=n)) for n in (8, 64))
    assert [i.shape[2] for i in _cache(long)] == [15, 15, 64, 64]
    assert [i.shape[2] for i in _cache(short)] == [8, 8, 8, 8]
    # attention MACs per attended token: 4 heads x 16 x 2 (scores and values)
    per_token = 4 * 16 * 2
    assert long.totals.macs - short.totals.macs == per_token * ((16 - 9) + (65 - 9))


def test_a_prefill_is_the_forward_pass_over_its_prompt() -> None:
    prefill = edgegap.profile("hf:gpt2", phase=Phase("prefill", tokens=64))
    assert prefill.totals.macs == gpt2(shipped_config("gpt2"), length=64).macs
    assert prefill.inputs[0].shape == (1, 64)


def test_a_batch_of_sequences_decodes_at_once() -> None:
    one, four = (
        edgegap.profile("hf:gpt2", phase=Phase("decode", context=32, batch=b)) for b in (1, 4)
    )
    assert four.totals.macs == 4 * one.totals.macs
    assert {i.shape[0] for i in four.inputs} == {4}


@pytest.mark.parametrize(
    ("phase", "message"),
    [
        (lambda: Phase("decode"), r"give --context"),
        (lambda: Phase("generate"), r"unknown phase 'generate'"),
        (lambda: Phase("prefill", tokens=0), r"--tokens must be at least 1"),
        (lambda: Phase("prefill", context=3), r"a prefill starts from no cache"),
    ],
)
def test_a_phase_out_of_range_is_one_line(phase, message) -> None:
    with pytest.raises(UserError, match=message):
        phase()


def test_a_phase_is_for_language_models_only() -> None:
    with pytest.raises(UserError, match=r"for a Hugging Face language model"):
        edgegap.profile("resnet18", phase=Phase("decode", context=4))
    with pytest.raises(UserError, match=r"not built as a causal language model"):
        edgegap.profile("hf:bert-base-uncased", phase=Phase("decode", context=4))
    with pytest.raises(UserError, match=r"sets the inputs"):
        edgegap.profile("hf:gpt2", inputs=["1x8"], phase=Phase("decode", context=4))


def test_the_cli_profiles_a_decode_step() -> None:
    args = ["profile", "hf:gpt2", "--phase", "decode", "--context", "64", "--format", "json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert record["totals"]["macs"] == gpt2(shipped_config("gpt2"), length=1, context=64).macs
    one_line_error("profile", "hf:gpt2", "--phase", "decode")
    assert "--phase sets the inputs" in one_line_error(
        "profile", "hf:gpt2", "--phase", "prefill", "--input-shape", "1,8"
    )


def test_estimate_quotes_a_decode_step_in_tokens_per_second_and_joules_per_token() -> None:
    args = ["estimate", "hf:gpt2", "--phase", "decode", "--context", "256", "--batch", "2",
            "--target", "jetson-orin-nano", "--format", "json"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    generation, totals = record["generation"], record["totals"]
    assert (generation["kind"], generation["context"], generation["batch"]) == ("decode", 256, 2)
    assert generation["tokens_per_s"] == pytest.approx(2 / totals["latency_s"])
    assert generation["energy_per_token_j"] == pytest.approx(totals["energy_j"] / 2)
    table = runner.invoke(app, args[:-2])
    assert table.exit_code == 0 and "tokens/s" in table.stdout and "per token" in table.stdout


def test_a_prefill_estimate_is_the_time_to_the_first_token() -> None:
    args = ["estimate", "hf:gpt2", "--phase", "prefill", "--tokens", "64",
            "--target", "jetson-orin-nano"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "to the first token" in result.stdout
