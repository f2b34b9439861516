"""Winograd minimal filtering (Lavin and Gray, CVPR 2016): F(2x2,3x3) and F(4x4,3x3) against
torch's convolution, their multiply counts, and the transform's annotated workload."""

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import edgegap
from edgegap.errors import UserError
from edgegap.techniques.base import annotate
from edgegap.techniques.storage import dense_bytes
from edgegap.techniques.winograd import (
    WinogradConv2d,
    eligible,
    multiplies,
    winograd_conv2d,
    winograd_transform,
)

# float32 against F.conv2d on unit-normal inputs and weights (outputs up to ~25): F(2,3)'s
# transforms add and halve, F(4,3)'s scale by up to 1/24 and 8 and lose about 10x more
# (worst over 400 random cases: 1.1e-5 and 1.4e-4).
TOLERANCE = {2: 1e-4, 4: 1e-3}


@settings(max_examples=25, deadline=None)
@given(
    batch=st.integers(1, 3),
    channels=st.integers(1, 6),
    filters=st.integers(1, 6),
    height=st.integers(3, 13),
    width=st.integers(3, 13),
    padding=st.sampled_from([0, 1]),
    tile=st.sampled_from([2, 4]),
    with_bias=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_winograd_equals_conv2d(
    batch, channels, filters, height, width, padding, tile, with_bias, seed
):
    torch.manual_seed(seed)
    x = torch.randn(batch, channels, height, width)
    weight = torch.randn(filters, channels, 3, 3)
    bias = torch.randn(filters) if with_bias else None
    expected = F.conv2d(x, weight, bias, padding=padding)
    out = winograd_conv2d(x, weight, bias, padding=padding, tile=tile)
    assert out.shape == expected.shape
    assert torch.allclose(out, expected, rtol=0, atol=TOLERANCE[tile])


def test_larger_tiles_lose_more_precision():
    torch.manual_seed(0)
    conv = nn.Conv2d(64, 64, 3, padding=1)
    x = torch.randn(1, 64, 28, 28)
    with torch.no_grad():
        exact = F.conv2d(x.double(), conv.weight.double(), conv.bias.double(), padding=1)
        errors = {
            tile: float((winograd_conv2d(x, conv.weight, conv.bias, 1, tile) - exact).abs().max())
            for tile in (2, 4)
        }
    assert errors[2] < 1e-5 and errors[4] < 1e-4  # measured: 8e-7 and 1.6e-5
    assert errors[4] > 3 * errors[2]


def test_multiply_counts():
    assert multiplies(2) == (36, 16)  # 2.25x fewer
    assert multiplies(4) == (144, 36)  # 4x fewer
    with pytest.raises(UserError, match="tile"):
        multiplies(3)


def test_eligibility():
    assert eligible(nn.Conv2d(4, 4, 3, padding=1))
    for conv in (
        nn.Conv2d(4, 4, 5),
        nn.Conv2d(4, 4, 3, stride=2),
        nn.Conv2d(4, 4, 3, dilation=2),
        nn.Conv2d(4, 4, 3, groups=2),
        nn.Conv2d(4, 4, 3, padding=(1, 0)),
        nn.Conv2d(4, 4, 3, padding=1, padding_mode="reflect"),
        nn.Conv1d(4, 4, 3),
    ):
        assert not eligible(conv)
    with pytest.raises(UserError, match="not a 3x3"):
        WinogradConv2d(nn.Conv2d(4, 4, 5), tile=2)


@pytest.mark.parametrize(("tile", "reduction"), [(2, 2.25), (4, 4.0)])
def test_transformed_model_workload(tile, reduction):
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3), nn.Conv2d(8, 4, 5),
        nn.Conv2d(4, 4, 3, stride=2),
    )  # fmt: skip
    result = winograd_transform(model, tile)
    assert result.params["layers"] == ["0", "2"]
    assert isinstance(result.model[0], WinogradConv2d)
    assert type(result.model[3]) is nn.Conv2d and type(result.model[4]) is nn.Conv2d
    assert type(model[0]) is nn.Conv2d  # the input model is left as it was
    assert result.storage_bytes == dense_bytes(model)
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        assert torch.allclose(result.model(x), model(x), atol=1e-4)
    shape = (1, 3, 16, 16)
    dense = edgegap.profile(model, shape)
    annotated = annotate(edgegap.profile(result.model, shape), result.annotations)
    for before, after in zip(dense.layers, annotated.layers, strict=True):
        if before.name in ("0", "2"):
            assert after.op == "edgegap.winograd_conv2d"
            assert after.params == before.params
            (gemm,) = after.gemms  # (tile + 2)^2 products of (tiles x C_in)(C_in x C_out)
            assert gemm.groups == (tile + 2) ** 2
            assert after.macs == gemm.macs
        else:
            assert (after.op, after.macs) == (before.op, before.macs)
    # "0" keeps 16x16 (the tile divides it): exactly the per-tile reduction
    assert annotated.layers[0].macs * reduction == dense.layers[0].macs


def test_no_eligible_convolution_is_an_error():
    with pytest.raises(UserError, match="no 3x3"):
        winograd_transform(nn.Sequential(nn.Conv2d(1, 4, 5), nn.Linear(4, 2)))
