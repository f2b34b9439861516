"""The small models the compression literature reports on, built by name."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from edgegap.errors import UserError
from edgegap.training.datasets import Dataset


def lenet_300_100() -> nn.Module:
    """LeNet-300-100 (LeCun et al. 1998), as in Deep Compression: 266,610 weights."""
    return nn.Sequential(
        nn.Flatten(), nn.Linear(784, 300), nn.ReLU(), nn.Linear(300, 100), nn.ReLU(),
        nn.Linear(100, 10),
    )  # fmt: skip


def lenet_5() -> nn.Module:
    """LeNet-5 in Caffe's version (20 and 50 5x5 filters, 500 hidden), as in Deep Compression:
    431,080 weights."""
    return nn.Sequential(
        nn.Conv2d(1, 20, 5), nn.MaxPool2d(2), nn.Conv2d(20, 50, 5), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(800, 500), nn.ReLU(), nn.Linear(500, 10),
    )  # fmt: skip


def mnist1d_cnn() -> nn.Module:
    """A small 1-D CNN for MNIST-1D after Greydanus (2020): three stride-2 convolutions of 25
    channels and a linear classifier."""
    return nn.Sequential(
        nn.Conv1d(1, 25, 5, stride=2, padding=1), nn.ReLU(),
        nn.Conv1d(25, 25, 3, stride=2, padding=1), nn.ReLU(),
        nn.Conv1d(25, 25, 3, stride=2, padding=1), nn.ReLU(),
        nn.Flatten(), nn.Linear(125, 10),
    )  # fmt: skip


MODELS: dict[str, Callable[[], nn.Module]] = {
    "lenet-300-100": lenet_300_100,
    "lenet-5": lenet_5,
    "mnist1d-cnn": mnist1d_cnn,
}


def build_model(name: str) -> nn.Module:
    if name not in MODELS:
        raise UserError(f"unknown small model '{name}': use one of {', '.join(MODELS)}")
    return MODELS[name]()


def check_fits(model: nn.Module, name: str, data: Dataset) -> None:
    """A one-line error unless the model takes the dataset's samples and has an output per
    class."""
    try:
        with torch.no_grad():
            outputs = model(data.x_train[:1]).shape[-1]
    except RuntimeError:
        raise UserError(
            f"{name} cannot take {data.name}'s samples of shape {data.sample_shape}: "
            "use a dataset of the model's input shape"
        ) from None
    if outputs < data.classes:
        raise UserError(
            f"{name} has {outputs} outputs but {data.name} has {data.classes} classes: "
            "use a dataset of at most that many classes"
        )


def seeded_model(name: str, data: Dataset, seed: int = 0) -> nn.Module:
    """The small model `name`, initialised from `seed`, checked against the dataset."""
    torch.manual_seed(seed)
    model = build_model(name)
    check_fits(model, name, data)
    return model
