"""Weight sharing by k-means with trained centroids, and Huffman coding: the second and third
stages of Deep Compression (Han, Mao, Dally, ICLR 2016), with exact storage sizes.

Storage of a pruned, shared layer, in bits:
- each stored entry (nonzeros plus the filler zeros of relative indexing): a codebook index of
  `bits` bits and a relative position of `index_bits` bits (or their Huffman codes);
- the codebook: 2^bits 32-bit floats; a Huffman table: one code-length byte per symbol
  (canonical Huffman codes are rebuilt from lengths alone);
- biases: dense 32-bit floats.
"""

from __future__ import annotations

import copy
import heapq
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import nn

from edgegap.errors import UserError
from edgegap.precision import FP32_BITS, bits_to_bytes
from edgegap.techniques.base import (
    Compressed,
    LayerAnnotation,
    NotAvailable,
    Param,
    Setting,
    Technique,
    register,
)
from edgegap.techniques.pruning import INDEX_BITS, per_layer
from edgegap.techniques.quantization import quantized_workload
from edgegap.techniques.storage import bias_bits, prunable
from edgegap.training.datasets import Dataset
from edgegap.training.loop import train
from edgegap.workload.layer import Workload

if TYPE_CHECKING:
    from edgegap.hardware.platform import Platform


@dataclass
class SharedLayer:
    """A layer's codebook and each weight's cluster. The codebook's last entry is a fixed
    zero, the value of relative indexing's filler entries; 2^bits - 1 entries are trained."""

    centroids: torch.Tensor  # (2^bits,), centroids[-1] == 0
    assignment: torch.Tensor  # same shape as the weight, cluster index per weight
    mask: torch.Tensor  # 1 where the weight survived pruning
    bits: int

    def weight(self) -> torch.Tensor:
        return self.centroids[self.assignment] * self.mask


def kmeans_1d(
    values: torch.Tensor, clusters: int, iterations: int = 30
) -> tuple[torch.Tensor, torch.Tensor]:
    """Lloyd's k-means on scalars with linear initialisation over [min, max] (the
    initialisation Han et al. found best: it keeps the large, rare weights)."""
    centroids = torch.linspace(float(values.min()), float(values.max()), clusters)
    assignment = torch.zeros(len(values), dtype=torch.long)
    for _ in range(iterations):
        assignment = (values[:, None] - centroids[None, :]).abs().argmin(1)
        sums = torch.zeros(clusters).index_add_(0, assignment, values)
        counts = torch.bincount(assignment, minlength=clusters).to(values.dtype)
        centroids = torch.where(counts > 0, sums / counts.clamp(min=1), centroids)
    return centroids, assignment


def share_weights(model: nn.Module, bits: dict[str, int]) -> dict[str, SharedLayer]:
    """Cluster each layer's surviving weights into 2^bits shared values (model updated)."""
    shared = {}
    for name, weight in prunable(model).items():
        if name not in bits:
            continue
        mask = (weight.detach() != 0).to(weight.dtype)
        alive = weight.detach()[mask.bool()]
        centroids, clusters = kmeans_1d(alive, 2 ** bits[name] - 1)
        centroids = torch.cat([centroids, torch.zeros(1)])
        assignment = torch.zeros(weight.shape, dtype=torch.long)
        assignment[mask.bool()] = clusters
        shared[name] = SharedLayer(centroids, assignment, mask, bits[name])
        with torch.no_grad():
            weight.copy_(shared[name].weight())
    return shared


def fine_tune_centroids(
    model: nn.Module,
    shared: dict[str, SharedLayer],
    data: Dataset,
    epochs: int,
    lr: float = 1e-4,
    seed: int = 0,
) -> None:
    """Trained quantisation: after each step each centroid moves by the summed gradient of
    its weights (plain gradient descent); unshared parameters (biases) train with Adam."""
    weights = prunable(model)
    others = [p for p in model.parameters() if all(p is not w for w in weights.values())]

    def move_centroids() -> None:
        with torch.no_grad():
            for name, layer in shared.items():
                grad = weights[name].grad
                assert grad is not None
                alive = layer.mask.bool()
                summed = torch.zeros_like(layer.centroids).index_add_(
                    0, layer.assignment[alive], grad[alive]
                )
                summed[-1] = 0.0  # the filler's zero stays zero
                layer.centroids -= lr * summed
                weights[name].copy_(layer.weight())

    train(model, data, epochs, lr=lr, seed=seed, after_step=move_centroids, parameters=others)


def huffman_lengths(symbols: Iterable[int]) -> dict[int, int]:
    """Code length of each symbol in an optimal prefix code of these frequencies."""
    counts = Counter(symbols)
    if len(counts) == 1:
        return dict.fromkeys(counts, 1)
    heap = [(count, index, [symbol]) for index, (symbol, count) in enumerate(counts.items())]
    heapq.heapify(heap)
    lengths = dict.fromkeys(counts, 0)
    tiebreak = len(heap)
    while len(heap) > 1:
        first, _, left = heapq.heappop(heap)
        second, _, right = heapq.heappop(heap)
        for symbol in left + right:
            lengths[symbol] += 1
        heapq.heappush(heap, (first + second, tiebreak, left + right))
        tiebreak += 1
    return lengths


@dataclass(frozen=True)
class LayerStorage:
    entries: int
    fixed_bits: int  # codebook indices and relative positions at fixed width
    huffman_bits: int  # the same symbols Huffman-coded
    codebook_bits: int
    huffman_table_bits: int


def layer_storage(layer: SharedLayer, index_bits: int) -> LayerStorage:
    """Entries in relative-index order (fillers included) and their exact sizes."""
    flat_mask = layer.mask.flatten().bool()
    positions = torch.nonzero(flat_mask).flatten()
    clusters = layer.assignment.flatten()[positions].tolist()
    span = 2**index_bits
    gaps = (torch.diff(positions, prepend=torch.tensor([-1])) - 1).tolist()
    weight_symbols: list[int] = []
    index_symbols: list[int] = []
    filler = len(layer.centroids) - 1  # the codebook's fixed zero
    for gap, cluster in zip(gaps, clusters, strict=True):
        while gap >= span:  # each filler jumps `span` positions
            weight_symbols.append(filler)
            index_symbols.append(span - 1)
            gap -= span
        weight_symbols.append(cluster)
        index_symbols.append(gap)
    entries = len(weight_symbols)
    weight_lengths = huffman_lengths(weight_symbols)
    index_lengths = huffman_lengths(index_symbols)
    huffman = sum(weight_lengths[s] for s in weight_symbols)
    huffman += sum(index_lengths[s] for s in index_symbols)
    return LayerStorage(
        entries=entries,
        fixed_bits=entries * (layer.bits + index_bits),
        huffman_bits=huffman,
        codebook_bits=len(layer.centroids) * FP32_BITS,
        huffman_table_bits=8 * (len(layer.centroids) + span),
    )


def compressed_bytes(
    model: nn.Module, shared: dict[str, SharedLayer], index_bits: int, huffman: bool
) -> int:
    """Exact bytes of the pruned, shared (and optionally Huffman-coded) model."""
    bits = bias_bits(model)
    for layer in shared.values():
        storage = layer_storage(layer, index_bits)
        bits += storage.codebook_bits
        bits += storage.huffman_bits + storage.huffman_table_bits if huffman else storage.fixed_bits
    return bits_to_bytes(bits, 1)


@register(
    "weight-sharing",
    group="quantization",
    summary="k-means shared weights with trained centroids: each weight a codebook index",
    sources=("Han, Mao, Dally, ICLR 2016",),
)
class WeightSharing(Technique):
    params = (
        Param("bits", 5, 1, 16, integer=True, per_layer=True, help="codebook index bits"),
        Param("epochs", 1, 0, 1000, integer=True, help="centroid training epochs"),
    )
    bare = "bits"

    def apply(
        self, workload: Workload, platform: Platform, setting: Setting
    ) -> tuple[Workload, Platform]:
        """Weights stored as `bits`-bit indices; the arithmetic still runs on decoded values
        at the activations' width."""
        bits = setting["bits"]
        if isinstance(bits, dict):
            raise NotAvailable("weight-sharing: per-layer bits need the model; give one value")
        return quantized_workload(workload, bits, None), platform

    def run(self, model: nn.Module, setting: Setting, data: Dataset | None, seed: int,
            previous: Compressed) -> Compressed:  # fmt: skip
        if data is None:
            raise UserError("weight-sharing trains its centroids: give a dataset")
        shared_model = copy.deepcopy(model)
        layers = list(prunable(shared_model))
        bits = {k: int(v) for k, v in per_layer(setting["bits"], layers, "bits").items()}
        shared = share_weights(shared_model, bits)
        fine_tune_centroids(shared_model, shared, data, setting["epochs"], seed=seed)
        index_bits = previous.state.get("index_bits", INDEX_BITS)
        size = compressed_bytes(shared_model, shared, index_bits, huffman=False)
        notes = {name: LayerAnnotation(weight_bits=bits[name]) for name in shared}
        return Compressed("weight-sharing", shared_model, size, notes,
                          state={"shared": shared, "index_bits": index_bits})  # fmt: skip


@register(
    "huffman",
    group="coding",
    summary="Huffman coding of shared weights' indices and relative positions",
    sources=("Han, Mao, Dally, ICLR 2016", "Huffman, Proc. IRE 40, 1952"),
)
class Huffman(Technique):
    def run(self, model: nn.Module, setting: Setting, data: Dataset | None, seed: int,
            previous: Compressed) -> Compressed:  # fmt: skip
        shared = previous.state.get("shared")
        if shared is None:
            raise UserError("huffman codes shared weights: put '- weight-sharing: N' before it")
        size = compressed_bytes(model, shared, previous.state["index_bits"], huffman=True)
        return Compressed("huffman", model, size, previous.annotations, state=previous.state)
