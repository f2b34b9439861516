"""CirCNN block-circulant layers (Ding et al., MICRO 2017): the FFT path against the dense
matrix it stands for, the least-squares projection, exact storage and multiply counts, training
on real digits; and the FFT operators' FLOP formulas."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import edgegap
from edgegap.errors import UserError
from edgegap.techniques.base import annotate
from edgegap.techniques.circulant import (
    BlockCirculantLinear,
    circulant_linear,
    project_block_circulant,
)
from edgegap.training import accuracy, load_dataset, train


@settings(max_examples=25, deadline=None)
@given(
    in_features=st.integers(1, 40),
    out_features=st.integers(1, 40),
    block_size=st.integers(1, 12),
    batch=st.lists(st.integers(1, 3), min_size=1, max_size=2),
    seed=st.integers(0, 2**16),
)
def test_fft_path_equals_the_dense_matrix_forward_and_backward(
    in_features, out_features, block_size, batch, seed
):
    torch.manual_seed(seed)
    layer = BlockCirculantLinear(in_features, out_features, block_size)
    x = torch.randn(*batch, in_features, requires_grad=True)
    upstream = torch.randn(*batch, out_features)
    fft_path = layer(x)
    (fft_path * upstream).sum().backward()
    fft_grads = [t.grad.clone() for t in (x, layer.weight, layer.bias)]
    for t in (x, layer.weight, layer.bias):
        t.grad = None
    dense_path = x @ layer.dense_weight().T + layer.bias
    (dense_path * upstream).sum().backward()
    assert torch.allclose(fft_path, dense_path, atol=1e-5)
    for fft_grad, t in zip(fft_grads, (x, layer.weight, layer.bias), strict=True):
        assert torch.allclose(fft_grad, t.grad, atol=1e-4)


def test_circulant_blocks_follow_the_convention():
    layer = BlockCirculantLinear(3, 3, 3, bias=False)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[[1.0, 2.0, 3.0]]]))
    # first column w, C[r, c] = w[(r - c) mod b]
    assert torch.equal(layer.dense_weight(), torch.tensor([[1.0, 3, 2], [2, 1, 3], [3, 2, 1]]))


@pytest.mark.parametrize(("in_features", "out_features", "block_size"), [(16, 8, 4), (10, 7, 4)])
def test_projection_is_exact_on_circulant_and_least_squares_otherwise(
    in_features, out_features, block_size
):
    torch.manual_seed(0)
    layer = BlockCirculantLinear(in_features, out_features, block_size)
    circulant = layer.dense_weight().detach()
    projected = BlockCirculantLinear(in_features, out_features, block_size)
    with torch.no_grad():
        projected.weight.copy_(project_block_circulant(circulant, block_size))
    assert torch.allclose(projected.dense_weight(), circulant, atol=1e-7)
    # a dense matrix's residual is orthogonal to every block-circulant matrix
    dense = torch.randn(out_features, in_features)
    with torch.no_grad():
        projected.weight.copy_(project_block_circulant(dense, block_size))
    residual = dense - projected.dense_weight().detach()
    for _ in range(3):
        other = BlockCirculantLinear(in_features, out_features, block_size).dense_weight()
        assert abs(float((residual * other.detach()).sum())) < 1e-5


def test_multiplies_by_hand_and_in_the_annotated_workload():
    # 64 x 64, b = 8: 8 + 8 real FFTs of 8 log2 8 = 24 multiplies, 64 block products of
    # 2 real bins + 3 complex bins x 4 = 14 multiplies: 384 + 896 = 1280 of 4096 MACs
    assert BlockCirculantLinear(64, 64, 8).multiplies() == 1280
    assert BlockCirculantLinear(64, 64, 8).mac_factor == 1280 / 4096
    assert BlockCirculantLinear(5, 7, 1).mac_factor == 1.0  # 1x1 blocks: the dense product
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    result = circulant_linear(model, 8)
    dense = edgegap.profile(model, (2, 64))
    compressed = edgegap.profile(result.model, (2, 64))
    assert [layer.macs for layer in compressed.layers] == [layer.macs for layer in dense.layers]
    assert compressed.totals.params == 8 * 8 * 8 + 64 + 2 * 8 * 8 + 10
    annotated = annotate(compressed, result.annotations)
    assert annotated.layers[0].macs == 2 * 1280
    # 64 -> 10 pads to 2 x 8 blocks: 10 + 2 FFTs of 24, 16 products of 14 = 464 of 640 per
    # input; the product (2 x 64)(64 x 10) shrinks along k to ceil(64 x 464 / 640) = 47
    assert annotated.layers[2].gemms[0].k == 47
    assert annotated.layers[2].macs == 2 * 47 * 10
    with torch.device("meta"):
        meta = circulant_linear(nn.Sequential(nn.Linear(64, 64), nn.ReLU()), 8).model
    assert edgegap.profile(meta, (2, 64)).layers[0].macs == dense.layers[0].macs


def test_circulant_mlp_trains_on_digits_with_exact_storage():
    data = load_dataset("digits")
    torch.manual_seed(0)
    mlp = nn.Sequential(
        nn.Flatten(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(),
        nn.Linear(64, 10),
    )  # fmt: skip
    train(mlp, data, epochs=3, lr=1e-2)
    projected = circulant_linear(mlp, 8)
    result = circulant_linear(mlp, 8, data, epochs=3, lr=1e-2)
    assert isinstance(mlp[1], nn.Linear)  # the input model is left as it was
    assert result.params["layers"] == ["1", "3", "5"]
    tuned = accuracy(result.model, data.x_test, data.y_test)
    assert tuned > 0.8  # chance is 0.1
    assert tuned > accuracy(projected.model, data.x_test, data.y_test)
    # defining vectors (in x out / b floats, the 64 -> 10 layer padded to 2 x 8 blocks) + biases
    expected = 2 * (64 * 64 // 8 * 4 + 64 * 4) + (2 * 8 * 8 * 4 + 10 * 4)
    assert result.storage_bytes == expected
    assert circulant_linear(mlp, 16).params["layers"] == ["1", "3"]  # 16 > 10 outputs: dense


def test_user_errors():
    model = nn.Sequential(nn.Linear(8, 4))
    with pytest.raises(UserError, match="block_size"):
        circulant_linear(model, 0)
    with pytest.raises(UserError, match="smaller"):
        circulant_linear(model, 5)
    with pytest.raises(UserError, match="needs a dataset"):
        circulant_linear(model, 2, epochs=1)


class Spectra(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spectrum = torch.fft.rfft(x)  # r2c of 2 x 3 signals of 8
        back = torch.fft.irfft(spectrum, n=8)  # c2r, normalised by 1/8
        plane = torch.fft.fft2(back.to(torch.complex64))  # c2c over 3 x 8 = 24 points
        return plane.real


def test_fft_formulas():
    workload = edgegap.profile(Spectra(), (2, 3, 8))
    counts = {layer.op: layer for layer in workload.layers if layer.kind == "fft"}
    assert not workload.uncounted_ops
    assert counts["_fft_r2c"].flops == 2.5 * 48 * 3  # 2.5 N log2 N per signal of N = 8
    assert counts["_fft_c2r"].flops == 2.5 * 48 * 3 + 48  # plus the 1/N scaling
    assert counts["_fft_c2c"].flops == round(5 * 48 * math.log2(24))
    assert all(layer.macs == 0 for layer in counts.values())
