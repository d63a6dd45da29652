"""Mask propagation with the true optical flow of a known motion (association off).

Two cars cross: A moves right and B left by 14 pixels from frame 0 to 1 (so that without flow A
in frame 1 covers B's old place exactly), then by 8 pixels to frame 2 (so that the flow of the
first pair does not fit the second). The flow is the ground truth of that motion, given for the
frame pair asked for. Only backward flow (frame t's pixel -> where it was in frame t-1), of
the right pair, warps each previous mask onto its own object: then A and B keep their tracks
(1001, 1002) in every frame. Without flow the first step swaps them; flow in the opposite
direction, or the flow of another pair, loses them.
"""
import numpy as np
import pytest
import torch
from detectron2.structures import Boxes, Instances
from detectron2.tracking import build_tracker_head
from helpers.tracking import HEIGHT, WIDTH, make_frame, tracker_config

from trackrcnn_d2.tracking import SequenceTracker, TrackerParams, track_sequence
from trackrcnn_d2.utils.rle import decode_mask

ROWS = (20, 30)
SIZE = 10
# Left edge of each car's 10 x 10 mask, per frame.
X = {"A": [20, 34, 42], "B": [34, 20, 12]}
PARAMS = TrackerParams(
    class_names=("car", "pedestrian"),
    detection_confidence=(0.5,),
    maskprop_threshold=(0.3,),
)
KEPT = {t: [("A", 1001), ("B", 1002)] for t in range(3)}


def detections(frame):
    # Without association vectors: only the flow can link the cars.
    boxes = [{"box": [X[car][frame], ROWS[0], X[car][frame] + SIZE, ROWS[1]]} for car in "AB"]
    return make_frame(frame, boxes, with_vectors=False)


def true_backward_flow(previous_frame, frame):
    """(H, W, 2) flow over ``frame``: each car's pixels point to where they were in
    ``previous_frame``, the (static) background to itself."""
    flow = np.zeros((HEIGHT, WIDTH, 2), dtype=np.float32)
    for car in "AB":
        x = X[car][frame]
        flow[ROWS[0] : ROWS[1], x : x + SIZE, 0] = X[car][previous_frame] - x
    return flow


def identities(tracks):
    """{frame: [(car, obj_id)]}, the car named by where its mask is."""
    named = {}
    for frame, objects in tracks.items():
        by_x = {X[car][frame]: car for car in "AB"}
        lefts = [int(np.flatnonzero(decode_mask(o.rle).any(axis=0))[0]) for o in objects]
        named[frame] = sorted((by_x[x], o.obj_id) for x, o in zip(lefts, objects))
    return named


@pytest.mark.parametrize("association", ["maskprop", "bbox_iou", "maskprop_assoc"])
def test_the_evaluators_loop_asks_for_the_right_pair_and_warps_backward(association):
    params = PARAMS.replace(association=association)
    frames = [detections(t) for t in range(3)]
    asked = []

    def provider(previous_frame, frame):
        asked.append((previous_frame, frame))
        return true_backward_flow(previous_frame, frame)

    assert identities(track_sequence(frames, params, provider)) == KEPT
    assert asked == [(0, 1), (1, 2)]


def test_the_scene_needs_the_right_flow():
    """The expectations above come from the scene: no flow swaps A and B at frame 1 (A now
    covers B's old mask); the forward (wrong-direction) flow, or the first pair's flow reused
    for the second, lose them."""
    frames = [detections(t) for t in range(3)]
    params = PARAMS.replace(association="maskprop")
    no_flow = identities(track_sequence(frames, params))
    assert no_flow[1] == [("A", 1002), ("B", 1001)]
    forward = identities(track_sequence(frames, params, lambda p, f: -true_backward_flow(p, f)))
    assert forward[1] == [("A", 1003), ("B", 1004)]
    stale = identities(track_sequence(frames, params, lambda p, f: true_backward_flow(0, 1)))
    assert stale[1] == KEPT[1] and stale[2] == [("A", 1003), ("B", 1004)]


def _image(frame):
    """A frame's image: its index in every pixel, so that the flow method knows the pair."""
    return np.full((HEIGHT, WIDTH, 3), frame, dtype=np.uint8)


def flow_from_images(image, previous_image):
    """An optical flow method (image of t, image of t-1) -> backward flow: the true one."""
    return true_backward_flow(int(previous_image[0, 0, 0]), int(image[0, 0, 0]))


@pytest.mark.parametrize("association", ["maskprop", "bbox_iou"])
def test_the_per_frame_step_computes_the_flow_from_this_and_the_previous_image(association):
    tracker = SequenceTracker(PARAMS.replace(association=association), flow_from_images, "0000")
    tracks = {t: tracker.step(detections(t), image=_image(t)) for t in range(3)}
    assert identities(tracks) == KEPT


def test_the_detectron2_tracker_head_gives_the_images_in_order(monkeypatch):
    import trackrcnn_d2.tracking.tracker_head as tracker_head

    monkeypatch.setattr(tracker_head, "build_optical_flow", lambda name: flow_from_images)
    cfg = tracker_config("dis")
    cfg.TRACKER_HEADS.ASSOCIATION = "maskprop"
    head = build_tracker_head(cfg)
    seen = {}
    for t in range(3):
        frame = detections(t)
        instances = Instances((HEIGHT, WIDTH))
        instances.pred_boxes = Boxes(torch.from_numpy(frame.boxes))
        instances.scores = torch.from_numpy(frame.scores)
        instances.pred_classes = torch.from_numpy(frame.classes)
        instances.pred_masks = torch.from_numpy(
            np.stack([decode_mask(rle) for rle in frame.masks]).astype(bool)
        )
        out = head.update(instances, image=_image(t))
        lefts = [int(np.flatnonzero(m.any(dim=0).numpy())[0]) for m in out.pred_masks]
        by_x = {X[car][t]: car for car in "AB"}
        seen[t] = sorted((by_x[x], obj_id) for x, obj_id in zip(lefts, out.obj_id))
    assert seen == KEPT
