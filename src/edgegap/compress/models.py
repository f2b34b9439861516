"""The small models the compression literature reports on, built by name."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from edgegap.errors import UserError


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
