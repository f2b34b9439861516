"""Bad inputs, by class: each is one `UserError` line naming what is wrong and how to fix it
(exit code 2 through the CLI, no traceback), never another exception nor a silent acceptance.

Platform YAMLs are tests/data/platforms/tiny.yaml with one field changed; ONNX models are
built in code; user builders are modules written to a temporary directory."""

from __future__ import annotations

import itertools
import textwrap
from pathlib import Path
from typing import Any

import onnx
import pytest
import yaml
from cli_checks import error_leaving_nothing, one_line_error
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import helper
from test_onnx_reader import read, save, value, weight

import edgegap
from edgegap.errors import UserError
from edgegap.hardware.catalog import builtin_names, load_platform, parse_platform
from edgegap.hardware.platform import Platform
from edgegap.workload.shapes import MAX_DIMENSION, MAX_ELEMENTS, check_shape, parse_shape

TINY = (Path(__file__).parent / "data" / "platforms" / "tiny.yaml").read_text(encoding="utf-8")


def changed(old: str, new: str) -> str:
    assert TINY.count(old) == 1, old
    return TINY.replace(old, new)


# --- 1. platform YAML numbers ------------------------------------------------------------

# (the text in tiny.yaml, its replacement, what the message must contain)
OUT_OF_RANGE = [
    ("clock_mhz: 100", "clock_mhz: .inf",
     "compute.clock_mhz: must be a finite number in 0.001..100000 MHz"),
    ("clock_mhz: 100", "clock_mhz: -.inf", "compute.clock_mhz: must be"),
    ("clock_mhz: 100", "clock_mhz: .nan", "compute.clock_mhz: must be"),
    ("clock_mhz: 100", "clock_mhz: 1.0e+300", "compute.clock_mhz: must be"),
    ("clock_mhz: 100", "clock_mhz: 1e300", "compute.clock_mhz: must be"),
    ("clock_mhz: 100", "clock_mhz: 1.0e+6", "0.001..100000 MHz, got 1000000.0"),
    ("clock_mhz: 100", "clock_mhz: 0", "compute.clock_mhz: must be"),
    ("clock_mhz: 100", "clock_mhz: -5", "compute.clock_mhz: must be"),
    ("clock_mhz: 100", "clock_mhz: 0.00001", "compute.clock_mhz: must be"),
    ("clock_mhz: 100", "clock_mhz: true", "got True"),
    ("clock_mhz: 100", "clock_mhz: false", "got False"),
    ("clock_mhz: 100", "clock_mhz: fast", "got 'fast'"),
    ("clock_mhz: 100", "clock_mhz: [100]", "compute.clock_mhz: must be"),
    ("clock_mhz: 100", "clock_mhz: {mhz: 100}", "compute.clock_mhz: must be"),
    ("clock_mhz: 100", "clock_mhz: null", "compute.clock_mhz: must be"),
    ("clock_mhz: 100", "clock_mhz: " + "9" * 400, "compute.clock_mhz: must be"),
    ("rows: 4", "rows: 1e12", "compute.rows: must be an integer in 1..65,536 PEs, got '1e12'"),
    ("rows: 4", "rows: 1000000000000", "compute.rows: must be an integer in 1..65,536"),
    ("rows: 4", "rows: 65537", "compute.rows: must be an integer in 1..65,536"),
    ("rows: 4", "rows: true", "compute.rows: must be an integer in 1..65,536 PEs, got True"),
    ("rows: 4", "rows: 0", "compute.rows: must be"),
    ("rows: 4", "rows: -1", "compute.rows: must be"),
    ("rows: 4", "rows: 2.5", "compute.rows: must be"),
    ("rows: 4", "rows: .inf", "compute.rows: must be"),
    ("rows: 4", "rows: .nan", "compute.rows: must be"),
    ("rows: 4", "rows: four", "compute.rows: must be"),
    ("rows: 4", "rows: " + "9" * 5000, "malformed YAML: Exceeds the limit (4300 digits)"),
    ("cols: 4", "cols: 1e12", "compute.cols: must be"),
    ("cols: 4", "cols: false", "compute.cols: must be"),
    ("cols: 4", "cols: 100000", "compute.cols: must be"),
    ("size_bytes: 1024", "size_bytes: 1e30", "memory.1.size_bytes: must be an integer in 1.."),
    ("size_bytes: 1024", "size_bytes: 1.0e+30", "memory.1.size_bytes: must be"),
    ("size_bytes: 1024", "size_bytes: " + "1" + "0" * 30, "memory.1.size_bytes: must be"),
    ("size_bytes: 1024", "size_bytes: true", "memory.1.size_bytes: must be"),
    ("size_bytes: 1024", "size_bytes: 0", "memory.1.size_bytes: must be"),
    ("size_bytes: 1024", "size_bytes: .nan", "memory.1.size_bytes: must be"),
    ("size_bytes: 1024", "size_bytes: 1024.5", "memory.1.size_bytes: must be"),
    ("size_bytes: 64", "size_bytes: -64", "memory.0.size_bytes: must be"),
    ("bandwidth_gb_s: 1.0", "bandwidth_gb_s: .inf",
     "memory.1.bandwidth_gb_s: must be a finite number in 1e-06..1e+06 GB/s"),
    ("bandwidth_gb_s: 1.0", "bandwidth_gb_s: 1.0e+7", "memory.1.bandwidth_gb_s: must be"),
    ("bandwidth_gb_s: 1.0", "bandwidth_gb_s: 0", "memory.1.bandwidth_gb_s: must be"),
    ("bandwidth_gb_s: 1.0", "bandwidth_gb_s: true", "memory.1.bandwidth_gb_s: must be"),
    ("bandwidth_gb_s: 0.1", "bandwidth_gb_s: -0.1", "memory.2.bandwidth_gb_s: must be"),
    ("energy_pj_per_bit: 10.0", "energy_pj_per_bit: .inf",
     "memory.2.energy_pj_per_bit: must be a finite number in 0..1e+06 pJ"),
    ("energy_pj_per_bit: 10.0", "energy_pj_per_bit: -1", "memory.2.energy_pj_per_bit: must be"),
    ("energy_pj_per_bit: 10.0", "energy_pj_per_bit: 1.0e+7", "memory.2.energy_pj_per_bit: must be"),
    ("energy_pj_per_bit: 0.1", "energy_pj_per_bit: .nan", "memory.0.energy_pj_per_bit: must be"),
    ("int8: 1.0", "int8: .inf",
     "compute.mac_energy_pj.int8: must be a finite number in 1e-06..1e+06 pJ"),
    ("int8: 1.0", "int8: 0", "compute.mac_energy_pj.int8: must be"),
    ("fp16: 4.0", "fp16: 1.0e+9", "compute.mac_energy_pj.fp16: must be"),
    ("fp16: 4.0", "fp16: true", "compute.mac_energy_pj.fp16: must be"),
    ("power_budget_w: 0.001", "power_budget_w: .inf",
     "power_budget_w: must be a finite number in 1e-06..10000 W"),
    ("power_budget_w: 0.001", "power_budget_w: 0", "power_budget_w: must be"),
    ("power_budget_w: 0.001", "power_budget_w: 1.0e+5", "power_budget_w: must be"),
    ("power_budget_w: 0.001", "power_budget_w: true", "power_budget_w: must be"),
    ("area_mm2: 1.0", "area_mm2: .inf", "area_mm2: must be a finite number in 0.001..100000 mm²"),
    ("area_mm2: 1.0", "area_mm2: 0", "area_mm2: must be"),
    ("area_mm2: 1.0", "area_mm2: 1.0e+6", "area_mm2: must be"),
    ("process_nm: 28", "process_nm: 0", "process_nm: must be a finite number in 1..1000 nm"),
    ("process_nm: 28", "process_nm: .inf", "process_nm: must be"),
    ("process_nm: 28", "process_nm: 0.5", "process_nm: must be"),
    ("process_nm: 28", "process_nm: 1.0e+4", "process_nm: must be"),
    ("process_nm: 28", "process_nm: true", "process_nm: must be"),
    ("year: 2020", "year: 1800", "year: must be an integer in 1,950..2,100"),
    ("year: 2020", "year: 3000", "year: must be"),
    ("year: 2020", "year: true", "year: must be"),
    ("year: 2020", "year: 2020.5", "year: must be"),
    ("year: 2020", "year: .inf", "year: must be"),
]  # fmt: skip


@pytest.mark.parametrize(("old", "new", "message"), OUT_OF_RANGE)
def test_out_of_range_platform_numbers_are_one_line_errors(
    old: str, new: str, message: str
) -> None:
    with pytest.raises(UserError) as error:
        parse_platform(changed(old, new), "chip.yaml")
    text = str(error.value)
    assert text.startswith("chip.yaml:"), text
    assert message in text
    assert "\n" not in text
    assert len(text) < 300


# Values at the bounds: a real chip may sit there, so they load.
AT_THE_BOUNDS = [
    ("clock_mhz: 100", "clock_mhz: 0.001"),
    ("clock_mhz: 100", "clock_mhz: 100000"),
    ("clock_mhz: 100", "clock_mhz: '100'"),
    ("rows: 4", "rows: 65536"),
    ("rows: 4", "rows: 1"),
    ("year: 2020", "year: 1950"),
    ("year: 2020", "year: 2100"),
    ("energy_pj_per_bit: 10.0", "energy_pj_per_bit: 0"),
    ("size_bytes: 1024", "size_bytes: 1000000000000000"),
    ("process_nm: 28", "process_nm: 1000"),
    ("power_budget_w: 0.001", "power_budget_w: 10000"),
]


@pytest.mark.parametrize(("old", "new"), AT_THE_BOUNDS)
def test_numbers_at_the_bounds_load(old: str, new: str) -> None:
    assert isinstance(parse_platform(changed(old, new), "chip.yaml"), Platform)


@pytest.mark.parametrize("name", builtin_names())
def test_every_catalog_platform_is_within_the_bounds(name: str) -> None:
    assert load_platform(name).name == name


BROKEN_FILES: list[tuple[str, bytes, str]] = [
    ("latin1.yaml", TINY.replace("hand-worked", "hand-w\u00f6rked").encode("latin-1"), "not UTF-8"),
    ("binary.yaml", b"\xff\xfe\x00\x00garbage", "not UTF-8"),
    ("lists.yaml", b"a: " + b"[" * 10_000 + b"]" * 10_000, "nested too deeply"),
    ("maps.yaml", b"a: " + b"{b: " * 10_000 + b"}" * 10_000, "nested too deeply"),
    ("open.yaml", b"[" * 10_000, "latin"),  # unterminated: any one-line error will do
    ("empty.yaml", b"", "a platform file is a YAML mapping"),
    ("list.yaml", b"- 1\n- 2\n", "a platform file is a YAML mapping"),
    ("tabs.yaml", b"name:\t\x01\n", "malformed YAML"),
]


@pytest.mark.parametrize(("filename", "content", "message"), BROKEN_FILES)
def test_broken_platform_files_are_one_line_errors_naming_the_file(
    tmp_path: Path, filename: str, content: bytes, message: str
) -> None:
    path = tmp_path / filename
    path.write_bytes(content)
    with pytest.raises(UserError) as error:
        load_platform(path)
    text = str(error.value)
    assert filename in text
    assert "\n" not in text
    if message != "latin":
        assert message in text
    assert one_line_error("hw", "show", str(path)).startswith("error:")


@pytest.mark.parametrize(
    ("old", "new"),
    [("clock_mhz: 100", "clock_mhz: .inf"), ("rows: 4", "rows: 1e12"), ("rows: 4", "rows: true")],
)
def test_bad_platform_numbers_through_the_cli(tmp_path: Path, old: str, new: str) -> None:
    path = tmp_path / "chip.yaml"
    path.write_text(changed(old, new), encoding="utf-8")
    assert "must be" in one_line_error("hw", "show", str(path))


@pytest.mark.parametrize("array", ["100000x4", "4x65537", "1000000000x1000000000"])
def test_an_array_out_of_range_is_one_line(array: str) -> None:
    line = one_line_error("estimate", "resnet18", "--array", array)
    assert "must be an integer in 1..65,536 PEs" in line


NUMBER_FIELDS = [
    ("compute", "clock_mhz"),
    ("compute", "rows"),
    ("compute", "cols"),
    ("memory", "size_bytes"),
    ("memory", "bandwidth_gb_s"),
    ("memory", "energy_pj_per_bit"),
    (None, "year"),
    (None, "process_nm"),
    (None, "area_mm2"),
    (None, "power_budget_w"),
]
SCALARS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.booleans(),
    st.none(),
    st.text(max_size=30),
    st.sampled_from([".inf", "-.inf", ".nan", "1e300", "1e12", "0x10", "1_000", "~", "0o17"]),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(NUMBER_FIELDS), SCALARS)
def test_any_yaml_scalar_in_a_number_field_is_a_platform_or_a_user_error(
    field: tuple[str | None, str], scalar: Any
) -> None:
    data = yaml.safe_load(TINY)
    section, key = field
    target = (
        data if section is None else data[section] if section == "compute" else data[section][1]
    )
    target[key] = scalar
    try:
        platform = parse_platform(yaml.safe_dump(data), "fuzz.yaml")
    except UserError as error:
        assert "\n" not in str(error)
        return
    assert isinstance(platform, Platform)
    assert platform.peak_ops_per_s < float("inf")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["clock_mhz: 100", "rows: 4", "year: 2020", "size_bytes: 1024"]), st.text())
def test_any_text_in_a_number_field_is_a_platform_or_a_user_error(old: str, text: str) -> None:
    key = old.split(":")[0]
    try:
        parse_platform(changed(old, f"{key}: {text}"), "fuzz.yaml")
    except UserError as error:
        assert "\n" not in str(error)


# --- 2. shapes and sizes -----------------------------------------------------------------

BAD_SHAPES = [
    ("1,3,99999999999999999999,224", "above 2,147,483,647"),
    ("2147483648", "above 2,147,483,647"),
    ("1," + str(2**63), "above 2,147,483,647"),
    ("1048576,1048577", "above 1,099,511,627,776 (2**40)"),
    ("65536,65536,65536", "2**40"),
    ("1,3,2147483647,2147483647", "2**40"),
    ("", "malformed input shape"),
    (",", "malformed input shape"),
    ("1,,2", "malformed input shape"),
    ("1,3,", "malformed input shape"),
    ("1,-2", "impossible input shape"),
    ("0", "impossible input shape"),
    ("1,3,0,224", "impossible input shape"),
    ("abc", "malformed input shape"),
    ("1.5", "malformed input shape"),
    ("1e3", "malformed input shape"),
    ("9" * 5000, "malformed input shape"),
    (" ", "malformed input shape"),
    ("x", "malformed input shape"),
    ("1;3", "malformed input shape"),
    ("nan", "malformed input shape"),
    ("inf", "malformed input shape"),
]


@pytest.mark.parametrize(("text", "message"), BAD_SHAPES)
def test_bad_shapes_are_one_line_errors(text: str, message: str) -> None:
    with pytest.raises(UserError) as error:
        parse_shape(text)
    assert message in str(error.value)
    assert len(str(error.value)) < 300


@pytest.mark.parametrize(
    ("text", "shape"),
    [("2147483647", (MAX_DIMENSION,)), ("1048576,1048576", (2**20, 2**20)), (" 1 , 3 ", (1, 3))],
)
def test_shapes_at_the_bounds_are_accepted(text: str, shape: tuple[int, ...]) -> None:
    assert parse_shape(text) == shape
    assert len(parse_shape(text)) and max(shape) <= MAX_DIMENSION


@pytest.mark.parametrize(
    "shape", [(), (True, 3), (2**31,), (1.0, 3), (2**21, 2**20), ("1", 3), (-1,)]
)
def test_check_shape_refuses(shape: tuple[Any, ...]) -> None:
    with pytest.raises(UserError):
        check_shape(shape)


@given(st.text())
def test_any_text_is_a_shape_or_a_user_error(text: str) -> None:
    try:
        shape = parse_shape(text)
    except UserError:
        return
    assert all(1 <= d <= MAX_DIMENSION for d in shape)
    assert len(shape) >= 1


@given(st.lists(st.integers(-(10**30), 10**30) | st.text("0123456789-x ", max_size=25)))
def test_any_list_of_numbers_is_a_shape_or_a_user_error(parts: list[Any]) -> None:
    try:
        shape = parse_shape(",".join(map(str, parts)))
    except UserError:
        return
    total = 1
    for d in shape:
        total *= d
    assert total <= MAX_ELEMENTS


@pytest.mark.parametrize(
    "shape", ["1,3,99999999999999999999,224", "65536,65536,65536", "1,3,x", "1,3,0,224"]
)
def test_bad_shapes_through_the_cli(shape: str) -> None:
    one_line_error("profile", "resnet18", "--input-shape", shape)


# --- 3. user builders --------------------------------------------------------------------

_HEADER = "import torch\nfrom torch import nn\n"
_MODEL = "class M(nn.Module):\n    def forward(self, x):\n        {body}\n"


def forward(body: str) -> str:
    """A module whose builder returns a model with this forward body."""
    return _HEADER + _MODEL.format(body=body) + "def build():\n    return M()\n"


# (module source, callable, what the message must contain)
BUILDERS = [
    ("", "build", "has no callable 'build'"),
    ("def build(:\n", "build", "SyntaxError: "),
    ("raise ValueError('configured wrong')\n", "build", "ValueError: configured wrong"),
    ("import no_such_dependency_xyz\n", "build", "No module named 'no_such_dependency_xyz'"),
    ("build = 3\n", "build", "has no callable 'build'"),
    (_HEADER + "def build(width):\n    return nn.Linear(width, 2)\n", "build",
     "needs arguments (width)"),
    (_HEADER + "def build(*, depth):\n    return nn.Linear(4, 2)\n", "build",
     "needs arguments (depth)"),
    (_HEADER + "def build():\n    raise RuntimeError('no GPU\\nmore')\n", "build",
     "failed to build the model: RuntimeError: no GPU"),
    (_HEADER + "def build():\n    return {}['x']\n", "build",
     "failed to build the model: KeyError: 'x'"),
    (_HEADER + "def build():\n    return 42\n", "build", "returned int, not a torch.nn.Module"),
    (forward("raise KeyError('head')"), "build",
     "cannot run on input shape 1,4: KeyError: 'head'"),
    (forward("return x / 0 if 1 / 0 else x"), "build",
     "ZeroDivisionError: division by zero"),
    (forward("assert x.shape[-1] == 5, 'width 5 only'"), "build",
     "AssertionError: width 5 only"),
    (forward("raise NotImplementedError"), "build",
     "NotImplementedError"),
    (forward("raise Exception('line one\\nline two')"), "build",
     "Exception: line one"),
    (_HEADER + "def build():\n    return nn.Linear(3, 2)\n", "build",
     "cannot run on input shape 1,4: RuntimeError: mat1 and mat2 shapes cannot be multiplied "
     "(1x4 and 3x2)"),
]  # fmt: skip

_counter = itertools.count()


@pytest.mark.parametrize(("source", "attr", "message"), BUILDERS)
def test_a_failing_builder_or_model_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str, attr: str, message: str
) -> None:
    module = f"edgegap_user_builder_{next(_counter)}"
    (tmp_path / f"{module}.py").write_text(textwrap.dedent(source), encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    spec = f"{module}:{attr}"
    with pytest.raises(UserError) as error:
        edgegap.profile(spec, (1, 4))
    text = str(error.value)
    assert message in text
    assert "\n" not in text
    assert module in text or "cannot run" in text
    assert message in one_line_error("profile", spec, "--input-shape", "1,4")


@pytest.mark.parametrize("spec", [":build", "module_only:", "no_such_module_xyz:build"])
def test_malformed_builder_specs(spec: str) -> None:
    with pytest.raises(UserError):
        edgegap.profile(spec, (1, 4))


@pytest.mark.parametrize(
    ("model", "shape", "message"),
    [
        ("vit_b_16", "1,3,225,225", "vit_b_16 cannot be built for input shape 1,3,225,225: "
         "AssertionError"),
        ("resnet18", "1,1,224,224", "resnet18 cannot run on input shape 1,1,224,224: "
         "RuntimeError"),
    ],
)  # fmt: skip
def test_a_size_the_zoo_model_rejects_is_one_line(model: str, shape: str, message: str) -> None:
    assert message in one_line_error("profile", model, "--input-shape", shape)


# --- 4. ONNX -----------------------------------------------------------------------------


def conv(
    tmp_path: Path,
    x: tuple[int, ...] = (1, 4, 8, 8),
    w: tuple[int, ...] = (6, 2, 3, 3),
    op: str = "Conv",
    **attrs: Any,
) -> Path:
    attrs.setdefault("group", 2)
    nodes = [helper.make_node(op, ["x", "w"], ["y"], name="conv1", **attrs)]
    return save(tmp_path, nodes, [value("x", x)], [value("y", [None] * 4)], [weight("w", w)])


def pool(tmp_path: Path, x: tuple[int, ...], **attrs: Any) -> Path:
    nodes = [helper.make_node("MaxPool", ["x"], ["y"], name="pool1", **attrs)]
    return save(tmp_path, nodes, [value("x", x)], [value("y", [None] * 4)])


def attention(tmp_path: Path, q_heads: int, kv_heads: int) -> Path:
    node = helper.make_node(
        "Attention", ["q", "k", "v"], ["y"], name="attn", q_num_heads=q_heads,
        kv_num_heads=kv_heads,
    )  # fmt: skip
    inputs = [value("q", (1, 10, 32)), value("k", (1, 12, 16)), value("v", (1, 12, 16))]
    return save(tmp_path, [node], inputs, [value("y", (1, 10, 32))], opset=23)


# (builder of the model, input shape given or None, what the message must contain)
BAD_ONNX: list[tuple[str, Any, tuple[int, ...] | None, str]] = [
    ("group=0", lambda p: conv(p, group=0), None, "node 'conv1' (Conv)"),
    ("group=-1", lambda p: conv(p, group=-1), None, "group=-1"),
    ("group=3", lambda p: conv(p, group=3), None, "channel mismatch"),
    ("group=4", lambda p: conv(p, w=(6, 1, 3, 3), group=4), None, "do not split into group=4"),
    ("channels", lambda p: conv(p, w=(6, 3, 3, 3)), None, "channel mismatch"),
    ("out split", lambda p: conv(p, w=(5, 2, 3, 3)), None, "do not split into group=2"),
    ("kernel", lambda p: conv(p, x=(1, 4, 2, 2)), None, "larger --input-shape"),
    ("kernel via shape", lambda p: conv(p), (1, 4, 2, 8), "padded input (2)"),
    ("dilated", lambda p: conv(p, dilations=[4, 4]), None, "spans 9"),
    ("padded ok?", lambda p: conv(p, x=(1, 4, 1, 1), pads=[0, 0, 0, 0]), None, "kernel (3, 3)"),
    ("valid", lambda p: conv(p, x=(1, 4, 2, 2), auto_pad="VALID"), None, "padded input"),
    ("dim 2**40", lambda p: conv(p, x=(1, 4, 2**40, 8)), None, "above 2,147,483,647"),
    ("dim 2**31", lambda p: conv(p, x=(1, 4, 2**31, 8)), None, "above 2,147,483,647"),
    ("elements", lambda p: conv(p, x=(2**20, 4, 2**16, 8)), None, "2**40"),
    ("dim 0", lambda p: conv(p, x=(1, 4, 0, 8)), None, "dimension below 1"),
    ("dim -3", lambda p: conv(p, x=(1, 4, -3, 8)), None, "dimension below 1"),
    ("shape 2**40", lambda p: conv(p), (1, 4, 2**40, 8), "above 2,147,483,647"),
    ("shape 0", lambda p: conv(p), (1, 4, 0, 8), "impossible input shape"),
    ("transposed group=0", lambda p: conv(p, op="ConvTranspose", w=(4, 3, 3, 3), group=0),
     None, "group=0"),
    ("transposed channels", lambda p: conv(p, op="ConvTranspose", w=(6, 3, 3, 3)),
     None, "channel mismatch"),
    ("stride 0", lambda p: conv(p, strides=[0, 0]), None, "strides=[0, 0]"),
    ("negative pads", lambda p: conv(p, pads=[-1, 0, 0, 0]), None, "padding cannot be negative"),
    ("heads 0", lambda p: attention(p, 0, 2), None, "q_num_heads=0"),
    ("heads 5", lambda p: attention(p, 5, 2), None, "q_num_heads=5 does not divide"),
    ("kv heads 0", lambda p: attention(p, 4, 0), None, "kv_num_heads=0"),
    ("pool kernel", lambda p: pool(p, (1, 4, 2, 2), kernel_shape=[3, 3]),
     None, "node 'pool1' (MaxPool)"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("build", "shape", "message"), [row[1:] for row in BAD_ONNX], ids=[row[0] for row in BAD_ONNX]
)
def test_bad_onnx_nodes_are_one_line_errors(
    tmp_path: Path, build: Any, shape: tuple[int, ...] | None, message: str
) -> None:
    path = build(tmp_path)
    with pytest.raises(UserError) as error:
        read(path, shape)
    text = str(error.value)
    assert message in text
    assert "\n" not in text


def test_bad_onnx_through_the_cli(tmp_path: Path) -> None:
    line = one_line_error("profile", str(conv(tmp_path, group=0)))
    assert "node 'conv1' (Conv)" in line


def test_an_operator_of_another_domain_is_uncounted(tmp_path: Path) -> None:
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["y"], group=2),
        helper.make_node("FusedGelu", ["y"], ["z"], domain="com.vendor"),
    ]
    path = save(
        tmp_path,
        nodes,
        [value("x", (1, 4, 8, 8))],
        [value("z", (1, 6, 6, 6))],
        [weight("w", (6, 2, 3, 3))],
        **{"com.vendor": 1},
    )
    workload = read(path)
    assert workload.uncounted_ops == {"onnx::com.vendor.FusedGelu": 1}
    assert onnx.load(path).graph.node[1].domain == "com.vendor"


# --- sweep ranges (read by edgegap.bridges.sweep.parse_range) ----------------------------


@pytest.mark.parametrize(
    ("text", "name", "message"),
    [
        ("99999999999999999999", "sram-kb", "goes above 1,073,741,824"),
        ("65536..1000000", "array", "goes above 65,536"),
        ("1..60000:1", "array", "more than 10,000 values"),
        ("8..64:0", "array", "the step must be a positive integer"),
        ("8..64:-2", "array", "the step must be a positive integer"),
        ("8..64:x", "array", "malformed --array"),
    ],
)
def test_bad_sweep_ranges(text: str, name: str, message: str) -> None:
    from edgegap.bridges.sweep import parse_range

    with pytest.raises(UserError, match=message):
        parse_range(text, name)


@pytest.mark.parametrize("node", ["0.5", "-1", "nan", "5000"])
def test_a_node_outside_the_process_range_is_one_line(node: str) -> None:
    assert "1..1000 nm" in one_line_error("scale", "eyeriss", "--node", node)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["sweep", "resnet18", "--array", "-8..8"], "1 <= A <= B"),
        (["sweep", "resnet18", "--array", "64..8"], "1 <= A <= B"),
        (["sweep", "resnet18", "--sram-kb", "0..64"], "1 <= A <= B"),
        (["trends", "--until", "99999"], "--until takes a year in 2020..2100"),
        (["trends", "--until", "1999"], "--until takes a year in 2020..2100"),
        (["trends", "--scaling-ends", "abc"], "--scaling-ends takes a year"),
        (["trends", "--scaling-ends", "99999999"], "--scaling-ends takes a year"),
        (["trends", "--area-mm2", "inf"], "positive finite numbers"),
        (["trends", "--fps", "0"], "positive finite numbers"),
    ],
)
def test_ranges_and_years_are_one_line_errors(args, message, tmp_path):
    out = ["--out", str(tmp_path / "t")] if args[0] == "trends" else []
    assert message in error_leaving_nothing(tmp_path, *args, *out)


def test_an_onnx_opset_from_the_future_is_refused(tmp_path):
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y])
    path = tmp_path / "future.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 999)]), path)
    assert "uses ONNX opset 999" in one_line_error("profile", str(path))
