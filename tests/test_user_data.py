"""`--data-dir` loading on tiny synthetic files of each format: MNIST idx (plain and gzipped),
CIFAR-10 binary, image folders; shapes, labels, the seeded split, and every user error."""

import gzip

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from edgegap.errors import UserError
from edgegap.training.user_data import IDX_TYPES, load_data_dir, read_idx

IDX_CODES = {np.dtype(dtype).newbyteorder("="): code for code, dtype in IDX_TYPES.items()}


def write_idx(path, array, gz=False):
    array = np.asarray(array)
    header = bytes([0, 0, IDX_CODES[array.dtype], array.ndim])
    dims = np.array(array.shape, ">u4").tobytes()
    raw = header + dims + array.astype(array.dtype.newbyteorder(">")).tobytes()
    path.write_bytes(gzip.compress(raw) if gz else raw)


def distinct_images(count, shape, seed):
    """uint8 images whose first pixel is their index, so each can be found again."""
    images = np.random.default_rng(seed).integers(0, 256, (count, *shape), dtype=np.uint8)
    images.reshape(count, -1)[:, 0] = np.arange(count)
    return images


def label_of_each(data, images, labels, channels_last=False):
    """Check every loaded sample against the original with the same first pixel."""
    xs = torch.cat([data.x_train, data.x_val])
    ys = torch.cat([data.y_train, data.y_val])
    for x, y in zip(xs, ys, strict=True):
        index = round(float(x.flatten()[0]) * 255)
        original = images[index].transpose(2, 0, 1) if channels_last else images[index]
        np.testing.assert_allclose(x.numpy(), original.reshape(x.shape) / 255.0, atol=1e-6)
        assert int(y) == labels[index]


def sizes(data):
    return len(data.x_train), len(data.x_val), len(data.x_test)


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_idx_files_load_with_their_test_set(tmp_path, gz):
    images, labels = distinct_images(14, (4, 5), seed=0), np.arange(14) % 3
    suffix = ".gz" if gz else ""
    write_idx(tmp_path / f"train-images-idx3-ubyte{suffix}", images, gz)
    write_idx(tmp_path / f"train-labels-idx1-ubyte{suffix}", labels.astype(np.uint8), gz)
    write_idx(tmp_path / f"t10k-images-idx3-ubyte{suffix}", images[:3], gz)
    write_idx(tmp_path / f"t10k-labels-idx1-ubyte{suffix}", labels[:3].astype(np.uint8), gz)
    data = load_data_dir(tmp_path)
    assert data.sample_shape == (1, 4, 5) and data.classes == 3
    assert sizes(data) == (13, 1, 3)  # validation: 10% of all 17; t10k is the test set
    assert data.x_train.dtype == torch.float32 and data.y_train.dtype == torch.int64
    assert data.y_test.tolist() == [0, 1, 2] and "MNIST idx" in data.source
    label_of_each(data, images, labels)
    again = load_data_dir(tmp_path)
    assert torch.equal(again.x_train, data.x_train) and torch.equal(again.y_val, data.y_val)


def test_mnist_without_t10k_cuts_its_own_test_split(tmp_path):
    images, labels = distinct_images(20, (3, 3), seed=1), np.arange(20) % 4
    write_idx(tmp_path / "train-images-idx3-ubyte", images)
    write_idx(tmp_path / "train-labels-idx1-ubyte", labels.astype(np.uint8))
    data = load_data_dir(tmp_path)
    assert sizes(data) == (16, 2, 2)
    firsts = torch.cat([data.x_train, data.x_val, data.x_test])[:, 0, 0, 0] * 255
    assert sorted(firsts.round().int().tolist()) == list(range(20))  # a partition


@settings(max_examples=25, deadline=None)
@given(
    code=st.sampled_from(sorted(IDX_TYPES)),
    shape=st.lists(st.integers(0, 4), min_size=1, max_size=3),
    gz=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_read_idx_round_trips_every_element_type(tmp_path_factory, code, shape, gz, seed):
    dtype = np.dtype(IDX_TYPES[code]).newbyteorder("=")
    raw = np.random.default_rng(seed).integers(-100, 100, shape)
    array = raw.astype(np.uint8) if dtype == np.uint8 else raw.astype(dtype)
    path = tmp_path_factory.mktemp("idx") / ("a.idx.gz" if gz else "a.idx")
    write_idx(path, array, gz)
    loaded = read_idx(path)
    assert loaded.dtype == dtype and loaded.shape == tuple(shape)
    np.testing.assert_array_equal(loaded, array)


def test_corrupt_idx_files_are_user_errors(tmp_path):
    images = tmp_path / "train-images-idx3-ubyte"
    labels = tmp_path / "train-labels-idx1-ubyte"
    write_idx(labels, np.zeros(12, np.uint8))
    images.write_bytes(b"\x01\x00\x08\x03" + bytes(12))
    with pytest.raises(UserError, match="not an idx file \\(bad header\\)"):
        load_data_dir(tmp_path)
    images.write_bytes(b"\x00\x00\x08\x03\x00\x00")
    with pytest.raises(UserError, match="header cut short"):
        load_data_dir(tmp_path)
    write_idx(images, np.zeros((12, 2, 2), np.uint8))
    images.write_bytes(images.read_bytes()[:-1])
    with pytest.raises(UserError, match="its idx header promises"):
        load_data_dir(tmp_path)
    write_idx(images, np.zeros((11, 2, 2), np.uint8))
    with pytest.raises(UserError, match="11 images"):
        load_data_dir(tmp_path)
    labels.unlink()
    with pytest.raises(UserError, match="no train-labels-idx1-ubyte"):
        load_data_dir(tmp_path)
    images.unlink()
    write_idx(labels, np.zeros(12, np.uint8))
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(b"not gzip")
    with pytest.raises(UserError, match="cannot read"):
        load_data_dir(tmp_path)


def cifar_records(count, seed):
    images = distinct_images(count, (32, 32, 3), seed)  # channel planes written below
    labels = np.arange(count) % 10
    planes = images.transpose(0, 3, 1, 2).reshape(count, -1)
    raw = np.concatenate([labels[:, None].astype(np.uint8), planes], axis=1).tobytes()
    return images, labels, raw


def test_cifar10_binary_batches_load_in_channel_planes(tmp_path):
    images, labels, raw = cifar_records(12, seed=2)
    record = len(raw) // 12
    (tmp_path / "data_batch_1.bin").write_bytes(raw[: 7 * record])
    (tmp_path / "data_batch_2.bin").write_bytes(raw[7 * record :])
    (tmp_path / "test_batch.bin").write_bytes(cifar_records(3, seed=3)[2])
    (tmp_path / "batches.meta.txt").write_text("airplane\n")  # shipped with the binary version
    data = load_data_dir(tmp_path)
    assert data.sample_shape == (3, 32, 32) and sizes(data) == (11, 1, 3)
    assert data.classes == 10 and "CIFAR-10 binary" in data.source
    assert data.y_test.tolist() == [0, 1, 2]
    label_of_each(data, images, labels, channels_last=True)


def test_cifar10_python_version_and_bad_records_are_refused(tmp_path):
    (tmp_path / "data_batch_1").write_bytes(b"\x80\x04pickle")
    with pytest.raises(UserError, match=r"never unpickles.*binary version"):
        load_data_dir(tmp_path)
    (tmp_path / "data_batch_1").unlink()
    (tmp_path / "batches.meta").write_bytes(b"\x80\x04pickle")
    with pytest.raises(UserError, match="never unpickles"):
        load_data_dir(tmp_path)
    (tmp_path / "batches.meta").unlink()
    (tmp_path / "data_batch_1.bin").write_bytes(bytes(3074 * 10))  # CIFAR-100 records
    with pytest.raises(UserError, match="not a whole number of 3073-byte CIFAR-10 records"):
        load_data_dir(tmp_path)


def write_images(folder, per_class, size=(6, 7), mode="L", suffix=".png"):
    rng = np.random.default_rng(4)
    expected = []
    for label, name in enumerate(("cat", "dog")):
        (folder / name).mkdir(exist_ok=True)
        for index in range(per_class):
            channels = (size[1], size[0], 3) if mode == "RGB" else (size[1], size[0])
            pixels = rng.integers(0, 256, channels, dtype=np.uint8)
            Image.fromarray(pixels, mode).save(folder / name / f"{index}{suffix}")
            expected.append((pixels, label))
    return expected


def test_image_folders_load_grayscale_with_sorted_class_labels(tmp_path):
    expected = write_images(tmp_path, per_class=5)
    (tmp_path / "dog" / "notes.txt").write_text("ignored")
    data = load_data_dir(tmp_path)
    assert data.sample_shape == (1, 7, 6) and data.classes == 2 and sizes(data) == (8, 1, 1)
    xs = torch.cat([data.x_train, data.x_val, data.x_test])
    ys = torch.cat([data.y_train, data.y_val, data.y_test])
    loaded = sorted((x.numpy().tobytes(), int(y)) for x, y in zip(xs, ys, strict=True))
    wanted = sorted(((p / 255.0).astype(np.float32)[None].tobytes(), y) for p, y in expected)
    assert loaded == wanted


def test_one_colour_image_makes_the_set_rgb(tmp_path):
    write_images(tmp_path, per_class=5)
    colour = np.broadcast_to(np.array([200, 30, 90], np.uint8), (7, 6, 3))
    Image.fromarray(np.ascontiguousarray(colour), "RGB").save(tmp_path / "cat" / "9.jpg")
    data = load_data_dir(tmp_path)
    assert data.sample_shape == (3, 7, 6) and sizes(data) == (9, 1, 1)
    xs = torch.cat([data.x_train, data.x_val, data.x_test])
    coloured = [x for x in xs if not torch.equal(x, x[0:1].expand_as(x))]
    assert len(coloured) == 1  # the JPEG; each grayscale image is replicated over R, G, B


def test_image_folder_errors(tmp_path):
    write_images(tmp_path, per_class=3)
    with pytest.raises(UserError, match="holds 6 samples: give at least 10"):
        load_data_dir(tmp_path)
    Image.fromarray(np.zeros((5, 5), np.uint8), "L").save(tmp_path / "cat" / "big.png")
    with pytest.raises(UserError, match=r"big.png is 5x5 but .* is 6x7: resize"):
        load_data_dir(tmp_path)
    (tmp_path / "cat" / "big.png").write_bytes(b"not a png")
    with pytest.raises(UserError, match=r"cannot read image .*big.png"):
        load_data_dir(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match=r"class folder .*empty holds no PNG or JPEG"):
        load_data_dir(tmp_path)


def test_missing_empty_and_unrecognised_directories(tmp_path):
    with pytest.raises(UserError, match="is not a directory"):
        load_data_dir(tmp_path / "absent")
    with pytest.raises(UserError, match="is empty"):
        load_data_dir(tmp_path)
    (tmp_path / "readme.txt").write_text("hello")
    with pytest.raises(UserError, match=r"no MNIST idx, CIFAR-10 \.bin or class subfolders"):
        load_data_dir(tmp_path)
