"""Tracking (paper Sec. 5 "Mask Propagation", "Tracking", Supplement A, Table 5).

Pure numpy parts, importable without torch or detectron2:

- :class:`FrameDetections`, :func:`write_detection_cache`, :func:`read_detection_cache`,
  :func:`read_detection_cache_folder` (the per-frame detections and their on-disk cache);
- :class:`TrackerParams`, :func:`track_sequence` (Algorithm 1 and the Table 5 mechanisms over a
  sequence), :func:`make_disjoint`, :func:`tracks_to_mots_objects`,
  :func:`write_tracking_result`;
- optical flow: :func:`build_optical_flow`, :class:`SequenceFlowProvider`.

``TrackRCNNTracker`` (module ``tracker_head``) is the same algorithm in detectron2's tracking API;
it is registered when detectron2 is imported (``trackrcnn_d2.register_all``) and importable
from here lazily.
"""
import importlib

from .algorithm import (
    ASSOCIATION_MECHANISMS,
    Algorithm1Tracker,
    FramePairScores,
    PrecomputedPairScores,
    TrackedObject,
    TrackerParams,
    TrackNumberOverflow,
    make_disjoint,
    track_sequence,
    tracks_to_mots_objects,
    write_tracking_result,
)
from .detections import (
    FrameDetections,
    frame_detections_from_instances,
    read_detection_cache,
    read_detection_cache_folder,
    write_detection_cache,
)
from .flow import FLOW_METHODS, SequenceFlowProvider, build_optical_flow

__all__ = [
    "ASSOCIATION_MECHANISMS",
    "FLOW_METHODS",
    "Algorithm1Tracker",
    "FrameDetections",
    "FramePairScores",
    "PrecomputedPairScores",
    "SequenceFlowProvider",
    "TrackNumberOverflow",
    "TrackRCNNTracker",
    "TrackedObject",
    "TrackerParams",
    "build_optical_flow",
    "frame_detections_from_instances",
    "make_disjoint",
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
