"""The tracker built as detectron2 builds its own trackers, and what it reports about
detections it cannot use as configured."""
import logging

import pytest
import torch
from detectron2.config import CfgNode
from detectron2.structures import Boxes, Instances
from detectron2.tracking import build_tracker_head

import trackrcnn_d2.tracking.tracker_head  # noqa: F401  registers TrackRCNNTracker

HEIGHT, WIDTH = 60, 100
LOGGER = "trackrcnn_d2.tracking.tracker_head"


def plain_config(**tracker_heads):
    """detectron2's pattern: a CfgNode holding only TRACKER_HEADS."""
    return CfgNode({"TRACKER_HEADS": {"TRACKER_NAME": "TrackRCNNTracker", **tracker_heads}})


def frame(boxes, classes, vectors=None):
    instances = Instances((HEIGHT, WIDTH))
    instances.pred_boxes = Boxes(torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4))
    instances.scores = torch.full((len(boxes),), 0.99)
    instances.pred_classes = torch.tensor(classes, dtype=torch.int64)
    masks = torch.zeros(len(boxes), HEIGHT, WIDTH, dtype=torch.bool)
    for mask, (x0, y0, x1, y1) in zip(masks, boxes):
        mask[y0:y1, x0:x1] = True
    instances.pred_masks = masks
    if vectors is not None:
        instances.association_vectors = torch.tensor(vectors, dtype=torch.float32)
    return instances


def test_a_config_with_only_tracker_heads_builds_with_the_defaults():
    tracker = build_tracker_head(
        plain_config(ASSOCIATION="maskprop", FLOW="none", VIDEO_HEIGHT=HEIGHT)
    )
    params = tracker._tracker.params
    assert params.class_names == ("car", "pedestrian")
    assert params.association == "maskprop"
    assert params.detection_confidence == pytest.approx((0.847, 0.937))
    first = tracker.update(frame([[5, 5, 30, 30]], [0]))
    second = tracker.update(frame([[7, 5, 32, 30]], [0]))
    assert first.ID == second.ID == [0]


def test_classes_the_tracker_does_not_know_are_dropped_with_one_warning(caplog):
    tracker = build_tracker_head(plain_config(ASSOCIATION="maskprop", FLOW="none"))
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        out = tracker.update(frame([[5, 5, 30, 30], [50, 5, 80, 40]], [0, 7]))
        tracker.update(frame([[5, 5, 30, 30], [50, 5, 80, 40]], [0, 7]))
    assert out.pred_classes.tolist() == [0]
    messages = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert len(messages) == 1
    assert "class [7] are dropped" in messages[0] and "DATASETS.MOTS.CLASS_MAP" in messages[0]


@pytest.mark.parametrize(
    "association, degrades_to",
    [("maskprop_assoc", "mask propagation alone"), ("assoc", "a new track for every detection")],
)
def test_missing_association_vectors_are_reported_once(caplog, association, degrades_to):
    tracker = build_tracker_head(plain_config(ASSOCIATION=association, FLOW="none"))
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        tracker.update(frame([[5, 5, 30, 30]], [0]))
        tracker.update(frame([[6, 5, 31, 30]], [0]))
    messages = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert len(messages) == 1
    assert f"ASSOCIATION '{association}' matches association vectors" in messages[0]
    assert degrades_to in messages[0] and "'maskprop'" in messages[0]


def test_detections_with_association_vectors_raise_no_warning(caplog):
    tracker = build_tracker_head(plain_config(FLOW="none"))
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        tracker.update(frame([[5, 5, 30, 30]], [0], vectors=[[1.0, 0.0]]))
    assert not [r for r in caplog.records if r.name == LOGGER]


def test_the_heads_first_frame_is_frame_0_in_its_messages():
    """detectron2's tracking API has no frame numbers: the head counts the frames from 0 since
    the last reset(), and its messages name that number. A centre distance below 0 never
    matches, so every frame starts a car track: the 1000th, in frame 999, is refused."""
    from trackrcnn_d2.tracking import TrackerParams
    from trackrcnn_d2.tracking.sequence_tracker import TrackNumberOverflow
    from trackrcnn_d2.tracking.tracker_head import TrackRCNNTracker

    params = TrackerParams(class_names=("car", "pedestrian"), association="bbox_center",
                           center_distance_threshold=(0.0, 0.0))  # fmt: skip
    tracker = TrackRCNNTracker(params=params, flow="none")
    car = frame([[5, 5, 30, 30]], [0])
    for _ in range(999):
        tracker.update(car)
    with pytest.raises(TrackNumberOverflow, match="frame 999: class 1 has track number 1000"):
        tracker.update(car)
