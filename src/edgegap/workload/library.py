"""Models from outside torchvision, by spec string: `timm:NAME[.TAG]` (`timm_models`) and
`hf:NAME` (`hf_models`). Parsing and dispatch live here; `profile()` and the CLI reach both
libraries through `is_library_spec`, `default_inputs` and `profile_spec`.

The two prefixes are taken before `package.module:callable`: `timm:resnet50` is timm's
resnet50, not a callable `resnet50` in a module `timm`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from edgegap.errors import UserError
from edgegap.workload.shapes import ModelInput

if TYPE_CHECKING:
    from torch import nn

    from edgegap.workload.detection import HeadCounts
    from edgegap.workload.layer import Workload
    from edgegap.workload.real_tensors import RealRunLimits

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


def _split(spec: str) -> tuple[str, str]:
    prefix, _, name = spec.partition(":")
    if not name.strip():
        example = "timm:resnet50" if prefix == "timm" else "hf:gpt2"
        raise UserError(f"give a model after '{prefix}:', e.g. {example}")
    return prefix, name.strip()


def resolve(spec: str, given: list[ModelInput] | None = None) -> LibraryModel:
    """The model `spec` names, to be run on `given` (None: its default inputs). A name the
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
    inputs = hf_models.inputs_for(resolved, given)
    return LibraryModel(spec, inputs, lambda empty: hf_models.build(resolved, inputs, empty), "hf")


def default_inputs(spec: str) -> list[ModelInput]:
    """The inputs a library model is profiled on by default (batch 1)."""
    return resolve(spec).inputs


def profile_spec(
    spec: str,
    given: list[ModelInput] | None,
    dtype: str | None,
    label: str,
    counts: HeadCounts,
    source: str,
    limits: RealRunLimits | None = None,
) -> Workload:
    """Profile a library model on the meta device; where the meta device refuses an operator,
    on real tensors on the CPU (the workload's notes say which path ran)."""
    from edgegap.workload.profile import profile_module
    from edgegap.workload.real_tensors import profile_built

    model = resolve(spec, given)
    chosen = model.inputs

    def traced(built: nn.Module) -> Workload:
        if model.library != "hf":
            return profile_module(built, chosen, dtype, label, counts, source)
        from edgegap.workload.hf_models import one_sequence_per_row

        with one_sequence_per_row():
            return profile_module(built, chosen, dtype, label, counts, source)

    return profile_built(model.build, traced, label, limits)
