"""`edgegap calibrate`: time microbenchmarks on this machine and write it as a platform YAML.

What is measured, per thread count: every operator kind's time on a seeded sample of shapes
(`sampling`, timed by `timing.kernel_seconds` in `PASSES` passes, the fastest kept), ONNX
Runtime's cost per run and per operator (`timing.dispatch_overhead`), the streaming bandwidth
at working sets sized to each cache level and to DRAM (also the fastest of the passes), and the
peak MAC rate (the fastest matrix product timed). What is read, not measured: the cache sizes
(sysfs), the clock (/proc/cpuinfo), the CPU's model and flags. What the user gives: the power
the cores draw (`power_w`, for energies; no counters here measure it), the process node and
the year. Every section of the YAML says which of these its numbers are.
Calibration never runs a model of the zoo.
"""

from __future__ import annotations

import datetime
import platform as host
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort  # type: ignore[import-untyped]

from edgegap.calibrate import graphs, sampling
from edgegap.calibrate.graphs import Kernel
from edgegap.calibrate.timing import dispatch_overhead, kernel_seconds
from edgegap.errors import UserError
from edgegap.hardware import kernels
from edgegap.host import cpu_features, logical_cpus

# Samples per kind at the default effort; `quick` divides them by QUICK_DIVISOR.
SAMPLES = {"conv": 300, "depthwise": 120, "grouped": 150, "matmul": 150, "streamed_matmul": 40,
           "streaming": 25}  # fmt: skip
QUICK_DIVISOR = 10
# Every microbenchmark is timed once per pass over the whole set (minutes apart) and its
# fastest pass kept; `quick` makes one pass. On a shared virtual machine the core runs slower
# for seconds at a time while a neighbour is busy, a slowdown inside CPU time; the fastest of
# passes far apart is the unloaded speed a model runs at on an unloaded machine.
PASSES = 3
# What ONNX Runtime's CPU graph optimisations fuse (`workload.fusion`'s rules; the notes of
# the YAML's fusion section say where each was checked).
FUSES = ["batchnorm", "monotone", "add", "hardswish", "channel_affine", "conv_only_sums"]
SYSFS_CACHE = Path("/sys/devices/system/cpu/cpu0/cache")
CPUINFO = Path("/proc/cpuinfo")


@dataclass(frozen=True)
class Cache:
    level: int
    size_bytes: int
    shared_by: int  # logical CPUs sharing it


def caches(folder: Path = SYSFS_CACHE) -> list[Cache]:
    """The data and unified caches of the first CPU, innermost first, from sysfs."""
    found = []
    for index in sorted(folder.glob("index*")):
        try:
            kind = (index / "type").read_text().strip()
            level = int((index / "level").read_text())
            size = (index / "size").read_text().strip()
            shared = (index / "shared_cpu_list").read_text().strip()
        except (OSError, ValueError):
            continue
        if kind == "Instruction":
            continue
        scale = {"K": 1024, "M": 1024**2, "G": 1024**3}.get(size[-1:], 1)
        count = sum(
            int(b) - int(a) + 1
            for a, _, b in (part.partition("-") if "-" in part else (part, "", part)
                            for part in shared.split(","))
        )  # fmt: skip
        found.append(Cache(level, int(size.rstrip("KMG")) * scale, count))
    return sorted(found, key=lambda c: c.level)


def clock_mhz(cpuinfo: Path = CPUINFO) -> float:
    """The first processor's clock in /proc/cpuinfo ("cpu MHz")."""
    try:
        for line in cpuinfo.read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "cpu MHz":
                return float(value)
    except (OSError, ValueError):
        pass
    raise UserError("cannot read the clock from /proc/cpuinfo: give it with --clock-mhz")


def _kernel_set(
    quick: bool, seed: int, levels: Sequence[Cache]
) -> dict[str, Callable[[], Iterator[Kernel]]]:
    """The microbenchmarks of each family. Weights stream from DRAM past four times the
    last-level cache (`streamed_working_set`)."""

    def count(kind: str) -> int:
        return max(SAMPLES[kind] // (QUICK_DIVISOR if quick else 1), 4)

    working_set = streamed_working_set(levels)

    return {
        "conv": lambda: sampling.convolutions("conv", count("conv"), seed),
        "depthwise": lambda: sampling.convolutions("depthwise", count("depthwise"), seed),
        "grouped": lambda: sampling.convolutions("grouped", count("grouped"), seed),
        "matmul": lambda: sampling.matmuls(count("matmul"), seed),
        "streamed_matmul": lambda: sampling.streamed_matmuls(
            count("streamed_matmul"), seed, working_set
        ),
        "streaming": lambda: sampling.streams(count("streaming"), seed),
    }


def time_kernels(
    threads: int,
    quick: bool,
    seed: int,
    progress: Callable[[str], None],
    levels: Sequence[Cache] = (),
) -> dict[str, list[list[float]]]:
    """Timed samples per kind, one pass over the whole set: rows of the kind's features then
    seconds, in the sampling's (seeded) order; `levels`, the caches, size the working set of
    weights that stream from DRAM."""
    samples: dict[str, list[list[float]]] = {}
    for family, make in _kernel_set(quick, seed, levels).items():
        for kernel in make():
            row = [float(kernel.features[f]) for f in kernels.features_of(kernel.kind)]
            samples.setdefault(kernel.kind, []).append([*row, kernel_seconds(kernel, threads)])
        progress(f"{threads} thread(s): {family} timed")
    return samples


def fastest(passes: Sequence[dict[str, list[list[float]]]]) -> dict[str, list[list[float]]]:
    """Each sample's fastest time over the passes (its features are the same in every pass);
    a sample no pass timed above zero is dropped."""
    kept: dict[str, list[list[float]]] = {}
    for kind, rows in passes[0].items():
        for index, row in enumerate(rows):
            seconds = min(p[kind][index][-1] for p in passes)
            if seconds > 0:
                kept.setdefault(kind, []).append([*row[:-1], seconds])
    return kept


@dataclass(frozen=True)
class Bandwidths:
    """The streaming rate of each cache level and of DRAM, and the working set up to which the
    last level still serves above the geometric mean of its rate and DRAM's: what it holds in
    practice (a shared cache holds less than its size when others use it)."""

    levels: list[tuple[int, float]]  # (working-set bytes, bytes/s) per cache level
    dram: tuple[int, float]
    last_level_holds: int


SWEEP_LIMIT = 2**31  # the largest working set swept (bytes)


def streamed_working_set(levels: Sequence[Cache]) -> int:
    """The bytes of weights a streamed matrix product reads per run: four times the last
    level's size (where the DRAM stream's sweep ends, `_sweep_sizes`), or 256 MiB where sysfs
    names no cache."""
    return min(4 * levels[-1].size_bytes if levels else 2**28, SWEEP_LIMIT)


def _sweep_sizes(levels: Sequence[Cache]) -> tuple[list[int], list[int]]:
    """Working sets (bytes) for the inner levels' slopes (a quarter and a half of each) and
    for the last level's sweep (doubling from twice the level inside it to four times its
    size, at most `SWEEP_LIMIT`)."""
    inner = [cache.size_bytes // d for cache in levels[:-1] for d in (4, 2)]
    size = 2 * levels[-2].size_bytes if len(levels) > 1 else 2**20
    top = streamed_working_set(levels)
    sweep = []
    while size <= top:
        sweep.append(size)
        size *= 2
    return inner, sweep


def stream_times(threads: int, levels: Sequence[Cache]) -> dict[int, tuple[int, float]]:
    """Working set -> (bytes moved, seconds) of an element-wise add (`graphs.stream`), one
    pass over the working sets `bandwidths` needs."""
    inner, sweep = _sweep_sizes(levels)
    times = {}
    for size in [*inner, *sweep]:
        kernel = graphs.stream(max(size // (3 * graphs.FLOAT_BYTES), 1024))
        times[size] = (int(kernel.features["bytes"]), kernel_seconds(kernel, threads))
    return times


def bandwidths(levels: Sequence[Cache], times: dict[int, tuple[int, float]]) -> Bandwidths:
    """Rates from `stream_times`. An inner level's rate is the slope between working sets of a
    quarter and a half of it (so that the operator's fixed cost drops out); the last level's
    is the best rate of the sweep, DRAM's the rate at the sweep's end."""
    inner_sizes, sweep_sizes = _sweep_sizes(levels)
    inner = []
    for small_size, large_size in zip(inner_sizes[::2], inner_sizes[1::2], strict=True):
        (small, t_small), (large, t_large) = times[small_size], times[large_size]
        inner.append((large, (large - small) / max(t_large - t_small, 1e-9)))
    sweep = [(times[s][0], times[s][0] / times[s][1]) for s in sweep_sizes]
    dram = sweep[-1]
    if not levels:
        return Bandwidths([], dram, 0)
    best = max(sweep[:-1] or sweep, key=lambda point: point[1])
    threshold = (best[1] * dram[1]) ** 0.5
    holds = max((s for s, r in sweep if r >= threshold), default=best[0])
    return Bandwidths([*inner, best], dram, min(holds, levels[-1].size_bytes))


def calibrate(
    power_w: float,
    process_nm: float,
    year: int | None = None,
    threads: Sequence[int] = (1,),
    quick: bool = False,
    seed: int = 0,
    name: str = "host",
    progress: Callable[[str], None] = lambda message: None,
    clock: float | None = None,
) -> dict[str, Any]:
    """This machine as platform data (the YAML's contents): see the module docstring."""
    if not threads or min(threads) < 1 or max(threads) > logical_cpus():
        raise UserError(f"threads must be within 1..{logical_cpus()} (this machine's CPUs)")
    cpu = cpu_features()
    today = datetime.date.today()
    clock_given = clock
    clock = clock if clock is not None else clock_mhz()
    levels = caches()
    tables: list[dict[str, Any]] = []
    dispatch: list[dict[str, float]] = []
    streams: dict[int, Bandwidths] = {}
    timed: dict[int, list[dict[str, list[list[float]]]]] = {count: [] for count in threads}
    swept: dict[int, list[dict[int, tuple[int, float]]]] = {count: [] for count in threads}
    for number in range(1 if quick else PASSES):
        for count in threads:
            timed[count].append(time_kernels(count, quick, seed, progress, levels))
            swept[count].append(stream_times(count, levels))
            progress(f"pass {number + 1}: {count} thread(s) timed")
    for count in threads:
        per_run, per_operator = dispatch_overhead(count)
        dispatch.append({"threads": count, "per_run_s": per_run, "per_operator_s": per_operator})
        samples = fastest(timed[count])
        for kind in sorted(samples):
            rows = np.array(samples[kind], dtype=np.float64)
            parameters = kernels.fit_parameters(kind, rows)
            errors = kernels.leave_one_out_errors(kind, rows)
            tables.append({
                "kind": kind, "threads": count, "parameters": list(parameters),
                "samples": [[float(f"{v:.6g}") for v in row] for row in samples[kind]],
                "leave_one_out_median_error": float(f"{np.median(np.abs(errors)):.4g}"),
            })  # fmt: skip
        passes = swept[count]
        quickest = {
            size: (passes[0][size][0], min(p[size][1] for p in passes)) for size in passes[0]
        }
        streams[count] = bandwidths(levels, quickest)
    first = min(threads)
    matmul = next(t for t in tables if t["kind"] == "matmul" and t["threads"] == first)
    peak = max(g * m * k * n / s for g, m, k, n, *_, s in matmul["samples"])
    measured_by = (
        f"edgegap calibrate on {cpu.model} ({cpu.present()}), {today}, onnxruntime "
        f"{ort.__version__} CPUExecutionProvider"
    )
    memory = []
    rates = streams[first]
    for index, cache in enumerate(levels):
        size, bandwidth = rates.levels[index]
        last = index == len(levels) - 1
        held = rates.last_level_holds if last else cache.size_bytes
        memory.append({
            "name": f"l{cache.level}", "role": "buffer", "size_bytes": min(held, cache.size_bytes),
            "bandwidth_gb_s": float(f"{bandwidth / 1e9:.4g}"), "energy_pj_per_bit": 0,
            **({"caches_weights": True} if last else {}),
            "source": f"{measured_by}: an element-wise add at {first} thread(s), "
                      + ("its best rate over working sets doubling to four times the size "
                         f"({size:,} bytes)" if last else "the slope between working sets of "
                         f"a quarter and a half of the size ({size:,} bytes)")
                      + f"; size {cache.size_bytes:,} bytes from sysfs "
                      f"({cache.shared_by} CPUs share it)",
            "notes": (f"size_bytes = the largest working set it served above the geometric "
                      f"mean of its best rate and DRAM's ({held:,} bytes, swept by doubling): what "
                      "it holds in practice; a cache keeps what fits from one inference to "
                      "the next (caches_weights)") if last else "",
        })  # fmt: skip
    size, bandwidth = rates.dram
    memory.append({
        "name": "dram", "role": "offchip", "bandwidth_gb_s": float(f"{bandwidth / 1e9:.4g}"),
        "energy_pj_per_bit": 0,
        "source": f"{measured_by}: an element-wise add streaming {size:,} bytes at {first} "
                  "thread(s)",
    })  # fmt: skip
    macs_per_cycle = max(round(peak / (clock * 1e6)), 1)
    energy = (power_w / peak) * 1e12
    return {
        "name": name,
        "description": f"{cpu.model}, calibrated by edgegap on {today} at {list(threads)} "
        "thread(s) in ONNX Runtime",
        "kind": "cpu",
        "year": year or today.year,
        "process_nm": process_nm,
        "power_budget_w": power_w,
        "source": f"{measured_by}; Python {host.python_version()}",
        "notes": "power_budget_w and process_nm are given by the user (--power-w, "
        "--process-nm), not measured; year is the calibration's unless --year says otherwise.",
        "calibration": {
            "tool": "edgegap calibrate",
            "date": str(today),
            "cpu": cpu.model,
            "cpu_id": cpu.cpu_id or None,
            "flags": cpu.present(),
            "onnxruntime": ort.__version__,
            "threads": list(threads),
            "seed": seed,
            "quick": quick,
            "passes": len(timed[first]),
        },
        "compute": {
            "type": "cpu",
            "clock_mhz": clock,
            "macs_per_cycle": macs_per_cycle,
            "threads": first,
            "mac_energy_pj": {"fp32": float(f"{energy:.4g}")},
            "mac_energy_includes": "all memory",
            "dispatch": dispatch,
            "kernels": tables,
            "source": f"{measured_by}: clock "
            + ("from /proc/cpuinfo" if clock_given is None else "given by --clock-mhz")
            + "; macs_per_cycle = the fastest "
            f"matrix product timed ({peak / 1e9:.1f} GMAC/s at {first} thread(s)) / clock",
            "notes": f"mac_energy_pj = power_budget_w / that peak rate ({power_w:g} W / "
            f"{peak / 1e9:.1f} GMAC/s): an upper bound that includes every memory.",
        },
        "memory": memory,
        "fusion": {
            "fuses": FUSES,
            "source": 'ONNX Runtime, "Graph Optimizations in ONNX Runtime" '
            "(onnxruntime.ai/docs/performance/model-optimizations/graph-optimizations.html): Conv "
            "BatchNorm Fusion and Conv Add Fusion (basic), Conv Activation Fusion (extended, "
            "CPU), the NCHWc layout transformer's fused sum; activations as in "
            "MLAS_ACTIVATION_KIND (onnxruntime/core/mlas/inc/mlas.h)",
            "notes": "monotone: Relu, Clip, LeakyRelu, Sigmoid, Tanh and HardSigmoid fuse into a "
            "convolution; hardswish: HardSwish fuses into a convolution (not a Gemm); "
            "channel_affine: a BatchNormalization no convolution precedes runs as a per-channel "
            "NCHWc Conv, taking its activation and a sum; conv_only_sums: a residual add and a "
            "per-channel scale fuse into convolutions only (a Gemm takes its bias); SiLU runs as "
            "an operator of its own "
            "(QuickGelu) (checked on onnxruntime 1.32's optimised graphs of a Conv followed by "
            "each, and by another Conv)",
        },
    }
