"""Hand-made detections and tracker configs for the tracking tests."""
import numpy as np

from trackrcnn_d2.tracking import FrameDetections
from trackrcnn_d2.tracking.detections import boxes_to_masks, encode_masks

HEIGHT, WIDTH = 60, 100


def make_frame(frame_idx, detections, sequence="0000", with_vectors=True, masks=None):
    """FrameDetections of ``detections``: dicts with ``box`` (XYXY), ``score``, ``cls`` and
    ``vec`` (association vector); masks fill the boxes unless ``masks`` (N, H, W) are given."""
    boxes = np.array([d["box"] for d in detections], dtype=np.float32).reshape(-1, 4)
    vectors = None
    if with_vectors:
        vectors = np.array([d.get("vec", [0.0, 0.0]) for d in detections], np.float32)
        vectors = vectors.reshape(len(detections), -1 if len(detections) else 2)
    if masks is None:
        masks = boxes_to_masks(boxes, HEIGHT, WIDTH)
    return FrameDetections(
        sequence=sequence,
        frame_idx=frame_idx,
        height=HEIGHT,
        width=WIDTH,
        boxes=boxes,
        scores=[d.get("score", 0.99) for d in detections],
        classes=[d.get("cls", 0) for d in detections],
        masks=encode_masks(np.asarray(masks, dtype=bool)),
        association_vectors=vectors,
    )


def tracker_config(flow="none"):
    """A config for the tracker alone: thresholds the hand-made detections of these tests
    clear (gamma 0.5, delta_maskprop 0.3, delta_assoc 0.5) and the given flow method."""
    from detectron2.config import get_cfg

    from trackrcnn_d2 import add_trackrcnn_config

    cfg = get_cfg()
    add_trackrcnn_config(cfg)
    cfg.TRACKER_HEADS.FLOW = flow
    cfg.TRACKER_HEADS.DETECTION_CONFIDENCE = [0.5, 0.5]
    cfg.TRACKER_HEADS.MASKPROP_THRESHOLD = [0.3, 0.3]
    cfg.TRACKER_HEADS.ASSOC_THRESHOLD = [0.5, 0.5]
    return cfg
