"""Recipes as data: a YAML list of registered techniques applied in order to a trained model,
every stage measured (test accuracy, exact bytes, executed MACs, energy on a platform).

    - prune: 0.9              # unstructured magnitude pruning, fraction removed (Han 2015)
    - weight-sharing: 5       # k-means weight sharing with trained centroids (Han 2016)
    - huffman                 # Huffman coding of the shared weights and indices

A step is a technique's name (`edgegap techniques` lists them with their parameters), alone
or with its parameters: `- name`, `- name: value` (the technique's main parameter) or
`- name: {param: value, ...}`. Each runs the technique's measured face; the registry checks
every parameter. Bytes are each representation's exact size: sparse relative-index storage
after pruning, codebooks and indices after sharing, the quantizers' packed codes, float32 for
the rest. A quantizer stores dense codes: for sparse quantized storage, share after pruning.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

import torch
import yaml
from torch import nn

from edgegap.errors import UserError
from edgegap.hardware import estimate
from edgegap.hardware.platform import Platform
from edgegap.techniques import Compressed, LayerAnnotation, Setting, annotate, get
from edgegap.techniques.base import shown
from edgegap.techniques.pruning import annotate_density, weights_kept
from edgegap.techniques.storage import dense_bytes
from edgegap.training.datasets import Dataset
from edgegap.training.loop import accuracy
from edgegap.workload import profile


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


# Steps of earlier releases, and the techniques that replaced them.
RENAMED = {
    "quantize": "'weight-sharing: BITS' (k-means sharing) or a quantizer by name: "
    "int8, int4, qat, dynamic-fixed-point, power-of-two, twn, ttq, binaryconnect, xnor",
}


def parse_recipe(text: str, origin: str = "recipe") -> list[Setting]:
    """A YAML list of `technique`, `technique: value` or `technique: {params}` items, each
    checked against the technique's parameters."""
    try:
        items = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or "not YAML"
        raise UserError(f"{origin}{where}: malformed YAML ({problem})") from None
    except RecursionError:  # a YAML bomb of nested lists
        raise UserError(f"{origin}: malformed YAML (nested too deeply for a recipe)") from None
    except (ValueError, TypeError, OverflowError) as error:  # 5000 digits, the 30th of February
        raise UserError(f"{origin}: malformed YAML ({_one_line(str(error), 80)})") from None
    return parse_steps(items, origin)


def parse_steps(items: Any, origin: str = "recipe") -> list[Setting]:
    """A recipe's steps from its YAML items (`parse_recipe`'s), each checked."""
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
        if not isinstance(name, str) or not name.strip():
            raise UserError(f"{origin}: step {index}: the technique's name must be text, got "
                            f"{shown(name)}")  # fmt: skip
        name = _one_line(name, 60)
        try:
            if name in RENAMED:
                raise UserError(f"'{name}' is now {RENAMED[name]}")
            technique = get(str(name))
            if not technique.measured:
                raise UserError(f"{name} is not run for real: it changes the hardware")
            if not isinstance(value, dict):
                if technique.bare is None:
                    raise UserError(f"{name} takes no value; write '- {name}'")
                value = {technique.bare: value}
            steps.append(technique.setting(**{_one_line(str(k), 60): v for k, v in value.items()}))
        except UserError as error:
            raise UserError(f"{origin}: step {index}: {error}") from None
    return steps


def _one_line(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."


def _merged(state: Compressed, result: Compressed, keeps_weights: bool) -> Compressed:
    """The state after a step: its model and annotations (later steps override what they
    change) and its representation's bytes, or, for a technique that leaves the weights as
    they are stored (Winograd, measuring activations), the bytes and codebooks as before."""
    merged = dict(state.annotations)
    for name, note in result.annotations.items():
        old = merged.get(name, LayerAnnotation())
        merged[name] = replace(old, **{k: v for k, v in note.__dict__.items() if v is not None})
    if keeps_weights:
        return replace(state, model=result.model, annotations=merged)
    carried = {k: v for k, v in state.state.items() if k == "index_bits"}  # not codebooks
    return replace(result, annotations=merged, state=carried | result.state)


def run_recipe(
    model: nn.Module,
    model_name: str,
    steps: list[Setting],
    data: Dataset,
    platform: Platform | None = None,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> CompressionResult:
    """Apply `steps` in order to a trained `model` (left as it is), measuring each stage."""
    shape = (1, *data.sample_shape)

    def stage(name: str, state: Compressed) -> Stage:
        if progress is not None:
            progress(name)
        workload = annotate(annotate_density(profile(state.model, shape), state.model),
                            state.annotations)  # fmt: skip
        energy = estimate(workload, platform).totals.energy_j if platform is not None else None
        executed = sum(round(layer.macs * layer.weight_density) for layer in workload.layers)
        return Stage(name, accuracy(state.model, data.x_test, data.y_test),
                     state.storage_bytes, executed, weights_kept(state.model),
                     energy)  # fmt: skip

    torch.manual_seed(seed)
    state = Compressed("dense", copy.deepcopy(model), dense_bytes(model))
    stages = [stage("dense (fp32)", state)]
    for step in steps:
        technique = get(step.technique)
        result = technique.run(state.model, step, data, seed, state)
        state = _merged(state, result, technique.keeps_weights)
        label = f" ({step.label})" if step.label else ""
        stages.append(stage(f"+ {step.technique}{label}", state))
    return CompressionResult(model_name, data.name, platform.name if platform else None, stages)
