"""The latency of one inference on this machine, measured in ONNX Runtime and reported as
TFLite's benchmark tool and device farms report it: warm-up runs, then timed runs, the median,
90th percentile, minimum and mean of their wall-clock times, and the process CPU time of each
run beside its wall time (CPU time / wall time shows how many threads were busy; on a shared
machine, a wall time far above the CPU time of one thread shows time the process waited).

Everything but the timings is deterministic: the model's weights come from its builder's own
initialisation with torch's generator seeded (`WEIGHT_SEED`), the input from a seeded numpy
generator (`INPUT_SEED`), int8 calibration from another (`CALIBRATION_SEED`); the session is
`runtime.inference_session`'s, with `threads` intra-op threads.
"""

from __future__ import annotations

import gc
import re
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
import onnxruntime as ort  # type: ignore[import-untyped]
import torch
from torch import nn

from edgegap.errors import UserError, first_line
from edgegap.host import cpu_features, load_average, logical_cpus
from edgegap.measure import runtime
from edgegap.measure.runtime import inference_session, quantize_static_int8, torch_export
from edgegap.measure.stats import median, percentile
from edgegap.precision import ALIASES
from edgegap.workload import zoo
from edgegap.workload.profile import load_callable
from edgegap.workload.shapes import ModelInput, check_shape

WEIGHT_SEED = 0
INPUT_SEED = runtime.INPUT_SEED
CALIBRATION_SEED = 1
CALIBRATION_BATCHES = 8
DEFAULT_RUNS = 20
DEFAULT_WARMUP = 3
AS_STORED = "as stored"  # the precision of an ONNX file measured as it is

# ONNX Runtime's input element types -> the numpy type of the input it is fed.
_INPUT_TYPES: dict[str, type[np.generic]] = {
    "tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(float16)": np.float16,
    "tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(int8)": np.int8,
    "tensor(uint8)": np.uint8, "tensor(bool)": np.bool_,
}  # fmt: skip


@dataclass(frozen=True)
class OnnxModel:
    """A model ready to be timed: an ONNX file and what it was made from.

    `source` is "torchvision", "timm", "callable" (package.module:callable), "module" (an
    nn.Module given in Python) or "onnx file"; `precision` "fp32", "int8" (static QDQ, see
    `prepare`) or "as stored" (an ONNX file measured as it is); `weight_seed` the seed of
    torch's generator when edgegap built the weights, None when they came with the model;
    `exporter` the torch exporter that wrote the file ("dynamo", or "torchscript" where
    dynamo cannot: `runtime.torch_export`), None for an ONNX file given."""

    name: str
    path: Path
    input_shape: tuple[int, ...]
    precision: str
    source: str
    weight_seed: int | None
    exporter: str | None = None


@dataclass(frozen=True)
class Measurement:
    """Timed runs of one model on this machine: per run, the wall-clock time
    (`time.perf_counter_ns`) and the process CPU time (`time.process_time_ns`, all threads),
    in seconds and in run order; the statistics are properties over them.

    The rest says what ran and where: the session (ONNX Runtime version, execution provider,
    graph optimisation level, execution mode, intra- and inter-op threads), the ONNX opset, the
    CPU (model name and int8-relevant instruction sets from /proc/cpuinfo), the logical CPUs
    the process could use and the 1-minute load average before and after the timed runs."""

    model: str
    source: str
    precision: str
    input_shape: tuple[int, ...]
    threads: int
    runs: int
    warmup: int
    wall_s: tuple[float, ...]
    cpu_s: tuple[float, ...]
    onnxruntime_version: str
    provider: str
    graph_optimization: str
    execution_mode: str
    inter_op_threads: int
    spinning: bool
    opset: int | None
    cpu: str
    cpu_flags: str
    logical_cpus: int
    load_before: float | None
    load_after: float | None
    input_seed: int
    weight_seed: int | None
    exporter: str | None = None

    @property
    def wall_median_s(self) -> float:
        return median(self.wall_s)

    @property
    def wall_p90_s(self) -> float:
        return percentile(self.wall_s, 90)

    @property
    def wall_min_s(self) -> float:
        return min(self.wall_s)

    @property
    def wall_mean_s(self) -> float:
        return sum(self.wall_s) / len(self.wall_s)

    @property
    def cpu_median_s(self) -> float:
        return median(self.cpu_s)

    @property
    def cpu_per_wall(self) -> float:
        """Median CPU time over median wall time: about the number of threads kept busy (with
        `spinning`, idle workers busy-wait, and that counts as busy); below 1 at one thread,
        the process waited for a CPU."""
        return self.cpu_median_s / self.wall_median_s

    def to_dict(self) -> dict[str, Any]:
        """Every field, then the statistics (JSON-ready)."""
        record = asdict(self)
        record["input_shape"] = list(self.input_shape)
        record["wall_s"], record["cpu_s"] = list(self.wall_s), list(self.cpu_s)
        for name in ("wall_median_s", "wall_p90_s", "wall_min_s", "wall_mean_s",
                     "cpu_median_s", "cpu_per_wall"):  # fmt: skip
            record[name] = getattr(self, name)
        return record


def _precision(dtype: str | None) -> str | None:
    """'fp32' or 'int8' for what `measure` can run, None for as it comes."""
    if dtype is None:
        return None
    name = ALIASES.get(dtype, dtype)
    if name not in ("fp32", "int8"):
        raise UserError(
            f"measure runs fp32 (float32) or int8 (static QDQ quantisation), not '{dtype}'"
        )
    return name


def check_settings(threads: int, runs: int, warmup: int) -> None:
    """Refuse a thread count this process cannot run on its own CPUs (more threads than
    logical CPUs would time the scheduler's sharing, not the model), and runs or warm-ups that
    cannot be counted."""
    available = logical_cpus()
    if isinstance(threads, bool) or not isinstance(threads, int) or not 1 <= threads <= available:
        raise UserError(
            f"threads must be an integer in 1..{available} (the logical CPUs this process may "
            f"use), got {threads}"
        )
    if isinstance(runs, bool) or not isinstance(runs, int) or runs < 1:
        raise UserError(f"runs must be a positive integer, got {runs}")
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        raise UserError(f"warm-up runs must be a non-negative integer, got {warmup}")


def _is_onnx_file(model: object) -> bool:
    return isinstance(model, Path) or (isinstance(model, str) and model.endswith(".onnx"))


def build_model(spec: str, input_shape: Sequence[int] | None) -> tuple[nn.Module, tuple[int, ...]]:
    """A torchvision name or package.module:callable built with real, seeded random weights
    (`WEIGHT_SEED`; the caller's torch generator is left as it was) in eval mode, and its
    input shape (the torchvision weights' by default; a timm model's pretrained_cfg's)."""
    from edgegap.workload import library

    if library.is_library_spec(spec):
        return _library_model(spec, input_shape)
    if ":" in spec:
        if input_shape is None:
            raise UserError(f"give --input-shape for '{spec}', e.g. --input-shape 1,3,224,224")
        shape = tuple(input_shape)
    else:
        zoo.check_name(spec)
        chosen = input_shape if input_shape is not None else zoo.default_input_shape(spec)
        if chosen is None:
            raise UserError(f"'{spec}' has no default input size: give --input-shape")
        shape = tuple(chosen)
    check_shape(shape)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(WEIGHT_SEED)
        model = load_callable(spec, empty=False) if ":" in spec else (
            zoo.build_torchvision(spec, shape, empty=False)
        )  # fmt: skip
    return model.eval(), shape


def _library_model(
    spec: str, input_shape: Sequence[int] | None
) -> tuple[nn.Module, tuple[int, ...]]:
    """A `timm:` model with seeded random weights, in eval mode, and its input shape. An
    `hf:` model is refused in one line: its inputs are token ids (or named pixel values),
    and measure times a model of one float image input."""
    from edgegap.workload import library, timm_models

    if spec.startswith("hf:"):
        raise UserError(
            f"measure times models of one float image input, not '{spec}' (token ids or named "
            "inputs): profile or estimate it instead, or export it to ONNX and measure the file"
        )
    given = None if input_shape is None else [ModelInput(tuple(input_shape))]
    shape = tuple(library.resolve(spec, given).inputs[0].shape)
    check_shape(shape)
    name = spec.partition(":")[2].strip()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(WEIGHT_SEED)
        model = timm_models.build(name, shape, empty=False)
    return model.eval(), shape


def _check_runs(model: nn.Module, shape: tuple[int, ...], name: str) -> None:
    """One eager forward pass on a zero input, so that a shape the model cannot take is one
    line naming the model and the shape, not an exporter's trace."""
    if any(p.device.type != "cpu" for p in [*model.parameters(), *model.buffers()]):
        raise UserError(
            f"{name} has weights off the CPU (or empty, on the meta device): measure times a "
            "CPU model with real weights; move it with .cpu() or build it with weights"
        )
    try:
        with torch.no_grad():
            model.eval()(torch.zeros(shape))
    except Exception as error:  # the model's forward refused the shape
        raise UserError(
            f"{name} cannot run on input shape {','.join(map(str, shape))}: {first_line(error)}"
        ) from None


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(name).name)[:60] or "model"


def onnx_file(
    path: Path | str, input_shape: Sequence[int] | None = None, name: str | None = None
) -> OnnxModel:
    """An ONNX file to be measured as it is stored, fed `input_shape` (by default the file's
    own shape of its first input, which must then be fixed)."""
    file = Path(path)
    if not file.is_file():
        raise UserError(f"no ONNX file at {file}")
    first = inference_session(file).get_inputs()[0]
    stored = list(first.shape or [])
    shown = ",".join(str(d) if isinstance(d, int) and d > 0 else "?" for d in stored)
    if input_shape is None:
        if not stored or "?" in shown.split(","):
            raise UserError(
                f"{file} leaves the shape of its input '{first.name}' free ({shown or 'no rank'}"
                "): give --input-shape"
            )
        shape = tuple(int(d) for d in stored)
    else:
        shape = tuple(input_shape)
        check_shape(shape)
        fixed = [d if isinstance(d, int) and d > 0 else None for d in stored]
        if stored and (len(stored) != len(shape) or any(
            d is not None and d != s for d, s in zip(fixed, shape, strict=True)
        )):  # fmt: skip
            raise UserError(
                f"{file} takes input '{first.name}' of shape {shown} (? is free), not "
                f"{','.join(map(str, shape))}"
            )
    return OnnxModel(name or str(path), file, shape, AS_STORED, "onnx file", None)


def prepare(
    model: nn.Module | str | Path,
    folder: Path,
    input_shape: Sequence[int] | None = None,
    dtype: str | None = None,
    name: str | None = None,
) -> OnnxModel:
    """Make `model` an ONNX file in a new folder under `folder`, ready for `measure`: a
    torchvision name or package.module:callable (built with seeded random weights), an
    nn.Module (exported as it is, in eval mode) or an ONNX file (used where it is, as stored,
    unless dtype is int8).

    The export is `runtime.torch_export`'s (dynamo, optimised). With dtype "int8" the fp32
    graph is quantised statically (`runtime.quantize_static_int8`: QDQ, int8 weights per
    channel, uint8 activations, MinMax ranges over `CALIBRATION_BATCHES` seeded standard-normal
    inputs; random inputs set the ranges, which decides nothing about speed). A prepared model
    can be measured any number of times, at any thread count."""
    precision = _precision(dtype)
    module: nn.Module | None = None
    fp32: Path | None = None
    exporter: str | None = None
    if _is_onnx_file(model):
        given = onnx_file(Path(str(model)), input_shape, name)
        if precision != "int8":
            return given
        label, shape, fp32 = given.name, given.input_shape, given.path
        source, seed = given.source, None
    elif isinstance(model, nn.Module):
        if input_shape is None:
            raise UserError("give the input shape of a module, e.g. input_shape=(1, 3, 224, 224)")
        shape = tuple(input_shape)
        check_shape(shape)
        label, module, source, seed = name or type(model).__name__, model, "module", None
    else:
        spec = str(model)
        module, shape = build_model(spec, input_shape)
        label, seed = name or spec, WEIGHT_SEED
        source = "timm" if spec.startswith("timm:") else (
            "callable" if ":" in spec else "torchvision"
        )  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    target = Path(tempfile.mkdtemp(dir=folder, prefix=f"{_slug(label)}-"))
    try:  # nothing is left in `folder` unless the model is prepared whole
        if module is not None:
            _check_runs(module, shape, label)
            fp32 = target / "model.onnx"
            try:
                exporter = torch_export(module, shape, fp32)
            except Exception as error:  # the exporter cannot express an operator
                raise UserError(f"cannot export {label} to ONNX: {first_line(error)}") from None
        assert fp32 is not None
        path = fp32
        if precision == "int8":
            rng = np.random.default_rng(CALIBRATION_SEED)
            batches = [rng.standard_normal(shape).astype(np.float32)
                       for _ in range(CALIBRATION_BATCHES)]  # fmt: skip
            path = quantize_static_int8(fp32, target / "model-int8.onnx", batches)
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    return OnnxModel(label, path, shape, precision or "fp32", source, seed, exporter)


def example_inputs(
    session: ort.InferenceSession, input_shape: Sequence[int], seed: int = INPUT_SEED
) -> dict[str, npt.NDArray[Any]]:
    """The feeds of every input of `session`: the first input of shape `input_shape`, the
    others of their fixed shapes; floating-point inputs standard normal from a numpy generator
    seeded with `seed`, integer and boolean inputs zeros (index 0 is valid in any
    embedding)."""
    rng = np.random.default_rng(seed)
    feeds: dict[str, npt.NDArray[Any]] = {}
    for index, spec in enumerate(session.get_inputs()):
        kind = _INPUT_TYPES.get(spec.type)
        if kind is None:
            raise UserError(
                f"input '{spec.name}' is of type {spec.type}, which measure cannot feed"
            )
        shape = tuple(input_shape) if index == 0 else tuple(spec.shape or [])
        if not all(isinstance(d, int) and d > 0 for d in shape):
            raise UserError(
                f"input '{spec.name}' has no fixed shape ({list(spec.shape or [])}): measure "
                "feeds the shape of the first input only"
            )
        if np.issubdtype(kind, np.floating):
            feeds[spec.name] = rng.standard_normal(shape).astype(kind)
        else:
            feeds[spec.name] = np.zeros(shape, dtype=kind)
    return feeds


def _opset(path: Path) -> int | None:
    """The default-domain ONNX opset of the file (None if it names none)."""
    try:
        proto = onnx.load(str(path), load_external_data=False)
    except Exception:  # the session loaded it; an opset is a detail not worth failing on
        return None
    return next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), None)


def time_runs(
    session: ort.InferenceSession, feeds: dict[str, npt.NDArray[Any]], runs: int, warmup: int
) -> tuple[list[int], list[int]]:
    """(wall ns, process CPU ns) of each of `runs` runs after `warmup` untimed ones. Python's
    garbage collector is paused for the timed runs, so none of them pays a collection."""
    for _ in range(warmup):
        session.run(None, feeds)
    wall, cpu = [], []
    collecting = gc.isenabled()
    gc.disable()
    try:
        for _ in range(runs):
            cpu_start = time.process_time_ns()
            wall_start = time.perf_counter_ns()
            session.run(None, feeds)
            wall_end = time.perf_counter_ns()
            cpu_end = time.process_time_ns()
            wall.append(wall_end - wall_start)
            cpu.append(cpu_end - cpu_start)
    finally:
        if collecting:
            gc.enable()
    return wall, cpu


def measure(
    model: nn.Module | str | Path | OnnxModel,
    input_shape: Sequence[int] | None = None,
    threads: int = 1,
    runs: int = DEFAULT_RUNS,
    warmup: int = DEFAULT_WARMUP,
    dtype: str | None = None,
    name: str | None = None,
    spinning: bool = False,
) -> Measurement:
    """Time one inference of `model` on this machine: ONNX Runtime's CPU provider, `threads`
    intra-op threads, `warmup` untimed runs then `runs` timed ones, on one seeded random input.

    `model` is anything `prepare` takes (a torchvision name, package.module:callable, an
    nn.Module, an ONNX file), exported to a temporary folder that is removed afterwards, or an
    `OnnxModel` that `prepare` made, measured as it is (`input_shape`, `dtype` and `name`
    are then its own). dtype is fp32 (the default) or int8 (`prepare`).

    Idle intra-op workers sleep between operators unless `spinning` (ONNX Runtime's default,
    see `runtime.inference_session`): on a shared machine, spinning workers take CPU from the
    one with work and inflate the CPU time, so measurements default to without."""
    check_settings(threads, runs, warmup)
    if not isinstance(model, OnnxModel):
        if _is_onnx_file(model) and _precision(dtype) != "int8":
            given = onnx_file(Path(str(model)), input_shape, name)
            return measure(given, None, threads, runs, warmup, spinning=spinning)
        with tempfile.TemporaryDirectory(prefix="edgegap-measure-") as folder:
            prepared = prepare(model, Path(folder), input_shape, dtype, name)
            return measure(prepared, None, threads, runs, warmup, spinning=spinning)
    session = inference_session(model.path, threads, spinning)
    feeds = example_inputs(session, model.input_shape)
    options = session.get_session_options()
    load_before = load_average()
    try:
        wall, cpu = time_runs(session, feeds, runs, warmup)
    except Exception as error:  # the graph refuses the input (a shape its operators reject)
        shape = ",".join(map(str, model.input_shape))
        raise UserError(
            f"{model.name} fails in onnxruntime on input shape {shape}: {first_line(error)}"
        ) from None
    load_after = load_average()
    host = cpu_features()
    return Measurement(
        model=model.name,
        source=model.source,
        precision=model.precision,
        input_shape=model.input_shape,
        threads=options.intra_op_num_threads,
        runs=runs,
        warmup=warmup,
        wall_s=tuple(ns / 1e9 for ns in wall),
        cpu_s=tuple(ns / 1e9 for ns in cpu),
        onnxruntime_version=ort.__version__,
        provider=session.get_providers()[0],
        graph_optimization=str(options.graph_optimization_level).rsplit(".", 1)[-1],
        execution_mode=str(options.execution_mode).rsplit(".", 1)[-1],
        inter_op_threads=options.inter_op_num_threads,
        spinning=options.get_session_config_entry(runtime.SPINNING) == "1",
        opset=_opset(model.path),
        cpu=host.model,
        cpu_flags=host.present(),
        logical_cpus=logical_cpus(),
        load_before=load_before,
        load_after=load_after,
        input_seed=INPUT_SEED,
        weight_seed=model.weight_seed,
        exporter=model.exporter,
    )
