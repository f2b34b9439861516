"""Algorithm bridges, run for real: datasets, small models, training, and compression
transforms (model in; model and annotated workload out)."""

from edgegap.compress.datasets import Dataset, load_dataset
from edgegap.compress.models import build_model
from edgegap.compress.pruning import annotate_density, prune_iteratively, relative_index_size
from edgegap.compress.sharing import compressed_bytes, fine_tune_centroids, share_weights
from edgegap.compress.training import accuracy, train

__all__ = [
    "Dataset",
    "accuracy",
    "annotate_density",
    "build_model",
    "compressed_bytes",
    "fine_tune_centroids",
    "load_dataset",
    "prune_iteratively",
    "relative_index_size",
    "share_weights",
    "train",
]
