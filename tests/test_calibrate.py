"""`edgegap calibrate`'s parts: the machine facts it reads, the microbenchmark graphs it builds
and times, and the shapes it samples."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from cli_checks import error_leaving_nothing, runner

import edgegap
from edgegap.calibrate import graphs, sampling
from edgegap.calibrate.run import Cache, bandwidths, caches, clock_mhz, fastest
from edgegap.calibrate.timing import dispatch_overhead, kernel_seconds
from edgegap.cli import app
from edgegap.errors import UserError
from edgegap.hardware import estimate, kernels, load_platform


def _cache(folder: Path, index: int, level: int, kind: str, size: str, shared: str) -> None:
    entry = folder / f"index{index}"
    entry.mkdir(parents=True)
    for name, value in (("level", level), ("type", kind), ("size", size),
                        ("shared_cpu_list", shared)):  # fmt: skip
        (entry / name).write_text(f"{value}\n")


def test_caches_are_read_innermost_first_without_instruction_caches(tmp_path: Path) -> None:
    _cache(tmp_path, 0, 1, "Data", "48K", "0")
    _cache(tmp_path, 1, 1, "Instruction", "32K", "0")
    _cache(tmp_path, 2, 2, "Unified", "2048K", "0")
    _cache(tmp_path, 3, 3, "Unified", "260M", "0-3,8-11")
    found = caches(tmp_path)
    assert [(c.level, c.size_bytes, c.shared_by) for c in found] == [
        (1, 48 * 1024, 1), (2, 2048 * 1024, 1), (3, 260 * 1024**2, 8)
    ]  # fmt: skip


def test_clock_comes_from_cpuinfo_or_a_one_line_error(tmp_path: Path) -> None:
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\ncpu MHz\t\t: 2300.000\n")
    assert clock_mhz(info) == 2300.0
    info.write_text("processor\t: 0\n")
    with pytest.raises(UserError, match="--clock-mhz"):
        clock_mhz(info)


@pytest.mark.parametrize(
    ("kernel", "kind"),
    [
        (graphs.conv(32, 64, 14, 3, 1, 1), "conv"),
        (graphs.conv(32, 32, 14, 3, 2, 32), "depthwise"),
        (graphs.conv(64, 64, 14, 3, 1, 4), "grouped"),
        (graphs.matmul(1, 8, 64, 32, True), "matmul"),
        (graphs.matmul(4, 8, 64, 32, False), "matmul"),
        (graphs.streamed_matmul(1, 64, 32, 2**16), "streamed_matmul"),
        (graphs.movement(4096), "movement"),
        (graphs.activation(16, 14), "activation"),
        (graphs.elementwise(16, 14), "elementwise"),
        (graphs.affine(16, 14), "affine"),
        (graphs.stream(4096), "bandwidth"),
        (graphs.pool(16, 28, 3, 2), "pool"),
        (graphs.reduction(16, 14), "reduction"),
        (graphs.normalization("norm", 8, 64), "norm"),
        (graphs.normalization("softmax", 8, 64), "softmax"),
    ],
)
def test_each_microbenchmark_is_a_valid_graph_that_times(kernel: graphs.Kernel, kind: str) -> None:
    assert kernel.kind == kind
    if kind in kernels.KINDS:
        assert set(kernels.features_of(kind)) <= set(kernel.features)
    assert kernel_seconds(kernel, threads=1) > 0


def test_conv_features_count_what_the_cost_model_counts() -> None:
    kernel = graphs.conv(32, 64, 14, 3, 2, 1)
    f = kernel.features
    assert (f["groups"], f["m"], f["k"], f["n"], f["stride"], f["area"]) == (1, 49, 288, 64, 2, 9)
    weights, inputs, outputs = 64 * 32 * 9, 32 * 14 * 14, 64 * 7 * 7
    assert f["bytes"] == 4 * (weights + inputs + outputs)


def test_each_sample_keeps_its_fastest_pass_and_a_sample_never_timed_is_dropped() -> None:
    first = {"conv": [[1.0, 2.0, 0.5], [3.0, 4.0, 0.0]], "pool": [[5.0, 0.2]]}
    second = {"conv": [[1.0, 2.0, 0.4], [3.0, 4.0, 0.0]], "pool": [[5.0, 0.3]]}
    assert fastest([first, second]) == {"conv": [[1.0, 2.0, 0.4]], "pool": [[5.0, 0.2]]}


def test_bandwidths_take_inner_slopes_the_best_sweep_rate_and_dram_at_its_end() -> None:
    levels = [Cache(1, 1000, 1), Cache(2, 8000, 2)]
    # the inner level: 250 and 500 bytes in 1.0 and 1.5 s (a slope of 500 B/s over a fixed
    # cost); the sweep from 2,000 bytes doubles to 32,000: fast while it fits, slow beyond
    rates = {2000: 4000.0, 4000: 4000.0, 8000: 3000.0, 16000: 100.0, 32000: 100.0}
    times = {250: (250, 1.0), 500: (500, 1.5)}
    times |= {size: (size, size / rate) for size, rate in rates.items()}
    found = bandwidths(levels, times)
    assert found.levels == [(500, pytest.approx(500.0)), (2000, 4000.0)]
    assert found.dram == (32000, 100.0)
    assert found.last_level_holds == 8000  # 3,000 B/s is above sqrt(4,000 x 100) = 632


def test_dispatch_overhead_is_small_and_non_negative() -> None:
    per_run, per_operator = dispatch_overhead(threads=1)
    assert 0 <= per_operator < 1e-3 and 0 <= per_run < 1e-2


def test_sampled_shapes_are_seeded_and_within_bounds() -> None:
    def shapes(seed: int) -> list[tuple[float, ...]]:
        return [tuple(k.features.values()) for k in sampling.convolutions("grouped", 20, seed)]

    assert shapes(0) == shapes(0) != shapes(1)
    for kernel in sampling.convolutions("conv", 50, 0):
        f = kernel.features
        assert f["groups"] * f["m"] * f["k"] * f["n"] <= sampling.MAX_MACS
    matmuls = list(sampling.matmuls(30, 0))
    assert {k.kind for k in matmuls} == {"matmul"}
    assert np.all([k.features["m"] >= 1 for k in matmuls])


def test_a_streamed_matmul_reads_weights_past_its_working_set_and_times_one_copy() -> None:
    """Its copies' weights together fill the working set (so a run reads them from DRAM),
    and its time is one copy's: eight copies of a layer take about what one does, not 8x."""
    kernel = graphs.streamed_matmul(1, 256, 512, 2**22)
    weights = [i for i in kernel.model.graph.initializer]
    assert kernel.copies == len(weights) == 8 and kernel.features["m"] == 1
    assert sum(np.prod(w.dims) for w in weights) * graphs.FLOAT_BYTES >= 2**22
    one = graphs.streamed_matmul(1, 256, 512, 1)
    assert one.copies == 1
    assert kernel_seconds(kernel, threads=1) < 4 * kernel_seconds(one, threads=1)
    rows = []
    for sample in sampling.streamed_matmuls(40, 0, 2**22):
        f = sample.features
        assert f["k"] * f["n"] * graphs.FLOAT_BYTES <= 2**22
        rows.append(f["m"])
    # decode's one row, and prompt-sized products (a prefill's): up to the micro-batch
    assert min(rows) == 1 and 64 <= max(rows) <= sampling.STREAMED_ROWS


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--threads", "1,x"], "--threads takes comma-separated"),
        (["--threads", "999"], "threads must be within"),
        (["--power-w", "-3"], "--power-w takes a positive number"),
    ],
)
def test_calibrate_usage_errors_are_one_line(
    tmp_path: Path, options: list[str], message: str
) -> None:
    base = {"--out": str(tmp_path / "host.yaml"), "--power-w": "10", "--process-nm": "7"}
    base.update(zip(options[::2], options[1::2], strict=True))
    args = ["calibrate", *[part for pair in base.items() for part in pair]]
    line = error_leaving_nothing(tmp_path, *args)
    assert message in line


@pytest.mark.slow
def test_calibrate_writes_a_platform_that_estimates(tmp_path: Path) -> None:
    """The whole command at a tenth of the samples (about a minute): the YAML it writes loads,
    names its machine, and estimates a model."""
    out = tmp_path / "host.yaml"
    result = runner.invoke(app, ["calibrate", "--out", str(out), "--power-w", "10",
                                 "--process-nm", "7", "--quick"])  # fmt: skip
    assert result.exit_code == 0, result.output
    platform = load_platform(out)
    assert platform.calibration is not None and platform.calibration.quick
    assert all(level.source.startswith("edgegap calibrate") for level in platform.memory)
    assert estimate(edgegap.profile("resnet18"), platform).totals.latency_s > 0
