"""Independent counts of MACs and parameters for the library models, written from each
architecture's equations (the papers' layer tables, the configurations' sizes), not from
edgegap's tracer nor any model code: what `tests/test_library_models.py` compares with
`edgegap.profile`.

Conventions (docs/counting.md): MACs are those of convolutions (weight elements x output
positions), matrix products (m x k x n) and attention (heads x L x S x (E + Ev)); parameters
are trainable ones, a tied weight counted once, batch-norm running statistics excluded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any


@dataclass
class Count:
    macs: int = 0
    params: int = 0

    def conv(self, cin: int, cout: int, k: int, out_side: int, groups: int = 1,
             bias: bool = False, bn: bool = False) -> None:  # fmt: skip
        weights = cout * (cin // groups) * k * k
        self.macs += weights * out_side * out_side
        self.params += weights + (cout if bias else 0) + (2 * cout if bn else 0)

    def linear(self, fan_in: int, fan_out: int, tokens: int, bias: bool = True) -> None:
        self.macs += tokens * fan_in * fan_out
        self.params += fan_in * fan_out + (fan_out if bias else 0)

    def norm(self, width: int, affine_terms: int = 2) -> None:
        self.params += affine_terms * width  # layer norm: scale and shift; RMS norm: scale

    def attention(self, heads: int, queries: int, keys: int, head_dim: int) -> None:
        self.macs += heads * queries * keys * 2 * head_dim  # scores and the weighted sum


# ------------------------------------------------------------------ convolutional networks


def resnet(blocks: tuple[int, ...], bottleneck: bool, side: int = 224) -> Count:
    """He et al. 2016, Table 1: a 7x7/2 stem, a 3x3/2 max pool, four stages (stride 2 from the
    second, on the 3x3 convolution), a 1x1 projection where the shape changes, a 1000-way fc."""
    count = Count()
    side //= 2
    count.conv(3, 64, 7, side, bn=True)
    side //= 2
    channels = 64
    expansion = 4 if bottleneck else 1
    for stage, repeats in enumerate(blocks):
        width = 64 * 2**stage
        for index in range(repeats):
            stride = 2 if stage > 0 and index == 0 else 1
            out_side = side // stride
            out = width * expansion
            if bottleneck:
                count.conv(channels, width, 1, side, bn=True)
                count.conv(width, width, 3, out_side, bn=True)
                count.conv(width, out, 1, out_side, bn=True)
            else:
                count.conv(channels, width, 3, out_side, bn=True)
                count.conv(width, width, 3, out_side, bn=True)
            if stride != 1 or channels != out:
                count.conv(channels, out, 1, out_side, bn=True)
            channels, side = out, out_side
    count.linear(channels, 1000, 1)
    return count


def efficientnet_b0(side: int = 224) -> Count:
    """Tan and Le 2019, Table 1: a 3x3/2 stem to 32 channels, seven stages of MBConv blocks
    (expand 1x1, depthwise kxk, squeeze-excite to a quarter of the block's input channels,
    project 1x1), a 1x1 head to 1280 channels, a 1000-way fc. 'Same' padding: side / stride."""
    stages = [  # (expansion, kernel, stride, channels, repeats)
        (1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3),
        (6, 5, 1, 112, 3), (6, 5, 2, 192, 4), (6, 3, 1, 320, 1),
    ]  # fmt: skip
    count = Count()
    side //= 2
    count.conv(3, 32, 3, side, bn=True)
    channels = 32
    for expansion, kernel, stride, out, repeats in stages:
        for index in range(repeats):
            step = stride if index == 0 else 1
            mid = channels * expansion
            if expansion != 1:
                count.conv(channels, mid, 1, side, bn=True)
            side //= step
            count.conv(mid, mid, kernel, side, groups=mid, bn=True)
            squeezed = channels // 4
            count.conv(mid, squeezed, 1, 1, bias=True)
            count.conv(squeezed, mid, 1, 1, bias=True)
            count.conv(mid, out, 1, side, bn=True)
            channels = out
    count.conv(channels, 1280, 1, side, bn=True)
    count.linear(1280, 1000, 1)
    return count


def convnext_tiny(side: int = 224) -> Count:
    """Liu et al. 2022: a 4x4/4 stem and layer norm, stages of depths (3, 3, 9, 3) and widths
    (96, 192, 384, 768), each block a 7x7 depthwise convolution, a layer norm, an inverted
    bottleneck (4x) of two linear layers and a layer scale; between stages a layer norm and a
    2x2/2 convolution; a layer norm and a 1000-way fc on the pooled features."""
    depths, widths = (3, 3, 9, 3), (96, 192, 384, 768)
    count = Count()
    side //= 4
    count.conv(3, widths[0], 4, side, bias=True)
    count.norm(widths[0])
    for stage, (depth, width) in enumerate(zip(depths, widths, strict=True)):
        if stage > 0:
            count.norm(widths[stage - 1])
            side //= 2
            count.conv(widths[stage - 1], width, 2, side, bias=True)
        for _ in range(depth):
            count.conv(width, width, 7, side, groups=width, bias=True)
            count.norm(width)
            count.linear(width, 4 * width, side * side)
            count.linear(4 * width, width, side * side)
            count.params += width  # layer scale
    count.norm(widths[-1])
    count.linear(widths[-1], 1000, 1)
    return count


# ------------------------------------------------------------------ transformers


def vit(width: int, depth: int, heads: int, mlp: int, side: int = 224, patch: int = 16,
        classes: int = 1000) -> Count:  # fmt: skip
    """Dosovitskiy et al. 2021: a patch embedding (a PxP/P convolution), a class token and
    learned position embeddings, pre-norm blocks (qkv, projection, a two-layer MLP), a final
    layer norm and a linear classifier on the class token."""
    patches = (side // patch) ** 2
    tokens = patches + 1
    count = Count()
    count.conv(3, width, patch, side // patch, bias=True)
    count.params += width + tokens * width  # class token, position embeddings
    for _ in range(depth):
        count.norm(width)
        count.linear(width, 3 * width, tokens)
        count.attention(heads, tokens, tokens, width // heads)
        count.linear(width, width, tokens)
        count.norm(width)
        count.linear(width, mlp, tokens)
        count.linear(mlp, width, tokens)
    count.norm(width)
    count.linear(width, classes, 1)
    return count


def shipped_config(name: str) -> dict[str, Any]:
    """The sizes of a shipped Hugging Face configuration (the data the models are built
    from; the counting below is this module's own)."""
    path = resources.files("edgegap.workload") / "data" / "hf" / f"{name}.json"
    fields: dict[str, Any] = json.loads(path.read_text("utf-8"))
    return fields


def bert(config: dict[str, Any], length: int = 128) -> Count:
    """Devlin et al. 2019 (BertModel): word, position and token-type embeddings and a layer
    norm; post-norm encoder layers (q, k, v, output, a two-layer feed-forward network, two
    layer norms); the pooler, a linear layer on the first token."""
    d, inner = config["hidden_size"], config["intermediate_size"]
    count = Count()
    count.params += (config["vocab_size"] + config["max_position_embeddings"]
                     + config["type_vocab_size"]) * d  # fmt: skip
    count.norm(d)
    for _ in range(config["num_hidden_layers"]):
        for _projection in range(4):
            count.linear(d, d, length)
        count.attention(config["num_attention_heads"], length, length,
                        d // config["num_attention_heads"])  # fmt: skip
        count.norm(d)
        count.linear(d, inner, length)
        count.linear(inner, d, length)
        count.norm(d)
    count.linear(d, d, 1)
    return count


def distilbert(config: dict[str, Any], length: int = 128) -> Count:
    """Sanh et al. 2019 (DistilBertModel): BERT's layers, half as many, without token types
    and without the pooler."""
    d, inner, heads = config["dim"], config["hidden_dim"], config["n_heads"]
    count = Count()
    count.params += (config["vocab_size"] + config["max_position_embeddings"]) * d
    count.norm(d)
    for _ in range(config["n_layers"]):
        for _projection in range(4):
            count.linear(d, d, length)
        count.attention(heads, length, length, d // heads)
        count.norm(d)
        count.linear(d, inner, length)
        count.linear(inner, d, length)
        count.norm(d)
    return count


def gpt2(config: dict[str, Any], length: int = 128, context: int = 0) -> Count:
    """Radford et al. 2019 (GPT2LMHeadModel): token and position embeddings, pre-norm blocks
    (a fused qkv, a projection, a 4x MLP), a final layer norm, and the language-model head,
    tied to the token embedding (its product counted, its weight not again). `length` tokens
    after `context` cached ones: each attends to all before it and itself (a decode step:
    length 1)."""
    d, heads, vocab = config["n_embd"], config["n_head"], config["vocab_size"]
    count = Count()
    count.params += (vocab + config["n_positions"]) * d
    for _ in range(config["n_layer"]):
        count.norm(d)
        count.linear(d, 3 * d, length)
        count.attention(heads, length, context + length, d // heads)
        count.linear(d, d, length)
        count.norm(d)
        count.linear(d, 4 * d, length)
        count.linear(4 * d, d, length)
    count.norm(d)
    count.macs += length * d * vocab
    return count


def llama(
    config: dict[str, Any], length: int = 128, qkv_bias: bool = False, context: int = 0
) -> Count:
    """Touvron et al. 2023 (LlamaForCausalLM; Qwen2 adds biases to q, k, v): a token
    embedding, pre-RMS-norm blocks of grouped-query attention (kv heads shared by
    heads / kv_heads query heads; rotary position embeddings carry no parameters) and a SwiGLU
    MLP (gate, up, down), a final RMS norm, the language-model head (tied: no new weight)."""
    d, inner, vocab = config["hidden_size"], config["intermediate_size"], config["vocab_size"]
    heads, kv_heads = config["num_attention_heads"], config["num_key_value_heads"]
    head_dim = d // heads
    count = Count()
    count.params += vocab * d
    for _ in range(config["num_hidden_layers"]):
        count.norm(d, 1)
        count.linear(d, heads * head_dim, length, bias=qkv_bias)
        count.linear(d, kv_heads * head_dim, length, bias=qkv_bias)
        count.linear(d, kv_heads * head_dim, length, bias=qkv_bias)
        count.attention(heads, length, context + length, head_dim)
        count.linear(heads * head_dim, d, length, bias=False)
        count.norm(d, 1)
        count.linear(d, inner, length, bias=False)
        count.linear(d, inner, length, bias=False)
        count.linear(inner, d, length, bias=False)
    count.norm(d, 1)
    count.macs += length * d * vocab
    if not config.get("tie_word_embeddings", True):
        count.params += vocab * d
    return count


def qwen3_moe(config: dict[str, Any], length: int = 128, context: int = 0) -> Count:
    """Qwen3's mixture of experts (Qwen3MoeForCausalLM; Qwen3 technical report, Yang et al.
    2025): grouped-query attention of its own head size (`head_dim`) with an RMS norm on each
    head's queries and keys, and in every layer, for the MLP, a router (a linear map to one
    score per expert, no bias) and the token's top-k experts, each a SwiGLU MLP of
    `moe_intermediate_size`: parameters count every expert, MACs the k each token runs."""
    d, vocab = config["hidden_size"], config["vocab_size"]
    heads, kv_heads = config["num_attention_heads"], config["num_key_value_heads"]
    head_dim, inner = config["head_dim"], config["moe_intermediate_size"]
    experts, active = config["num_experts"], config["num_experts_per_tok"]
    count = Count()
    count.params += vocab * d
    for _ in range(config["num_hidden_layers"]):
        count.norm(d, 1)
        count.linear(d, heads * head_dim, length, bias=False)
        count.linear(d, kv_heads * head_dim, length, bias=False)
        count.linear(d, kv_heads * head_dim, length, bias=False)
        count.norm(head_dim, 1)  # q_norm
        count.norm(head_dim, 1)  # k_norm
        count.attention(heads, length, context + length, head_dim)
        count.linear(heads * head_dim, d, length, bias=False)
        count.norm(d, 1)
        count.linear(d, experts, length, bias=False)  # the router
        count.params += experts * 3 * d * inner
        count.macs += length * active * 3 * d * inner
    count.norm(d, 1)
    count.macs += length * d * vocab
    if not config.get("tie_word_embeddings", True):
        count.params += vocab * d
    return count


def gpt_neox(config: dict[str, Any], length: int = 128, context: int = 0) -> Count:
    """Black et al. 2022 (GPTNeoXForCausalLM): a token embedding, pre-norm blocks (layer norms
    with scale and shift) of multi-head attention from one fused q, k, v projection and an output
    projection, all with biases, and a two-layer GELU MLP with biases; a final layer norm and an
    untied output projection without bias. Rotary embeddings carry no parameters."""
    d, inner, vocab = config["hidden_size"], config["intermediate_size"], config["vocab_size"]
    heads = config["num_attention_heads"]
    count = Count()
    count.params += vocab * d
    for _ in range(config["num_hidden_layers"]):
        count.norm(d)
        count.linear(d, 3 * d, length)
        count.attention(heads, length, context + length, d // heads)
        count.linear(d, d, length)
        count.norm(d)
        count.linear(d, inner, length)
        count.linear(inner, d, length)
    count.norm(d)
    count.linear(d, vocab, length, bias=False)
    return count


def nemotron(config: dict[str, Any], length: int = 128, context: int = 0) -> Count:
    """Nemotron-4 (NemotronForCausalLM; Parmar et al. 2024): Llama's grouped-query attention
    without biases, but layer norms with scale and shift (`layernorm1p`) and a two-layer
    squared-ReLU MLP (up, down; no gate); partial rotary embeddings carry no parameters; an
    untied output projection."""
    d, inner, vocab = config["hidden_size"], config["intermediate_size"], config["vocab_size"]
    heads, kv_heads = config["num_attention_heads"], config["num_key_value_heads"]
    head_dim = d // heads
    count = Count()
    count.params += vocab * d
    for _ in range(config["num_hidden_layers"]):
        count.norm(d)
        count.linear(d, heads * head_dim, length, bias=False)
        count.linear(d, kv_heads * head_dim, length, bias=False)
        count.linear(d, kv_heads * head_dim, length, bias=False)
        count.attention(heads, length, context + length, head_dim)
        count.linear(heads * head_dim, d, length, bias=False)
        count.norm(d)
        count.linear(d, inner, length, bias=False)
        count.linear(inner, d, length, bias=False)
    count.norm(d)
    count.linear(d, vocab, length, bias=False)
    return count


def hf_vit(config: dict[str, Any]) -> Count:
    """ViTForImageClassification: the ViT above at the configuration's sizes."""
    return vit(config["hidden_size"], config["num_hidden_layers"],
               config["num_attention_heads"], config["intermediate_size"],
               side=config["image_size"], patch=config["patch_size"],
               classes=config["num_labels"])  # fmt: skip


def qwen2_5_vl_vision(config: dict[str, Any], height: int = 448, width: int = 448) -> Count:
    """Qwen2.5-VL's vision tower (Bai et al. 2025, Qwen2.5-VL technical report, section 2.1):
    an image repeated over the temporal patch and cut into patches (a linear embedding of
    each, no bias), blocks of RMS norms, attention (qkv with biases, rotary positions) within
    windows of merged patches except in the full-attention blocks, a SwiGLU MLP with biases;
    then the merger: an RMS norm, each 2 x 2 block of patches concatenated, a two-layer MLP
    to the language model's width."""
    d, inner, heads = config["hidden_size"], config["intermediate_size"], config["num_heads"]
    patch, merge = config["patch_size"], config["spatial_merge_size"]
    rows, cols = height // patch, width // patch
    patches = rows * cols
    # attention windows: squares of `window_size` pixels, merged patches cut at the edges
    side = config["window_size"] // patch // merge
    merged_rows, merged_cols = rows // merge, cols // merge
    windows = [
        min(side, merged_rows - top) * min(side, merged_cols - left) * merge * merge
        for top in range(0, merged_rows, side)
        for left in range(0, merged_cols, side)
    ]
    count = Count()
    count.linear(config["in_chans"] * config["temporal_patch_size"] * patch * patch, d, patches,
                 bias=False)  # fmt: skip
    for block in range(config["depth"]):
        count.norm(d, 1)
        count.linear(d, 3 * d, patches)
        spans = [patches] if block in config["fullatt_block_indexes"] else windows
        for span in spans:
            count.attention(heads, span, span, d // heads)
        count.linear(d, d, patches)
        count.norm(d, 1)
        count.linear(d, inner, patches)
        count.linear(d, inner, patches)
        count.linear(inner, d, patches)
    count.norm(d, 1)
    tokens, concatenated = patches // merge**2, d * merge**2
    count.linear(concatenated, concatenated, tokens)
    count.linear(concatenated, config["out_hidden_size"], tokens)
    return count


# The sample, by spec: each count at the model's default input (224x224 images, 128 tokens).
SAMPLE: dict[str, Any] = {
    "timm:resnet18": lambda: resnet((2, 2, 2, 2), bottleneck=False),
    "timm:resnet50": lambda: resnet((3, 4, 6, 3), bottleneck=True),
    "timm:efficientnet_b0": efficientnet_b0,
    "timm:convnext_tiny": convnext_tiny,
    "timm:vit_small_patch16_224": lambda: vit(384, 12, 6, 1536),
    "timm:vit_base_patch16_224": lambda: vit(768, 12, 12, 3072),
    "hf:bert-base-uncased": lambda: bert(shipped_config("bert-base-uncased")),
    "hf:distilbert-base-uncased": lambda: distilbert(shipped_config("distilbert-base-uncased")),
    "hf:gpt2": lambda: gpt2(shipped_config("gpt2")),
    "hf:HuggingFaceTB/SmolLM2-135M": lambda: llama(shipped_config("HuggingFaceTB/SmolLM2-135M")),
    "hf:Qwen/Qwen2.5-0.5B": lambda: llama(shipped_config("Qwen/Qwen2.5-0.5B"), qkv_bias=True),
    "hf:google/vit-base-patch16-224": lambda: hf_vit(shipped_config("google/vit-base-patch16-224")),
}
