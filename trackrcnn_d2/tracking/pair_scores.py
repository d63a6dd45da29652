"""Pair scores between the detections of adjacent frames (paper Sec. 5, Eq. 5; Table 5).

:class:`FramePairScores` computes the flow-dependent scores on demand while tracking;
:class:`PrecomputedPairScores` holds them for all pairs at once (the threshold search). Both
follow the :class:`~.mechanisms.PairScores` protocol.
"""
from typing import Dict, Optional

import numpy as np

from .detections import FrameDetections
from .flow import sampling_maps, warp_box_by_median_flow, warp_rle
from .matching import box_iou, mask_iou
from .params import TrackerParams, usable_detections


class FramePairScores:
    """Flow-dependent scores between the detections of frame t and those of frame t-1,
    computed on demand and memoised (each previous mask is warped at most once).

    Args:
        previous: detections of frame t-1 (None at the first frame).
        current: detections of frame t.
        flow: backward flow from t to t-1 (see :mod:`.flow`), or None for no warping.
    """

    def __init__(
        self,
        previous: Optional[FrameDetections],
        current: FrameDetections,
        flow: Optional[np.ndarray] = None,
    ):
        if flow is not None and flow.shape[:2] != (current.height, current.width):
            raise ValueError(
                f"sequence {current.sequence!r} frame {current.frame_idx}: optical flow of size "
                f"{flow.shape[:2]} but the frame is {current.height}x{current.width}"
            )
        self.previous = previous
        self.current = current
        self._maps = sampling_maps(flow) if flow is not None else None
        self._flow_reach = int(np.ceil(np.abs(flow).max())) if flow is not None else None
        self._warped_masks: Dict[int, dict] = {}
        self._warped_boxes: Dict[int, np.ndarray] = {}

    def _warped_mask(self, index: int) -> dict:
        if index not in self._warped_masks:
            rle = self.previous.masks[index]
            if self._maps is not None:
                rle = warp_rle(rle, self._maps, self._flow_reach)
            self._warped_masks[index] = rle
        return self._warped_masks[index]

    def _warped_box(self, index: int) -> np.ndarray:
        if index not in self._warped_boxes:
            box = self.previous.boxes[index]
            if self._maps is not None:
                box = warp_box_by_median_flow(box, self._maps, self._flow_reach)
            self._warped_boxes[index] = box
        return self._warped_boxes[index]

    def mask_propagation(self, current_idx: np.ndarray, previous_idx: np.ndarray) -> np.ndarray:
        """(len(current_idx), len(previous_idx)) maskprop score (Eq. 5): IoU of the flow-warped
        previous mask with the current mask."""
        warped = [self._warped_mask(int(j)) for j in previous_idx]
        return mask_iou([self.current.masks[int(i)] for i in current_idx], warped)

    def warped_box_iou(self, current_idx: np.ndarray, previous_idx: np.ndarray) -> np.ndarray:
        """(len(current_idx), len(previous_idx)) IoU of the current boxes with the previous
        boxes shifted by the median flow inside them (Table 5, "Bbox IoU")."""
        warped = np.array([self._warped_box(int(j)) for j in previous_idx]).reshape(-1, 4)
        return box_iou(self.current.boxes[np.asarray(current_idx, dtype=np.int64)], warped)


class PrecomputedPairScores:
    """Scores between all detections of frames t and t-1, computed once (threshold search).

    Built from :class:`FramePairScores` for the detections that can take part in tracking
    (same class, above ``min_score`` and ``min_mask_area``); other pairs are never queried.
    """

    def __init__(self, mask_propagation: np.ndarray, warped_box_iou: Optional[np.ndarray]):
        self._mask_propagation = mask_propagation
        self._warped_box_iou = warped_box_iou

    @classmethod
    def compute(
        cls, scores: FramePairScores, params: TrackerParams
    ) -> "PrecomputedPairScores":
        current, previous = scores.current, scores.previous
        shape = (len(current), len(previous) if previous is not None else 0)
        maskprop = np.zeros(shape)
        boxes = np.zeros(shape) if params.association == "bbox_iou" else None
        if previous is not None:
            current_usable = usable_detections(current, params)
            previous_usable = usable_detections(previous, params)
            for category in range(len(params.class_names)):
                cur = np.flatnonzero(current_usable & (current.classes == category))
                prev = np.flatnonzero(previous_usable & (previous.classes == category))
                if len(cur) and len(prev):
                    if boxes is not None:
                        boxes[np.ix_(cur, prev)] = scores.warped_box_iou(cur, prev)
                    else:
                        maskprop[np.ix_(cur, prev)] = scores.mask_propagation(cur, prev)
        return cls(maskprop, boxes)

    def mask_propagation(self, current_idx: np.ndarray, previous_idx: np.ndarray) -> np.ndarray:
        return self._mask_propagation[np.ix_(current_idx, previous_idx)]

    def warped_box_iou(self, current_idx: np.ndarray, previous_idx: np.ndarray) -> np.ndarray:
        return self._warped_box_iou[np.ix_(current_idx, previous_idx)]
