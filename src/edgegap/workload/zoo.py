"""Built-in models: torchvision's architectures, built with empty (meta) weights.

Nothing is downloaded: the published metadata (`_ops`, `num_params`, accuracy, input size)
ships inside torchvision beside each weight enum, and only the architecture is built. The
same metadata is also shipped as `data/zoo.csv` (read by `edgegap.workload.published`, which
needs no torch); `python -m edgegap.workload.zoo --write` regenerates that file from here.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import cache, partial
from typing import Any

import torch
import torchvision
from torch import nn
from torchvision.models import get_model, get_model_builder, get_model_weights, list_models
from torchvision.models._api import WeightsEnum

from edgegap import atomic
from edgegap.errors import UserError, first_line
from edgegap.workload.published import SHIPPED, ZooModel, to_csv
from edgegap.workload.shapes import ModelInput

# nn.init functions: on meta tensors there is nothing to initialise, and torch's meta
# random-number kernels are slow Python (two thirds of building EfficientNet-B0).
_INITIALIZERS = (
    "uniform_", "normal_", "trunc_normal_", "constant_", "ones_", "zeros_", "eye_", "dirac_",
    "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "orthogonal_",
    "sparse_",
)  # fmt: skip


def _skip_on_meta(initializer: Callable[..., Any]) -> Callable[..., Any]:
    def initialize(tensor: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        return tensor if tensor.device.type == "meta" else initializer(tensor, *args, **kwargs)

    return initialize


@contextmanager
def empty_weights() -> Iterator[None]:
    """Put every parameter and buffer on the meta device as the module registers it.

    Unlike `with torch.device("meta")`, other tensors a builder computes with stay real:
    RegNet, for one, derives its widths from tensor arithmetic while it is built.
    """
    register_parameter = nn.Module.register_parameter
    register_buffer = nn.Module.register_buffer
    initializers = {name: getattr(nn.init, name) for name in _INITIALIZERS}

    def parameter_on_meta(self: nn.Module, name: str, param: nn.Parameter | None) -> None:
        register_parameter(self, name, param)
        if param is not None and param.device.type != "meta":
            self._parameters[name] = nn.Parameter(
                param.to("meta"), requires_grad=param.requires_grad
            )

    def buffer_on_meta(
        self: nn.Module, name: str, tensor: torch.Tensor | None, persistent: bool = True
    ) -> None:
        register_buffer(self, name, tensor, persistent)
        if tensor is not None:
            self._buffers[name] = tensor.to("meta")

    nn.Module.register_parameter = parameter_on_meta  # type: ignore[method-assign]
    nn.Module.register_buffer = buffer_on_meta  # type: ignore[method-assign]
    for name, initializer in initializers.items():
        setattr(nn.init, name, _skip_on_meta(initializer))
    try:
        yield
    finally:
        nn.Module.register_parameter = register_parameter  # type: ignore[method-assign]
        nn.Module.register_buffer = register_buffer  # type: ignore[method-assign]
        for name, initializer in initializers.items():
            setattr(nn.init, name, initializer)


def build_empty(builder: Callable[[], Any]) -> Any:
    """Call `builder` with weights placed on the meta device: nothing large is allocated."""
    with empty_weights():
        return builder()


@cache
def classification_models() -> tuple[str, ...]:
    """torchvision's image classifiers: the built-in zoo."""
    return tuple(list_models(module=torchvision.models))


def published_weights(name: str) -> Any:
    """The DEFAULT weights enum of `name`, whose metadata edgegap's figures are compared with
    (None for a model torchvision publishes no weights for)."""
    try:
        return get_model_weights(name).DEFAULT
    except (ValueError, AttributeError):
        return None


# Frames per clip at which torchvision counted its video models' `_ops` (pytorch/vision PR
# #6936, the script that computed them: `get_flops(list_models(module=video), t=16)`).
VIDEO_FRAMES = 16


def default_input_shape(name: str) -> tuple[int, ...] | None:
    """The input torchvision's published figures are for, batch 1: the DEFAULT weights'
    crop (299 for inception_v3; a clip of `VIDEO_FRAMES` frames for video), a segmentation
    model's resize (520), the size a detector's own transform resizes to (800 for most).
    None for RAFT, which takes two images (`default_inputs`)."""
    weights = published_weights(name)
    if weights is None:
        return None
    sizes = getattr(weights.transforms, "keywords", {})
    kind = family(name)
    if kind == "detection":
        return (1, 3, *_detector_input_size(name))
    size = sizes.get("resize_size" if kind == "segmentation" else "crop_size")
    if size is None:
        return None
    side = size if isinstance(size, int) else size[0]
    return (1, 3, VIDEO_FRAMES, side, side) if kind == "video" else (1, 3, side, side)


# RAFT's figures (raft_large 211.007, raft_small 47.655 GMACs) are for two 512 x 512 images.
# torchvision documents no size: of the sizes profiled (224 to 1024 a side, among them the
# training crops 368 x 496, 440 x 1024 and 520 x 960), 512 x 512 is the one where both figures
# come out to their three decimals. The size is read off the figures, so they check the rest of
# the count (the parameters, the two models' ratio), not the size.
OPTICAL_FLOW_SIDE = 512


def default_inputs(name: str) -> list[ModelInput] | None:
    """The inputs torchvision's published figures are for (`default_input_shape`; two images
    for optical flow); None where there is no published size."""
    if family(name) == "optical_flow":
        return [ModelInput((1, 3, OPTICAL_FLOW_SIDE, OPTICAL_FLOW_SIDE))] * 2
    shape = default_input_shape(name)
    return None if shape is None else [ModelInput(shape)]


@cache
def _detector_input_size(name: str) -> tuple[int, int]:
    """The square image a detector's transform leaves at its size: its `min_size`, read from
    the model (built empty: the architecture does not depend on the input)."""
    detector = build_empty(lambda: _build(name, (1, 3, 1, 1)))
    side = int(detector.transform.min_size[-1])
    return (side, side)


def quantized_backend(name: str) -> str | None:
    """The integer backend (fbgemm, qnnpack) a torchvision model's weights are quantized for;
    None for a float model. Its builder makes the float architecture the weights describe
    (their `num_params`, `_ops`), which deploys with int8 weights and activations."""
    weights = published_weights(name)
    return None if weights is None else weights.meta.get("backend")


def known_names() -> list[str]:
    return list(list_models())


def check_name(name: str, others: Iterable[str] = ()) -> None:
    """A torchvision model's name, or one line naming the closest torchvision names and
    `others` (`profile` passes the shipped language models' short names)."""
    if name in known_names():
        return
    close = difflib.get_close_matches(name, [*known_names(), *others], n=3, cutoff=0.6)
    hint = f"did you mean {', '.join(close)}?" if close else "run `edgegap zoo` to list them"
    raise UserError(f"unknown model '{name}': {hint}")


@contextmanager
def _weights_never_loaded() -> Iterator[None]:
    """Let a builder given its weights build the architecture they describe, without loading
    them: `WeightsEnum.get_state_dict` (torchvision's only download) answers an empty state,
    which the builder's `load_state_dict` ignores. Nothing is fetched, whatever the cache holds.
    """
    get_state_dict = WeightsEnum.get_state_dict
    load_state_dict = nn.Module.load_state_dict

    def no_state(self: WeightsEnum, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return {}

    def ignore_state(self: nn.Module, state_dict: Any, *args: Any, **kwargs: Any) -> Any:
        return None

    WeightsEnum.get_state_dict = no_state
    nn.Module.load_state_dict = ignore_state  # type: ignore[method-assign]
    try:
        yield
    finally:
        WeightsEnum.get_state_dict = get_state_dict
        nn.Module.load_state_dict = load_state_dict  # type: ignore[method-assign]


def family(name: str) -> str:
    """torchvision's module for the model: classification, segmentation, detection, video,
    optical_flow or quantization."""
    parts = get_model_builder(name).__module__.split(".")
    return parts[2] if len(parts) > 3 else "classification"


def _size_kwargs(name: str, input_shape: tuple[int, ...]) -> dict[str, Any]:
    """Builder arguments that fix the architecture to the input size, where it depends on it."""
    module = get_model_builder(name).__module__.rsplit(".", 1)[-1]
    if module == "vision_transformer":
        return {"image_size": input_shape[-1]}
    if module == "maxvit":
        return {"input_size": tuple(input_shape[-2:])}
    return {}


def _build(name: str, input_shape: tuple[int, ...]) -> nn.Module:
    """The architecture the DEFAULT weights describe, as torchvision's builder makes it when
    given them (their classes, a segmentation model's auxiliary head, a detector's frozen
    batch norms, Inception's input transform), with no backbone weights asked for. A quantized
    model's builder takes, without `quantize=True` (the integer model), the float weights its
    weights were quantized from: the same layers. Where the architecture follows the input
    size (ViT, MaxViT), the weights would fix it to theirs: those are built for the size
    asked, without them."""
    size_kwargs = _size_kwargs(name, input_shape)
    weights = None if size_kwargs else published_weights(name)
    if weights is not None and family(name) == "quantization":
        weights = weights.meta["unquantized"]
    backbone = {"weights_backbone": None} if family(name) in ("segmentation", "detection") else {}
    kwargs = {**backbone, **size_kwargs, **_COUNTED_WITH.get(name, {})}
    with _weights_never_loaded():
        model: nn.Module = get_model(name, weights=weights, **kwargs)
    return model


# Where the published `num_params` counts a head the builder drops: quantized_inception_v3's
# (27,161,264, the float weights' figure) include the auxiliary classifier, which its builder
# keeps only when asked. Inference never runs it: edgegap reports it as unused parameters.
_COUNTED_WITH: dict[str, dict[str, Any]] = {"quantized_inception_v3": {"aux_logits": True}}


def build_torchvision(name: str, input_shape: tuple[int, ...], empty: bool = True) -> nn.Module:
    """A torchvision architecture built as its published weights are: with empty weights, or
    with `empty=False` with the builder's own random initialisation (from torch's generator:
    seed it for the same weights), for a model that must run. Nothing is downloaded."""
    check_name(name)
    try:
        build = partial(_build, name, input_shape)
        model = build_empty(build) if empty else build()
    except Exception as error:  # torchvision's builder refuses (a ViT's size vs. its patches)
        shape = ",".join(map(str, input_shape))
        raise UserError(
            f"{name} cannot be built for input shape {shape}: {first_line(error)}"
        ) from None
    return model


def published_models() -> list[ZooModel]:
    """Every built-in model with the metadata torchvision publishes for its DEFAULT weights,
    read from torchvision itself: what `data/zoo.csv` ships (see `edgegap.workload.published`
    for where each column comes from)."""
    models = []
    for name in classification_models():
        weights = published_weights(name)
        shape = default_input_shape(name)
        if weights is None or shape is None:
            raise ValueError(
                f"torchvision publishes no DEFAULT weights with a crop size for {name}"
            )
        meta = weights.meta
        metrics = meta["_metrics"]["ImageNet-1K"]
        models.append(
            ZooModel(
                model=name,
                weights=str(weights),
                input_size=shape[-1],
                params=meta["num_params"],
                gmacs=meta["_ops"],
                acc1=metrics["acc@1"],
                acc5=metrics["acc@5"],
                source=meta["recipe"],
            )
        )
    return models


def main(argv: list[str] | None = None) -> None:
    """`python -m edgegap.workload.zoo --write`: regenerate data/zoo.csv from torchvision."""
    parser = argparse.ArgumentParser(
        prog="python -m edgegap.workload.zoo", description=main.__doc__
    )
    parser.add_argument("--write", action="store_true", help=f"write {SHIPPED}")
    args = parser.parse_args(argv)
    text = to_csv(published_models())
    if args.write:
        atomic.write_text(SHIPPED, text)
        print(f"wrote {len(text.splitlines()) - 1} models to {SHIPPED}")
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
