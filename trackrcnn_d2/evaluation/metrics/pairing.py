"""Pairing of GT and hypotheses, shared by CLEAR, HOTA and Identity: every mask IoU computed once
(sparse, same frame and class only), TrackEval's preprocessing (ignore-region removal, id
relabelling), and the per-(frame, class) Hungarian matching where the overlaps alone do not
decide it. Mirrors ``trackeval/datasets/kitti_mots.py`` ``get_preprocessed_seq_data`` (l. 269-389,
the same in ``mots_challenge.py``) and ``_calculate_similarities`` (l. 391), for all sequences and
classes at once.
"""
import warnings
from dataclasses import dataclass
from typing import Callable, List, Mapping, Optional, Sequence, Union

import numpy as np

from trackrcnn_d2.data.mots_io import MOTSObject
from trackrcnn_d2.utils.rle_batch import RLEBatch

from .cells import CellMatrices
from .ground_truth import (
    CHUNK_FRAMES,
    FRAME_STRIDE,
    IGNORE_CHUNK_FRAMES,
    GroundTruthForClasses,
    MOTSGroundTruth,
)
from .lsap import linear_sum_assignment
from .validation import (
    MissingResultsWarning,
    OverlapChecker,
    check_frame_number,
    check_rle_strings,
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
    frame_number: np.ndarray  # frame number (as in the files) of each global frame
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
    prepared = ground_truth.for_classes(class_ids)
    hypotheses = collect(ground_truth, prepared, results, class_ids, validate)
    gt_dets, tracker_dets, frame_keys, pairs = hypotheses.evaluation_arrays(prepared)
    # kitti_mots.py l. 322-350: drop the unmatched hypotheses in ignore regions.
    matched = _matched_for_preprocessing(gt_dets, tracker_dets, pairs, n_cls)
    unmatched = np.flatnonzero(~matched)
    in_ignore_region = hypotheses.ignore_region_ioa(prepared, unmatched) > MATCH_THRESHOLD + EPS
    kept = np.ones(len(tracker_dets), dtype=bool)
    kept[unmatched[in_ignore_region]] = False
    new_index = np.cumsum(kept) - 1
    pairs = pairs.select(kept[pairs.tracker])
    pairs.tracker = new_index[pairs.tracker]
    tracker_dets = tracker_dets.select(kept)
    frame_sequence = frame_keys // FRAME_STRIDE
    return EvaluationData(
        gt_dets=gt_dets,
        tracker_dets=tracker_dets,
        gt_tracks=Tracks(gt_dets, frame_sequence, n_cls, n_groups),
        tracker_tracks=Tracks(tracker_dets, frame_sequence, n_cls, n_groups),
        pairs=pairs,
        frame_sequence=frame_sequence,
        frame_number=frame_keys % FRAME_STRIDE,
        n_cls=n_cls,
        n_groups=n_groups,
    )


class Hypotheses:
    """The hypotheses of the evaluated classes of all sequences, in frame then file order:
    ``key`` (frame key), ``cls`` (class index), ``ids``, their masks (``positions`` in
    ``batch``), and their sparse IoUs with the GT masks (``pair_gt``, ``pair_tracker``,
    ``pair_sim``)."""

    def __init__(self, key, cls, ids, batch: RLEBatch, positions):
        self.key, self.cls, self.ids = key, cls, ids
        self.batch, self.positions = batch, positions
        self.pair_gt = self.pair_tracker = np.zeros(0, dtype=np.int64)
        self.pair_sim = np.zeros(0)

    def chunk_bounds(self, indices: np.ndarray, chunk_frames: int):
        """``(chunk, begin, end)``: runs of ``indices`` (sorted) whose hypotheses share a chunk
        of ``chunk_frames`` frames, so that pycocotools is called once per chunk."""
        chunks = self.key[indices] // chunk_frames
        bounds = (np.flatnonzero(np.diff(chunks)) + 1).tolist()
        begins, ends = [0, *bounds], [*bounds, len(indices)]
        return [(int(chunks[b]), b, e) for b, e in zip(begins, ends) if e > b]

    def _widths(self, indices: np.ndarray, chunk_frames: int) -> np.ndarray:
        """Widths that set apart the masks of the frames of a chunk (see CHUNK_FRAMES)."""
        frames = self.key[indices] % FRAME_STRIDE
        return self.batch.widths(self.positions[indices]) + frames % chunk_frames

    def compute_ious(self, prepared: GroundTruthForClasses) -> None:
        """Sparse IoUs with the GT masks of the same frame, one pycocotools call per chunk of
        frames (TrackEval: ``_calculate_mask_ious`` per time step, kitti_mots.py l. 391)."""
        pair_gt, pair_tracker, pair_sim = [], [], []
        everyone = np.arange(len(self.key))
        widths = self._widths(everyone, CHUNK_FRAMES)
        for chunk, begin, end in self.chunk_bounds(everyone, CHUNK_FRAMES):
            if chunk not in prepared.chunks:
                continue
            gt_batch, gt_positions, gt_widths, gt_keys, gt_indices = prepared.chunks[chunk]
            ious = self.batch.ious(
                self.positions[begin:end], gt_batch, gt_positions, False,
                widths[begin:end], gt_widths,
            )  # fmt: skip
            rows, cols = np.nonzero(ious > 0)
            # pycocotools gives -1 for masks of different frames (widths); kept explicit.
            keep = self.key[begin + rows] == gt_keys[cols]
            rows, cols = rows[keep], cols[keep]
            pair_tracker.append(begin + rows)
            pair_gt.append(gt_indices[cols])
            pair_sim.append(ious[rows, cols])
        if pair_gt:
            self.pair_gt, self.pair_tracker, self.pair_sim = (
                np.concatenate(p) for p in (pair_gt, pair_tracker, pair_sim)
            )

    def ignore_region_ioa(self, prepared: GroundTruthForClasses, indices: np.ndarray) -> np.ndarray:
        """Intersection over area of the hypotheses ``indices`` (sorted) with their frame's
        ignore region, 0 without one (kitti_mots.py l. 336-343: ``_calculate_mask_ious`` with
        ``do_ioa``, i.e. pycocotools' iscrowd)."""
        ioa = np.zeros(len(indices))
        keys = self.key[indices]
        widths = self._widths(indices, IGNORE_CHUNK_FRAMES)
        for _, begin, end in self.chunk_bounds(indices, IGNORE_CHUNK_FRAMES):
            # Only the ignore regions of frames with such hypotheses: pycocotools computes the
            # box of every mask it is given, which costs more than the intersections here.
            in_chunk = dict.fromkeys(keys[begin:end].tolist())
            frame_keys = [k for k in in_chunk if k in prepared.ignore]
            if not frame_keys:
                continue
            ignore_batch = prepared.ignore[frame_keys[0]][0]  # the chunk's sequence's
            ignore_positions = np.array([prepared.ignore[k][1] for k in frame_keys])
            values = self.batch.ious(
                self.positions[indices[begin:end]], ignore_batch, ignore_positions, True,
                widths[begin:end],
                ignore_batch.widths(ignore_positions)
                + np.array(frame_keys) % FRAME_STRIDE % IGNORE_CHUNK_FRAMES,
            )  # fmt: skip
            rows, cols = np.nonzero(keys[begin:end, None] == np.array(frame_keys)[None, :])
            ioa[begin + rows] = values[rows, cols]
        return ioa

    def evaluation_arrays(self, prepared: GroundTruthForClasses):
        """``(gt_dets, tracker_dets, frame_keys, pairs)`` over the frames of GT or hypotheses
        of all sequences, numbered consecutively."""
        frame_keys = np.unique(np.concatenate([prepared.key, self.key]))
        n_frames = len(frame_keys)
        gt_dets = Detections(
            np.searchsorted(frame_keys, prepared.key), prepared.cls, prepared.ids, n_frames
        )
        tracker_dets = Detections(
            np.searchsorted(frame_keys, self.key), self.cls, self.ids, n_frames
        )
        pairs = Pairs(self.pair_gt, self.pair_tracker, self.pair_sim, gt_dets.frame[self.pair_gt])
        pairs = pairs.select(gt_dets.cls[pairs.gt] == tracker_dets.cls[pairs.tracker])
        return gt_dets, tracker_dets, frame_keys, pairs



def missing_results_message(missing: Sequence[str], total: int) -> str:
    """One warning for every sequence without results (evaluating the results of a subset
    against a whole ground truth gave one per sequence)."""
    if len(missing) == 1:
        return f"no results for sequence {missing[0]}: all its ground-truth masks count as missed"
    shown = ", ".join(missing[:8]) + (", ..." if len(missing) > 8 else "")
    return (
        f"no results for {len(missing)} of {total} sequences ({shown}): all their ground-truth "
        "masks count as missed; to evaluate only some sequences, give a seqmap (--seqmap FILE, "
        "or seqmap= of evaluate_mots_folders)"
    )


def collect(
    ground_truth: MOTSGroundTruth,
    prepared: GroundTruthForClasses,
    results,
    class_ids,
    validate: bool,
) -> Hypotheses:
    """One pass over the result frames (validated when asked): the hypotheses of the evaluated
    classes and their IoUs with the GT."""
    class_index = {class_id: i for i, class_id in enumerate(class_ids)}
    tracker_key: List[int] = []
    tracker_cls: List[int] = []
    tracker_ids: List[int] = []
    tracker_rles: List[dict] = []
    tracker_positions: List[int] = []
    n_validated = 0
    validated = []

    missing = [sequence for sequence in ground_truth.sequences if sequence not in results]
    if missing:
        warnings.warn(missing_results_message(missing, len(ground_truth.sequences)),
                      MissingResultsWarning, stacklevel=4)  # fmt: skip
    for sequence_index, sequence in enumerate(ground_truth.sequences):
        sequence_gt = ground_truth[sequence]
        sequence_results = results.get(sequence, {})
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
                validated.append((sequence, frame, objects))
        keyed = []  # (frame, position among the validated masks, object)
        for frame in frame_list:
            objects = sequence_results[frame]
            keyed.extend((frame, n_validated + i, o) for i, o in enumerate(objects)
                         if o.class_id in class_index)  # fmt: skip
            n_validated += len(objects)
        frames = np.fromiter((frame for frame, *_ in keyed), np.int64, len(keyed))
        tracker_key.extend((sequence_index * FRAME_STRIDE + frames).tolist())
        tracker_cls.extend(class_index[o.class_id] for *_, o in keyed)
        tracker_ids.extend(o.obj_id for *_, o in keyed)
        tracker_positions.extend(position for _, position, _ in keyed)
        if not validate:
            tracker_rles.extend(o.rle for *_, o in keyed)
    if validate:
        batch = _check_masks(validated)
        positions = np.asarray(tracker_positions, dtype=np.int64)
    else:
        batch = RLEBatch(tracker_rles)
        positions = np.arange(len(tracker_rles))

    hypotheses = Hypotheses(
        np.asarray(tracker_key, dtype=np.int64),
        np.asarray(tracker_cls, dtype=np.int64),
        np.asarray(tracker_ids, dtype=np.int64),
        batch,
        positions,
    )
    hypotheses.compute_ious(prepared)
    return hypotheses


def _check_masks(frames) -> RLEBatch:
    """The results' RLE strings (before pycocotools reads them), then their overlaps. Returns
    the masks parsed once."""
    areas, batch = check_rle_strings(frames, "results")
    overlaps = OverlapChecker("results", batch)
    sizes = np.fromiter((len(objects) for *_, objects in frames), np.int64, len(frames))
    starts = (np.cumsum(sizes) - sizes).tolist()
    frame_areas = np.add.reduceat(areas, starts).tolist() if len(frames) else []
    for (sequence, frame, objects), start, area in zip(frames, starts, frame_areas):
        overlaps.add(sequence, frame, objects, range(start, start + len(objects)), area)
    overlaps.check()
    return batch


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
    cell_score: Union[CellScore, np.ndarray],
    keep: Callable[[np.ndarray, np.ndarray], np.ndarray],
    on_cell: Optional[Callable[[int, int, np.ndarray, np.ndarray], None]] = None,
) -> Pairs:
    """TrackEval's per-time-step ``linear_sum_assignment(-score)`` where it is needed: the
    matches ``direct`` that the overlaps decide alone, and those of the (frame, class) ``cells``
    solved with TrackEval's matrices (rows and columns in file order, so that ties are broken
    alike), in frame order.

    ``cell_score``: the score of each pair (zero elsewhere), or ``cell_score(frame, cls, rows,
    cols, similarity)`` giving a cell's score matrix from its dense IoUs; ``keep(score,
    similarity)`` of the assigned entries selects the matches; ``on_cell(frame, cls, gt,
    tracker)`` sees each cell's matches before the next cell is scored (CLEAR prefers the
    previous frame's pairs).
    """
    parts = [(direct.gt, direct.tracker, direct.sim)]
    matrices = CellMatrices(gt_dets, tracker_dets, pairs, cells)
    similarities = matrices.fill(pairs.sim)
    scores = matrices.fill(cell_score) if isinstance(cell_score, np.ndarray) else None
    for k, (frame, cls) in enumerate(cells.tolist()):
        rows, cols = matrices.rows(k), matrices.cols(k)
        similarity = matrices.matrix(similarities, k)
        if scores is None:
            score = cell_score(frame, cls, rows, cols, similarity)
        else:
            score = matrices.matrix(scores, k)
        match_rows, match_cols = linear_sum_assignment(-score)
        matched = keep(score[match_rows, match_cols], similarity[match_rows, match_cols])
        match_rows, match_cols = match_rows[matched], match_cols[matched]
        gt, tracker = rows[match_rows], cols[match_cols]
        if on_cell is not None:
            on_cell(frame, cls, gt, tracker)
        parts.append((gt, tracker, similarity[match_rows, match_cols]))
    gt, tracker, sim = (np.concatenate(values) for values in zip(*parts))
    return Pairs(gt, tracker, sim, gt_dets.frame[gt])


def _matched_for_preprocessing(gt_dets, tracker_dets, pairs: Pairs, n_cls) -> np.ndarray:
    """TrackEval's preprocessing match (kitti_mots.py l. 322-335): Hungarian over the pairs with
    IoU >= 0.5 - eps, per frame and class. Returns which hypotheses are matched; of the others,
    those more than half (IoA > 0.5 + eps, l. 336-350) in the frame's ignore region are dropped."""
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
    return matched


def unique_pairs(gt_track: np.ndarray, tracker_track: np.ndarray, n_tracker_tracks: int):
    """The distinct (GT track, hypothesis track) pairs among the given ones: ``(gt, tracker,
    index of each given pair among them)``; TrackEval's dense id x id matrices, sparse."""
    keys, index = np.unique(gt_track * n_tracker_tracks + tracker_track, return_inverse=True)
    gt, tracker = np.divmod(keys, n_tracker_tracks)
    return gt, tracker, index

