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
from edgegap.workload.shapes import check_shape, dtype_to_bits

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


def _example_input(
    model: nn.Module, shape: tuple[int, ...], input_dtype: torch.dtype | None
) -> torch.Tensor:
    """A meta input for a meta model; zeros on the model's own device and dtype otherwise."""
    import torch

    first = next(model.parameters(), None)
    if first is None or first.device.type == "meta":
        return torch.empty(shape, device="meta", dtype=input_dtype)
    dtype = input_dtype or (first.dtype if first.is_floating_point() else torch.float32)
    return torch.zeros(shape, device=first.device, dtype=dtype)


def profile_module(
    model: nn.Module,
    input_shape: Sequence[int],
    dtype: str | None = None,
    name: str = "",
    input_dtype: torch.dtype | None = None,
    counts: HeadCounts | None = None,
    counts_source: str = "the model's own caps",
) -> Workload:
    """Trace `model` once; a two-stage detector's heads run on `counts` proposals and
    detections (`counts_source` says where they come from, in the note)."""
    from edgegap.workload.detection import HeadCounts, heads_counted
    from edgegap.workload.real_tensors import NeedsRealTensors, refused_by_meta
    from edgegap.workload.tracer import ModelError, trace

    shape = tuple(input_shape)
    check_shape(shape)
    label = name or type(model).__name__
    example = _example_input(model, shape, input_dtype)
    bits = dtype_to_bits(dtype)
    try:
        with heads_counted(model, counts or HeadCounts(), counts_source) as heads:
            workload = trace(model, example, label, bits)
    except ModelError as failure:
        if example.device.type == "meta" and refused_by_meta(failure.error):
            raise NeedsRealTensors(label, failure.error) from None
        raise UserError(
            f"{label} cannot run on input shape {','.join(map(str, shape))}: "
            f"{first_line(failure.error)}"
        ) from None
    return workload.noted(heads.note())


def profile(
    model: nn.Module | str | Path,
    input_shape: Sequence[int] | None = None,
    dtype: str | None = None,
    name: str | None = None,
    input_dtype: torch.dtype | None = None,
    proposals: int | None = None,
    detections: int | None = None,
    limits: RealRunLimits | None = None,
) -> Workload:
    """Profile a model into a per-layer Workload.

    `model` is an `nn.Module`, a torchvision model name, `package.module:callable`, or an
    ONNX file. `input_shape` defaults to the input torchvision's published figures are for
    (NCHW, batch 1). `dtype` (float32, float16, bfloat16, int8, int4, int2, binary) sets the
    bit-width used for bytes; by default each tensor's own dtype decides. `input_dtype` is
    the example input's (torch.long for a model that starts with an embedding).

    A two-stage detector (Faster, Mask, Keypoint R-CNN) runs its box head on `proposals` and
    its mask or keypoint head on `detections` per image: by default, for a torchvision name,
    the counts its published figure is for, else the model's own caps (docs/counting.md).
    A model edgegap builds that the meta device cannot run (a data-dependent operator) runs
    on real tensors on the CPU within `limits`; the workload's notes say so.
    """
    from torch import nn

    from edgegap.workload.detection import HeadCounts

    asked = HeadCounts(proposals, detections)
    source = "as asked" if asked != HeadCounts() else "the model's own caps"
    if isinstance(model, nn.Module):
        if input_shape is None:
            raise UserError("give the input shape of a module, e.g. input_shape=(1, 3, 224, 224)")
        label = name or type(model).__name__
        return profile_module(model, input_shape, dtype, label, input_dtype, asked, source)
    spec = str(model)
    if spec.endswith(".onnx") or isinstance(model, Path):
        from edgegap.workload.onnx_reader import profile_onnx

        return profile_onnx(Path(spec), input_shape, dtype_to_bits(dtype), name or spec)
    from edgegap.workload import zoo
    from edgegap.workload.real_tensors import profile_built

    label = name or spec
    if ":" in spec:
        if input_shape is None:
            raise UserError(f"give --input-shape for '{spec}', e.g. --input-shape 1,3,224,224")
        given = tuple(input_shape)
        return profile_built(
            lambda empty: load_callable(spec, empty),
            lambda built: profile_module(built, given, dtype, label, None, asked, source),
            label,
            limits,
        )
    zoo.check_name(spec)
    shape = tuple(input_shape) if input_shape is not None else zoo.default_input_shape(spec)
    if shape is None:
        raise UserError(f"'{spec}' has no default input size: give --input-shape")
    chosen = shape
    counts, source = _published_counts(spec, asked, source)
    return profile_built(
        lambda empty: zoo.build_torchvision(spec, chosen, empty),
        lambda built: profile_module(built, chosen, dtype, label, None, counts, source),
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
