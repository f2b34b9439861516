"""A transformer exported by the legacy (TorchScript) exporter reads as its dynamo export does:
the shape arithmetic that exporter leaves (Shape, ConstantOfShape, Where, Equal on constants)
is folded before shape inference."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn
from torchvision.models import VisionTransformer

import edgegap
from edgegap.measure.runtime import torch_export

# the legacy exporter's notices: it is deprecated, and it traces Python conditions as constants
pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning"),
]


class TextEncoder(nn.Module):
    """Token ids through an embedding and a transformer encoder layer."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(50, 16)
        self.encoder = nn.TransformerEncoderLayer(16, 2, 32, batch_first=True, dropout=0.0)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.encoder(self.embed(ids))


def _distinct_weights(model: nn.Module) -> nn.Module:
    """Every parameter random: an exporter merges identical initializers (a fresh layer norm's
    ones), which would make the exports' parameter counts differ for a reason not theirs."""
    torch.manual_seed(0)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.normal_()
    return model.eval()


@pytest.mark.parametrize(
    ("model", "example"),
    [
        (VisionTransformer(32, 8, num_layers=2, num_heads=2, hidden_dim=16, mlp_dim=32),
         torch.zeros(1, 3, 32, 32)),
        (TextEncoder(), torch.zeros(1, 12, dtype=torch.long)),
    ],
    ids=["vit", "text-encoder"],
)  # fmt: skip
def test_a_legacy_export_counts_as_the_dynamo_export(
    tmp_path: Path, model: nn.Module, example: torch.Tensor
) -> None:
    model = _distinct_weights(model)
    legacy, dynamo = tmp_path / "legacy.onnx", tmp_path / "dynamo.onnx"
    torch.onnx.export(model, (example,), legacy, dynamo=False, opset_version=17)
    if example.is_floating_point():
        torch_export(model, tuple(example.shape), dynamo)
    else:
        torch.onnx.export(model, (example,), dynamo, dynamo=True, optimize=True)
    old, new = edgegap.profile(legacy), edgegap.profile(dynamo)
    traced = edgegap.profile(
        model,
        inputs=[f"{'x'.join(map(str, example.shape))}:{str(example.dtype).removeprefix('torch.')}"],
    )
    assert not old.uncounted_ops and not new.uncounted_ops
    assert old.totals.macs == new.totals.macs == traced.totals.macs > 0
    assert old.totals.params == new.totals.params == traced.totals.params
    assert old.totals.flops == new.totals.flops
