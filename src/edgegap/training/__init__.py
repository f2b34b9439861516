"""What measured compression trains on: offline datasets with seeded splits (a shipped MNIST
sample, scikit-learn's digits, MNIST-1D, user directories), the small models they suit, and
one seeded training loop."""

from edgegap.training.datasets import Dataset, load_dataset
from edgegap.training.loop import accuracy, train
from edgegap.training.models import build_model, check_fits, seeded_model
from edgegap.training.user_data import load_data_dir, resolve_dataset

__all__ = [
    "Dataset",
    "accuracy",
    "build_model",
    "check_fits",
    "load_data_dir",
    "load_dataset",
    "resolve_dataset",
    "seeded_model",
    "train",
]
