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
import os
import platform as host
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch
from torch import nn

from edgegap import profile
from edgegap.atomic import write_text
from edgegap.compress.recipes import TARGETS, Targets
from edgegap.errors import UserError
from edgegap.hardware import estimate, load_platform
from edgegap.hardware.platform import Platform
from edgegap.precision import FP32_BITS
from edgegap.techniques import Compressed, LayerAnnotation, annotate
from edgegap.techniques.activations import measure_activation_sparsity
from edgegap.techniques.circulant import circulant_linear
from edgegap.techniques.lowrank import rank_for_accuracy_budget
from edgegap.techniques.pruning import layer_sparsity, prune_iteratively, relative_index_size
from edgegap.techniques.quantization import (
    binary_connect,
    dynamic_fixed_point,
    power_of_two,
    quantization_aware_training,
    quantize_uniform,
    ternary_ttq,
    ternary_twn,
    xnor,
)
from edgegap.techniques.sharing import compressed_bytes, fine_tune_centroids, share_weights
from edgegap.techniques.storage import bias_bits, dense_bytes, prunable
from edgegap.techniques.structured import prune_channels
from edgegap.techniques.winograd import winograd_transform
from edgegap.training import Dataset, accuracy, build_model, load_dataset, train
from edgegap.workload import Workload

DOC = Path(__file__).resolve().parent.parent / "docs" / "techniques.md"
PLATFORMS = ("eyeriss", "edge-tpu")
SEED = 0
CHANNELS_KEPT = 0.5  # structured pruning: fraction of output channels kept per layer
LOW_RANK_BUDGET_PP = 1.0  # low rank: most validation accuracy lost, percentage points
BLOCK_SIZE = 16  # CirCNN block
WINOGRAD_TILE = 2

Technique = Callable[[nn.Module], Compressed]  # applied to a deep copy of the dense model


@dataclass(frozen=True)
class Setup:
    dataset: str
    dense_epochs: int
    fine_tune_epochs: int  # every technique that trains
    prune_steps: int  # unstructured pruning: steps of one epoch each


SETUPS = {
    "lenet-5": Setup("mnist10k", dense_epochs=5, fine_tune_epochs=2, prune_steps=2),
    "mnist1d-cnn": Setup("mnist1d", dense_epochs=80, fine_tune_epochs=3, prune_steps=3),
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
    """The MACs left once pruned weights are skipped: each layer's MACs times its weight density
    (1 except after unstructured pruning; Winograd's and CirCNN's annotations already scale the
    MACs themselves)."""
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


def magnitude_pruning(model: nn.Module, data: Dataset, setup: Setup, plan: Targets) -> Compressed:
    """Iterative magnitude pruning (Han, Pool, Tran, Dally, NIPS 2015) to the plan's per-layer
    densities, in place; stored as Deep Compression's relative-index sparse rows with float32
    values (Han, Mao, Dally, ICLR 2016), biases dense float32."""
    sparsity = {name: 1 - fraction for name, fraction in plan.keep.items()}
    prune_iteratively(model, data, sparsity, steps=setup.prune_steps, epochs_per_step=1, seed=SEED)
    weights = sum(
        relative_index_size(weight.detach(), FP32_BITS, plan.index_bits).bytes
        for weight in prunable(model).values()
    )
    densities = {
        name: LayerAnnotation(weight_density=1 - sparsity)
        for name, sparsity in layer_sparsity(model).items()
    }
    return Compressed("pruning", model, weights + math.ceil(bias_bits(model) / 8), densities)


def deep_compression(model: nn.Module, data: Dataset, setup: Setup, plan: Targets) -> Compressed:
    """Deep Compression's three stages (Han, Mao, Dally, ICLR 2016): the pruning above, k-means
    weight sharing with centroids trained one epoch, Huffman coding of the sparse rows."""
    pruned = magnitude_pruning(model, data, setup, plan)
    shared = share_weights(model, plan.weight_bits)
    fine_tune_centroids(model, shared, data, epochs=1, seed=SEED)
    annotations = {
        name: LayerAnnotation(
            weight_bits=plan.weight_bits[name], weight_density=note.weight_density
        )
        for name, note in pruned.annotations.items()
    }
    stored = compressed_bytes(model, shared, plan.index_bits, huffman=True)
    return Compressed("deep compression", model, stored, annotations)


QUANTIZATION = (
    "int8 (post-training)", "int4 (post-training)", "QAT", "dynamic fixed point", "power of two",
    "TWN", "TTQ", "BinaryConnect", "XNOR-Net",
)  # fmt: skip
UNSTRUCTURED = ("magnitude pruning", "Deep Compression")


def techniques(data: Dataset, setup: Setup, plan: Targets) -> list[tuple[str, str, Technique]]:
    """(name, settings, the technique applied to a copy of the dense model), in table order."""
    epochs = setup.fine_tune_epochs
    calibration = data.x_val[:256]
    keep = ", ".join(f"{layer}: {fraction:.0%}" for layer, fraction in plan.keep.items())
    bits = ", ".join(f"{layer}: {b}" for layer, b in plan.weight_bits.items())
    channels = f"{CHANNELS_KEPT:.0%} of output channels kept in every layer but the last"
    return [
        ("int8 (post-training)", "per-channel weights; int8 activations, ranges from 256 "
         "validation samples",
         lambda m: quantize_uniform(m, 8, calibration=calibration, activation_bits=8)),
        ("int4 (post-training)", "per-channel weights; float activations",
         lambda m: quantize_uniform(m, 4)),
        ("QAT", f"int4 per-channel weights, int8 activations, {epochs} epochs",
         lambda m: quantization_aware_training(m, data, 4, epochs, activation_bits=8)),
        ("dynamic fixed point", "8-bit, a fractional length per layer",
         lambda m: dynamic_fixed_point(m, 8)),
        ("power of two", "4-bit: sign and 3-bit exponent, top exponent per layer",
         lambda m: power_of_two(m, 4)),
        ("TWN", f"ternary, alpha per layer, {epochs} epochs",
         lambda m: ternary_twn(m, data, epochs)),
        ("TTQ", f"ternary, threshold 0.05 max abs W, 2 trained scales per layer, {epochs} epochs",
         lambda m: ternary_ttq(m, data, epochs)),
        ("BinaryConnect", f"binary weights, alpha per layer, {epochs} epochs",
         lambda m: binary_connect(m, data, epochs)),
        ("XNOR-Net", f"binary weights (alpha per channel) and inputs, first layer's input "
         f"real, {epochs} epochs",
         lambda m: xnor(m, data, epochs)),
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


def run_model(name: str, data: Dataset, setup: Setup, platforms: list[Platform]) -> list[Row]:
    plan = TARGETS[name]
    settings = f"Adam 1e-3, {setup.dense_epochs} epochs, seed {SEED}"
    train_dense = partial(dense_baseline, name, data, setup)
    dense_row, dense = measure("dense (fp32)", settings, train_dense, data, platforms)
    assert dense is not None, "the dense baseline always applies"
    rows = [dense_row]
    for technique, details, apply in techniques(data, setup, plan):
        copied = partial(apply, copy.deepcopy(dense.model))
        row, _ = measure(technique, details, copied, data, platforms)
        print(f"  {name}: {technique} ({row.seconds:.1f} s)", flush=True)
        rows.append(row)
    return rows


def table(rows: list[Row]) -> str:
    dense = rows[0]
    assert dense.accuracy is not None
    lines = [
        "| technique | settings | test acc % | drop pp | bytes | ratio | MACs | "
        + " | ".join(f"{target} µJ" for target in PLATFORMS)
        + " | time s |",
        "| --- | --- |" + " ---: |" * (6 + len(PLATFORMS)),
    ]
    for row in rows:
        if row.accuracy is None:
            blanks = " - |" * (4 + len(PLATFORMS))
            lines.append(f"| {row.technique} | {row.settings} | not applicable: {row.reason} |"
                         f"{blanks} {row.seconds:.1f} |")  # fmt: skip
            continue
        energy = " | ".join(f"{joules * 1e6:.3g}" for joules in row.energy_j)
        lines.append(
            f"| {row.technique} | {row.settings} | {100 * row.accuracy:.1f} | "
            f"{100 * (dense.accuracy - row.accuracy):+.1f} | {row.bytes:,} | "
            f"{dense.bytes / row.bytes:.1f}x | {row.macs:,} | {energy} | {row.seconds:.1f} |"
        )
    return "\n".join(lines)


def zero_skipping(platform: Platform) -> Platform:
    """The platform with zero-skipping switched on: a what-if, not a catalogued chip."""
    compute = platform.compute.model_copy(update={"zero_skipping": True})
    return platform.model_copy(update={"compute": compute})


def quantizes_activations(row: Row) -> bool:
    assert row.workload is not None
    return any(layer.activation_bits < 32 for layer in row.workload.layers if layer.macs)


def notes(rows: list[Row], platforms: list[Platform]) -> str:
    """What the numbers show, each figure computed from this run's rows."""
    dense = rows[0]
    assert dense.workload is not None
    by_name = {row.technique: row for row in rows}
    quantized = [by_name[technique] for technique in QUANTIZATION]
    weight_only = [row for row in quantized if not quantizes_activations(row)]
    with_activations = [row for row in quantized if quantizes_activations(row)]

    def ratios(row: Row) -> list[float]:
        return [row.energy_j[i] / dense.energy_j[i] for i in range(len(platforms))]

    def per_platform(values: list[float], form: str, unit: str = "") -> str:
        return ", ".join(
            f"{format(value, form)}{unit} on {target.name}"
            for value, target in zip(values, platforms, strict=True)
        )

    same = [max(abs(ratios(row)[i] - 1) for row in weight_only) for i in range(len(platforms))]
    extra = [
        max(abs(ratios(row)[i] - 1) for row in with_activations) for i in range(len(platforms))
    ]
    smallest = min(quantized, key=lambda row: row.bytes)
    precisions = ", ".join(
        f"{target.name} {'/'.join(target.compute.precisions)}" for target in platforms
    )
    offchip = [
        estimate(dense.workload, target).totals.energy_breakdown.memory[level.name]
        / dense.energy_j[i]
        for i, target in enumerate(platforms)
        if (level := target.level("offchip")) is not None
    ]
    pruned = by_name["magnitude pruning"]
    assert pruned.workload is not None
    what_if = [
        estimate(pruned.workload, zero_skipping(target)).totals.energy_j
        / estimate(dense.workload, zero_skipping(target)).totals.energy_j
        for target in platforms
    ]
    smaller = [
        row
        for row in rows[1:]
        if row.accuracy is not None and row.technique not in UNSTRUCTURED and row.macs < dense.macs
    ]
    shrinks = "; ".join(
        f"{row.technique} executes {dense.macs / row.macs:.2f}x fewer MACs and its energy "
        "falls " + per_platform([1 / r for r in ratios(row)], ".2f", "x")
        for row in smaller
    )
    return "\n".join(
        [
            f"- Bits shrink storage, not this energy. {smallest.technique} stores "
            f"{dense.bytes / smallest.bytes:.1f}x fewer bytes than fp32, but each platform runs "
            f"one precision ({precisions}) and the cost model runs a layer at the narrowest "
            "precision the chip has that holds its bits, or else the widest it has: fp32, "
            "int8, int4 and 1-bit layers pay the same MAC and move the same bytes. The "
            "quantized rows ("
            + ", ".join(row.technique for row in weight_only + with_activations)
            + ") cost the dense energy to within "
            + per_platform([max(s, e) for s, e in zip(same, extra, strict=True)], ".2%")
            + " (fake quantization of activations is not counted: an integer pipeline folds "
            "it into requantization).",
            "- Unstructured sparsity pays only where zeros are skipped: magnitude pruning "
            f"leaves {pruned.macs / dense.macs:.1%} of the MACs, yet its energy relative "
            "to the dense is "
            + per_platform(ratios(pruned), ".3f", "x")
            + " (neither chip has zero_skipping). On a what-if copy of each platform with "
            "zero_skipping switched on (not a catalogued chip) it would be "
            + per_platform(what_if, ".3f", "x")
            + ".",
            "- The share of off-chip traffic in the dense energy at batch 1 is "
            + per_platform(offchip, ".0%")
            + " (a buffer that caches the weights, as the Edge TPU's does, moves none), and "
            "weights move at the platform's precision whatever their stored format. So energy "
            "falls with the weights and MACs a technique removes from the dense model itself: "
            f"{shrinks or 'none in this run'}.",
        ]
    )


def main() -> None:
    start = time.perf_counter()
    platforms = [load_platform(target) for target in PLATFORMS]
    sections = []
    for name, setup in SETUPS.items():
        data = load_dataset(setup.dataset)
        rows = run_model(name, data, setup, platforms)
        dense = rows[0]
        assert dense.accuracy is not None
        body = [
            f"## {name} on {setup.dataset}",
            "",
            f"Dense baseline: {100 * dense.accuracy:.1f}% accuracy on the {len(data.x_test):,} "
            f"test samples, {dense.bytes:,} bytes "
            f"(fp32), {dense.macs:,} MACs. Fine-tuning: {setup.fine_tune_epochs} epochs "
            "(Adam) wherever a technique trains.",
            "",
            table(rows),
            "",
            notes(rows, platforms),
        ]
        sections.append("\n".join(body))
        print(sections[-1], flush=True)
    seconds = time.perf_counter() - start
    header = (
        "# Compression techniques, measured\n\n"
        f"Produced by `.venv/bin/python benchmarks/techniques.py` on {datetime.date.today()} "
        f"({host.machine()}, {os.cpu_count()} CPU cores shared with other work, Python "
        f"{host.python_version()}, torch {torch.__version__}) in {seconds:.0f} s. Each model "
        f"is trained dense (seed {SEED}), then each technique of `edgegap.compress` runs on a "
        "deep copy of it. Fine-tuning is short (a few epochs) to keep the whole run to "
        "minutes, so the rows that train show what a short schedule recovers, not each "
        "technique's best. Deep Compression here is its three stages run on the same dense "
        "baseline with that short schedule; docs/compression.md runs the full recipe.\n\n"
        "Accuracy is on the held-out test split. Bytes are the technique's exact "
        "`storage_bytes` (packed codes, scales, codebooks, indices and float32 biases); ratio "
        "is the dense fp32 bytes over them. MACs are those executed per inference: each "
        "layer's MACs times its weight density, which is below 1 only in the two pruning rows "
        "(Winograd's and CirCNN's annotations already scale the MACs). Energy per inference is "
        "`estimate(annotate(profile(model), annotations), platform).totals.energy_j` for the "
        "catalogued `eyeriss` and `edge-tpu`; neither skips zeros, so for the pruning rows it "
        "charges the dense MACs. Time is each technique's own run, fine-tuning included (the "
        "dense row: training). A technique that does not apply gives the library's reason.\n"
    )
    write_text(DOC, header + "\n" + "\n\n".join(sections) + "\n")


if __name__ == "__main__":
    main()
