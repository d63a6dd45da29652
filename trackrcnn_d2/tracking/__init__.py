"""Tracking (paper Sec. 5 "Mask Propagation", "Tracking", Supplement A, Table 5).

Pure numpy parts, importable without torch or detectron2:

- :class:`FrameDetections`, :func:`write_detection_cache`, :func:`read_detection_cache`,
  :func:`read_detection_cache_folder` (the per-frame detections and their on-disk cache);
- :class:`TrackerParams` (``params``), the Table 5 mechanisms as one table (``mechanisms``), the
  pair scores of adjacent frames (``pair_scores``) and Algorithm 1 per class (``algorithm``);
- :class:`SequenceTracker` (``sequence_tracker``): **the one per-frame tracking step** (flow,
  Algorithm 1, obj_ids, disjoint masks) that every front end calls, :func:`track_sequence` (a
  loop over it), :func:`make_disjoint`, :func:`tracks_to_mots_objects`,
  :func:`write_tracking_result`;
- optical flow: :func:`build_optical_flow`, :class:`SequenceFlowProvider`.

``TrackRCNNTracker`` (module ``tracker_head``) is the same step in detectron2's tracking API;
``import trackrcnn_d2.tracking.tracker_head`` (or ``trackrcnn_d2.register_all()``) registers it
in ``TRACKER_HEADS_REGISTRY``; it is importable from here lazily.
"""
import importlib

from .algorithm import Algorithm1Tracker
from .detections import (
    DetectionCacheError,
    FrameDetections,
    frame_detections_from_instances,
    read_detection_cache,
    read_detection_cache_folder,
    write_detection_cache,
)
from .flow import FLOW_METHODS, SequenceFlowProvider, build_optical_flow
from .mechanisms import ASSOCIATION_MECHANISMS, MECHANISMS, AssociationMechanism, PairScores
from .pair_scores import FramePairScores, PrecomputedPairScores
from .params import TrackerParams
from .sequence_tracker import (
    SequenceTracker,
    TrackedObject,
    TrackNumberOverflow,
    make_disjoint,
    mots_object_id,
    track_sequence,
    tracks_to_mots_objects,
    write_tracking_result,
)

__all__ = [
    "ASSOCIATION_MECHANISMS",
    "FLOW_METHODS",
    "Algorithm1Tracker",
    "AssociationMechanism",
    "DetectionCacheError",
    "FrameDetections",
    "FramePairScores",
    "MECHANISMS",
    "PairScores",
    "PrecomputedPairScores",
    "SequenceFlowProvider",
    "SequenceTracker",
    "TrackNumberOverflow",
    "TrackRCNNTracker",
    "TrackedObject",
    "TrackerParams",
    "build_optical_flow",
    "frame_detections_from_instances",
    "make_disjoint",
    "mots_object_id",
    "read_detection_cache",
    "read_detection_cache_folder",
    "track_sequence",
    "tracks_to_mots_objects",
    "write_detection_cache",
    "write_tracking_result",
]


def __getattr__(name):
    if name == "TrackRCNNTracker":
        return importlib.import_module(".tracker_head", __name__).TrackRCNNTracker
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
