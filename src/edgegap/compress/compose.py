"""Recipes as data: a YAML list of techniques applied in order to a trained model, every
stage measured (test accuracy, exact bytes, executed MACs, energy on a platform).

    - prune: 0.9              # unstructured magnitude pruning, fraction removed (Han 2015)
    - quantize: {bits: 5}     # k-means weight sharing with trained centroids (Han 2016)
    - huffman                 # Huffman coding of the shared weights and indices

Steps and their parameters (all optional but the first value shown):
- `prune: S` or `{sparsity, steps, epochs, lr, weight_decay, index_bits}`: iterative
  magnitude pruning with retraining; sparsity one value or `{layer: value}`;
- `prune-channels: K` or `{keep, criterion: l1|activation, epochs}`: structured pruning;
- `quantize: {bits, epochs}`: weight sharing, bits one value or `{layer: bits}`;
  `quantize: {method, ...}`: a quantizer by name
  (int8, int4, qat, dynamic-fixed-point, power-of-two, twn, ttq, binaryconnect, xnor) with its
  parameters; `data` and `epochs` are passed to those that train;
- `huffman`: after weight sharing;
- `low-rank: {energy}` or `{max_drop_pp}`; `circulant: {block_size, epochs}`;
- `winograd: {tile}`; `activation-sparsity`.

Bytes are each representation's exact size: sparse relative-index storage after pruning,
codebooks and indices after sharing, the quantizers' packed codes, float32 for the rest.
A quantizer stores dense codes: for sparse quantized storage, share after pruning.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any, NamedTuple

import torch
import yaml
from torch import nn

from edgegap.compress.activations import measure_activation_sparsity
from edgegap.compress.circulant import circulant_linear
from edgegap.compress.datasets import Dataset
from edgegap.compress.lowrank import low_rank, rank_for_accuracy_budget
from edgegap.compress.pruning import annotate_density, prunable, prune_iteratively, weights_kept
from edgegap.compress.quantization import quantize
from edgegap.compress.sharing import (
    SharedLayer,
    compressed_bytes,
    dense_bytes,
    fine_tune_centroids,
    pruned_bytes,
    share_weights,
)
from edgegap.compress.structured import prune_channels
from edgegap.compress.training import accuracy
from edgegap.compress.transform import Compressed, LayerAnnotation, annotate
from edgegap.compress.winograd import winograd_transform
from edgegap.errors import UserError
from edgegap.hardware import estimate
from edgegap.hardware.platform import Platform
from edgegap.workload import profile

INDEX_BITS = 5  # Deep Compression's relative-index width for fc layers
TRAINING_QUANTIZERS = {"qat", "ttq", "binaryconnect", "xnor", "twn"}


@dataclass(frozen=True)
class Stage:
    name: str
    accuracy: float
    bytes: int
    macs: int
    weights_kept: float
    energy_j: float | None


@dataclass(frozen=True)
class CompressionResult:
    model: str
    dataset: str
    platform: str | None
    stages: list[Stage]

    @property
    def compression_ratio(self) -> float:
        return self.stages[0].bytes / self.stages[-1].bytes

    @property
    def accuracy_drop_pp(self) -> float:
        return 100 * (self.stages[0].accuracy - self.stages[-1].accuracy)

    def to_dict(self) -> dict[str, Any]:
        baseline = asdict(self.stages[0])
        return {
            "model": self.model,
            "dataset": self.dataset,
            "platform": self.platform,
            "baseline": {k: baseline[k] for k in ("accuracy", "bytes", "macs", "energy_j")},
            "stages": [asdict(stage) for stage in self.stages],
            "compression_ratio": self.compression_ratio,
            "accuracy_drop_pp": self.accuracy_drop_pp,
        }


@dataclass(frozen=True)
class RecipeStep:
    technique: str
    params: dict[str, Any]


@dataclass
class _State:
    """The model as the recipe has left it, and how its weights are stored."""

    model: nn.Module
    bytes: int
    annotations: dict[str, LayerAnnotation] = field(default_factory=dict)
    shared: dict[str, SharedLayer] | None = None
    index_bits: int = INDEX_BITS


def parse_recipe(text: str, origin: str = "recipe") -> list[RecipeStep]:
    """A YAML list of `technique` or `technique: value` / `technique: {params}` items."""
    try:
        items = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or "not YAML"
        raise UserError(f"{origin}{where}: malformed YAML ({problem})") from None
    if not isinstance(items, list) or not items:
        raise UserError(f"{origin}: a recipe is a YAML list of steps, e.g. '- prune: 0.9'")
    steps = []
    for index, item in enumerate(items, 1):
        value: Any
        if isinstance(item, str):
            name, value = item, {}
        elif isinstance(item, dict) and len(item) == 1:
            name, value = next(iter(item.items()))
        else:
            raise UserError(f"{origin}: step {index} must be a name or one 'name: params' pair")
        if name not in STEPS:
            raise UserError(f"{origin}: step {index}: unknown technique '{name}': use one of "
                            f"{', '.join(STEPS)}")  # fmt: skip
        spec = STEPS[name]
        if isinstance(value, dict):
            params = value
        elif spec.bare:
            params = {spec.bare: value}
        else:
            raise UserError(f"{origin}: step {index}: {name} takes no value; write '- {name}'")
        unknown = sorted(set(params) - spec.allowed) if spec.allowed is not None else []
        if unknown:
            known = ", ".join(sorted(spec.allowed or ())) or "none"
            raise UserError(f"{origin}: step {index}: {name} has no parameter "
                            f"{', '.join(unknown)}: it takes {known}")  # fmt: skip
        steps.append(RecipeStep(str(name), params))
    return steps


def _number(params: dict[str, Any], key: str, default: float, low: float, high: float) -> float:
    """A numeric parameter within [low, high], or a one-line error naming it."""
    value = params.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise UserError(f"{key} must be a number in [{low:g}, {high:g}], got {value!r}")
    return float(value)


def _technique_bytes(result: Compressed, state: _State, keeps_weights: bool = False) -> _State:
    """The state after a technique: its model and annotations (later steps override what
    they change) and its representation's bytes, or, for a technique that leaves the weights
    as they are stored (Winograd, measuring activations), the bytes and codebooks as before."""
    merged = dict(state.annotations)
    for name, note in result.annotations.items():
        old = merged.get(name, LayerAnnotation())
        merged[name] = replace(old, **{k: v for k, v in note.__dict__.items() if v is not None})
    if keeps_weights:
        return replace(state, model=result.model, annotations=merged)
    return _State(result.model, result.storage_bytes, merged, None, state.index_bits)


def _per_layer(
    params: dict[str, Any], key: str, default: float, low: float, high: float, layers: list[str]
) -> dict[str, float]:
    """One value for every layer, or a {layer: value} mapping (layers left out get none)."""
    value = params.get(key, default)
    if isinstance(value, dict):
        unknown = sorted(set(value) - set(layers))
        if unknown:
            raise UserError(f"{key}: no layer {', '.join(map(str, unknown))}; the model has "
                            f"{', '.join(layers)}")  # fmt: skip
        return {str(k): _number({key: v}, key, default, low, high) for k, v in value.items()}
    return dict.fromkeys(layers, _number(params, key, default, low, high))


def _prune(state: _State, data: Dataset, params: dict[str, Any], seed: int) -> _State:
    model = copy.deepcopy(state.model)
    targets = _per_layer(params, "sparsity", 0.9, 0.01, 0.99, list(prunable(model)))
    steps = int(_number(params, "steps", 3, 1, 100))
    epochs = int(_number(params, "epochs", 1, 0, 1000))
    index_bits = int(_number(params, "index_bits", INDEX_BITS, 1, 16))
    prune_iteratively(model, data, targets, steps=steps, epochs_per_step=epochs,
                      lr=_number(params, "lr", 5e-4, 1e-7, 1), seed=seed,
                      weight_decay=_number(params, "weight_decay", 0, 0, 1))  # fmt: skip
    return _State(model, pruned_bytes(model, index_bits), state.annotations, None, index_bits)


def _quantize(state: _State, data: Dataset, params: dict[str, Any], seed: int) -> _State:
    params = dict(params)
    method = params.pop("method", None)
    if method is None:
        unknown = sorted(set(params) - {"bits", "epochs"})
        if unknown:
            raise UserError(f"quantize without a method shares weights: it takes bits and "
                            f"epochs, not {', '.join(unknown)}")  # fmt: skip
        model = copy.deepcopy(state.model)
        bits = {k: int(v) for k, v in _per_layer(params, "bits", 5, 1, 16,
                                                 list(prunable(model))).items()}  # fmt: skip
        shared = share_weights(model, bits)
        epochs = int(_number(params, "epochs", 1, 0, 1000))
        fine_tune_centroids(model, shared, data, epochs, seed=seed)
        notes = {name: LayerAnnotation(weight_bits=bits[name]) for name in shared}
        size = compressed_bytes(model, shared, state.index_bits, huffman=False)
        state = _technique_bytes(Compressed("weight-sharing", model, size, notes), state)
        return replace(state, shared=shared)
    if method in TRAINING_QUANTIZERS:
        params |= {"data": data, "seed": seed, "epochs": int(params.get("epochs", 1))}
    return _technique_bytes(quantize(state.model, str(method), **params), state)


def _huffman(state: _State, data: Dataset, params: dict[str, Any], seed: int) -> _State:
    if state.shared is None:
        raise UserError("huffman codes shared weights: put 'quantize: {bits: N}' before it")
    size = compressed_bytes(state.model, state.shared, state.index_bits, huffman=True)
    return replace(state, bytes=size)


def _low_rank(state: _State, data: Dataset, params: dict[str, Any], seed: int) -> _State:
    if "max_drop_pp" in params:
        budget = _number(params, "max_drop_pp", 1, 0, 100)
        result = rank_for_accuracy_budget(state.model, data, budget)
    else:
        result = low_rank(state.model, energy=_number(params, "energy", 0.9, 0.01, 1))
    return _technique_bytes(result, state)


def _prune_channels(state: _State, data: Dataset, params: dict[str, Any], seed: int) -> _State:
    keep, criterion = _number(params, "keep", 0.5, 0.01, 1), str(params.get("criterion", "l1"))
    epochs = int(_number(params, "epochs", 1, 0, 1000))
    result = prune_channels(state.model, keep, criterion, data, epochs, seed)
    return _technique_bytes(result, state)


def _circulant(state: _State, data: Dataset, params: dict[str, Any], seed: int) -> _State:
    block = int(_number(params, "block_size", 8, 1, 4096))
    epochs = int(_number(params, "epochs", 1, 0, 1000))
    result = circulant_linear(state.model, block, data, epochs, seed=seed)
    return _technique_bytes(result, state)


def _winograd(state: _State, data: Dataset, params: dict[str, Any], seed: int) -> _State:
    tile = int(_number(params, "tile", 2, 2, 4))
    return _technique_bytes(winograd_transform(state.model, tile), state, keeps_weights=True)


def _activation_sparsity(state: _State, data: Dataset, params: dict[str, Any], seed: int) -> _State:
    result = measure_activation_sparsity(state.model, data.x_val)
    return _technique_bytes(result, state, keeps_weights=True)


Apply = Callable[[_State, Dataset, dict[str, Any], int], _State]


class _Spec(NamedTuple):
    bare: str  # the parameter a bare value sets ("" for none)
    allowed: frozenset[str] | None  # None: checked by the technique (a quantizer's own)
    apply: Apply


STEPS: dict[str, _Spec] = {
    "prune": _Spec(
        "sparsity",
        frozenset({"sparsity", "steps", "epochs", "lr", "weight_decay", "index_bits"}),
        _prune,
    ),
    "prune-channels": _Spec("keep", frozenset({"keep", "criterion", "epochs"}), _prune_channels),
    "quantize": _Spec("bits", None, _quantize),
    "huffman": _Spec("", frozenset(), _huffman),
    "low-rank": _Spec("energy", frozenset({"energy", "max_drop_pp"}), _low_rank),
    "circulant": _Spec("block_size", frozenset({"block_size", "epochs"}), _circulant),
    "winograd": _Spec("tile", frozenset({"tile"}), _winograd),
    "activation-sparsity": _Spec("", frozenset(), _activation_sparsity),
}


def run_recipe(
    model: nn.Module,
    model_name: str,
    steps: list[RecipeStep],
    data: Dataset,
    platform: Platform | None = None,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> CompressionResult:
    """Apply `steps` in order to a trained `model` (left as it is), measuring each stage."""
    shape = (1, *data.sample_shape)

    def stage(name: str, state: _State) -> Stage:
        if progress is not None:
            progress(name)
        workload = annotate(annotate_density(profile(state.model, shape), state.model),
                            state.annotations)  # fmt: skip
        energy = estimate(workload, platform).totals.energy_j if platform is not None else None
        executed = sum(round(layer.macs * layer.weight_density) for layer in workload.layers)
        return Stage(name, accuracy(state.model, data.x_test, data.y_test), state.bytes,
                     executed, weights_kept(state.model), energy)  # fmt: skip

    torch.manual_seed(seed)
    state = _State(copy.deepcopy(model), dense_bytes(model))
    stages = [stage("dense (fp32)", state)]
    for step in steps:
        try:
            state = STEPS[step.technique].apply(state, data, step.params, seed)
        except (TypeError, ValueError) as error:
            raise UserError(f"{step.technique}: bad parameters {step.params} ({error})") from None
        label = ", ".join(
            f"{k}={'per layer' if isinstance(v, dict) else v}" for k, v in step.params.items()
        )
        stages.append(stage(f"+ {step.technique}" + (f" ({label})" if label else ""), state))
    return CompressionResult(model_name, data.name, platform.name if platform else None, stages)
