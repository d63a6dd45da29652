"""Pairing of GT and hypotheses, shared by CLEAR, HOTA and Identity: every mask IoU computed once
(sparse, same frame and class only), TrackEval's preprocessing (ignore-region removal, id
relabelling), and the per-(frame, class) Hungarian matching where the overlaps alone do not
decide it. Mirrors ``trackeval/datasets/kitti_mots.py`` ``get_preprocessed_seq_data`` (l. 269-389,
the same in ``mots_challenge.py``) and ``_calculate_similarities`` (l. 391), for all sequences and
classes at once.
"""
import warnings
from dataclasses import dataclass
from typing import Callable, List, Mapping, Optional, Sequence

import numpy as np
import pycocotools.mask as mask_utils

from trackrcnn_d2.data.mots_io import MOTSObject

from .ground_truth import CHUNK_FRAMES, FRAME_STRIDE, MOTSGroundTruth, chunk_rle
from .validation import (
    MissingResultsWarning,
    OverlapChecker,
    check_frame_number,
    check_sizes,
    check_unique_ids,
)

EPS = np.finfo(float).eps
# Similarity threshold of a CLEAR / Identity match and of the ignore-region test (TrackEval).
MATCH_THRESHOLD = 0.5


class Detections:
    """Masks of the evaluated classes of all frames of all sequences, in frame order.

    ``frame``: global frame index (frames of all sequences numbered consecutively), ``cls``:
    index into ``class_names``, ``ids``: obj_id as in the data. ``starts[f]:starts[f + 1]`` are
    the detections of global frame f.
    """

    def __init__(self, frame: np.ndarray, cls: np.ndarray, ids: np.ndarray, n_frames: int):
        self.frame, self.cls, self.ids = frame, cls, ids
        counts = np.bincount(frame, minlength=n_frames)
        self.starts = np.concatenate([[0], np.cumsum(counts)])

    def select(self, keep: np.ndarray) -> "Detections":
        return Detections(self.frame[keep], self.cls[keep], self.ids[keep], len(self.starts) - 1)

    def in_cell(self, frame: int, cls: int) -> np.ndarray:
        """Indices of the detections of one frame and class, in file order."""
        indices = np.arange(self.starts[frame], self.starts[frame + 1])
        return indices[self.cls[indices] == cls]

    def __len__(self) -> int:
        return len(self.frame)


class Pairs:
    """Sparse GT x hypothesis IoUs: ``gt``, ``tracker`` (detection indices), ``sim`` (IoU > 0),
    ``frame`` (global frame index), same class only, ordered by frame (TrackEval's per-timestep
    ``similarity_scores`` matrices without their zeros)."""

    def __init__(self, gt, tracker, sim, frame):
        self.gt, self.tracker, self.sim, self.frame = gt, tracker, sim, frame

    def select(self, keep: np.ndarray) -> "Pairs":
        return Pairs(self.gt[keep], self.tracker[keep], self.sim[keep], self.frame[keep])

    def dense(self, frame: int, rows: np.ndarray, cols: np.ndarray, values) -> np.ndarray:
        """Dense rows x cols matrix of ``values`` (one per pair, zero elsewhere) over the
        detections ``rows`` / ``cols`` (sorted) of one frame and class."""
        first, last = np.searchsorted(self.frame, [frame, frame + 1])
        gt, tracker = self.gt[first:last], self.tracker[first:last]
        row = np.searchsorted(rows, gt)
        inside = (row < len(rows)) & (rows[np.minimum(row, len(rows) - 1)] == gt)
        matrix = np.zeros((len(rows), len(cols)))
        matrix[row[inside], np.searchsorted(cols, tracker[inside])] = values[first:last][inside]
        return matrix


class Tracks:
    """Track ids made contiguous per (sequence, class) group, as TrackEval relabels them
    (kitti_mots.py l. 361-376): ``track[d]`` global track index of detection d, ``group[k]``
    group of track k, ``count[k]`` number of detections of track k."""

    def __init__(self, dets: Detections, frame_sequence: np.ndarray, n_cls: int, n_groups: int):
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


@dataclass(frozen=True)
class EvaluationData:
    """What CLEAR, HOTA and Identity read, for all sequences and classes at once: TrackEval's
    preprocessed data (``get_preprocessed_seq_data``) of every (sequence, class) group.
    Group g is sequence ``g // n_cls``, class ``g % n_cls``."""

    gt_dets: Detections
    tracker_dets: Detections  # after the removal of hypotheses in ignore regions
    gt_tracks: Tracks
    tracker_tracks: Tracks
    pairs: Pairs
    frame_sequence: np.ndarray  # sequence index of each global frame
    n_cls: int
    n_groups: int


def prepare(
    ground_truth: MOTSGroundTruth,
    results: Mapping[str, Mapping[int, Sequence[MOTSObject]]],
    class_ids: Sequence[int],
    validate: bool,
) -> EvaluationData:
    """IoUs, ignore-region removal and relabelled tracks of GT and results."""
    n_cls = len(class_ids)
    n_groups = len(ground_truth.sequences) * n_cls
    gt_dets, tracker_dets, frame_sequence, tracker_ioa, pairs = collect(
        ground_truth, results, class_ids, validate
    )
    # kitti_mots.py l. 346-350: drop the unmatched hypotheses in ignore regions.
    kept = _not_in_ignore_regions(gt_dets, tracker_dets, tracker_ioa, pairs, n_cls)
    new_index = np.cumsum(kept) - 1
    pairs = pairs.select(kept[pairs.tracker])
    pairs.tracker = new_index[pairs.tracker]
    tracker_dets = tracker_dets.select(kept)
    return EvaluationData(
        gt_dets=gt_dets,
        tracker_dets=tracker_dets,
        gt_tracks=Tracks(gt_dets, frame_sequence, n_cls, n_groups),
        tracker_tracks=Tracks(tracker_dets, frame_sequence, n_cls, n_groups),
        pairs=pairs,
        frame_sequence=frame_sequence,
        n_cls=n_cls,
        n_groups=n_groups,
    )


def collect(ground_truth: MOTSGroundTruth, results, class_ids, validate):
    """One pass over the result frames: hypotheses, sparse IoUs with the GT and IoA with the
    ignore regions, from one pycocotools call per chunk of frames (TrackEval:
    ``_calculate_mask_ious`` per time step, kitti_mots.py l. 391 and l. 341)."""
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
    overlaps = OverlapChecker("results")

    for sequence_index, sequence in enumerate(ground_truth.sequences):
        sequence_gt = ground_truth[sequence]
        gt_chunks = prepared.chunks[sequence]
        sequence_results = results.get(sequence)
        if sequence_results is None:
            warnings.warn(
                f"no results for sequence {sequence}: all its ground-truth masks count as missed",
                MissingResultsWarning,
                stacklevel=4,
            )
            sequence_results = {}
        frame_list = sorted(f for f, objects in sequence_results.items() if objects)
        if validate:
            image_size = sequence_gt.image_size
            for frame in frame_list:
                objects = sequence_results[frame]
                check_frame_number(sequence, frame, sequence_gt.frame_range, "results")
                if image_size is None:
                    image_size = (objects[0].rle["size"][0], objects[0].rle["size"][1])
                check_sizes(sequence, frame, objects, image_size, "results")
                check_unique_ids(sequence, frame, objects, "results")
                overlaps.add(sequence, frame, objects)
        # The hypotheses of the evaluated classes, in frame then file order.
        keyed = [
            (frame, o)
            for frame in frame_list
            for o in sequence_results[frame]
            if o.class_id in class_index
        ]
        first = len(tracker_key)
        frames = np.fromiter((frame for frame, _ in keyed), np.int64, len(keyed))
        tracker_key.extend((sequence_index * FRAME_STRIDE + frames).tolist())
        tracker_cls.extend(class_index[o.class_id] for _, o in keyed)
        tracker_ids.extend(o.obj_id for _, o in keyed)
        rles = [chunk_rle(o.rle, frame) for frame, o in keyed]
        chunks = frames // CHUNK_FRAMES
        bounds = (np.flatnonzero(np.diff(chunks)) + 1).tolist()
        for begin, end in zip([0, *bounds], [*bounds, len(keyed)] if keyed else []):
            gt_rles, iscrowd, gt_frames, gt_indices = gt_chunks.get(int(chunks[begin]), _NO_GT)
            if not gt_rles:
                continue
            ious = np.asarray(mask_utils.iou(rles[begin:end], gt_rles, iscrowd))
            rows, cols = np.nonzero(ious > 0)
            # pycocotools gives -1 for masks of different frames (widths); kept explicit.
            keep = frames[begin + rows] == gt_frames[cols]
            rows, cols = rows[keep], cols[keep]
            gt_index = gt_indices[cols]
            is_ignore = gt_index < 0
            ioa_index.append(first + begin + rows[is_ignore])
            ioa_value.append(ious[rows[is_ignore], cols[is_ignore]])
            pair_tracker.append(first + begin + rows[~is_ignore])
            pair_gt.append(gt_index[~is_ignore])
            pair_sim.append(ious[rows[~is_ignore], cols[~is_ignore]])
    overlaps.check()

    tracker_key = np.asarray(tracker_key, dtype=np.int64)
    frame_keys = np.unique(np.concatenate([prepared.key, tracker_key]))
    n_frames = len(frame_keys)
    gt_dets = Detections(
        np.searchsorted(frame_keys, prepared.key), prepared.cls, prepared.ids, n_frames
    )
    tracker_dets = Detections(
        np.searchsorted(frame_keys, tracker_key),
        np.asarray(tracker_cls, dtype=np.int64),
        np.asarray(tracker_ids, dtype=np.int64),
        n_frames,
    )
    tracker_ioa = np.zeros(len(tracker_dets))
    if ioa_index:
        tracker_ioa[np.concatenate(ioa_index)] = np.concatenate(ioa_value)
    gt, tracker, sim = (
        np.concatenate(p) if p else np.zeros(0, dtype=d)
        for p, d in ((pair_gt, np.int64), (pair_tracker, np.int64), (pair_sim, float))
    )
    pairs = Pairs(gt, tracker, sim, gt_dets.frame[gt])
    pairs = pairs.select(gt_dets.cls[pairs.gt] == tracker_dets.cls[pairs.tracker])
    return gt_dets, tracker_dets, frame_keys // FRAME_STRIDE, tracker_ioa, pairs


_NO_GT = ([], [], np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))


def conflicted_cells(candidates: Pairs, gt_dets: Detections, n_tracker: int) -> np.ndarray:
    """(frame, class) cells in which a detection has two or more candidate partners, i.e. where
    the Hungarian algorithm's choice is not just the set of candidate pairs."""
    gt_degree = np.bincount(candidates.gt, minlength=len(gt_dets))
    tracker_degree = np.bincount(candidates.tracker, minlength=n_tracker)
    conflicted = (gt_degree[candidates.gt] > 1) | (tracker_degree[candidates.tracker] > 1)
    g = candidates.gt[conflicted]
    return np.unique(np.stack([gt_dets.frame[g], gt_dets.cls[g]], axis=1), axis=0)


def in_cells(cells: np.ndarray, frame: np.ndarray, cls: np.ndarray, n_cls: int) -> np.ndarray:
    if len(cells) == 0:
        return np.zeros(len(frame), dtype=bool)
    return np.isin(frame * n_cls + cls, cells[:, 0] * n_cls + cells[:, 1])


CellScore = Callable[[int, int, np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def hungarian_matching(
    gt_dets: Detections,
    tracker_dets: Detections,
    pairs: Pairs,
    direct: Pairs,
    cells: np.ndarray,
    cell_score: CellScore,
    keep: Callable[[np.ndarray, np.ndarray], np.ndarray],
    on_cell: Optional[Callable[[int, int, np.ndarray, np.ndarray], None]] = None,
) -> Pairs:
    """TrackEval's per-time-step ``linear_sum_assignment(-score)`` where it is needed: the
    matches ``direct`` that the overlaps decide alone, and those of the (frame, class) ``cells``
    solved with TrackEval's matrices (rows and columns in file order, so that ties are broken
    alike), in frame order.

    ``cell_score(frame, cls, rows, cols, similarity)`` gives a cell's score matrix from its dense
    IoUs; ``keep(score, similarity)`` of the assigned entries selects the matches;
    ``on_cell(frame, cls, gt, tracker)`` sees each cell's matches before the next cell is scored
    (CLEAR prefers the previous frame's pairs).
    """
    parts = [(direct.gt, direct.tracker, direct.sim)]
    if len(cells):
        # Imported here: scipy.optimize takes longer to import than a small evaluation takes.
        from scipy.optimize import linear_sum_assignment
    for frame, cls in cells:
        rows = gt_dets.in_cell(frame, cls)
        cols = tracker_dets.in_cell(frame, cls)
        similarity = pairs.dense(frame, rows, cols, pairs.sim)
        score = cell_score(frame, cls, rows, cols, similarity)
        match_rows, match_cols = linear_sum_assignment(-score)
        matched = keep(score[match_rows, match_cols], similarity[match_rows, match_cols])
        match_rows, match_cols = match_rows[matched], match_cols[matched]
        gt, tracker = rows[match_rows], cols[match_cols]
        if on_cell is not None:
            on_cell(frame, cls, gt, tracker)
        parts.append((gt, tracker, similarity[match_rows, match_cols]))
    gt, tracker, sim = (np.concatenate(values) for values in zip(*parts))
    return Pairs(gt, tracker, sim, gt_dets.frame[gt])


def _not_in_ignore_regions(gt_dets, tracker_dets, tracker_ioa, pairs: Pairs, n_cls) -> np.ndarray:
    """TrackEval's preprocessing (kitti_mots.py l. 322-350): match with IoU >= 0.5 (Hungarian,
    l. 330-334), then drop unmatched hypotheses that lie more than half (IoA > 0.5 + eps,
    l. 341-343) in the frame's ignore region. Returns the kept-hypothesis mask."""
    candidates = pairs.select(pairs.sim >= MATCH_THRESHOLD - EPS)
    cells = conflicted_cells(candidates, gt_dets, len(tracker_dets))
    in_conflict = in_cells(
        cells, gt_dets.frame[candidates.gt], gt_dets.cls[candidates.gt], n_cls
    )

    def matching_scores(frame, cls, rows, cols, similarity):
        scores = similarity.copy()  # l. 331-332
        scores[scores < MATCH_THRESHOLD - EPS] = -10000
        return scores

    matches = hungarian_matching(
        gt_dets, tracker_dets, pairs, candidates.select(~in_conflict), cells, matching_scores,
        lambda score, _: score > 0 + EPS,
    )  # fmt: skip
    matched = np.zeros(len(tracker_dets), dtype=bool)
    matched[matches.tracker] = True
    return matched | ~(tracker_ioa > MATCH_THRESHOLD + EPS)


def unique_pairs(gt_track: np.ndarray, tracker_track: np.ndarray, n_tracker_tracks: int):
    """The distinct (GT track, hypothesis track) pairs among the given ones: ``(gt, tracker,
    index of each given pair among them)``; TrackEval's dense id x id matrices, sparse."""
    keys, index = np.unique(gt_track * n_tracker_tracks + tracker_track, return_inverse=True)
    gt, tracker = np.divmod(keys, n_tracker_tracks)
    return gt, tracker, index

