"""How many proposals and detections a two-stage detector's heads run on: set, seen, noted.

Faster, Mask and Keypoint R-CNN run their box head once per region proposal and their mask or
keypoint head once per detection, so their MACs follow how many there are, which a real
image decides. `heads_counted` makes the counts a parameter: it lets every candidate through
the score thresholds and non-maximum suppression and caps the kept ones at the counts asked,
so the heads run on exactly that many whatever the data (fewer only where the model has no
more candidates). One-stage detectors (RetinaNet, FCOS, SSD) run no head per detection.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from torch import nn
from torchvision.models.detection.generalized_rcnn import GeneralizedRCNN

from edgegap.errors import UserError


@dataclass(frozen=True)
class HeadCounts:
    """Per image: region proposals into the box head, detections into the mask or keypoint
    head. None: the model's own cap (its RPN's `post_nms_top_n`, its `detections_per_img`)."""

    proposals: int | None = None
    detections: int | None = None


# The counts each two-stage weight's published `_ops` corresponds to. torchvision measured
# every weight by running it (pytorch/vision PR #6936), so its heads ran on what that run
# yielded: the R-CNN ResNet-50 RPNs keep 1000 proposals (score threshold 0), the MobileNet ones
# none (threshold 0.05). Solved from the figures: with these counts edgegap's MACs equal each
# figure to its three decimals (tests/test_torchvision_families.py), and one proposal or
# detection more or less is off by 0.014 G or more. The two keypoint weights share one
# architecture and differ by exactly one keypoint-head pass. None: no head runs per unit.
PUBLISHED: dict[str, HeadCounts] = {
    "FasterRCNN_MobileNet_V3_Large_320_FPN_Weights.COCO_V1": HeadCounts(proposals=0),
    "FasterRCNN_MobileNet_V3_Large_FPN_Weights.COCO_V1": HeadCounts(proposals=0),
    "FasterRCNN_ResNet50_FPN_Weights.COCO_V1": HeadCounts(proposals=1000),
    "FasterRCNN_ResNet50_FPN_V2_Weights.COCO_V1": HeadCounts(proposals=1000),
    "MaskRCNN_ResNet50_FPN_Weights.COCO_V1": HeadCounts(proposals=1000, detections=0),
    "MaskRCNN_ResNet50_FPN_V2_Weights.COCO_V1": HeadCounts(proposals=1000, detections=100),
    "KeypointRCNN_ResNet50_FPN_Weights.COCO_LEGACY": HeadCounts(proposals=1000, detections=0),
    "KeypointRCNN_ResNet50_FPN_Weights.COCO_V1": HeadCounts(proposals=1000, detections=1),
}


def detection_head(model: GeneralizedRCNN) -> str | None:
    """The head a two-stage detector runs per detection ("mask", "keypoint"), or None."""
    heads: Any = model.roi_heads
    return "mask" if heads.has_mask() else "keypoint" if heads.has_keypoint() else None


def _check(model: nn.Module, counts: HeadCounts) -> None:
    """A count is an error where no head runs per that unit: it would change nothing."""
    kind = type(model).__name__
    if not isinstance(model, GeneralizedRCNN):
        if counts != HeadCounts():
            raise UserError(
                f"{kind} runs no head per proposal or detection: drop --proposals/--detections"
            )
        return
    if counts.detections is not None and detection_head(model) is None:
        raise UserError(f"{kind} runs no head per detection (its box head runs per proposal): "
                        "drop --detections, or set --proposals")  # fmt: skip
    for option, value in (("--proposals", counts.proposals), ("--detections", counts.detections)):
        if value is not None and value < 0:
            raise UserError(f"{option} takes a count of 0 or more, not {value}")


@dataclass
class HeadsSeen:
    """What the heads ran on in the traced pass, per image (empty: not a two-stage detector)."""

    head: str | None = None
    proposals: list[int] = field(default_factory=list)
    detections: list[int] = field(default_factory=list)
    source: str = ""

    def note(self) -> str:
        """One line: the counts the MACs were counted at and how to change them."""
        if not self.proposals:
            return ""
        counts = f"box head on {_per_image(self.proposals)} proposals"
        if self.head is not None:
            counts += f", {self.head} head on {_per_image(self.detections)} detections"
        options = "--proposals N" + (", --detections N" if self.head is not None else "")
        return f"{counts} per image ({self.source}; set them with {options})"


def _per_image(counts: list[int]) -> str:
    low, high = min(counts), max(counts)
    return f"{low}" if low == high else f"{low}-{high}"


@contextmanager
def heads_counted(
    model: nn.Module, counts: HeadCounts, source: str = "the model's own caps"
) -> Iterator[HeadsSeen]:
    """Within: a two-stage `model` keeps exactly `counts` proposals and detections (the model's
    caps where None), and the yielded record fills with what its heads ran on. The model's
    thresholds are restored on exit. `source` says where the counts come from, for the note."""
    _check(model, counts)
    if not isinstance(model, GeneralizedRCNN):
        yield HeadsSeen()
        return
    rpn, heads = model.rpn, model.roi_heads
    seen = HeadsSeen(head=detection_head(model), source=source)
    saved = _thresholds(model)
    proposals = rpn._post_nms_top_n["testing"] if counts.proposals is None else counts.proposals
    rpn._pre_nms_top_n = {**rpn._pre_nms_top_n, "testing": max(rpn._pre_nms_top_n["testing"],
                                                               proposals)}  # fmt: skip
    rpn._post_nms_top_n = {**rpn._post_nms_top_n, "testing": proposals}
    if counts.detections is not None:
        heads.detections_per_img = counts.detections
    for stage in (rpn, heads):  # every candidate passes: only the caps decide
        stage.score_thresh, stage.nms_thresh = -math.inf, 1.0
    hooks = (
        rpn.register_forward_hook(lambda m, a, out: seen.proposals.extend(map(len, out[0]))),
        heads.register_forward_hook(
            lambda m, a, out: seen.detections.extend(len(d["boxes"]) for d in out[0])
        ),
    )
    try:
        yield seen
    finally:
        for hook in hooks:
            hook.remove()
        _restore(model, saved)


def _thresholds(model: Any) -> dict[str, Any]:
    rpn, heads = model.rpn, model.roi_heads
    return {
        "rpn": (dict(rpn._pre_nms_top_n), dict(rpn._post_nms_top_n), rpn.score_thresh,
                rpn.nms_thresh),
        "heads": (heads.detections_per_img, heads.score_thresh, heads.nms_thresh),
    }  # fmt: skip


def _restore(model: Any, saved: dict[str, Any]) -> None:
    rpn, heads = model.rpn, model.roi_heads
    rpn._pre_nms_top_n, rpn._post_nms_top_n, rpn.score_thresh, rpn.nms_thresh = saved["rpn"]
    heads.detections_per_img, heads.score_thresh, heads.nms_thresh = saved["heads"]
