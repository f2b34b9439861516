"""Truly quantized modules (torch.ao.nn.quantized): traced on real tensors through their
integer kernels, counted as their float counterparts, at their integer bit-widths."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.ao import quantization

import edgegap

# torch's notices that eager-mode quantization is deprecated in favour of torchao
pytestmark = [
    pytest.mark.filterwarnings("ignore::UserWarning"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]


class Small(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.quant, self.dequant = quantization.QuantStub(), quantization.DeQuantStub()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.relu = nn.ReLU()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(8, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.conv(self.quant(x)))
        return self.dequant(self.head(torch.flatten(self.pool(x), 1)))


def _quantized(model: nn.Module) -> nn.Module:
    torch.manual_seed(0)
    model.eval()
    model.qconfig = quantization.get_default_qconfig("fbgemm")
    quantization.fuse_modules(model, [["conv", "relu"]], inplace=True)
    prepared = quantization.prepare(model)
    prepared(torch.randn(2, 3, 16, 16))
    return quantization.convert(prepared)


def test_a_quantized_module_counts_as_its_float_self_at_8_bits() -> None:
    float_workload = edgegap.profile(Small(), (1, 3, 16, 16))
    workload = edgegap.profile(_quantized(Small()), (1, 3, 16, 16))
    assert not workload.uncounted_ops
    assert workload.totals.macs == float_workload.totals.macs == 16 * 16 * 8 * 27 + 8 * 5
    assert workload.totals.params == float_workload.totals.params == 8 * 27 + 8 + 8 * 5 + 5
    weighted = [layer for layer in workload.layers if layer.macs]
    assert [layer.op for layer in weighted] == ["quantized.conv2d_relu", "quantized.linear"]
    assert {(layer.weight_bits, layer.activation_bits) for layer in weighted} == {(8, 8)}
    # 4x fewer weight bytes than float32 (the biases stay float, inside the kernel)
    assert workload.totals.weight_bytes < float_workload.totals.weight_bytes / 3


def test_torchvision_quantized_resnet18_is_the_float_one_with_batch_norm_folded() -> None:
    from torchvision.models import quantization as quantized_models

    torch.manual_seed(0)
    model = quantized_models.resnet18(weights=None, quantize=True)
    workload = edgegap.profile(model, (1, 3, 224, 224))
    float_workload = edgegap.profile("resnet18")
    assert not workload.uncounted_ops
    assert workload.totals.macs == float_workload.totals.macs
    batch_norm_channels = sum(
        m.num_features for m in quantized_models.resnet18(weights=None).modules()
        if isinstance(m, nn.BatchNorm2d)
    )  # fmt: skip
    # each folded batch norm's scale and shift (2 per channel) become one bias per channel
    assert workload.totals.params == float_workload.totals.params - batch_norm_channels


def test_a_quantized_zoo_name_profiles_at_its_integer_bit_width() -> None:
    workload = edgegap.profile("quantized_resnet18")
    assert workload.totals.macs == edgegap.profile("resnet18").totals.macs
    assert {layer.weight_bits for layer in workload.layers if layer.macs} == {8}
