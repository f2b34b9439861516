"""The language models people put on the edge, shipped as their Hub configurations
(`data/hf/`, each field's source in its `_source`): every one builds on the meta device and
profiles a decode step; its parameters are its model card's published figure (`_params`,
sourced in `_params_source`) within the figure's rounding; its KV cache holds its key-value
heads only; the Llama-like ones count exactly as `independent_counts.llama` does, GPT-NeoX and
Nemotron as their own equations (the three checks over every model are marked slow: ~40 s on two
cores). A vision-language model decodes through its language model, shipped apart. Their short
names (`llama-3.2-1b`) are `hf:` specs that shadow no torchvision model."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from cli_checks import one_line_error
from independent_counts import gpt_neox, llama, nemotron, qwen2_5_vl_vision, shipped_config

import edgegap
from edgegap.errors import UserError
from edgegap.workload import hf_models, zoo
from edgegap.workload.phases import Phase

CONTEXT = 128
# Every shipped configuration that carries its model card's parameter figure.
EDGE = sorted(name for name in hf_models.shipped() if "_params" in shipped_config(name))
# Those of the Llama architecture (Qwen2: biases on q, k, v), which `llama()` counts.
LLAMA_LIKE = {
    "meta-llama/Llama-3.2-1B": False,
    "meta-llama/Llama-3.2-3B": False,
    "Qwen/Qwen2.5-0.5B": True,
    "Qwen/Qwen2.5-1.5B": True,
    "Qwen/Qwen2.5-3B": True,
    "Qwen/Qwen2.5-7B": True,
    "HuggingFaceTB/SmolLM2-135M": False,
    "HuggingFaceTB/SmolLM2-360M": False,
    "HuggingFaceTB/SmolLM2-1.7B": False,
    "mistralai/Mistral-7B-v0.3": False,
    "meta-llama/Llama-2-7b-hf": False,
    "meta-llama/Llama-2-13b-hf": False,
    "meta-llama/Llama-2-70b-hf": False,
    "meta-llama/Llama-3.1-8B": False,
}
# Shipped without a card figure or outside the Llama architecture, each checked by its own test.
REDPAJAMA = "togethercomputer/RedPajama-INCITE-Chat-3B-v1"  # GPT-NeoX
NEMOTRON = "nvidia/Nemotron-Mini-4B-Instruct"  # no parameter figure on its card
QWEN_VL = "Qwen/Qwen2.5-VL-3B-Instruct"  # a vision-language model: no decode step itself
QWEN_VL_TEXT = f"{QWEN_VL}/{hf_models.LANGUAGE_MODEL}"  # the language model its decode runs
QWEN_VL_VISION = f"{QWEN_VL}/{hf_models.VISION_TOWER}"  # what encodes an image for it
SUFFIXES = {"M": 10**6, "B": 10**9}


def published_range(figure: str) -> tuple[int, int]:
    """The counts a card's figure stands for: `2,024,517,888` exactly; `1.23B` anything
    within one unit of its last digit (cards round, some truncate: Qwen2.5-7B's 7,615,616,512
    is '7.61B'); `360M` within ten million (a trailing zero is no stated digit)."""
    if re.fullmatch(r"\d{1,3}(,\d{3})+", figure):
        exact = int(figure.replace(",", ""))
        return exact, exact
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([MB])", figure)
    assert match, f"unreadable parameter figure {figure!r}"
    digits, suffix = match.groups()
    value = Decimal(digits) * SUFFIXES[suffix]
    if "." in digits:
        unit = Decimal(10) ** -len(digits.split(".")[1]) * SUFFIXES[suffix]
    else:
        unit = Decimal(10) ** (len(digits) - len(digits.rstrip("0"))) * SUFFIXES[suffix]
    return int(value - unit), int(value + unit)


def _decode(name: str) -> edgegap.Workload:
    return edgegap.profile(f"hf:{name}", phase=Phase("decode", context=CONTEXT))


def test_the_edge_models_are_shipped() -> None:
    others = {
        "microsoft/Phi-3.5-mini-instruct",
        "google/gemma-2-2b",
        "google/gemma-2-9b",
        REDPAJAMA,
    }
    assert set(LLAMA_LIKE) | others <= set(EDGE)


@pytest.mark.slow
@pytest.mark.parametrize("name", EDGE)
def test_an_edge_model_profiles_a_decode_step_at_its_published_size(name: str) -> None:
    config = shipped_config(name)
    workload = _decode(name)
    assert workload.uncounted_ops == {} and workload.notes == ()
    assert str(config["_source"]).startswith(f"config.json of {name} on the Hugging Face Hub")
    assert "http" in config["_params_source"]
    counted = workload.totals.params
    if config.get("_params_counts") == "non-embedding":
        counted -= config["vocab_size"] * config["hidden_size"]  # a tied table, held once
    low, high = published_range(config["_params"])
    assert low <= counted <= high, (name, counted, config["_params"])


@pytest.mark.slow
@pytest.mark.parametrize("name", EDGE)
def test_an_edge_model_caches_its_key_value_heads(name: str) -> None:
    """Grouped-query attention: the cache holds num_key_value_heads, not the query heads."""
    config = shipped_config(name)
    heads = config["num_attention_heads"]
    head_dim = config.get("head_dim") or config["hidden_size"] // heads
    inputs = {i.name: i for i in _decode(name).inputs}
    assert inputs["input_ids"].shape == (1, 1)
    layers = config["num_hidden_layers"]
    assert {f"past_key_{n}" for n in range(layers)} <= set(inputs)
    key = inputs["past_key_0"]
    kv_heads = config.get("num_key_value_heads", heads)  # GPT-NeoX: every head its own
    assert key.shape == (1, kv_heads, CONTEXT, head_dim)
    assert key.dtype == config["torch_dtype"]


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(LLAMA_LIKE))
def test_a_llama_like_decode_step_counts_as_its_equations(name: str) -> None:
    expected = llama(shipped_config(name), length=1, qkv_bias=LLAMA_LIKE[name], context=CONTEXT)
    workload = _decode(name)
    assert (workload.totals.macs, workload.totals.params) == (expected.macs, expected.params)


def test_gemma_2_2b_matches_its_reports_non_embedding_count_exactly() -> None:
    """Gemma 2 report, Table 2: 2,024,517,888 non-embedding parameters (its embedding is of a
    256,128-entry vocabulary, the Hub config's of 256,000)."""
    config = shipped_config("google/gemma-2-2b")
    embedding = config["vocab_size"] * config["hidden_size"]
    assert _decode("google/gemma-2-2b").totals.params - embedding == 2_024_517_888


@pytest.mark.parametrize(("name", "equations"), [(REDPAJAMA, gpt_neox), (NEMOTRON, nemotron)])
def test_a_gpt_neox_and_a_nemotron_decode_step_count_as_their_equations(
    name: str, equations: Any
) -> None:
    """Outside the Llama architecture: GPT-NeoX's fused q, k, v and biased layers, Nemotron's
    scaled-and-shifted layer norms and gateless MLP (Nemotron-Mini ships without a card figure,
    so its equations are its only check); each caches every key-value head it has."""
    config = shipped_config(name)
    expected = equations(config, length=1, context=CONTEXT)
    workload = _decode(name)
    assert workload.uncounted_ops == {} and workload.notes == ()
    assert (workload.totals.macs, workload.totals.params) == (expected.macs, expected.params)
    heads = config["num_attention_heads"]
    key = {i.name: i for i in workload.inputs}["past_key_0"]
    kv_heads = config.get("num_key_value_heads", heads)
    assert key.shape == (1, kv_heads, CONTEXT, config["hidden_size"] // heads)


def test_a_vision_language_model_decodes_through_its_language_model() -> None:
    """Qwen2.5-VL-3B's decode step runs its language model only. The whole model (transformers'
    Qwen2_5_VLModel, a vision tower beside the decoder) refuses a decode step in one line naming
    the language model; that ships as Qwen2 with the whole config's text fields unchanged, counts
    as Qwen2's equations and has Qwen2.5-3B's parameters (the same sizes)."""
    with pytest.raises(UserError, match=re.escape(f"its language model is hf:{QWEN_VL_TEXT}")):
        _decode(QWEN_VL)
    whole, text = shipped_config(QWEN_VL), shipped_config(QWEN_VL_TEXT)
    renamed = {"_source", "model_type", "architectures"}
    assert {k: v for k, v in text.items() if k not in renamed} == {
        k: whole[k] for k in text if k not in renamed
    }
    vision = {"vision_config", "rope_scaling"} | {
        f"{part}_token_id" for part in ("vision_start", "vision_end", "vision", "image", "video")
    }
    assert set(whole) - set(text) == vision
    expected = llama(text, length=1, qkv_bias=True, context=CONTEXT)
    workload = _decode(QWEN_VL_TEXT)
    assert workload.uncounted_ops == {} and workload.notes == ()
    assert (workload.totals.macs, workload.totals.params) == (expected.macs, expected.params)
    assert workload.totals.params == _decode("Qwen/Qwen2.5-3B").totals.params
    short = edgegap.profile("qwen2.5-vl-3b", phase=Phase("decode", context=CONTEXT))
    assert short.totals == workload.totals


@pytest.mark.parametrize(("figure", "expected"), [
    ("1.23B", (1_220_000_000, 1_240_000_000)),
    ("3.8B", (3_700_000_000, 3_900_000_000)),
    ("360M", (350_000_000, 370_000_000)),
    ("2,024,517,888", (2_024_517_888, 2_024_517_888)),
])  # fmt: skip
def test_a_published_figure_stands_for_its_rounding(figure: str, expected: tuple) -> None:
    assert published_range(figure) == expected


@pytest.mark.parametrize(("height", "width"), [(448, 448), (336, 644)])
def test_a_vision_tower_encodes_an_image_as_its_equations(height: int, width: int) -> None:
    """Qwen2.5-VL-3B's vision tower, built from its config's vision_config, on an image: its
    attention windows cut at the image's edges (644 = 23 merged patches, not a multiple of
    the 4-patch window), four blocks attending over the whole image."""
    expected = qwen2_5_vl_vision(shipped_config(QWEN_VL)["vision_config"], height, width)
    workload = edgegap.profile(f"hf:{QWEN_VL_VISION}", input_shape=(1, 3, height, width))
    assert workload.uncounted_ops == {} and workload.notes == ()
    assert (workload.totals.macs, workload.totals.params) == (expected.macs, expected.params)
    tokens = (height // 28) * (width // 28)  # one per 2 x 2 block of 14-pixel patches
    assert workload.layers[-1].output_shape == (tokens, 2048)  # the language model's width


def test_a_vision_tower_refuses_an_image_it_cannot_cut_in_one_line() -> None:
    message = one_line_error("profile", "qwen2.5-vl-3b-vision", "--input-shape", "1,3,440,448")
    assert "each side a multiple of 28" in message and "1x3x440x448" in message


def test_every_short_name_is_a_shipped_model_and_no_torchvision_one() -> None:
    parts = {f"{name}/{hf_models.VISION_TOWER}" for name in hf_models.shipped()}
    assert set(hf_models.ALIASES.values()) <= set(hf_models.shipped()) | parts
    assert not set(hf_models.ALIASES) & set(zoo.known_names())
    assert set(hf_models.ALIASES.values()) >= set(EDGE)


def test_a_short_name_profiles_as_its_hf_spec() -> None:
    phase = Phase("decode", context=CONTEXT)
    short = edgegap.profile("llama-3.2-1b", phase=phase)
    full = edgegap.profile("hf:meta-llama/Llama-3.2-1B", phase=phase)
    assert short.totals == full.totals and short.model == "llama-3.2-1b"
    assert (
        edgegap.profile("Qwen2.5-1.5B", phase=phase).totals == _decode("Qwen/Qwen2.5-1.5B").totals
    )


def test_the_cli_decodes_a_short_name_and_refuses_an_unknown_one_in_one_line() -> None:
    from cli_checks import runner

    from edgegap.cli import app

    args = ["profile", "llama-3.2-1b", "--phase", "decode", "--context", "2048"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    line = one_line_error("profile", "llama-3.2-1bb", "--phase", "decode", "--context", "64")
    assert "llama-3.2-1b" in line
    with pytest.raises(UserError, match=r"did you mean .*qwen2\.5-7b"):
        edgegap.profile("qwen2.5-7", phase=Phase("decode", context=4))
