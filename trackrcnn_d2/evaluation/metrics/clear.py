"""CLEAR MOT metrics for masks (sMOTSA, MOTSA, MOTSP, IDS, MT / PT / ML, Frag), as
``trackeval/metrics/clear.py`` ``eval_sequence`` (l. 52-131), vectorised over all sequences and
classes: the per-frame Hungarian matching runs only where the overlaps do not decide it."""
from dataclasses import dataclass
from typing import Callable, Dict, Optional, Tuple

import numpy as np

from .pairing import (
    EPS,
    MATCH_THRESHOLD,
    EvaluationData,
    conflicted_cells,
    hungarian_matching,
    in_cells,
)

__all__ = ["clear", "ClearMatches"]


@dataclass(frozen=True)
class ClearMatches:
    """The matches that CLEAR's counts are made of, one entry per match, ordered by GT track
    then frame (what :mod:`trackrcnn_d2.evaluation.report` draws, so that its marks add up to
    the counts). Indices are into :class:`~.pairing.EvaluationData`'s ``gt_dets`` and
    ``tracker_dets``.

    * ``gt``, ``tracker``, ``sim``: the matched GT mask, hypothesis and their IoU (the soft TP);
    * ``is_switch``: an IDS is counted here (the hypothesis track differs from the one of the
      GT track's previous match); its old track is that of the entry before;
    * ``is_run_start``: a matched run of the GT track starts here; Frag counts the run starts of
      each GT track after its first.

    TP = the entries, FN = GT masks without an entry, FP = hypotheses without one.
    """

    gt: np.ndarray
    tracker: np.ndarray
    sim: np.ndarray
    is_switch: np.ndarray
    is_run_start: np.ndarray


def clear(
    data: EvaluationData, on_matches: Optional[Callable[[ClearMatches], None]] = None
) -> Dict[str, np.ndarray]:
    """CLEAR counts per (sequence, class) group: TrackEval's per-frame Hungarian matching (IoU
    >= 0.5 - eps, preferring the previous frame's pairing), IDSW against the last matched frame,
    MT/PT/ML, Frag. ``on_matches``, when given, receives the :class:`ClearMatches` the counts
    are computed from (nothing else is computed for it)."""
    gt_dets, tracker_dets, pairs = data.gt_dets, data.tracker_dets, data.pairs
    gt_tracks, tracker_tracks = data.gt_tracks, data.tracker_tracks
    n_cls, n_groups = data.n_cls, data.n_groups
    n_frames = len(gt_dets.starts) - 1
    cell_gt = np.bincount(gt_dets.frame * n_cls + gt_dets.cls, minlength=n_frames * n_cls)
    cell_tracker = np.bincount(
        tracker_dets.frame * n_cls + tracker_dets.cls, minlength=n_frames * n_cls
    )
    # l. 72-78: a frame without GT or without hypotheses of the class matches nothing.
    active = (cell_gt > 0) & (cell_tracker > 0)

    # l. 80-90: a GT mask with a single candidate (IoU >= 0.5 - eps) that has no other candidate
    # is matched to it whatever the scores; only the other cells need the Hungarian algorithm.
    candidates = pairs.select(pairs.sim >= MATCH_THRESHOLD - EPS)
    cells = conflicted_cells(candidates, gt_dets, len(tracker_dets))
    in_conflict = in_cells(cells, gt_dets.frame[candidates.gt], gt_dets.cls[candidates.gt], n_cls)
    # The pairing of the previous active frame biases the matching: solved in frame order.
    active_cells = np.flatnonzero(active)
    solved: Dict[int, Tuple[np.ndarray, np.ndarray]] = {}

    def score_matrix(frame, cls, rows, cols, similarity):
        previous = _previous_pairing(
            data, frame, cls, active_cells, candidates, in_conflict, solved
        )
        # l. 82-84: 1000 for the previous frame's pair, then the IoU; below threshold 0.
        same_track = np.array(
            [[previous.get(gt_tracks.track[r]) == tracker_tracks.track[c] for c in cols]
             for r in rows],
            dtype=bool,
        ).reshape(len(rows), len(cols))
        score = 1000 * same_track + similarity
        score[similarity < MATCH_THRESHOLD - EPS] = 0
        return score

    def remember(frame, cls, gt, tracker):
        solved[frame * n_cls + cls] = (gt, tracker)

    matches = hungarian_matching(
        gt_dets, tracker_dets, pairs, candidates.select(~in_conflict), cells, score_matrix,
        lambda score, _: score > 0 + EPS, remember,
    )  # fmt: skip
    match_gt, match_tracker, match_sim = matches.gt, matches.tracker, matches.sim

    # l. 111-117: TP, FN, FP and MOTP's sum of IoUs.
    group_of_gt = gt_tracks.det_group
    tp = np.bincount(group_of_gt[match_gt], minlength=n_groups)
    soft_tp = np.bincount(group_of_gt[match_gt], weights=match_sim, minlength=n_groups)
    fn = gt_tracks.dets_per_group - tp
    fp = tracker_tracks.dets_per_group - tp

    # l. 95-99: IDSW, a match whose track differs from the one of the same GT track's previous
    # match (any number of frames before).
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

    # l. 104-109, 124: Frag, a matched run starts where the GT track was unmatched in the
    # previous active frame of its class (frames without GT or without hypotheses of the class
    # do not break runs).
    active_rank = np.cumsum(active.reshape(n_frames, n_cls), axis=0) - 1
    rank = active_rank[frame, gt_dets.cls[match_gt[order]]]
    run_start = ~same_gt.copy()
    run_start[1:] |= same_gt[1:] & (rank[1:] != rank[:-1] + 1)
    starts = np.bincount(gt_track[run_start], minlength=gt_tracks.n_tracks)
    frag = np.bincount(
        gt_tracks.group, weights=np.maximum(starts - 1, 0), minlength=n_groups
    ).astype(np.int64)

    # l. 119-123: MT / PT / ML from the fraction of its frames in which each GT track is matched.
    matched_count = np.bincount(gt_track, minlength=gt_tracks.n_tracks)
    ratio = matched_count / np.maximum(gt_tracks.count, 1)
    mostly = ratio > 0.8
    partly = (ratio >= 0.2) & ~mostly
    mt = np.bincount(gt_tracks.group, weights=mostly, minlength=n_groups).astype(np.int64)
    pt = np.bincount(gt_tracks.group, weights=partly, minlength=n_groups).astype(np.int64)
    ml = gt_tracks.tracks_per_group - mt - pt
    if on_matches is not None:
        on_matches(
            ClearMatches(match_gt[order], match_tracker[order], match_sim[order], switch, run_start)
        )
    return {
        "TP": tp, "FN": fn, "FP": fp, "IDS": idsw, "soft_TP": soft_tp,
        "MT": mt, "PT": pt, "ML": ml, "Frag": frag,
    }  # fmt: skip


def _previous_pairing(data: EvaluationData, frame, cls, active_cells, candidates, in_conflict,
                      solved) -> Dict[int, int]:
    """GT track -> hypothesis track matched in the previous active frame of the same class and
    sequence (TrackEval's ``prev_timestep_tracker_id``, l. 105-107); empty at a sequence's
    first one."""
    n_cls = data.n_cls
    earlier = active_cells[: np.searchsorted(active_cells, frame * n_cls + cls)]
    earlier = earlier[earlier % n_cls == cls]
    if len(earlier) == 0 or data.frame_sequence[earlier[-1] // n_cls] != data.frame_sequence[frame]:
        return {}
    previous_cell = int(earlier[-1])
    if previous_cell in solved:
        rows, cols = solved[previous_cell]
    else:
        previous_frame = previous_cell // n_cls
        gt_of_candidates = data.gt_dets.frame[candidates.gt]
        in_previous = (gt_of_candidates == previous_frame) & (
            data.gt_dets.cls[candidates.gt] == cls
        )
        in_previous &= ~in_conflict
        rows, cols = candidates.gt[in_previous], candidates.tracker[in_previous]
    return dict(
        zip(data.gt_tracks.track[rows].tolist(), data.tracker_tracks.track[cols].tolist())
    )
