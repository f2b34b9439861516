"""Compression foundations on real data: datasets, models, seeded training, magnitude pruning
and its sparse storage, and sparsity reaching the cost model."""

import pytest
import torch
from torch import nn

import edgegap
from edgegap.errors import UserError
from edgegap.hardware import estimate, load_platform
from edgegap.techniques.pruning import (
    annotate_density,
    layer_sparsity,
    magnitude_masks,
    prune_iteratively,
    relative_index_size,
)
from edgegap.training import accuracy, build_model, load_dataset, train


def test_datasets_are_real_fixed_and_disjoint():
    mnist = load_dataset("mnist10k")
    assert (len(mnist.x_train), len(mnist.x_val), len(mnist.x_test)) == (8000, 1000, 1000)
    assert mnist.sample_shape == (1, 28, 28) and mnist.classes == 10
    assert float(mnist.x_train.min()) >= 0.0 and float(mnist.x_train.max()) <= 1.0
    assert torch.bincount(mnist.y_test, minlength=10).min() > 50  # shuffled across classes
    digits = load_dataset("digits")
    assert digits.sample_shape == (1, 8, 8) and len(digits.x_test) == 179
    mnist1d = load_dataset("mnist1d")
    assert mnist1d.sample_shape == (1, 40) and len(mnist1d.x_test) == 1000
    with pytest.raises(UserError, match="unknown dataset"):
        load_dataset("imagenet")


def test_models_have_the_published_sizes():
    def params(name):
        return sum(p.numel() for p in build_model(name).parameters())

    assert params("lenet-300-100") == 266_610  # Deep Compression: 267K
    assert params("lenet-5") == 431_080  # Deep Compression: 431K
    workload = edgegap.profile(build_model("mnist1d-cnn"), (1, 1, 40))
    assert workload.totals.params == sum(p.numel() for p in build_model("mnist1d-cnn").parameters())


def small_mlp() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))


def test_seeded_training_is_reproducible_and_learns():
    data = load_dataset("digits")
    first = accuracy(train(small_mlp(), data, epochs=5, lr=1e-2), data.x_test, data.y_test)
    second = accuracy(train(small_mlp(), data, epochs=5, lr=1e-2), data.x_test, data.y_test)
    assert first == second
    assert first > 0.9


def test_magnitude_masks_remove_exactly_the_smallest():
    model = nn.Sequential(nn.Linear(4, 2))
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[0.1, -0.5, 0.3, -0.05], [2.0, 0.2, -0.4, 1.0]]))
    mask = magnitude_masks(model, {"0": 0.5})["0"]
    assert mask.tolist() == [[0, 1, 0, 0], [1, 0, 1, 1]]


def test_relative_index_storage_by_hand():
    """Deep Compression Fig. 2's rule with 3-bit indices (a step of at most 8 positions):
    nonzeros at 1, 4 and 15: gaps 1, 2 and 10 zeros; 10 >= 8 costs one filler entry."""
    weight = torch.zeros(16)
    weight[[1, 4, 15]] = 1.0
    size = relative_index_size(weight, value_bits=5, index_bits=3)
    assert (size.nonzeros, size.entries) == (3, 4)
    assert size.bytes == 4  # 4 entries x (5 + 3) bits


def test_pruning_keeps_accuracy_and_reaches_the_cost_model():
    data = load_dataset("digits")
    model = train(small_mlp(), data, epochs=5, lr=1e-2)
    dense = accuracy(model, data.x_test, data.y_test)
    prune_iteratively(model, data, {"1": 0.8, "3": 0.5}, steps=2, epochs_per_step=2, lr=5e-3)
    sparsity = layer_sparsity(model)
    assert sparsity["1"] == pytest.approx(0.8, abs=0.01)
    assert sparsity["3"] == pytest.approx(0.5, abs=0.01)
    assert accuracy(model, data.x_test, data.y_test) >= dense - 0.03
    workload = annotate_density(edgegap.profile(model, (1, 1, 8, 8), dtype="int8"), model)
    densities = {layer.name: layer.weight_density for layer in workload.layers if layer.macs}
    assert densities["1"] == pytest.approx(0.2, abs=0.01)
    skipping = load_platform("cortex-m7").with_compute(zero_skipping=True)
    dense_cost = estimate(edgegap.profile(model, (1, 1, 8, 8), dtype="int8"), skipping)
    sparse_cost = estimate(workload, skipping)
    assert sparse_cost.totals.energy_j < dense_cost.totals.energy_j


def test_huffman_lengths_by_hand():
    from edgegap.techniques.sharing import huffman_lengths

    lengths = huffman_lengths("aaaaabbcd")
    assert lengths == {"a": 1, "b": 2, "c": 3, "d": 3}
    assert huffman_lengths([7, 7, 7]) == {7: 1}


def test_kmeans_finds_separated_clusters():
    from edgegap.techniques.sharing import kmeans_1d

    values = torch.tensor([-1.0, -1.1, -0.9, 2.0, 2.1, 1.9])
    centroids, assignment = kmeans_1d(values, 2)
    assert sorted(centroids.tolist()) == pytest.approx([-1.0, 2.0])
    assert len(set(assignment[:3].tolist())) == 1 and len(set(assignment[3:].tolist())) == 1


def test_shared_layer_storage_by_hand():
    """Nonzeros at 1, 4, 15 of 16 with clusters 0, 1, 0; 2-bit codebook (3 trained values +
    the filler's zero), 3-bit relative indices (steps of up to 8): entries 1, 4, a filler at
    12, 15. Fixed width: 4 x (2 + 3) = 20 bits. Huffman: values 0,1,3,0 -> lengths 1,2,2,1
    (6 bits); index symbols 1,2,7,2 -> 2,1,2,1 (6 bits)."""
    from edgegap.techniques.sharing import SharedLayer, layer_storage

    mask = torch.zeros(16)
    mask[[1, 4, 15]] = 1
    assignment = torch.zeros(16, dtype=torch.long)
    assignment[4] = 1
    layer = SharedLayer(torch.tensor([0.5, -0.5, 0.25, 0.0]), assignment, mask, bits=2)
    storage = layer_storage(layer, index_bits=3)
    assert storage.entries == 4
    assert storage.fixed_bits == 20
    assert storage.huffman_bits == 12
    assert storage.codebook_bits == 4 * 32
    assert storage.huffman_table_bits == 8 * (4 + 8)


def test_weight_sharing_keeps_pruned_zeros_and_uses_the_codebook():
    from edgegap.techniques.sharing import compressed_bytes, share_weights
    from edgegap.techniques.storage import dense_bytes

    data = load_dataset("digits")
    model = train(small_mlp(), data, epochs=3, lr=1e-2)
    prune_iteratively(model, data, {"1": 0.75, "3": 0.5}, steps=1, epochs_per_step=1)
    zeros_before = {k: float(v) for k, v in layer_sparsity(model).items()}
    shared = share_weights(model, {"1": 4, "3": 4})
    assert layer_sparsity(model) == pytest.approx(zeros_before, abs=1e-6)
    weight = model[1].weight
    assert len(torch.unique(weight[weight != 0])) <= 2**4 - 1
    fixed = compressed_bytes(model, shared, index_bits=4, huffman=False)
    coded = compressed_bytes(model, shared, index_bits=4, huffman=True)
    assert coded < fixed < dense_bytes(model) / 4


@pytest.mark.slow
def test_compress_cli_quick_contract():
    import json

    from typer.testing import CliRunner

    from edgegap.cli import app

    runner = CliRunner()
    args = ["compress", "lenet-300-100", "--quick", "--target", "eyeriss", "--format", "json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert {"accuracy", "bytes", "macs", "energy_j"} <= set(record["baseline"])
    names = [stage["name"].split(" (")[0] for stage in record["stages"]]
    assert names == ["dense", "+ prune", "+ weight-sharing", "+ huffman"]
    assert record["compression_ratio"] == pytest.approx(
        record["stages"][0]["bytes"] / record["stages"][-1]["bytes"]
    )
    assert record["compression_ratio"] > 25  # 8% of weights kept, 6-bit codebooks, Huffman
    assert record["stages"][1]["macs"] < record["stages"][0]["macs"] / 10
    bad = runner.invoke(app, ["compress", "resnet50", "--quick"])
    assert bad.exit_code == 2 and "unknown small model 'resnet50'" in bad.stderr
