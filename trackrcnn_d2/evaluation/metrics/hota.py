"""HOTA (DetA, AssA, LocA, DetRe, DetPr, AssRe, AssPr) per alpha, as ``trackeval/metrics/hota.py``
``eval_sequence`` (l. 29-121), vectorised over all sequences and classes."""
from typing import Dict

import numpy as np

from .pairing import EPS, Detections, EvaluationData, Pairs, hungarian_matching, unique_pairs

__all__ = ["hota", "HOTA_ALPHAS"]

# HOTA's localisation thresholds alpha (TrackEval: np.arange(0.05, 0.99, 0.05), 19 values).
HOTA_ALPHAS = np.arange(0.05, 0.99, 0.05)


def hota(data: EvaluationData) -> Dict[str, np.ndarray]:
    """HOTA counts per alpha and group: TrackEval's global alignment score, per-frame Hungarian
    matching on alignment x IoU, then DetA / AssA / LocA for each alpha."""
    gt_dets, tracker_dets, pairs = data.gt_dets, data.tracker_dets, data.pairs
    gt_tracks, tracker_tracks, n_groups = data.gt_tracks, data.tracker_tracks, data.n_groups
    n_alpha = len(HOTA_ALPHAS)

    # l. 56-65: per frame, IoU normalised by its row and column sums, summed per pair of tracks.
    row_sum = np.bincount(pairs.gt, weights=pairs.sim, minlength=len(gt_dets))
    col_sum = np.bincount(pairs.tracker, weights=pairs.sim, minlength=len(tracker_dets))
    denominator = (col_sum[pairs.tracker] + row_sum[pairs.gt]) - pairs.sim
    sim_iou = np.zeros_like(pairs.sim)
    positive = denominator > 0 + EPS
    sim_iou[positive] = pairs.sim[positive] / denominator[positive]
    key_gt, key_tracker, pair_index = unique_pairs(
        gt_tracks.track[pairs.gt], tracker_tracks.track[pairs.tracker], tracker_tracks.n_tracks
    )
    potential = np.bincount(pair_index, weights=sim_iou, minlength=len(key_gt))
    # l. 71-72: the global alignment score of each pair of tracks.
    alignment = potential / (
        (gt_tracks.count[key_gt] + tracker_tracks.count[key_tracker]) - potential
    )
    # l. 87-92: per frame, the Hungarian matching maximising alignment x IoU.
    score = alignment[pair_index] * pairs.sim
    edges = pairs.select(score > 0)
    matched, cells = _star_matching(edges, score[score > 0], gt_dets, tracker_dets, data.n_cls)
    matches = hungarian_matching(
        gt_dets,
        tracker_dets,
        pairs,
        edges.select(matched),
        cells,
        score,
        lambda _, similarity: similarity > 0,
    )
    match_gt, match_tracker, match_sim = matches.gt, matches.tracker, matches.sim

    group = gt_tracks.det_group[match_gt]
    pair_gt, pair_tracker, match_index = unique_pairs(
        gt_tracks.track[match_gt], tracker_tracks.track[match_tracker], tracker_tracks.n_tracks
    )
    pair_group = gt_tracks.group[pair_gt]
    gt_count = gt_tracks.count[pair_gt]
    tracker_count = tracker_tracks.count[pair_tracker]

    tp = np.zeros((n_alpha, n_groups))
    loca_sum = np.zeros((n_alpha, n_groups))
    ass_a, ass_re, ass_pr = (np.zeros((n_alpha, n_groups)) for _ in range(3))
    for a, alpha in enumerate(HOTA_ALPHAS):
        # l. 95-105: the matches with IoU >= alpha - eps count, per alpha.
        selected = match_sim >= alpha - EPS
        tp[a] = np.bincount(group[selected], minlength=n_groups)
        loca_sum[a] = np.bincount(group[selected], weights=match_sim[selected], minlength=n_groups)
        matches = np.bincount(match_index[selected], minlength=len(pair_gt))
        # l. 109-116: AssA, AssRe, AssPr summed over pairs of tracks, weighted by their matches.
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
        "LocA": np.maximum(1e-10, loca_sum) / np.maximum(1e-10, tp),  # l. 119
    }


def _star_matching(edges: Pairs, score, gt_dets: Detections, tracker_dets: Detections, n_cls):
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
