"""MOTS metrics (paper Sec. 4), numerically identical to TrackEval's KITTI MOTS / MOTSChallenge
evaluation, and much faster.

Computed per class (car, pedestrian), per sequence and combined over sequences:

* CLEAR for masks: sMOTSA, MOTSA, MOTSP, IDS, TP, soft TP (sum of the IoUs of the TPs), FP, FN,
  GT (number of GT masks), recall, precision, MT / PT / ML, Frag;
* HOTA with DetA, AssA, LocA (and DetRe, DetPr, AssRe, AssPr), averaged over alpha = 0.05 ... 0.95;
* IDF1, IDP, IDR (and IDTP, IDFP, IDFN).

Where the paper's formal definition (Sec. 4) and TrackEval differ, this module follows TrackEval,
the official code of both benchmarks, so that the numbers equal published ones:

* **Matching.** The paper maps a hypothesis to the GT mask it overlaps with IoU > 0.5. TrackEval
  matches by the Hungarian algorithm over pairs with IoU >= 0.5 - float eps, so IoU exactly 0.5 is
  a match; among equally good matchings it keeps the GT-to-track pairing of the previous frame.
  The Identity metrics count pairs with IoU >= 0.5 (no eps).
* **IDS.** The paper counts a GT mask as an id switch when its *immediate predecessor* was
  matched to a different track id. TrackEval compares with the last frame in which that GT track
  was matched, across any gap of unmatched frames.
* **Ignore regions.** The paper discards hypotheses "mapped to ignore regions". TrackEval removes
  a hypothesis that is not matched to any GT mask of its class and whose intersection with the
  union of the frame's ignore regions (class 10) covers more than half of its area (+ eps).
* **Combination over sequences.** Counts (and the soft TP) are summed, then the rates computed;
  HOTA's AssA / AssRe / AssPr and LocA are TP-weighted averages over sequences, per alpha.
* **Frag** counts the re-starts of a GT track's matched runs, where a run is broken only by a frame
  in which the GT track is unmatched although both that class's GT and hypotheses are present.
* **A class without GT and without hypotheses** gets TrackEval's values: all counts 0, every rate
  0 except LocA = 100 (it is 1 by TrackEval's convention when nothing is matched).

Inputs are ``{sequence: {frame: [mots_io.MOTSObject, ...]}}``; GT includes the ignore-region
objects (class 10, obj_id 10000). Hypotheses must not overlap (TrackEval refuses them too): a
:class:`MOTSEvaluationError` names the sequence, frame and ids of any bad input.

Other conventions kept from TrackEval: per sequence, a class without GT masks but with
hypotheses gets MOTSA = sMOTSA = 0 (combined over sequences its false positives count); a
track's fraction of matched frames decides MT (> 0.8), PT (>= 0.2), ML; among equally good
matchings the order of the objects in a frame decides (file order for TrackEval).

Speed: every mask IoU is computed once (pycocotools, one call per 16 frames: the masks of each
frame get their own width in the size header, so that pycocotools skips pairs of different frames)
and shared by the preprocessing, CLEAR, HOTA and Identity; everything after that is vectorised over
all frames, sequences and classes at once. Only frames where the Hungarian algorithm's choice is
not determined by the overlaps alone (a detection with two candidate partners that do not form a
star with a strict best edge) are solved as TrackEval does, with the same matrices. For repeated
evaluation against the same GT (a threshold search), build a :class:`MOTSGroundTruth` once and
pass it instead of the dict; pass ``validate=False`` for results known to be valid.

This module imports neither torch nor detectron2.
"""
import contextlib
import functools
import gc
import warnings
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import pycocotools.mask as mask_utils
from scipy.optimize import linear_sum_assignment

from trackrcnn_d2.data.mots_io import IGNORE, MOTS_CLASS_IDS, MOTSObject, rle_areas

__all__ = [
    "MOTSEvaluationError",
    "MissingResultsWarning",
    "MOTSGroundTruth",
    "evaluate_mots",
    "HOTA_ALPHAS",
    "PERCENT_FIELDS",
    "COUNT_FIELDS",
]

EPS = np.finfo(float).eps
# Similarity threshold of a CLEAR / Identity match and of the ignore-region test (TrackEval).
MATCH_THRESHOLD = 0.5
# HOTA's localisation thresholds alpha (TrackEval: np.arange(0.05, 0.99, 0.05), 19 values).
HOTA_ALPHAS = np.arange(0.05, 0.99, 0.05)

# Reported fields: rates in percent, counts as int; "soft_TP" (sum of IoUs) as a float.
PERCENT_FIELDS = (
    "sMOTSA", "MOTSA", "MOTSP", "Recall", "Precision",
    "HOTA", "DetA", "AssA", "LocA", "DetRe", "DetPr", "AssRe", "AssPr",
    "IDF1", "IDP", "IDR",
)  # fmt: skip
COUNT_FIELDS = (
    "IDS", "TP", "FP", "FN", "GT", "MT", "PT", "ML", "Frag", "IDTP", "IDFP", "IDFN",
)  # fmt: skip

Frames = Mapping[int, Sequence[MOTSObject]]


def without_gc(function):
    """Run ``function`` with Python's cyclic garbage collector paused. The evaluation allocates
    many small objects (masks, dicts) but no reference cycles; each collection the allocations
    trigger would scan every live object (the caller's data too), for nothing."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with _gc_paused():
            return function(*args, **kwargs)

    return wrapper


@contextlib.contextmanager
def _gc_paused():
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class MOTSEvaluationError(ValueError):
    """Input the official tools refuse: the message names the sequence, frame and ids."""


class MissingResultsWarning(UserWarning):
    """A GT sequence has no results: all its GT masks count as missed."""


# Key of a frame in all sequences: sequence index * FRAME_STRIDE + frame number.
FRAME_STRIDE = 1 << 32
# Masks of this many consecutive frames go to pycocotools in one call (its per-call overhead
# dominates otherwise). Each frame's masks get a different width in their size header, so that
# pycocotools returns -1 for pairs of masks from different frames without intersecting them;
# bounding boxes and IoUs of same-frame pairs do not depend on the width.
CHUNK_FRAMES = 16


def _chunk_rle(rle: dict, frame: int) -> dict:
    height, width = rle["size"]
    return {"size": [height, width + frame % CHUNK_FRAMES], "counts": rle["counts"]}


class _SequenceGroundTruth:
    """Validated GT of one sequence: per frame its masks except ignore regions (file order) and
    the union of its ignore regions."""

    def __init__(self, name: str, frames: Frames, frame_range: Optional[Tuple[int, int]]):
        self.name = name
        self.frame_range = frame_range
        self.objects: Dict[int, Tuple[MOTSObject, ...]] = {}
        self.ignore: Dict[int, dict] = {}
        self.image_size: Optional[Tuple[int, int]] = None
        for frame in sorted(frames):
            objects = frames[frame]
            if not objects:
                continue
            _check_frame_number(name, frame, frame_range, "ground truth")
            if self.image_size is None:
                self.image_size = (objects[0].rle["size"][0], objects[0].rle["size"][1])
            _check_sizes(name, frame, objects, self.image_size, "ground truth")
            regular = tuple(o for o in objects if o.class_id != IGNORE)
            ignore_rles = [o.rle for o in objects if o.class_id == IGNORE]
            _check_unique_ids(name, frame, regular, "ground truth")
            self.objects[frame] = regular
            if len(ignore_rles) == 1:
                self.ignore[frame] = ignore_rles[0]
            elif ignore_rles:
                self.ignore[frame] = mask_utils.merge(ignore_rles, intersect=False)
        self._check_no_overlaps()

    def _check_no_overlaps(self) -> None:
        """TrackEval refuses GT whose masks (ignore region included) overlap."""
        checker = _OverlapChecker("ground truth")
        for frame, regular in self.objects.items():
            ignore = self.ignore.get(frame)
            checker.add(self.name, frame, list(regular) + ([ignore] if ignore is not None else []))
        checker.check()


_OVERLAP_ADVICE = (
    "MOTS requires every pixel to belong to at most one object, and the official tools refuse "
    "overlapping masks: resolve the overlaps first"
)


class _OverlapChecker:
    """Finds overlapping masks in bulk: the masks of a frame are disjoint iff the area of their
    union equals the sum of their areas (one pycocotools merge per frame, the areas of all masks
    in one go); only for a frame that fails are the pairs looked at, to name them."""

    def __init__(self, what: str):
        self.what = what
        self.frames: List[Tuple[str, int, list]] = []
        self.rles: List[dict] = []
        self.unions: List[dict] = []

    def add(self, sequence: str, frame: int, objects: list) -> None:
        """``objects``: the frame's MOTSObjects, or RLE dicts for ignore regions."""
        if len(objects) > 1:
            rles = [o if isinstance(o, dict) else o.rle for o in objects]
            self.frames.append((sequence, frame, objects))
            self.rles.extend(rles)
            self.unions.append(mask_utils.merge(rles, intersect=False))

    def check(self) -> None:
        if not self.frames:
            return
        sizes = np.array([len(objects) for _, _, objects in self.frames])
        area_sums = np.add.reduceat(rle_areas(self.rles), np.cumsum(sizes) - sizes)
        for index in np.flatnonzero(rle_areas(self.unions) != area_sums)[:1]:
            self._raise(*self.frames[index])

    def _raise(self, sequence, frame, objects) -> None:
        rles = [o if isinstance(o, dict) else o.rle for o in objects]
        ious = np.asarray(mask_utils.iou(rles, rles, [0] * len(rles)))
        np.fill_diagonal(ious, 0)
        first, second = np.argwhere(ious > 0)[0]
        names = [
            "the ignore region" if isinstance(o, dict) else f"object {o.obj_id}"
            for o in (objects[first], objects[second])
        ]
        raise MOTSEvaluationError(
            f"{self.what} of sequence {sequence}, frame {frame}: the masks of {names[0]} and "
            f"{names[1]} overlap. {_OVERLAP_ADVICE}"
        )


class _GroundTruthForClasses:
    """The GT of the evaluated classes, arranged for :func:`_collect`: detection arrays in
    frame order (``key``: frame key, ``cls``: class index, ``ids``) and per sequence and frame
    chunk the chunk's masks for pycocotools (:func:`_chunk_rle`), GT masks of the evaluated
    classes and ignore regions: ``(rles, iscrowd, frame per mask, GT index per mask (-1 for an
    ignore region))``."""

    def __init__(self, ground_truth: "MOTSGroundTruth", class_index: Dict[int, int]):
        keys: List[int] = []
        classes: List[int] = []
        ids: List[int] = []
        self.chunks: Dict[str, Dict[int, tuple]] = {}
        for sequence_index, sequence in enumerate(ground_truth.sequences):
            sequence_gt = ground_truth[sequence]
            chunks: Dict[int, tuple] = {}
            for frame, objects in sequence_gt.objects.items():
                rles, iscrowd, frames, indices = chunks.setdefault(
                    frame // CHUNK_FRAMES, ([], [], [], [])
                )
                gt = [o for o in objects if o.class_id in class_index]
                rles.extend(_chunk_rle(o.rle, frame) for o in gt)
                iscrowd.extend([0] * len(gt))
                frames.extend([frame] * len(gt))
                indices.extend(range(len(keys), len(keys) + len(gt)))
                ignore = sequence_gt.ignore.get(frame)
                if ignore is not None:
                    rles.append(_chunk_rle(ignore, frame))
                    iscrowd.append(1)
                    frames.append(frame)
                    indices.append(-1)
                keys.extend([sequence_index * FRAME_STRIDE + frame] * len(gt))
                classes.extend(class_index[o.class_id] for o in gt)
                ids.extend(o.obj_id for o in gt)
            self.chunks[sequence] = {
                chunk: (rles, iscrowd, np.asarray(frames, dtype=np.int64), np.asarray(indices))
                for chunk, (rles, iscrowd, frames, indices) in chunks.items()
            }
        self.key = np.asarray(keys, dtype=np.int64)
        self.cls = np.asarray(classes, dtype=np.int64)
        self.ids = np.asarray(ids, dtype=np.int64)


class MOTSGroundTruth:
    """Ground truth prepared once for many :func:`evaluate_mots` calls.

    Validates the GT (sizes, unique ids per frame, no overlapping masks), merges each frame's
    ignore regions and arranges the masks of the evaluated classes, so that a threshold search
    that evaluates hundreds of result sets against the same GT pays this only once.

    Args:
        gt: ``{sequence: {frame: [MOTSObject, ...]}}`` including ignore regions (class 10).
        frame_ranges: optional ``{sequence: (first, last)}`` (e.g. from a seqmap); then GT and
            result frames outside the range are refused, as TrackEval does.
    """

    @without_gc
    def __init__(
        self,
        gt: Mapping[str, Frames],
        frame_ranges: Optional[Mapping[str, Tuple[int, int]]] = None,
    ):
        frame_ranges = frame_ranges or {}
        self.sequences: List[str] = list(gt)
        self._sequences = {
            name: _SequenceGroundTruth(name, frames, frame_ranges.get(name))
            for name, frames in gt.items()
        }
        self._for_classes: Dict[Tuple[int, ...], _GroundTruthForClasses] = {}

    def __getitem__(self, sequence: str) -> _SequenceGroundTruth:
        return self._sequences[sequence]

    def __contains__(self, sequence: str) -> bool:
        return sequence in self._sequences

    def for_classes(self, class_ids: Sequence[int]) -> _GroundTruthForClasses:
        key = tuple(class_ids)
        if key not in self._for_classes:
            class_index = {class_id: i for i, class_id in enumerate(class_ids)}
            self._for_classes[key] = _GroundTruthForClasses(self, class_index)
        return self._for_classes[key]


def _check_frame_number(sequence, frame, frame_range, what) -> None:
    if frame_range is not None and not frame_range[0] <= frame <= frame_range[1]:
        raise MOTSEvaluationError(
            f"{what} of sequence {sequence} has frame {frame}, outside the sequence's frames "
            f"{frame_range[0]}..{frame_range[1]} (seqmap); check the frame numbering "
            "(KITTI MOTS counts from 0, MOTSChallenge from 1)"
        )


def _check_sizes(sequence, frame, objects, image_size, what) -> None:
    height, width = image_size
    for obj in objects:
        size = obj.rle["size"]
        if size[0] != height or size[1] != width:
            raise MOTSEvaluationError(
                f"{what} of sequence {sequence}, frame {frame}: object {obj.obj_id} has image "
                f"size {size[0]}x{size[1]}, but the ground truth of the sequence is "
                f"{height}x{width}; the masks belong to other images (wrong sequence or resized)"
            )


def _check_no_overlap(sequence, ious, frames, objects) -> None:
    """Refuse overlapping hypotheses (TrackEval refuses them too). ``ious``: the IoUs of a
    chunk's hypotheses with themselves, ``frames`` / ``objects``: theirs."""
    rows, cols = np.nonzero(ious > 0)
    clash = (rows != cols) & (frames[rows] == frames[cols])
    if clash.any():
        first, second = objects[rows[clash][0]], objects[cols[clash][0]]
        raise MOTSEvaluationError(
            f"results of sequence {sequence}, frame {first.frame}: the masks of object "
            f"{first.obj_id} and object {second.obj_id} overlap. {_OVERLAP_ADVICE}"
        )


def _check_unique_ids(sequence, frame, objects, what) -> None:
    ids = [o.obj_id for o in objects]
    if len(set(ids)) != len(ids):
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        raise MOTSEvaluationError(
            f"{what} of sequence {sequence}, frame {frame}: object id(s) {duplicates} occur more "
            "than once; every object id may appear at most once per frame"
        )


class _Detections:
    """Masks of the evaluated classes of all frames of all sequences, in frame order.

    ``frame``: global frame index (frames of all sequences numbered consecutively), ``cls``:
    index into ``class_names``, ``ids``: obj_id as in the data. ``starts[f]:starts[f + 1]`` are
    the detections of global frame f.
    """

    def __init__(self, frame: np.ndarray, cls: np.ndarray, ids: np.ndarray, n_frames: int):
        self.frame, self.cls, self.ids = frame, cls, ids
        counts = np.bincount(frame, minlength=n_frames)
        self.starts = np.concatenate([[0], np.cumsum(counts)])

    def select(self, keep: np.ndarray) -> "_Detections":
        return _Detections(self.frame[keep], self.cls[keep], self.ids[keep], len(self.starts) - 1)

    def __len__(self) -> int:
        return len(self.frame)


class _Pairs:
    """Sparse GT x hypothesis IoUs: ``gt``, ``tracker`` (detection indices), ``sim`` (IoU > 0),
    same class only, ordered by frame."""

    def __init__(self, gt, tracker, sim):
        self.gt, self.tracker, self.sim = gt, tracker, sim

    def select(self, keep: np.ndarray) -> "_Pairs":
        return _Pairs(self.gt[keep], self.tracker[keep], self.sim[keep])


def _collect(ground_truth: MOTSGroundTruth, results, class_ids, validate):
    """One pass over the result frames: hypotheses, sparse IoUs with the GT and IoA with the
    ignore regions, from one pycocotools call per chunk of frames, which, when validating, also
    gives the overlaps of the hypotheses with each other."""
    class_index = {class_id: i for i, class_id in enumerate(class_ids)}
    prepared = ground_truth.for_classes(class_ids)
    tracker_key: List[int] = []
    tracker_cls: List[int] = []
    tracker_ids: List[int] = []
    pair_gt: List[np.ndarray] = []
    pair_tracker: List[np.ndarray] = []
    pair_sim: List[np.ndarray] = []
    ioa_index: List[np.ndarray] = []
    ioa_value: List[np.ndarray] = []

    for sequence_index, sequence in enumerate(ground_truth.sequences):
        sequence_gt = ground_truth[sequence]
        gt_chunks = prepared.chunks[sequence]
        sequence_results = results.get(sequence)
        if sequence_results is None:
            warnings.warn(
                f"no results for sequence {sequence}: all its ground-truth masks count as missed",
                MissingResultsWarning,
                stacklevel=3,
            )
            sequence_results = {}
        image_size = sequence_gt.image_size
        # Masks of the current chunk: pycocotools RLEs, frames, hypothesis indices (-1: a class
        # not evaluated, only there to be checked for overlaps) and objects.
        rles: List[dict] = []
        frames: List[int] = []
        indices: List[int] = []
        objects_of_rows: List[MOTSObject] = []
        frame_list = sorted(f for f, objects in sequence_results.items() if objects)
        for position, frame in enumerate(frame_list):
            objects = sequence_results[frame]
            if validate:
                _check_frame_number(sequence, frame, sequence_gt.frame_range, "results")
                if image_size is None:
                    image_size = (objects[0].rle["size"][0], objects[0].rle["size"][1])
                _check_sizes(sequence, frame, objects, image_size, "results")
                _check_unique_ids(sequence, frame, objects, "results")
            evaluated = [o for o in objects if o.class_id in class_index]
            rows = objects if validate else evaluated
            first = len(tracker_key)
            if len(evaluated) == len(rows):
                indices.extend(range(first, first + len(rows)))
            else:
                counter = iter(range(first, first + len(evaluated)))
                indices.extend(next(counter) if o.class_id in class_index else -1 for o in rows)
            tracker_key.extend([sequence_index * FRAME_STRIDE + frame] * len(evaluated))
            tracker_cls.extend(class_index[o.class_id] for o in evaluated)
            tracker_ids.extend(o.obj_id for o in evaluated)
            rles.extend(_chunk_rle(o.rle, frame) for o in rows)
            frames.extend([frame] * len(rows))
            objects_of_rows.extend(rows)
            chunk = frame // CHUNK_FRAMES
            next_frame = frame_list[position + 1] if position + 1 < len(frame_list) else None
            if (next_frame is not None and next_frame // CHUNK_FRAMES == chunk) or not rles:
                continue
            gt_rles, iscrowd, gt_frames, gt_indices = gt_chunks.get(chunk, _NO_GT)
            row_frames = np.asarray(frames, dtype=np.int64)
            row_indices = np.asarray(indices, dtype=np.int64)
            if validate:
                # The hypotheses are appended to the GT columns: their pairs are the overlaps.
                ious = np.asarray(mask_utils.iou(rles, gt_rles + rles, iscrowd + [0] * len(rles)))
                _check_no_overlap(sequence, ious[:, len(gt_rles) :], row_frames, objects_of_rows)
            elif gt_rles:
                ious = np.asarray(mask_utils.iou(rles, gt_rles, iscrowd))
            if gt_rles:
                rows, cols = np.nonzero(ious[:, : len(gt_rles)] > 0)
                # pycocotools gives -1 for masks of different frames (widths); kept explicit.
                keep = (row_frames[rows] == gt_frames[cols]) & (row_indices[rows] >= 0)
                rows, cols = rows[keep], cols[keep]
                gt_index = gt_indices[cols]
                is_ignore = gt_index < 0
                ioa_index.append(row_indices[rows[is_ignore]])
                ioa_value.append(ious[rows[is_ignore], cols[is_ignore]])
                pair_tracker.append(row_indices[rows[~is_ignore]])
                pair_gt.append(gt_index[~is_ignore])
                pair_sim.append(ious[rows[~is_ignore], cols[~is_ignore]])
            rles, frames, indices, objects_of_rows = [], [], [], []

    tracker_key = np.asarray(tracker_key, dtype=np.int64)
    frame_keys = np.unique(np.concatenate([prepared.key, tracker_key]))
    n_frames = len(frame_keys)
    gt_dets = _Detections(
        np.searchsorted(frame_keys, prepared.key), prepared.cls, prepared.ids, n_frames
    )
    tracker_dets = _Detections(
        np.searchsorted(frame_keys, tracker_key),
        np.asarray(tracker_cls, dtype=np.int64),
        np.asarray(tracker_ids, dtype=np.int64),
        n_frames,
    )
    tracker_ioa = np.zeros(len(tracker_dets))
    if ioa_index:
        tracker_ioa[np.concatenate(ioa_index)] = np.concatenate(ioa_value)
    pairs = _Pairs(
        *(np.concatenate(p) if p else np.zeros(0, dtype=d)
          for p, d in ((pair_gt, np.int64), (pair_tracker, np.int64), (pair_sim, float)))
    )
    pairs = pairs.select(gt_dets.cls[pairs.gt] == tracker_dets.cls[pairs.tracker])
    return gt_dets, tracker_dets, frame_keys // FRAME_STRIDE, tracker_ioa, pairs


_NO_GT = ([], [], np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))


def _cell_dets(dets: _Detections, frame: int, cls: int) -> np.ndarray:
    """Indices of the detections of one frame and class, in file order."""
    indices = np.arange(dets.starts[frame], dets.starts[frame + 1])
    return indices[dets.cls[indices] == cls]


def _dense(pairs: _Pairs, pair_frame, frame, rows, cols, values) -> np.ndarray:
    """Dense rows x cols matrix of ``values`` (one per pair, zero elsewhere) over the detections
    ``rows`` / ``cols`` (sorted) of one frame and class; ``pair_frame``: the (sorted) frame of
    each pair."""
    first, last = np.searchsorted(pair_frame, [frame, frame + 1])
    gt, tracker = pairs.gt[first:last], pairs.tracker[first:last]
    row = np.searchsorted(rows, gt)
    inside = (row < len(rows)) & (rows[np.minimum(row, len(rows) - 1)] == gt)
    matrix = np.zeros((len(rows), len(cols)))
    matrix[row[inside], np.searchsorted(cols, tracker[inside])] = values[first:last][inside]
    return matrix


def _conflicted_cells(gt_idx, tracker_idx, dets_gt: _Detections, n_gt, n_tracker) -> np.ndarray:
    """(frame, class) cells in which a detection has two or more candidate partners, i.e. where
    the Hungarian algorithm's choice is not just the set of candidate pairs."""
    gt_degree = np.bincount(gt_idx, minlength=n_gt)
    tracker_degree = np.bincount(tracker_idx, minlength=n_tracker)
    conflicted = (gt_degree[gt_idx] > 1) | (tracker_degree[tracker_idx] > 1)
    g = gt_idx[conflicted]
    return np.unique(np.stack([dets_gt.frame[g], dets_gt.cls[g]], axis=1), axis=0)


def _in_cells(cells: np.ndarray, frame: np.ndarray, cls: np.ndarray, n_cls: int) -> np.ndarray:
    if len(cells) == 0:
        return np.zeros(len(frame), dtype=bool)
    return np.isin(frame * n_cls + cls, cells[:, 0] * n_cls + cells[:, 1])


def _preprocess(gt_dets, tracker_dets, tracker_ioa, pairs: _Pairs, n_cls):
    """TrackEval's preprocessing: match with IoU >= 0.5 (Hungarian), then drop unmatched
    hypotheses that lie more than half (IoA > 0.5 + eps) in the frame's ignore region.
    Returns the kept-hypothesis mask."""
    pair_frame = gt_dets.frame[pairs.gt]
    candidate = pairs.sim >= MATCH_THRESHOLD - EPS
    cand_gt, cand_tracker = pairs.gt[candidate], pairs.tracker[candidate]
    cells = _conflicted_cells(cand_gt, cand_tracker, gt_dets, len(gt_dets), len(tracker_dets))
    in_conflict = _in_cells(cells, gt_dets.frame[cand_gt], gt_dets.cls[cand_gt], n_cls)
    matched = np.zeros(len(tracker_dets), dtype=bool)
    matched[cand_tracker[~in_conflict]] = True
    for frame, cls in cells:
        rows = _cell_dets(gt_dets, frame, cls)
        cols = _cell_dets(tracker_dets, frame, cls)
        scores = _dense(pairs, pair_frame, frame, rows, cols, pairs.sim)
        scores[scores < MATCH_THRESHOLD - EPS] = -10000
        match_rows, match_cols = linear_sum_assignment(-scores)
        actually = scores[match_rows, match_cols] > 0 + EPS
        matched[cols[match_cols[actually]]] = True
    return matched | ~(tracker_ioa > MATCH_THRESHOLD + EPS)


class _Relabeled:
    """Track ids made contiguous per (sequence, class) group, as TrackEval relabels them:
    ``track[d]`` global track index of detection d, ``group[k]`` group of track k,
    ``count[k]`` number of detections of track k."""

    def __init__(self, dets: _Detections, frame_sequence: np.ndarray, n_cls: int, n_groups: int):
        self.det_group = frame_sequence[dets.frame] * n_cls + dets.cls
        id_range = int(dets.ids.max(initial=0)) + 1
        unique_keys, self.track = np.unique(
            self.det_group * id_range + dets.ids, return_inverse=True
        )
        self.n_tracks = len(unique_keys)
        self.group = unique_keys // id_range
        self.count = np.bincount(self.track, minlength=self.n_tracks)
        self.dets_per_group = np.bincount(self.det_group, minlength=n_groups)
        self.tracks_per_group = np.bincount(self.group, minlength=n_groups)


def _clear(gt_dets, tracker_dets, gt_tracks, tracker_tracks, pairs, frame_sequence, n_cls,
           n_groups):
    """CLEAR metrics per group: TrackEval's per-frame Hungarian matching (IoU >= 0.5 - eps,
    preferring last frame's pairing), IDSW against the last matched frame, MT/PT/ML, Frag."""
    n_frames = len(gt_dets.starts) - 1
    cell_gt = np.bincount(gt_dets.frame * n_cls + gt_dets.cls, minlength=n_frames * n_cls)
    cell_tracker = np.bincount(
        tracker_dets.frame * n_cls + tracker_dets.cls, minlength=n_frames * n_cls
    )
    active = (cell_gt > 0) & (cell_tracker > 0)
    pair_frame = gt_dets.frame[pairs.gt]

    candidate = pairs.sim >= MATCH_THRESHOLD - EPS
    cand = pairs.select(candidate)
    cells = _conflicted_cells(cand.gt, cand.tracker, gt_dets, len(gt_dets), len(tracker_dets))
    in_conflict = _in_cells(cells, gt_dets.frame[cand.gt], gt_dets.cls[cand.gt], n_cls)
    match_gt = [cand.gt[~in_conflict]]
    match_tracker = [cand.tracker[~in_conflict]]
    match_sim = [cand.sim[~in_conflict]]
    if len(cells):
        # The pairing of the previous active frame biases the matching: solve in frame order.
        active_cells = np.flatnonzero(active)
        solved: Dict[int, Tuple[np.ndarray, np.ndarray]] = {}
        for frame, cls in cells:
            rows = _cell_dets(gt_dets, frame, cls)
            cols = _cell_dets(tracker_dets, frame, cls)
            similarity = _dense(pairs, pair_frame, frame, rows, cols, pairs.sim)
            previous = _previous_pairing(
                frame, cls, active_cells, n_cls, frame_sequence, gt_dets, gt_tracks,
                tracker_tracks, cand, in_conflict, solved,
            )
            same_track = np.array(
                [[previous.get(gt_tracks.track[r]) == tracker_tracks.track[c] for c in cols]
                 for r in rows],
                dtype=bool,
            ).reshape(len(rows), len(cols))
            score = 1000 * same_track + similarity
            score[similarity < MATCH_THRESHOLD - EPS] = 0
            match_rows, match_cols = linear_sum_assignment(-score)
            actually = score[match_rows, match_cols] > 0 + EPS
            rows_matched, cols_matched = rows[match_rows[actually]], cols[match_cols[actually]]
            solved[frame * n_cls + cls] = (rows_matched, cols_matched)
            match_gt.append(rows_matched)
            match_tracker.append(cols_matched)
            match_sim.append(similarity[match_rows[actually], match_cols[actually]])
    match_gt = np.concatenate(match_gt)
    match_tracker = np.concatenate(match_tracker)
    match_sim = np.concatenate(match_sim)

    group_of_gt = gt_tracks.det_group
    tp = np.bincount(group_of_gt[match_gt], minlength=n_groups)
    soft_tp = np.bincount(group_of_gt[match_gt], weights=match_sim, minlength=n_groups)
    fn = gt_tracks.dets_per_group - tp
    fp = tracker_tracks.dets_per_group - tp

    # IDSW: a match whose track differs from the one of the same GT track's previous match.
    gt_track = gt_tracks.track[match_gt]
    tracker_track = tracker_tracks.track[match_tracker]
    frame = gt_dets.frame[match_gt]
    order = np.lexsort((frame, gt_track))
    gt_track, tracker_track, frame = gt_track[order], tracker_track[order], frame[order]
    same_gt = np.zeros(len(order), dtype=bool)
    same_gt[1:] = gt_track[1:] == gt_track[:-1]
    switch = same_gt.copy()
    switch[1:] &= tracker_track[1:] != tracker_track[:-1]
    idsw = np.bincount(gt_tracks.group[gt_track[switch]], minlength=n_groups)

    # Frag: a matched run starts where the GT track was unmatched in the previous active frame
    # of its class (frames without GT or without hypotheses of the class do not break runs).
    active_rank = np.cumsum(active.reshape(n_frames, n_cls), axis=0) - 1
    rank = active_rank[frame, gt_dets.cls[match_gt[order]]]
    run_start = ~same_gt.copy()
    run_start[1:] |= same_gt[1:] & (rank[1:] != rank[:-1] + 1)
    starts = np.bincount(gt_track[run_start], minlength=gt_tracks.n_tracks)
    frag = np.bincount(
        gt_tracks.group, weights=np.maximum(starts - 1, 0), minlength=n_groups
    ).astype(np.int64)

    # MT / PT / ML from the fraction of its frames in which each GT track is matched.
    matched_count = np.bincount(gt_track, minlength=gt_tracks.n_tracks)
    ratio = matched_count / np.maximum(gt_tracks.count, 1)
    mostly = ratio > 0.8
    partly = (ratio >= 0.2) & ~mostly
    mt = np.bincount(gt_tracks.group, weights=mostly, minlength=n_groups).astype(np.int64)
    pt = np.bincount(gt_tracks.group, weights=partly, minlength=n_groups).astype(np.int64)
    ml = gt_tracks.tracks_per_group - mt - pt
    return {
        "TP": tp, "FN": fn, "FP": fp, "IDS": idsw, "soft_TP": soft_tp,
        "MT": mt, "PT": pt, "ML": ml, "Frag": frag,
    }  # fmt: skip


def _previous_pairing(frame, cls, active_cells, n_cls, frame_sequence, gt_dets, gt_tracks,
                      tracker_tracks, cand, in_conflict, solved) -> Dict[int, int]:
    """GT track -> hypothesis track matched in the previous active frame of the same class and
    sequence (TrackEval's ``prev_timestep_tracker_id``); empty at a sequence's first one."""
    earlier = active_cells[: np.searchsorted(active_cells, frame * n_cls + cls)]
    earlier = earlier[earlier % n_cls == cls]
    if len(earlier) == 0 or frame_sequence[earlier[-1] // n_cls] != frame_sequence[frame]:
        return {}
    previous_cell = int(earlier[-1])
    if previous_cell in solved:
        rows, cols = solved[previous_cell]
    else:
        previous_frame = previous_cell // n_cls
        in_previous = (gt_dets.frame[cand.gt] == previous_frame) & (gt_dets.cls[cand.gt] == cls)
        in_previous &= ~in_conflict
        rows, cols = cand.gt[in_previous], cand.tracker[in_previous]
    return dict(zip(gt_tracks.track[rows].tolist(), tracker_tracks.track[cols].tolist()))


def _star_matching(edges: _Pairs, score, gt_dets, tracker_dets, n_cls):
    """The Hungarian matching maximising the total score, where it is determined without
    solving: per (frame, class) cell, if every connected component of the positive-score edges
    is a star (a detection and partners that have no other edge), the best edge of each star,
    when it is strictly the best. Returns the edges matched that way and the cells left to the
    Hungarian algorithm (another shape, or a tie, whose breaking depends on the solver)."""
    n_gt, n_tracker = len(gt_dets), len(tracker_dets)
    gt_degree = np.bincount(edges.gt, minlength=n_gt)[edges.gt]
    tracker_degree = np.bincount(edges.tracker, minlength=n_tracker)[edges.tracker]
    not_star = (gt_degree > 1) & (tracker_degree > 1)
    lone = n_gt + n_tracker + np.arange(len(score))  # an edge on its own is its own star
    center = np.where(
        gt_degree > 1, edges.gt, np.where(tracker_degree > 1, n_gt + edges.tracker, lone)
    )
    order = np.lexsort((-score, center))
    first_of_center = np.ones(len(order), dtype=bool)
    first_of_center[1:] = center[order][1:] != center[order][:-1]
    tie = np.zeros(len(order), dtype=bool)
    tie[1:] = ~first_of_center[1:] & (score[order][1:] == score[order][:-1])
    unsolved = not_star.copy()
    unsolved[order[tie]] = True
    cell = gt_dets.frame[edges.gt] * n_cls + gt_dets.cls[edges.gt]
    unsolved_cells = np.unique(cell[unsolved])
    matched = np.zeros(len(score), dtype=bool)
    matched[order[first_of_center]] = True
    matched &= ~np.isin(cell, unsolved_cells)
    return matched, np.stack(np.divmod(unsolved_cells, n_cls), axis=1)


def _hota(gt_dets, tracker_dets, gt_tracks, tracker_tracks, pairs, n_cls, n_groups):
    """HOTA per group and alpha: TrackEval's global alignment score, per-frame Hungarian
    matching on alignment x IoU, then DetA / AssA / LocA for each alpha."""
    n_alpha = len(HOTA_ALPHAS)
    gt_track = gt_tracks.track[pairs.gt]
    tracker_track = tracker_tracks.track[pairs.tracker]

    # Global alignment: per frame, IoU normalised by the row and column sums.
    row_sum = np.bincount(pairs.gt, weights=pairs.sim, minlength=len(gt_dets))
    col_sum = np.bincount(pairs.tracker, weights=pairs.sim, minlength=len(tracker_dets))
    denominator = (col_sum[pairs.tracker] + row_sum[pairs.gt]) - pairs.sim
    sim_iou = np.zeros_like(pairs.sim)
    positive = denominator > 0 + EPS
    sim_iou[positive] = pairs.sim[positive] / denominator[positive]
    pair_key = gt_track * tracker_tracks.n_tracks + tracker_track
    unique_keys, pair_index = np.unique(pair_key, return_inverse=True)
    potential = np.bincount(pair_index, weights=sim_iou, minlength=len(unique_keys))
    key_gt, key_tracker = np.divmod(unique_keys, tracker_tracks.n_tracks)
    alignment = potential / (
        (gt_tracks.count[key_gt] + tracker_tracks.count[key_tracker]) - potential
    )
    score = alignment[pair_index] * pairs.sim

    pair_frame = gt_dets.frame[pairs.gt]
    edge = score > 0
    edges = pairs.select(edge)
    edge_score = score[edge]
    matched, cells = _star_matching(edges, edge_score, gt_dets, tracker_dets, n_cls)
    match_gt = [edges.gt[matched]]
    match_tracker = [edges.tracker[matched]]
    match_sim = [edges.sim[matched]]
    for frame, cls in cells:
        rows = _cell_dets(gt_dets, frame, cls)
        cols = _cell_dets(tracker_dets, frame, cls)
        score_matrix = _dense(pairs, pair_frame, frame, rows, cols, score)
        similarity = _dense(pairs, pair_frame, frame, rows, cols, pairs.sim)
        match_rows, match_cols = linear_sum_assignment(-score_matrix)
        overlapping = similarity[match_rows, match_cols] > 0
        match_gt.append(rows[match_rows[overlapping]])
        match_tracker.append(cols[match_cols[overlapping]])
        match_sim.append(similarity[match_rows[overlapping], match_cols[overlapping]])
    match_gt = np.concatenate(match_gt)
    match_tracker = np.concatenate(match_tracker)
    match_sim = np.concatenate(match_sim)

    group = gt_tracks.det_group[match_gt]
    match_key = gt_tracks.track[match_gt] * tracker_tracks.n_tracks + tracker_tracks.track[
        match_tracker
    ]
    unique_match_keys, match_index = np.unique(match_key, return_inverse=True)
    pair_gt, pair_tracker = np.divmod(unique_match_keys, tracker_tracks.n_tracks)
    pair_group = gt_tracks.group[pair_gt]
    gt_count = gt_tracks.count[pair_gt]
    tracker_count = tracker_tracks.count[pair_tracker]

    tp = np.zeros((n_alpha, n_groups))
    loca_sum = np.zeros((n_alpha, n_groups))
    ass_a, ass_re, ass_pr = (np.zeros((n_alpha, n_groups)) for _ in range(3))
    for a, alpha in enumerate(HOTA_ALPHAS):
        selected = match_sim >= alpha - EPS
        tp[a] = np.bincount(group[selected], minlength=n_groups)
        loca_sum[a] = np.bincount(group[selected], weights=match_sim[selected], minlength=n_groups)
        matches = np.bincount(match_index[selected], minlength=len(unique_match_keys))
        ass_a[a] = np.bincount(
            pair_group,
            weights=matches * (matches / np.maximum(1, gt_count + tracker_count - matches)),
            minlength=n_groups,
        )
        ass_re[a] = np.bincount(
            pair_group, weights=matches * (matches / np.maximum(1, gt_count)), minlength=n_groups
        )
        ass_pr[a] = np.bincount(
            pair_group,
            weights=matches * (matches / np.maximum(1, tracker_count)),
            minlength=n_groups,
        )
    weight = np.maximum(1, tp)
    return {
        "HOTA_TP": tp,
        "HOTA_FN": gt_tracks.dets_per_group - tp,
        "HOTA_FP": tracker_tracks.dets_per_group - tp,
        "AssA": ass_a / weight,
        "AssRe": ass_re / weight,
        "AssPr": ass_pr / weight,
        "LocA": np.maximum(1e-10, loca_sum) / np.maximum(1e-10, tp),
    }


def _identity(gt_tracks, tracker_tracks, pairs, n_groups):
    """IDTP per group: the global one-to-one GT-track/hypothesis-track assignment maximising the
    number of frames with IoU >= 0.5. TrackEval (and motmetrics) solve the equivalent min-cost
    problem on a (G+T)^2 matrix of FN+FP costs; the total cost is #GT + #hyp - 2 IDTP, so the
    optimum and its IDTP are the same, and IDFN / IDFP follow from IDTP."""
    candidate = pairs.sim >= MATCH_THRESHOLD
    gt_track = gt_tracks.track[pairs.gt[candidate]]
    tracker_track = tracker_tracks.track[pairs.tracker[candidate]]
    key = gt_track * tracker_tracks.n_tracks + tracker_track
    unique_keys, counts = np.unique(key, return_counts=True)
    key_gt, key_tracker = np.divmod(unique_keys, tracker_tracks.n_tracks)
    key_group = gt_tracks.group[key_gt]
    idtp = np.zeros(n_groups, dtype=np.int64)
    for group in np.unique(key_group):
        in_group = key_group == group
        rows, row_index = np.unique(key_gt[in_group], return_inverse=True)
        cols, col_index = np.unique(key_tracker[in_group], return_inverse=True)
        potential = np.zeros((len(rows), len(cols)))
        potential[row_index, col_index] = counts[in_group]
        match_rows, match_cols = linear_sum_assignment(potential, maximize=True)
        idtp[group] = int(potential[match_rows, match_cols].sum())
    return {
        "IDTP": idtp,
        "IDFN": gt_tracks.dets_per_group - idtp,
        "IDFP": tracker_tracks.dets_per_group - idtp,
    }


def _final_fields(counts: Dict[str, np.ndarray], single_sequence: bool) -> Dict[str, object]:
    """Rates from summed counts, as TrackEval's ``_compute_final_fields`` (fractions).

    TrackEval's per-sequence CLEAR returns early for a sequence without GT masks of the class,
    leaving MOTA and sMOTA at 0 instead of -FP; that convention is kept for single sequences.
    """
    tp, fn, fp, idsw = counts["TP"], counts["FN"], counts["FP"], counts["IDS"]
    n_gt = tp + fn
    no_gt_in_sequence = single_sequence and n_gt == 0
    hota_tp, hota_fn, hota_fp = counts["HOTA_TP"], counts["HOTA_FN"], counts["HOTA_FP"]
    det_a = hota_tp / np.maximum(1, hota_tp + hota_fn + hota_fp)
    idtp, idfn, idfp = counts["IDTP"], counts["IDFN"], counts["IDFP"]
    return {
        "sMOTSA": 0.0 if no_gt_in_sequence else (counts["soft_TP"] - fp - idsw) / max(1.0, n_gt),
        "MOTSA": 0.0 if no_gt_in_sequence else (tp - fp - idsw) / max(1.0, n_gt),
        "MOTSP": counts["soft_TP"] / np.maximum(1.0, tp),
        "Recall": tp / np.maximum(1.0, n_gt),
        "Precision": tp / np.maximum(1.0, tp + fp),
        "HOTA": np.mean(np.sqrt(det_a * counts["AssA"])),
        "DetA": np.mean(det_a),
        "AssA": np.mean(counts["AssA"]),
        "LocA": np.mean(counts["LocA"]),
        "DetRe": np.mean(hota_tp / np.maximum(1, hota_tp + hota_fn)),
        "DetPr": np.mean(hota_tp / np.maximum(1, hota_tp + hota_fp)),
        "AssRe": np.mean(counts["AssRe"]),
        "AssPr": np.mean(counts["AssPr"]),
        "IDF1": idtp / np.maximum(1.0, idtp + 0.5 * idfp + 0.5 * idfn),
        "IDP": idtp / np.maximum(1.0, idtp + idfp),
        "IDR": idtp / np.maximum(1.0, idtp + idfn),
        "IDS": idsw, "TP": tp, "FP": fp, "FN": fn, "GT": n_gt,
        "MT": counts["MT"], "PT": counts["PT"], "ML": counts["ML"], "Frag": counts["Frag"],
        "IDTP": idtp, "IDFP": idfp, "IDFN": idfn,
        "soft_TP": counts["soft_TP"],
    }  # fmt: skip


def _report(fields: Dict[str, object]) -> Dict[str, object]:
    """Rates in percent as papers print them, counts as int, soft TP as float."""
    report = {name: 100.0 * float(fields[name]) for name in PERCENT_FIELDS}
    report.update({name: int(fields[name]) for name in COUNT_FIELDS})
    report["soft_TP"] = float(fields["soft_TP"])
    return report


_SUMMED = ("TP", "FN", "FP", "IDS", "soft_TP", "MT", "PT", "ML", "Frag", "IDTP", "IDFN", "IDFP")
_HOTA_COUNTS = ("HOTA_TP", "HOTA_FN", "HOTA_FP")


def _combine_sequences(per_group: Dict[str, np.ndarray], groups: np.ndarray) -> Dict[str, object]:
    """TrackEval's ``combine_sequences``: counts summed; AssA / AssRe / AssPr and LocA averaged
    with the per-alpha HOTA TP counts as weights."""
    if len(groups) == 1:
        return {name: values[..., groups[0]] for name, values in per_group.items()}
    combined = {name: per_group[name][groups].sum() for name in _SUMMED}
    for name in _HOTA_COUNTS:
        combined[name] = per_group[name][:, groups].sum(axis=1)
    tp = per_group["HOTA_TP"][:, groups]
    for name in ("AssA", "AssRe", "AssPr"):
        combined[name] = (per_group[name][:, groups] * tp).sum(axis=1) / np.maximum(
            1.0, combined["HOTA_TP"]
        )
    loca_weighted = (per_group["LocA"][:, groups] * tp).sum(axis=1)
    combined["LocA"] = np.maximum(1e-10, loca_weighted) / np.maximum(1e-10, combined["HOTA_TP"])
    return combined


@without_gc
def evaluate_mots(
    gt,
    results: Mapping[str, Frames],
    class_names: Sequence[str] = ("car", "pedestrian"),
    validate: bool = True,
) -> Dict[str, object]:
    """Evaluate MOTS results against ground truth, as TrackEval's KittiMOTS / MOTSChallenge.

    Args:
        gt: ``{sequence: {frame: [MOTSObject, ...]}}`` including ignore regions (class 10), or a
            :class:`MOTSGroundTruth` prepared once from it (faster for repeated calls). Its
            sequences are the ones evaluated.
        results: ``{sequence: {frame: [MOTSObject, ...]}}``. A GT sequence without results
            counts as all missed (with a :class:`MissingResultsWarning`); a result sequence that
            is not in the GT is an error.
        class_names: classes to evaluate, among ``"car"`` and ``"pedestrian"``.
        validate: check the results as the official tools do (image size, unique ids per frame,
            no overlapping masks). Only skip it for results known to be valid.

    Returns:
        ``{class: {field: value}, ..., "per_sequence": {sequence: {class: {field: value}}}}``
        with the fields :data:`PERCENT_FIELDS` in percent (71.8 means 71.8 %),
        :data:`COUNT_FIELDS` as int, and ``soft_TP`` (the sum of IoUs of the true positives).
        Combined values follow TrackEval's combination over sequences (see module docstring).

    Raises:
        MOTSEvaluationError: bad input, naming the sequence, frame and ids.
    """
    unknown_classes = [c for c in class_names if c not in MOTS_CLASS_IDS]
    if unknown_classes or not class_names:
        raise ValueError(
            f"cannot evaluate class(es) {list(unknown_classes)}; MOTS classes are "
            f"{sorted(MOTS_CLASS_IDS)}"
        )
    ground_truth = gt if isinstance(gt, MOTSGroundTruth) else MOTSGroundTruth(gt)
    unknown = [s for s in results if s not in ground_truth]
    if unknown:
        raise MOTSEvaluationError(
            f"results contain sequence(s) {sorted(unknown)} that are not in the ground truth "
            f"(its sequences: {ground_truth.sequences}); check the result file names"
        )
    class_ids = [MOTS_CLASS_IDS[c] for c in class_names]
    n_cls = len(class_ids)
    n_groups = len(ground_truth.sequences) * n_cls

    gt_dets, tracker_dets, frame_sequence, tracker_ioa, pairs = _collect(
        ground_truth, results, class_ids, validate
    )
    kept = _preprocess(gt_dets, tracker_dets, tracker_ioa, pairs, n_cls)
    new_index = np.cumsum(kept) - 1
    pairs = pairs.select(kept[pairs.tracker])
    pairs.tracker = new_index[pairs.tracker]
    tracker_dets = tracker_dets.select(kept)

    gt_tracks = _Relabeled(gt_dets, frame_sequence, n_cls, n_groups)
    tracker_tracks = _Relabeled(tracker_dets, frame_sequence, n_cls, n_groups)
    per_group = {}
    per_group.update(
        _clear(gt_dets, tracker_dets, gt_tracks, tracker_tracks, pairs, frame_sequence, n_cls,
               n_groups)
    )
    per_group.update(
        _hota(gt_dets, tracker_dets, gt_tracks, tracker_tracks, pairs, n_cls, n_groups)
    )
    per_group.update(_identity(gt_tracks, tracker_tracks, pairs, n_groups))

    output: Dict[str, object] = {}
    for c, name in enumerate(class_names):
        groups = np.arange(c, n_groups, n_cls)
        output[name] = _report(_final_fields(_combine_sequences(per_group, groups), False))
    output["per_sequence"] = {
        sequence: {
            name: _report(
                _final_fields(_combine_sequences(per_group, np.array([s * n_cls + c])), True)
            )
            for c, name in enumerate(class_names)
        }
        for s, sequence in enumerate(ground_truth.sequences)
    }
    return output
