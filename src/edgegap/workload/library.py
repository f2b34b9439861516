"""Models from outside torchvision, by spec string: `timm:NAME[.TAG]` (`timm_models`) and
`hf:NAME` (`hf_models`). Parsing and dispatch live here; `profile()` and the CLI reach both
libraries through `is_library_spec`, `resolve`, `default_inputs` and `tracing`.

The two prefixes are taken before `package.module:callable`: `timm:resnet50` is timm's
resnet50, not a callable `resnet50` in a module `timm`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING

from edgegap.errors import UserError
from edgegap.workload.phases import Phase
from edgegap.workload.shapes import ModelInput

if TYPE_CHECKING:
    from torch import nn

LIBRARIES = {"timm": "timm", "hf": "Hugging Face transformers"}


def is_library_spec(spec: str) -> bool:
    prefix, colon, _ = spec.partition(":")
    return bool(colon) and prefix in LIBRARIES


@dataclass(frozen=True)
class LibraryModel:
    """A resolved library spec: its inputs and how to build it for them."""

    spec: str
    inputs: list[ModelInput]
    build: Callable[[bool], nn.Module]  # empty (meta weights) or with random CPU weights
    library: str
    context: int = 0  # a decode step's, on the KV cache of this many tokens (`decode_inputs`)


def _split(spec: str) -> tuple[str, str]:
    prefix, _, name = spec.partition(":")
    if not name.strip():
        example = "timm:resnet50" if prefix == "timm" else "hf:gpt2"
        raise UserError(f"give a model after '{prefix}:', e.g. {example}")
    return prefix, name.strip()


def resolve(
    spec: str, given: list[ModelInput] | None = None, phase: Phase | None = None
) -> LibraryModel:
    """The model `spec` names, to be run on `given` (None: its default inputs), or for a
    language model (`hf:`, which `profile` checks) on one generation `phase`. A name the
    library does not know, or a configuration it refuses, is one line."""
    prefix, name = _split(spec)
    if prefix == "timm":
        from edgegap.workload import timm_models

        if given is None:
            inputs = [ModelInput(timm_models.default_input_shape(name))]
        else:
            timm_models.check_name(name)
            inputs = given
        shape = inputs[0].shape
        return LibraryModel(
            spec, inputs, lambda empty: timm_models.build(name, shape, empty), "timm"
        )
    from edgegap.workload import hf_models

    resolved = hf_models.resolve(name)
    if phase is None:
        inputs = hf_models.inputs_for(resolved, given)
    elif phase.kind == "decode":
        inputs = hf_models.decode_inputs(resolved, phase.context, phase.batch)
    else:
        inputs = hf_models.prefill_inputs(resolved, phase.tokens, phase.batch)

    def build(empty: bool) -> nn.Module:
        return hf_models.build(resolved, inputs[:1], empty)

    context = phase.context if phase is not None and phase.kind == "decode" else 0
    return LibraryModel(spec, inputs, build, "hf", context)


def default_inputs(spec: str) -> list[ModelInput]:
    """The inputs a library model is profiled on by default (batch 1)."""
    return resolve(spec).inputs


@contextmanager
def tracing(model: LibraryModel, built: nn.Module) -> Iterator[None]:
    """What a trace of `model` (`built`) runs inside: for a Hugging Face model, transformers'
    packing check answered for edgegap's inputs (`hf_models.one_sequence_per_row`), and for a
    decode step its KV cache assembled from its inputs (`hf_models.cache_assembled`)."""
    if model.library != "hf":
        yield
        return
    from edgegap.workload import hf_models

    with (
        hf_models.one_sequence_per_row(),
        hf_models.cache_assembled(built, model.context) if model.context else nullcontext(),
    ):
        yield
