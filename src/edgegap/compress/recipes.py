"""Deep Compression (Han, Mao and Dally, ICLR 2016) reproduced on a small model: the paper's
per-layer densities and codebook widths as a recipe (magnitude pruning with retraining,
k-means weight sharing with trained centroids, Huffman coding) run by `compose.run_recipe`,
after dense training on the model's dataset; and `compress`, the `edgegap compress` job, which
runs that recipe or a YAML one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from edgegap.compress.compose import CompressionResult, parse_recipe, run_recipe
from edgegap.errors import UserError
from edgegap.hardware.platform import Platform
from edgegap.techniques import Setting, get
from edgegap.training.datasets import Dataset, load_dataset
from edgegap.training.loop import train
from edgegap.training.models import seeded_model
from edgegap.training.user_data import resolve_dataset


@dataclass(frozen=True)
class Targets:
    """Per-layer targets, as Deep Compression's tables give them (fraction of weights kept
    after pruning; bits per shared weight; bits per relative index)."""

    keep: dict[str, float]
    weight_bits: dict[str, int]
    index_bits: int


# Han et al. ICLR 2016, Tables 2 and 3 (LeNet-300-100: 8%, 9%, 26% kept, 6-bit weights;
# LeNet-5: 66%, 12%, 8%, 19% kept, 8-bit conv and 5-bit fc weights); 5-bit relative indices.
TARGETS = {
    "lenet-300-100": Targets({"1": 0.08, "3": 0.09, "5": 0.26}, {"1": 6, "3": 6, "5": 6}, 5),
    "lenet-5": Targets(
        {"0": 0.66, "2": 0.12, "5": 0.08, "7": 0.19}, {"0": 8, "2": 8, "5": 5, "7": 5}, 5
    ),
    "mnist1d-cnn": Targets(
        {"0": 0.8, "2": 0.5, "4": 0.5, "7": 0.5}, {"0": 6, "2": 6, "4": 6, "7": 6}, 5
    ),
}
DATASET_OF = {"lenet-300-100": "mnist10k", "lenet-5": "mnist10k", "mnist1d-cnn": "mnist1d"}


@dataclass(frozen=True)
class Schedule:
    """Epochs of each stage, the retraining learning rate after each pruning step, and the L2
    weight decay of dense training and of that retraining: Han, Pool, Tran, Dally (NIPS 2015)
    train and retrain with L2 regularisation, which leaves fewer weights that matter, so pruning
    costs less accuracy."""

    dense_epochs: int
    prune_steps: int
    epochs_per_step: int
    centroid_epochs: int
    retrain_lr: float
    dense_weight_decay: float
    retrain_weight_decay: float


FULL = Schedule(
    dense_epochs=30,
    prune_steps=5,
    epochs_per_step=6,
    centroid_epochs=3,
    retrain_lr=5e-4,
    dense_weight_decay=0.0,
    retrain_weight_decay=0.0,
)
QUICK = replace(FULL, dense_epochs=2, prune_steps=1, epochs_per_step=1, centroid_epochs=1)
# Chosen on the validation digits, never on test. LeNet-300-100 (seeds 0-3): weight decay 1e-4
# gives the best dense model, 3e-4 in retraining the best pruned and shared one and a larger
# ratio; a retraining rate of 2e-4 did worse than 5e-4. LeNet-5 trains without: weight decay
# 1e-4 cost its dense model 1.5 pp of validation accuracy.
TUNED = {"lenet-300-100": replace(FULL, dense_weight_decay=1e-4, retrain_weight_decay=3e-4)}


def deep_compression_steps(model_name: str, schedule: Schedule) -> list[Setting]:
    """Deep Compression's recipe for the model: the paper's per-layer pruning targets, then
    weight sharing at its codebook widths, then Huffman coding."""
    targets = TARGETS[model_name]
    return [
        get("prune").setting(
            sparsity={layer: 1 - keep for layer, keep in targets.keep.items()},
            steps=schedule.prune_steps, epochs=schedule.epochs_per_step,
            lr=schedule.retrain_lr, weight_decay=schedule.retrain_weight_decay,
            index_bits=targets.index_bits,
        ),
        get("weight-sharing").setting(bits=targets.weight_bits, epochs=schedule.centroid_epochs),
        get("huffman").setting(),
    ]  # fmt: skip


def compress(
    model_name: str,
    recipe: str = "deep-compression",
    dataset: str | None = None,
    platform: Platform | None = None,
    quick: bool = False,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> CompressionResult:
    """`edgegap compress`: Deep Compression's recipe (on the model's built-in dataset unless
    another is named), or the steps of a YAML recipe file, run on the small model after dense
    training on the dataset (a built-in name or a directory)."""
    if model_name not in DATASET_OF:
        raise UserError(f"unknown small model '{model_name}': use one of {', '.join(DATASET_OF)}")
    if recipe == "deep-compression":
        if dataset is not None and Path(dataset).is_dir():
            raise UserError("deep-compression runs on built-in datasets; use a YAML recipe")
        schedule = QUICK if quick else TUNED.get(model_name, FULL)
        steps = deep_compression_steps(model_name, schedule)
        data: Dataset = load_dataset(dataset or DATASET_OF[model_name])
    else:
        schedule = QUICK if quick else FULL
        steps = parse_recipe(_recipe_text(recipe), recipe)
        data = resolve_dataset(dataset or DATASET_OF[model_name])
    model = seeded_model(model_name, data, seed)
    if progress is not None:
        progress("dense training")
    train(model, data, schedule.dense_epochs, seed=seed, weight_decay=schedule.dense_weight_decay)
    return run_recipe(model, model_name, steps, data, platform, seed, progress)


def _recipe_text(recipe: str) -> str:
    if not recipe.endswith((".yaml", ".yml")):
        raise UserError(f"unknown recipe '{recipe}': use deep-compression or a FILE.yaml")
    path = Path(recipe)
    if not path.is_file():
        raise UserError(f"recipe file not found: {path}")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{path}: not a UTF-8 text file; a recipe is YAML") from None
