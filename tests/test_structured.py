"""Structured (filter and neuron) pruning: the right channels go, the model really shrinks, and
what stays computes what it computed before."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import edgegap
from edgegap.errors import UserError
from edgegap.techniques.structured import prune_channels
from edgegap.training import accuracy, build_model, load_dataset, train
from edgegap.training.datasets import Dataset


def tiny_convnet() -> nn.Sequential:
    """Input 1x6x6: conv 4 filters 3x3 -> 4x4x4; conv 3 filters 3x3 -> 3x2x2; Flatten 12."""
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Conv2d(4, 3, 3), nn.Flatten(), nn.Linear(12, 2)
    )


def test_l1_keeps_the_largest_filters_and_cuts_the_next_layer_to_match():
    model = tiny_convnet()
    with torch.no_grad():
        for index, value in enumerate([0.0, -3.0, 0.0, 1.0]):  # L1 norms 0, 27, 0, 9
            model[0].weight[index] = value
        model[0].bias.copy_(torch.tensor([0.0, 0.5, 0.0, -0.2]))
    result = prune_channels(model, {"0": 0.5})
    assert result.params["kept_channels"] == {"0": [1, 3]}
    assert result.params["channels"] == {"0": (2, 4), "2": (3, 3)}
    pruned = result.model
    assert pruned[0].weight.shape == (2, 1, 3, 3) and pruned[2].weight.shape == (3, 2, 3, 3)
    assert torch.equal(pruned[2].weight, model[2].weight[:, [1, 3]])
    assert torch.equal(pruned[0].bias, torch.tensor([0.5, -0.2]))
    assert model[0].weight.shape == (4, 1, 3, 3)  # the original is untouched
    x = torch.randn(16, 1, 6, 6, generator=torch.Generator().manual_seed(1))
    # the removed filters were exactly zero (weights and bias): ReLU(0) = 0 fed the next layer
    torch.testing.assert_close(pruned(x), model(x), rtol=0, atol=1e-6)


def test_profile_shrinks_by_exactly_the_removed_channels():
    model = tiny_convnet()
    result = prune_channels(model, {"0": 0.5, "2": 2 / 3})  # 4 -> 2 filters, 3 -> 2 filters
    before = edgegap.profile(model, (1, 1, 6, 6)).totals
    after = edgegap.profile(result.model, (1, 1, 6, 6)).totals
    # conv0 4*9*16 = 576, conv2 3*4*9*4 = 432, linear 12*2 = 24
    assert (before.macs, before.params) == (576 + 432 + 24, 40 + 111 + 26)
    # conv0 2*9*16 = 288, conv2 2*2*9*4 = 144, linear (2 channels x 4 positions) * 2 = 16
    assert (after.macs, after.params) == (288 + 144 + 16, 20 + 38 + 18)
    assert result.storage_bytes == 4 * (20 + 38 + 18)


def masked_forward(model: nn.Sequential, kept: dict[str, list[int]], x: torch.Tensor):
    """The original model with each pruned layer's removed channels zeroed where the next
    weighted layer (or the Flatten before it) reads them."""
    pending = None
    for name, module in model.named_children():
        if pending is not None and isinstance(module, nn.Conv2d | nn.Linear | nn.Flatten):
            if pending in kept:
                mask = torch.zeros(x.shape[1])
                mask[kept[pending]] = 1.0
                x = x * mask.view(1, -1, *[1] * (x.dim() - 2))
            pending = None
        x = module(x)
        if isinstance(module, nn.Conv2d | nn.Linear):
            pending = name
    return x


@settings(max_examples=25, deadline=None)
@given(
    channels=st.tuples(st.integers(1, 5), st.integers(1, 5), st.integers(1, 6)),
    keep=st.tuples(*[st.sampled_from([0.2, 0.5, 0.7, 1.0])] * 3),
    criterion=st.sampled_from(["l1", "activation"]),
    seed=st.integers(0, 2**16),
)
def test_pruned_chain_equals_the_original_with_removed_channels_silenced(
    channels, keep, criterion, seed
):
    """Through BatchNorm, ReLU, pooling and a Flatten into Linear: the rebuilt model computes
    exactly what the original computes once the removed channels are silenced."""
    torch.manual_seed(seed)
    first, second, hidden = channels
    model = nn.Sequential(
        nn.Conv2d(2, first, 3, padding=1), nn.BatchNorm2d(first), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(first, second, 3), nn.BatchNorm2d(second), nn.ReLU(), nn.Flatten(),
        nn.Linear(second * 4, hidden), nn.BatchNorm1d(hidden), nn.ReLU(), nn.Linear(hidden, 3),
    )  # fmt: skip
    for norm in (model[1], model[5], model[9]):
        norm.running_mean.uniform_(-1, 1)
        norm.running_var.uniform_(0.5, 2)
        nn.init.uniform_(norm.weight, 0.5, 1.5)
        nn.init.uniform_(norm.bias, -0.5, 0.5)
    model.eval()
    x = torch.randn(8, 2, 8, 8)
    data = Dataset("calibration", x, torch.zeros(8), x, torch.zeros(8), x, torch.zeros(8), 3, "")
    result = prune_channels(model, dict(zip(["0", "4", "8"], keep, strict=True)), criterion, data)
    pruned = result.model.eval()
    assert [len(pruned[i].weight) for i in (0, 4, 8)] == [
        max(1, round(k * n)) for k, n in zip(keep, channels, strict=True)
    ]
    torch.testing.assert_close(
        pruned(x), masked_forward(model, result.params["kept_channels"], x), rtol=1e-5, atol=1e-5
    )


def test_activation_criterion_removes_a_dead_channel_first():
    """Filter 2 has the largest weights (L1 keeps it) but a bias of -1000: its ReLU output is
    always zero, so the data-driven criterion drops it first."""
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv1d(1, 4, 3), nn.ReLU(), nn.Conv1d(4, 2, 3), nn.ReLU(), nn.Flatten(),
        nn.Linear(2 * 6, 3),
    )  # fmt: skip
    with torch.no_grad():
        model[0].weight[2] = 5.0
        model[0].bias[2] = -1000.0
    x = torch.randn(32, 1, 10, generator=torch.Generator().manual_seed(1))
    labels = torch.zeros(32, dtype=torch.long)
    data = Dataset("calibration", x, labels, x, labels, x, labels, 3, "random signals")
    by_activation = prune_channels(model, {"0": 0.75}, "activation", data)
    by_l1 = prune_channels(model, {"0": 0.75}, "l1")
    assert by_activation.params["kept_channels"]["0"] == [0, 1, 3]
    assert 2 in by_l1.params["kept_channels"]["0"]
    # the dead channel contributed nothing, so removing it changes no output
    torch.testing.assert_close(by_activation.model(x), model(x), rtol=0, atol=1e-5)


@pytest.mark.parametrize(
    ("name", "shape", "channels", "macs", "params"),
    [
        # lenet-5 at half: conv 10 filters, conv 25, fc 250 hidden (10 outputs stay)
        ("lenet-5", (1, 1, 28, 28), {"0": (10, 20), "2": (25, 50), "5": (250, 500)},
         10 * 25 * 576 + 25 * 10 * 25 * 64 + 400 * 250 + 250 * 10,
         (250 + 10) + (6250 + 25) + (100_000 + 250) + (2500 + 10)),
        # mnist1d-cnn at half: round(12.5) = 12 channels each; lengths 40 -> 19 -> 10 -> 5
        ("mnist1d-cnn", (1, 1, 40), {"0": (12, 25), "2": (12, 25), "4": (12, 25)},
         12 * 5 * 19 + 12 * 12 * 3 * 10 + 12 * 12 * 3 * 5 + 60 * 10,
         (60 + 12) + (432 + 12) + (432 + 12) + (600 + 10)),
    ],
)  # fmt: skip
def test_small_models_shrink_to_the_expected_size(name, shape, channels, macs, params):
    torch.manual_seed(0)
    result = prune_channels(build_model(name), 0.5)
    assert result.params["channels"] == channels
    totals = edgegap.profile(result.model, shape).totals
    assert (totals.macs, totals.params) == (macs, params)
    assert result.storage_bytes == 4 * params


def test_fine_tuning_recovers_accuracy_after_pruning():
    data = load_dataset("digits")
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(16 * 16, 64), nn.ReLU(), nn.Linear(64, 10),
    )  # fmt: skip
    train(model, data, epochs=4, lr=1e-2)
    dense = accuracy(model, data.x_test, data.y_test)
    pruned = prune_channels(model, 0.5, "activation", data)
    tuned = prune_channels(model, 0.5, "activation", data, fine_tune_epochs=2)
    assert pruned.params["kept_channels"] == tuned.params["kept_channels"]
    after_pruning = accuracy(pruned.model, data.x_test, data.y_test)
    after_tuning = accuracy(tuned.model, data.x_test, data.y_test)
    assert dense > 0.9
    assert after_tuning > after_pruning + 0.05 and after_tuning > 0.9


class Residual(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 2, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x)


def test_unsupported_models_and_bad_arguments_are_user_errors():
    with pytest.raises(UserError, match="lenet-5"):
        prune_channels(Residual(), 0.5)
    with pytest.raises(UserError, match="cannot pass through"):
        prune_channels(nn.Sequential(nn.Conv2d(2, 2, 3), Residual(), nn.Conv2d(2, 2, 3)), 0.5)
    with pytest.raises(UserError, match="without Flatten"):
        prune_channels(nn.Sequential(nn.Conv1d(1, 4, 3), nn.Linear(8, 2)), 0.5)
    with pytest.raises(UserError, match="classes"):
        prune_channels(tiny_convnet(), {"4": 0.5})
    with pytest.raises(UserError, match=r"\(0, 1\]"):
        prune_channels(tiny_convnet(), 0.0)
    with pytest.raises(UserError, match="give data"):
        prune_channels(tiny_convnet(), 0.5, criterion="activation")
    with pytest.raises(UserError, match="unknown pruning criterion"):
        prune_channels(tiny_convnet(), 0.5, criterion="taylor")
