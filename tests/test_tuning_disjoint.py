"""The threshold search tracks with the config's overlap rule (TRACKER_HEADS.DISJOINT), "score"
as the released code tunes, and writes it into the tuned config."""
import numpy as np

from trackrcnn_d2.data import mots_io
from trackrcnn_d2.tracking import FrameDetections, TrackerParams
from trackrcnn_d2.tracking.detections import boxes_to_masks, encode_masks
from trackrcnn_d2.tuning import ThresholdSearch, config_snippet

HEIGHT, WIDTH = 60, 100


def _overlapping_detections():
    """One car (GT box [10, 10, 30, 40]) detected exactly with score 0.95, and a false
    detection of score 0.6 that covers its lower part and reaches lower in the image."""
    gt_mask = boxes_to_masks(np.array([[10, 10, 30, 40]]), HEIGHT, WIDTH)[0]
    gt = {name: {0: [mots_io.MOTSObject(0, 1001, 1, encode_masks(gt_mask[None])[0])]}
          for name in ("0000",)}  # fmt: skip
    boxes = np.array([[10, 10, 30, 40], [10, 15, 30, 50]], dtype=np.float32)
    frame = FrameDetections(
        sequence="0000",
        frame_idx=0,
        height=HEIGHT,
        width=WIDTH,
        boxes=boxes,
        scores=[0.95, 0.6],
        classes=[0, 0],
        masks=encode_masks(boxes_to_masks(boxes, HEIGHT, WIDTH)),
        association_vectors=np.zeros((2, 2), np.float32),
    )
    return gt, {"0000": [frame]}


def test_the_search_tracks_with_the_configs_overlap_rule():
    gt, detections = _overlapping_detections()
    params = TrackerParams(class_names=("car", "pedestrian"), detection_confidence=(0.5,))
    setting = {"detection_confidence": 0.5, "maskprop_threshold": 0.1, "assoc_threshold": 1.0}
    by_score = ThresholdSearch(detections, gt, params.replace(disjoint="score"))
    by_bottom = ThresholdSearch(detections, gt, params.replace(disjoint="bottom"))
    score_metrics = by_score.evaluate(0, setting)
    bottom_metrics = by_bottom.evaluate(0, setting)
    # "score": the exact detection keeps its pixels (IoU 1); "bottom": the false one, reaching
    # lower, takes the overlap and is the one matched, with a worse mask.
    assert score_metrics["MOTSP"] == 100.0
    assert bottom_metrics["MOTSP"] < 100.0
    assert "  DISJOINT: score\n" in config_snippet(by_score.params, {}, "sMOTSA")
    assert "  DISJOINT: bottom\n" in config_snippet(by_bottom.params, {}, "sMOTSA")
