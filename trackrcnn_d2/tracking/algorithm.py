"""TrackR-CNN's tracker: Algorithm 1 of the paper (Supplement A) and the Table 5 alternatives.

Tracking is done per class. For each frame t (``ASSOCIATION = "maskprop_assoc"``, the paper's):

1. ``high_conf_dets_t`` = detections with confidence > gamma.
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

Without association vectors (plain Mask R-CNN) assoc_match finds nothing, so ``maskprop_assoc``
reduces to ``maskprop`` plus the new tracks, and ``assoc`` starts a new track for every detection.
"""
import dataclasses
from dataclasses import dataclass
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np
import pycocotools.mask as mask_utils

from trackrcnn_d2.data import mots_io

from .detections import FrameDetections
from .flow import sampling_maps, warp_box_by_median_flow, warp_mask
from .matching import (
    association_distance,
    box_center_distance,
    box_iou,
    greedy_match,
    hungarian_match,
    mask_iou,
)
from .rle import rle_difference

ASSOCIATION_MECHANISMS = ("maskprop_assoc", "maskprop", "bbox_iou", "assoc", "bbox_center")
# Mechanisms whose scores use optical flow (Table 5: mask IoU and box IoU are flow-warped).
MECHANISMS_USING_FLOW = ("maskprop_assoc", "maskprop", "bbox_iou")
DISJOINT_STRATEGIES = ("bottom", "score")

# A flow provider: (previous_frame_idx, frame_idx) -> backward flow (H, W, 2), or None.
FlowProvider = Callable[[int, int], Optional[np.ndarray]]


@dataclass(frozen=True)
class TrackerParams:
    """Parameters of the tracker. Per-class tuples follow the contiguous class order
    (``class_names`` = DATASETS.MOTS.CLASSES or the model's ``thing_classes``).

    Attributes:
        class_names: names of the contiguous classes.
        association: one of :data:`ASSOCIATION_MECHANISMS` (Table 5).
        detection_confidence: gamma per class (Alg. 1).
        maskprop_threshold: delta_maskprop per class (Alg. 1); for ``bbox_iou`` the box IoU
            threshold.
        assoc_threshold: delta_assoc per class (Alg. 1).
        center_distance_threshold: maximum box-centre distance in pixels for ``bbox_center``.
        min_score: detections below it are ignored entirely.
        min_mask_area: detections with at most this many mask pixels are ignored.
        disjoint: which object keeps a pixel claimed by several masks: ``"bottom"`` (the one
            whose mask reaches lowest in the image, paper Sec. 5) or ``"score"``.
    """

    class_names: Tuple[str, ...]
    association: str = "maskprop_assoc"
    detection_confidence: Tuple[float, ...] = (0.847, 0.937)
    maskprop_threshold: Tuple[float, ...] = (0.1, 0.1)
    assoc_threshold: Tuple[float, ...] = (1.2, 1.2)
    center_distance_threshold: Tuple[float, ...] = (50.0, 50.0)
    min_score: float = 0.0
    min_mask_area: int = 10
    disjoint: str = "bottom"

    def __post_init__(self):
        num_classes = len(self.class_names)
        object.__setattr__(self, "class_names", tuple(self.class_names))
        if self.association not in ASSOCIATION_MECHANISMS:
            raise ValueError(
                f"Unknown association mechanism {self.association!r}; "
                f"choose one of {ASSOCIATION_MECHANISMS}"
            )
        if self.disjoint not in DISJOINT_STRATEGIES:
            raise ValueError(
                f"Unknown disjoint strategy {self.disjoint!r}; choose one of {DISJOINT_STRATEGIES}"
            )
        for name in (
            "detection_confidence",
            "maskprop_threshold",
            "assoc_threshold",
            "center_distance_threshold",
        ):
            values = tuple(float(v) for v in getattr(self, name))
            if len(values) == 1:
                values = values * num_classes
            if len(values) != num_classes:
                raise ValueError(
                    f"Tracker parameter {name} has {len(values)} values but there are "
                    f"{num_classes} classes {list(self.class_names)}; give one value per class "
                    "(in DATASETS.MOTS.CLASSES order) or a single value for all"
                )
            object.__setattr__(self, name, values)

    @property
    def uses_flow(self) -> bool:
        return self.association in MECHANISMS_USING_FLOW

    def replace(self, **changes) -> "TrackerParams":
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_config(cls, cfg, class_names: Optional[Sequence[str]] = None) -> "TrackerParams":
        """Parameters from ``cfg.TRACKER_HEADS`` (classes: ``cfg.DATASETS.MOTS.CLASSES``)."""
        t = cfg.TRACKER_HEADS
        return cls(
            class_names=tuple(class_names or cfg.DATASETS.MOTS.CLASSES),
            association=t.ASSOCIATION,
            detection_confidence=tuple(t.DETECTION_CONFIDENCE),
            maskprop_threshold=tuple(t.MASKPROP_THRESHOLD),
            assoc_threshold=tuple(t.ASSOC_THRESHOLD),
            center_distance_threshold=tuple(t.CENTER_DISTANCE_THRESHOLD),
            min_score=t.MIN_SCORE,
            min_mask_area=t.MIN_MASK_AREA,
            disjoint=t.DISJOINT,
        )


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
                rle = mots_io.encode_mask(warp_mask(mots_io.decode_mask(rle), self._maps))
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


def usable_detections(frame: FrameDetections, params: TrackerParams) -> np.ndarray:
    """(N,) bool: detections the tracker considers at all (score >= min_score, mask area >
    min_mask_area, a class the tracker knows)."""
    return (
        (frame.scores >= params.min_score)
        & (frame.mask_areas > params.min_mask_area)
        & (frame.classes >= 0)
        & (frame.classes < len(params.class_names))
    )


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

    def step(
        self,
        frame: FrameDetections,
        flow: Optional[np.ndarray] = None,
        pair_scores=None,
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
        return sorted(selections)

    def _needs_pair_scores(self) -> bool:
        return self.params.association in MECHANISMS_USING_FLOW and (
            self._previous_frame is not None
        )

    def _step_class(
        self, frame: FrameDetections, category: int, candidates: np.ndarray, pair_scores
    ) -> Tuple[np.ndarray, np.ndarray]:
        params, state = self.params, self._states[category]
        high_conf = candidates[frame.scores[candidates] > params.detection_confidence[category]]
        mechanism = params.association
        prev_idx, prev_tracks = state.previous_selected, state.previous_tracks

        matched_rows: List[Tuple[int, int]] = []
        if len(high_conf) and len(prev_idx):
            if mechanism in ("maskprop_assoc", "maskprop"):
                scores = pair_scores.mask_propagation(high_conf, prev_idx)
                allowed = scores > params.maskprop_threshold[category]
                matched_rows = hungarian_match(scores, allowed, maximize=True)
            elif mechanism == "bbox_iou":
                scores = pair_scores.warped_box_iou(high_conf, prev_idx)
                allowed = scores > params.maskprop_threshold[category]
                matched_rows = hungarian_match(scores, allowed, maximize=True)
            elif mechanism == "bbox_center":
                distances = box_center_distance(
                    frame.boxes[high_conf], self._previous_frame.boxes[prev_idx]
                )
                allowed = distances < params.center_distance_threshold[category]
                matched_rows = hungarian_match(distances, allowed, maximize=False)
            elif frame.association_vectors is not None:
                distances = association_distance(
                    frame.association_vectors[high_conf],
                    self._previous_frame.association_vectors[prev_idx],
                )
                allowed = distances < params.assoc_threshold[category]
                matched_rows = hungarian_match(distances, allowed, maximize=False)
        selected = [int(high_conf[r]) for r, _ in matched_rows]
        tracks = [int(prev_tracks[c]) for _, c in matched_rows]

        if mechanism == "maskprop_assoc":
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
        return selected_arr, tracks_arr

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


class TrackedObject(NamedTuple):
    """One object of one frame in the tracker's output."""

    frame: int
    obj_id: int  # on-disk class id x 1000 + track number
    category: int  # contiguous class id
    rle: dict
    score: float


class TrackNumberOverflow(ValueError):
    """A class has more tracks in a sequence than obj_id = class x 1000 + track allows."""


def mots_object_id(class_id: int, track_number: int, where: str = "") -> int:
    """obj_id = on-disk class id x 1000 + track number (KITTI MOTS / MOTSChallenge format)."""
    if not 1 <= track_number <= 999:
        raise TrackNumberOverflow(
            f"{where}: class {class_id} has track number {track_number}, but the MOTS format "
            "(obj_id = class x 1000 + track) allows 1..999 per class and sequence; raise "
            "TRACKER_HEADS.DETECTION_CONFIDENCE so that fewer tracks start"
        )
    return class_id * 1000 + track_number


def track_sequence(
    frames: Sequence[FrameDetections],
    params: TrackerParams,
    flow_provider: Optional[FlowProvider] = None,
    pair_scores: Optional[Sequence] = None,
    categories: Optional[Sequence[int]] = None,
) -> Dict[int, List[TrackedObject]]:
    """Track one sequence: ``{frame_idx: [TrackedObject, ...]}`` with disjoint masks.

    Args:
        frames: the detections of every frame of one sequence, in time order.
        params: tracker parameters; ``params.class_names`` must be MOTS classes (car,
            pedestrian), which give the on-disk class ids of the obj_ids.
        flow_provider: ``(previous_frame_idx, frame_idx) -> backward flow`` for the mechanisms
            that use flow; None (or a provider returning None) means no warping (plain IoU).
        pair_scores: per frame, precomputed :class:`PrecomputedPairScores` (threshold search);
            replaces ``flow_provider``.
        categories: contiguous classes to track (default all).
    """
    class_to_contiguous = mots_io.mots_class_to_contiguous(params.class_names)
    contiguous_to_class = {v: k for k, v in class_to_contiguous.items()}
    _check_frame_order(frames)
    tracker = Algorithm1Tracker(params, categories)
    result: Dict[int, List[TrackedObject]] = {}
    for t, frame in enumerate(frames):
        scores = pair_scores[t] if pair_scores is not None else None
        flow = None
        if scores is None and params.uses_flow and flow_provider is not None and t > 0:
            flow = flow_provider(frames[t - 1].frame_idx, frame.frame_idx)
        objects = []
        for selection in tracker.step(frame, flow=flow, pair_scores=scores):
            class_id = contiguous_to_class[selection.category]
            where = f"sequence {frame.sequence!r} frame {frame.frame_idx}"
            objects.append(
                TrackedObject(
                    frame=frame.frame_idx,
                    obj_id=mots_object_id(class_id, selection.track_number, where),
                    category=selection.category,
                    rle=frame.masks[selection.det_index],
                    score=float(frame.scores[selection.det_index]),
                )
            )
        result[frame.frame_idx] = make_disjoint(objects, params.disjoint)
    return result


def _check_frame_order(frames: Sequence[FrameDetections]) -> None:
    for previous, current in zip(frames, frames[1:]):
        if current.sequence != previous.sequence or current.frame_idx <= previous.frame_idx:
            raise ValueError(
                f"track_sequence: frames must be of one sequence in increasing order; got "
                f"{previous.sequence!r}:{previous.frame_idx} then "
                f"{current.sequence!r}:{current.frame_idx}"
            )


def make_disjoint(objects: List[TrackedObject], strategy: str = "bottom") -> List[TrackedObject]:
    """Make the masks of one frame non-overlapping (MOTS requires it, paper Sec. 4).

    A pixel claimed by several objects goes to the object that is "lower" in the image
    (``"bottom"``, paper Sec. 5: assumed closer to the camera), defined as the larger bottom-most
    mask row (y + h of the mask's bounding box); ties go to the higher score. With ``"score"``
    the higher score wins. Objects left without pixels are dropped. Works on the RLEs, without
    decoding masks.
    """
    if len(objects) < 2:
        return list(objects)
    rles = [o.rle for o in objects]
    if strategy == "bottom":
        boxes = mask_utils.toBbox(rles)
        keys = [(-(b[1] + b[3]), -o.score) for b, o in zip(boxes, objects)]
    else:
        keys = [(-o.score,) for o in objects]
    order = sorted(range(len(objects)), key=lambda i: keys[i])
    ordered = [objects[i] for i in order]
    overlaps = mask_iou([o.rle for o in ordered], [o.rle for o in ordered]) > 0
    if not np.triu(overlaps, k=1).any():
        return ordered
    result = []
    claimed = None  # RLE union of the masks kept so far
    for i, obj in enumerate(ordered):
        if i > 0 and overlaps[i, :i].any():
            own = rle_difference(obj.rle, claimed)
            if mask_utils.area(own) == 0:
                continue
            obj = obj._replace(rle=own)
        claimed = obj.rle if claimed is None else mask_utils.merge([claimed, obj.rle])
        result.append(obj)
    return result


def tracks_to_mots_objects(
    tracks: Dict[int, List[TrackedObject]],
) -> Dict[int, List[mots_io.MOTSObject]]:
    """``{frame: [MOTSObject]}`` of a tracking result (class_id = obj_id // 1000)."""
    return {
        frame: [
            mots_io.MOTSObject(o.frame, o.obj_id, mots_io.obj_id_to_class_id(o.obj_id), o.rle)
            for o in objects
        ]
        for frame, objects in tracks.items()
    }


def write_tracking_result(
    txt_path: str,
    tracks: Dict[int, List[TrackedObject]],
    png_folder: Optional[str] = None,
    image_size: Optional[Tuple[int, int]] = None,
) -> None:
    """Write one sequence in the KITTI MOTS txt format (atomic) and, with ``png_folder``, one
    16-bit instance png per frame (``<png_folder>/<frame:06d>.png``, atomic). ``image_size``
    (height, width) is needed for png frames without objects when it cannot be inferred."""
    objects = tracks_to_mots_objects(tracks)
    mots_io.write_mots_txt(txt_path, [o for frame in objects.values() for o in frame])
    if png_folder is None:
        return
    any_object = next((o for frame in objects.values() for o in frame), None)
    size = image_size or (any_object.rle["size"] if any_object is not None else None)
    for frame, frame_objects in objects.items():
        frame_size = frame_objects[0].rle["size"] if frame_objects else size
        if frame_size is None:
            raise ValueError(
                f"{png_folder}: frame {frame} has no objects and no image_size was given"
            )
        id_map = mots_io.objects_to_id_map(frame_objects, int(frame_size[0]), int(frame_size[1]))
        mots_io.write_mots_png(f"{png_folder}/{frame:06d}.png", id_map)
