"""Low-rank factorisation: exact at full rank, Eckart-Young optimal below it, smaller where it
claims to be, and an accuracy budget that holds on validation data."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import edgegap
from edgegap.errors import UserError
from edgegap.techniques.lowrank import factorize, low_rank, rank_for_accuracy_budget
from edgegap.training import accuracy, load_dataset, train


@settings(max_examples=25, deadline=None)
@given(inputs=st.integers(1, 12), outputs=st.integers(1, 12), bias=st.booleans())
def test_linear_at_full_rank_reproduces_the_layer(inputs, outputs, bias):
    torch.manual_seed(inputs * 100 + outputs)
    layer = nn.Linear(inputs, outputs, bias=bias)
    pair = factorize(layer, min(inputs, outputs))
    assert pair[0].bias is None and (pair[1].bias is not None) == bias
    x = torch.randn(5, inputs)
    torch.testing.assert_close(pair(x), layer(x), rtol=1e-5, atol=1e-5)


@settings(max_examples=25, deadline=None)
@given(inputs=st.integers(2, 12), outputs=st.integers(2, 12), data=st.data())
def test_linear_truncation_error_is_the_eckart_young_bound(inputs, outputs, data):
    """Fed the identity, the outputs are the weight's columns: the squared Frobenius error of
    the rank-r layer is the sum of the discarded squared singular values."""
    rank = data.draw(st.integers(1, min(inputs, outputs)))
    torch.manual_seed(inputs * 100 + outputs)
    layer = nn.Linear(inputs, outputs)
    values = torch.linalg.svdvals(layer.weight.detach().double())
    identity = torch.eye(inputs)
    with torch.no_grad():
        error = float(((factorize(layer, rank)(identity) - layer(identity)) ** 2).sum())
    assert error == pytest.approx(float((values[rank:] ** 2).sum()), rel=1e-4, abs=1e-9)


@settings(max_examples=25, deadline=None)
@given(
    channels=st.tuples(st.integers(1, 4), st.integers(1, 4)),
    kernel=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    stride=st.tuples(st.integers(1, 2), st.integers(1, 2)),
    padding=st.tuples(st.integers(0, 2), st.integers(0, 2)),
    dilation=st.tuples(st.integers(1, 2), st.integers(1, 2)),
    size=st.tuples(st.integers(5, 9), st.integers(5, 9)),
    bias=st.booleans(),
)
def test_conv2d_at_full_rank_reproduces_the_convolution(
    channels, kernel, stride, padding, dilation, size, bias
):
    torch.manual_seed(sum(channels + kernel + size))
    layer = nn.Conv2d(*channels, kernel, stride, padding, dilation, bias=bias)
    rank = min(channels[0] * kernel[0], channels[1] * kernel[1])
    pair = factorize(layer, rank)
    assert pair[0].kernel_size == (kernel[0], 1) and pair[1].kernel_size == (1, kernel[1])
    x = torch.randn(2, channels[0], *size)
    torch.testing.assert_close(pair(x), layer(x), rtol=1e-5, atol=1e-5)


@settings(max_examples=25, deadline=None)
@given(
    channels=st.tuples(st.integers(1, 4), st.integers(1, 4)),
    kernel=st.integers(1, 5),
    stride=st.integers(1, 2),
    padding=st.integers(0, 2),
    dilation=st.integers(1, 2),
    length=st.integers(9, 16),
)
def test_conv1d_at_full_rank_reproduces_the_convolution(
    channels, kernel, stride, padding, dilation, length
):
    torch.manual_seed(sum(channels) + kernel + length)
    layer = nn.Conv1d(*channels, kernel, stride, padding, dilation)
    pair = factorize(layer, min(channels[0] * kernel, channels[1]))
    x = torch.randn(2, channels[0], length)
    torch.testing.assert_close(pair(x), layer(x), rtol=1e-5, atol=1e-5)


def test_profile_of_the_factorised_model_matches_hand_counts():
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(512, 32)
    )
    result = low_rank(model, ranks={"0": 2, "3": 4})
    layers = {layer.name: layer for layer in edgegap.profile(result.model, (1, 3, 8, 8)).layers}
    # conv 3x3 (3 -> 8) on 8x8 becomes 3x1 (3 -> 2) then 1x3 (2 -> 8), both on 8x8 outputs
    assert (layers["0.0"].macs, layers["0.0"].params) == (2 * 3 * 3 * 64, 2 * 3 * 3)
    assert (layers["0.1"].macs, layers["0.1"].params) == (8 * 2 * 3 * 64, 8 * 2 * 3 + 8)
    # linear 512 -> 32 becomes 512 -> 4 (no bias) then 4 -> 32
    assert (layers["3.0"].macs, layers["3.0"].params) == (512 * 4, 512 * 4)
    assert (layers["3.1"].macs, layers["3.1"].params) == (4 * 32, 4 * 32 + 32)
    original = edgegap.profile(model, (1, 3, 8, 8)).totals
    assert (original.macs, original.params) == (8 * 27 * 64 + 512 * 32, 8 * 27 + 8 + 512 * 32 + 32)
    assert result.storage_bytes == 4 * (18 + 56 + 2048 + 160)
    assert result.params["ranks"] == {"0": 2, "3": 4}


def test_energy_picks_the_smallest_rank_keeping_that_fraction():
    """Singular values 4, 2, 1, 0.5: squares 16, 4, 1, 0.25 of 21.25, so the first two keep
    94.1% and the first three 98.8%."""
    generator = torch.Generator().manual_seed(0)
    left = torch.linalg.qr(torch.randn(64, 4, generator=generator)).Q
    right = torch.linalg.qr(torch.randn(64, 4, generator=generator)).Q
    layer = nn.Linear(64, 64)
    with torch.no_grad():
        layer.weight.copy_(left @ torch.diag(torch.tensor([4.0, 2.0, 1.0, 0.5])) @ right.T)
    model = nn.Sequential(layer)
    assert low_rank(model, energy=0.94).params["ranks"] == {"0": 2}
    assert low_rank(model, energy=0.95).params["ranks"] == {"0": 3}
    # the other 60 singular values are float32 rounding: a hair below 1 already drops them
    nearly_all = low_rank(model, energy=1 - 1e-6)
    assert nearly_all.params["ranks"] == {"0": 4}
    x = torch.randn(10, 64, generator=generator)
    torch.testing.assert_close(nearly_all.model(x), model(x), rtol=0, atol=1e-5)
    assert low_rank(model, energy=1.0).params["ranks"] == {}  # full rank 64 saves nothing


def test_only_layers_that_shrink_are_factorised():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 2))
    unchanged = low_rank(model, energy=1.0)  # full rank 8 would cost 8*16 > 64 weights
    assert unchanged.params["ranks"] == {}
    assert unchanged.storage_bytes == 4 * sum(p.numel() for p in model.parameters())
    with pytest.raises(UserError, match="saves no parameters"):
        low_rank(model, ranks={"0": 4})  # 4 * (8 + 8) = 64 weights: no saving
    assert low_rank(model, ranks={"0": 3}).storage_bytes == 4 * (3 * 16 + 8 + 18)
    with pytest.raises(UserError, match="either ranks"):
        low_rank(model)
    with pytest.raises(UserError, match="either ranks"):
        low_rank(model, ranks={"0": 1}, energy=0.9)
    with pytest.raises(UserError, match="cannot be factorised"):
        low_rank(model, ranks={"1": 1})
    with pytest.raises(UserError, match=r"\(0, 1\]"):
        low_rank(model, energy=1.5)


def test_accuracy_budget_holds_on_validation_digits():
    data = load_dataset("digits")
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 10))
    train(model, data, epochs=5, lr=1e-2)
    result = rank_for_accuracy_budget(model, data, max_drop_pp=2.0)
    before = accuracy(model, data.x_val, data.y_val)
    after = accuracy(result.model, data.x_val, data.y_val)
    assert result.params["val_accuracy"] == after
    assert 100 * (before - after) <= 2.0
    assert result.params["ranks"], "the budget allows factorising something"
    assert result.storage_bytes < 4 * sum(p.numel() for p in model.parameters())
    assert result.params["test_accuracy"] == accuracy(result.model, data.x_test, data.y_test)
    # no energy measured within budget was lower than the one returned
    feasible = [e for e, acc in result.params["trials"] if 100 * (before - acc) <= 2.0]
    assert result.params["energy"] == min(feasible)
