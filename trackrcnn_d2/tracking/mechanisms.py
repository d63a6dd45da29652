"""The association mechanisms of Table 5 as one table: what each one scores, against which
threshold, and in which direction.

Every mechanism first matches the confident detections of frame t to the detections selected in
frame t-1 with the Hungarian algorithm on one pair score; a pair may match only if its score is
better than the mechanism's threshold. ``maskprop_assoc`` (the paper's Algorithm 1) then also
runs assoc_match on the association vectors (see :mod:`.algorithm`). Adding a mechanism means
adding one row to :data:`MECHANISMS`, as detectron2's ``hungarian_tracker.py`` isolates the cost
in ``build_cost_matrix``.
"""
from dataclasses import dataclass
from typing import Callable, Dict, Optional, Protocol

import numpy as np

from .detections import FrameDetections
from .matching import association_distance, box_center_distance


class PairScores(Protocol):
    """Flow-dependent scores between detections of frame t (rows) and of frame t-1 (columns);
    see :mod:`.pair_scores`."""

    def mask_propagation(self, current_idx: np.ndarray, previous_idx: np.ndarray) -> np.ndarray:
        ...

    def warped_box_iou(self, current_idx: np.ndarray, previous_idx: np.ndarray) -> np.ndarray:
        ...


# (pair scores, frame t, frame t-1, indices in t, indices in t-1) -> score matrix, or None when
# the detections carry nothing to score (no association vectors).
PairScoreFunction = Callable[
    [Optional[PairScores], FrameDetections, FrameDetections, np.ndarray, np.ndarray],
    Optional[np.ndarray],
]


def _mask_propagation(pair_scores, current, previous, current_idx, previous_idx):
    # Eq. 5: IoU of the flow-warped previous mask with the current mask.
    return pair_scores.mask_propagation(current_idx, previous_idx)


def _warped_box_iou(pair_scores, current, previous, current_idx, previous_idx):
    # Table 5 "Bbox IoU": previous boxes shifted by the median flow inside them.
    return pair_scores.warped_box_iou(current_idx, previous_idx)


def _box_center_distance(pair_scores, current, previous, current_idx, previous_idx):
    # Table 5 "Bbox Center": distance of the box centres in pixels.
    return box_center_distance(current.boxes[current_idx], previous.boxes[previous_idx])


def _association_distance(pair_scores, current, previous, current_idx, previous_idx):
    # Eq. 4: Euclidean distance of the association vectors.
    if current.association_vectors is None or previous.association_vectors is None:
        return None
    return association_distance(
        current.association_vectors[current_idx], previous.association_vectors[previous_idx]
    )


@dataclass(frozen=True)
class AssociationMechanism:
    """One row of Table 5.

    Attributes:
        pair_score: the score of a (frame t, frame t-1) detection pair.
        threshold: the :class:`~.params.TrackerParams` field holding its per-class threshold.
        maximize: True: higher is better and a pair needs score > threshold; False: lower is
            better and a pair needs score < threshold.
        uses_flow: the score warps frame t-1 by optical flow (needs pair scores).
        assoc_match: Algorithm 1's assoc_match on association vectors follows the first match.
        keep_alive: match against the last detection of every track seen in the last
            ``keep_alive`` frames (per class), not only the previous frame's (released code).
    """

    pair_score: PairScoreFunction
    threshold: str
    maximize: bool
    uses_flow: bool = False
    assoc_match: bool = False
    keep_alive: bool = False

    def allowed(self, scores: np.ndarray, threshold: float) -> np.ndarray:
        return scores > threshold if self.maximize else scores < threshold

    @property
    def uses_association_vectors(self) -> bool:
        """It needs a model with an association head (TrackR-CNN, not a plain Mask R-CNN)."""
        return self.assoc_match or self.pair_score is _association_distance


MECHANISMS: Dict[str, AssociationMechanism] = {
    # Algorithm 1: maskprop_match on Eq. 5, then assoc_match (the paper's tracker).
    "maskprop_assoc": AssociationMechanism(
        _mask_propagation, "maskprop_threshold", True, uses_flow=True, assoc_match=True
    ),
    "maskprop": AssociationMechanism(_mask_propagation, "maskprop_threshold", True, True),
    "bbox_iou": AssociationMechanism(_warped_box_iou, "maskprop_threshold", True, True),
    "assoc": AssociationMechanism(_association_distance, "assoc_threshold", False),
    "bbox_center": AssociationMechanism(_box_center_distance, "center_distance_threshold", False),
    # The released code's tracker (forwarding/tracking/Util_tracking.py, tracker_per_class, as
    # its configs set it): Hungarian on association distance against the tracks alive within
    # KEEP_ALIVE frames; not in the paper.
    "release_assoc": AssociationMechanism(
        _association_distance, "assoc_threshold", False, keep_alive=True
    ),
}
ASSOCIATION_MECHANISMS = tuple(MECHANISMS)
# Mechanisms whose scores use optical flow (Table 5: mask IoU and box IoU are flow-warped).
MECHANISMS_USING_FLOW = tuple(name for name, m in MECHANISMS.items() if m.uses_flow)
