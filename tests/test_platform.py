"""Platforms as data: the catalog, the schema, and one-line errors for bad files."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from edgegap.cli import app
from edgegap.errors import UserError
from edgegap.hardware import builtin_names, load_platform
from edgegap.hardware.platform import Platform

TINY = Path(__file__).parent / "data" / "platforms" / "tiny.yaml"
DOCS = Path(__file__).parent.parent / "docs"
runner = CliRunner()

REQUIRED = {"eyeriss", "tpu-v1", "edge-tpu", "jetson-orin-nano", "nvdla-small", "cortex-m7",
            "systolic-generic"}  # fmt: skip


def test_catalog_has_the_required_platforms_each_sourced():
    assert set(builtin_names()) >= REQUIRED
    for name in builtin_names():
        platform = load_platform(name)
        assert platform.name == name
        sources = [platform.source, platform.compute.source, *(m.source for m in platform.memory)]
        assert all(len(source.strip()) > 10 for source in sources), name
        assert platform.memory[-1].role == "offchip", name


# The platforms that run generative models (issue 16): memory first, so each states the DRAM's
# capacity and bandwidth with where the bandwidth comes from.
GENERATIVE = {"jetson-orin-nano", "orin-nano-super", "jetson-agx-orin", "raspberry-pi-5",
              "apple-a17-pro", "apple-m4", "snapdragon-x-elite", "apple-m1", "apple-m2",
              "apple-m3-pro", "apple-m4-gpu", "apple-m4-pro", "apple-m4-max", "apple-a15",
              "agx-orin-cpu", "igx-orin", "pi-500-plus",
              "snapdragon-8g3-cpu"}  # fmt: skip


def test_generative_platforms_state_dram_capacity_and_bandwidth():
    assert set(builtin_names()) >= GENERATIVE
    for name in GENERATIVE:
        dram = load_platform(name).memory[-1]
        assert dram.role == "offchip" and dram.size_bytes and dram.size_bytes >= 2**30, name
        assert dram.bandwidth_gb_s and "GB/s" in dram.source + dram.notes, name


def test_jetson_peaks_state_precision_and_sparsity():
    """Every Jetson TOPS figure says int8 and whether it is 2:4 sparse or dense."""
    for name in ("jetson-orin-nano", "orin-nano-super", "jetson-agx-orin"):
        platform = load_platform(name)
        text = " ".join([platform.description, platform.compute.source, platform.compute.notes])
        assert all(word in text.lower() for word in ("int8", "sparse", "dense")), name


def test_published_schema_is_current():
    assert json.loads((DOCS / "platform.schema.json").read_text()) == Platform.model_json_schema()


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "chip.yaml"
    path.write_text(text)
    return path


def _tiny_with(tmp_path: Path, old: str, new: str) -> Path:
    text = TINY.read_text()
    assert old in text
    return _write(tmp_path, text.replace(old, new))


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("rows: 4", "rows: -4", "chip.yaml:12: compute.rows: must be an "
         "integer in 1..65,536 PEs, got -4"),
        ("dataflow: os", "dataflow: rs", "chip.yaml:14: compute.dataflow: Input should be"),
        ("clock_mhz: 100", "clock_mhz: 100\n  clock_ghz: 1", "chip.yaml:16: compute.clock_ghz: "
         "unknown key"),
        ("size_bytes: 1024", "size_bytes: 0", "chip.yaml:20: memory.1.size_bytes: "
         "must be an integer in 1..1,000,000,000,000,000"),
        ("  rows: 4\n", "", "chip.yaml:11: compute: a systolic array needs rows"),
        ("bandwidth_gb_s: 0.1,", "bandwidth_gb_s: 0.1, peak_bandwidth_gb_s: 0.05,",
         "chip.yaml:22: memory.2: peak_bandwidth_gb_s (0.05) is below the sustained "
         "bandwidth_gb_s (0.1)"),
    ],
)  # fmt: skip
def test_bad_platform_files_name_file_line_and_field(tmp_path, old, new, message):
    with pytest.raises(UserError) as error:
        load_platform(_tiny_with(tmp_path, old, new))
    assert f"{tmp_path}/{message}" in str(error.value), str(error.value)


def test_malformed_yaml_and_missing_file(tmp_path):
    with pytest.raises(UserError, match=r"chip.yaml:3: malformed YAML"):
        load_platform(_write(tmp_path, "name: x\ncompute: {type: systolic\nmemory: [\n"))
    with pytest.raises(UserError, match="not found"):
        load_platform(tmp_path / "nope.yaml")
    with pytest.raises(UserError, match="did you mean eyeriss"):
        load_platform("eyriss")


def test_with_compute_revalidates():
    platform = load_platform(TINY)
    assert platform.with_compute(rows=8, cols=2).compute.peak_macs_per_cycle == 16
    with pytest.raises(UserError, match=r"tiny with rows=0: compute.rows: must be an integer"):
        platform.with_compute(rows=0)


def test_hw_cli(tmp_path):
    listed = runner.invoke(app, ["hw", "list", "--format", "json"])
    assert {p["name"] for p in json.loads(listed.stdout)} == set(builtin_names())
    shown = runner.invoke(app, ["hw", "show", "eyeriss"])
    assert shown.exit_code == 0 and "source" in shown.stdout and "GOPS/W" in shown.stdout
    user = runner.invoke(app, ["hw", "show", str(TINY), "--format", "json"])
    assert json.loads(user.stdout)["compute"]["rows"] == 4
    bad = runner.invoke(app, ["hw", "show", str(_tiny_with(tmp_path, "rows: 4", "rows: x"))])
    assert bad.exit_code == 2
    assert bad.stderr.strip().startswith("error: ") and len(bad.stderr.strip().splitlines()) == 1
