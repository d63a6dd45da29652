"""The one per-frame tracking step (SequenceTracker) and the front ends that loop over it."""
import numpy as np
import pytest
import torch
from detectron2.structures import Boxes, Instances
from detectron2.tracking import build_tracker_head

from trackrcnn_d2.engine import VideoTrackingPredictor
from trackrcnn_d2.tracking import (
    ASSOCIATION_MECHANISMS,
    MECHANISMS,
    SequenceFlowProvider,
    SequenceTracker,
    TrackerParams,
    build_optical_flow,
    track_sequence,
)
from trackrcnn_d2.tracking.detections import frame_detections_from_instances
from trackrcnn_d2.utils.rle import decode_mask, encode_mask

HEIGHT, WIDTH = 72, 120
PARAMS = TrackerParams(
    class_names=("car", "pedestrian"),
    detection_confidence=(0.5,),
    maskprop_threshold=(0.3,),
    assoc_threshold=(0.5,),
)


def textured_frames(count, shift=3, seed=0):
    """BGR frames of a smooth texture that moves ``shift`` px right per frame (flow can follow)."""
    import cv2

    rng = np.random.default_rng(seed)
    noise = rng.random((HEIGHT, WIDTH + shift * count)).astype(np.float32)
    noise = cv2.GaussianBlur(noise, (0, 0), 3)
    texture = ((noise - noise.min()) / (noise.max() - noise.min()) * 255).astype(np.uint8)
    start = shift * count
    return [
        np.repeat(texture[:, start - shift * t : start - shift * t + WIDTH, None], 3, axis=2)
        for t in range(count)
    ]


def moving_instances(count, seed=1):
    """Per frame, Instances of three objects moving right (two overlapping, one class-1), with
    a low-confidence one and noisy association vectors; masks are ellipses in their boxes."""
    rng = np.random.default_rng(seed)
    starts = np.array([[10, 10, 40, 50], [30, 20, 60, 62], [70, 5, 95, 35]], dtype=np.float32)
    vectors = np.array([[1, 0], [0, 1], [-1, 0]], dtype=np.float32)
    frames = []
    for t in range(count):
        boxes = starts + np.array([3 * t, 0, 3 * t, 0], dtype=np.float32)
        boxes = np.clip(boxes + rng.uniform(-1, 1, boxes.shape), 0, [WIDTH, HEIGHT, WIDTH, HEIGHT])
        scores = np.array([0.95, 0.9, 0.85 if t != 2 else 0.3], dtype=np.float32)
        masks = np.zeros((3, HEIGHT, WIDTH), dtype=bool)
        yy, xx = np.mgrid[:HEIGHT, :WIDTH]
        for mask, (x0, y0, x1, y1) in zip(masks, boxes):
            cx, cy, rx, ry = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2, (y1 - y0) / 2
            mask[((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1] = True
        instances = Instances((HEIGHT, WIDTH))
        instances.pred_boxes = Boxes(torch.from_numpy(boxes))
        instances.scores = torch.from_numpy(scores)
        instances.pred_classes = torch.tensor([0, 0, 1])
        instances.pred_masks = torch.from_numpy(masks)
        noise = rng.normal(0, 0.05, vectors.shape).astype(np.float32)
        instances.association_vectors = torch.from_numpy(vectors + noise)
        frames.append(instances)
    return frames


def tracks_of(objects_per_frame):
    """{frame: [(obj_id, RLE counts)]}, comparable across front ends."""
    return {
        frame: sorted((o.obj_id, o.rle["counts"]) for o in objects)
        for frame, objects in objects_per_frame.items()
    }


class ReplayModel(torch.nn.Module):
    """A stand-in for the detector: returns the prepared Instances of the requested frame."""

    def __init__(self, instances_per_frame):
        super().__init__()
        self.instances_per_frame = instances_per_frame

    def forward(self, inputs):
        return [{"instances": self.instances_per_frame[inputs[0]["frame_idx"]]}]


@pytest.mark.parametrize("flow", ["dis", "none"])
def test_evaluator_predictor_and_tracker_head_give_identical_tracks(flow, tracker_cfg):
    """The three front ends (track_sequence as MOTSEvaluator runs it, VideoTrackingPredictor,
    detectron2's tracker head) loop over the same step: same obj_ids and masks per frame."""
    count = 6
    images = textured_frames(count)
    instances = moving_instances(count)
    cfg = tracker_cfg(flow)
    params = TrackerParams.from_config(cfg)

    detections = [
        frame_detections_from_instances(inst, "video", t) for t, inst in enumerate(instances)
    ]
    optical_flow = build_optical_flow(flow)
    provider = SequenceFlowProvider(optical_flow, lambda t: images[t]) if optical_flow else None
    evaluator_tracks = tracks_of(track_sequence(detections, params, provider))

    predictor = VideoTrackingPredictor(cfg, model=ReplayModel(instances))
    predictor_tracks = tracks_of(
        {t: objects for t, _, objects in predictor(enumerate(images), sequence="video")}
    )

    head = build_tracker_head(cfg)
    head_tracks = {}
    for t, (inst, image) in enumerate(zip(instances, images)):
        out = head.update(inst, image=image)
        rles = [encode_mask(m) for m in out.pred_masks.numpy()]
        head_tracks[t] = sorted((i, r["counts"]) for i, r in zip(out.obj_id, rles))

    assert evaluator_tracks == predictor_tracks == head_tracks
    # Not trivially equal: the objects keep their tracks, and two masks overlap (disjoint).
    assert [obj_id for obj_id, _ in evaluator_tracks[count - 1]] == [1001, 1002, 2001]
    first = {
        obj_id: decode_mask({"size": [HEIGHT, WIDTH], "counts": counts})
        for obj_id, counts in evaluator_tracks[0]
    }
    assert not (first[1001] & first[1002]).any()


def test_step_computes_flow_from_the_images_as_the_provider_does():
    count = 4
    images = textured_frames(count, shift=8)
    detections = [
        frame_detections_from_instances(inst, "video", t)
        for t, inst in enumerate(moving_instances(count))
    ]
    flow = build_optical_flow("dis")
    calls = []

    def counting_flow(image, previous):
        calls.append(1)
        return flow(image, previous)

    tracker = SequenceTracker(PARAMS, counting_flow, "video")
    online = {d.frame_idx: tracker.step(d, image=images[d.frame_idx]) for d in detections}
    offline = track_sequence(detections, PARAMS, SequenceFlowProvider(flow, lambda t: images[t]))
    assert tracks_of(online) == tracks_of(offline)
    assert len(calls) == count - 1  # no flow for the first frame
    # A flow given by the caller is used as is (no second computation).
    tracker.reset()
    tracker.step(detections[0], image=images[0])
    tracker.step(detections[1], flow=flow(images[1], images[0]))
    assert len(calls) == count - 1


def test_step_refuses_frames_out_of_order_and_reset_starts_a_new_sequence():
    detections = [
        frame_detections_from_instances(inst, "video", t)
        for t, inst in enumerate(moving_instances(3))
    ]
    tracker = SequenceTracker(PARAMS, sequence="video")
    first = tracker.step(detections[1])
    with pytest.raises(ValueError, match="increasing order"):
        tracker.step(detections[0])
    other = frame_detections_from_instances(moving_instances(1)[0], "other", 5)
    with pytest.raises(ValueError, match="reset"):
        tracker.step(other)
    tracker.reset("other")
    # A new sequence numbers its tracks from 1 again.
    assert sorted(o.obj_id for o in tracker.step(other)) == sorted(o.obj_id for o in first)


def test_step_refuses_the_same_frame_index_twice():
    """A frame given twice (a reader that repeats a frame, a loop that steps twice) would link
    every detection to itself: refused, with the frame named."""
    frame = frame_detections_from_instances(moving_instances(1)[0], "video", 4)
    tracker = SequenceTracker(PARAMS, sequence="video")
    tracker.step(frame)
    with pytest.raises(ValueError, match="'video':4 then 'video':4"):
        tracker.step(frame)


def test_mechanism_table_rows():
    """Each Table 5 mechanism has one row: similarity ones need score > threshold, distance
    ones score < threshold; only maskprop_assoc adds assoc_match; the flow users are the warped
    IoU ones."""
    assert set(MECHANISMS) == set(ASSOCIATION_MECHANISMS)
    scores = np.array([[0.2, 0.5, 0.8]])
    for name, mechanism in MECHANISMS.items():
        allowed = mechanism.allowed(scores, 0.5)
        expected = [[False, False, True]] if mechanism.maximize else [[True, False, False]]
        assert allowed.tolist() == expected, name
        assert hasattr(PARAMS, mechanism.threshold)
    assert [n for n, m in MECHANISMS.items() if m.assoc_match] == ["maskprop_assoc"]
    assert {n for n, m in MECHANISMS.items() if m.uses_flow} == {
        "maskprop_assoc",
        "maskprop",
        "bbox_iou",
    }
