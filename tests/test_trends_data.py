"""The curated tables: every row sourced, physically sane, and consistent with the profiler."""

import math

import pytest

import edgegap
from edgegap.errors import UserError
from edgegap.trends import data
from edgegap.trends.analysis import platforms_table

MEMORY_HEADER = "name,type,status,year,energy_pj_per_bit,source,notes\n"


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("DDR3,dram,product,2012,20,,", "row without a source"),
        ("DDR3,dram,product,2004,20,a datasheet,", "year outside 2005-2026"),
        ("DDR3,dram,product,2012,-20,a datasheet,", "energy_pj_per_bit must be a finite positive"),
        ("DDR3,dram,product,2012,inf,a datasheet,", "energy_pj_per_bit must be a finite positive"),
        ("DDR3,dram,product,twenty,20,a datasheet,", "memory_energy.csv"),
        ("DDR3,dram,shipping,2012,20,a datasheet,", "status must be one of product, proposal"),
        ("DDR3,ddr,product,2012,20,a datasheet,", "type must be one of dram, 3d-dram, sram"),
    ],
)
def test_bad_rows_are_named(row, message):
    with pytest.raises(UserError, match=message):
        data.parse_table("memory_energy", MEMORY_HEADER + row + "\n", "memory_energy.csv")


def test_missing_column():
    with pytest.raises(UserError, match="missing columns status"):
        data.parse_table("memory_energy", "name,type,year,energy_pj_per_bit,source,notes\n",
                         "m.csv")  # fmt: skip


def test_tables_meet_their_minimums_and_every_row_is_sourced():
    models, chips, memories = (data.load(n) for n in ("dnn_models", "platforms", "memory_energy"))
    assert models["imagenet"].sum() >= 25
    assert (~models["imagenet"]).sum() >= 3
    assert len(chips) >= 30 and len(memories) >= 10
    assert (models["error_source"].notna() | models["size_source"].notna()).all()
    for table in (chips, memories, data.load("brain")):
        assert table["source"].str.strip().str.len().gt(0).all()
        assert not table["source"].str.contains("ANCHORS|to be confirmed|placeholder").any()
    for name in ("AlexNet", "VGG-16", "VGG-19", "GoogLeNet", "ResNet-50", "ResNet-101",
                 "ResNet-152", "Inception-v3", "Inception-v4"):  # fmt: skip
        assert name in set(models["name"]), name


def test_every_imagenet_row_states_its_protocol():
    models = data.load("dnn_models")
    imagenet = models[models["imagenet"]]
    assert set(imagenet["protocol"]) == {"ilsvrc-test", "single-val"}
    assert set(models[~models["imagenet"]]["protocol"]) == {"none"}
    # the paper's leading designs are its test-set entries
    tested = set(imagenet[imagenet["protocol"] == "ilsvrc-test"]["name"])
    assert {"AlexNet", "VGG-19", "GoogLeNet", "ResNet-152", "Inception-v4"} <= tested


def test_memory_rows_are_dated_and_classed():
    memories = data.load("memory_energy")
    assert memories.set_index("name").loc["FGDRAM (proposal)", "status"] == "proposal"
    gddr5 = memories.set_index("name").loc["GDDR5"]
    assert gddr5["year"] == 2008 and "introduction" in gddr5["notes"]
    products = memories[memories["status"] == "product"]
    assert products["notes"].str.contains("product introduction").all()


def test_orin_nano_matches_the_hardware_catalog():
    """The trend table and the platform catalog cite the same NVIDIA datasheet: 40 sparse =
    20 dense int8 TOPS at 15 W."""
    from edgegap.hardware.catalog import load_platform

    chips = data.load("platforms").set_index("name")
    nano = chips.loc["Jetson Orin Nano 8GB"]
    assert "DS-11105-001" in nano["source"]
    assert nano["peak_ops"] == 2e13 and nano["peak_precision"] == "int8"
    assert nano["power_w"] == load_platform("jetson-orin-nano").power_budget_w == 15


def test_performance_density_below_a_physical_ceiling():
    """No chip can exceed one MAC per ~0.5 um^2 of logic at 3 GHz: an 8-bit multiplier-adder
    takes about 300 minimum-size gates (>= 0.05 um^2 each at 5 nm, >= 15 um^2 per MAC), so
    at most 2 x 3e9 / 15e-6 mm^2 = 4e14 op/s per mm^2 = 4e5 GOPS/mm^2."""
    chips = platforms_table()
    density = chips["perf_density_gops_mm2"].dropna().astype(float)
    assert (density > 0).all() and (density < 4e5).all()


@pytest.mark.slow
def test_sizes_equal_the_profilers_for_every_architecture_row():
    """Rows that name an architecture (a torchvision name or a package.module:callable, at
    `profile_input` or the weights' default) hold edgegap's own profile of it."""
    models = data.load("dnn_models")
    rows = models[models["architecture"].notna()]
    assert len(rows) >= 18
    for row in rows.itertuples():
        if ":" in str(row.architecture):
            pytest.importorskip(str(row.architecture).split(".")[0])
        shape = (tuple(int(d) for d in str(row.profile_input).split("x"))
                 if isinstance(row.profile_input, str) else None)  # fmt: skip
        totals = edgegap.profile(str(row.architecture), input_shape=shape).totals
        assert (totals.params, totals.macs) == (row.params, row.macs), row.name


def test_every_platform_row_has_a_known_precision():
    chips = platforms_table()
    assert chips["peak_ops"].isna().sum() == chips["gops_16b"].isna().sum()
    assert all(math.isfinite(v) for v in chips["gops_16b"].dropna())


# edge_memory.csv rows that are also platforms of the hardware catalog
CATALOG_DEVICES = {
    "Apple M1": "apple-m1", "Apple M2": "apple-m2", "Apple M4": "apple-m4",
    "Apple M4 Max": "apple-m4-max", "iPhone 13 Pro (A15 Bionic)": "apple-a15",
    "iPhone 15 Pro (A17 Pro)": "apple-a17-pro", "Jetson AGX Orin 64GB": "jetson-agx-orin",
    "Jetson Orin Nano 8GB": "jetson-orin-nano", "Raspberry Pi 5": "raspberry-pi-5",
    "OnePlus 12 (Snapdragon 8 Gen 3)": "snapdragon-8g3-cpu",
}  # fmt: skip


def test_generative_tables_are_sourced_and_span_the_years():
    llms, edge = data.load("open_llms"), data.load("edge_memory")
    for table in (llms, edge):
        assert table["source"].str.strip().str.len().gt(20).all()
        assert table["name"].is_unique
    assert llms["year"].min() == 2019 and llms["year"].max() >= 2025
    assert edge["year"].min() <= 2017 and edge["year"].max() >= 2025
    assert set(edge["kind"]) == {"module", "sbc", "laptop", "phone"}
    # a mixture of experts activates fewer parameters than it holds; a dense model has no
    # separate active count
    moe = llms[llms["architecture"] == "moe"]
    stated = moe.dropna(subset=["active_params"])
    assert (stated["active_params"] < stated["params"]).all() and len(stated) >= 5
    assert llms[llms["architecture"] == "dense"]["active_params"].isna().all()
    # the release month falls in the row's year
    assert (llms["released"].str[:4].astype(int) == llms["year"]).all()


def test_edge_memory_matches_the_hardware_catalog():
    """Where a device is also a catalog platform, the table's bandwidth is its datasheet peak."""
    from edgegap.hardware.catalog import load_platform

    edge = data.load("edge_memory").set_index("name")
    for name, platform in CATALOG_DEVICES.items():
        level = load_platform(platform).level("offchip")
        assert level is not None
        peak = level.peak_bandwidth_gb_s or level.bandwidth_gb_s
        assert edge.loc[name, "bandwidth_gb_s"] == pytest.approx(peak, rel=0.01), name
