"""Weight and KV-cache formats (`techniques.weight_formats`, `data/weight_formats.yaml`): each
block layout's bytes as ggml's structs and MLC's groups state them, the byte arithmetic of
groups (hypothesis), llama.cpp's rule for which tensor gets which type, and whole models
against llama-bench's reported sizes (benchmarks/data/llm-decode-published.md): llama-bench's
"size" counts every tensor of the GGUF, so it is compared with the stored bytes, not with the
bytes a decode step reads."""

from __future__ import annotations

import json
import math
from fractions import Fraction

import pytest
from cli_checks import one_line_error, runner
from hypothesis import given
from hypothesis import strategies as st

import edgegap
from edgegap.cli import app
from edgegap.errors import UserError
from edgegap.hardware import load_platform
from edgegap.hardware.platform import VectorCompute
from edgegap.precision import bits_to_bytes, grouped_bytes
from edgegap.techniques import NotAvailable, get
from edgegap.techniques.weight_formats import (
    Model,
    Tensor,
    cached_as,
    formats,
    formatted,
    gguf_type,
    types,
    use_more_bits,
)
from edgegap.workload.phases import Phase

# bytes per group and elements per group, as ggml-common.h's static_asserts and MLC's
# GroupQuantize (4 uint32 and a float16 scale per group) state them
LAYOUTS = {
    "q8_0": (34, 32), "q4_0": (18, 32), "q4_1": (20, 32), "q5_0": (22, 32), "q5_1": (24, 32),
    "iq4_nl": (18, 32), "q2_K": (84, 256), "q3_K": (110, 256), "q4_K": (144, 256),
    "q5_K": (176, 256), "q6_K": (210, 256), "mlc-int4-g32": (18, 32), "mlc-int3-g40": (18, 40),
}  # fmt: skip
GIB = 2**30


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_each_block_layout_takes_its_structs_bytes(name: str) -> None:
    kind, (size, group) = types()[name], LAYOUTS[name]
    assert kind.group == group
    assert grouped_bytes(group, kind.bits, kind.group, kind.group_bits) == size
    assert grouped_bytes(1000 * group, kind.bits, kind.group, kind.group_bits) == 1000 * size


def test_awq_int4_groups_carry_a_float16_scale_and_a_4_bit_zero_point() -> None:
    kind = types()["int4-g128"]
    # 4096 x 4096: qweight 4096 x 512 int32, qzeros 32 x 512 int32, scales 32 x 4096 float16
    expected = 4096 * 512 * 4 + 32 * 512 * 4 + 32 * 4096 * 2
    assert grouped_bytes(4096 * 4096, kind.bits, kind.group, kind.group_bits) == expected


@given(
    st.integers(0, 10**6), st.integers(1, 32), st.integers(1, 512), st.integers(0, 256),
    st.integers(0, 10**6),
)  # fmt: skip
def test_group_bytes_are_codes_plus_one_side_per_started_group(elements, bits, group, side, more):
    counted = grouped_bytes(elements, bits, group, side)
    groups = -(-elements // group)
    assert counted == -(-(elements * bits + groups * side) // 8)
    assert (
        bits_to_bytes(elements, bits)
        <= counted
        <= bits_to_bytes(elements, bits) + (-(-groups * side // 8) + 1)
    )
    assert grouped_bytes(elements, bits) == bits_to_bytes(elements, bits)
    assert grouped_bytes(elements + more, bits, group, side) >= counted


@given(st.sampled_from(sorted(LAYOUTS)), st.integers(0, 5000), st.integers(0, 5000))
def test_whole_groups_add_up(name, first, second):
    kind = types()[name]
    group = kind.group or 1

    def stored(groups: int) -> int:
        return grouped_bytes(groups * group, kind.bits, kind.group, kind.group_bits)

    assert stored(first) + stored(second) == stored(first + second)


def test_use_more_bits_picks_llama_cpps_layers() -> None:
    assert [i for i in range(28) if use_more_bits(i, 28)] == [
        0, 1, 2, 5, 8, 11, 14, 17, 20, 23, 24, 25, 26, 27,
    ]  # fmt: skip
    assert sum(use_more_bits(i, 32) for i in range(32)) == 16


UNTIED = Model(layers=32, grouped=1, tied=False)


@pytest.mark.parametrize(
    ("name", "tensor", "model", "expected"),
    [
        ("q4_0", Tensor("output", False, None, 4096), UNTIED, "q6_K"),
        ("q4_0", Tensor("token_embd", False, None, 4096), UNTIED, "q4_0"),
        ("q4_0", Tensor("attn_v", False, 3, 4096), UNTIED, "q4_0"),
        ("q4_0", Tensor(None, True, 3, 0), UNTIED, "f32"),
        ("q8_0", Tensor("output", False, None, 4096), UNTIED, "q8_0"),
        ("f16", Tensor("output", False, None, 4096), UNTIED, "f16"),
        ("f16", Tensor(None, True, None, 0), UNTIED, "f32"),
        ("q4_k_m", Tensor("token_embd", False, None, 3072), Model(28, 3, tied=True), "q6_K"),
        ("q4_k_m", Tensor("attn_v", False, 5, 3072), Model(28, 3, False), "q6_K"),
        ("q4_k_m", Tensor("attn_v", False, 6, 3072), Model(28, 3, False), "q4_K"),
        ("q4_k_m", Tensor("ffn_down", False, 27, 8192), Model(28, 3, False), "q6_K"),
        ("q4_k_m", Tensor("attn_qkv", False, 0, 3072), Model(32, None, False), "q6_K"),
        ("q4_k_m", Tensor("ffn_up", False, 0, 3072), Model(28, 3, False), "q4_K"),
        # a 896-wide row (Qwen2.5-0.5B) is 3.5 groups of 256: llama.cpp falls back
        ("q4_k_m", Tensor("attn_q", False, 0, 896), Model(24, 7, False), "q5_0"),
        ("q4_k_m", Tensor("attn_v", False, 0, 896), Model(24, 7, False), "q8_0"),
        ("q4_k_m", Tensor("output", False, None, 896), Model(24, 7, False), "q8_0"),
        ("q2_k", Tensor("attn_v", False, 0, 4096), UNTIED, "q3_K"),
        ("q2_k", Tensor("attn_v", False, 0, 4096), Model(32, 4, False), "q4_K"),
        ("q2_k", Tensor("ffn_down", False, 0, 11008), UNTIED, "q3_K"),
        ("q2_k", Tensor("attn_output", False, 0, 4096), UNTIED, "q3_K"),
        ("q2_k", Tensor("ffn_gate", False, 0, 4096), UNTIED, "q2_K"),
        ("q2_k", Tensor("token_embd", False, None, 4096), UNTIED, "q2_K"),
        ("q2_k", Tensor("position_embd", False, None, 768), UNTIED, "f16"),
    ],
)
def test_llama_cpps_mix_gives_each_tensor_its_type(name, tensor, model, expected) -> None:
    assert gguf_type(name, tensor, model).name == expected


def test_a_mix_that_needs_the_head_ratio_says_so_for_a_fused_qkv() -> None:
    with pytest.raises(NotAvailable, match="query heads per key-value head"):
        gguf_type("q2_k", Tensor("attn_qkv", False, 0, 3072), Model(32, None, False))


def _decode(name: str, context: int = 64) -> edgegap.Workload:
    return edgegap.profile(name, phase=Phase("decode", context=context))


def _llama_matrices(config: dict) -> tuple[int, int, int]:
    """Elements of the decoder blocks' matrices, of the token table, of the norms."""
    h, f, layers = config["hidden_size"], config["intermediate_size"], config["num_hidden_layers"]
    kv = config["num_key_value_heads"] * h // config["num_attention_heads"]
    blocks = layers * (2 * h * h + 2 * h * kv + 3 * h * f)
    return blocks, config["vocab_size"] * h, (2 * layers + 1) * h


def test_llama_3_2_3b_at_q4_k_m_is_llama_benchs_size() -> None:
    """1.87 GiB, 3.21 B params (geerlingguy/ai-benchmarks llama-bench logs): every matrix
    q4_K but attn_v and ffn_down of the 14 layers use_more_bits picks (q6_K), the tied token
    table q6_K (llama.cpp gives a table without an output.weight the output's type), norms
    f32."""
    from independent_counts import shipped_config

    config = shipped_config("meta-llama/Llama-3.2-3B")
    h, f = config["hidden_size"], config["intermediate_size"]
    blocks, table, norms = _llama_matrices(config)
    more = 14 * (h * 1024 + h * f)
    expected = (
        Fraction(144, 256) * (blocks - more) + Fraction(210, 256) * (more + table) + 4 * norms
    )
    workload = formatted(_decode("llama-3.2-3b"), "q4_k_m")
    assert workload.totals.stored_weight_bytes == expected == 2_011_539_456
    assert round(workload.totals.stored_weight_bytes / GIB, 2) == 1.87
    assert round(workload.totals.params / 1e9, 2) == 3.21


def test_qwen3_30b_a3b_at_q4_k_m_is_llama_benchs_size() -> None:
    """17.28 GiB, 30.53 B params (llama-bench's 'qwen3moe 30B.A3B Q4_K - Medium' rows, e.g.
    https://www.reddit.com/r/LocalLLaMA/comments/1kd5rua/ and llama.cpp issue logs): every
    matrix q4_K but attn_v and the experts' down projections (ffn_down_exps) of the 24 layers
    use_more_bits picks (q6_K), the untied head q6_K, the token table q4_K; the routers
    (ffn_gate_inp) f32 as the converter writes them, never quantized; norms f32."""
    from independent_counts import shipped_config

    config = shipped_config("Qwen/Qwen3-30B-A3B")
    h, layers, experts = config["hidden_size"], config["num_hidden_layers"], config["num_experts"]
    attention = config["num_attention_heads"] * config["head_dim"]
    kv = config["num_key_value_heads"] * config["head_dim"]
    value, down = h * kv, experts * config["moe_intermediate_size"] * h
    table = head = config["vocab_size"] * h  # untied: a table and a head
    more = sum(1 for layer in range(layers) if use_more_bits(layer, layers))
    assert more == 24
    q4_k = layers * (2 * h * attention + h * kv + 2 * down) + (layers - more) * (value + down)
    q6_k = more * (value + down) + head
    f32 = layers * (experts * h + 2 * h + 2 * config["head_dim"]) + h
    expected = Fraction(144, 256) * (q4_k + table) + Fraction(210, 256) * q6_k + 4 * f32
    workload = formatted(_decode("qwen3-30b-a3b"), "q4_k_m")
    assert workload.totals.stored_weight_bytes == expected == 18_550_716_416  # README's row
    assert round(workload.totals.stored_weight_bytes / GIB, 2) == 17.28
    assert round(workload.totals.params / 1e9, 2) == 30.53


@pytest.mark.parametrize(
    ("name", "gib", "expected"),
    [("f16", 12.55, 13_477_363_712), ("q8_0", 6.67, 7_160_348_672),
     ("q4_0", 3.56, 3_825_065_984)],
)  # fmt: skip
def test_llama_2_7b_is_llama_benchs_size(name: str, gib: float, expected: int) -> None:
    """llama-bench's LLaMA 7B sizes (llama.cpp discussion #4167): F16 12.55 GiB, Q8_0 6.67 GiB,
    Q4_0 3.56 GiB (its output.weight q6_K), 6.74 B params; norms f32."""
    from independent_counts import shipped_config

    blocks, table, norms = _llama_matrices(shipped_config("meta-llama/Llama-2-7b-hf"))
    per_element = {"f16": (2, 2), "q8_0": (Fraction(34, 32),) * 2,
                   "q4_0": (Fraction(18, 32), Fraction(210, 256))}[name]  # fmt: skip
    assert (blocks + table) * per_element[0] + table * per_element[1] + 4 * norms == expected
    workload = formatted(_decode("llama-2-7b"), name)
    assert workload.totals.stored_weight_bytes == expected
    assert round(expected / GIB, 2) == gib
    assert round(workload.totals.params / 1e9, 2) == 6.74


def test_a_decode_step_reads_one_row_of_an_untied_token_table() -> None:
    """The lookup reads the row it gathers; the table is stored whole (and must fit)."""
    workload = formatted(_decode("llama-2-7b"), "q4_0")
    embedding = next(x for x in workload.layers if x.name == "model.embed_tokens")
    assert embedding.weight_elements == 4096 and embedding.params == 32000 * 4096
    assert embedding.weight_bytes == 4096 // 32 * 18
    assert embedding.stored_weight_bytes == 32000 * 4096 // 32 * 18
    # a buffer is read but holds no parameter: the rotary embedding's 64 float32 frequencies
    buffers = [x for x in workload.layers if x.weight_elements and not x.params]
    assert sum(x.weight_elements for x in buffers) == 64
    unread = embedding.stored_weight_bytes - embedding.weight_bytes
    assert workload.totals.stored_weight_bytes - workload.totals.weight_bytes == unread - 64 * 4


def test_a_q8_0_cache_is_34_bytes_per_32_entries() -> None:
    workload = _decode("llama-3.2-1b", context=128)
    cached = cached_as(workload, "q8_0")
    readers = [x for x in cached.layers if x.cache_elements]
    entries = sum(i.shape[1] * i.shape[2] * i.shape[3] for i in workload.inputs
                  if i.name and i.name.startswith("past_"))  # fmt: skip
    products = sum(x.cache_elements for x in readers if x.gemms)
    assert products == entries * 129 // 128  # keys and values with the new token's row
    for layer in readers:
        assert layer.cache_bytes == layer.cache_elements // 32 * 34
        rest = layer.input_elements - layer.cache_elements
        assert layer.input_bytes == bits_to_bytes(rest, layer.activation_bits) + layer.cache_bytes
    assert cached.totals.min_traffic_bytes < workload.totals.min_traffic_bytes


def test_a_cache_format_is_a_decode_steps() -> None:
    with pytest.raises(NotAvailable, match="needs a decode step"):
        cached_as(edgegap.profile("hf:gpt2", phase=Phase("prefill", tokens=8)), "q8_0")


def test_a_weight_format_needs_a_language_model() -> None:
    with pytest.raises(NotAvailable, match="needs a language model"):
        formatted(edgegap.profile("resnet18"), "q4_0")


def test_every_format_names_known_types_and_sources() -> None:
    known = types()
    for name, spec in formats().items():
        named = [spec[key] for key in ("default", "linear", "embedding", "output", "other")
                 if key in spec]  # fmt: skip
        assert named and set(named) <= set(known), name
        assert spec["source"]
    assert all(kind.source and kind.layout for kind in known.values())


def test_the_registry_checks_the_format_names() -> None:
    with pytest.raises(UserError, match="must be one of f16, bf16, q8_0, q4_0"):
        get("weight-format").setting(format="q5_k_s")
    with pytest.raises(UserError, match="must be one of f32, f16, bf16, q8_0, q4_0"):
        get("kv-cache").setting(format="q3_0")


def test_the_cli_profiles_and_estimates_in_a_format() -> None:
    args = ["profile", "llama-2-7b", "--phase", "decode", "--context", "64", "--weights",
            "q4_0", "--kv", "q8_0", "--format", "json"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    totals = json.loads(result.stdout)["totals"]
    assert totals["stored_weight_bytes"] == 3_825_065_984
    estimate = ["estimate", "llama-2-7b", "--phase", "decode", "--context", "64", "--dtype",
                "float16", "--target", "jetson-orin-nano", "--weights", "q4_0", "--format",
                "json"]  # fmt: skip
    plain = runner.invoke(app, [a for a in estimate if a not in ("--weights", "q4_0")])
    quantized = runner.invoke(app, estimate)
    assert plain.exit_code == 0 and quantized.exit_code == 0, quantized.output
    fast, slow = (json.loads(r.stdout) for r in (quantized, plain))
    # both pay the runtime's fixed time per layer; the rest is 4.5 bits a weight against 16
    compute = load_platform("jetson-orin-nano").compute
    assert isinstance(compute, VectorCompute)
    fixed = compute.fixed_s_per_layer
    moved = [run["totals"]["latency_s"] - len(run["layers"]) * fixed for run in (fast, slow)]
    assert len(fast["layers"]) == len(slow["layers"]) and moved[0] < moved[1] / 3
    assert "must be one of f16, bf16" in one_line_error("profile", "llama-2-7b", "--phase",
                                                        "decode", "--context", "4",
                                                        "--weights", "q9")  # fmt: skip
    assert "needs a decode step" in one_line_error("profile", "hf:gpt2", "--kv", "q8_0")


def test_a_stored_cache_is_held_once_at_its_type_in_peak_memory_on_any_platform() -> None:
    """The traced peak holds the cache once (the step's inputs, not also the cache assembled
    from them); stored as q8_0 it holds 34 bytes per 32 entries, on an fp32 CPU and an fp16
    GPU alike."""
    from edgegap.hardware import fits
    from edgegap.workload.phases import cache_inputs

    workload = _decode("llama-3.2-1b", context=2048)
    entries = sum(math.prod(i.shape) for i in cache_inputs(workload))
    # bfloat16, the configuration's dtype
    assert entries * 2 <= workload.totals.peak_activation_bytes < entries * 2 * 1.1
    cached = cached_as(workload, "q8_0")
    assert cached.totals.peak_activation_bytes == (
        workload.totals.peak_activation_bytes - entries * 2 + entries * 34 // 32
    )
    needed = {name: fits(cached, load_platform(name)).activation_bytes
              for name in ("raspberry-pi-5", "jetson-orin-nano")}  # fmt: skip
    assert all(entries * 34 // 32 <= n < entries * 34 // 32 * 1.1 for n in needed.values())


def test_a_cache_type_counts_the_cache_at_the_bits_the_profile_held_it():
    """Regression: profiled at int8 (a platform's deployment precision), the traced peak holds
    the bfloat16 cache at 8 bits a value; an f16 cache is then twice that, not the peak
    unchanged (the cache was taken as traced at its configuration's 16 bits)."""
    from edgegap.workload.phases import cache_inputs

    workload = edgegap.profile("smollm2-135m", dtype="int8", phase=Phase("decode", context=256))
    entries = sum(math.prod(i.shape) for i in cache_inputs(workload))
    peak = workload.peak_activation_bytes
    assert cached_as(workload, "f16").peak_activation_bytes == peak - entries + entries * 2
    assert cached_as(workload, "q8_0").peak_activation_bytes == (
        peak - entries + entries * 34 // 32
    )
