"""Every torchvision family beyond classification (segmentation, detection, video, quantized,
optical flow): edgegap's MACs and parameters against each weight's published metadata, by
name, with every download made to fail."""

import socket
import urllib.request

import pytest
import torch.hub
import torchvision
from torchvision.models import _api, get_model_weights, list_models

import edgegap
from edgegap.workload import detection, zoo

FAMILIES = ("segmentation", "detection", "video", "quantization", "optical_flow")

# What a detector runs without a formula: selection (top-k, sort, non-zero, unique, NMS),
# masking, box arithmetic and RoI pooling. None multiplies and accumulates: `_ops` counts
# none of them, and edgegap lists them (bytes counted) rather than count them as zero.
DETECTOR_UNCOUNTED = {
    "aten.topk", "aten.sort", "aten.nonzero", "aten._unique2", "aten.index_put_", "aten.max",
    "aten.argmax", "aten.bitwise_and", "aten.log2", "aten.round", "aten.floor", "aten.ceil",
    "aten.remainder", "torchvision.nms", "torchvision.roi_align",
}  # fmt: skip


def _published(family):
    module = getattr(torchvision.models, family)
    return [
        (name, weights)
        for name in list_models(module=module)
        for weights in get_model_weights(name)
        if "_ops" in weights.meta
    ]


CASES = [
    pytest.param(
        name, weights, id=str(weights),
        marks=pytest.mark.slow,
    )
    for family in FAMILIES
    for name, weights in _published(family)
]  # fmt: skip


def _refuse(*args, **kwargs):
    raise AssertionError("a download was attempted")


@pytest.fixture
def offline(monkeypatch):
    """Every way torchvision could fetch weights, and the network itself, raise."""
    monkeypatch.setattr(_api, "load_state_dict_from_url", _refuse)
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", _refuse)
    monkeypatch.setattr(torch.hub, "download_url_to_file", _refuse)
    monkeypatch.setattr(urllib.request, "urlopen", _refuse)
    monkeypatch.setattr(socket.socket, "connect", _refuse)


def test_the_families_hold_every_published_figure_beyond_classification():
    counts = {family: len(_published(family)) for family in FAMILIES}
    assert counts == {"segmentation": 6, "detection": 13, "video": 10, "quantization": 14,
                      "optical_flow": 8}  # fmt: skip


def _within_rounding(gmacs, published):
    """torchvision rounds `_ops` to three decimals: the count must round to the figure."""
    return abs(gmacs - published) <= 0.0005 + 1e-9


@pytest.mark.parametrize(("name", "weights"), CASES)
def test_macs_and_params_match_published_metadata(offline, name, weights):
    meta = weights.meta
    default = weights == zoo.published_weights(name)
    counts = detection.PUBLISHED.get(str(weights), detection.HeadCounts())
    workload = (
        edgegap.profile(name) if default or counts == detection.HeadCounts()
        else edgegap.profile(name, proposals=counts.proposals, detections=counts.detections)
    )  # fmt: skip
    assert _within_rounding(workload.totals.macs / 1e9, meta["_ops"]), (
        workload.totals.macs, meta["_ops"])  # fmt: skip
    assert workload.totals.params + workload.unused_params == meta["num_params"]
    if zoo.family(name) == "detection":
        assert set(workload.uncounted_ops) <= DETECTOR_UNCOUNTED
        assert any(note.startswith("ran on real tensors") for note in workload.notes)
    else:
        assert workload.uncounted_ops == {}
        assert workload.notes == ()
    if counts.proposals is not None:
        assert f"box head on {counts.proposals} proposals" in workload.notes[0]


def _two_stage(name):
    return get_model_weights(name).DEFAULT.__class__.__module__.rsplit(".", 1)[-1] in (
        "faster_rcnn", "mask_rcnn", "keypoint_rcnn")  # fmt: skip


def test_every_two_stage_weight_has_the_counts_its_figure_is_for():
    two_stage = {str(w) for name, w in _published("detection") if _two_stage(name)}
    assert set(detection.PUBLISHED) == two_stage
    assert len(two_stage) == 8


def test_segmentation_is_built_as_published_with_its_auxiliary_head_and_no_download(offline):
    """The issue's example: fcn_resnet50 tried to download its backbone; built without, it
    lost its auxiliary classifier (142.7 G MACs and 32,957,013 parameters)."""
    meta = get_model_weights("fcn_resnet50").DEFAULT.meta
    workload = edgegap.profile("fcn_resnet50")
    assert workload.input_shape == (1, 3, 520, 520)
    assert _within_rounding(workload.totals.macs / 1e9, meta["_ops"])
    assert workload.totals.params == meta["num_params"] == 35_322_218
    assert any(layer.name.startswith("aux_classifier") for layer in workload.layers)


@pytest.mark.parametrize("family", ["segmentation", "detection"])
def test_no_builder_downloads(offline, family):
    """Every segmentation and detection architecture, built empty and (one of each) real."""
    names = list_models(module=getattr(torchvision.models, family))
    for name in names:
        zoo.build_torchvision(name, zoo.default_input_shape(name))
    small = {"segmentation": "lraspp_mobilenet_v3_large",
             "detection": "ssdlite320_mobilenet_v3_large"}[family]  # fmt: skip
    model = zoo.build_torchvision(small, (1, 3, 320, 320), empty=False)
    assert next(model.parameters()).device.type == "cpu"


def test_default_inputs_are_those_the_figures_are_for():
    assert zoo.default_input_shape("r3d_18") == (1, 3, zoo.VIDEO_FRAMES, 112, 112)
    assert zoo.default_input_shape("deeplabv3_resnet50") == (1, 3, 520, 520)
    assert zoo.default_input_shape("fasterrcnn_resnet50_fpn") == (1, 3, 800, 800)
    assert zoo.default_input_shape("fasterrcnn_mobilenet_v3_large_320_fpn") == (1, 3, 320, 320)
    assert zoo.default_input_shape("ssd300_vgg16") == (1, 3, 300, 300)
    assert zoo.default_input_shape("raft_small") is None
    assert [i.shape for i in zoo.default_inputs("raft_small")] == [(1, 3, 512, 512)] * 2


def test_raft_takes_two_images(offline):
    one = edgegap.profile("raft_small", inputs=["1x3x128x128", "1x3x128x128"])
    two = edgegap.profile("raft_small", inputs=["1x3x128x256", "1x3x128x256"])
    assert 0 < one.totals.macs < two.totals.macs
    assert [i.shape for i in one.inputs] == [(1, 3, 128, 128)] * 2
