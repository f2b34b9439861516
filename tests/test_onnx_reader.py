"""The ONNX front-end: hand-built graphs with hand-counted MACs, FLOPs and parameters, the
errors a user can fix, and (slow) agreement with the PyTorch tracer on exported models."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import edgegap
from edgegap import UserError, Workload
from edgegap.workload.layer import Gemm
from edgegap.workload.onnx_reader import profile_onnx
from edgegap.workload.shapes import ModelInput

FLOAT = TensorProto.FLOAT
Dims = Sequence[int | str | None]


def value(name: str, shape: Dims, elem_type: int = FLOAT) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, elem_type, shape)


def weight(name: str, shape: Sequence[int]) -> onnx.TensorProto:
    values = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    return numpy_helper.from_array(values, name)


def ints(name: str, values: Sequence[int]) -> onnx.TensorProto:
    return numpy_helper.from_array(np.array(values, dtype=np.int64), name)


def save(
    tmp_path: Path,
    nodes: list[onnx.NodeProto],
    inputs: list[onnx.ValueInfoProto],
    outputs: list[onnx.ValueInfoProto],
    initializers: Sequence[onnx.TensorProto] = (),
    opset: int = 20,
    **domains: int,
) -> Path:
    graph = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(initializers))
    imports = [helper.make_opsetid("", opset)]
    imports += [helper.make_opsetid(domain, version) for domain, version in domains.items()]
    path = tmp_path / "model.onnx"
    onnx.save(helper.make_model(graph, opset_imports=imports), path)
    return path


def read(path: Path, input_shape: Sequence[int] | None = None, bits: int | None = None) -> Workload:
    given = None if input_shape is None else [ModelInput(tuple(input_shape))]
    return profile_onnx(path, given, bits, "test")


def conv_model(tmp_path: Path, x: Dims = (1, 4, 8, 8), **attrs: Any) -> Path:
    """Conv of 4 -> 6 channels in 2 groups, 3x3 kernel, with bias, then a ReLU."""
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["y"], group=2, **attrs),
        helper.make_node("Relu", ["y"], ["z"]),
    ]
    initializers = [weight("w", (6, 2, 3, 3)), weight("b", (6,))]
    return save(tmp_path, nodes, [value("x", x)], [value("z", [None] * 4)], initializers)


@pytest.mark.parametrize(
    ("attrs", "side"),
    [
        ({"strides": [2, 2], "pads": [1, 1, 1, 1]}, 4),
        ({"strides": [2, 2], "auto_pad": "SAME_UPPER"}, 4),
        ({"dilations": [2, 2]}, 4),
        ({"pads": [1, 1, 1, 1]}, 8),
    ],
)
def test_grouped_conv(tmp_path: Path, attrs: dict[str, Any], side: int) -> None:
    conv, relu = read(conv_model(tmp_path, **attrs)).layers
    positions = side * side
    # each of 6 output channels reads 2 input channels x 3 x 3 taps at every output position
    macs = 6 * 2 * 9 * positions
    assert (conv.name, conv.op, conv.kind) == ("Conv_0", "onnx::Conv", "conv")
    assert conv.output_shape == (1, 6, side, side)
    assert conv.macs == macs
    assert conv.flops == 2 * macs + 6 * positions  # plus one bias add per output
    assert conv.gemms == (Gemm(groups=2, m=positions, k=2 * 9, n=3, weighted=True),)
    assert (conv.params, conv.weight_elements) == (6 * 2 * 9 + 6, 6 * 2 * 9 + 6)
    assert (conv.input_elements, conv.output_elements) == (4 * 8 * 8, 6 * positions)
    assert (relu.kind, relu.macs, relu.flops, relu.params) == ("activation", 0, 6 * positions, 0)


def test_gemm_transposed_weight_and_bias(tmp_path: Path) -> None:
    node = helper.make_node("Gemm", ["a", "w", "c"], ["y"], transB=1, name="fc")
    initializers = [weight("w", (16, 8)), weight("c", (16,))]
    path = save(tmp_path, [node], [value("a", (2, 8))], [value("y", (2, 16))], initializers)
    (fc,) = read(path).layers
    assert (fc.name, fc.kind, fc.macs, fc.flops) == ("fc", "matmul", 2 * 8 * 16, 2 * 256 + 32)
    assert fc.gemms == (Gemm(1, 2, 8, 16, weighted=True),)
    assert fc.params == 16 * 8 + 16


def test_batched_matmul_with_bias_split_across_nodes(tmp_path: Path) -> None:
    """(2, 3, 4, 5) @ (3, 5, 6) broadcasts to 6 products of 4x5 @ 5x6; the bias Add that
    follows is element-wise work."""
    nodes = [
        helper.make_node("MatMul", ["a", "w"], ["p"]),
        helper.make_node("Add", ["p", "b"], ["y"]),
    ]
    initializers = [weight("w", (3, 5, 6)), weight("b", (6,))]
    path = save(
        tmp_path, nodes, [value("a", (2, 3, 4, 5))], [value("y", (2, 3, 4, 6))], initializers
    )
    matmul, add = read(path).layers
    assert matmul.gemms == (Gemm(6, 4, 5, 6, weighted=True),)
    assert (matmul.macs, matmul.flops, matmul.params) == (720, 1440, 90)
    assert (add.kind, add.macs, add.flops, add.params) == ("elementwise", 0, 144, 6)


def test_products_by_initializers_are_weighted(tmp_path: Path) -> None:
    """A MatMul by a transposed initializer (folded, as a runtime folds it) multiplies by a
    weight; one of two computed tensors, as in attention's Q K^T, does not."""
    nodes = [
        helper.make_node("Transpose", ["w"], ["wt"], perm=[1, 0]),
        helper.make_node("MatMul", ["x", "wt"], ["h"]),
        helper.make_node("Transpose", ["h"], ["ht"], perm=[1, 0]),
        helper.make_node("MatMul", ["h", "ht"], ["y"]),
    ]
    path = save(tmp_path, nodes, [value("x", (3, 4))], [value("y", (3, 3))], [weight("w", (5, 4))])
    projection, _, scores = read(path).layers
    assert projection.gemms == (Gemm(1, 3, 4, 5, weighted=True),)
    assert projection.weight_elements == 20
    assert scores.gemms == (Gemm(1, 3, 5, 3, weighted=False),)
    assert scores.weight_elements == 0


def test_shared_and_unused_initializers(tmp_path: Path) -> None:
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["h"]),
        helper.make_node("MatMul", ["h", "w"], ["y"]),
    ]
    initializers = [weight("w", (4, 4)), weight("unused", (3, 3))]
    path = save(tmp_path, nodes, [value("x", (1, 4))], [value("y", (1, 4))], initializers)
    workload = read(path)
    assert [layer.params for layer in workload.layers] == [16, 0]
    assert [layer.weight_elements for layer in workload.layers] == [16, 16]
    assert (workload.totals.params, workload.unused_params) == (16, 9)


def test_folding_aliases_and_uncounted_ops(tmp_path: Path) -> None:
    """Shape arithmetic folds away, reshapes are not recorded, and op types without a formula
    are recorded as uncounted, including ops of other domains."""
    nodes = [
        helper.make_node("Shape", ["x"], ["s"]),
        helper.make_node("Concat", ["s", "minus_one"], ["target"], axis=0),  # static: folded
        helper.make_node("Reshape", ["x", "target"], ["r"]),
        helper.make_node("Round", ["r"], ["q"]),
        helper.make_node("Foo", ["q"], ["y"], domain="custom"),
    ]
    path = save(
        tmp_path,
        nodes,
        [value("x", (2, 3))],
        [value("y", [None])],
        [ints("minus_one", [-1])],
        custom=1,
    )
    workload = read(path)
    assert [(layer.op, layer.kind) for layer in workload.layers] == [
        ("onnx::Round", "uncounted"),
        ("onnx::custom.Foo", "uncounted"),
    ]
    assert workload.layers[0].output_shape == (2, 3, 1)
    assert workload.uncounted_ops == {"onnx::Round": 1, "onnx::custom.Foo": 1}


def test_peak_activation_liveness(tmp_path: Path) -> None:
    """x dies after the ReLU; a (the ReLU output) lives until the Add, beside b and y."""
    nodes = [
        helper.make_node("Relu", ["x"], ["a"]),
        helper.make_node("Sigmoid", ["a"], ["b"]),
        helper.make_node("Add", ["a", "b"], ["y"]),
    ]
    path = save(tmp_path, nodes, [value("x", (1, 4))], [value("y", (1, 4))])
    assert read(path).peak_activation_bytes == 3 * 4 * 4
    int8 = read(path, bits=8)
    assert int8.peak_activation_bytes == 3 * 4
    assert {(layer.weight_bits, layer.activation_bits) for layer in int8.layers} == {(8, 8)}


def test_bits_follow_element_types(tmp_path: Path) -> None:
    node = helper.make_node("Relu", ["x"], ["y"])
    f16 = TensorProto.FLOAT16
    path = save(tmp_path, [node], [value("x", (1, 8), f16)], [value("y", (1, 8), f16)])
    (relu,) = read(path).layers
    assert (relu.activation_bits, relu.output_bytes) == (16, 16)


def test_symbolic_batch_and_input_shape(tmp_path: Path) -> None:
    per_image = 6 * 2 * 9 * 16
    path = conv_model(tmp_path, x=("N", 4, 8, 8), strides=[2, 2], pads=[1, 1, 1, 1])
    assert read(path).input_shape == (1, 4, 8, 8)
    assert read(path).totals.macs == per_image
    assert read(path, (3, 4, 8, 8)).totals.macs == 3 * per_image
    assert read(path, (1, 4, 16, 16)).totals.macs == 4 * per_image


def test_unknown_dimensions_need_an_input_shape(tmp_path: Path) -> None:
    path = conv_model(tmp_path, x=("N", 4, "H", "W"), pads=[1, 1, 1, 1])
    with pytest.raises(UserError, match="--input-shape"):
        read(path)
    assert read(path, (1, 4, 8, 8)).totals.macs == 6 * 2 * 9 * 64
    with pytest.raises(UserError, match="rank 4"):
        read(path, (4, 8, 8))


def test_shapes_inference_cannot_follow(tmp_path: Path) -> None:
    nodes = [
        helper.make_node("Foo", ["x"], ["h"], domain="custom"),
        helper.make_node("MatMul", ["h", "w"], ["y"]),
    ]
    path = save(
        tmp_path, nodes, [value("x", (1, 4))], [value("y", [None])], [weight("w", (4, 4))], custom=1
    )
    with pytest.raises(UserError, match="cannot determine the shapes of node 'MatMul_1'"):
        read(path)


def test_missing_and_corrupt_files(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no ONNX file"):
        edgegap.profile(str(tmp_path / "missing.onnx"))
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(np.random.default_rng(0).bytes(512))
    with pytest.raises(UserError, match="not a valid ONNX model"):
        edgegap.profile(str(bad))
    bad.write_bytes(b"")
    with pytest.raises(UserError, match="not a valid ONNX model"):
        read(bad)


def test_embedding_gather_and_activation_gather(tmp_path: Path) -> None:
    nodes = [
        helper.make_node("Gather", ["table", "ids"], ["e"]),
        helper.make_node("Gather", ["e", "first"], ["y"], axis=1),
    ]
    path = save(
        tmp_path,
        nodes,
        [value("ids", (1, 5), TensorProto.INT64)],
        [value("y", (1, 16))],
        [weight("table", (100, 16)), numpy_helper.from_array(np.array(0), "first")],
    )
    embedding, select = read(path).layers
    assert (embedding.kind, embedding.flops, embedding.params) == ("embedding", 0, 1600)
    assert (select.kind, select.flops, select.params) == ("movement", 0, 0)


def test_a_cache_written_by_scatter_nd_is_copied_whole(tmp_path: Path) -> None:
    """An exported decode step writes its token into the cache by a ScatterND, which makes a
    new tensor: the whole cache is read and written, the token's row read besides; IsNaN is
    one comparison an element."""
    nodes = [
        helper.make_node("ScatterND", ["cache", "slot", "token"], ["written"]),
        helper.make_node("IsNaN", ["written"], ["nan"]),
    ]
    path = save(
        tmp_path,
        nodes,
        [value("cache", (1, 2, 9, 4)), value("token", (1, 2, 1, 4))],
        [value("nan", (1, 2, 9, 4), TensorProto.BOOL)],
        [numpy_helper.from_array(np.array([[[[0, 0, 8]], [[0, 1, 8]]]]), "slot")],
    )  # the token's keys at slot 8 of each of the two heads
    workload = read(path)
    assert workload.uncounted_ops == {}
    scatter, nan = workload.layers
    assert (scatter.kind, scatter.flops, scatter.output_elements) == ("movement", 0, 72)
    assert scatter.input_elements == 72 + 8
    assert (nan.kind, nan.flops) == ("elementwise", 72)


def test_einsum_contraction(tmp_path: Path) -> None:
    node = helper.make_node("Einsum", ["a", "b"], ["y"], equation="bij,bjk->bik")
    path = save(
        tmp_path, [node], [value("a", (2, 3, 4)), value("b", (2, 4, 5))], [value("y", (2, 3, 5))]
    )
    (einsum,) = read(path).layers
    gemm = Gemm(2, 3, 4, 5, weighted=False)  # two graph inputs: activations
    assert (einsum.kind, einsum.macs, einsum.gemms) == ("matmul", 120, (gemm,))


def test_attention_opset_23(tmp_path: Path) -> None:
    """4 query heads of 8 over 12 keys in 2 shared key/value heads: 4 x 10 x 12 x (8 + 8)."""
    node = helper.make_node("Attention", ["q", "k", "v"], ["y"], q_num_heads=4, kv_num_heads=2)
    inputs = [value("q", (1, 10, 32)), value("k", (1, 12, 16)), value("v", (1, 12, 16))]
    path = save(tmp_path, [node], inputs, [value("y", (1, 10, 32))], opset=23)
    (attention,) = read(path).layers
    assert (attention.kind, attention.macs) == ("attention", 4 * 10 * 12 * 16)
    assert attention.gemms == (Gemm(4, 10, 8, 12, False), Gemm(4, 10, 12, 8, False))


def test_pooling_norm_and_resize(tmp_path: Path) -> None:
    nodes = [
        helper.make_node("BatchNormalization", ["x", "g", "b", "mean", "var"], ["n"]),
        helper.make_node("MaxPool", ["n"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Resize", ["p", "", "scales"], ["r"], mode="linear"),
        helper.make_node("GlobalAveragePool", ["r"], ["y"]),
    ]
    stats = [weight(name, (3,)) for name in ("g", "b", "mean", "var")]
    scales = numpy_helper.from_array(np.array([1, 1, 2, 2], dtype=np.float32), "scales")
    path = save(
        tmp_path, nodes, [value("x", (1, 3, 4, 4))], [value("y", (1, 3, 1, 1))], [*stats, scales]
    )
    norm, pool, resize, average = read(path).layers
    # running mean and variance are read, but are statistics, not parameters
    assert (norm.kind, norm.flops, norm.params, norm.weight_elements) == ("norm", 96, 6, 12)
    assert (pool.output_shape, pool.flops) == ((1, 3, 2, 2), 12 * 4)
    assert (resize.kind, resize.output_shape, resize.flops) == ("upsample", (1, 3, 4, 4), 9 * 48)
    assert (average.kind, average.flops) == ("pool", 48 + 3)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["resnet18", "vit_b_16"])
def test_exported_torchvision_model_matches_pytorch(tmp_path: Path, name: str) -> None:
    """The exporter's optimiser would fold batch norms into convolutions and merge equal
    initializers, changing the parameter set: export without it to compare parameters."""
    pytest.importorskip("onnxscript")
    import torch
    import torchvision

    model = torchvision.models.get_model(name).eval()
    path = tmp_path / f"{name}.onnx"
    start = time.perf_counter()
    torch.onnx.export(model, (torch.zeros(1, 3, 224, 224),), path, dynamo=True, optimize=False)
    print(f"{name}: exported in {time.perf_counter() - start:.1f} s")
    onnx_workload = edgegap.profile(str(path))
    torch_workload = edgegap.profile(name)
    onnx_totals, torch_totals = onnx_workload.totals, torch_workload.totals
    print(f"{name}: MACs ONNX {onnx_totals.macs}, PyTorch {torch_totals.macs}")
    assert onnx_totals.macs == pytest.approx(torch_totals.macs, rel=0.01)
    assert onnx_totals.params == torch_totals.params

    # Both front ends agree on which products multiply by a weight: every convolution and
    # linear layer does, attention's two products per block (none in resnet18) do not.
    def macs_by_weighted(workload: Workload) -> dict[bool, int]:
        macs = {True: 0, False: 0}
        for layer in workload.layers:
            for gemm in layer.gemms:
                macs[gemm.weighted] += gemm.macs
            assert layer.weight_elements > 0 or not any(g.weighted for g in layer.gemms)
        return macs

    onnx_macs, torch_macs = macs_by_weighted(onnx_workload), macs_by_weighted(torch_workload)
    assert onnx_macs[True] == pytest.approx(torch_macs[True], rel=0.01)
    assert onnx_macs[False] == pytest.approx(torch_macs[False], rel=0.01)
    assert (torch_macs[False] > 0) == (name == "vit_b_16")
    convs = [layer for layer in onnx_workload.layers if layer.kind == "conv"]
    assert convs and all(g.weighted for layer in convs for g in layer.gemms)


def test_weights_stored_beside_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A model saved with external data (every tensor, its shape constants too, as a model
    over 2 GB is) reads from its directory, from any working directory; without its data file
    the error names the file to copy."""
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["h"]),
        helper.make_node("Reshape", ["h", "shape"], ["y"]),
    ]
    shape = numpy_helper.from_array(np.array([1, 8, 8], dtype=np.int64), "shape")
    small = save(tmp_path, nodes, [value("x", (1, 64))], [value("y", (1, 8, 8))],
                 [weight("w", (64, 64)), shape])  # fmt: skip
    stored = tmp_path / "stored" / "model.onnx"
    stored.parent.mkdir()
    onnx.save_model(onnx.load(small), stored, save_as_external_data=True,
                    location="model.onnx.data", size_threshold=0)  # fmt: skip
    monkeypatch.chdir(tmp_path)
    assert read(stored).layers == read(small).layers
    (stored.parent / "model.onnx.data").unlink()
    with pytest.raises(UserError, match=r"keeps its weights in 'model.onnx.data'.*copy that file"):
        edgegap.profile(str(stored))
