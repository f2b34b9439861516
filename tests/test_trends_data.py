"""The curated tables: every row sourced, physically sane, and consistent with the profiler."""

import math

import pytest

import edgegap
from edgegap.errors import UserError
from edgegap.trends import data
from edgegap.trends.analysis import platforms_table

MEMORY_HEADER = "name,type,year,energy_pj_per_bit,bandwidth_gb_s,source,notes\n"


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("DDR3,dram,2012,20,12.8,,", "row without a source"),
        ("DDR3,dram,2009,20,12.8,a datasheet,", "year outside 2010-2026"),
        ("DDR3,dram,2012,-20,12.8,a datasheet,", "energy_pj_per_bit must be a finite positive"),
        ("DDR3,dram,2012,inf,12.8,a datasheet,", "energy_pj_per_bit must be a finite positive"),
        ("DDR3,dram,twenty,20,12.8,a datasheet,", "memories.csv"),
    ],
)
def test_bad_rows_are_named(row, message):
    with pytest.raises(UserError, match=message):
        data.parse_table("memories", MEMORY_HEADER + row + "\n", "memories.csv")


def test_missing_column():
    with pytest.raises(UserError, match="missing columns bandwidth_gb_s"):
        data.parse_table("memories", "name,type,year,energy_pj_per_bit,source,notes\n", "m.csv")


def test_tables_meet_their_minimums_and_every_row_is_sourced():
    models, chips, memories = (data.load(n) for n in ("dnn_models", "platforms", "memories"))
    assert models["imagenet"].sum() >= 25
    assert (~models["imagenet"]).sum() >= 3
    assert len(chips) >= 30 and len(memories) >= 12
    assert (models["error_source"].notna() | models["size_source"].notna()).all()
    for table in (chips, memories, data.load("brain")):
        assert table["source"].str.strip().str.len().gt(0).all()
    for name in ("AlexNet", "VGG-16", "VGG-19", "GoogLeNet", "ResNet-50", "ResNet-101",
                 "ResNet-152", "Inception-v3", "Inception-v4"):  # fmt: skip
        assert name in set(models["name"]), name


def test_performance_density_below_a_physical_ceiling():
    """No chip can exceed one MAC per ~0.5 um^2 of logic at 3 GHz: an 8-bit multiplier-adder
    takes about 300 minimum-size gates (>= 0.05 um^2 each at 5 nm, >= 15 um^2 per MAC), so
    at most 2 x 3e9 / 15e-6 mm^2 = 4e14 op/s per mm^2 = 4e5 GOPS/mm^2."""
    chips = platforms_table()
    density = chips["perf_density_gops_mm2"].dropna().astype(float)
    assert (density > 0).all() and (density < 4e5).all()


@pytest.mark.slow
def test_sizes_equal_the_profilers_for_every_torchvision_row():
    models = data.load("dnn_models")
    rows = models[models["torchvision"].notna()]
    assert len(rows) >= 15
    for row in rows.itertuples():
        totals = edgegap.profile(str(row.torchvision)).totals
        assert (totals.params, totals.macs) == (row.params, row.macs), row.name


def test_every_platform_row_has_a_known_precision():
    chips = platforms_table()
    assert chips["peak_ops"].isna().sum() == chips["gops_16b"].isna().sum()
    assert all(math.isfinite(v) for v in chips["gops_16b"].dropna())
