"""Activation sparsity measured on real data (Cnvlutin, Albericio et al., ISCA 2016; Eyeriss's
zero gating, Chen et al., ISCA 2016): hand-worked zeros, MNIST's blank pixels, and the energy a
zero-skipping platform saves with the measured densities."""

import pytest
import torch
from torch import nn

import edgegap
from edgegap.errors import UserError
from edgegap.hardware import estimate, load_platform
from edgegap.techniques.activations import activation_sparsity, measure_activation_sparsity
from edgegap.techniques.base import annotate
from edgegap.techniques.storage import dense_bytes
from edgegap.training import build_model, load_dataset


def test_hand_worked_zero_fractions():
    model = nn.Sequential(nn.Linear(4, 4, bias=False), nn.ReLU(), nn.Linear(4, 2))
    with torch.no_grad():
        model[0].weight.copy_(torch.eye(4))
    x = torch.tensor([[1.0, -2.0, 3.0, -4.0], [0.0, 5.0, -6.0, 7.0]])
    # the first layer sees one zero in 8; the ReLU zeroes the 4 negatives; the last layer
    # sees the ReLU's output
    assert activation_sparsity(model, x) == {"0": 1 / 8, "1": 4 / 8, "2": 4 / 8}
    assert not model[0]._forward_pre_hooks and not model[1]._forward_hooks


def test_mnist_input_is_mostly_zero_pixels():
    torch.manual_seed(0)
    model = build_model("lenet-5")
    model.train()
    x = load_dataset("mnist10k").x_test[:200]
    fractions = activation_sparsity(model, x)
    assert fractions["0"] == int((x == 0).sum()) / x.numel()
    assert 0.7 < fractions["0"] < 0.9
    assert fractions["2"] == 0.0  # LeNet-5 has no ReLU between its convolutions
    assert fractions["7"] == fractions["6"]  # the classifier's input is the ReLU's output
    assert 0.0 < fractions["6"] < 1.0
    assert model.training  # the mode is restored


def test_measured_densities_lower_zero_skipping_energy():
    torch.manual_seed(0)
    model = build_model("lenet-5")
    x = load_dataset("mnist10k").x_test[:200]
    result = measure_activation_sparsity(model, x)
    assert result.technique == "activation-sparsity" and result.model is model
    assert result.storage_bytes == dense_bytes(model)
    assert set(result.annotations) == {"0", "2", "5", "7"}  # weighted layers, not the ReLU
    assert result.annotations["0"].activation_density == 1 - int((x == 0).sum()) / x.numel()
    workload = edgegap.profile(model, (1, 1, 28, 28))
    annotated = annotate(workload, result.annotations)
    eyeriss = load_platform("eyeriss")
    skipping = eyeriss.with_compute(zero_skipping=True)
    assert (
        estimate(annotated, skipping).totals.energy_j < estimate(workload, skipping).totals.energy_j
    )
    # without zero skipping the zeros are multiplied like any value
    assert (
        estimate(annotated, eyeriss).totals.energy_j == estimate(workload, eyeriss).totals.energy_j
    )


def test_no_samples_is_an_error():
    with pytest.raises(UserError, match="at least one"):
        activation_sparsity(nn.Linear(2, 2), torch.empty(0, 2))
