"""The runtime models are measured on: ONNX export, int8 quantisation and an ONNX Runtime CPU
session, each configured here once for every measurement of the project (`measure` for the
latency of one model, `compress.runtime` for interleaved comparisons).

Quantisation follows Jacob et al., "Quantization and Training of Neural Networks for Efficient
Integer-Arithmetic-Only Inference", CVPR 2018: affine uint8 activations, int8 weights, scales
from calibration.
"""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Sequence
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
from edgegap.errors import UserError, first_line
from edgegap.workload.shapes import check_shape

INPUT_SEED = 0
PROVIDER = "CPUExecutionProvider"
GRAPH_OPTIMIZATION = "ORT_ENABLE_ALL"
EXECUTION_MODE = "ORT_SEQUENTIAL"
TORCHSCRIPT_OPSET = 18  # the opset torch 2.14's dynamo exporter writes, for the fallback too
INTER_OP_THREADS = 1
SPINNING = "session.intra_op.allow_spinning"  # the session option of `inference_session`


def torch_export(model: nn.Module, input_shape: Sequence[int], path: Path) -> str:
    """Export `model` in eval mode to ONNX at `path` (not atomic: see `export_onnx`); returns
    the exporter that wrote it, "dynamo" or "torchscript".

    The dynamo exporter runs with its optimiser on: it folds BatchNorm into the preceding
    Conv and constant-folds shape arithmetic, so quantisation sees plain Conv/Gemm nodes
    (with optimize=False, BatchNorm stays a separate float op between quantised convs and
    ONNX Runtime's symbolic shape inference fails on the unfolded constants). Where it cannot
    translate a graph (torch 2.14's fails on timm's hiera, beit, twins and nest), the
    TorchScript exporter writes it, as `torch.onnx.export(..., dynamo=False)` did before
    dynamo; ONNX Runtime's own graph optimisations fold BatchNorm there. Weights over ONNX's
    2 GB protobuf limit go to `<path>.data` beside the file, which ONNX Runtime reads from
    there. The exporters' warnings (about their own internals) are silenced.
    """
    shape = tuple(input_shape)
    check_shape(shape)
    return torch_export_call(model, (torch.zeros(shape),), path)


def torch_export_call(
    model: nn.Module, args: Sequence[torch.Tensor], path: Path, names: Sequence[str] = ()
) -> str:
    """`torch_export` of a model called on `args` (several inputs, of any dtype), the graph's
    inputs named `names` where given (not atomic); returns the exporter that wrote it."""
    model.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            torch.onnx.export(
                model, tuple(args), path, input_names=list(names) or None,
                dynamo=True, optimize=True, external_data=False, verbose=False,
            )  # fmt: skip
            return "dynamo"
        except Exception as dynamo_error:  # an operator dynamo's translation lacks
            try:
                torch.onnx.export(model, tuple(args), path, input_names=list(names) or None,
                                  dynamo=False, opset_version=TORCHSCRIPT_OPSET)  # fmt: skip
            except Exception:
                raise dynamo_error from None
            return "torchscript"


def export_onnx(model: nn.Module, input_shape: Sequence[int], path: Path) -> Path:
    """Export `model` in eval mode to one self-contained ONNX file at `path`, atomically
    (`torch_export`)."""
    check_shape(tuple(input_shape))
    with atomic.file(path) as staging:
        torch_export(model, input_shape, staging)
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


def inference_session(
    path: Path, threads: int = 1, spinning: bool = True, profile_prefix: str | None = None
) -> ort.InferenceSession:
    """An ONNX Runtime CPU session with every graph optimisation (it fuses QDQ pairs into
    QLinearConv / QGemm), `threads` intra-op threads, one inter-op thread and sequential
    execution: a model's operators run one after another, each on `threads` threads.

    `spinning` is ONNX Runtime's default: between operators the idle intra-op workers
    busy-wait for the next one instead of sleeping. It saves a wake-up per operator on a
    machine of one's own; on a shared one the spinning workers compete with the thread that
    has work, and their spinning counts as process CPU time. With one thread there are no
    workers and it changes nothing. With `profile_prefix`, the session records each operator's
    time per run (ONNX Runtime's profiler) into a JSON file of that prefix."""
    if threads < 1:
        raise UserError(f"threads must be at least 1, got {threads}")
    if not path.is_file():
        raise UserError(f"no ONNX model at {path}: export one first (export_onnx)")
    options = ort.SessionOptions()
    options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, GRAPH_OPTIMIZATION)
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = INTER_OP_THREADS
    options.execution_mode = getattr(ort.ExecutionMode, EXECUTION_MODE)
    options.add_session_config_entry(SPINNING, "1" if spinning else "0")
    if profile_prefix is not None:
        options.enable_profiling = True
        options.profile_file_prefix = profile_prefix
    try:
        return ort.InferenceSession(str(path), options, providers=[PROVIDER])
    except Exception as error:  # not ONNX, truncated, or an operator ONNX Runtime lacks
        raise UserError(f"onnxruntime cannot load {path}: {first_line(error)}") from None
