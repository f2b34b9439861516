"""Layer fusion (edgegap.workload.fusion) and the cost model's use of it."""

from __future__ import annotations

import json
import math
from functools import cache
from pathlib import Path

import pytest
import torch
from cli_checks import one_line_error
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn
from typer.testing import CliRunner

import edgegap
from edgegap.cli import app
from edgegap.errors import UserError
from edgegap.hardware import builtin_names, estimate, fits, load_platform
from edgegap.hardware.catalog import parse_platform
from edgegap.hardware.cost import Designs, evaluate_designs
from edgegap.hardware.layers import LayerArrays
from edgegap.workload import Workload
from edgegap.workload.fusion import BATCH_NORM_OPS, DEFAULT_RULES, RULES, fuse
from edgegap.workload.scalesim import read_topology

TINY = Path(__file__).parent / "data" / "platforms" / "tiny.yaml"
ALL = ("batchnorm", "activation", "add")


def traced(model: nn.Module, shape: tuple[int, ...] = (1, 8, 6, 6)) -> Workload:
    with torch.device("meta"):
        model = model.to("meta")
    return edgegap.profile(model, shape, name=type(model).__name__)


class ConvBnRelu(nn.Module):
    def __init__(self, act: type[nn.Module] = nn.ReLU, channels: int = 8) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(channels)
        self.act = act()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


class Residual(nn.Module):
    """ResNet's basic tail: relu(bn(conv(x)) + shortcut), the shortcut x or a 1x1 conv."""

    def __init__(self, downsample: bool = False) -> None:
        super().__init__()
        self.conv = nn.Conv2d(8, 8, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(8)
        self.down = nn.Sequential(nn.Conv2d(8, 8, 1, bias=False), nn.BatchNorm2d(8))
        self.downsample = downsample
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn(self.conv(x))
        out = out + (self.down(x) if self.downsample else x)
        return self.relu(out)


def test_conv_bn_relu_chain_is_one_layer():
    """conv (8 -> 8, 3x3, no bias) on 6x6: 288 output elements. The batch norm folds (its
    2 FLOPs per element and 32 stored elements go; the conv gains 8 bias weights and one add
    per element), the ReLU rides on the output (one FLOP per element)."""
    workload = traced(ConvBnRelu())
    conv, bn, relu = workload.layers
    (fused,) = fuse(workload, DEFAULT_RULES).layers
    assert fused.name == "conv+bn+act"
    assert fused.op == f"{conv.op}+{bn.op}+{relu.op}"
    assert fused.macs == conv.macs == 8 * 8 * 9 * 36
    assert fused.flops == conv.flops + 288 + 288 == workload.totals.flops - bn.flops + 288
    assert bn.flops == 2 * 288
    assert fused.weight_elements == 8 * 8 * 9 + 8
    assert fused.params == conv.params + bn.params == workload.totals.params
    assert (fused.input_elements, fused.output_elements) == (conv.input_elements, 288)
    assert (fused.index, fused.producers, fused.output_shape) == (0, (-1,), relu.output_shape)


def test_a_residual_add_is_done_by_its_producer():
    """The add's other operand (x, 288 elements) becomes an extra input read once; the add's
    288 FLOPs are added."""
    workload = traced(Residual())
    assert [layer.op for layer in workload.layers] == ["convolution", "native_batch_norm",
                                                       "add", "relu"]  # fmt: skip
    conv, _, add, relu = workload.layers
    (fused,) = fuse(workload, ("batchnorm", "relu", "add")).layers
    assert fused.name == "conv+bn+add+relu"
    assert fused.input_shapes == ((1, 8, 6, 6), (1, 8, 6, 6)) and fused.producers == (-1, -1)
    assert (fused.input_elements, fused.residual_elements) == (2 * 288, 288)
    assert fused.flops == conv.flops + 288 + add.flops + relu.flops
    # Without `add` the add (issued by the model's own forward) stays; the ReLU rides on it.
    conv_bn, add_relu = fuse(workload, DEFAULT_RULES).layers
    assert (conv_bn.name, add_relu.name, add_relu.op) == ("conv+bn", "(root)+relu", "add+relu")
    assert add_relu.producers == (0, -1)


def test_the_add_goes_to_the_producer_that_ran_last():
    """With a downsampling shortcut the add joins the shortcut's conv (it ran last); the main
    branch's output becomes the extra input."""
    workload = traced(Residual(downsample=True))
    main, shortcut = fuse(workload, ("batchnorm", "relu", "add")).layers
    assert (main.name, shortcut.name) == ("conv+bn", "down.0+bn+add+relu")
    assert shortcut.producers == (-1, 0) and shortcut.residual_elements == 288


class Branch(nn.Module):
    def __init__(self, returns_both: bool) -> None:
        super().__init__()
        self.conv = nn.Conv2d(8, 8, 3, padding=1)
        self.returns_both = returns_both

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        y = self.conv(x)
        if self.returns_both:
            return y, torch.relu(y)
        return torch.relu(y) + y


@pytest.mark.parametrize("returns_both", [False, True])
def test_no_fusion_where_the_intermediate_is_needed(returns_both):
    """relu(y) + y reads y twice, and a model returning y needs it: y must be written, so
    the ReLU stays apart (and the add, whose producers are a ReLU and a twice-read conv)."""
    workload = traced(Branch(returns_both))
    assert workload.outputs == ((0, 1) if returns_both else (2,))
    assert fuse(workload, ALL) is workload


class BnAfterAdd(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(8, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.pool = nn.MaxPool2d(2)
        self.bn2 = nn.BatchNorm2d(8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn2(self.pool(self.bn(self.conv(x) + x)))


def test_a_batch_norm_folds_only_into_a_product():
    """After an add (pre-activation style) or a pool a batch norm has no weights to fold
    into: it stays a layer."""
    fused = fuse(traced(BnAfterAdd()), ALL).layers
    assert [layer.name for layer in fused] == ["conv+add", "bn", "pool", "bn2"]


@pytest.mark.parametrize(
    ("act", "rules", "layers"),
    [
        (nn.Hardswish, ("batchnorm", "relu"), 2),
        (nn.Hardswish, ("batchnorm", "activation"), 1),
        (nn.ReLU6, ("batchnorm", "relu"), 1),
        (nn.ReLU6, ("relu",), 3),  # the ReLU6's producer is the unfolded batch norm
        (nn.SiLU, ("batchnorm", "activation"), 1),
    ],
)
def test_relu_is_the_clamp_family_activation_is_every_activation(act, rules, layers):
    assert len(fuse(traced(ConvBnRelu(act)), rules).layers) == layers


class Block(nn.Module):
    """conv -> [bn] -> [act] -> [+ x], the shapes kept: a step of a random network."""

    def __init__(self, bn: bool, act: str, residual: bool, bias: bool, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1, bias=bias)
        self.bn = nn.BatchNorm2d(channels) if bn else nn.Identity()
        acts = {"relu": nn.ReLU(), "relu6": nn.ReLU6(), "hardswish": nn.Hardswish(),
                "sigmoid": nn.Sigmoid(), "none": nn.Identity()}  # fmt: skip
        self.act = acts[act]
        self.residual = residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.act(self.bn(self.conv(x)))
        return y + x if self.residual else y


blocks = st.lists(
    st.builds(
        Block,
        bn=st.booleans(),
        act=st.sampled_from(["relu", "relu6", "hardswish", "sigmoid", "none"]),
        residual=st.booleans(),
        bias=st.booleans(),
        channels=st.just(4),
    ),
    min_size=1,
    max_size=4,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(blocks=blocks, rules=st.sets(st.sampled_from(RULES)))
def test_fusion_keeps_the_counts(blocks, rules):
    """Any chain, any rules: MACs and params unchanged; FLOPs lose exactly the folded batch
    norms' and gain one add per output element of a convolution that gets a bias; layers
    only merge; links point backwards; fusing again changes nothing; the cost never rises."""
    workload = traced(nn.Sequential(*blocks), (1, 4, 5, 5))
    fused = fuse(workload, rules)
    before, after = workload.totals, fused.totals
    assert (after.macs, after.params) == (before.macs, before.params)
    folded = [m for m in fused.layers for op in m.op.split("+")[1:] if op in BATCH_NORM_OPS]
    bias = sum(b.conv.bias is None and isinstance(b.bn, nn.BatchNorm2d) for b in blocks)
    bn_flops = sum(layer.flops for layer in workload.layers if layer.op in BATCH_NORM_OPS)
    if "batchnorm" in rules:
        assert len(folded) == sum(isinstance(b.bn, nn.BatchNorm2d) for b in blocks)
        assert after.flops == before.flops - bn_flops + bias * 4 * 25
    else:
        assert not folded and after.flops == before.flops
    assert len(fused.layers) <= len(workload.layers)
    for position, layer in enumerate(fused.layers):
        assert layer.index == position and all(p < position for p in layer.producers)
    assert fuse(fused, rules) == fused
    for name in ("eyeriss", "nvdla-small"):  # activations that stay on chip (see the report)
        platform = load_platform(name)
        chosen = platform.fusion.model_copy(update={"fuses": sorted(rules)})
        platform = platform.model_copy(update={"fusion": chosen})
        plain, cost = estimate(workload, platform, fuse=False), estimate(workload, platform)
        assert cost.totals.latency_s <= plain.totals.latency_s * (1 + 1e-9)
        assert cost.totals.energy_j <= plain.totals.energy_j * (1 + 1e-9)


def test_nothing_is_fused_without_rules_or_links():
    workload = traced(Residual())
    assert fuse(workload, []) is workload
    filtered = Workload("convs", workload.input_shape, workload.layers[:1] + workload.layers[2:],
                        workload.peak_activation_bytes)  # fmt: skip
    assert fuse(filtered, ALL) is filtered  # indices no longer positions: links untrusted
    topology = read_topology(Path(__file__).parent / "data" / "scalesim" / "resnet18_conv.csv", 8)
    assert fuse(topology, ALL) is topology  # no links recorded


def test_unknown_rule_is_one_line():
    with pytest.raises(UserError, match=r"^unknown fusion rule 'fold': use batchnorm, relu, "):
        fuse(traced(Residual()), ["fold"])


def test_a_platform_that_fuses_nothing_costs_the_traced_layers():
    workload = edgegap.profile("resnet18")
    eyeriss = load_platform("eyeriss")
    plain = estimate(workload, eyeriss, fuse=False)
    assert len(plain.layers) == len(workload.layers)
    none = estimate(workload, eyeriss.without_fusion())
    assert none.totals == plain.totals
    assert eyeriss.without_fusion().fuses == () and eyeriss.fuses == ("batchnorm", "relu")
    designs = Designs.of(eyeriss)
    assert evaluate_designs(workload, eyeriss.without_fusion(), designs).latency_s.sum() == (
        pytest.approx(plain.totals.latency_s)
    )
    assert fits(workload, eyeriss, fuse=False).needed_bytes > fits(workload, eyeriss).needed_bytes


def test_platform_fusion_is_data(tmp_path):
    """Omitted: the default (batchnorm, relu); declared: validated, one line when wrong."""
    text = TINY.read_text()
    assert parse_platform(text, "tiny.yaml").fuses == DEFAULT_RULES
    declared = text + "fusion:\n  fuses: [batchnorm, add]\n  source: test fixture\n"
    assert parse_platform(declared, "tiny.yaml").fuses == ("batchnorm", "add")
    empty = text + "fusion: {fuses: [], source: an interpreter}\n"
    assert parse_platform(empty, "tiny.yaml").fuses == ()
    bad = tmp_path / "chip.yaml"
    bad.write_text(text + "fusion:\n  fuses: [batchnorm, gelu]\n  source: test fixture\n")
    with pytest.raises(UserError, match=r"chip.yaml:\d+: fusion.fuses.1: Input should be"):
        load_platform(bad)
    bad.write_text(text + "fusion:\n  fuses: [relu]\n")
    with pytest.raises(UserError, match=r"chip.yaml:\d+: fusion.source: Field required"):
        load_platform(bad)
    line = one_line_error("estimate", "resnet18", "--target", str(bad))
    assert "fusion.source" in line


def test_every_catalog_platform_declares_its_fusion_with_a_source():
    for name in builtin_names():
        platform = load_platform(name)
        assert "fusion:" in (Path(edgegap.__file__).parent / "hardware" / "catalog" /
                             f"{name}.yaml").read_text(), name  # fmt: skip
        assert len(platform.fusion.source) > 40 and platform.fusion.notes, name
        assert "batchnorm" in platform.fuses, name


@cache
def zoo(name: str) -> Workload:
    return edgegap.profile(name)


@pytest.mark.parametrize("model", ["resnet18", "mobilenet_v2", "mobilenet_v3_small"])
def test_fusion_never_costs_more_on_any_platform(model):
    workload = zoo(model)
    for name in builtin_names():
        platform = load_platform(name)
        fused = fuse(workload, platform.fuses)
        assert fused.totals.macs == workload.totals.macs
        assert fused.totals.params == workload.totals.params
        assert fused.totals.flops <= workload.totals.flops
        plain, cost = estimate(workload, platform, fuse=False), estimate(workload, platform)
        assert cost.totals.latency_s <= plain.totals.latency_s * (1 + 1e-9), name
        assert cost.totals.energy_j <= plain.totals.energy_j * (1 + 1e-9), name
        assert len(cost.layers) == len(fused.layers) < len(workload.layers)


def test_links_of_both_front_ends():
    """resnet18 traced: the first block's add reads bn2 and the max-pool (the shortcut), the
    classifier reads the average pool through a flatten (a view); the model returns fc."""
    workload = zoo("resnet18")
    by_name = {(layer.name, layer.op): layer for layer in workload.layers}
    add = by_name["layer1.0", "add_"]
    pool = by_name["maxpool", "max_pool2d_with_indices"]
    assert add.producers == (by_name["layer1.0.bn2", "native_batch_norm"].index, pool.index)
    fc = workload.layers[-1]
    assert fc.producers == (by_name["avgpool", "mean"].index,)
    assert workload.outputs == (fc.index,)
    record = fc.to_dict()
    assert record["producers"] == [fc.producers[0]] and record["residual_elements"] == 0


def test_residual_bytes_pass_once():
    """A fused add's other operand is not streamed through the array: the cost model counts
    it with the bytes that pass once (LayerArrays.outputs), not with the streamed inputs."""
    fused = fuse(traced(Residual()), ALL)
    layers = LayerArrays.of(fused, load_platform(TINY))  # fp32 runs at the widest, fp16
    (layer,) = fused.layers
    assert (layer.input_elements, layer.residual_elements, layer.output_elements) == (576, 288, 288)
    assert (int(layers.inputs[0]), int(layers.outputs[0])) == (288 * 2, (288 + 288) * 2)


def test_resnet18_on_eyeriss_is_faster_fused():
    """The regression the fusion exists for: on Eyeriss a traced ResNet-18 sends every batch
    norm and ReLU output over the 0.48 GB/s DRAM link; folded and fused, at least 15% less
    latency (measured 22%) and less energy, and the table names what each layer absorbed."""
    runner = CliRunner()
    command = ["estimate", "resnet18", "--target", "eyeriss", "--format", "json"]
    fused = json.loads(runner.invoke(app, command).stdout)
    plain = json.loads(runner.invoke(app, [*command, "--no-fuse"]).stdout)
    assert fused["totals"]["latency_s"] < 0.85 * plain["totals"]["latency_s"]
    assert fused["totals"]["energy_j"] < plain["totals"]["energy_j"]
    names = [layer["name"] for layer in fused["layers"]]
    assert "layer1.0.conv1+bn1+relu" in names and len(names) < len(plain["layers"])
    assert math.isclose(sum(layer["macs"] for layer in fused["layers"]),
                        sum(layer["macs"] for layer in plain["layers"]))  # fmt: skip
    table = runner.invoke(app, ["estimate", "resnet18", "--target", "eyeriss"],
                          env={"COLUMNS": "160"})  # fmt: skip
    assert "layer1.0.conv1+bn1+relu" in table.stdout


@pytest.mark.parametrize("command", ["sweep", "bridges", "plan"])
def test_no_fuse_is_accepted_by_the_other_cost_commands(command):
    result = CliRunner().invoke(app, [command, "--help"])
    assert "--no-fuse" in result.stdout


def _randomised_batch_norms(model: nn.Module) -> nn.Module:
    """Batch norms away from identity, so that the exporter's folding leaves real biases."""
    generator = torch.Generator().manual_seed(0)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            with torch.no_grad():
                c = module.num_features
                module.weight.copy_(torch.rand(c, generator=generator) + 0.5)
                module.bias.copy_(torch.rand(c, generator=generator) - 0.5)
                module.running_mean.copy_(torch.rand(c, generator=generator) - 0.5)
                module.running_var.copy_(torch.rand(c, generator=generator) + 0.5)
    return model


@pytest.mark.slow
@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v2"])
def test_pytorch_and_onnx_paths_give_one_estimate(tmp_path, name):
    """The exporter's optimiser folds every batch norm into its convolution; the tracer sees
    them apart. Fused as the platform's compiler fuses them, both paths cost within 1% on
    latency and energy (measured: resnet18 0.000%, mobilenet_v2 at most 0.31%, on Eyeriss,
    where the export's ReduceMean reads its axes as a stored tensor)."""
    import torchvision

    model = _randomised_batch_norms(torchvision.models.get_model(name).eval())
    path = tmp_path / f"{name}.onnx"
    torch.onnx.export(model, (torch.zeros(1, 3, 224, 224),), path, dynamo=True, optimize=True,
                      verbose=False)  # fmt: skip
    from_onnx, by_name = edgegap.profile(str(path)), edgegap.profile(name)
    assert not any(layer.op == "onnx::BatchNormalization" for layer in from_onnx.layers)
    for target in ("eyeriss", "nvdla-small", "jetson-orin-nano"):
        platform = load_platform(target)
        a, b = estimate(by_name, platform).totals, estimate(from_onnx, platform).totals
        assert b.latency_s == pytest.approx(a.latency_s, rel=0.01), target
        assert b.energy_j == pytest.approx(a.energy_j, rel=0.01), target


class PreActivation(nn.Module):
    """DenseNet's and ResNet-v2's order: relu(bn(x + y)) before the convolution, so no
    convolution precedes the batch norm; then a hardswish on a convolution."""

    def __init__(self) -> None:
        super().__init__()
        self.first = nn.Conv2d(8, 8, 1)
        self.bn = nn.BatchNorm2d(8)
        self.conv = nn.Conv2d(8, 8, 3, padding=1)
        self.act = nn.Hardswish()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.bn(x + self.first(x)))
        return self.act(self.conv(y))


def test_a_batch_norm_no_convolution_precedes_runs_as_one():
    """Under channel_affine the unfolded batch norm takes its ReLU (ONNX Runtime's per-channel
    NCHWc Conv); under hardswish the convolution takes its hardswish. Without them each stays
    a layer of its own."""
    workload = traced(PreActivation())
    rules = ("batchnorm", "monotone", "add")
    plain = [layer.op for layer in fuse(workload, rules).layers]
    assert plain == ["convolution+add", "native_batch_norm", "relu", "convolution", "hardswish"]
    fused = [layer.op for layer in fuse(workload, (*rules, "hardswish", "channel_affine")).layers]
    assert fused == ["convolution+add", "native_batch_norm+relu", "convolution+hardswish"]


class LinearThenHardswish(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 8)
        self.act = nn.Hardswish()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.fc(x))


def test_a_hardswish_fuses_into_a_convolution_only():
    workload = traced(LinearThenHardswish(), (4, 8))
    assert len(fuse(workload, ("hardswish",)).layers) == 2
    assert len(fuse(workload, ("activation",)).layers) == 1


class MultiBranch(nn.Module):
    """MobileOne's training-time block: a sum that starts from 0, of two conv branches and a
    batch-norm identity, then a ReLU."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8))
        self.b = nn.Sequential(nn.Conv2d(8, 8, 1, bias=False), nn.BatchNorm2d(8))
        self.identity = nn.BatchNorm2d(8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = 0 + self.a(x)
        out = out + self.b(x)
        out = out + self.identity(x)
        return torch.relu(out)


def test_a_multi_branch_sum_folds_into_its_branches():
    """The scalar 0 folds into a's bias; b takes the first sum; the identity batch norm, run
    as a per-channel convolution, takes the second sum and the ReLU: three layers, as ONNX
    Runtime runs it (three NCHWc Convs)."""
    workload = traced(MultiBranch())
    rules = ("batchnorm", "monotone", "add", "channel_affine")
    ops = [layer.op for layer in fuse(workload, rules).layers]
    assert ops == ["convolution+native_batch_norm+add",
                   "convolution+native_batch_norm+add",
                   "native_batch_norm+add+relu"]  # fmt: skip
    # Without channel_affine the identity batch norm and the second sum (with its ReLU) stay.
    ops = [layer.op for layer in fuse(workload, ("batchnorm", "monotone", "add")).layers]
    assert ops[2:] == ["native_batch_norm", "add+relu"]


class LayerScale(nn.Module):
    """ConvNeXt's block tail: x + gamma * linear(y)."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 8)
        self.gamma = nn.Parameter(torch.ones(8))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.gamma * self.fc(x)


def test_conv_only_sums_keeps_a_linear_layers_scale_and_sum_apart():
    workload = traced(LayerScale(), (4, 8))
    assert len(fuse(workload, ("batchnorm", "add")).layers) == 1
    ops = [layer.op for layer in fuse(workload, ("batchnorm", "add", "conv_only_sums")).layers]
    assert ops == ["addmm", "mul", "add"]
