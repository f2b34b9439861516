"""Hand-computed counts for each formula, and property tests against real convolutions."""

import math

import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from edgegap.workload import formulas
from edgegap.workload.layer import Gemm


def test_conv_grouped_strided_by_hand():
    # x 1x8x10x10, weight 16x(8/2)x3x3, groups 2, stride 2, pad 1 -> out 1x16x5x5
    count = formulas.conv((1, 8, 10, 10), (16, 4, 3, 3), (1, 16, 5, 5), 2, False, bias=True)
    # 2 groups x (25 positions) x (4*9 reduction) x (8 filters each) = 14,400
    assert count.macs == 14_400
    assert count.gemms == (Gemm(2, 25, 36, 8, weighted=True),)
    assert count.flops == 2 * 14_400 + 16 * 25  # bias add per output element


def test_depthwise_conv_by_hand():
    count = formulas.conv((2, 32, 7, 7), (32, 1, 3, 3), (2, 32, 7, 7), 32, False, bias=False)
    assert count.macs == 2 * 32 * 49 * 9
    assert count.flops == 2 * count.macs


def test_transposed_conv_by_hand():
    # ConvTranspose2d(4, 6, 2, stride=2): weight (4, 6, 2, 2), 3x3 -> 6x6
    count = formulas.conv((1, 4, 3, 3), (4, 6, 2, 2), (1, 6, 6, 6), 1, True, bias=False)
    assert count.macs == 9 * 4 * 6 * 4  # each input position scatters Cin x Cout x k
    assert count.gemms == (Gemm(1, 9, 4, 24, weighted=True),)


def test_matmul_broadcast_and_vectors():
    assert formulas.matmul((5, 3, 4), (4, 7), (5, 3, 7), False).macs == 5 * 3 * 4 * 7
    assert formulas.matmul((4,), (4, 7), (7,), False).macs == 28
    count = formulas.matmul((3, 4), (4, 7), (3, 7), True, bias=True)
    assert (count.macs, count.flops) == (84, 2 * 84 + 21)
    assert count.gemms == (Gemm(1, 3, 4, 7, weighted=True),)
    assert count.elementwise_flops == 21


def test_attention_by_hand():
    # ViT-B/16 block: 12 heads, 197 tokens, head dim 64
    count = formulas.attention((1, 12, 197, 64), (1, 12, 197, 64), (1, 12, 197, 64))
    scores = 12 * 197 * 197
    assert count.macs == 2 * scores * 64
    assert count.flops == 2 * count.macs + 6 * scores  # scale + softmax (5) per score
    assert count.kind == "attention" and len(count.gemms) == 2
    assert not any(g.weighted for g in count.gemms)  # Q K^T and scores @ V: activations


def test_cross_attention_lengths():
    count = formulas.attention((2, 4, 10, 8), (2, 4, 30, 8), (2, 4, 30, 16))
    assert count.macs == 2 * 4 * 10 * 30 * (8 + 16)


def test_pool_reduction_upsample_by_hand():
    assert formulas.pool((1, 2, 4, 4), (1, 2, 2, 2), (2, 2), average=False).flops == 8 * 4
    assert formulas.pool((1, 2, 4, 4), (1, 2, 2, 2), (2, 2), average=True).flops == 8 * 5
    assert formulas.pool((1, 2, 4, 4), (1, 2, 1, 1), None, average=True).flops == 32 + 2
    assert formulas.reduction((3, 10), (3,), per_output=1).flops == 33
    assert formulas.upsample((1, 1, 4, 4), "bilinear").flops == 16 * 9
    assert formulas.upsample((1, 1, 4, 4), "nearest").flops == 0


def test_elementwise_costs():
    assert formulas.elementwise("activation", "relu", (2, 3)).flops == 6
    assert formulas.elementwise("norm", "layer_norm", (2, 3)).flops == 42


conv_configs = st.fixed_dictionaries(
    {
        "batch": st.integers(1, 2),
        "groups": st.integers(1, 3),
        "in_per_group": st.integers(1, 3),
        "out_per_group": st.integers(1, 3),
        "kernel": st.tuples(st.integers(1, 3), st.integers(1, 3)),
        "stride": st.integers(1, 3),
        "dilation": st.integers(1, 2),
        "size": st.tuples(st.integers(5, 9), st.integers(5, 9)),
    }
)


@settings(max_examples=60, deadline=None)
@given(conv_configs)
def test_conv_macs_equal_the_multiplies_a_real_convolution_performs(c):
    """conv(ones, ones) sums, over all outputs, exactly one per multiply-accumulate."""
    cin, cout = c["groups"] * c["in_per_group"], c["groups"] * c["out_per_group"]
    x = torch.ones(c["batch"], cin, *c["size"], dtype=torch.float64)
    w = torch.ones(cout, c["in_per_group"], *c["kernel"], dtype=torch.float64)
    y = F.conv2d(x, w, stride=c["stride"], dilation=c["dilation"], groups=c["groups"])
    count = formulas.conv(x.shape, w.shape, y.shape, c["groups"], False, bias=False)
    assert count.macs == int(y.sum().item())
    assert count.macs == sum(g.macs for g in count.gemms)


@settings(max_examples=40, deadline=None)
@given(conv_configs)
def test_transposed_conv_macs_equal_real_multiplies(c):
    cin = c["groups"] * c["in_per_group"]
    x = torch.ones(c["batch"], cin, *c["size"], dtype=torch.float64)
    w = torch.ones(cin, c["out_per_group"], *c["kernel"], dtype=torch.float64)
    y = F.conv_transpose2d(x, w, stride=c["stride"], dilation=c["dilation"], groups=c["groups"])
    count = formulas.conv(x.shape, w.shape, y.shape, c["groups"], True, bias=False)
    assert count.macs == int(y.sum().item())


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(1, 3), min_size=0, max_size=2),
    st.integers(1, 5),
    st.integers(1, 5),
    st.integers(1, 5),
)
def test_matmul_macs_equal_real_multiplies(batch, m, k, n):
    a = torch.ones(*batch, m, k, dtype=torch.float64)
    b = torch.ones(k, n, dtype=torch.float64)
    y = a @ b
    assert formulas.matmul(a.shape, b.shape, y.shape, False).macs == int(y.sum().item())
    assert formulas.matmul(a.shape, b.shape, y.shape, False).macs == math.prod(batch) * m * k * n


def test_a_grid_sample_costs_its_interpolation_taps_per_output_element():
    """RAFT's correlation look-up: bilinear (9 FLOPs) or nearest (0) per output element."""
    import edgegap

    class Samples(torch.nn.Module):
        def __init__(self, mode: str) -> None:
            super().__init__()
            self.mode = mode

        def forward(self, x: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
            return F.grid_sample(x, grid, mode=self.mode, align_corners=True)

    inputs = ["1x3x8x8", "1x5x7x2"]  # output 1 x 3 x 5 x 7
    for mode, per_element in (("bilinear", 9), ("nearest", 0), ("bicubic", 31)):
        workload = edgegap.profile(Samples(mode), inputs=inputs)
        (layer,) = [layer for layer in workload.layers if layer.op == "grid_sampler_2d"]
        assert layer.output_shape == (1, 3, 5, 7)
        assert layer.elementwise_flops == per_element * 3 * 5 * 7
        assert workload.uncounted_ops == {}
