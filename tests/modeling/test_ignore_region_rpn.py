"""IgnoreRegionRPN: negative anchors on ignore regions are not trained (the released code)."""
import pytest
import torch
from detectron2.modeling import build_model
from detectron2.structures import Boxes, Instances
from helpers.modeling import tiny_cfg

from trackrcnn_d2.modeling import IgnoreRegionRPN
from trackrcnn_d2.modeling.proposal_generator import anchor_fraction_on_mask
from trackrcnn_d2.utils.cli import ConfigError


def test_anchor_fraction_on_mask_by_hand():
    mask = torch.zeros(10, 10, dtype=torch.bool)
    mask[:, :5] = True  # the left half
    boxes = torch.tensor(
        [[0, 0, 5, 10], [0, 0, 10, 10], [5, 0, 10, 10], [-5, 0, 5, 10], [2.4, 0, 4.6, 2],
         [-5, 0, 10, 10], [20, 20, 30, 30]]
    )  # fmt: skip
    # Only the part of a box inside the image counts: [-5, 0, 10, 10] is [0, 0, 10, 10].
    expected = [1.0, 0.5, 0.0, 1.0, 1.0, 0.5, 0.0]
    assert anchor_fraction_on_mask(boxes, mask).tolist() == pytest.approx(expected)


def test_frame_ignore_area_ratio_divides_by_the_frames_ignored_pixels():
    """The released ratio (datasets/util/Detection.py l. 154-166): ignored pixels inside the
    anchor / all ignored pixels of the frame (here 50 of them)."""
    mask = torch.zeros(10, 10, dtype=torch.bool)
    mask[:, :5] = True
    boxes = torch.tensor([[0.0, 0, 5, 10], [0, 0, 10, 10], [0, 0, 2, 2], [5, 0, 10, 10]])
    expected = [1.0, 1.0, 4 / 50, 0.0]
    assert anchor_fraction_on_mask(boxes, mask, "frame_ignore_area").tolist() == pytest.approx(
        expected
    )
    # The anchor ratio of the same boxes: a big anchor half on the region passes 0.7 only here.
    assert anchor_fraction_on_mask(boxes, mask, "anchor").tolist() == [1.0, 0.5, 1.0, 0.0]
    empty = torch.zeros(10, 10, dtype=torch.bool)
    assert anchor_fraction_on_mask(boxes, empty, "frame_ignore_area").tolist() == [0.0] * 4
    with pytest.raises(ValueError, match="frame_ignore_area"):
        anchor_fraction_on_mask(boxes, mask, "image")


def _labels(rpn, ignore_mask):
    # Anchors: one on the ground truth, two negatives on the ignore region, one off it.
    anchors = [Boxes(torch.tensor([[40.0, 0, 60, 20], [0, 0, 10, 10], [0, 20, 8, 30],
                                   [20, 40, 30, 50]]))]  # fmt: skip
    gt = Instances((64, 96), gt_boxes=Boxes(torch.tensor([[40.0, 0, 60, 20]])))
    rpn._ignore_masks = [ignore_mask]
    try:
        labels, _ = rpn.label_and_sample_anchors(anchors, [gt])
    finally:
        rpn._ignore_masks = None
    return labels[0].tolist()


def test_negatives_on_ignore_regions_are_not_trained():
    cfg = tiny_cfg("c4")
    cfg.MODEL.PROPOSAL_GENERATOR.NAME = "IgnoreRegionRPN"
    rpn = build_model(cfg).proposal_generator
    assert isinstance(rpn, IgnoreRegionRPN) and rpn.ignore_region_overlap == pytest.approx(0.7)
    ignore = torch.zeros(64, 96, dtype=torch.bool)
    ignore[:30, :10] = True
    ignore[:20, 40:60] = True  # under the ground truth too: positives stay positives
    assert _labels(rpn, None) == [1, 0, 0, 0]
    assert _labels(rpn, ignore) == [1, -1, -1, 0]
    rpn.ignore_region_overlap = 0.9  # the third anchor is 80 % on the region
    ignore[20:30, :10] = False
    ignore[22:30, :8] = True
    assert _labels(rpn, ignore) == [1, -1, 0, 0]


def test_frame_ignore_area_ratio_from_the_config():
    cfg = tiny_cfg("c4")
    cfg.MODEL.PROPOSAL_GENERATOR.NAME = "IgnoreRegionRPN"
    cfg.MODEL.RPN.IGNORE_REGION_RATIO = "frame_ignore_area"
    rpn = build_model(cfg).proposal_generator
    assert rpn.ignore_region_ratio == "frame_ignore_area"
    # One large region: the small negatives on it hold less than 0.7 of its pixels (trained),
    # though they lie wholly on it (not trained with the anchor ratio).
    ignore = torch.zeros(64, 96, dtype=torch.bool)
    ignore[:40, :30] = True
    assert _labels(rpn, ignore) == [1, 0, 0, 0]
    rpn.ignore_region_ratio = "anchor"
    assert _labels(rpn, ignore) == [1, -1, -1, 0]
    cfg.MODEL.RPN.IGNORE_REGION_RATIO = "box"
    with pytest.raises(ConfigError, match="IGNORE_REGION_RATIO"):
        build_model(cfg)


def test_track_rcnn_trains_with_ignore_masks():
    from detectron2.utils.events import EventStorage
    from test_track_rcnn import _synthetic_clip

    cfg = tiny_cfg("c4", clip_length=3)
    cfg.MODEL.PROPOSAL_GENERATOR.NAME = "IgnoreRegionRPN"
    model = build_model(cfg).train()
    clip = _synthetic_clip(3)
    for frame in clip:
        frame["ignore_mask"] = torch.ones(frame["image"].shape[1:], dtype=torch.bool)
    seen = []
    original = model.proposal_generator.label_and_sample_anchors

    def recording(anchors, gt_instances):
        seen.append([tuple(m.shape) for m in model.proposal_generator._ignore_masks])
        labels, boxes = original(anchors, gt_instances)
        seen.append([int((x == 0).sum()) for x in labels])
        return labels, boxes

    model.proposal_generator.label_and_sample_anchors = recording
    with EventStorage():
        losses = model(clip)
    assert torch.isfinite(sum(losses.values()))
    assert seen[0] == [(64, 128)] * 3  # TrackRCNN passed each frame's ignore_mask
    assert seen[1] == [0, 0, 0]  # every negative lies on the (whole-image) ignore region
