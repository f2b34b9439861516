"""The user's own data for `--data-dir`: a directory of images by class, MNIST idx files, or
CIFAR-10's binary batches, read without unpickling anything, split like the built-in datasets.

Formats, tried in this order:
- MNIST idx (LeCun, Cortes, Burges, "The MNIST database of handwritten digits", 1998):
  train-images-idx3-ubyte and train-labels-idx1-ubyte, optionally gzipped; t10k-* files, when
  present, become the test set;
- CIFAR-10 binary (Krizhevsky, "Learning Multiple Layers of Features from Tiny Images", 2009):
  data_batch_1.bin..data_batch_5.bin (those present) and test_batch.bin when present, each
  record one label byte then 3,072 pixel bytes (red, green, blue planes of 32x32); the
  python version (pickles) is refused;
- image folders (torchvision's ImageFolder layout): one subfolder per class, named classes
  numbered in sorted order, holding PNG or JPEG files. Images load as grayscale when every
  one is grayscale, else all as RGB; all must share one size (resize them beforehand: silent
  resampling would change what the model sees).
Pixels scale to [0, 1] as float32; samples are (channels, height, width).
"""

from __future__ import annotations

import gzip
import math
import re
import struct
import warnings
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import numpy.typing as npt
import PIL.Image

from edgegap.errors import UserError
from edgegap.training.datasets import (
    LOADERS,
    TEST_FRACTION,
    VALIDATION_FRACTION,
    Dataset,
    _split,
    load_dataset,
)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
GRAYSCALE_MODES = ("1", "L", "LA")
# The smallest set whose validation and test splits each hold at least one sample.
MIN_SAMPLES = int(np.ceil(1 / min(VALIDATION_FRACTION, TEST_FRACTION)))
# idx element type codes (third magic byte) -> big-endian numpy dtype.
IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
CIFAR_PIXELS = 3 * 32 * 32
CIFAR_RECORD = 1 + CIFAR_PIXELS
CIFAR_CLASSES = 10
# The largest image read (4096 x 4096 pixels): a bigger one is refused from its header, before
# any pixel is decoded, so that a decompression bomb (a tiny PNG of huge size) costs nothing.
MAX_IMAGE_PIXELS = 4096 * 4096
# idx files of more dimensions than this are not data sets (numpy's own limit is 64).
MAX_IDX_DIMENSIONS = 8
# The largest idx or CIFAR file read, decompressed (4 GiB): a gzip bomb stops there.
MAX_DATA_BYTES = 2**32
# What PIL raises on a file it cannot decode, then or while reading pixels.
IMAGE_ERRORS = (
    OSError, ValueError, SyntaxError, EOFError, struct.error, zlib.error, IndexError,
    PIL.Image.DecompressionBombError, PIL.Image.DecompressionBombWarning,
)  # fmt: skip

Arrays = tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]


def resolve_dataset(name: str) -> Dataset:
    """A built-in dataset by name, or the dataset in the directory `name`."""
    path = Path(name)
    if path.is_dir() or (path.exists() and name not in LOADERS):  # a file: say so
        return load_data_dir(path)
    return load_dataset(name)


def load_data_dir(path: Path) -> Dataset:
    """The dataset in directory `path` (MNIST idx, CIFAR-10 binary or class subfolders of
    images), with the fixed seeded validation/test split of `edgegap.training.load_dataset`."""
    if not path.is_dir():
        what = "it is a file" if path.exists() else "not found"
        raise UserError(f"--data-dir {path} is not a directory ({what}): give a folder of data")
    if not _entries(path):
        raise UserError(f"--data-dir {path} is empty: put MNIST idx, CIFAR-10 .bin or images in")
    test: Arrays | None = None
    if (mnist := _mnist_pair(path, "train")) is not None:
        train, test, kind = mnist, _mnist_pair(path, "t10k"), "MNIST idx files"
    elif any(path.glob("data_batch_*.bin")):
        train, test, kind = _cifar10(path)
    elif (path / "batches.meta").exists() or (path / "data_batch_1").exists():
        raise UserError(
            f"{path} holds CIFAR-10's python (pickle) version, which edgegap never unpickles: "
            "download the binary version (cifar-10-binary.tar.gz) instead"
        )
    else:
        train, kind = _image_folder(path), "image folders"
    total = len(train[0]) + (len(test[0]) if test is not None else 0)
    if total < MIN_SAMPLES:
        raise UserError(
            f"{path} holds {total} samples: give at least {MIN_SAMPLES} so that the validation "
            "and test splits are not empty"
        )
    _check_labels(path, kind, train, test)
    return _split(f"data-dir:{path.name}", *train, f"{kind} from {path}", test=test)


def _entries(folder: Path) -> list[Path]:
    try:
        return sorted(folder.iterdir())
    except OSError as error:
        raise UserError(f"cannot list {folder}: {error.strerror or error}") from None


def _check_labels(path: Path, kind: str, train: Arrays, test: Arrays | None) -> None:
    """At least two classes, labels from 0, a test set shaped like the training set."""
    labels = train[1]
    if labels.min() < 0:
        raise UserError(f"{path}: {kind} hold label {labels.min()}: labels start at 0")
    if len(np.unique(labels)) < 2:
        raise UserError(
            f"{path}: {kind} hold a single class ({labels[0]}): a classifier needs two or more"
        )
    if test is not None:
        if test[0].shape[1:] != train[0].shape[1:]:
            raise UserError(
                f"{path}: the test samples are {test[0].shape[1:]}, the training samples "
                f"{train[0].shape[1:]}: give both one size"
            )
        if len(test[1]) and (test[1].min() < 0 or test[1].max() > labels.max()):
            raise UserError(
                f"{path}: the test set holds labels {test[1].min()}..{test[1].max()}, the "
                f"training set 0..{labels.max()}: give both the same classes"
            )


def _find(folder: Path, stem: str) -> Path | None:
    for candidate in (folder / stem, folder / f"{stem}.gz"):
        if candidate.is_dir():
            raise UserError(f"{candidate} is a directory: an idx file is expected there")
        if candidate.is_file():
            return candidate
    return None


def read_idx(path: Path) -> npt.NDArray[np.generic]:
    """The array in an idx file (gzipped when its name ends in .gz): two zero bytes, a type
    code, the number of dimensions, each dimension as a big-endian int32, then the data."""
    raw = _read(path)
    if len(raw) < 4 or raw[:2] != b"\0\0" or raw[2] not in IDX_TYPES or raw[3] == 0:
        raise UserError(f"{path} is not an idx file (bad header): re-download it")
    if raw[3] > MAX_IDX_DIMENSIONS:
        raise UserError(
            f"{path}: its idx header gives {raw[3]} dimensions, more than {MAX_IDX_DIMENSIONS}: "
            "is it an idx file? re-download it"
        )
    dims_end = 4 + 4 * raw[3]
    if len(raw) < dims_end:
        raise UserError(f"{path} is not an idx file (header cut short): re-download it")
    shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", raw[3], 4))
    dtype = np.dtype(IDX_TYPES[raw[2]])
    expected = dims_end + math.prod(shape) * dtype.itemsize
    if len(raw) != expected:
        dims = "x".join(map(str, shape))
        raise UserError(
            f"{path} holds {len(raw)} bytes, its idx header promises {expected} ({dims}): "
            "truncated or not an idx file? re-download it"
        )
    return np.frombuffer(raw, dtype, offset=dims_end).reshape(shape).astype(dtype.newbyteorder("="))


def _read(path: Path) -> bytes:
    """The file's bytes, decompressed when its name ends in .gz, at most MAX_DATA_BYTES."""
    if path.is_dir():
        raise UserError(f"{path} is a directory: a data file is expected there")
    try:
        if path.suffix != ".gz":
            if path.stat().st_size > MAX_DATA_BYTES:
                raise UserError(f"{path} is larger than {MAX_DATA_BYTES:,} bytes: not a data set")
            return path.read_bytes()
        with gzip.open(path, "rb") as handle:
            raw = handle.read(MAX_DATA_BYTES + 1)
    except (OSError, EOFError, zlib.error) as error:  # gzip.BadGzipFile is an OSError
        reason = getattr(error, "strerror", None) or str(error) or type(error).__name__
        raise UserError(f"cannot read {path} ({reason}): re-download it") from None
    if len(raw) > MAX_DATA_BYTES:
        raise UserError(f"{path} decompresses past {MAX_DATA_BYTES:,} bytes: not a data set")
    return raw


def _mnist_pair(folder: Path, prefix: str) -> Arrays | None:
    images_path = _find(folder, f"{prefix}-images-idx3-ubyte")
    labels_path = _find(folder, f"{prefix}-labels-idx1-ubyte")
    if images_path is None:
        return None
    if labels_path is None:
        raise UserError(f"{images_path} has no {prefix}-labels-idx1-ubyte[.gz] beside it")
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or images.dtype != np.uint8 or labels.ndim != 1:
        raise UserError(
            f"{images_path} and {labels_path} must be uint8 images (N, H, W) and labels (N,)"
        )
    if labels.dtype.kind not in "iu":
        raise UserError(f"{labels_path} holds {labels.dtype} labels: class numbers are integers")
    if 0 in images.shape[1:]:
        raise UserError(f"{images_path} holds {images.shape[1]}x{images.shape[2]} images")
    if len(images) != len(labels):
        raise UserError(f"{images_path} holds {len(images)} images, {labels_path} {len(labels)}")
    return (images[:, None].astype(np.float32) / 255.0, labels.astype(np.int64))


def _cifar_batch(path: Path) -> Arrays:
    raw = _read(path)
    if not raw or len(raw) % CIFAR_RECORD:
        raise UserError(
            f"{path} is {len(raw)} bytes, not a whole number of {CIFAR_RECORD}-byte CIFAR-10 "
            "records (1 label + 3,072 pixels): is it CIFAR-100 or truncated? re-download it"
        )
    records = np.frombuffer(raw, np.uint8).reshape(-1, CIFAR_RECORD)
    if records[:, 0].max() >= CIFAR_CLASSES:
        raise UserError(
            f"{path} holds label {records[:, 0].max()}, CIFAR-10 labels are 0..9: is it "
            "CIFAR-100? re-download it"
        )
    images = records[:, 1:].reshape(-1, 3, 32, 32).astype(np.float32) / 255.0
    return images, records[:, 0].astype(np.int64)


def _cifar10(folder: Path) -> tuple[Arrays, Arrays | None, str]:
    def number(batch: Path) -> int:
        found = re.fullmatch(r"data_batch_(\d+)\.bin", batch.name)
        return int(found.group(1)) if found else -1

    batches = sorted((b for b in folder.glob("data_batch_*.bin") if number(b) > 0), key=number)
    if not batches:
        raise UserError(
            f"{folder} holds no data_batch_N.bin (N = 1..5) beside its other data_batch_* files"
        )
    parts = [_cifar_batch(batch) for batch in batches]
    train = (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))
    test_path = folder / "test_batch.bin"
    test = _cifar_batch(test_path) if test_path.exists() else None
    return train, test, "CIFAR-10 binary batches"


@contextmanager
def _image(file: Path) -> Iterator[PIL.Image.Image]:
    """The opened image; a file PIL cannot decode, then or while reading pixels, or one of
    more than MAX_IMAGE_PIXELS pixels, is a user error."""
    if file.is_dir():
        raise UserError(f"{file} is a directory: an image file is expected there")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", PIL.Image.DecompressionBombWarning)
            with PIL.Image.open(file) as image:
                width, height = image.size
                if width * height > MAX_IMAGE_PIXELS:
                    raise UserError(
                        f"image {file} is {width}x{height}, above {MAX_IMAGE_PIXELS:,} pixels "
                        "(4096x4096): a decompression bomb? resize it first"
                    )
                yield image
    except IMAGE_ERRORS as error:  # PIL's UnidentifiedImageError is an OSError
        reason = " ".join((getattr(error, "strerror", None) or str(error)).split())
        raise UserError(f"cannot read image {file}: {reason or type(error).__name__}") from None


def _image_folder(folder: Path) -> Arrays:
    classes = [d for d in _entries(folder) if d.is_dir() and not d.name.startswith(".")]
    if not classes:
        raise UserError(
            f"{folder} holds no MNIST idx, CIFAR-10 .bin or class subfolders of PNG/JPEG images"
        )
    if len(classes) == 1:
        raise UserError(
            f"{folder} holds one class folder ({classes[0].name}): a classifier needs two or "
            "more, one subfolder per class"
        )
    files: list[tuple[Path, int]] = []
    for label, class_dir in enumerate(classes):
        images = [f for f in _entries(class_dir) if f.suffix.lower() in IMAGE_SUFFIXES]
        if not images:
            raise UserError(f"class folder {class_dir} holds no PNG or JPEG images")
        files += [(image, label) for image in images]
    headers = []  # (mode, size) from each file's header, before decoding any pixels
    for file, _ in files:
        with _image(file) as image:
            headers.append((image.mode, image.size))
    size = headers[0][1]
    for (file, _), (_, other) in zip(files, headers, strict=True):
        if other != size:
            raise UserError(
                f"{file} is {other[0]}x{other[1]} but {files[0][0]} is {size[0]}x{size[1]}: "
                "resize the images to one size first"
            )
    mode = "L" if all(image_mode in GRAYSCALE_MODES for image_mode, _ in headers) else "RGB"
    arrays = []
    for file, _ in files:
        with _image(file) as image:
            arrays.append(np.asarray(image.convert(mode), np.uint8))
    pixels = np.stack(arrays)
    x = pixels[:, None] if mode == "L" else pixels.transpose(0, 3, 1, 2)
    return x.astype(np.float32) / 255.0, np.array([label for _, label in files], np.int64)
