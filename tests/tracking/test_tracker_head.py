"""The tracker through detectron2's tracking API (build_tracker_head, update)."""
import numpy as np
import pytest
import torch
from detectron2.structures import Boxes, Instances
from detectron2.tracking import build_tracker_head

HEIGHT, WIDTH = 96, 128


def instances_of(boxes, scores, classes, vectors):
    instances = Instances((HEIGHT, WIDTH))
    instances.pred_boxes = Boxes(torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4))
    instances.scores = torch.tensor(scores, dtype=torch.float32)
    instances.pred_classes = torch.tensor(classes, dtype=torch.int64)
    masks = torch.zeros(len(boxes), HEIGHT, WIDTH, dtype=torch.bool)
    for mask, (x0, y0, x1, y1) in zip(masks, boxes):
        mask[y0:y1, x0:x1] = True
    instances.pred_masks = masks
    instances.association_vectors = torch.tensor(vectors, dtype=torch.float32).reshape(-1, 2)
    return instances


def test_update_assigns_consistent_ids_frame_by_frame(tracker_cfg):
    tracker = build_tracker_head(tracker_cfg())
    out0 = tracker.update(instances_of([[5, 5, 20, 30], [40, 5, 55, 30]], [0.9, 0.9], [0, 1],
                                       [[1, 0], [0, 1]]))
    assert out0.ID == [0, 1]
    out1 = tracker.update(
        instances_of(
            [[42, 5, 57, 30], [7, 5, 22, 30], [20, 35, 40, 45]],
            [0.9, 0.9, 0.2],  # the last one is low-confidence and matches nothing: not reported
            [1, 0, 0],
            [[0, 1], [1, 0], [-5, -5]],
        )
    )
    assert len(out1) == 2
    assert dict(zip(out1.pred_classes.tolist(), out1.ID)) == {0: 0, 1: 1}
    assert out1.ID_period == [2, 2]
    assert out1.lost_frame_count == [0, 0]
    # A re-identified object after a gap keeps its ID.
    tracker.update(instances_of([], [], [], []))
    out3 = tracker.update(instances_of([[30, 20, 45, 45]], [0.9], [0], [[1.1, 0]]))
    assert out3.ID == [0] and out3.ID_period == [3]
    tracker.reset()
    assert tracker.update(instances_of([[30, 20, 45, 45]], [0.9], [0], [[1.1, 0]])).ID == [0]


def smooth_texture(height, width, seed=0):
    """Blurred noise, stretched to 0..255: a texture that optical flow can follow."""
    import cv2

    rng = np.random.default_rng(seed)
    noise = cv2.GaussianBlur(rng.random((height, width)).astype(np.float32), (0, 0), 3.0)
    return ((noise - noise.min()) / (noise.max() - noise.min()) * 255).astype(np.uint8)


@pytest.mark.parametrize("flow, same_track", [("dis", True), ("none", False)])
def test_update_with_images_uses_optical_flow(flow, same_track, tracker_cfg):
    """The scene moves 12 px right: plain IoU (0.25) is below delta_maskprop, warped IoU not."""
    texture = smooth_texture(HEIGHT, WIDTH + 30)
    tracker = build_tracker_head(tracker_cfg(flow))
    tracker.update(
        instances_of([[10, 10, 30, 40]], [0.9], [0], [[1, 0]]),
        image=np.repeat(texture[:, 15 : 15 + WIDTH, None], 3, axis=2),
    )
    out = tracker.update(
        instances_of([[22, 10, 42, 40]], [0.9], [0], [[9, 9]]),
        image=np.repeat(texture[:, 3 : 3 + WIDTH, None], 3, axis=2),
    )
    assert (out.ID == [0]) == same_track
