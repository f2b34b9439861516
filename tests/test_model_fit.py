"""One fit rule (`hardware.fits`): the weights where they live (DRAM or flash, else on-chip),
the peak live activations in working memory (DRAM, or the on-chip RAM beside a read-only
flash), each against its level's capacity."""

from pathlib import Path

import pytest
from torch import nn

import edgegap
from edgegap.errors import UserError
from edgegap.hardware import Fit, Placement, Platform, estimate, fits, load_platform, verdict

TINY = Path(__file__).parent / "data" / "platforms" / "tiny.yaml"


def _with_memory(platform: Platform, memory: list[dict[str, object]]) -> Platform:
    return Platform.model_validate(platform.model_dump() | {"memory": memory})


def test_mobilenet_v2_at_int8_does_not_fit_a_cortex_m7s_flash():
    """The catalog's cortex-m7 has 2 MiB of read-only flash for the weights and 992 KiB of
    RAM for the activations; MobileNetV2's 3.5 M int8 weights alone exceed the flash."""
    platform = load_platform("cortex-m7")
    assert platform.level("offchip").read_only
    fit = fits(edgegap.profile("mobilenet_v2", dtype="int8"), platform)
    weights, activations = fit.placements
    assert (weights.holds, weights.level, weights.capacity_bytes) == ("weights", "flash", 2**21)
    assert weights.needed_bytes == fit.weight_bytes > 3_400_000 and not weights.fits
    assert (activations.holds, activations.level) == ("activations", "data_ram")
    assert activations.capacity_bytes == 1_015_808
    assert not fit.fits
    assert fit.reason.startswith("3.5 MB of int8 weights and ")
    assert "; weights do not fit flash (2.1 MB)" in fit.reason


def test_vit_b_16_on_a_cortex_m7_says_its_weights_cannot_fit():
    """The issue's case: an 18 s estimate without a word that 86 MB of weights cannot fit."""
    cost = estimate(edgegap.profile("vit_b_16", dtype="int8"), load_platform("cortex-m7"))
    assert not cost.fit.fits
    found = verdict(cost)
    assert not found.runs
    assert found.reasons[0] == "weights 86.6 MB do not fit flash (2.1 MB)"


def test_activations_live_in_ram_beside_a_read_only_flash():
    """Linear(64 -> 64) at int8: 4,160 B of weights fit a 8 kB flash, but its 128 B of
    activations must fit the RAM inside it, not the flash."""
    workload = edgegap.profile(nn.Linear(64, 64), (1, 64), dtype="int8")
    memory = [m.model_dump() for m in load_platform(TINY).memory]
    memory[-1] |= {"size_bytes": 8192, "read_only": True}
    mcu = _with_memory(load_platform(TINY), memory)
    fit = fits(workload, mcu)
    assert fit.placements == (
        Placement("weights", "dram", 4160, 8192),
        Placement("activations", "sram", 128, 1024),
    )
    assert fit.fits
    memory[1]["size_bytes"] = 100
    small_ram = fits(workload, _with_memory(load_platform(TINY), memory))
    assert not small_ram.fits
    assert small_ram.reason.endswith("; activations do not fit sram (100 B)")


def test_resnet18_fits_a_jetson_orin_nanos_8_gib():
    fit = fits(edgegap.profile("resnet18", dtype="int8"), load_platform("jetson-orin-nano"))
    (placement,) = fit.placements
    assert fit.fits and placement == Placement(
        "weights and activations", "lpddr5", fit.needed_bytes, 8 * 2**30
    )
    assert fit.reason.endswith("; weights and activations fit lpddr5 (8.6 GB)")


def test_the_rule_by_hand():
    """Linear(8 -> 4) at batch 2, int8: 36 B of weights and 16 + 8 B of activations: 60 B must
    fit the off-chip level when there is one, else the buffer."""
    workload = edgegap.profile(nn.Linear(8, 4), (2, 8), dtype="int8")
    tiny = load_platform(TINY)
    assert fits(workload, tiny) == Fit(
        True, 60, 36, 24, (Placement("weights and activations", "dram", 60, None),),
        "36 B of int8 weights and 24 B of peak activations; dram capacity not stated (taken "
        "as large enough)",
    )  # fmt: skip
    memory = [m.model_dump() for m in tiny.memory]
    memory[-1]["size_bytes"] = 59
    small = fits(workload, _with_memory(tiny, memory))
    assert (small.fits, small.placements[0].capacity_bytes) == (False, 59)
    assert estimate(workload, _with_memory(tiny, memory)).totals.latency_s > 0  # no error
    on_chip = _with_memory(tiny, [m.model_dump() for m in tiny.memory if m.role != "offchip"])
    fit = fits(workload, on_chip)
    assert fit.fits and fit.placements == (Placement("weights and activations", "sram", 60, 1024),)


def test_the_peak_counts_activations_alive_together():
    """A residual block keeps its input alive across the branch: the peak is above the
    largest single layer's inputs plus outputs."""

    class Residual(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b = nn.Linear(256, 256), nn.Linear(256, 256)

        def forward(self, x):  # type: ignore[no-untyped-def]
            return x + self.b(self.a(x).relu())

    workload = edgegap.profile(Residual(), (1, 256), dtype="int8")
    fit = fits(workload, load_platform(TINY))
    assert fit.activation_bytes == workload.peak_activation_bytes > 2 * 256


def test_a_platform_without_off_chip_memory_that_cannot_hold_the_model_is_refused():
    workload = edgegap.profile(nn.Linear(64, 64), (1, 64), dtype="int8")
    tiny = load_platform(TINY)
    no_dram = _with_memory(tiny, [m.model_dump() for m in tiny.memory if m.role != "offchip"])
    fit = fits(workload, no_dram)
    assert (fit.fits, fit.needed_bytes) == (False, 4288)
    with pytest.raises(
        UserError, match=r"do not fit sram \(1\.0 kB\), and it has no off-chip"
    ) as error:
        estimate(workload, no_dram)
    assert fit.reason in str(error.value) and "\n" not in str(error.value)


def test_only_the_outermost_level_may_be_read_only():
    memory = [m.model_dump() for m in load_platform(TINY).memory]
    memory[1]["read_only"] = True
    with pytest.raises(ValueError, match="only the outermost"):
        _with_memory(load_platform(TINY), memory)


def test_the_planner_and_the_report_use_the_rule():
    from edgegap.plan.search import Point
    from edgegap.report.build import edge_rows

    workload = edgegap.profile("mobilenet_v2", dtype="int8")
    cortex = load_platform("cortex-m7")
    point = Point.of(workload, cortex)
    fit = fits(workload, cortex)
    assert (point.memory_bytes, point.fits) == (fit.needed_bytes, False)
    row = next(r for r in edge_rows(lambda dtype: workload, "mobilenet_v2")
               if r["platform"] == "cortex-m7")  # fmt: skip
    assert (row["fits_memory"], row["memory_mb"], row["runs"]) == (
        False, fit.needed_bytes / 1e6, False,
    )  # fmt: skip
    assert row["memory_reason"] == fit.reason
    assert row["reasons"][0].startswith("weights 3.5 MB do not fit flash")
