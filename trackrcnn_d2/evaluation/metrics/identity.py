"""Identity metrics (IDF1, IDP, IDR), as ``trackeval/metrics/identity.py`` ``eval_sequence``
(l. 33-90), vectorised over all sequences and classes."""
from typing import Dict

import numpy as np

from .pairing import MATCH_THRESHOLD, EvaluationData, unique_pairs

__all__ = ["identity"]


def identity(data: EvaluationData) -> Dict[str, np.ndarray]:
    """IDTP per group: the global one-to-one GT-track/hypothesis-track assignment maximising the
    number of frames with IoU >= 0.5. TrackEval (and motmetrics) solve the equivalent min-cost
    problem on a (G+T)^2 matrix of FN+FP costs (l. 64-81); the total cost is #GT + #hyp - 2 IDTP,
    so the optimum and its IDTP are the same, and IDFN / IDFP follow from IDTP (l. 84-86)."""
    gt_tracks, tracker_tracks, pairs = data.gt_tracks, data.tracker_tracks, data.pairs
    # l. 53-58: per pair of tracks, the number of frames in which they overlap with IoU >= 0.5.
    candidate = pairs.sim >= MATCH_THRESHOLD
    key_gt, key_tracker, index = unique_pairs(
        gt_tracks.track[pairs.gt[candidate]],
        tracker_tracks.track[pairs.tracker[candidate]],
        tracker_tracks.n_tracks,
    )
    counts = np.bincount(index, minlength=len(key_gt))
    key_group = gt_tracks.group[key_gt]
    idtp = np.zeros(data.n_groups, dtype=np.int64)
    if len(key_gt):
        from scipy.optimize import linear_sum_assignment
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
