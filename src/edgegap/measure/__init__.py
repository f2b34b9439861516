"""Supply measured: the latency of a model on this machine in ONNX Runtime (`latency`), over
the one runtime configuration of the project (`runtime`: export, int8 quantisation, session)
and the percentile rule its statistics use (`stats`); `compare` puts a measurement beside the
cost model's estimate."""

from edgegap.measure.compare import Comparison, beside_estimate
from edgegap.measure.latency import Measurement, OnnxModel, measure, onnx_file, prepare
from edgegap.measure.stats import median, percentile

__all__ = [
    "Comparison",
    "Measurement",
    "OnnxModel",
    "beside_estimate",
    "measure",
    "median",
    "onnx_file",
    "percentile",
    "prepare",
]
