"""`profile`: any model (a module, a torchvision name, `module:callable`, an ONNX file) to a
Workload."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from edgegap.errors import UserError, first_line
from edgegap.workload.layer import Workload
from edgegap.workload.phases import Phase
from edgegap.workload.shapes import (
    ModelInput,
    check_inputs,
    check_shape,
    dtype_to_bits,
    parse_input,
)

if TYPE_CHECKING:  # torch is imported by the functions that trace: `import edgegap` stays light
    import torch
    from torch import nn

    from edgegap.workload.detection import HeadCounts
    from edgegap.workload.real_tensors import RealRunLimits


def load_callable(spec: str, empty: bool = True) -> nn.Module:
    """Import `package.module:callable` and call it (with empty weights, or with `empty=False`
    with the weights it makes) to get a module.

    Importing and calling run the user's code: whatever it raises becomes one line naming
    `spec` and the exception."""
    from torch import nn

    from edgegap.workload import zoo

    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise UserError(f"give the builder as package.module:callable, not '{spec}'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise UserError(f"cannot import '{module_name}' from '{spec}': {error}") from None
    except Exception as error:  # the module's own code failed (a syntax error, a raise)
        raise UserError(
            f"cannot import '{module_name}' from '{spec}': {first_line(error)}"
        ) from None
    builder = getattr(module, attr, None)
    if not callable(builder):
        raise UserError(f"'{module_name}' has no callable '{attr}': check the name in '{spec}'")
    required = _required_parameters(builder)
    if required:
        raise UserError(
            f"'{spec}' needs arguments ({', '.join(required)}): give a callable that takes "
            "none, e.g. a function that calls it with yours"
        )
    try:
        model = zoo.build_empty(builder) if empty else builder()
    except Exception as error:  # the user's builder raised
        raise UserError(f"'{spec}' failed to build the model: {first_line(error)}") from None
    if not isinstance(model, nn.Module):
        raise UserError(
            f"'{spec}' returned {type(model).__name__}, not a torch.nn.Module: "
            "make the callable return the model"
        )
    return model


def _required_parameters(builder: Callable[..., object]) -> list[str]:
    """The names of the parameters a call without arguments would leave unbound."""
    try:
        signature = inspect.signature(builder)
    except (TypeError, ValueError):  # no signature to read (a builtin): let the call decide
        return []
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD,
             inspect.Parameter.KEYWORD_ONLY)  # fmt: skip
    return [
        name
        for name, parameter in signature.parameters.items()
        if parameter.kind in kinds and parameter.default is inspect.Parameter.empty
    ]


def _torch_dtype(name: str) -> torch.dtype:
    """The torch element type of an input dtype name (`shapes.INPUT_DTYPES`)."""
    import torch

    dtype = getattr(torch, name)
    assert isinstance(dtype, torch.dtype)
    return dtype


def _examples(
    model: nn.Module, inputs: Sequence[ModelInput], on_meta: bool
) -> tuple[list[torch.Tensor], dict[str, torch.Tensor]]:
    """The inputs, positional then named: meta tensors (`on_meta`), or zeros on the model's
    own device (the CPU for one without parameters); a floating input in the model's own
    floating type unless the input says."""
    import torch

    first = next(model.parameters(), None)
    positional: list[torch.Tensor] = []
    named: dict[str, torch.Tensor] = {}
    for given in inputs:
        if given.dtype is not None:
            dtype = _torch_dtype(given.dtype)
        elif first is not None and first.is_floating_point():
            dtype = first.dtype
        else:
            dtype = torch.float32
        if on_meta:
            tensor = torch.empty(given.shape, device="meta", dtype=dtype)
        else:
            device = first.device if first is not None else torch.device("cpu")
            tensor = torch.zeros(given.shape, device=device, dtype=dtype)
        if given.name is None:
            positional.append(tensor)
        else:
            named[given.name] = tensor
    return positional, named


def _as_inputs(
    input_shape: Sequence[int] | None, inputs: Sequence[ModelInput | str] | None
) -> list[ModelInput] | None:
    """The model's inputs from either an input shape or a list of inputs (None: neither)."""
    if inputs is not None and input_shape is not None:
        raise UserError("give an input shape or inputs, not both")
    if inputs is None:
        if input_shape is None:
            return None
        check_shape(tuple(input_shape))
        return [ModelInput(tuple(input_shape))]
    parsed = [parse_input(i) if isinstance(i, str) else i for i in inputs]
    if not parsed:
        raise UserError("give at least one input, e.g. --input image:1x3x224x224")
    for given in parsed:
        check_shape(given.shape)
    check_inputs(parsed)
    return parsed


def _isolated(model: nn.Module) -> nn.Module | None:
    """A copy of the module tree that shares its tensors and its hooks: what the forward pass
    assigns to a module (an anchor cache moved to the input's device, the training flag) lands
    on the copy, and the user's model is left as it was, at a thousandth of a deep copy's cost;
    a hook registered on either runs on both while it is registered. A leaf of torch's own
    whose operators `module_calls` issues is the module itself: its forward assigns nothing
    (a third of a convolutional network's copying). None for a module that is not plain
    Python (a scripted one)."""
    import torch

    from edgegap.workload.module_calls import MODULE_CALLS

    copies: dict[int, nn.Module] = {}

    def copied(module: nn.Module) -> nn.Module:
        if type(module) in MODULE_CALLS and not module._modules:
            return module
        if id(module) not in copies:
            if isinstance(module, torch.jit.ScriptModule):
                raise TypeError("a scripted module")
            twin = copies[id(module)] = object.__new__(type(module))
            state = twin.__dict__
            state.update(module.__dict__)
            state["_parameters"] = dict(module._parameters)
            state["_buffers"] = dict(module._buffers)
            state["_modules"] = {
                name: None if child is None else copied(child)
                for name, child in module._modules.items()
            }
            return twin
        return copies[id(module)]

    try:
        return copied(model)
    except TypeError:
        return None


def profile_module(
    model: nn.Module,
    inputs: Sequence[ModelInput],
    dtype: str | None = None,
    name: str = "",
    counts: HeadCounts | None = None,
    counts_source: str = "the model's own caps",
) -> Workload:
    """Trace `model` on `inputs`; a two-stage detector's heads run on `counts` proposals and
    detections (`counts_source` says where they come from, in the note).

    A module with real weights is traced on meta inputs (as its `_isolated` copy), its weights
    left where they are: no kernel computes on an activation, as in a model edgegap builds.
    Where that cannot run (an operator that reads an activation's value, packed quantized
    weights), the module runs for real on zeros; so does a model without parameters."""
    from edgegap.workload.detection import HeadCounts, heads_counted
    from edgegap.workload.real_tensors import NeedsRealTensors, refused_by_meta
    from edgegap.workload.tracer import ModelError, trace

    label = name or type(model).__name__
    bits = dtype_to_bits(dtype)

    def traced(module: nn.Module, on_meta: bool) -> Workload:
        positional, named = _examples(module, inputs, on_meta)
        with heads_counted(module, counts or HeadCounts(), counts_source) as heads:
            workload = trace(module, positional, label, bits, named)
        return workload.noted(heads.note())

    first = next(model.parameters(), None)
    if first is not None and first.device.type != "meta":
        twin = _isolated(model)
        if twin is not None:
            try:
                return traced(twin, on_meta=True)
            except ModelError:
                pass  # what meta inputs cannot run, zeros run
    try:
        return traced(model, on_meta=first is not None and first.device.type == "meta")
    except ModelError as failure:
        if first is not None and first.device.type == "meta" and refused_by_meta(failure.error):
            raise NeedsRealTensors(label, failure.error, failure.operator) from None
        reason = first_line(failure.error)
        hint = (
            ": token ids need an integer input, e.g. --input ids:1x128:int64"
            if "Long" in reason and all(i.dtype is None for i in inputs)
            else ""
        )
        raise UserError(f"{label} cannot run on {_shown(inputs)}: {reason}{hint}") from None


def _shown(inputs: Sequence[ModelInput]) -> str:
    if len(inputs) == 1 and inputs[0].name is None and inputs[0].dtype is None:
        return f"input shape {','.join(map(str, inputs[0].shape))}"
    return "inputs " + " ".join(map(str, inputs))


def _unaliased(spec: str, name: str | None) -> tuple[str, str | None]:
    """A shipped language model's short name (`llama-3.2-1b`) as the `hf:` spec it stands
    for, labelled as written; a torchvision name stays one (no alias shadows it)."""
    from edgegap.workload import hf_models

    full = hf_models.aliased(spec)
    if full is None:
        return spec, name
    from edgegap.workload import zoo

    if spec in zoo.known_names():
        return spec, name
    return full, name or spec


def profile(
    model: nn.Module | str | Path,
    input_shape: Sequence[int] | None = None,
    dtype: str | None = None,
    name: str | None = None,
    inputs: Sequence[ModelInput | str] | None = None,
    proposals: int | None = None,
    detections: int | None = None,
    limits: RealRunLimits | None = None,
    phase: Phase | None = None,
) -> Workload:
    """Profile a model into a per-layer Workload.

    `model` is an `nn.Module`, a torchvision model name, `timm:NAME[.TAG]` (any timm
    architecture, at its pretrained configuration's input size), `hf:NAME` (a Hugging Face
    configuration shipped with edgegap, a config.json path or a model_type; token ids 1x128
    by default: `edgegap.workload.hf_models`; a shipped language model also by its short
    name, `llama-3.2-1b`), `package.module:callable`, or an ONNX file.
    `input_shape` defaults to the input torchvision's published figures are for (NCHW,
    batch 1; a library model's own default). A model of several inputs, or of integer ones,
    takes `inputs` instead: `ModelInput`s or strings NAME:SHAPE[:DTYPE] (`shapes.parse_input`), e.g.
    ["ids:1x128:int64"], unnamed ones passed by position. `dtype` (float32, float16, bfloat16,
    int8, int4, int2, binary) sets the bit-width used for bytes; by default each tensor's own
    dtype decides (int8 for a torchvision model whose weights are quantized, e.g.
    quantized_resnet18). A truly quantized module (torch.ao.nn.quantized, quantize=True) is
    traced on real tensors through its integer kernels, at their bit-widths.

    A two-stage detector (Faster, Mask, Keypoint R-CNN) runs its box head on `proposals` and
    its mask or keypoint head on `detections` per image: by default, for a torchvision name,
    the counts its published figure is for, else the model's own caps (docs/counting.md).
    A model edgegap builds that the meta device cannot run (a data-dependent operator) runs
    on real tensors on the CPU within `limits`; the workload's notes say so.

    A Hugging Face language model (`hf:NAME`) profiles one generation `phase` instead: a
    prefill of its prompt, or one decode step on the KV cache of the tokens before it (the
    cache its inputs, layer by layer).
    """
    from torch import nn

    from edgegap.workload.detection import HeadCounts

    if isinstance(model, str):
        model, name = _unaliased(model, name)
    given = _as_inputs(input_shape, inputs)
    if phase is not None and given is not None:
        raise UserError(f"a {phase.kind} phase sets the inputs: give no input shape or inputs")
    if phase is not None and not str(model).startswith("hf:"):
        if isinstance(model, str) and ":" not in model and not model.endswith(".onnx"):
            from edgegap.workload import hf_models, zoo

            zoo.check_name(model, hf_models.ALIASES)  # misspelt: the closest names
        shown = model if isinstance(model, str | Path) else type(model).__name__
        raise UserError(f"a generation phase is for a Hugging Face language model (hf:NAME), "
                        f"not {shown}")  # fmt: skip
    asked = HeadCounts(proposals, detections)
    source = "as asked" if asked != HeadCounts() else "the model's own caps"
    if isinstance(model, nn.Module):
        if given is None:
            raise UserError("give the input shape of a module, e.g. input_shape=(1, 3, 224, 224)")
        return profile_module(model, given, dtype, name or type(model).__name__, asked, source)
    spec = str(model)
    if spec.endswith(".onnx") or isinstance(model, Path):
        from edgegap.workload.onnx_reader import profile_onnx

        return profile_onnx(Path(spec), given, dtype_to_bits(dtype), name or spec)
    from edgegap.workload import hf_models, library, zoo
    from edgegap.workload.real_tensors import profile_built

    label = name or spec
    if library.is_library_spec(spec):  # timm:NAME, hf:NAME: before package.module:callable
        found = library.resolve(spec, given, phase)

        def traced(built: nn.Module) -> Workload:
            with library.tracing(found, built):
                return profile_module(built, found.inputs, dtype, label, asked, source)

        return profile_built(found.build, traced, label, limits)
    if ":" in spec:
        if given is None:
            raise UserError(f"give --input-shape for '{spec}', e.g. --input-shape 1,3,224,224")
        chosen = given
        return profile_built(
            lambda empty: load_callable(spec, empty),
            lambda built: profile_module(built, chosen, dtype, label, asked, source),
            label,
            limits,
        )
    zoo.check_name(spec, hf_models.ALIASES)
    given = given or zoo.default_inputs(spec)
    if given is None:
        raise UserError(f"'{spec}' has no default input size: give --input-shape")
    chosen = given
    # A model of quantized weights deploys at their integer bit-widths.
    precision = dtype or ("int8" if zoo.quantized_backend(spec) else None)
    counts, source = _published_counts(spec, asked, source)
    return profile_built(
        lambda empty: zoo.build_torchvision(spec, chosen[0].shape, empty),
        lambda built: profile_module(built, chosen, precision, label, counts, source),
        label,
        limits,
    )


def _published_counts(name: str, asked: HeadCounts, source: str) -> tuple[HeadCounts, str]:
    """The counts to profile a torchvision detector at (those its published figure is for,
    where the user set none) and where they come from (`source` if not published)."""
    from edgegap.workload import detection, zoo

    weights = zoo.published_weights(name)
    published = detection.PUBLISHED.get(str(weights))
    if published is None:
        return asked, source
    counts = detection.HeadCounts(
        published.proposals if asked.proposals is None else asked.proposals,
        published.detections if asked.detections is None else asked.detections,
    )
    if counts == asked:
        return counts, "as asked"
    given = "the counts" if asked == detection.HeadCounts() else "as asked, the rest as"
    return counts, f"{given} torchvision's published _ops for {weights} are for"
