"""Seeded training and evaluation on CPU: the same seed gives the same weights and accuracy."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import nn

from edgegap.training.datasets import Dataset


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int = 1000) -> float:
    model.eval()
    with torch.no_grad():
        correct = sum(
            int((model(x[i : i + batch]).argmax(1) == y[i : i + batch]).sum())
            for i in range(0, len(x), batch)
        )
    return correct / len(x)


def train(
    model: nn.Module,
    data: Dataset,
    epochs: int,
    lr: float = 1e-3,
    batch: int = 64,
    seed: int = 0,
    after_step: Callable[[], None] | None = None,
    parameters: Iterable[nn.Parameter] | None = None,
    weight_decay: float = 0.0,
) -> nn.Module:
    """Adam on cross-entropy, shuffled by a seeded generator, over `parameters` (default: all),
    with an optional L2 penalty of `weight_decay` (Deep Compression's regulariser: Han, Pool,
    Tran, Dally, NIPS 2015). `after_step` runs after every optimiser step, gradients still in
    place (pruning keeps pruned weights at zero with it; weight sharing moves its centroids)."""
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(
        model.parameters() if parameters is None else parameters, lr=lr, weight_decay=weight_decay
    )
    loss = nn.CrossEntropyLoss()
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(data.x_train), generator=generator)
        for i in range(0, len(order), batch):
            picks = order[i : i + batch]
            model.zero_grad()
            loss(model(data.x_train[picks]), data.y_train[picks]).backward()
            optimizer.step()
            if after_step is not None:
                after_step()
    return model
