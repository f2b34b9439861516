"""The layer record derives what it can: MACs from its matrix products, FLOPs from MACs and its
element-wise work; and each product says whether one of its operands is a stored weight."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torchvision.models import get_model_weights

import edgegap
from edgegap.precision import OPS_PER_MAC
from edgegap.workload.layer import Gemm, Layer, Workload


def check_derived_counts(workload: Workload) -> None:
    for layer in workload.layers:
        assert layer.macs == sum(g.macs for g in layer.gemms)
        assert layer.flops == 2 * layer.macs + layer.elementwise_flops
        assert layer.elementwise_flops >= 0
        # a weighted product reads a weight the layer counts
        assert not any(g.weighted for g in layer.gemms) or layer.weight_elements > 0


def test_layer_derives_macs_and_flops_and_keeps_them_in_its_record():
    gemms = (Gemm(2, 3, 4, 5, weighted=True), Gemm(1, 6, 7, 8, weighted=False))
    layer = Layer(
        index=0, name="l", op="op", kind="matmul", input_shapes=((3, 4),), output_shape=(3, 5),
        elementwise_flops=11, params=40, weight_elements=40, input_elements=12,
        output_elements=15, gemms=gemms,
    )  # fmt: skip
    assert layer.macs == 2 * 3 * 4 * 5 + 6 * 7 * 8
    assert layer.flops == OPS_PER_MAC * layer.macs + 11
    record = layer.to_dict()
    assert (record["macs"], record["flops"], record["elementwise_flops"]) == (
        layer.macs,
        layer.flops,
        11,
    )
    assert [g["weighted"] for g in record["gemms"]] == [True, False]
    keys = list(record)
    assert keys.index("output_shape") + 1 == keys.index("macs")  # the columns stay in place
    assert keys.index("flops") + 1 == keys.index("elementwise_flops")


@settings(max_examples=25, deadline=None)
@given(
    groups=st.integers(1, 3),
    in_per_group=st.integers(1, 4),
    out_per_group=st.integers(1, 4),
    kernel=st.integers(1, 3),
    stride=st.integers(1, 2),
    size=st.integers(3, 8),
    bias=st.booleans(),
)
def test_traced_convolution_counts_are_derived(
    groups, in_per_group, out_per_group, kernel, stride, size, bias
):
    conv = nn.Conv2d(
        groups * in_per_group, groups * out_per_group, kernel, stride, groups=groups, bias=bias,
        device="meta",
    )  # fmt: skip
    workload = edgegap.profile(conv, (2, groups * in_per_group, size, size))
    check_derived_counts(workload)
    (layer,) = workload.layers
    outputs = layer.output_elements
    assert layer.elementwise_flops == (outputs if bias else 0)
    assert layer.macs == outputs * in_per_group * kernel * kernel
    assert [g.weighted for g in layer.gemms] == [True]


@settings(max_examples=25, deadline=None)
@given(
    batch=st.lists(st.integers(1, 3), min_size=1, max_size=3),
    features=st.integers(1, 9),
    out=st.integers(1, 9),
    bias=st.booleans(),
)
def test_traced_linear_counts_are_derived(batch, features, out, bias):
    """nn.Linear reaches the tracer as mm or addmm of the transposed weight (a view of the
    parameter), on 2-D and flattened N-D inputs alike: always a weighted product."""
    linear = nn.Linear(features, out, bias=bias, device="meta")
    workload = edgegap.profile(linear, (*batch, features))
    check_derived_counts(workload)
    products = [layer for layer in workload.layers if layer.gemms]
    assert len(products) == 1
    assert products[0].macs == torch.Size(batch).numel() * features * out
    assert all(g.weighted for g in products[0].gemms)
    assert products[0].weight_elements == features * out + (out if bias else 0)


def test_products_of_activations_are_not_weighted():
    class Mixed(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = nn.Parameter(torch.ones(4, 4))

        def forward(self, x):
            scores = torch.bmm(x, x.transpose(1, 2))  # activation x activation
            y = torch.matmul(scores, x)  # activation x activation
            return y @ self.w.permute(1, 0)  # by a view of a parameter

    workload = edgegap.profile(Mixed(), (2, 3, 4))
    check_derived_counts(workload)
    flags = [[g.weighted for g in layer.gemms] for layer in workload.layers if layer.gemms]
    assert flags == [[False], [False], [True]]


def test_vit_attention_multiplies_activations_and_its_projections_weights():
    workload = edgegap.profile("vit_b_16")
    check_derived_counts(workload)
    products = [layer for layer in workload.layers if layer.gemms]
    # One fused attention a block, as a CPU runs it: its two products Q K^T and scores @ V.
    attention = [layer for layer in products if layer.kind == "attention"]
    assert len(attention) == 12 and all(len(layer.gemms) == 2 for layer in attention)
    assert all(layer.name.endswith("self_attention") for layer in attention)
    assert not any(g.weighted for layer in attention for g in layer.gemms)
    dense = [layer for layer in products if layer.kind == "conv" or layer.op == "addmm"]
    assert len(dense) == len(products) - len(attention)
    assert all(g.weighted for layer in dense for g in layer.gemms)


def test_resnet18_totals_unchanged():
    workload = edgegap.profile("resnet18")
    check_derived_counts(workload)
    assert workload.totals.macs == 1_814_073_344
    assert workload.totals.flops == 3_638_007_784
    published = get_model_weights("resnet18").DEFAULT.meta["_ops"]
    assert round(workload.totals.macs / 1e9, 3) == pytest.approx(published)
    assert all(g.weighted for layer in workload.layers for g in layer.gemms)
