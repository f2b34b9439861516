"""`hf:NAME`: Hugging Face `transformers` models built from a configuration, no weights.

NAME is one of the configurations shipped in `data/hf/` (each the model's `config.json` on the
Hugging Face Hub, its `_source` saying which), a path to a `config.json`, or a `model_type`
(`hf:bert`: the library's default configuration of that type). Nothing is downloaded. The
shipped language models also answer to a short name without the prefix (`ALIASES`:
`llama-3.2-1b` is `hf:meta-llama/Llama-3.2-1B`). A vision-language model's language model, what
its decode step runs, ships apart as `ORG/NAME/language_model` (`qwen2.5-vl-3b`); its vision
tower, what turns an image into the language model's tokens before the prefill, is
`ORG/NAME/vision_tower` (`qwen2.5-vl-3b-vision`), built from the model's `vision_config`.

Which model is built follows the configuration's `architectures`: a causal language model
(`...ForCausalLM`, `...LMHeadModel`) with its language-model head, an image classifier
(`...ForImageClassification`) with its classifier, anything else as the bare model
(`AutoModel`: an encoder without its pre-training head). Attention runs through PyTorch's
scaled dot-product attention (`attn_implementation="sdpa"`; "eager" for a model without it,
which counts the same MACs). The cache is off: one forward pass over the whole input.

Inputs: token ids (`input_ids`, int64, 1x128 by default; `--input-shape 1,512` sets the
length) for a text model, `pixel_values` (1 x channels x image_size x image_size) for a vision
one, an image (1 x channels x height x width, 448 x 448 by default) for a vision tower.

transformers is a test dependency (the `dev` extra), not a dependency of edgegap: without it
an `hf:` spec is one line saying how to install it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgegap.errors import UserError, first_line
from edgegap.workload.phases import CACHE_INPUTS, PROMPT_TOKENS
from edgegap.workload.shapes import ModelInput

if TYPE_CHECKING:
    from torch import nn

PREFIX = "hf:"
TEXT_LENGTH = PROMPT_TOKENS  # default tokens per sequence
# Inputs that are integers whatever the user's --input leaves unsaid.
INTEGER_INPUTS = ("input_ids", "token_type_ids", "attention_mask", "position_ids")
_TASKS = {
    "ForCausalLM": "AutoModelForCausalLM",
    "LMHeadModel": "AutoModelForCausalLM",
    "ForImageClassification": "AutoModelForImageClassification",
}


# Short names for the shipped language models, as people write them (`edgegap profile
# llama-3.2-1b`): each stands for `hf:` and the Hub repository its configuration is of. None
# is a torchvision model's name (tests/test_edge_llms.py), which keeps its own meaning.
ALIASES = {
    "llama-3.2-1b": "meta-llama/Llama-3.2-1B",
    "llama-3.2-3b": "meta-llama/Llama-3.2-3B",
    "qwen2.5-0.5b": "Qwen/Qwen2.5-0.5B",
    "qwen2.5-1.5b": "Qwen/Qwen2.5-1.5B",
    "qwen2.5-3b": "Qwen/Qwen2.5-3B",
    "qwen2.5-7b": "Qwen/Qwen2.5-7B",
    "qwen3-30b-a3b": "Qwen/Qwen3-30B-A3B",
    "phi-3.5-mini": "microsoft/Phi-3.5-mini-instruct",
    "gemma-2-2b": "google/gemma-2-2b",
    "smollm2-135m": "HuggingFaceTB/SmolLM2-135M",
    "smollm2-360m": "HuggingFaceTB/SmolLM2-360M",
    "smollm2-1.7b": "HuggingFaceTB/SmolLM2-1.7B",
    "mistral-7b-v0.3": "mistralai/Mistral-7B-v0.3",
    "llama-2-7b": "meta-llama/Llama-2-7b-hf",
    "llama-2-13b": "meta-llama/Llama-2-13b-hf",
    "llama-2-70b": "meta-llama/Llama-2-70b-hf",
    "llama-3.1-8b": "meta-llama/Llama-3.1-8B",
    "gemma-2-9b": "google/gemma-2-9b",
    "redpajama-3b": "togethercomputer/RedPajama-INCITE-Chat-3B-v1",
    "nemotron-mini-4b": "nvidia/Nemotron-Mini-4B-Instruct",
    "qwen2.5-vl-3b": "Qwen/Qwen2.5-VL-3B-Instruct/language_model",
    "qwen2.5-vl-3b-vision": "Qwen/Qwen2.5-VL-3B-Instruct/vision_tower",
}
# A vision-language model's language model, where it ships apart (`Qwen/Qwen2.5-VL-3B-Instruct/
# language_model`): what a decode step of the whole model runs.
LANGUAGE_MODEL = "language_model"
# A vision-language model's vision tower (`Qwen/Qwen2.5-VL-3B-Instruct/vision_tower`): its
# configuration's `vision_config`, the part that encodes an image.
VISION_TOWER = "vision_tower"
# A vision tower's default image: 448 x 448 is a size Qwen2.5-VL's processor keeps as it is (a
# multiple of its 28-pixel merged patch, within its pixel bounds): 1,024 patches of 14 x 14,
# 256 tokens for the language model. A choice of an example, not a published figure.
IMAGE_SIDE = 448


def aliased(name: str) -> str | None:
    """The `hf:` spec a short name stands for (`llama-3.2-1b`, any case), or None."""
    repo = ALIASES.get(name.lower())
    return f"{PREFIX}{repo}" if repo else None


def _transformers() -> Any:
    try:
        import transformers
    except ImportError:
        raise UserError(
            "hf: models need the transformers package: pip install transformers "
            "(edgegap's dev extra pins it)"
        ) from None
    return transformers


@cache
def shipped() -> dict[str, str]:
    """The shipped configurations: model name (`Qwen/Qwen2.5-0.5B`) -> JSON text."""
    root = resources.files("edgegap.workload") / "data" / "hf"
    found: dict[str, str] = {}

    def walk(folder: Any, prefix: str) -> None:
        for entry in folder.iterdir():
            if entry.is_dir():
                walk(entry, f"{prefix}{entry.name}/")
            elif entry.name.endswith(".json"):
                found[prefix + entry.name.removesuffix(".json")] = entry.read_text("utf-8")

    walk(root, "")
    return dict(sorted(found.items()))


@dataclass(frozen=True)
class HfSpec:
    """A resolved `hf:` spec: the configuration's fields and where they come from."""

    name: str
    fields: dict[str, Any]
    source: str

    @property
    def model_type(self) -> str:
        return str(self.fields["model_type"])


def _read_fields(text: str, where: str) -> dict[str, Any]:
    try:
        fields = json.loads(text)
    except json.JSONDecodeError as error:
        raise UserError(f"malformed config {where}: {error}") from None
    if not isinstance(fields, dict):
        raise UserError(f"malformed config {where}: a JSON object of fields is expected")
    if not isinstance(fields.get("model_type"), str):
        raise UserError(f"config {where} has no model_type: it names the architecture")
    return fields


def resolve(name: str) -> HfSpec:
    """The configuration `name` stands for: shipped, a file, or a model_type's default."""
    configs = shipped()
    if name in configs:
        fields = _read_fields(configs[name], f"data/hf/{name}.json")
        source = str(fields.get("_source", ""))
        return HfSpec(name, fields, source)
    parent, _, part = name.rpartition("/")
    if part == VISION_TOWER and parent in configs:
        return _vision_tower(resolve(parent))
    if name.endswith(".json"):
        path = Path(name)
        if not path.is_file():
            raise UserError(f"no config file at {path}")
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise UserError(f"cannot read config {path}: {first_line(error)}") from None
        return HfSpec(name, _read_fields(text, str(path)), str(path))
    transformers = _transformers()
    mapping = transformers.models.auto.configuration_auto.CONFIG_MAPPING
    if name in mapping:
        return HfSpec(name, {"model_type": name}, f"transformers' default {name} config")
    import difflib

    close = difflib.get_close_matches(name, [*configs, *mapping.keys()], n=3, cutoff=0.6)
    hint = f"did you mean {', '.join(close)}? " if close else ""
    raise UserError(
        f"unknown Hugging Face model '{name}': {hint}give one of {', '.join(configs)}, a path "
        "to a config.json, or a model_type such as bert"
    )


def _vision_tower(model: HfSpec) -> HfSpec:
    """The vision tower of the vision-language `model`: its `vision_config`, typed as
    transformers types that sub-configuration of `model`'s configuration."""
    fields = model.fields.get("vision_config")
    if not isinstance(fields, dict):
        raise UserError(f"hf:{model.name} has no vision_config: it has no {VISION_TOWER}")
    transformers = _transformers()
    parent = transformers.AutoConfig.for_model(model.model_type)
    kind = parent.sub_configs["vision_config"].model_type
    source = f"the vision_config of {model.name} ({model.source})"
    return HfSpec(f"{model.name}/{VISION_TOWER}", {**fields, "model_type": kind}, source)


def config_of(spec: HfSpec, input_shape: tuple[int, ...] | None = None) -> Any:
    """The transformers configuration, checked by transformers' own validation; a vision
    model's `image_size` set to the input's (its position embeddings follow it)."""
    transformers = _transformers()
    fields = {k: v for k, v in spec.fields.items() if not k.startswith("_")}
    model_type = fields.pop("model_type")
    try:
        config = transformers.AutoConfig.for_model(model_type, **fields)
    except Exception as error:  # an unknown model_type, a field of the wrong type
        raise UserError(
            f"config {spec.name} is not a valid {model_type} config: {first_line(error)}"
        ) from None
    config.use_cache = False
    if input_shape is not None and is_vision(config) and len(input_shape) == 4:
        config.image_size = input_shape[-1]
    return config


def is_vision(config: Any) -> bool:
    return hasattr(config, "image_size") and hasattr(config, "num_channels")


def is_patch_tower(config: Any) -> bool:
    """A vision tower fed an image as a sequence of patches and its patch grid (Qwen2-VL's
    and Qwen2.5-VL's), not as an image tensor."""
    return hasattr(config, "temporal_patch_size") and hasattr(config, "spatial_merge_size")


def default_inputs(spec: HfSpec) -> list[ModelInput]:
    config = config_of(spec)
    if is_patch_tower(config):
        return [ModelInput((1, config.in_chans, IMAGE_SIDE, IMAGE_SIDE), "pixel_values")]
    if is_vision(config):
        side = config.image_size
        side = side if isinstance(side, int) else side[0]
        return [ModelInput((1, config.num_channels, side, side), "pixel_values")]
    return [ModelInput((1, TEXT_LENGTH), "input_ids", "int64")]


def inputs_for(spec: HfSpec, given: list[ModelInput] | None) -> list[ModelInput]:
    """What to run: the defaults; an input shape as the token ids' (text) or the pixels'
    (vision); named inputs as given, token ids and masks as int64 where no dtype is said."""
    if given is None:
        return default_inputs(spec)
    default = default_inputs(spec)[0]
    chosen = []
    for each in given:
        if each.name is None and len(given) == 1:
            each = ModelInput(each.shape, default.name, each.dtype or default.dtype)
        elif each.dtype is None and each.name in INTEGER_INPUTS:
            each = ModelInput(each.shape, each.name, "int64")
        chosen.append(each)
    return chosen


def _generating(spec: HfSpec, phase: str) -> Any:
    """`spec`'s configuration, checked to be a causal language model's (the kind that
    generates token by token) before a generation `phase` of it is profiled."""
    config = config_of(spec)
    if _auto_class(config).__name__ != "AutoModelForCausalLM":
        part = f"{spec.name}/{LANGUAGE_MODEL}"
        hint = f"; its language model is hf:{part}" if part in shipped() else ""
        raise UserError(
            f"hf:{spec.name} is not built as a causal language model (its config's "
            f"architectures name no ...ForCausalLM or ...LMHeadModel): it has no {phase}{hint}"
        )
    return config


def _cached_tokens(config: Any, context: int) -> list[int]:
    """The tokens each layer's cache holds after `context` of them, as transformers' own
    cache for `config` keeps them: all, or for a sliding-window layer the window less the
    token being decoded (its DynamicSlidingWindowLayer keeps `sliding_window - 1`)."""
    from transformers import DynamicCache

    held = []
    for layer in DynamicCache(config=config).layers:
        window = getattr(layer, "sliding_window", None)
        held.append(min(context, int(window) - 1) if window else context)
    return held


def prefill_inputs(spec: HfSpec, tokens: int, batch: int = 1) -> list[ModelInput]:
    """A prefill's input: the prompt's token ids."""
    _generating(spec, "prefill")
    return [ModelInput((batch, tokens), "input_ids", "int64")]


def decode_inputs(spec: HfSpec, context: int, batch: int = 1) -> list[ModelInput]:
    """One decode step's inputs: the next token's id per sequence, and the KV cache of the
    `context` tokens before it, layer by layer (batch x key-value heads x tokens x head
    size: grouped- and multi-query attention keep fewer heads than they query)."""
    config = _generating(spec, "decode step")
    heads = config.num_attention_heads
    kv_heads = getattr(config, "num_key_value_heads", None) or heads
    head_size = getattr(config, "head_dim", None) or config.hidden_size // heads
    dtype = getattr(config, "dtype", None) or "float32"
    dtype = str(dtype).removeprefix("torch.")
    inputs = [ModelInput((batch, 1), "input_ids", "int64")]
    for layer, tokens in enumerate(_cached_tokens(config, context)):
        shape = (batch, kv_heads, tokens, head_size)
        inputs += [ModelInput(shape, f"{part}_{layer}", dtype) for part in CACHE_INPUTS]
    return inputs


@contextmanager
def cache_assembled(model: nn.Module, context: int) -> Iterator[None]:
    """While tracing, the model's call assembles its `CACHE_INPUTS` into the cache
    transformers reads, outside the count (`tracer.assembling`): the step reads a cache that
    was there before it. The cache is preallocated and the new token's keys and values are
    written in place (transformers' StaticCache), as edge runtimes keep it (llama.cpp,
    ExecuTorch): a step reads the cache and writes one token, where transformers' default
    DynamicCache would also copy the whole cache once per step."""
    import torch
    from transformers import StaticCache

    from edgegap.workload.tracer import assembling

    config: Any = model.config

    def assemble(module: nn.Module, args: Any, kwargs: dict[str, Any]) -> Any:
        cache = StaticCache(config=config, max_cache_len=context + 1)
        ids = kwargs["input_ids"]
        with assembling():
            for layer in range(config.num_hidden_layers):
                keys, values = (kwargs.pop(f"{part}_{layer}") for part in CACHE_INPUTS)
                held = torch.arange(keys.shape[2], device=keys.device)
                cache.update(keys, values, layer, {"cache_position": held})
            position = torch.full((1,), context, dtype=torch.int64, device=ids.device)
        return args, {**kwargs, "cache": cache, "cache_position": position, "use_cache": True}

    handle = model.register_forward_pre_hook(assemble, with_kwargs=True)
    try:
        yield
    finally:
        handle.remove()


def _auto_class(config: Any) -> Any:
    transformers = _transformers()
    for architecture in getattr(config, "architectures", None) or []:
        for suffix, auto in _TASKS.items():
            if architecture.endswith(suffix):
                return getattr(transformers, auto)
    return transformers.AutoModel


def build(spec: HfSpec, inputs: list[ModelInput], empty: bool = True) -> nn.Module:
    """The model of `spec` for `inputs`, random weights (`empty`: on the meta device), in eval
    mode."""
    from edgegap.workload import zoo

    shape = inputs[0].shape if inputs else None
    config = config_of(spec, shape)
    auto = _auto_class(config)

    def create(attention: str) -> nn.Module:
        def make() -> nn.Module:
            model: nn.Module = auto.from_config(config, attn_implementation=attention)
            return model

        return zoo.build_empty(make) if empty else make()

    try:
        try:
            model = create("sdpa")
        except ValueError as refused:  # no sdpa for this architecture: the eager products
            if "attention" not in str(refused).lower():
                raise
            model = create("eager")
    except Exception as error:
        raise UserError(f"hf:{spec.name} cannot be built: {first_line(error)}") from None
    if is_patch_tower(config):
        from edgegap.workload.patch_tower import PatchTower

        model = PatchTower(model, config, f"hf:{spec.name}", shape)
    return model.eval()


@contextmanager
def one_sequence_per_row() -> Iterator[None]:
    """While tracing, answer transformers' check for packed sequences (several sequences in
    one row, told apart by their position ids) with what edgegap's inputs are: one sequence
    per row, positions 0..L-1. The check reads the position ids' values (`.all()`), which the
    meta device has not; its answer for such positions is None, no packing."""
    try:
        from transformers import masking_utils
    except ImportError:
        yield
        return
    original = getattr(masking_utils, "find_packed_sequence_indices", None)
    if original is None:
        yield
        return

    def no_packing(position_ids: Any) -> None:
        return None

    masking_utils.find_packed_sequence_indices = no_packing
    try:
        yield
    finally:
        masking_utils.find_packed_sequence_indices = original
