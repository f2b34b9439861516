"""One fit rule (`hardware.fits`): weights at the platform precision plus the working
activations must fit where the model lives."""

from pathlib import Path

import pytest
from torch import nn

import edgegap
from edgegap.errors import UserError
from edgegap.hardware import Fit, Platform, estimate, fits, load_platform

TINY = Path(__file__).parent / "data" / "platforms" / "tiny.yaml"


def _with_memory(platform: Platform, memory: list[dict[str, object]]) -> Platform:
    return Platform.model_validate(platform.model_dump() | {"memory": memory})


def test_mobilenet_v2_at_int8_does_not_fit_a_cortex_m7s_flash():
    """The catalog's cortex-m7 has 2 MiB of flash; MobileNetV2's 3.5 M int8 weights alone
    exceed it."""
    platform = load_platform("cortex-m7")
    assert platform.level("offchip").size_bytes == 2 * 2**20
    fit = fits(edgegap.profile("mobilenet_v2", dtype="int8"), platform)
    assert not fit.fits
    assert (fit.level, fit.capacity_bytes) == ("flash", 2 * 2**20)
    assert fit.needed_bytes > 3_400_000
    assert fit.reason.startswith("3.5 MB of weights at int8 and ")
    assert fit.reason.endswith("; flash holds 2.1 MB")


def test_resnet18_fits_a_jetson_orin_nano_whose_dram_states_no_capacity():
    fit = fits(edgegap.profile("resnet18", dtype="int8"), load_platform("jetson-orin-nano"))
    assert fit.fits and fit.capacity_bytes is None and fit.level == "lpddr5"
    assert "capacity not stated" in fit.reason


def test_the_rule_by_hand():
    """Linear(8 -> 4) at batch 2, int8: 36 B of weights and 16 + 8 B of activations: 60 B must
    fit the off-chip level when there is one, else the buffer."""
    workload = edgegap.profile(nn.Linear(8, 4), (2, 8), dtype="int8")
    tiny = load_platform(TINY)
    assert fits(workload, tiny) == Fit(
        True, 60, None, "dram",
        "36 B of weights at int8 and 24 B of activations need 60 B; dram capacity not stated "
        "(taken as large enough)",
    )  # fmt: skip
    memory = [m.model_dump() for m in tiny.memory]
    memory[-1]["size_bytes"] = 59
    small = fits(workload, _with_memory(tiny, memory))
    assert (small.fits, small.capacity_bytes) == (False, 59)
    assert estimate(workload, _with_memory(tiny, memory)).totals.latency_s > 0  # no error
    on_chip = _with_memory(tiny, [m.model_dump() for m in tiny.memory if m.role != "offchip"])
    fit = fits(workload, on_chip)
    assert (fit.fits, fit.level, fit.capacity_bytes) == (True, "sram", 1024)


def test_a_platform_without_off_chip_memory_that_cannot_hold_the_model_is_refused():
    workload = edgegap.profile(nn.Linear(64, 64), (1, 64), dtype="int8")
    tiny = load_platform(TINY)
    no_dram = _with_memory(tiny, [m.model_dump() for m in tiny.memory if m.role != "offchip"])
    fit = fits(workload, no_dram)
    assert (fit.fits, fit.needed_bytes, fit.capacity_bytes) == (False, 4288, 1024)
    with pytest.raises(UserError, match=r"holds 1\.0 kB, and it has no off-chip memory") as error:
        estimate(workload, no_dram)
    assert fit.reason in str(error.value) and "\n" not in str(error.value)


def test_the_planner_and_the_report_use_the_rule():
    from edgegap.plan.search import Point
    from edgegap.report.build import edge_rows

    workload = edgegap.profile("mobilenet_v2", dtype="int8")
    cortex = load_platform("cortex-m7")
    point = Point.of(workload, cortex)
    fit = fits(workload, cortex)
    assert (point.memory_bytes, point.fits) == (fit.needed_bytes, False)
    row = next(r for r in edge_rows(workload) if r["platform"] == "cortex-m7")
    assert (row["fits_memory"], row["memory_mb"]) == (False, fit.needed_bytes / 1e6)
