"""Bad data files, by kind: dataset directories, SCALE-Sim topology CSVs, recipes and output
paths. Each is one `error:` line naming the file or value (exit code 2, no traceback) and
leaves no file behind; every fixture is built in code under `tmp_path`. Dataset cases fail
before any training starts; fuzz tests check that the readers raise nothing but UserError."""

from __future__ import annotations

import gzip
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from cli_checks import error_leaving_nothing
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from edgegap.compress.compose import parse_recipe
from edgegap.errors import UserError
from edgegap.techniques.circulant import BlockCirculantLinear
from edgegap.training.user_data import IDX_TYPES, read_idx
from edgegap.workload.scalesim import COLUMNS, read_topology

IDX_CODES = {np.dtype(dtype).newbyteorder("="): code for code, dtype in IDX_TYPES.items()}
HEADER = ", ".join(COLUMNS) + ",\n"
GOOD_RECIPE = "- prune: 0.5\n"


# --- fixtures built in code ---------------------------------------------------------------


def idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, IDX_CODES[array.dtype], array.ndim])
    dims = np.array(array.shape, ">u4").tobytes()
    return header + dims + array.astype(array.dtype.newbyteorder(">")).tobytes()


def mnist(folder: Path, count: int = 12, labels: np.ndarray | None = None) -> Path:
    """A valid MNIST idx pair of `count` 4x4 images in 3 classes."""
    images = np.random.default_rng(0).integers(0, 256, (count, 4, 4), dtype=np.uint8)
    labels = np.arange(count, dtype=np.uint8) % 3 if labels is None else labels
    (folder / "train-images-idx3-ubyte").write_bytes(idx_bytes(images))
    (folder / "train-labels-idx1-ubyte").write_bytes(idx_bytes(labels))
    return folder


def png(path: Path, size: tuple[int, int] = (6, 6), mode: str = "L") -> None:
    Image.new(mode, size, 7).save(path)


def png_header(width: int, height: int) -> bytes:
    """A PNG that claims `width` x `height` 1-bit pixels but holds almost no data: what a
    decompression bomb looks like from its header."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def classes(folder: Path, names: tuple[str, ...] = ("cat", "dog"), per_class: int = 6) -> Path:
    for name in names:
        (folder / name).mkdir()
        for i in range(per_class):
            png(folder / name / f"{i}.png")
    return folder


def cifar(folder: Path, records: int = 12, label: int | None = None) -> Path:
    rng = np.random.default_rng(0)
    data = rng.integers(0, 256, (records, 3073), dtype=np.uint8)
    data[:, 0] = np.arange(records) % 10 if label is None else label
    (folder / "data_batch_1.bin").write_bytes(data.tobytes())
    return folder


def _gz_of_mnist(folder: Path, mangle: Callable[[bytes], bytes]) -> None:
    mnist(folder)
    images = folder / "train-images-idx3-ubyte"
    (folder / "train-images-idx3-ubyte.gz").write_bytes(mangle(gzip.compress(images.read_bytes())))
    images.unlink()


def _flip_middle(raw: bytes) -> bytes:
    middle = len(raw) // 2
    return raw[:middle] + bytes(b ^ 0xFF for b in raw[middle : middle + 8]) + raw[middle + 8 :]


def _replace_images(folder: Path, raw: bytes) -> None:
    mnist(folder)
    (folder / "train-images-idx3-ubyte").write_bytes(raw)


def _dims(shape: tuple[int, ...], data: int) -> bytes:
    return bytes([0, 0, 8, len(shape)]) + np.array(shape, ">u4").tobytes() + bytes(data)


def _truncated_png(folder: Path) -> None:
    classes(folder)
    path = folder / "cat" / "0.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (6, 6), np.uint8)).save(path)
    path.write_bytes(path.read_bytes()[:60])


def _dir_named(path: Path) -> None:
    path.mkdir()


def _labels(folder: Path, labels: np.ndarray) -> None:
    mnist(folder, labels=labels)


def _t10k_other_shape(folder: Path) -> None:
    mnist(folder)
    other = np.zeros((3, 5, 5), np.uint8)
    (folder / "t10k-images-idx3-ubyte").write_bytes(idx_bytes(other))
    (folder / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(3, np.uint8)))


def _t10k_other_labels(folder: Path) -> None:
    mnist(folder)
    (folder / "t10k-images-idx3-ubyte").write_bytes(idx_bytes(np.zeros((3, 4, 4), np.uint8)))
    (folder / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(np.full(3, 9, np.uint8)))


# (id, what to put in the dataset folder, what the message must contain)
DATASETS: list[tuple[str, Callable[[Path], object], str]] = [
    ("bomb-png-5000x5000", lambda d: (classes(d), (d / "cat" / "0.png").write_bytes(
        png_header(5000, 5000))), "0.png is 5000x5000, above 16,777,216 pixels"),
    ("bomb-png-100000x100000", lambda d: (classes(d), (d / "dog" / "1.png").write_bytes(
        png_header(100_000, 100_000))), "cannot read image"),
    ("bomb-png-10000x10000-pil-warning", lambda d: (classes(d), (d / "dog" / "2.png").write_bytes(
        png_header(10_000, 10_000))), "2.png"),
    ("garbage-png", lambda d: (classes(d), (d / "cat" / "3.png").write_bytes(b"not a png")),
     "cannot read image"),
    ("truncated-png", _truncated_png, "cannot read image"),
    ("png-is-a-directory", lambda d: (classes(d), _dir_named(d / "cat" / "x.png")),
     "x.png is a directory: an image file is expected"),
    ("empty-class-folder", lambda d: (classes(d), _dir_named(d / "empty")),
     "class folder"),
    ("single-class", lambda d: classes(d, ("cat",), 12), "holds one class folder (cat)"),
    ("images-of-two-sizes", lambda d: (classes(d), png(d / "dog" / "9.png", (5, 5))),
     "9.png is 5x5 but"),
    ("too-few-images", lambda d: classes(d, per_class=2), "holds 4 samples"),
    ("no-classes", lambda d: (d / "readme.txt").write_text("hi"), "no MNIST idx, CIFAR-10"),
    ("gz-not-gzip", lambda d: _gz_of_mnist(d, lambda raw: b"not gzip at all"),
     "train-images-idx3-ubyte.gz (Not a gzipped file"),
    ("gz-truncated", lambda d: _gz_of_mnist(d, lambda raw: raw[: len(raw) // 2]),
     "cannot read"),
    ("gz-corrupt-deflate", lambda d: _gz_of_mnist(d, _flip_middle), "cannot read"),
    ("gz-empty", lambda d: _gz_of_mnist(d, lambda raw: b""), "idx"),
    ("idx-truncated", lambda d: _replace_images(d, idx_bytes(np.zeros((12, 4, 4), np.uint8))[:-5]),
     "holds 203 bytes, its idx header promises 208 (12x4x4)"),
    ("idx-dims-larger-than-file", lambda d: _replace_images(d, _dims((1000, 28, 28), 100)),
     "its idx header promises 784016 (1000x28x28)"),
    ("idx-dims-huge", lambda d: _replace_images(d, _dims((2**32 - 1,) * 3, 16)), "promises"),
    ("idx-zero-dimensions", lambda d: _replace_images(d, b"\0\0\x08\0"), "bad header"),
    ("idx-200-dimensions", lambda d: _replace_images(d, b"\0\0\x08\xc8" + bytes(800)),
     "gives 200 dimensions"),
    ("idx-bad-magic", lambda d: _replace_images(d, b"\1\0\x08\3" + bytes(12)), "bad header"),
    ("idx-bad-type", lambda d: _replace_images(d, b"\0\0\x07\3" + bytes(12)), "bad header"),
    ("idx-header-cut", lambda d: _replace_images(d, b"\0\0\x08\3\0\0"), "header cut short"),
    ("idx-empty", lambda d: _replace_images(d, b""), "bad header"),
    ("idx-images-a-directory", lambda d: _dir_named(d / "train-images-idx3-ubyte"),
     "train-images-idx3-ubyte is a directory"),
    ("idx-labels-a-directory", lambda d: (mnist(d), (d / "train-labels-idx1-ubyte").unlink(),
     _dir_named(d / "train-labels-idx1-ubyte.gz")), "train-labels-idx1-ubyte.gz is a directory"),
    ("idx-labels-missing", lambda d: (mnist(d), (d / "train-labels-idx1-ubyte").unlink()),
     "has no train-labels-idx1-ubyte"),
    ("idx-counts-differ", lambda d: (mnist(d), (d / "train-labels-idx1-ubyte").write_bytes(
        idx_bytes(np.zeros(11, np.uint8)))), "holds 12 images"),
    ("idx-float-labels", lambda d: _labels(d, np.zeros(12, np.float32)), "float32 labels"),
    ("idx-negative-labels", lambda d: _labels(d, np.full(12, -1, np.int8)), "label -1"),
    ("idx-single-class", lambda d: _labels(d, np.zeros(12, np.uint8)), "a single class"),
    ("idx-images-2d", lambda d: _replace_images(d, idx_bytes(np.zeros((12, 16), np.uint8))),
     "must be uint8 images (N, H, W)"),
    ("t10k-other-shape", _t10k_other_shape, "the test samples are (1, 5, 5)"),
    ("t10k-other-labels", _t10k_other_labels, "the test set holds labels 9..9"),
    ("cifar-wrong-length", lambda d: (d / "data_batch_1.bin").write_bytes(bytes(3073 * 12 + 5)),
     "data_batch_1.bin is 36881 bytes, not a whole number of 3073-byte"),
    ("cifar-empty-batch", lambda d: (d / "data_batch_1.bin").write_bytes(b""), "is 0 bytes"),
    ("cifar-100-labels", lambda d: cifar(d, label=57), "holds label 57"),
    ("cifar-batch-a-directory", lambda d: _dir_named(d / "data_batch_1.bin"),
     "data_batch_1.bin is a directory"),
    ("cifar-test-a-directory", lambda d: (cifar(d), _dir_named(d / "test_batch.bin")),
     "test_batch.bin is a directory"),
    ("cifar-unnumbered-batch", lambda d: (d / "data_batch_x.bin").write_bytes(bytes(3073)),
     "no data_batch_N.bin"),
    ("cifar-pickles", lambda d: (d / "batches.meta").write_bytes(b"\x80"), "never unpickles"),
    ("cifar-single-class", lambda d: cifar(d, label=3), "a single class"),
]  # fmt: skip


def _dataset_args(command: str, folder: Path) -> list[str]:
    if command == "plan":
        return ["plan", "lenet-5", "--memory-mb", "1", "--dataset", str(folder)]
    recipe = folder.parent / "recipe.yaml"
    recipe.write_text(GOOD_RECIPE, encoding="utf-8")
    return ["compress", "lenet-5", "--recipe", str(recipe), "--dataset", str(folder)]


@pytest.mark.parametrize("command", ["compress", "plan"])
@pytest.mark.parametrize(("build", "message"), [c[1:] for c in DATASETS],
                         ids=[c[0] for c in DATASETS])  # fmt: skip
def test_a_bad_dataset_directory_is_one_line(
    tmp_path: Path, command: str, build: Callable[[Path], object], message: str
) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    build(folder)
    line = error_leaving_nothing(tmp_path, *_dataset_args(command, folder))
    assert message in line
    assert str(folder) in line


@pytest.mark.parametrize("command", ["compress", "plan"])
def test_a_file_or_nothing_where_the_dataset_directory_should_be(
    tmp_path: Path, command: str
) -> None:
    file = tmp_path / "data.png"
    png(file)
    line = error_leaving_nothing(tmp_path, *_dataset_args(command, file))
    assert f"--data-dir {file} is not a directory (it is a file)" in line
    empty = tmp_path / "empty"
    empty.mkdir()
    assert f"--data-dir {empty} is empty" in error_leaving_nothing(
        tmp_path, *_dataset_args(command, empty)
    )


# --- SCALE-Sim topology CSVs --------------------------------------------------------------


def _row(**changes: str) -> str:
    values = {"Layer name": "conv1", "IFMAP Height": "8", "IFMAP Width": "8",
              "Filter Height": "3", "Filter Width": "3", "Channels": "4", "Num Filter": "8",
              "Strides": "1"} | changes  # fmt: skip
    return ", ".join(values[c] for c in COLUMNS) + ",\n"


# (id, the file's bytes, what the message must contain)
TOPOLOGIES: list[tuple[str, bytes, str]] = [
    ("latin-1", (HEADER + _row(**{"Layer name": "caf\xe9"})).encode("latin-1"),
     "not a UTF-8 text file"),
    ("utf-16", (HEADER + _row()).encode("utf-16"), "not a UTF-8 text file"),
    ("empty", b"", "empty file"),
    ("blank", b"  \n\n \n", "empty file"),
    ("header-only", HEADER.encode(), "no layers in the topology"),
    ("missing-columns", b"Layer name, IFMAP Height\nconv1, 8\n",
     "missing columns IFMAP Width, Filter Height"),
    ("no-header", _row().encode(), "missing columns"),
    ("words", (HEADER + _row(Channels="four")).encode(), "Channels: 'four' is not an integer"),
    ("float", (HEADER + _row(Strides="1.5")).encode(), "Strides: '1.5' is not an integer"),
    ("underscores", (HEADER + _row(Channels="1_0")).encode(), "'1_0' is not an integer"),
    ("empty-cell", (HEADER + _row(Channels="")).encode(), "Channels: '' is not an integer"),
    ("negative", (HEADER + _row(**{"IFMAP Height": "-8"})).encode(),
     "IFMAP Height: must be positive, at most 2,147,483,647"),
    ("zero", (HEADER + _row(**{"Num Filter": "0"})).encode(), "Num Filter: must be positive"),
    ("zero-stride", (HEADER + _row(Strides="0")).encode(), "Strides: must be positive"),
    ("above-2**31", (HEADER + _row(Channels=str(2**31))).encode(), "got 2147483648"),
    ("5000-digits", (HEADER + _row(Channels="9" * 5000)).encode(), "is not an integer"),
    ("2**40-elements", (HEADER + _row(**{"IFMAP Height": "1048576", "IFMAP Width": "1048576",
                                         "Channels": "2"})).encode(), "the IFMAP holds"),
    ("filter-of-2**40", (HEADER + _row(Channels="1048576", **{"Num Filter": "1048576"})).encode(),
     "the filter holds"),
    ("filter-larger", (HEADER + _row(**{"Filter Height": "9"})).encode(),
     "the 9x3 filter is larger than the 8x8 IFMAP"),
    ("short-row", (HEADER + "conv1, 8, 8\n").encode(), "'' is not an integer"),
    ("nul-byte", (HEADER + _row(Channels="4\0")).encode(), "topology"),
    ("line-2-named", (HEADER + _row() + _row(Channels="x")).encode(), ":3: Channels"),
]  # fmt: skip


@pytest.mark.parametrize(("raw", "message"), [c[1:] for c in TOPOLOGIES],
                         ids=[c[0] for c in TOPOLOGIES])  # fmt: skip
def test_a_bad_topology_is_one_line(tmp_path: Path, raw: bytes, message: str) -> None:
    path = tmp_path / "topology.csv"
    path.write_bytes(raw)
    args = ["estimate", "--topology", str(path), "--array", "8x8", "--dataflow", "ws"]
    line = error_leaving_nothing(tmp_path, *args)
    assert message in line and str(path) in line


def test_a_topology_that_is_a_directory_or_absent(tmp_path: Path) -> None:
    folder = tmp_path / "topology.csv"
    folder.mkdir()
    args = ["estimate", "--array", "8x8", "--dataflow", "ws", "--topology"]
    assert "is a directory" in error_leaving_nothing(tmp_path, *args, str(folder))
    assert "cannot read topology" in error_leaving_nothing(
        tmp_path, *args, str(tmp_path / "no.csv")
    )


def test_extra_fields_in_a_row_are_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "topology.csv"
    path.write_text(HEADER + _row().rstrip("\n") + " 5, 6, 7,\n", encoding="utf-8")
    assert len(read_topology(path).layers) == 1


# --- recipes ------------------------------------------------------------------------------

ALIAS_BOMB = (
    "- prune: ["
    + ", ".join(
        ["&l0 [" + ",".join(["x"] * 9) + "]"]
        + [f"&l{i} [" + ",".join([f"*l{i - 1}"] * 9) + "]" for i in range(1, 9)]
    )
    + "]\n"
)

# (id, the recipe, what the message must contain)
RECIPES: list[tuple[str, str, str]] = [
    ("nested-lists", "[" * 5000, "nested too deeply"),
    ("nested-dashes", "- " * 3000 + "x", "nested too deeply"),
    ("nested-mappings", "a: {" * 3000, "malformed YAML"),
    ("alias-bomb", ALIAS_BOMB, "prune: sparsity must be a number"),
    ("self-alias", "- prune: &x [*x]", "prune: sparsity must be a number"),
    ("5000-digits", "- prune: " + "9" * 5000, "malformed YAML (Exceeds the limit"),
    ("impossible-date", "- prune: 2001-02-30", "malformed YAML (day is out of range"),
    ("step-a-list", "- [prune, 0.5]", "step 1 must be a name"),
    ("step-a-number", "- 3", "step 1 must be a name"),
    ("step-null", "- null", "step 1 must be a name"),
    ("step-two-pairs", "- {prune: 0.5, huffman: 1}", "step 1 must be a name"),
    ("name-a-number", "- {3: 0.5}", "the technique's name must be text, got 3"),
    ("name-null", "- {null: 0.5}", "the technique's name must be text, got None"),
    ("name-a-bool", "- {true: 0.5}", "the technique's name must be text, got True"),
    ("name-blank", "- ' '", "the technique's name must be text"),
    ("name-with-newline", '- "pru\\nne"', "unknown technique 'pru ne'"),
    ("name-unknown", "- shrink: 2", "unknown technique 'shrink'"),
    ("name-huge", "- " + "x" * 10_000, "unknown technique 'xxx"),
    ("value-a-list", "- prune: [0.5, 0.6]", "sparsity must be a number in [0, 0.99], got [0.5"),
    ("value-a-dict", "- circulant: {block_size: {a: 1}}", "block_size must be a number"),
    ("value-text", "- prune: lots", "got 'lots'"),
    ("value-bool", "- prune: true", "got True"),
    ("value-nan", "- prune: .nan", "got nan"),
    ("value-inf", "- prune: .inf", "got inf"),
    ("value-huge", "- prune: 1e308", "must be"),
    ("value-huge-int", "- circulant: 99999999999999999999999", "block_size must be in [2, 4096]"),
    ("value-binary", "- prune: !!binary aGVsbG8=", "got b'hello'"),
    ("circulant-1", "- circulant: 1", "block_size must be in [2, 4096], got 1"),
    ("circulant-2.5", "- circulant: 2.5", "block_size must be a whole number, got 2.5"),
    ("circulant-5000", "- circulant: 5000", "block_size must be in [2, 4096], got 5000"),
    ("per-layer-nested", "- prune: {sparsity: {fc1: {fc2: 0.5}}}",
     "prune: sparsity: 'fc1' takes a value, not a mapping"),
    ("per-layer-empty", "- prune: {sparsity: {}}", "an empty {layer: value} mapping"),
    ("per-layer-a-list", "- prune: {sparsity: {fc1: [0.5]}}", "sparsity must be a number"),
    ("unknown-parameter", "- prune: {fraction: 0.5}", "prune has no parameter fraction"),
    ("bare-takes-no-value", "- huffman: 3", "huffman takes no value"),
    ("python-tag", "- !!python/object/apply:os.system [ls]", "malformed YAML"),
    ("tabs", "- prune:\t\t0.5\n\t- x", "malformed YAML"),
    ("a-mapping", "prune: 0.5", "a recipe is a YAML list of steps"),
    ("empty-list", "[]", "a recipe is a YAML list of steps"),
    ("empty-file", "", "a recipe is a YAML list of steps"),
    ("renamed-step", "- quantize: 8", "'quantize' is now"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "message"), [c[1:] for c in RECIPES],
                         ids=[c[0] for c in RECIPES])  # fmt: skip
def test_a_malformed_recipe_is_one_line(tmp_path: Path, text: str, message: str) -> None:
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(text, encoding="utf-8")
    line = error_leaving_nothing(tmp_path, "compress", "lenet-5", "--recipe", str(recipe))
    assert message in line and str(recipe) in line
    assert len(line) < 2000  # quoted values are bounded (the alias bomb has 387M items)


def test_a_recipe_that_is_not_text_or_not_a_file(tmp_path: Path) -> None:
    recipe = tmp_path / "recipe.yaml"
    recipe.write_bytes(b"- prune: \xff\xfe\n")
    assert "not a UTF-8 text file" in error_leaving_nothing(
        tmp_path, "compress", "lenet-5", "--recipe", str(recipe)
    )
    recipe.unlink()
    recipe.mkdir()
    assert "recipe file not found" in error_leaving_nothing(
        tmp_path, "compress", "lenet-5", "--recipe", str(recipe)
    )


@pytest.mark.parametrize("block", [3, 5, 7])
def test_odd_circulant_blocks_are_exact(block: int) -> None:
    """An odd block size is accepted and neither divides by zero nor drifts from the dense
    product: rfft's n // 2 + 1 bins and irfft's explicit n handle odd lengths."""
    (setting,) = parse_recipe(f"- circulant: {block}")
    assert setting["block_size"] == block
    torch.manual_seed(0)
    layer = BlockCirculantLinear(10, 11, block)
    x = torch.randn(4, 10, requires_grad=True)
    y = layer(x)
    dense = x @ layer.dense_weight().T + layer.bias
    torch.testing.assert_close(y, dense, atol=1e-5, rtol=1e-5)
    (grad,) = torch.autograd.grad(y.sum(), x)
    (expected,) = torch.autograd.grad(dense.sum(), x)
    torch.testing.assert_close(grad, expected, atol=1e-5, rtol=1e-5)
    assert layer.multiplies() > 0


# --- output paths -------------------------------------------------------------------------


@pytest.mark.parametrize("command", [["trends"], ["report", "--quick"]], ids=["trends", "report"])
@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("a-file", "it is a file, and the output is a directory"),
        ("a-file/sub", "a-file is a file, not a directory"),
        ("a-file/sub/deeper", "a-file is a file, not a directory"),
        ("/proc/edgegap-out", "cannot write /proc/edgegap-out: /proc takes no new files"),
        ("/proc/self/none/out", "cannot write /proc/self/none/out"),
    ],
)
def test_an_output_path_that_cannot_be_a_directory_is_one_line(
    tmp_path: Path, command: list[str], where: str, message: str
) -> None:
    (tmp_path / "a-file").write_text("keep me", encoding="utf-8")
    out = where if where.startswith("/") else str(tmp_path / where)
    line = error_leaving_nothing(tmp_path, *command, "--out", out)
    assert message in line
    assert (tmp_path / "a-file").read_text(encoding="utf-8") == "keep me"


# --- fuzzing: nothing but arrays, workloads, settings or UserError -------------------------

IDX_PREFIXES = st.sampled_from([b"", b"\0\0\x08\x01", b"\0\0\x08\x03", b"\0\0\x0d\x02",
                                b"\0\0\x0e\x01\0\0\0\x02", b"\0\0\x08\x40"])  # fmt: skip


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(prefix=IDX_PREFIXES, body=st.binary(max_size=96), gz=st.booleans(), cut=st.integers(0, 40))
def test_read_idx_fuzz(tmp_path: Path, prefix: bytes, body: bytes, gz: bool, cut: int) -> None:
    raw = prefix + body
    if gz:
        raw = gzip.compress(raw)
        raw = raw[: len(raw) - cut] if cut < 20 else raw
    path = tmp_path / ("fuzz.gz" if gz else "fuzz")
    path.write_bytes(raw)
    try:
        array = read_idx(path)
    except UserError as error:
        assert "\n" not in str(error) and str(path) in str(error)
    else:
        assert isinstance(array, np.ndarray)


CELLS = st.one_of(
    st.integers(-5, 2**42).map(str),
    st.sampled_from(["", " ", "x", "1.5", "1e3", "0", "-0", "+3", "\0", '"', "9" * 5000]),
    st.text(max_size=6),
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(st.lists(CELLS, min_size=0, max_size=10), max_size=4),
    header=st.booleans(),
    noise=st.text(max_size=40),
)
def test_read_topology_fuzz(tmp_path: Path, rows: list[list[str]], header: bool,
                            noise: str) -> None:  # fmt: skip
    text = (HEADER if header else noise) + "".join(", ".join(r) + "\n" for r in rows)
    path = tmp_path / "fuzz.csv"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        workload = read_topology(path)
    except UserError as error:
        assert "\n" not in str(error)
    else:
        assert workload.layers


YAML_LEAVES = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8),
    st.sampled_from(["prune", "huffman", "circulant", "weight-sharing", "int8", "quantize"]),
)  # fmt: skip
YAML_VALUES = st.recursive(
    YAML_LEAVES,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(YAML_LEAVES.filter(lambda v: v == v), children, max_size=3)
    ),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(value=YAML_VALUES)
def test_parse_recipe_fuzz_structures(value: object) -> None:
    try:
        steps = parse_recipe(yaml.safe_dump(value), "fuzz.yaml")
    except UserError as error:
        assert str(error).startswith("fuzz.yaml")
    else:
        assert steps


@settings(max_examples=200, deadline=None)
@given(text=st.text(alphabet=st.sampled_from(list("-:[]{}&*!|>?'\",.# \n\t0123456789ab")),
                    max_size=60))  # fmt: skip
def test_parse_recipe_fuzz_text(text: str) -> None:
    try:
        parse_recipe(text, "fuzz.yaml")
    except UserError as error:
        assert str(error).startswith("fuzz.yaml")
