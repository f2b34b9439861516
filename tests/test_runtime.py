"""Measured speed on a real runtime: ONNX export, static int8 QDQ quantisation with ONNX
Runtime, latency statistics and CPU feature detection, on a tiny conv net."""

import math
import time
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnx import numpy_helper
from torch import nn

from edgegap.compress.runtime import (
    export_onnx,
    inference_session,
    measure_latency,
    quantize_static_int8,
    time_interleaved,
)
from edgegap.errors import UserError
from edgegap.host import CpuFeatures, cpu_features, parse_cpuinfo

SHAPE = (1, 3, 16, 16)
ROOT = Path(__file__).resolve().parent.parent

CPUINFO = """processor\t: 0
vendor_id\t: GenuineIntel
cpu family\t: 6
model\t\t: 143
model name\t: Intel(R) Xeon(R) Platinum 8480+
stepping\t: 8
flags\t\t: fpu sse2 avx avx2 avx512f avx512_vnni amx_tile amx_int8 amx_bf16

processor\t: 1
model name\t: Other
flags\t\t: fpu avx_vnni
"""


def tiny_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
        nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10),
    )  # fmt: skip


def batches(count: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(SHAPE).astype(np.float32) for _ in range(count)]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("runtime")
    fp32 = export_onnx(tiny_net(), SHAPE, folder / "tiny.onnx")
    int8 = quantize_static_int8(fp32, folder / "tiny-int8.onnx", batches(16, seed=1))
    return fp32, int8


def outputs(path, inputs):
    session = inference_session(path)
    name = session.get_inputs()[0].name
    return np.concatenate([session.run(None, {name: x})[0] for x in inputs])


def test_int8_model_agrees_with_fp32_and_the_torch_model(models):
    fp32, int8 = models
    inputs = batches(16, seed=2)
    reference = tiny_net().eval()(torch.from_numpy(np.concatenate(inputs))).detach().numpy()
    dense, quantized = outputs(fp32, inputs), outputs(int8, inputs)
    np.testing.assert_allclose(dense, reference, rtol=1e-4, atol=1e-5)
    relative_error = np.linalg.norm(quantized - dense) / np.linalg.norm(dense)
    assert 0 < relative_error < 0.05  # quantised for real, yet close
    assert (quantized.argmax(1) == dense.argmax(1)).mean() >= 0.85


def test_int8_model_is_qdq_with_int8_weights_a_quarter_of_fp32(models):
    fp32, int8 = models
    ops = {node.op_type for node in onnx.load(str(int8)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops

    def weight_bytes(path, dtypes):
        arrays = [numpy_helper.to_array(t) for t in onnx.load(str(path)).graph.initializer]
        return sum(a.nbytes for a in arrays if a.ndim > 1 and a.dtype in dtypes)

    float_weights = weight_bytes(fp32, (np.float32,))
    assert float_weights == 4 * (32 * 3 * 9 + 64 * 32 * 9 + 10 * 64)
    assert weight_bytes(int8, (np.float32,)) == 0
    assert weight_bytes(int8, (np.int8,)) * 4 == float_weights
    assert fp32.stat().st_size / int8.stat().st_size > 2.5


def test_export_is_atomic(tmp_path):
    target = tmp_path / "broken.onnx"
    with pytest.raises(torch.onnx.OnnxExporterError):
        export_onnx(tiny_net(), (1, 4, 16, 16), target)  # 4 channels into a 3-channel conv
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(UserError, match="impossible input shape"):
        export_onnx(tiny_net(), (1, 0, 16, 16), target)


def test_quantize_needs_a_model_and_calibration(tmp_path, models):
    fp32, _ = models
    with pytest.raises(UserError, match="calibration batch"):
        quantize_static_int8(fp32, tmp_path / "q.onnx", [])
    with pytest.raises(UserError, match="no ONNX model"):
        quantize_static_int8(tmp_path / "missing.onnx", tmp_path / "q.onnx", batches(1, 0))
    assert list(tmp_path.iterdir()) == []


def test_measure_latency_returns_ordered_positive_milliseconds(models):
    for path in models:
        stats = measure_latency(path, SHAPE, runs=5, warmup=1, threads=1)
        assert set(stats) == {"median_ms", "q1_ms", "q3_ms", "iqr_ms"}
        assert all(math.isfinite(v) and v >= 0 for v in stats.values())
        assert 0 < stats["q1_ms"] <= stats["median_ms"] <= stats["q3_ms"]
        assert stats["iqr_ms"] == pytest.approx(stats["q3_ms"] - stats["q1_ms"])
    with pytest.raises(UserError, match="runs >= 2"):
        measure_latency(models[0], SHAPE, runs=1)
    with pytest.raises(UserError, match="threads"):
        measure_latency(models[0], SHAPE, threads=0)


def test_cpuinfo_parsing_reads_the_first_processor():
    features = parse_cpuinfo(CPUINFO)
    assert features.model == "Intel(R) Xeon(R) Platinum 8480+"
    assert features.flags == {
        "avx2": True, "avx512f": True, "avx512_vnni": True, "avx_vnni": False, "amx": True,
    }  # fmt: skip
    assert features.present() == "avx2, avx512f, avx512_vnni, amx"
    assert features.cpu_id == "family 6 model 143 stepping 8"
    bare = parse_cpuinfo("processor : 0\nflags : fpu sse2 amx_tile\n")
    assert bare.model == "unknown" and not any(bare.flags.values()) and bare.present() == "none"
    assert bare.cpu_id == ""


def test_a_calibration_is_of_a_cpu_by_its_name_and_design():
    """One cloud name, two designs: a calibration made on a Genoa is not one of a Turin."""
    from edgegap.hardware import load_platform

    calibration = load_platform(ROOT / "benchmarks" / "data" / "host-amd.yaml").calibration
    assert calibration is not None
    genoa = CpuFeatures("AMD EPYC", {}, "family 25 model 17 stepping 1")
    turin = CpuFeatures("AMD EPYC", {}, "family 26 model 2 stepping 0")
    assert calibration.made_on(genoa) and not calibration.made_on(turin)
    assert calibration.made_on(CpuFeatures("AMD EPYC", {}))  # cpuinfo without the fields
    assert not calibration.made_on(CpuFeatures("Intel(R) Xeon(R) Processor", {}))


def test_cpu_features_without_cpuinfo_is_unknown(tmp_path):
    missing = cpu_features(tmp_path / "cpuinfo")
    assert missing.model == "unknown" and set(missing.flags.values()) == {False}
    here = cpu_features()
    assert set(here.flags) == {"avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx"}


def test_time_interleaved_alternates_calls_and_measures_them():
    log = []
    stats = time_interleaved(
        [lambda: log.append("a"), lambda: (log.append("b"), time.sleep(0.002))], runs=4, warmup=1
    )
    assert log == ["a", "b"] * 5  # warm-up round then four timed rounds, always alternating
    assert stats[1]["q1_ms"] >= 2.0 > stats[0]["median_ms"]
    with pytest.raises(UserError, match="runs >= 2"):
        time_interleaved([lambda: None], runs=1)
