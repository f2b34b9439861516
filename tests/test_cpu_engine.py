"""The calibrated CPU engine (`compute.type: cpu`) on a platform `edgegap calibrate --quick`
wrote on this project's development machine (tests/data/calibrated-host.yaml)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import edgegap
from edgegap.errors import UserError
from edgegap.hardware import estimate, load_platform
from edgegap.hardware.catalog import parse_platform
from edgegap.hardware.engines.cpu import kernel_rows
from edgegap.workload.phases import Phase

HOST = Path(__file__).parent / "data" / "calibrated-host.yaml"


def test_a_calibrated_platform_loads_and_says_where_it_was_measured() -> None:
    platform = load_platform(HOST)
    assert platform.compute.type == "cpu"
    assert platform.calibration is not None and platform.calibration.tool == "edgegap calibrate"
    assert [level.role for level in platform.memory] == ["buffer", "buffer", "buffer", "offchip"]


def test_on_chip_levels_are_inside_the_timed_kernels_and_dram_still_bounds() -> None:
    platform = load_platform(HOST)
    cost = estimate(edgegap.profile("alexnet"), platform)
    limits = {layer.limiting_level for layer in cost.layers}
    assert limits <= {None, "dram"}
    # alexnet's first classifier layer streams 151 MB of weights: more than the cache holds
    fc = max(cost.layers, key=lambda layer: layer.traffic_bytes["dram"])
    assert fc.limiting_level == "dram"
    assert cost.totals.latency_s > 0 and cost.totals.energy_j > 0


def test_layers_map_to_the_kinds_their_operators_were_timed_as() -> None:
    workload = edgegap.profile("mobilenet_v2")
    kinds = {kind for layer in workload.layers for kind, _ in kernel_rows(layer, 32)}
    assert {"conv", "depthwise", "matmul", "elementwise"} <= kinds
    conv = next(layer for layer in workload.layers if layer.kind == "conv")
    ((kind, row),) = kernel_rows(conv, 32)
    groups, m, k, n, stride, area, moved = row
    assert (kind, groups, m, k, n, stride, area) == ("conv", 1, 112 * 112, 27, 32, 2, 9)
    assert moved == 4 * (conv.input_elements + conv.output_elements + conv.weight_elements)


def test_more_work_of_one_kind_takes_longer() -> None:
    platform = load_platform(HOST)
    small, large = (estimate(edgegap.profile(name), platform).totals.latency_s
                    for name in ("resnet18", "resnet50"))  # fmt: skip
    assert small < large


def test_a_thread_count_not_calibrated_is_refused_in_one_line() -> None:
    with pytest.raises(UserError, match="no conv, depthwise"):
        load_platform(HOST).with_compute(threads=64)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.update(parameters=t["parameters"][:2]), "needs 10 parameters"),
        (lambda t: t["samples"][0].__setitem__(-1, -1.0), "positive numbers"),
        (lambda t: t.update(kind="fft"), "kind"),
    ],
)
def test_malformed_kernel_tables_are_refused(change: object, message: str) -> None:
    data = yaml.safe_load(HOST.read_text())
    table = next(t for t in data["compute"]["kernels"] if t["kind"] == "conv")
    change(table)  # type: ignore[operator]
    with pytest.raises(UserError, match=message):
        parse_platform(yaml.safe_dump(data), "host.yaml")


def test_hw_show_summarises_the_timed_samples() -> None:
    from typer.testing import CliRunner

    from edgegap.cli import app

    result = CliRunner().invoke(app, ["hw", "show", str(HOST)])
    assert result.exit_code == 0, result.output
    assert "timed (in the file; --format json lists them)" in result.output
    assert len(result.output.splitlines()) < 300


def test_the_schema_names_every_kind_the_predictor_knows() -> None:
    """The schema lists the kinds without importing numpy; the predictor owns them."""
    from typing import get_args

    from edgegap.hardware import kernels
    from edgegap.hardware.platform import KernelTable

    assert set(get_args(KernelTable.model_fields["kind"].annotation)) == set(kernels.KINDS)


def test_an_unfolded_batch_norm_is_timed_as_affine_or_its_fallback() -> None:
    """densenet121's batch norms follow concats: "affine" rows (with their fused ReLU), which
    a calibration without that kind times as "activation", not as the element-wise kind."""
    from edgegap.hardware.engines.cpu import FALLBACK_KINDS, layer_seconds
    from edgegap.workload import fusion

    platform = load_platform(Path(__file__).parents[1] / "benchmarks" / "data" / "host.yaml")
    workload = fusion.fuse(edgegap.profile("densenet121"), platform.fuses)
    norms = [layer for layer in workload.layers if layer.op.startswith("native_batch_norm")]
    assert norms and all(layer.op == "native_batch_norm+relu_" for layer in norms[:-1])
    assert {kind for layer in norms for kind, _ in kernel_rows(layer, 32)} == {"affine"}
    tables = platform.compute.tables()
    assert "affine" not in tables and FALLBACK_KINDS["affine"] in tables
    import numpy as np

    arrays = {k: (p, np.array(s, dtype=np.float64)) for k, (p, s) in tables.items()}
    as_activation = layer_seconds(norms, ["fp32"] * len(norms), arrays, 0.0)
    kept = {k: v for k, v in arrays.items() if k != "activation"}
    as_elementwise = layer_seconds(norms, ["fp32"] * len(norms), kept, 0.0)
    assert not np.allclose(as_activation, as_elementwise)


def test_an_element_wise_layer_no_convolution_feeds_pays_no_layout_change() -> None:
    """vit_b_16's residual adds follow matrix products: plain-layout streams; mobilenet_v3's
    squeeze-and-excitation Mul reads a convolution's output: the element-wise kind."""
    from edgegap.hardware.engines.cpu import blocked_layouts, fed_by_convolution
    from edgegap.workload import fusion

    platform = load_platform(Path(__file__).parents[1] / "benchmarks" / "data" / "host.yaml")
    vit = fusion.fuse(edgegap.profile("vit_b_16"), platform.fuses).layers
    adds = [layer for layer in vit if layer.op in ("add", "add_") and len(layer.input_shapes) == 2]
    assert adds and not any(fed_by_convolution(layer, blocked_layouts(vit)) for layer in adds[1:])
    mobile = fusion.fuse(edgegap.profile("mobilenet_v3_small"), platform.fuses).layers
    scales = [layer for layer in mobile if layer.op == "mul"]
    assert scales and all(fed_by_convolution(layer, blocked_layouts(mobile)) for layer in scales)


def test_a_depthwise_convolution_in_the_blocked_layout_is_timed_at_its_padded_channels() -> None:
    """shufflenet_v2_x1_0's depthwise convolutions of 58 and 116 channels read a convolution's
    output: timed as the depthwise kind at 64 and 128 channels (ONNX Runtime pads them to
    its NCHWc block), not at the channel count its own microbenchmark runs off the block."""
    import numpy as np

    from edgegap.hardware import kernels
    from edgegap.hardware.engines import cpu
    from edgegap.workload import fusion

    platform = load_platform(Path(__file__).parents[1] / "benchmarks" / "data" / "host.yaml")
    layers = fusion.fuse(edgegap.profile("shufflenet_v2_x1_0"), platform.fuses).layers
    blocked = cpu.blocked_layouts(layers)
    odd = [layer for layer in layers if kernel_rows(layer, 32)[0][0] == "depthwise"
           and layer.gemms[0].groups % cpu.NCHWC_BLOCK
           and cpu.fed_by_convolution(layer, blocked)]  # fmt: skip
    assert odd
    arrays = {k: (p, np.array(s, dtype=np.float64))
              for k, (p, s) in platform.compute.tables().items()}  # fmt: skip
    seconds = cpu.layer_seconds(layers, ["fp32"] * len(layers), arrays, 0.0)
    block = cpu.NCHWC_BLOCK
    for layer in odd:
        row = kernel_rows(layer, 32)[0][1]
        padded = cpu.padded_to_block(row)
        assert padded[0] % block == 0 and row[0] < padded[0] < row[0] + block
        parameters, samples = arrays["depthwise"]
        alone = kernels.predict_seconds("depthwise", parameters, samples, np.array([padded]))
        assert seconds[layer.index] == pytest.approx(alone[0])


def test_a_convolution_between_plain_layout_layers_pays_its_reorders() -> None:
    """convnext_tiny's depthwise convolutions that read a residual sum of no convolution's
    output (a plain-layout stream after matrix products) and are read by a layer norm
    through a permute take their own kind's time plus a reorder in and one out, plain-layout
    streams of what they read and write; resnet18's convolutions, between convolutions, pay
    none."""
    import numpy as np

    from edgegap.hardware import kernels
    from edgegap.hardware.engines.cpu import PLAIN_LAYOUT_KIND, layer_seconds
    from edgegap.workload import fusion

    platform = load_platform(Path(__file__).parents[1] / "benchmarks" / "data" / "host.yaml")
    arrays = {k: (p, np.array(s, dtype=np.float64))
              for k, (p, s) in platform.compute.tables().items()}  # fmt: skip

    def alone(kind: str, rows: list[list[float]]) -> float:
        parameters, samples = arrays[kind]
        return float(kernels.predict_seconds(kind, parameters, samples, np.array(rows)).sum())

    def extra(name: str) -> list[float]:
        layers = fusion.fuse(edgegap.profile(name), platform.fuses).layers
        seconds = layer_seconds(layers, ["fp32"] * len(layers), arrays, 0.0)
        return [seconds[layer.index] - sum(alone(kind, [row]) for kind, row
                                           in kernel_rows(layer, 32))
                for layer in layers if layer.kind == "conv"]  # fmt: skip

    layers = fusion.fuse(edgegap.profile("convnext_tiny"), platform.fuses).layers
    seconds = layer_seconds(layers, ["fp32"] * len(layers), arrays, 0.0)
    sums = {i for i, layer in enumerate(layers) if layer.op == "add_"
            and all(layers[p].kind != "conv" for p in layer.producers)}  # fmt: skip
    later = [layer for layer in layers if layer.kind == "conv" and layer.gemms[0].n == 1
             and layer.producers[0] in sums]  # fmt: skip
    assert len(later) >= 10
    for layer in later:
        ((kind, row),) = kernel_rows(layer, 32)
        moved = [[4.0 * 2 * layer.input_shapes[0][1] * layer.input_shapes[0][2] ** 2],
                 [4.0 * 2 * layer.output_elements]]  # fmt: skip
        expected = alone(kind, [row]) + alone(PLAIN_LAYOUT_KIND, moved)
        assert seconds[layer.index] == pytest.approx(expected)
    assert extra("resnet18") == pytest.approx([0.0] * len(extra("resnet18")), abs=1e-12)


def test_linear_layers_of_a_model_the_cache_cannot_hold_are_timed_as_streamed() -> None:
    """A linear layer reads its weight from DRAM where the model's weights do not fit the
    cache that keeps weights (alexnet's 244 MB); attention's products of activations and the
    layers of a model that fits stay on the cached benchmark."""
    from edgegap.hardware.layers import LayerArrays

    platform = load_platform(HOST)
    alexnet, small = edgegap.profile("alexnet"), edgegap.profile("squeezenet1_1")
    assert not LayerArrays.of(alexnet, platform).weights_cached
    assert LayerArrays.of(small, platform).weights_cached
    fc = next(layer for layer in alexnet.layers if layer.kind == "matmul")
    assert [kind for kind, _ in kernel_rows(fc, 32, streamed=True)] == ["streamed_matmul"]
    assert [kind for kind, _ in kernel_rows(fc, 32)] == ["matmul"]
    step = edgegap.profile("hf:HuggingFaceTB/SmolLM2-135M", dtype="float32",
                           phase=Phase("decode", context=16))  # fmt: skip
    attention = next(layer for layer in step.layers if layer.kind == "attention")
    kinds = {kind for kind, _ in kernel_rows(attention, 32, streamed=True)}
    assert kinds == {"matmul", "softmax"}
