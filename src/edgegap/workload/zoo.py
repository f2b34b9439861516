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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

import torch
import torchvision
from torch import nn
from torchvision.models import get_model, get_model_builder, get_model_weights, list_models

from edgegap import atomic
from edgegap.errors import UserError, first_line
from edgegap.workload.published import SHIPPED, ZooModel, to_csv

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


def _default_weights(name: str) -> Any:
    try:
        return get_model_weights(name).DEFAULT
    except (ValueError, AttributeError):
        return None


def default_input_shape(name: str) -> tuple[int, ...] | None:
    """(1, 3, crop, crop) from the DEFAULT weights' preprocessing (299 for inception_v3)."""
    weights = _default_weights(name)
    if weights is None:
        return None
    crop = getattr(weights.transforms, "keywords", {}).get("crop_size")
    if crop is None:
        return None
    size = crop if isinstance(crop, int) else crop[0]
    return (1, 3, size, size)


def quantized_backend(name: str) -> str | None:
    """The integer backend (fbgemm, qnnpack) a torchvision model's weights are quantized for;
    None for a float model. Its builder makes the float architecture the weights describe
    (their `num_params`, `_ops`), which deploys with int8 weights and activations."""
    weights = _default_weights(name)
    return None if weights is None else weights.meta.get("backend")


def known_names() -> list[str]:
    return list(list_models())


def check_name(name: str) -> None:
    if name in known_names():
        return
    close = difflib.get_close_matches(name, known_names(), n=3, cutoff=0.6)
    hint = f"did you mean {', '.join(close)}?" if close else "run `edgegap zoo` to list them"
    raise UserError(f"unknown model '{name}': {hint}")


# What torchvision's builders set when they load the published weights, so that the
# architecture profiled is the one the weights (and their `num_params`, `_ops`) describe.
_AS_PUBLISHED: dict[str, dict[str, Any]] = {
    "googlenet": {"transform_input": True, "aux_logits": False, "init_weights": False},
    "inception_v3": {"transform_input": True, "aux_logits": True, "init_weights": False},
}


def _builder_kwargs(name: str, input_shape: tuple[int, ...]) -> dict[str, Any]:
    """Builder arguments that fix the architecture to the input size, where it depends on it."""
    family = get_model_builder(name).__module__.rsplit(".", 1)[-1]
    if family == "vision_transformer":
        return {"image_size": input_shape[-1]}
    if family == "maxvit":
        return {"input_size": tuple(input_shape[-2:])}
    return _AS_PUBLISHED.get(name, {})


def build_torchvision(name: str, input_shape: tuple[int, ...], empty: bool = True) -> nn.Module:
    """A torchvision architecture built as its published weights are: with empty weights, or
    with `empty=False` with the builder's own random initialisation (from torch's generator:
    seed it for the same weights), for a model that must run."""
    check_name(name)
    kwargs = _builder_kwargs(name, input_shape)
    try:
        model: nn.Module = (
            build_empty(lambda: get_model(name, **kwargs)) if empty else get_model(name, **kwargs)
        )
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
        weights = _default_weights(name)
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
