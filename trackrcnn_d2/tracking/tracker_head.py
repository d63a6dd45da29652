"""TrackR-CNN's tracker in detectron2's tracking API (``detectron2.tracking``).

``TrackRCNNTracker`` is registered in ``TRACKER_HEADS_REGISTRY`` and built by
``build_tracker_head(cfg)`` (``cfg.TRACKER_HEADS.TRACKER_NAME = "TrackRCNNTracker"``), or
constructed directly. ``update(instances)`` takes the ``Instances`` of one frame (the output of
any detectron2 instance-segmentation model, at image resolution) and returns the instances that
Algorithm 1 selects, with detectron2's tracking fields ``ID`` (unique across classes),
``ID_period`` (frames the track has been seen) and ``lost_frame_count`` (0), so that
``VideoVisualizer`` colours objects by identity. Detections that the tracker does not report
(low-confidence ones that joined no track) are left out.

Optical flow needs the frame images: pass them as ``update(instances, image=frame)`` (H, W, 3
BGR uint8). Without images the tracker falls back to no flow: mask (or box) propagation becomes
the plain IoU with the previous frame's masks (boxes), as ``TRACKER_HEADS.FLOW = "none"`` does.
Masks are returned as predicted (they may overlap); the MOTS output path
(:func:`~trackrcnn_d2.tracking.track_sequence`) makes them disjoint.
"""
from typing import Dict, Optional, Tuple

import numpy as np
from detectron2.config import configurable
from detectron2.structures import Instances
from detectron2.tracking import TRACKER_HEADS_REGISTRY, BaseTracker

from .algorithm import Algorithm1Tracker, TrackerParams
from .detections import frame_detections_from_instances
from .flow import build_optical_flow


@TRACKER_HEADS_REGISTRY.register()
class TrackRCNNTracker(BaseTracker):
    """Algorithm 1 of TrackR-CNN (mask propagation + association vectors) and the Table 5
    alternatives, frame by frame."""

    @configurable
    def __init__(
        self,
        *,
        params: TrackerParams,
        flow: str = "dis",
        mask_threshold: float = 0.5,
        sequence: str = "",
    ):
        """
        Args:
            params: tracker parameters (see :class:`TrackerParams`).
            flow: optical flow method ("dis", "raft_small", "raft_large", "none"); used only by
                the mechanisms that warp with flow, and only when images are given to update().
            mask_threshold: binarisation threshold of soft ``pred_masks``.
            sequence: name of the video, used in error messages.
        """
        super().__init__()
        self._params = params
        self._flow = build_optical_flow(flow) if params.uses_flow else None
        self._mask_threshold = mask_threshold
        self._sequence = sequence
        self.reset()

    @classmethod
    def from_config(cls, cfg):
        return {
            "params": TrackerParams.from_config(cfg),
            "flow": cfg.TRACKER_HEADS.FLOW,
            "mask_threshold": cfg.TRACKER_HEADS.MASK_THRESHOLD,
        }

    def reset(self) -> None:
        """Forget all tracks (start of a new video)."""
        self._tracker = Algorithm1Tracker(self._params)
        self._frame_count = 0
        self._previous_image: Optional[np.ndarray] = None
        self._ids: Dict[Tuple[int, int], int] = {}
        self._periods: Dict[int, int] = {}

    def update(self, instances: Instances, image: Optional[np.ndarray] = None) -> Instances:
        """Track one frame; returns the selected instances with ``ID``, ``ID_period`` and
        ``lost_frame_count`` set. ``image``: the frame (H, W, 3 BGR uint8) for optical flow."""
        frame = frame_detections_from_instances(
            instances.to("cpu"), self._sequence, self._frame_count, self._mask_threshold
        )
        flow = None
        if self._flow is not None and image is not None and self._previous_image is not None:
            flow = self._flow(image, self._previous_image)
        selections = self._tracker.step(frame, flow=flow)
        self._previous_image = image
        self._frame_count += 1

        keep = [s.det_index for s in selections]
        ids, periods = [], []
        for s in selections:
            key = (s.category, s.track_number)
            track_id = self._ids.setdefault(key, len(self._ids))
            self._periods[track_id] = self._periods.get(track_id, 0) + 1
            ids.append(track_id)
            periods.append(self._periods[track_id])
        selected = instances[keep]
        selected.ID = ids
        selected.ID_period = periods
        selected.lost_frame_count = [0] * len(keep)
        self._prev_instances = selected
        return selected
