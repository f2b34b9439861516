"""`timm:NAME[.TAG]`: any timm architecture, built with `pretrained=False` (nothing is
downloaded), at the input size of its pretrained configuration (`pretrained_cfg.input_size`,
the tag's, else the architecture's default tag's).

timm is a test dependency (the `dev` extra), not a dependency of edgegap: without it a `timm:`
spec is one line saying how to install it.
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Any

from edgegap.errors import UserError, first_line

if TYPE_CHECKING:
    from torch import nn

PREFIX = "timm:"


def _timm() -> Any:
    try:
        import timm
    except ImportError:
        raise UserError(
            "timm: models need the timm package: pip install timm (edgegap's dev extra pins it)"
        ) from None
    return timm


def check_name(name: str) -> None:
    """Refuse, in one line, an architecture timm does not know or a tag it has no
    configuration for."""
    timm = _timm()
    architecture, _, tag = name.partition(".")
    if not architecture or not timm.is_model(architecture):
        close = difflib.get_close_matches(architecture, timm.list_models(), n=3, cutoff=0.6)
        hint = f"did you mean {', '.join(close)}?" if close else "see timm.list_models()"
        raise UserError(f"unknown timm model '{name}': {hint}")
    if tag:
        tags = [t.partition(".")[2] for t in timm.list_pretrained(f"{architecture}.*")]
        if tag not in tags:
            known = ", ".join(tags[:5]) or "none"
            raise UserError(f"timm model {architecture} has no tag '{tag}' (tags: {known})")


def default_input_shape(name: str) -> tuple[int, ...]:
    """Batch 1 at the pretrained configuration's input size (C, H, W)."""
    timm = _timm()
    check_name(name)
    config = timm.models.get_pretrained_cfg(name)
    size = tuple(config.input_size) if config is not None else (3, 224, 224)
    return (1, *size)


def build(name: str, input_shape: tuple[int, ...], empty: bool = True) -> nn.Module:
    """The architecture, `pretrained=False`, in eval mode: built for the input's size where its
    constructor takes one (`img_size`: a ViT's position embedding, a Swin's windows), else as it
    is (a convolutional network takes any size). `empty`: weights on the meta device."""
    from edgegap.workload import zoo

    timm = _timm()
    check_name(name)
    default = default_input_shape(name)
    kwargs: dict[str, Any] = {}
    if len(input_shape) == 4 and tuple(input_shape[1:]) != default[1:]:
        kwargs = {"img_size": tuple(input_shape[2:]), "in_chans": input_shape[1]}

    def create(**extra: Any) -> nn.Module:
        model: nn.Module = timm.create_model(name, pretrained=False, **extra)
        return model

    try:
        try:
            model = zoo.build_empty(lambda: create(**kwargs)) if empty else create(**kwargs)
        except TypeError as refused:  # no `img_size` argument: the network takes any size
            if not kwargs or "img_size" not in str(refused):
                raise
            kwargs = {"in_chans": input_shape[1]}
            model = zoo.build_empty(lambda: create(**kwargs)) if empty else create(**kwargs)
    except UserError:
        raise
    except Exception as error:  # timm's constructor refused the size (patches, windows)
        shape = ",".join(map(str, input_shape))
        raise UserError(
            f"timm model {name} cannot be built for input shape {shape}: {first_line(error)}"
        ) from None
    return model.eval()
