"""Algorithm bridges, run for real: datasets, small models, training, and compression
transforms (model in; model, workload annotations and exact stored bytes out: `Compressed`)."""

from edgegap.compress.activations import activation_sparsity, measure_activation_sparsity
from edgegap.compress.circulant import BlockCirculantLinear, circulant_linear
from edgegap.compress.datasets import Dataset, load_dataset
from edgegap.compress.lowrank import low_rank, rank_for_accuracy_budget
from edgegap.compress.models import build_model
from edgegap.compress.pruning import annotate_density, prune_iteratively, relative_index_size
from edgegap.compress.quantization import QUANTIZERS, quantize
from edgegap.compress.sharing import compressed_bytes, fine_tune_centroids, share_weights
from edgegap.compress.structured import prune_channels
from edgegap.compress.training import accuracy, train
from edgegap.compress.transform import Compressed, LayerAnnotation, annotate
from edgegap.compress.user_data import load_data_dir
from edgegap.compress.winograd import winograd_transform

__all__ = [
    "QUANTIZERS",
    "BlockCirculantLinear",
    "Compressed",
    "Dataset",
    "LayerAnnotation",
    "accuracy",
    "activation_sparsity",
    "annotate",
    "annotate_density",
    "build_model",
    "circulant_linear",
    "compressed_bytes",
    "fine_tune_centroids",
    "load_data_dir",
    "load_dataset",
    "low_rank",
    "measure_activation_sparsity",
    "prune_channels",
    "prune_iteratively",
    "quantize",
    "rank_for_accuracy_budget",
    "relative_index_size",
    "share_weights",
    "train",
    "winograd_transform",
]
