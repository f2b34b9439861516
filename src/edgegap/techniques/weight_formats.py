"""The files language models ship in on the edge, as transforms of a workload: `weight-format`
stores every weight as a format gives it (llama.cpp's GGUF mixes, MLC's group quantization,
AWQ-style int4 in groups of 128, per-channel int8), `kv-cache` stores a decode step's KV
cache at one of llama.cpp's cache types.

Both read `data/weight_formats.yaml`: each type's layout (bits per code, elements per group,
bits of scales per group) and each format's rule for which tensor gets which type, every one
with its source. A layer's weight bytes follow from its counts and the type it is given
(`Layer.weight_group`, `precision.grouped_bytes`), so a format's bytes are exact wherever a
row is a whole number of its groups (ggml requires it, and falls back to another type where
not). Two approximations remain, both small: a bias read with its matrix (Qwen2's q, k, v)
is counted in the matrix's groups, where GGUF keeps it f32; and MLC pads each row's last
group (q3f16's groups of 40 on a 4096-wide row), which the layer's one group count leaves
out, at most one group per row.

Layers are matched to llama.cpp's tensor roles by the names of transformers' modules (the
names gguf-py's tensor_mapping.py maps to token_embd, attn_q, ..., output).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

import yaml

from edgegap.precision import bits_to_bytes, grouped_bytes
from edgegap.techniques.base import NotAvailable, Param, Technique, register
from edgegap.workload.layer import Layer, Workload
from edgegap.workload.phases import cache_inputs

if TYPE_CHECKING:
    from edgegap.hardware.platform import Platform
    from edgegap.techniques.base import Setting

ROW = "row"  # a type's group: one per row of the tensor (a per-output-channel scale)

# transformers module names (the last one or two parts of a layer's path) -> llama.cpp's
# tensor roles
ROLES = {
    "embed_tokens": "token_embd", "wte": "token_embd", "lm_head": "output",
    "q_proj": "attn_q", "k_proj": "attn_k", "v_proj": "attn_v", "o_proj": "attn_output",
    "qkv_proj": "attn_qkv", "c_attn": "attn_qkv", "attn.c_proj": "attn_output",
    "gate_proj": "ffn_gate", "up_proj": "ffn_up", "gate_up_proj": "ffn_up", "c_fc": "ffn_up",
    "down_proj": "ffn_down", "mlp.c_proj": "ffn_down", "wpe": "position_embd",
    "embed_in": "token_embd", "embed_out": "output", "query_key_value": "attn_qkv",
    "attention.dense": "attn_output", "dense_h_to_4h": "ffn_up", "dense_4h_to_h": "ffn_down",
    "mlp.gate": "ffn_gate_inp", "block_sparse_moe.gate": "ffn_gate_inp",
}  # fmt: skip
# A mixture of experts' stacked matrices (transformers' `experts` module, its products one
# `_grouped_mm` each, the layer named for the module): the last product of a block is the
# down projection (ffn_down_exps), the ones before it gate and up (ffn_gate_exps,
# ffn_up_exps), which take the default type as ffn_up does.
EXPERTS = "experts"
LIKE_ATTN_V = ("attn_v", "attn_qkv")  # llama.cpp's category_is_attn_v
_BLOCK = re.compile(r"\.(\d+)\.")


@dataclass(frozen=True)
class StorageType:
    """One tensor encoding: `bits` per code in groups of `group` elements (0: none, None: one
    group per row), each group carrying `group_bits` of scales, zero points or minima."""

    name: str
    bits: int
    group: int | None
    group_bits: int
    layout: str
    source: str

    def fits(self, row: int) -> bool:
        """Whether a row of `row` elements is a whole number of groups."""
        return not self.group or row % self.group == 0

    @property
    def quantized(self) -> bool:
        return self.group != 0


@cache
def _table() -> dict[str, Any]:
    path = resources.files("edgegap.techniques") / "data" / "weight_formats.yaml"
    table: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return table


@cache
def types() -> dict[str, StorageType]:
    """The storage types of the table, by name."""
    found = {}
    for name, row in _table()["types"].items():
        group = None if row["group"] == ROW else int(row["group"])
        found[name] = StorageType(name, int(row["bits"]), group, int(row["group_bits"]),
                                  row["layout"], _table()["sources"][row["source"]])  # fmt: skip
    return found


def formats() -> dict[str, dict[str, Any]]:
    """The weight formats of the table, by name."""
    found: dict[str, dict[str, Any]] = _table()["formats"]
    return found


def kv_types() -> tuple[str, ...]:
    return tuple(_table()["kv_cache"]["types"])


@dataclass(frozen=True)
class Tensor:
    """What the rules need of one layer's weight: its role, block index and row length."""

    role: str | None  # a llama.cpp role; None for a matrix of no role
    vector: bool  # a norm's scale or a lone bias: no matrix
    block: int | None
    row: int


def tensors_of(workload: Workload) -> list[Tensor]:
    """Each layer's weight as llama.cpp sees it, a mixture's experts by their place in the
    block (`EXPERTS`)."""
    tensors = [tensor_of(layer) for layer in workload.layers]
    last: dict[int | None, int] = {}  # each block's last experts product
    for i, (layer, tensor) in enumerate(zip(workload.layers, tensors, strict=True)):
        if layer.name.rpartition(".")[2] == EXPERTS and layer.weight_elements:
            last[tensor.block] = i
            tensors[i] = replace(tensor, role="ffn_up")
    for i in last.values():
        tensors[i] = replace(tensors[i], role="ffn_down")
    return tensors


def tensor_of(layer: Layer) -> Tensor:
    """The layer's weight as llama.cpp sees it: a token table's row is its embedding width,
    a matrix's its input features (ggml's ne[0])."""
    parts = layer.name.split(".")
    role = ROLES.get(".".join(parts[-2:])) or ROLES.get(parts[-1])
    block = _BLOCK.search(f".{layer.name}.")
    weighted = [g for g in layer.gemms if g.weighted]
    if layer.kind == "embedding":
        row = layer.output_shape[-1] if layer.output_shape else layer.weight_elements
    elif weighted:
        row = weighted[0].k
    else:
        row = 0
    return Tensor(role, not row, int(block[1]) if block else None, row)


@dataclass(frozen=True)
class Model:
    """What llama.cpp's rules need of the whole model."""

    layers: int  # transformer blocks
    grouped: int | None  # query heads per key-value head (None: a fused qkv hides it)
    tied: bool  # the head reads the token table (no output.weight of its own)


def model_of(workload: Workload, tensors: list[Tensor]) -> Model:
    blocks = [t.block for t in tensors if t.block is not None]
    first = min(blocks, default=None)
    size = {}
    for layer, tensor in zip(workload.layers, tensors, strict=True):
        if tensor.role in ("attn_q", "attn_k") and tensor.block == first:
            size[tensor.role] = layer.weight_elements
    grouped = size["attn_q"] // size["attn_k"] if len(size) == 2 and size["attn_k"] else None
    heads = [x for x, t in zip(workload.layers, tensors, strict=True) if t.role == "output"]
    tied = bool(heads) and all(head.params == 0 for head in heads)
    return Model(max(blocks, default=-1) + 1, grouped, tied)


def use_more_bits(layer: int, layers: int) -> bool:
    """llama.cpp's choice of the layers a K-quant mix gives more bits: the first and last
    eighth and every third between (llama-quant.cpp, use_more_bits)."""
    return layer < layers // 8 or layer >= 7 * layers // 8 or (layer - layers // 8) % 3 == 2


def gguf_type(name: str, tensor: Tensor, model: Model) -> StorageType:
    """The type llama.cpp's quantizer gives `tensor` in a file of format `name`
    (llama_tensor_get_type and its fallback, for the roles of a dense model)."""
    spec, rules, known = formats()[name], _table()["gguf_rules"], types()
    if tensor.vector:
        return known[rules["vectors"]]
    default = known[spec["default"]]
    if not default.quantized:  # an F16 or BF16 file: every matrix as converted
        return default
    if tensor.role == "position_embd":
        return known[rules["unquantized"]]
    if tensor.role == "ffn_gate_inp":
        return known[rules["router"]]
    chosen = default
    if tensor.role == "output" or (tensor.role == "token_embd" and model.tied):
        if not default.fits(tensor.row):
            chosen = known[rules["output_misaligned"]]
        elif default.name != "q8_0":
            chosen = known[rules["output"]]
    elif tensor.role is not None and tensor.role != "token_embd":
        role = "attn_v" if tensor.role in LIKE_ATTN_V else tensor.role
        rule = spec.get("roles", {}).get(role)
        if rule is not None:
            chosen = _by_rule(name, rule, tensor, model)
    return _fallback(chosen, tensor.row)


def _by_rule(name: str, rule: dict[str, Any], tensor: Tensor, model: Model) -> StorageType:
    known = types()
    if rule.get("more_bits") and not use_more_bits(tensor.block or 0, model.layers):
        return known[formats()[name]["default"]]
    if "grouped_4" in rule:
        if model.grouped is None:
            raise NotAvailable(
                f"{name}'s attn_v type depends on the query heads per key-value head, which a "
                "fused qkv projection hides"
            )
        if model.grouped >= 4:
            return known[rule["grouped_4"]]
    return known[rule["type"]]


def _fallback(chosen: StorageType, row: int) -> StorageType:
    known, rules = types(), _table()["gguf_rules"]
    if chosen.fits(row):
        return chosen
    other = known.get(rules["fallback"].get(chosen.name, ""))
    if other is None:
        raise NotAvailable(f"a {row}-wide row is no whole number of {chosen.name} groups")
    return other if other.fits(row) else known[rules["unquantized"]]


def runtime_type(name: str, tensor: Tensor) -> StorageType:
    """The type a format of fixed roles (MLC, AWQ, per-channel) gives `tensor`."""
    spec = formats()[name]
    if tensor.vector:
        return types()[spec["other"]]
    if tensor.role in ("token_embd", "output"):
        return types()[spec["embedding" if tensor.role == "token_embd" else "output"]]
    if tensor.role == "position_embd":
        return types()[spec["other"]]
    return types()[spec["linear"]]


def stored_as(layer: Layer, kind: StorageType, row: int) -> Layer:
    """`layer` with its weights of type `kind`."""
    group = row if kind.group is None else kind.group
    return replace(layer, weight_bits=kind.bits, weight_group=group,
                   weight_group_bits=kind.group_bits)  # fmt: skip


def formatted(workload: Workload, name: str) -> Workload:
    """Every weight of `workload` as format `name` stores it."""
    tensors = tensors_of(workload)
    if not any(t.role in ("token_embd", "attn_q", "attn_qkv") for t in tensors):
        raise NotAvailable(
            f"weight-format needs a language model: {workload.model} has no token embedding "
            "or attention projection to give a type"
        )
    model = model_of(workload, tensors)
    gguf = "ftype" in formats()[name]
    layers = []
    for layer, tensor in zip(workload.layers, tensors, strict=True):
        if not layer.weight_elements and not layer.params:
            layers.append(layer)
            continue
        kind = gguf_type(name, tensor, model) if gguf else runtime_type(name, tensor)
        layers.append(stored_as(layer, kind, tensor.row))
    return workload.with_layers(layers).noted(f"weights stored as {name}")


def cache_reads(workload: Workload) -> dict[int, int]:
    """The cache elements each layer of a decode step reads: an input the step did not compute
    (producer -1) of a cache input's shape, or of that shape with the new token's row written
    in (the cache it attends to), and any input a layer made of the cache without changing
    its entries (a dtype copy of keys and values, up to the products that read them). The
    in-place write of the new token into the cache reads no cache; what reads the cache after
    it reads it whole."""
    cached = {i.shape for i in cache_inputs(workload)}
    attended = {(*shape[:2], shape[2] + 1, *shape[3:]) for shape in cached}
    passing: set[int] = set()  # layers whose output is the cache's entries
    reads = {}
    for layer in workload.layers:
        if layer.output_elements < math.prod(layer.output_shape):  # a token written in place
            if tuple(layer.output_shape) in cached | attended:
                passing.add(layer.index)  # the cache, its new row in: read by what follows
            continue
        sizes = [
            math.prod(shape)
            for shape, producer in zip(layer.input_shapes, layer.producers, strict=False)
            if (producer == -1 and (shape in cached or shape in attended)) or producer in passing
        ]
        if not sizes:
            continue
        reads[layer.index] = sum(sizes)
        if not layer.gemms and layer.output_elements in sizes:
            passing.add(layer.index)
    return reads


def cached_as(workload: Workload, name: str) -> Workload:
    """A decode step's workload with its KV cache stored as llama.cpp's cache type `name`."""
    reads = cache_reads(workload)
    if not reads:
        raise NotAvailable(
            f"kv-cache needs a decode step (--phase decode): {workload.model} reads no KV cache"
        )
    kind = types()[name]
    layers = [
        replace(layer, cache_elements=reads[layer.index], cache_bits=kind.bits,
                cache_group=kind.group or 0, cache_group_bits=kind.group_bits)
        if layer.index in reads
        else layer
        for layer in workload.layers
    ]  # fmt: skip
    # The peak of live activations holds the cache once: at its new type, the rest as traced,
    # which counted it at its readers' activation bits (a profile's dtype where one was given,
    # int8 at a platform's deployment precision, else the cache's own).
    held = cache_inputs(workload)
    elements = sum(math.prod(i.shape) for i in held)
    reader = next(layer for layer in workload.layers if layer.index in reads)
    traced = bits_to_bytes(elements, reader.activation_bits)
    stored = grouped_bytes(elements, kind.bits, kind.group or 0, kind.group_bits)
    peak = workload.peak_activation_bytes - traced + stored
    return replace(workload.with_layers(layers), peak_activation_bytes=peak).noted(
        f"KV cache stored as {name}"
    )


_SOURCES = (
    "llama.cpp ggml/src/ggml-common.h (block layouts) and src/llama-quant.cpp "
    "(llama_tensor_get_type: which tensor gets which type)",
    "MLC LLM python/mlc_llm/quantization (q4f16_*, q3f16_*, q4f16_ft)",
    "Lin et al., 'AWQ', MLSys 2024; AutoAWQ's WQLinear_GEMM (int4, groups of 128)",
)


class _StorageFormat(Technique):
    """A technique of one setting, the `format` a workload's tensors are stored in, which a
    published result names by itself ("q4_k_m")."""

    bare = "format"

    def store(self, workload: Workload, name: str) -> Workload:
        """`workload` with its tensors stored in format `name`."""
        raise NotImplementedError

    def from_label(self, label: str) -> Setting:
        return self.setting(label, format=label)

    def apply(
        self, workload: Workload, platform: Platform, setting: Setting
    ) -> tuple[Workload, Platform]:
        return self.store(workload, setting["format"]), platform


@register(
    "weight-format",
    summary="weights stored as a language-model file stores them (GGUF, MLC, AWQ int4)",
    group="quantization",
    sources=_SOURCES,
)
class WeightFormat(_StorageFormat):
    params = (Param("format", "q4_0", choices=tuple(formats()), help="the weight format"),)

    def store(self, workload: Workload, name: str) -> Workload:
        return formatted(workload, name)


@register(
    "kv-cache",
    summary="a decode step's KV cache stored at a llama.cpp cache type (q8_0, q4_0, ...)",
    group="quantization",
    sources=("llama.cpp common/arg.cpp (--cache-type-k/-v) and ggml/src/ggml-common.h",),
)
class KvCache(_StorageFormat):
    params = (
        Param("format", _table()["kv_cache"]["default"], choices=kv_types(),
              help="the cache type of keys and values"),
    )  # fmt: skip

    def store(self, workload: Workload, name: str) -> Workload:
        return cached_as(workload, name)
