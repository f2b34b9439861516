"""Measured speed on a real runtime: export to ONNX, quantise to int8, time with ONNX Runtime.

The cost model predicts what a bridge buys; this module measures it on the CPU at hand, so the
two can stand side by side (Xu et al., "Scaling for edge inference of deep neural networks",
Nature Electronics 2018, argue the gap must be closed on real hardware). Quantisation follows
Jacob et al., "Quantization and Training of Neural Networks for Efficient Integer-Arithmetic-
Only Inference", CVPR 2018: affine uint8 activations, int8 weights, scales from calibration.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnxruntime as ort  # type: ignore[import-untyped]
import torch
from onnxruntime.quantization import (  # type: ignore[import-untyped]
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)
from onnxruntime.quantization.shape_inference import (  # type: ignore[import-untyped]
    quant_pre_process,
)
from torch import nn

from edgegap import atomic
from edgegap.errors import UserError
from edgegap.workload.shapes import check_shape

INPUT_SEED = 0


def export_onnx(model: nn.Module, input_shape: Sequence[int], path: Path) -> Path:
    """Export `model` in eval mode to one self-contained ONNX file at `path`, atomically.

    The dynamo exporter runs with its optimiser on: it folds BatchNorm into the preceding
    Conv and constant-folds shape arithmetic, so quantisation sees plain Conv/Gemm nodes
    (with optimize=False, BatchNorm stays a separate float op between quantised convs and
    ONNX Runtime's symbolic shape inference fails on the unfolded constants).
    """
    shape = tuple(input_shape)
    check_shape(shape)
    model.eval()
    with atomic.file(path) as staging:
        torch.onnx.export(
            model, (torch.zeros(shape),), staging,
            dynamo=True, optimize=True, external_data=False, verbose=False,
        )  # fmt: skip
    return path


class _Batches(CalibrationDataReader):  # type: ignore[misc]
    """Feeds calibration batches to the graph's first input, one per call."""

    def __init__(self, input_name: str, batches: Sequence[npt.NDArray[np.float32]]) -> None:
        self._feeds = iter([{input_name: np.ascontiguousarray(b, np.float32)} for b in batches])

    def get_next(self) -> dict[str, npt.NDArray[np.float32]] | None:
        return next(self._feeds, None)


def quantize_static_int8(
    fp32_path: Path, int8_path: Path, calibration_batches: Sequence[npt.NDArray[np.float32]]
) -> Path:
    """Post-training static int8 quantisation into a QDQ model at `int8_path`, atomically.

    Weights int8, per output channel, symmetric; activations uint8 (U8S8), ranges from the
    min/max over `calibration_batches`. U8S8 is what x86 int8 hardware multiplies natively:
    VNNI's VPDPBUSD (and AMX's TDPBUSD) take unsigned 8-bit activations times signed 8-bit
    weights, so ONNX Runtime's MLAS kernels run U8S8 as is, whereas S8S8 pays a shift to
    unsigned first (measured when choosing: resnet18 in S8S8 ran about 1.7x slower than in
    U8S8 on a Zen 4 with avx512_vnni). reduce_range stays off: it guards against the 16-bit
    saturation of VPMADDUBSW on CPUs without VNNI; VNNI accumulates in 32 bits.
    """
    if not calibration_batches:
        raise UserError("give at least one calibration batch to quantise activations")
    if not fp32_path.is_file():
        raise UserError(f"no ONNX model at {fp32_path}: export one first (export_onnx)")
    input_name = inference_session(fp32_path).get_inputs()[0].name
    int8_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=int8_path.parent) as work:
        prepared = Path(work) / "prepared.onnx"
        quant_pre_process(str(fp32_path), str(prepared))  # shape inference and graph folding
        with atomic.file(int8_path) as staging:
            quantize_static(
                str(prepared), str(staging), _Batches(input_name, calibration_batches),
                quant_format=QuantFormat.QDQ, per_channel=True, reduce_range=False,
                activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                calibrate_method=CalibrationMethod.MinMax,
            )  # fmt: skip
    return int8_path


def inference_session(path: Path, threads: int = 1) -> ort.InferenceSession:
    """An ONNX Runtime CPU session with every graph optimisation (it fuses QDQ pairs into
    QLinearConv / QGemm) and a fixed number of intra-op threads."""
    if threads < 1:
        raise UserError(f"threads must be at least 1, got {threads}")
    if not path.is_file():
        raise UserError(f"no ONNX model at {path}: export one first (export_onnx)")
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def time_interleaved(
    calls: Sequence[Callable[[], object]], runs: int = 20, warmup: int = 3
) -> list[dict[str, float]]:
    """Wall-clock time of each call: median, quartiles and interquartile range in
    milliseconds over `runs` timed runs after `warmup` untimed ones. The calls alternate run by
    run, so load from other processes on a shared machine falls on all of them alike and their
    ratio stays fair."""
    if runs < 2 or warmup < 0:
        raise UserError(f"need runs >= 2 and warmup >= 0, got runs={runs}, warmup={warmup}")
    for _ in range(warmup):
        for call in calls:
            call()
    times: list[list[float]] = [[] for _ in calls]
    for _ in range(runs):
        for call, samples in zip(calls, times, strict=True):
            start = time.perf_counter()
            call()
            samples.append((time.perf_counter() - start) * 1e3)
    stats = []
    for samples in times:
        q1, median, q3 = statistics.quantiles(samples, n=4, method="inclusive")
        stats.append({"median_ms": median, "q1_ms": q1, "q3_ms": q3, "iqr_ms": q3 - q1})
    return stats


def measure_latencies(
    paths: Sequence[Path],
    input_shape: Sequence[int],
    runs: int = 20,
    warmup: int = 3,
    threads: int = 1,
) -> list[dict[str, float]]:
    """Latency of one inference of each ONNX model on the same seeded random input, the
    models interleaved (`time_interleaved`) so that a speed-up between them is measured under
    the same load."""
    shape = tuple(input_shape)
    check_shape(shape)
    x = np.random.default_rng(INPUT_SEED).standard_normal(shape).astype(np.float32)
    sessions = [inference_session(path, threads) for path in paths]
    feeds = [{session.get_inputs()[0].name: x} for session in sessions]
    return time_interleaved(
        [partial(session.run, None, feed) for session, feed in zip(sessions, feeds, strict=True)],
        runs,
        warmup,
    )


def measure_latency(
    path: Path, input_shape: Sequence[int], runs: int = 20, warmup: int = 3, threads: int = 1
) -> dict[str, float]:
    """Latency of one inference of the ONNX model at `path`, batch as in `input_shape`, on
    ONNX Runtime's CPU provider with `threads` intra-op threads (see `time_interleaved`)."""
    return measure_latencies([path], input_shape, runs, warmup, threads)[0]
