"""The tracer on small models whose counts are known by hand."""

import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

import edgegap
from edgegap.workload.tracer import trace
from edgegap.workload.zoo import build_empty


class TinyCNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)  # 8*3*9 + 8 = 224 params
        self.bn = nn.BatchNorm2d(8)  # 16 params, 16 buffer elements (+1 counter)
        self.act = nn.ReLU()
        self.fc = nn.Linear(8, 10)  # 90 params
        self.unused = nn.Linear(100, 100)  # never called

    def forward(self, x):
        x = self.act(self.bn(self.conv(x)))
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.fc(x)


def test_tiny_cnn_counts_by_hand():
    workload = edgegap.profile(TinyCNN(), (1, 3, 8, 8))
    by_name = {layer.name: layer for layer in workload.layers}
    conv = by_name["conv"]
    assert conv.macs == 8 * 3 * 9 * 64  # filters x (Cin x k) x output positions
    assert conv.flops == 2 * conv.macs + 8 * 64
    assert conv.params == 224
    assert conv.input_shapes == ((1, 3, 8, 8),)
    assert conv.output_shape == (1, 8, 8, 8)
    assert conv.kind == "conv" and conv.op == "convolution"
    assert by_name["fc"].macs == 80
    totals = workload.totals
    assert totals.macs == conv.macs + 80
    assert totals.params == 224 + 16 + 90
    assert workload.unused_params == 100 * 100 + 100
    assert workload.uncounted_ops == {}


def test_bytes_follow_bit_width_and_traffic_is_their_sum():
    fp32 = edgegap.profile(TinyCNN(), (1, 3, 8, 8))
    int8 = edgegap.profile(TinyCNN(), (1, 3, 8, 8), dtype="int8")
    conv32 = fp32.layers[0]
    conv8 = int8.layers[0]
    assert conv32.weight_bytes == 4 * 224 and conv8.weight_bytes == 224
    assert conv32.input_bytes == 4 * 3 * 64 and conv8.output_bytes == 8 * 64
    assert conv32.min_traffic_bytes == conv32.weight_bytes + conv32.input_bytes + 4 * 8 * 64
    assert conv32.arithmetic_intensity == pytest.approx(conv32.flops / conv32.min_traffic_bytes)
    assert int8.totals.macs == fp32.totals.macs
    # batch norm reads its running statistics: state, but not parameters
    bn = fp32.layers[1]
    assert bn.params == 16 and bn.weight_elements == 32


def test_shared_module_parameters_count_once():
    class Shared(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(4, 4)

        def forward(self, x):
            return self.fc(self.fc(x))

    workload = edgegap.profile(Shared(), (2, 4))
    assert workload.totals.params == 20
    assert workload.totals.macs == 2 * 2 * 16
    assert [layer.params for layer in workload.layers if layer.macs] == [20, 0]


def test_meta_and_real_tensors_give_the_same_workload():
    torch.manual_seed(0)
    real = edgegap.profile(TinyCNN(), (2, 3, 16, 16))
    meta = edgegap.profile(build_empty(TinyCNN), (2, 3, 16, 16))
    assert real.totals == meta.totals
    assert [(x.name, x.op, x.macs) for x in real.layers] == [
        (x.name, x.op, x.macs) for x in meta.layers
    ]


def test_peak_activation_of_a_chain():
    model = nn.Sequential(nn.Linear(10, 1000), nn.Linear(1000, 10))
    workload = edgegap.profile(model, (1, 10))
    # input (10) stays alive; the 1000-wide hidden and the 10-wide output overlap at the end
    assert workload.peak_activation_bytes == 4 * (10 + 1000 + 10)
    assert workload.totals.activation_bytes == 4 * (1000 + 10)


class Attention(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.mha = nn.MultiheadAttention(32, 4, batch_first=True)

    def forward(self, x):
        q = x.view(1, 10, 4, 8).transpose(1, 2)
        explicit = F.scaled_dot_product_attention(q, q, q)
        return self.mha(x, x, x, need_weights=False)[0] + explicit.transpose(1, 2).reshape(
            1, 10, 32
        )


def test_attention_counted_on_cpu_kernels_and_on_meta():
    """On CPU, SDPA runs a fused kernel and MHA a fast path (what a model that must run for real
    traces through); on meta, the math decomposition."""
    expected = 2 * (4 * 10 * 10 * 8) * 2  # two attentions, QK^T and AV each 4 heads x 10 x 10 x 8
    expected += 10 * 32 * 96 + 10 * 32 * 32  # MHA in- and out-projections
    real = trace(Attention(), [torch.zeros(1, 10, 32)], "attention")
    meta = edgegap.profile(build_empty(Attention), (1, 10, 32))
    assert real.totals.macs == expected
    assert meta.totals.macs == expected
    assert "attention" in {layer.kind for layer in real.layers}


def test_matmul_family_einsum_embedding_interpolate():
    class Mixed(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding(50, 6)
            self.bias = nn.Parameter(torch.zeros(3, 4, 4))

        def forward(self, tokens):
            e = self.embed(tokens)  # (3, 4, 6)
            scores = torch.einsum("bik,bjk->bij", e, e)  # 3 x 4 x 4 x 6
            scores = torch.baddbmm(self.bias, e, e.transpose(1, 2))  # + another 3 x 4 x 4 x 6
            up = F.interpolate(scores.unsqueeze(1), scale_factor=2, mode="bilinear")
            return up.mean()

    workload = edgegap.profile(Mixed(), inputs=["3x4:int64"])
    assert workload.totals.macs == 2 * 3 * 4 * 4 * 6
    kinds = [layer.kind for layer in workload.layers]
    assert {"embedding", "matmul", "upsample", "reduction"} <= set(kinds)
    upsample = next(layer for layer in workload.layers if layer.kind == "upsample")
    assert upsample.flops == 9 * 3 * 8 * 8
    assert workload.totals.params == 50 * 6 + 48


def test_uncounted_operators_are_reported_not_hidden():
    class Odd(nn.Module):
        def forward(self, x):
            return torch.cumprod(x, dim=1)

    workload = edgegap.profile(Odd(), (2, 5))
    assert workload.uncounted_ops == {"aten.cumprod": 1}
    assert workload.layers[0].kind == "uncounted"
    assert workload.layers[0].input_bytes == 40


def test_module_paths_name_the_layers():
    workload = edgegap.profile("resnet18")
    names = [layer.name for layer in workload.layers if layer.kind == "conv"]
    assert names[:3] == ["conv1", "layer1.0.conv1", "layer1.0.conv2"]
    assert "layer3.1.conv1" in names
    assert workload.layers[-1].name == "fc"


def test_dataframe_and_json_round():
    workload = edgegap.profile(TinyCNN(), (1, 3, 8, 8))
    frame = workload.to_dataframe()
    assert len(frame) == len(workload.layers)
    assert frame["macs"].sum() == workload.totals.macs
    assert {"weight_bytes", "min_traffic_bytes", "arithmetic_intensity"} <= set(frame.columns)
    record = workload.to_dict()
    assert record["totals"]["params"] == workload.totals.params
    assert record["layers"][0]["gemms"] == [
        {"groups": 1, "m": 64, "k": 27, "n": 8, "weighted": True}
    ]


def test_simulated_number_formats_are_not_counted():
    """Fake quantization inside `simulated()` (a pre-hook rounding the input) is not work a
    deployed integer kernel does: the trace holds the linear layer alone."""
    from edgegap.workload.tracer import simulated

    model = nn.Linear(4, 2)

    def round_input(module, args):
        with simulated():
            return (torch.round(args[0] * 8) / 8,)

    model.register_forward_pre_hook(round_input)
    workload = edgegap.profile(model, (1, 4))
    assert [layer.op for layer in workload.layers] == ["addmm"]


def test_a_module_on_the_cpu_is_traced_on_meta_inputs_and_left_as_it_was():
    torch.manual_seed(0)
    model = torchvision.models.mobilenet_v3_small()
    before = {name: p.clone() for name, p in model.state_dict().items()}
    workload = edgegap.profile(model, (1, 3, 224, 224), name="mobilenet_v3_small")
    assert workload.to_dict() == edgegap.profile("mobilenet_v3_small").to_dict()
    after = model.state_dict()
    assert all(after[name].device.type == "cpu" and torch.equal(after[name], value)
               for name, value in before.items())  # fmt: skip


def test_what_a_forward_assigns_lands_on_the_traced_copy_not_the_users_model():
    """torchvision's AnchorGenerator moves its anchors to the input's device in `forward`:
    traced on the user's model itself, meta anchors would be left in it."""

    class Caches(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.linear = nn.Linear(4, 4)
            self.anchors = [torch.ones(4)]

        def forward(self, x):
            self.anchors = [a.to(x.device) for a in self.anchors]
            return self.linear(x) * self.anchors[0]

    model = Caches()
    workload = edgegap.profile(model, (1, 4))
    assert workload.notes == () and workload.totals.macs == 16
    assert model.anchors[0].device.type == "cpu" and model.training
    assert edgegap.profile(model, (1, 4)) == workload  # and the model profiles again


def test_what_a_meta_copy_cannot_run_runs_for_real():
    class ReadsAValue(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.linear = nn.Linear(4, 4)
            self.scale = torch.ones(1)  # a plain attribute: copied with its data, not to meta

        def forward(self, x):
            steps = int(x.abs().sum().item()) + 2  # data-dependent: meta cannot answer
            for _ in range(steps):
                x = self.linear(x) * self.scale
            return x

    workload = edgegap.profile(ReadsAValue(), (1, 4))
    assert workload.totals.macs == 2 * 16  # zeros in, so two steps
