"""TrackR-CNN's tracker: Algorithm 1 of the paper (Supplement A) and the Table 5 alternatives.

Tracking is done per class. For each frame t (``ASSOCIATION = "maskprop_assoc"``, the paper's):

1. ``high_conf_dets_t`` = detections with confidence > gamma (>= gamma with
   ``DETECTION_CONFIDENCE_INCLUSIVE``, as the released code compares).
2. maskprop_match: they are matched with the Hungarian algorithm to the detections selected in
   frame t-1 on the mask propagation score (Eq. 5, IoU of the previous mask warped by optical
   flow with the current mask); only pairs with a score > delta_maskprop may match.
3. assoc_match: the remaining detections (unmatched confident ones and the low-confidence ones)
   are matched greedily, by increasing association distance (Eq. 4's Euclidean distance), to the
   detections selected so far in the whole video; only distances < delta_assoc may match.
4. Confident detections still unassigned start new tracks.

Details the paper leaves open, decided here (and as in the original TrackR-CNN code where it
has them, github.com/VisualComputingInstitute/TrackR-CNN, forwarding/tracking/Util_tracking.py):

- A track gets at most one detection per frame: tracks extended by maskprop_match are not
  candidates of assoc_match, and assoc_match uses each track at most once.
- assoc_match compares a detection with every detection selected so far in the video (all
  frames, all earlier detections of each track, as Algorithm 1 says); the distance to a track is
  therefore the minimum over its detections.
- Low-confidence detections are the detector's output with score >= ``MIN_SCORE`` (default 0:
  all of them, as in the original); they join existing tracks only, never start one.
- Detections whose mask has at most ``MIN_MASK_AREA`` pixels are dropped (the original: 10).
- Algorithm 1 line 9 is followed literally: a confident detection matched by assoc_match does
  not also start a new track (the released code does both).
- Among Hungarian solutions the one with the most allowed pairs wins, then the best total score.

Table 5 alternatives (``"maskprop"``, ``"bbox_iou"``, ``"assoc"``, ``"bbox_center"``): only the
confident detections are used, matched with the Hungarian algorithm to the detections selected in
the previous frame, on the mask propagation score (> delta_maskprop), the IoU of boxes shifted by
the median flow inside them (> delta_maskprop), the association distance (< delta_assoc) or the
distance of box centres in pixels (< ``CENTER_DISTANCE_THRESHOLD``); the others start new tracks.
Each mechanism is one row of :data:`~.mechanisms.MECHANISMS`. ``"release_assoc"``, the
released code's tracker, matches the confident detections by association distance
(< delta_assoc) to the last detection of every track seen within the last ``KEEP_ALIVE`` frames
(a track missed for up to ``KEEP_ALIVE`` frames can continue); the low-confidence detections
are dropped.

This is the per-class core; :class:`~.sequence_tracker.SequenceTracker` wraps it into the MOTS
output (obj_ids, disjoint masks) that every front end uses.

Without association vectors (plain Mask R-CNN) assoc_match finds nothing, so ``maskprop_assoc``
reduces to ``maskprop`` plus the new tracks, and ``assoc`` starts a new track for every detection.
"""
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np

from .detections import FrameDetections
from .matching import association_distance, greedy_match, hungarian_match
from .mechanisms import PairScores
from .pair_scores import FramePairScores
from .params import TrackerParams, usable_detections


class Selection(NamedTuple):
    """A detection that the tracker selected: its index in the frame, class, track number
    (1, 2, ... per class)."""

    det_index: int
    category: int
    track_number: int


class _ClassState:
    """What Algorithm 1 remembers about one class."""

    def __init__(self):
        # Detections selected in the previous frame: their indices there and track numbers.
        self.previous_selected = np.zeros(0, dtype=np.int64)
        self.previous_tracks = np.zeros(0, dtype=np.int64)
        # res_dets_all: association vectors of every selected detection and its track number.
        self.gallery = _Gallery()
        self.next_track = 1
        # release_assoc: track number -> (association vector, step) of its last detection.
        self.last_detections: Dict[int, Tuple[np.ndarray, int]] = {}

    def new_tracks(self, count: int) -> np.ndarray:
        numbers = np.arange(self.next_track, self.next_track + count, dtype=np.int64)
        self.next_track += count
        return numbers


class _Gallery:
    """Rows of association vectors with their track numbers; appending is amortised O(rows)."""

    def __init__(self):
        self._vectors: Optional[np.ndarray] = None
        self._tracks = np.zeros(0, dtype=np.int64)
        self.size = 0

    def append(self, vectors: np.ndarray, tracks: np.ndarray) -> None:
        needed = self.size + len(vectors)
        if self._vectors is None or needed > len(self._vectors):
            capacity = max(64, needed, 2 * self.size)
            grown = np.zeros((capacity, vectors.shape[1]), dtype=np.float32)
            grown_tracks = np.zeros(capacity, dtype=np.int64)
            if self._vectors is not None:
                grown[: self.size] = self.vectors
                grown_tracks[: self.size] = self.tracks
            self._vectors, self._tracks = grown, grown_tracks
        self._vectors[self.size : needed] = vectors
        self._tracks[self.size : needed] = tracks
        self.size = needed

    @property
    def vectors(self) -> np.ndarray:
        return self._vectors[: self.size]

    @property
    def tracks(self) -> np.ndarray:
        return self._tracks[: self.size]


class Algorithm1Tracker:
    """Online tracker: feed the frames of one sequence in order to :meth:`step`.

    Args:
        params: the tracker parameters.
        categories: contiguous classes to track (default: all of ``params.class_names``).
    """

    def __init__(self, params: TrackerParams, categories: Optional[Sequence[int]] = None):
        self.params = params
        self.categories = (
            tuple(range(len(params.class_names))) if categories is None else tuple(categories)
        )
        self._states = {c: _ClassState() for c in self.categories}
        self._previous_frame: Optional[FrameDetections] = None
        self._step_number = 0

    def step(
        self,
        frame: FrameDetections,
        flow: Optional[np.ndarray] = None,
        pair_scores: Optional[PairScores] = None,
    ) -> List[Selection]:
        """Track one frame. ``flow`` is the backward flow from this frame to the previous one
        (None: no warping); ``pair_scores`` replaces the on-demand scores (threshold search).
        Returns the selected detections of this frame (res_dets_t), ordered by index."""
        if pair_scores is None and self._needs_pair_scores():
            pair_scores = FramePairScores(self._previous_frame, frame, flow)
        usable = usable_detections(frame, self.params)
        selections = []
        for category in self.categories:
            candidates = np.flatnonzero(usable & (frame.classes == category))
            selected, tracks = self._step_class(frame, category, candidates, pair_scores)
            selections.extend(
                Selection(int(i), category, int(n)) for i, n in zip(selected, tracks)
            )
        self._previous_frame = frame
        self._step_number += 1
        return sorted(selections)

    def _needs_pair_scores(self) -> bool:
        return self.params.uses_flow and self._previous_frame is not None

    def _step_class(
        self, frame: FrameDetections, category: int, candidates: np.ndarray, pair_scores
    ) -> Tuple[np.ndarray, np.ndarray]:
        params, state = self.params, self._states[category]
        high_conf = candidates[params.confident(frame.scores[candidates], category)]
        prev_idx, prev_tracks = state.previous_selected, state.previous_tracks

        matched_rows: List[Tuple[int, int]] = []
        if params.mechanism.keep_alive:
            prev_tracks, matched_rows = self._match_alive_tracks(frame, category, high_conf)
        elif len(high_conf) and len(prev_idx):
            mechanism = params.mechanism
            scores = mechanism.pair_score(
                pair_scores, frame, self._previous_frame, high_conf, prev_idx
            )
            if scores is not None:
                threshold = getattr(params, mechanism.threshold)[category]
                allowed = mechanism.allowed(scores, threshold)
                matched_rows = hungarian_match(scores, allowed, maximize=mechanism.maximize)
        selected = [int(high_conf[r]) for r, _ in matched_rows]
        tracks = [int(prev_tracks[c]) for _, c in matched_rows]

        if params.mechanism.assoc_match:
            assoc_selected, assoc_tracks = self._assoc_match(
                frame, category, candidates, set(selected), set(tracks)
            )
            selected += assoc_selected
            tracks += assoc_tracks

        taken = set(selected)
        unassigned_high = [int(i) for i in high_conf if int(i) not in taken]
        selected += unassigned_high
        tracks += state.new_tracks(len(unassigned_high)).tolist()

        selected_arr = np.asarray(selected, dtype=np.int64)
        tracks_arr = np.asarray(tracks, dtype=np.int64)
        state.previous_selected, state.previous_tracks = selected_arr, tracks_arr
        if frame.association_vectors is not None and len(selected_arr):
            state.gallery.append(frame.association_vectors[selected_arr], tracks_arr)
            if params.mechanism.keep_alive:
                for index, track in zip(selected_arr, tracks_arr):
                    vector = frame.association_vectors[index]
                    state.last_detections[int(track)] = (vector, self._step_number)
        return selected_arr, tracks_arr

    def _match_alive_tracks(
        self, frame: FrameDetections, category: int, high_conf: np.ndarray
    ) -> Tuple[np.ndarray, List[Tuple[int, int]]]:
        """release_assoc: Hungarian matching of the confident detections to the tracks whose
        last detection is at most ``keep_alive`` + 1 steps old, on association distance <
        delta_assoc. Returns the candidate tracks' numbers and the matched (row, column)s."""
        state = self._states[category]
        oldest = self._step_number - 1 - self.params.keep_alive[category]
        for track in [t for t, (_, step) in state.last_detections.items() if step < oldest]:
            del state.last_detections[track]
        tracks = np.array(sorted(state.last_detections), dtype=np.int64)
        if len(high_conf) == 0 or len(tracks) == 0 or frame.association_vectors is None:
            return tracks, []
        vectors = np.stack([state.last_detections[int(t)][0] for t in tracks])
        distances = association_distance(frame.association_vectors[high_conf], vectors)
        allowed = distances < self.params.assoc_threshold[category]
        return tracks, hungarian_match(distances, allowed, maximize=False)

    def _assoc_match(
        self,
        frame: FrameDetections,
        category: int,
        candidates: np.ndarray,
        already_selected: set,
        already_extended: set,
    ) -> Tuple[List[int], List[int]]:
        """assoc_match of Algorithm 1: greedy matching of the unassigned detections to the
        tracks of res_dets_all (tracks extended in this frame excluded) on association
        distance < delta_assoc."""
        state = self._states[category]
        if frame.association_vectors is None or state.gallery.size == 0:
            return [], []
        unassigned = np.array(
            [i for i in candidates if int(i) not in already_selected], dtype=np.int64
        )
        if len(unassigned) == 0:
            return [], []
        gallery_tracks = state.gallery.tracks
        vectors = frame.association_vectors[unassigned]
        distances = association_distance(vectors, state.gallery.vectors)
        allowed = distances < self.params.assoc_threshold[category]
        if already_extended:
            extended = np.zeros(state.next_track, dtype=bool)
            extended[list(already_extended)] = True
            allowed &= ~extended[gallery_tracks][None, :]
        matches = greedy_match(distances, allowed, gallery_tracks)
        return [int(unassigned[r]) for r, _ in matches], [int(t) for _, t in matches]
