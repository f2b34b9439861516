"""The real-tensor fallback (a data-dependent operator on the meta device) and a two-stage
detector's proposal and detection counts, on models small enough to run at once."""

import textwrap

import pytest
import torch
from cli_checks import one_line_error, runner
from torch import nn

import edgegap
from edgegap.cli import app
from edgegap.errors import UserError
from edgegap.workload.real_tensors import RealRunLimits, refused_by_meta
from edgegap.workload.zoo import build_empty

DETECTORS = textwrap.dedent(
    """
    import torch
    from torch import nn
    from torchvision.models.detection import FasterRCNN, MaskRCNN
    from torchvision.models.detection.anchor_utils import AnchorGenerator
    from torchvision.ops import MultiScaleRoIAlign

    def _parts():
        backbone = nn.Sequential(nn.Conv2d(3, 8, 3, stride=4, padding=1), nn.ReLU())
        backbone.out_channels = 8
        return dict(
            backbone=backbone, num_classes=3, min_size=64, max_size=64,
            rpn_anchor_generator=AnchorGenerator(((16,),), ((1.0,),)),
            box_roi_pool=MultiScaleRoIAlign(["0"], 7, 2),
        )

    def mask():
        return MaskRCNN(**_parts(), mask_roi_pool=MultiScaleRoIAlign(["0"], 14, 2))

    def faster():
        return FasterRCNN(**_parts())

    class Selects(nn.Module):
        '''Keeps the positive outputs of a linear layer: their number depends on the data.'''

        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(4, 4)

        def forward(self, x):
            y = self.linear(x)
            return y[y.nonzero(as_tuple=True)]

    def selects():
        return Selects()

    class Probes(nn.Module):
        '''Computes with its weights and a CPU tensor while it builds, as timm's hybrid
        vision transformers do (a zero image through a weight-standardised backbone, to learn
        its width): on the meta device the two tensors' devices clash.'''

        def __init__(self):
            super().__init__()
            self.stem = nn.Conv2d(3, 4, 3, stride=2)
            probe = self.stem.weight.sum() + torch.zeros(16, device="cpu")
            self.head = nn.Linear(4 * probe.numel(), 2)

        def forward(self, x):
            return self.head(self.stem(x).flatten(1))

    def probes():
        return Probes()
    """
)


@pytest.fixture
def models(tmp_path, monkeypatch):
    (tmp_path / "tiny_detectors.py").write_text(DETECTORS)
    monkeypatch.syspath_prepend(str(tmp_path))
    return "tiny_detectors"


def test_a_data_dependent_operator_runs_on_real_tensors_and_says_so(models):
    workload = edgegap.profile(f"{models}:selects", (2, 4))
    assert workload.totals.macs == 2 * 4 * 4
    assert workload.notes == (
        "ran on real tensors on the CPU (zeros in, weights drawn from seed 0): the meta device "
        "could not run aten.nonzero",
    )


def test_the_real_run_is_deterministic_and_leaves_torchs_generator_alone(models):
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    first = edgegap.profile(f"{models}:mask", (1, 3, 64, 64), proposals=4, detections=2)
    assert torch.equal(torch.random.get_rng_state(), before)
    assert edgegap.profile(f"{models}:mask", (1, 3, 64, 64), proposals=4, detections=2) == first


def test_a_module_built_on_meta_is_told_to_come_on_the_cpu(models):
    from tiny_detectors import Selects

    with pytest.raises(UserError, match=r"cannot be traced on the meta device .* on the CPU"):
        edgegap.profile(build_empty(Selects), (2, 4))
    assert edgegap.profile(Selects(), (2, 4)).notes == ()  # on the CPU: traced as it is


def test_the_memory_bound_stops_a_real_run(models):
    spec = f"{models}:mask"
    with pytest.raises(UserError, match=r"weights alone take .* GB, above the 1e-09 GB bound"):
        edgegap.profile(spec, (1, 3, 64, 64), limits=RealRunLimits(max_bytes=1))
    state = _state_bytes(spec)
    with pytest.raises(UserError, match=r"passed its memory bound, .* at aten\."):
        edgegap.profile(spec, (1, 3, 64, 64), limits=RealRunLimits(max_bytes=state + 1))
    room = RealRunLimits(max_bytes=state + 10**9, max_seconds=600)
    assert edgegap.profile(spec, (1, 3, 64, 64), limits=room).totals.macs > 0


def _state_bytes(spec):
    from edgegap.workload.profile import load_callable

    model = load_callable(spec, empty=False)
    return sum(t.numel() * t.element_size() for t in [*model.parameters(), *model.buffers()])


def test_a_builder_the_meta_device_cannot_build_builds_on_the_cpu_and_says_so(models):
    workload = edgegap.profile(f"{models}:probes", (1, 3, 9, 9))
    assert workload.totals.macs == 4 * 16 * 27 + 64 * 2  # stem 4x4 outputs of 4, head 64 -> 2
    (note,) = workload.notes
    assert note.startswith("built with real weights (drawn from seed 0) on the CPU, then traced")
    assert "cannot build on the meta device (" in note and "failed to build the model" in note
    with pytest.raises(UserError, match=r"builds only with its weights allocated .* above the"):
        edgegap.profile(f"{models}:probes", (1, 3, 9, 9), limits=RealRunLimits(max_bytes=1))


def test_the_time_bound_stops_a_real_run(models):
    with pytest.raises(UserError, match=r"passed its time bound, 0 s, at aten\..*max_seconds"):
        edgegap.profile(f"{models}:mask", (1, 3, 64, 64), limits=RealRunLimits(max_seconds=0))


def test_only_the_meta_devices_refusals_fall_back():
    on_meta = torch.empty(1, device="meta")
    with pytest.raises(RuntimeError) as refusal:
        on_meta.item()
    assert refused_by_meta(refusal.value)
    assert not refused_by_meta(RuntimeError("mat1 and mat2 shapes cannot be multiplied"))


def _heads(workload, prefix):
    """How many regions each layer under `prefix` ran on (its input's leading dimension)."""
    return {layer.input_shapes[0][0] for layer in workload.layers
            if layer.name.startswith(prefix) and layer.input_shapes}  # fmt: skip


@pytest.mark.parametrize(("proposals", "detections"), [(5, 0), (5, 1), (5, 3), (0, 0)])
def test_the_heads_run_on_exactly_the_counts_asked(models, proposals, detections):
    workload = edgegap.profile(
        f"{models}:mask", (1, 3, 64, 64), proposals=proposals, detections=detections
    )
    assert _heads(workload, "roi_heads.box_head") == {proposals}
    assert _heads(workload, "roi_heads.mask_head") == {detections}
    assert workload.notes[0] == (
        f"box head on {proposals} proposals, mask head on {detections} detections per image "
        "(as asked; set them with --proposals N, --detections N)"
    )


def test_each_detection_adds_one_mask_head_pass(models):
    macs = [
        edgegap.profile(f"{models}:mask", (1, 3, 64, 64), proposals=5, detections=d).totals.macs
        for d in (0, 1, 3)
    ]
    per_detection = macs[1] - macs[0]
    assert per_detection > 0
    assert macs[2] - macs[0] == 3 * per_detection


def test_without_counts_a_detector_runs_at_its_own_caps(models):
    workload = edgegap.profile(f"{models}:mask", (1, 3, 64, 64))
    # torchvision's defaults: 1000 proposals kept after NMS, 100 detections per image; this
    # small model's one feature map has 16x16 anchors, fewer than 1000.
    assert _heads(workload, "roi_heads.box_head") == {16 * 16}
    assert _heads(workload, "roi_heads.mask_head") == {100}
    assert "(the model's own caps;" in workload.notes[0]


@pytest.mark.slow
def test_the_published_counts_are_the_default_for_a_torchvision_detector():
    workload = edgegap.profile("fasterrcnn_mobilenet_v3_large_320_fpn")
    assert workload.notes[0] == (
        "box head on 0 proposals per image (the counts torchvision's published _ops for "
        "FasterRCNN_MobileNet_V3_Large_320_FPN_Weights.COCO_V1 are for; set them with "
        "--proposals N)"
    )


@pytest.mark.parametrize(
    ("spec", "options", "message"),
    [
        ("faster", ["--detections", "3"], "runs no head per detection"),
        ("mask", ["--detections", "-1"], "--detections takes a count of 0 or more"),
        ("selects", ["--proposals", "3"], "Selects runs no head per proposal or detection"),
    ],
)
def test_a_count_that_changes_nothing_is_one_line(models, spec, options, message):
    shape = "2,4" if spec == "selects" else "1,3,64,64"
    line = one_line_error("profile", f"{models}:{spec}", "--input-shape", shape, *options)
    assert message in line


def test_the_cli_prints_the_counts_and_the_path(models):
    result = runner.invoke(
        app,
        ["profile", f"{models}:mask", "--input-shape", "1,3,64,64", "--detections", "2",
         "--proposals", "4"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    notes = [line for line in result.stderr.splitlines() if line.startswith("note:")]
    assert notes[0] == (
        f"note: {models}:mask: box head on 4 proposals, mask head on 2 detections per image "
        "(as asked; set them with --proposals N, --detections N)"
    )
    assert notes[1].startswith(f"note: {models}:mask: ran on real tensors on the CPU")


def test_a_plain_model_gets_no_count_and_no_note():
    model = nn.Sequential(nn.Linear(3, 2))
    assert edgegap.profile(model, (1, 3)).notes == ()
