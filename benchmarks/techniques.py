"""Every compression technique on two small models, measured: accuracy, bytes, MACs, energy.

Trains a seeded dense baseline of LeNet-5 on the shipped MNIST-10k and of the MNIST-1D CNN on
MNIST-1D, applies each technique of `edgegap.compress` to a deep copy of it (fine-tuning where
the technique trains), and writes docs/techniques.md: one table per model with each row's test
accuracy, its drop against the dense model, its exact stored bytes, the MACs it executes and
the energy per inference the one cost model (`edgegap.hardware.estimate`) gives on Eyeriss and
on the Edge TPU for the workload `annotate(profile(model), annotations)`. A technique that does
not apply to a model gets a row with the reason (the library's UserError) instead of a number.

Run: .venv/bin/python benchmarks/techniques.py
"""

from __future__ import annotations

import copy
import datetime
import math
import platform as host
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from edgegap import profile
from edgegap.atomic import write_text
from edgegap.compress import (
    Compressed,
    Dataset,
    LayerAnnotation,
    accuracy,
    annotate,
    build_model,
    circulant_linear,
    compressed_bytes,
    fine_tune_centroids,
    load_dataset,
    low_rank,
    measure_activation_sparsity,
    prune_channels,
    prune_iteratively,
    quantize,
    rank_for_accuracy_budget,
    relative_index_size,
    share_weights,
    train,
    winograd_transform,
)
from edgegap.compress.pruning import layer_sparsity, prunable
from edgegap.compress.recipes import PLANS
from edgegap.compress.sharing import FLOAT_BITS, bias_bits, dense_bytes
from edgegap.errors import UserError
from edgegap.hardware import estimate, load_platform
from edgegap.hardware.platform import Platform
from edgegap.workload import Workload

DOC = Path(__file__).resolve().parent.parent / "docs" / "techniques.md"
PLATFORMS = ("eyeriss", "edge-tpu")
SEED = 0
CHANNELS_KEPT = 0.5  # structured pruning: fraction of output channels kept per layer
LOW_RANK_BUDGET_PP = 1.0  # low rank: most validation accuracy lost, percentage points
BLOCK_SIZE = 16  # CirCNN block
WINOGRAD_TILE = 2


@dataclass(frozen=True)
class Setup:
    dataset: str
    dense_epochs: int
    fine_tune_epochs: int  # every technique that trains
    prune_steps: int  # unstructured pruning: steps of one epoch each


SETUPS = {
    "lenet-5": Setup("mnist10k", dense_epochs=5, fine_tune_epochs=2, prune_steps=2),
    "mnist1d-cnn": Setup("mnist1d", dense_epochs=50, fine_tune_epochs=3, prune_steps=3),
}


@dataclass(frozen=True)
class Row:
    technique: str
    settings: str
    seconds: float
    accuracy: float | None = None  # None: not applicable
    bytes: int = 0
    macs: int = 0
    energy_j: tuple[float, ...] = ()  # per platform, in PLATFORMS order
    workload: Workload | None = None
    reason: str = ""


def executed_macs(workload: Workload) -> int:
    """MACs as a zero-skipping platform counts them: each layer's MACs times its weight
    density (1 except after unstructured pruning; Winograd's and CirCNN's annotations already
    scale the MACs)."""
    return sum(round(layer.macs * layer.weight_density) for layer in workload.layers)



def measure(
    technique: str,
    settings: str,
    compress: Callable[[], Compressed],
    data: Dataset,
    platforms: list[Platform],
) -> tuple[Row, Compressed | None]:
    """Run one technique and measure its result; a UserError makes a not-applicable row."""
    start = time.perf_counter()
    try:
        result = compress()
    except UserError as error:
        return Row(technique, settings, time.perf_counter() - start, reason=str(error)), None
    seconds = time.perf_counter() - start
    score = accuracy(result.model, data.x_test, data.y_test)
    workload = annotate(profile(result.model, (1, *data.sample_shape)), result.annotations)
    energy = tuple(estimate(workload, target).totals.energy_j for target in platforms)
    row = Row(technique, settings, seconds, score, result.storage_bytes,
              executed_macs(workload), energy, workload)  # fmt: skip
    return row, result


def dense_baseline(name: str, data: Dataset, setup: Setup) -> Compressed:
    torch.manual_seed(SEED)
    model = train(build_model(name), data, setup.dense_epochs, seed=SEED)
    return Compressed("dense", model, dense_bytes(model))


def magnitude_pruning(model: nn.Module, data: Dataset, setup: Setup, plan: Plan) -> Compressed:
    """Iterative magnitude pruning (Han, Pool, Tran, Dally, NIPS 2015) to the plan's per-layer
    densities, in place; stored as Deep Compression's relative-index sparse rows with float32
    values (Han, Mao, Dally, ICLR 2016), biases dense float32."""
    sparsity = {name: 1 - fraction for name, fraction in plan.keep.items()}
    prune_iteratively(model, data, sparsity, steps=setup.prune_steps, epochs_per_step=1, seed=SEED)
    weights = sum(
        relative_index_size(weight.detach(), FLOAT_BITS, plan.index_bits).bytes
        for weight in prunable(model).values()
    )
    densities = {
        name: LayerAnnotation(weight_density=1 - sparsity)
        for name, sparsity in layer_sparsity(model).items()
    }
    return Compressed("pruning", model, weights + math.ceil(bias_bits(model) / 8), densities)


def deep_compression(model: nn.Module, data: Dataset, setup: Setup, plan: Plan) -> Compressed:
    """Deep Compression's three stages (Han, Mao, Dally, ICLR 2016): the pruning above, k-means
    weight sharing with centroids trained one epoch, Huffman coding of the sparse rows."""
    pruned = magnitude_pruning(model, data, setup, plan)
    shared = share_weights(model, plan.weight_bits)
    fine_tune_centroids(model, shared, data, epochs=1, seed=SEED)
    annotations = {
        name: LayerAnnotation(weight_bits=plan.weight_bits[name], weight_density=note.weight_density)
        for name, note in pruned.annotations.items()
    }
    stored = compressed_bytes(model, shared, plan.index_bits, huffman=True)
    return Compressed("deep compression", model, stored, annotations)


QUANTIZATION = (
    "int8 (post-training)", "int4 (post-training)", "QAT", "dynamic fixed point", "power of two",
    "TWN", "TTQ", "BinaryConnect", "XNOR-Net",
)  # fmt: skip
UNSTRUCTURED = ("magnitude pruning", "Deep Compression")


def techniques(data: Dataset, setup: Setup, plan: Plan) -> list[tuple[str, str, Technique]]:
    """(name, settings, the technique applied to a copy of the dense model), in table order."""
    epochs = setup.fine_tune_epochs
    calibration = data.x_val[:256]
    keep = ", ".join(f"{layer}: {fraction:.0%}" for layer, fraction in plan.keep.items())
    bits = ", ".join(f"{layer}: {b}" for layer, b in plan.weight_bits.items())
    channels = f"{CHANNELS_KEPT:.0%} of output channels kept in every layer but the last"
    return [
        ("int8 (post-training)", "per-channel weights; int8 activations, ranges from 256 "
         "validation samples",
         lambda m: quantize(m, "int8", calibration=calibration, activation_bits=8)),
        ("int4 (post-training)", "per-channel weights; float activations",
         lambda m: quantize(m, "int4")),
        ("QAT", f"int4 per-channel weights, int8 activations, {epochs} epochs",
         lambda m: quantize(m, "qat", data=data, bits=4, activation_bits=8, epochs=epochs)),
        ("dynamic fixed point", "8-bit, a fractional length per layer",
         lambda m: quantize(m, "dynamic-fixed-point", bits=8)),
        ("power of two", "4-bit: sign and 3-bit exponent, top exponent per layer",
         lambda m: quantize(m, "power-of-two", bits=4)),
        ("TWN", f"ternary, alpha per layer, {epochs} epochs",
         lambda m: quantize(m, "twn", data=data, epochs=epochs)),
        ("TTQ", f"ternary, threshold 0.05 max abs W, 2 trained scales per layer, {epochs} epochs",
         lambda m: quantize(m, "ttq", data=data, epochs=epochs)),
        ("BinaryConnect", f"binary weights, alpha per layer, {epochs} epochs",
         lambda m: quantize(m, "binaryconnect", data=data, epochs=epochs)),
        ("XNOR-Net", f"binary weights (alpha per channel) and inputs, first layer's input "
         f"real, {epochs} epochs",
         lambda m: quantize(m, "xnor", data=data, epochs=epochs)),
        ("magnitude pruning", f"unstructured, weights kept {keep}, {setup.prune_steps} steps "
         f"of 1 epoch; sparse rows, fp32 values, {plan.index_bits}-bit relative indices",
         lambda m: magnitude_pruning(m, data, setup, plan)),
        ("Deep Compression", f"that pruning + k-means sharing (bits {bits}), centroids "
         "trained 1 epoch + Huffman",
         lambda m: deep_compression(m, data, setup, plan)),
        ("structured pruning (L1)", f"{channels}, {epochs} epochs",
         lambda m: prune_channels(m, CHANNELS_KEPT, "l1", data, epochs, seed=SEED)),
        ("structured pruning (activation)", f"{channels}, ranked on validation data, "
         f"{epochs} epochs",
         lambda m: prune_channels(m, CHANNELS_KEPT, "activation", data, epochs, seed=SEED)),
        ("low rank (SVD)", f"lowest energy threshold within {LOW_RANK_BUDGET_PP:g} pp of "
         "validation accuracy, no fine-tuning",
         lambda m: rank_for_accuracy_budget(m, data, LOW_RANK_BUDGET_PP)),
        ("CirCNN", f"block-circulant Linear layers, block {BLOCK_SIZE}, {epochs} epochs",
         lambda m: circulant_linear(m, BLOCK_SIZE, data, epochs, seed=SEED)),
        ("Winograd", f"F({WINOGRAD_TILE}x{WINOGRAD_TILE},3x3)",
         lambda m: winograd_transform(m, WINOGRAD_TILE)),
        ("activation sparsity", "input zeros of each layer measured on the validation set",
         lambda m: measure_activation_sparsity(m, data.x_val)),
    ]  # fmt: skip


def run_model(name: str, setup: Setup, platforms: list[Platform]) -> list[Row]:
    data = load_dataset(setup.dataset)
    plan = PLANS[name]
    settings = f"Adam 1e-3, {setup.dense_epochs} epochs, seed {SEED}"
    dense_row, dense = measure("dense (fp32)", settings,
                               lambda: dense_baseline(name, data, setup), data, platforms)  # fmt: skip
    assert dense is not None, "the dense baseline always applies"
    rows = [dense_row]
    for technique, details, apply in techniques(data, setup, plan):
        row, _ = measure(
            technique, details, lambda: apply(copy.deepcopy(dense.model)), data, platforms
        )
        print(f"  {name}: {technique} ({row.seconds:.1f} s)", flush=True)
        rows.append(row)
    return rows
