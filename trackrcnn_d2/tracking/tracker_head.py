"""TrackR-CNN's tracker in detectron2's tracking API (``detectron2.tracking``).

``TrackRCNNTracker`` is registered in ``TRACKER_HEADS_REGISTRY`` and built by
``build_tracker_head(cfg)`` (``cfg.TRACKER_HEADS.TRACKER_NAME = "TrackRCNNTracker"``), or
constructed directly. ``update(instances)`` takes the ``Instances`` of one frame (the output of
any detectron2 instance-segmentation model, at image resolution) and returns the instances that
Algorithm 1 selects, with detectron2's tracking fields ``ID`` (unique across classes),
``ID_period`` (frames the track has been seen) and ``lost_frame_count`` (0), so that
``VideoVisualizer`` colours objects by identity. Detections that the tracker does not report
(low-confidence ones that joined no track) are left out.

Each ``update`` is one :meth:`~.sequence_tracker.SequenceTracker.step`, the per-frame step that
every front end of this package uses, so the tracks are those that ``MOTSEvaluator`` and
``demo.py`` write: the returned instances also carry ``obj_id`` (the MOTS obj_id, class id x 1000
+ track number), and their ``pred_masks`` are the disjoint masks of the MOTS output.

Optical flow needs the frame images: pass them as ``update(instances, image=frame)`` (H, W, 3
BGR uint8). Without images the tracker falls back to no flow: mask (or box) propagation becomes
the plain IoU with the previous frame's masks (boxes), as ``TRACKER_HEADS.FLOW = "none"`` does.

As for detectron2's own trackers, the config may hold nothing but ``TRACKER_HEADS``
(``CfgNode({"TRACKER_HEADS": {"TRACKER_NAME": "TrackRCNNTracker", ...}})``): every missing key,
``DATASETS.MOTS.CLASSES`` included, takes trackrcnn_d2's default. Detections the tracker cannot
use as configured are reported once per tracker (a logged warning), not silently: classes
outside ``DATASETS.MOTS.CLASSES`` (dropped), and detections without association vectors for a
mechanism that matches them (a model without an association head).
"""
import logging
from typing import Dict, Optional

import numpy as np
import torch
from detectron2.config import configurable
from detectron2.structures import Instances
from detectron2.tracking import TRACKER_HEADS_REGISTRY, BaseTracker

from trackrcnn_d2.utils.rle import decode_mask

from .class_map import class_map_from_config, map_classes
from .detections import FrameDetections, frame_detections_from_instances
from .flow import build_optical_flow
from .params import TrackerParams
from .sequence_tracker import SequenceTracker

logger = logging.getLogger(__name__)


def with_trackrcnn_defaults(cfg):
    """A copy of ``cfg`` with trackrcnn_d2's default for every key it lacks (detectron2 builds
    its trackers from a config that may hold only ``TRACKER_HEADS``; other keys detectron2's
    trackers use, such as ``VIDEO_HEIGHT``, are kept)."""
    from detectron2.config import get_cfg

    from trackrcnn_d2.config import add_trackrcnn_config

    completed = get_cfg()
    add_trackrcnn_config(completed)
    completed.set_new_allowed(True)
    completed.merge_from_other_cfg(cfg)
    return completed


class UnusableDetectionWarnings:
    """Reports, once each (a logged warning), detections that a tracker with ``params`` cannot
    use as configured, instead of dropping or degrading silently: classes outside
    ``params.class_names`` (dropped), and no association vectors for a mechanism that matches
    them (Algorithm 1 degrades to mask propagation, ``assoc`` to a new track per detection).

    Args:
        params: the tracker's parameters.
        owner: who reports (the start of each message).
    """

    def __init__(self, params: TrackerParams, owner: str):
        self._params = params
        self._owner = owner
        self._reported = set()

    def check(self, frame: FrameDetections) -> None:
        params = self._params
        classes = np.asarray(frame.classes)
        unknown = np.unique(classes[(classes < 0) | (classes >= len(params.class_names))])
        if len(unknown) and "classes" not in self._reported:
            self._reported.add("classes")
            logger.warning(
                f"{self._owner}: detections of class {unknown.tolist()} are dropped: the "
                f"tracker's classes are {list(params.class_names)} (contiguous ids 0.."
                f"{len(params.class_names) - 1}, DATASETS.MOTS.CLASSES); for a model trained on "
                "other classes set DATASETS.MOTS.CLASS_MAP. (Reported once.)"
            )
        mechanism = params.mechanism
        if (
            mechanism.uses_association_vectors
            and frame.association_vectors is None
            and len(classes)
            and "vectors" not in self._reported
        ):
            self._reported.add("vectors")
            instead = (
                "mask propagation alone (as 'maskprop')"
                if mechanism.assoc_match
                else "a new track for every detection"
            )
            logger.warning(
                f"{self._owner}: TRACKER_HEADS.ASSOCIATION {params.association!r} matches "
                "association vectors, but the detections have none (a model without an "
                f"association head?): tracking degrades to {instead}. Set "
                "TRACKER_HEADS.ASSOCIATION to 'maskprop', 'bbox_iou' or 'bbox_center' for such "
                "a model. (Reported once.)"
            )


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
        class_map: Optional[np.ndarray] = None,
    ):
        """
        Args:
            params: tracker parameters (see :class:`TrackerParams`).
            flow: optical flow method ("dis", "raft_small", "raft_large", "none"); used only by
                the mechanisms that warp with flow, and only when images are given to update().
            mask_threshold: binarisation threshold of soft ``pred_masks``.
            sequence: name of the video, used in error messages.
            class_map: the tracker's class of each model class, -1 to drop its detections
                (``DATASETS.MOTS.CLASS_MAP``, see :mod:`.class_map`); None: the same classes.
        """
        super().__init__()
        self._tracker = SequenceTracker(
            params, build_optical_flow(flow) if params.uses_flow else None, sequence
        )
        self._mask_threshold = mask_threshold
        self._class_map = class_map
        self._unusable_detections = UnusableDetectionWarnings(params, "TrackRCNNTracker")
        self.reset()

    @classmethod
    def from_config(cls, cfg):
        cfg = with_trackrcnn_defaults(cfg)
        return {
            "params": TrackerParams.from_config(cfg),
            "flow": cfg.TRACKER_HEADS.FLOW,
            "mask_threshold": cfg.TRACKER_HEADS.MASK_THRESHOLD,
            "class_map": class_map_from_config(cfg),
        }

    def reset(self) -> None:
        """Forget all tracks (start of a new video)."""
        self._tracker.reset()
        self._frame_count = 0
        # detectron2's tracking IDs: 0, 1, ... in order of appearance, unique across classes.
        self._ids: Dict[int, int] = {}
        self._periods: Dict[int, int] = {}

    def update(self, instances: Instances, image: Optional[np.ndarray] = None) -> Instances:
        """Track one frame; returns the tracked instances with ``ID``, ``ID_period``,
        ``lost_frame_count`` and ``obj_id`` set and disjoint ``pred_masks``. ``image``: the
        frame (H, W, 3 BGR uint8) for optical flow."""
        if self._class_map is not None:  # first: det_index then refers to these instances
            instances = map_classes(instances, self._class_map, "TrackRCNNTracker")
        frame = frame_detections_from_instances(
            instances.to("cpu"), self._tracker.sequence, self._frame_count, self._mask_threshold
        )
        self._unusable_detections.check(frame)
        objects = self._tracker.step(frame, image=image)
        self._frame_count += 1

        ids, periods = [], []
        for obj in objects:
            track_id = self._ids.setdefault(obj.obj_id, len(self._ids))
            self._periods[track_id] = self._periods.get(track_id, 0) + 1
            ids.append(track_id)
            periods.append(self._periods[track_id])
        selected = instances[[obj.det_index for obj in objects]]
        selected.pred_masks = self._disjoint_masks(selected, frame, objects)
        selected.ID = ids
        selected.ID_period = periods
        selected.lost_frame_count = [0] * len(objects)
        selected.obj_id = [obj.obj_id for obj in objects]
        return selected

    def _disjoint_masks(self, selected: Instances, frame, objects) -> torch.Tensor:
        """(N, H, W) bool masks of the tracked objects as the MOTS output has them: the
        predicted masks, binarised, and decoded from the RLE only where making them disjoint
        took pixels away (decoding every full-size mask would double the cost of update)."""
        device = selected.scores.device
        full_size = (frame.height, frame.width)
        predicted = selected.has("pred_masks") and selected.pred_masks.shape[-2:] == full_size
        if predicted:  # selected = instances[rows] holds copies: they may be written to
            masks = selected.pred_masks
            masks = masks if masks.dtype == torch.bool else masks >= self._mask_threshold
        else:
            masks = torch.zeros((len(objects), *full_size), dtype=torch.bool)
        for row, obj in enumerate(objects):
            if not predicted or obj.rle is not frame.masks[obj.det_index]:
                masks[row] = torch.from_numpy(decode_mask(obj.rle)).to(masks.device)
        return masks.to(device)
