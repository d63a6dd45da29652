"""Each detection carries the association vector of the proposal it was decoded from, after
score thresholding and NMS have removed some proposals (both ROI heads, two images).

The heads are made transparent: a proposal's box feature is its own box, the association
vector is that feature (identity layer), the box regression is zero and the class scores come
from a table. So the vector of a detection must equal its box, and the surviving boxes are the
ones the scene's overlaps leave to NMS (0.5): in each overlapping pair the higher score wins.
"""
import torch
from detectron2.modeling import build_model
from detectron2.structures import Boxes, Instances
from helpers.modeling import tiny_cfg
from torch import nn

IMAGE = (64, 96)
# Per image: (box, car score); the first two pairs overlap with IoU > 0.5 (NMS keeps one).
PROPOSALS = [
    [([10, 10, 30, 40], 0.90), ([50, 5, 70, 25], 0.60), ([11, 10, 31, 41], 0.95),
     ([40, 40, 60, 60], 0.30), ([51, 5, 71, 26], 0.80), ([80, 50, 90, 60], 0.02)],
    [([5, 5, 25, 25], 0.70), ([6, 6, 26, 26], 0.20), ([60, 30, 80, 60], 0.85)],
]  # fmt: skip
EXPECTED = [
    {(11, 10, 31, 41), (40, 40, 60, 60), (51, 5, 71, 26)},  # the 0.02 one is under the threshold
    {(5, 5, 25, 25), (60, 30, 80, 60)},
]


def _transparent_heads(features):
    cfg = tiny_cfg(features)
    cfg.MODEL.MASK_ON = False
    cfg.MODEL.ROI_HEADS.SCORE_THRESH_TEST = 0.05
    cfg.MODEL.ROI_HEADS.NMS_THRESH_TEST = 0.5
    heads = build_model(cfg).eval().roi_heads
    scores = {tuple(box): score for image in PROPOSALS for box, score in image}

    def predictor(box_features):
        rows = [scores[tuple(int(v) for v in box.tolist())] for box in box_features]
        probabilities = torch.tensor([[s, 1e-6, 1 - s - 1e-6] for s in rows])
        return probabilities.log(), torch.zeros(len(rows), 4 * 2)

    heads.box_predictor.forward = predictor
    identity = nn.Linear(4, 4)
    with torch.no_grad():
        identity.weight.copy_(torch.eye(4))
        identity.bias.zero_()
    heads.association_head.fc = identity
    return heads


def _proposals():
    proposals = []
    for image in PROPOSALS:
        instances = Instances(IMAGE)
        instances.proposal_boxes = Boxes(torch.tensor([box for box, _ in image], dtype=torch.float))
        instances.objectness_logits = torch.zeros(len(image))
        proposals.append(instances)
    return proposals


class _BoxesAsFeatures(nn.Module):
    """A proposal's box feature: its own box (N, 4), or (N, 4, 1, 1) as C4's res5 output."""

    def __init__(self, spatial: bool):
        super().__init__()
        self.spatial = spatial

    def forward(self, features, boxes):
        stacked = torch.cat([b.tensor for b in boxes])
        return stacked[:, :, None, None] if self.spatial else stacked


def _check(detections):
    for image, expected in zip(detections, EXPECTED):
        boxes = {tuple(round(v) for v in box.tolist()) for box in image.pred_boxes.tensor}
        assert boxes == expected
        torch.testing.assert_close(image.association_vectors, image.pred_boxes.tensor,
                                   atol=1e-3, rtol=0)  # fmt: skip


def test_fpn_heads_keep_each_detections_own_vector_through_nms(monkeypatch):
    heads = _transparent_heads("fpn")
    monkeypatch.setattr(heads, "box_pooler", _BoxesAsFeatures(spatial=False))
    monkeypatch.setattr(heads, "box_head", nn.Identity())
    with torch.no_grad():
        detections = heads._forward_box(dict.fromkeys(heads.box_in_features), _proposals())
    _check(detections)


def test_c4_heads_keep_each_detections_own_vector_through_nms(monkeypatch):
    heads = _transparent_heads("c4")
    # A method, not a submodule: the instance's own attribute goes before the class's.
    monkeypatch.setitem(heads.__dict__, "_shared_roi_transform", _BoxesAsFeatures(spatial=True))
    with torch.no_grad():
        detections, _ = heads(None, {"res4": None}, _proposals())
    _check(detections)
