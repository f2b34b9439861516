"""Quantization techniques: hand-checked kernels, their properties over random weights, exact
packed storage, training on real digits, and bit-widths reaching the workload."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import edgegap
from edgegap.errors import UserError
from edgegap.techniques import get
from edgegap.techniques.base import annotate
from edgegap.techniques.quantization import (
    StraightThrough,
    TrainedTernary,
    binary_connect,
    binary_weight,
    dynamic_fixed_point,
    fixed_point_weight,
    power_of_two,
    power_of_two_weight,
    quantization_aware_training,
    quantize_uniform,
    ternary_ttq,
    ternary_twn,
    ternary_weight,
    uniform_weight,
    xnor,
)
from edgegap.techniques.storage import prunable
from edgegap.training import accuracy, load_dataset, train

SHAPE = (1, 1, 8, 8)


def tiny_cnn() -> nn.Module:
    """36 + 4 conv parameters, 1440 + 10 linear: 1490 float32 parameters, 5960 bytes."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(144, 10))


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


@pytest.fixture(scope="module")
def trained(digits):
    return train(tiny_cnn(), digits, epochs=3, lr=1e-2)


def test_int4_by_hand():
    """Per channel: max|W| = 1.4 -> scale 1.4 / 7 = 0.2, integers 7, -3.1 -> -3, 1.25 -> 1, 0;
    max|W| = 0.07 -> scale 0.01, integers 7, -1, 0, 3. Codes are integers + 8."""
    weight = torch.tensor([[1.4, -0.62, 0.25, 0.0], [0.07, -0.01, 0.0, 0.03]])
    q = uniform_weight(weight, 4)
    assert torch.allclose(q.side, torch.tensor([0.2, 0.01]))
    assert q.codes.tolist() == [[15, 5, 9, 8], [15, 7, 8, 11]]
    assert torch.allclose(q.values, torch.tensor([[1.4, -0.6, 0.2, 0.0], [0.07, -0.01, 0, 0.03]]))
    assert q.bytes == 4 + 8  # 8 codes x 4 bits, two float32 scales
    per_tensor = uniform_weight(weight, 4, per_channel=False)
    assert per_tensor.side.tolist() == pytest.approx([0.2])
    assert per_tensor.codes[1].tolist() == [8, 8, 8, 8]  # 0.07 / 0.2 rounds to 0


def test_dynamic_fixed_point_by_hand():
    """max|W| = 0.6: il = ceil(log2 0.6) + 1 = 1, so 4 bits keep fl = 3 fractional bits, step
    1/8: 0.6 -> 5/8, -0.3 -> -2/8, 0.05 -> 0. max|W| = 0.5: il = 0, fl = 4, and 0.5 = 8/16
    saturates at the largest 4-bit integer 7: 7/16."""
    q = fixed_point_weight(torch.tensor([0.6, -0.3, 0.05]), 4)
    assert q.side.tolist() == [3] and q.values.tolist() == [0.625, -0.25, 0.0]
    assert q.codes.tolist() == [13, 6, 8] and q.bytes == 2 + 1
    saturated = fixed_point_weight(torch.tensor([0.5, -0.5]), 4)
    assert saturated.side.tolist() == [4] and saturated.values.tolist() == [0.4375, -0.5]


def test_power_of_two_by_hand():
    """3 bits: a sign and 2 magnitude bits, levels 0, 2^n1, 2^(n1-1), 2^(n1-2). max|W| = 0.9:
    n1 = floor(log2(1.2)) = 0, levels 0, 1, 0.5, 0.25; 0.6 is nearer 0.5 than 1, 0.2 nearer
    0.25 than 0, 0.1 < 0.25 / 2 becomes 0."""
    weight = torch.tensor([0.9, -0.3, 0.1, -0.02, 0.6, 0.2])
    q = power_of_two_weight(weight, 3)
    assert q.values.tolist() == [1.0, -0.25, 0.0, 0.0, 0.5, 0.25]
    assert q.codes.tolist() == [1, 4 + 3, 0, 0, 2, 3] and q.side.tolist() == [0]
    assert q.bytes == math.ceil(6 * 3 / 8) + 1


def test_twn_by_hand():
    """mean|W| = 1, delta = 0.7; 2.0 and -1.0 exceed it, alpha = (2 + 1) / 2 = 1.5."""
    q = ternary_weight(torch.tensor([2.0, -1.0, 0.5, 0.5]))
    assert q.values.tolist() == [1.5, -1.5, 0.0, 0.0]
    assert q.codes.tolist() == [1, 2, 0, 0] and q.side.tolist() == [1.5]
    assert q.bytes == 1 + 4


def test_binary_by_hand():
    """XNOR scaling: alpha = mean|W| per output channel (0.4 and 0.15), or 0.275 per layer."""
    weight = torch.tensor([[0.5, -0.3], [0.1, 0.2]])
    q = binary_weight(weight, per_channel=True)
    assert torch.allclose(q.values, torch.tensor([[0.4, -0.4], [0.15, 0.15]]))
    assert q.codes.tolist() == [[1, 0], [1, 1]] and q.bytes == 1 + 8
    assert binary_weight(weight, per_channel=False).side.tolist() == pytest.approx([0.275])


def test_straight_through_forwards_the_quantized_weight_and_passes_the_gradient():
    """The forward value is exactly the quantized weight; d out / d latent is 1."""
    latent = torch.tensor([[1.4, -0.62, 0.25, 0.0]], requires_grad=True)
    out = StraightThrough(lambda w: uniform_weight(w, 4))(latent)
    assert torch.equal(out, uniform_weight(latent, 4).values)
    (out * torch.tensor([1.0, 2.0, 3.0, 4.0])).sum().backward()
    assert latent.grad is not None and latent.grad.tolist() == [[1.0, 2.0, 3.0, 4.0]]


def test_trained_ternary_gradients_follow_the_paper():
    """Zhu et al. eq. 7-8 with W_p = 2, W_n = 3, threshold 0.05 * 0.9: the latent gradient is
    the ternary one times W_p, 1, W_n on the positive, zero and negative sets; dL/dW_p sums
    the positive set's gradients (1 + 4), dL/dW_n the negative set's, negated (-3)."""
    latent = torch.tensor([0.9, 0.01, -0.5, 0.3], requires_grad=True)
    ternary = TrainedTernary(latent.detach(), threshold=0.05)
    with torch.no_grad():
        ternary.positive_scale.fill_(2.0)
        ternary.negative_scale.fill_(3.0)
    out = ternary(latent)
    assert out.tolist() == [2.0, 0.0, -3.0, 2.0]
    (out * torch.tensor([1.0, 2.0, 3.0, 4.0])).sum().backward()
    assert latent.grad is not None and latent.grad.tolist() == [2.0, 2.0, 9.0, 8.0]
    assert float(ternary.positive_scale.grad) == 5.0
    assert float(ternary.negative_scale.grad) == -3.0


@st.composite
def weights(draw: st.DrawFn) -> torch.Tensor:
    """A (channels, fan-in) weight of float32 values in [-4, 4]."""
    rows, cols = draw(st.integers(1, 4)), draw(st.integers(1, 12))
    values = draw(
        st.lists(st.floats(-4.0, 4.0, width=32), min_size=rows * cols, max_size=rows * cols)
    )
    return torch.tensor(values).reshape(rows, cols)


def distinct_per_row(values: torch.Tensor) -> int:
    return max(len(torch.unique(row)) for row in values)


@settings(max_examples=25, deadline=None)
@given(weights(), st.integers(2, 8), st.booleans())
def test_uniform_error_is_at_most_half_a_step(weight, bits, per_channel):
    q = uniform_weight(weight, bits, per_channel)
    scale = q.side.reshape(-1, 1).expand(weight.shape) if per_channel else q.side
    assert torch.all((weight - q.values).abs() <= scale / 2 * (1 + 1e-5) + 1e-12)
    assert distinct_per_row(q.values) <= 2**bits and int(q.codes.max()) < 2**bits
    assert q.bytes == math.ceil(weight.numel() * bits / 8) + 4 * q.side.numel()


@settings(max_examples=25, deadline=None)
@given(weights(), st.integers(2, 8))
def test_fixed_point_values_are_steps_in_range(weight, bits):
    q = fixed_point_weight(weight, bits)
    step = 2.0 ** -int(q.side)
    integers = q.values / step
    assert torch.equal(integers, integers.round())
    assert integers.min() >= -(2 ** (bits - 1)) and integers.max() <= 2 ** (bits - 1) - 1
    assert torch.all((weight - q.values).abs() <= step)  # half a step, or saturated by < 1


@settings(max_examples=25, deadline=None)
@given(weights(), st.integers(2, 6))
def test_power_of_two_values_are_zero_or_signed_powers(weight, bits):
    q = power_of_two_weight(weight, bits)
    nonzero = q.values[q.values != 0].abs()
    assert torch.equal(torch.log2(nonzero), torch.log2(nonzero).round())
    assert len(torch.unique(q.values)) <= 2**bits - 1 and int(q.codes.max()) < 2**bits
    assert torch.all(q.values.abs() <= 2.0 ** int(q.side))


@settings(max_examples=25, deadline=None)
@given(weights())
def test_ternary_and_binary_value_counts(weight):
    ternary = ternary_weight(weight).values
    assert len(torch.unique(ternary)) <= 3
    assert set(torch.unique(ternary.abs()).tolist()) <= {0.0, float(ternary.abs().max())}
    assert distinct_per_row(binary_weight(weight, per_channel=True).values) <= 2
    assert len(torch.unique(binary_weight(weight, per_channel=False).values)) <= 2


def test_storage_is_the_exact_packed_size(trained):
    """Conv 36 weights (4 channels), linear 1440 (10 channels); biases 14 float32 = 56 bytes."""
    biases = 4 * 14
    assert quantize_uniform(trained, 8).storage_bytes == 36 + 4 * 4 + 1440 + 4 * 10 + biases
    per_tensor = quantize_uniform(trained, 4, per_channel=False)
    assert per_tensor.storage_bytes == 18 + 4 + 720 + 4 + biases
    assert dynamic_fixed_point(trained, 8).storage_bytes == 36 + 1 + 1440 + 1 + biases
    assert power_of_two(trained, 4).storage_bytes == 18 + 1 + 720 + 1 + biases
    assert ternary_twn(trained).storage_bytes == 9 + 4 + 360 + 4 + biases
    assert sum(p.numel() for p in trained.parameters()) * 4 == 5960  # the dense baseline


def test_post_training_quantization_keeps_accuracy_and_the_original(trained, digits):
    before = [w.detach().clone() for w in prunable(trained).values()]
    dense = accuracy(trained, digits.x_test, digits.y_test)
    int8 = quantize_uniform(trained, 8)
    assert all(torch.equal(a, b) for a, b in zip(before, prunable(trained).values(), strict=True))
    assert accuracy(int8.model, digits.x_test, digits.y_test) >= dense - 0.02
    for weight in prunable(int8.model).values():
        assert distinct_per_row(weight.reshape(len(weight), -1)) <= 2**8
    for result in (power_of_two(trained, 4), dynamic_fixed_point(trained, 6)):
        assert accuracy(result.model, digits.x_test, digits.y_test) >= dense - 0.1


def test_calibrated_activations_take_few_values(trained, digits):
    result = quantize_uniform(trained, 8, calibration=digits.x_train[:200], activation_bits=3)
    seen = {}
    for name, module in result.model.named_modules():
        if name in ("0", "3"):  # registered after the quantizer, so it sees the quantized input
            module.register_forward_pre_hook(
                lambda m, args, name=name: seen.update({name: args[0]})
            )
    result.model(digits.x_test)
    assert all(len(torch.unique(x)) <= 2**3 for x in seen.values())
    assert {n: a.activation_bits for n, a in result.annotations.items()} == {"0": 3, "3": 3}
    calibration = digits.x_train[:200]
    clipped = quantize_uniform(
        trained, 8, calibration=calibration, activation_bits=3, percentile=90
    )
    assert accuracy(clipped.model, digits.x_test, digits.y_test) > 0.5
    with pytest.raises(UserError, match="both activation_bits and calibration"):
        quantize_uniform(trained, 8, activation_bits=8)


def test_qat_trains_with_int8_weights_and_4_bit_activations(digits):
    result = quantization_aware_training(tiny_cnn(), digits, 8, 2, lr=1e-2, activation_bits=4)
    assert accuracy(result.model, digits.x_test, digits.y_test) > 0.5
    for weight in prunable(result.model).values():
        rows = weight.detach().reshape(len(weight), -1)
        steps = rows / (rows.abs().amax(1, keepdim=True) / 127)
        assert torch.allclose(steps, steps.round(), atol=1e-3)
    seen = {}
    result.model[3].register_forward_pre_hook(lambda m, args: seen.update(x=args[0]))
    with torch.no_grad():
        frozen = result.model(digits.x_test)
        assert len(torch.unique(seen["x"])) <= 2**4
        result.model.train()(digits.x_train)  # the ranges stay fixed once training ends
        assert torch.equal(result.model.eval()(digits.x_test), frozen)
    assert {n: a.activation_bits for n, a in result.annotations.items()} == {"0": 4, "3": 4}


def assert_ternary(model: nn.Module) -> None:
    for weight in prunable(model).values():
        assert len(torch.unique(weight.detach())) <= 3 and 0.0 in weight


def test_ttq_learns_and_stays_ternary(digits):
    result = ternary_ttq(tiny_cnn(), digits, epochs=2, lr=1e-2)
    assert accuracy(result.model, digits.x_test, digits.y_test) > 0.5
    assert_ternary(result.model)
    assert result.storage_bytes == 9 + 8 + 360 + 8 + 4 * 14  # two float32 scales per layer


def test_twn_fine_tuning_learns_and_stays_ternary(digits):
    result = ternary_twn(tiny_cnn(), digits, epochs=2, lr=1e-2)
    assert accuracy(result.model, digits.x_test, digits.y_test) > 0.5
    assert_ternary(result.model)


def test_binary_connect_learns_with_two_values_per_layer(digits):
    first = binary_connect(tiny_cnn(), digits, epochs=2, lr=1e-2)
    assert accuracy(first.model, digits.x_test, digits.y_test) > 0.3
    for weight in prunable(first.model).values():
        values = torch.unique(weight.detach())
        assert len(values) == 2 and float(values[0]) == -float(values[1])
    second = binary_connect(tiny_cnn(), digits, epochs=2, lr=1e-2)
    assert all(
        torch.equal(a, b)
        for a, b in zip(
            prunable(first.model).values(), prunable(second.model).values(), strict=True
        )
    )


def test_xnor_binarizes_weights_per_channel_and_later_inputs(digits):
    result = xnor(tiny_cnn(), digits, epochs=2, lr=1e-2)
    assert accuracy(result.model, digits.x_test, digits.y_test) > 0.3
    for weight in prunable(result.model).values():
        assert distinct_per_row(weight.reshape(len(weight), -1)) <= 2
    seen = {}
    result.model[0].register_forward_pre_hook(lambda m, args: seen.update(first=args[0]))
    result.model[3].register_forward_pre_hook(lambda m, args: seen.update(last=args[0]))
    result.model(digits.x_test)
    assert set(torch.unique(seen["last"]).tolist()) <= {-1.0, 1.0}
    assert len(torch.unique(seen["first"])) > 2  # the first layer's input stays real
    assert result.annotations["0"].activation_bits is None
    assert result.annotations["3"].activation_bits == 1
    assert result.storage_bytes == 5 + 16 + 180 + 40 + 4 * 14


def test_bit_widths_reach_the_workload(trained):
    dense = edgegap.profile(trained, SHAPE)
    for bits, result in ((4, quantize_uniform(trained, 4)), (2, ternary_twn(trained))):
        workload = annotate(edgegap.profile(result.model, SHAPE), result.annotations)
        layers = {layer.name: layer for layer in workload.layers if layer.params}
        assert {name: layer.weight_bits for name, layer in layers.items()} == {"0": bits, "3": bits}
        assert layers["3"].weight_bytes == math.ceil(layers["3"].weight_elements * bits / 8)
        assert workload.totals.weight_bytes * 32 // bits == pytest.approx(
            dense.totals.weight_bytes, abs=32 // bits
        )


def test_quantizers_by_name_in_the_registry(trained, digits):
    from edgegap.techniques import Compressed, techniques

    names = "int8 int4 qat dynamic-fixed-point power-of-two twn ttq binaryconnect xnor"
    stored_formats = ("weight-sharing", "weight-format", "kv-cache")  # no quantizer of their own
    quantizers = [t.name for t in techniques("quantization") if t.name not in stored_formats]
    assert quantizers == names.split()
    dense = Compressed("dense", trained, 0)
    int4 = get("int4")
    by_name = int4.run(trained, int4.setting(), None, 0, dense)
    assert by_name.technique == "int4"
    assert by_name.storage_bytes == quantize_uniform(trained, 4).storage_bytes
    power = get("power-of-two")
    assert power.run(trained, power.setting(bits=3), None, 0, dense).params == {"bits": 3}
    with pytest.raises(UserError, match="unknown technique 'int3'"):
        get("int3")
    with pytest.raises(UserError, match="ttq trains or calibrates on data"):
        get("ttq").run(trained, get("ttq").setting(epochs=1), None, 0, dense)
    with pytest.raises(UserError, match=r"bits must be in \[2, 8\]"):
        power.setting(bits=12)
    with pytest.raises(UserError, match="no Conv1d, Conv2d or Linear"):
        quantize_uniform(nn.Sequential(nn.ReLU()), 8)
