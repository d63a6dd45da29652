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
    so the optimum and its IDTP are the same, and IDFN / IDFP follow from IDTP (l. 84-86).

    Only the optimum's value counts (not which assignment reaches it), so the assignment is solved
    per connected component of the track pairs: a component with one GT track or one hypothesis
    track takes its best pair, the others (few, small) the Hungarian algorithm below.
    """
    gt_tracks, tracker_tracks, pairs = data.gt_tracks, data.tracker_tracks, data.pairs
    # l. 53-58: per pair of tracks, the number of frames in which they overlap with IoU >= 0.5.
    candidate = pairs.sim >= MATCH_THRESHOLD
    key_gt, key_tracker, index = unique_pairs(
        gt_tracks.track[pairs.gt[candidate]],
        tracker_tracks.track[pairs.tracker[candidate]],
        tracker_tracks.n_tracks,
    )
    counts = np.bincount(index, minlength=len(key_gt))
    component = _components(key_gt, key_tracker, gt_tracks.n_tracks)
    # Components where every pair shares its GT track, or every pair its hypothesis track.
    order = np.lexsort((-counts, component))
    first = np.ones(len(order), dtype=bool)
    first[1:] = component[order][1:] != component[order][:-1]
    n_components = int(component.max(initial=-1)) + 1
    gt_per_component = _distinct_per_component(component, key_gt, n_components)
    tracker_per_component = _distinct_per_component(component, key_tracker, n_components)
    is_star = (gt_per_component == 1) | (tracker_per_component == 1)
    best = np.zeros(n_components, dtype=np.int64)
    best[component[order[first]]] = counts[order[first]]
    value = np.where(is_star, best, 0)
    for c in np.flatnonzero(~is_star):
        in_component = component == c
        rows, row_index = np.unique(key_gt[in_component], return_inverse=True)
        cols, col_index = np.unique(key_tracker[in_component], return_inverse=True)
        potential = np.zeros((len(rows), len(cols)), dtype=np.int64)
        potential[row_index, col_index] = counts[in_component]
        value[c] = max_assignment_value(potential)
    component_group = np.zeros(n_components, dtype=np.int64)
    component_group[component] = gt_tracks.group[key_gt]
    idtp = np.bincount(component_group, weights=value, minlength=data.n_groups).astype(np.int64)
    return {
        "IDTP": idtp,
        "IDFN": gt_tracks.dets_per_group - idtp,
        "IDFP": tracker_tracks.dets_per_group - idtp,
    }


def _components(gt: np.ndarray, tracker: np.ndarray, n_gt_tracks: int) -> np.ndarray:
    """Connected component (0, 1, ...) of each edge of the bipartite graph of track pairs, by
    propagating the smallest node index along the edges until nothing changes."""
    if len(gt) == 0:
        return np.zeros(0, dtype=np.int64)
    nodes, inverse = np.unique(np.concatenate([gt, n_gt_tracks + tracker]), return_inverse=True)
    gt_node, tracker_node = inverse[: len(gt)], inverse[len(gt) :]
    label = np.arange(len(nodes))
    while True:
        edge_label = np.minimum(label[gt_node], label[tracker_node])
        new_label = label.copy()
        np.minimum.at(new_label, gt_node, edge_label)
        np.minimum.at(new_label, tracker_node, edge_label)
        new_label = new_label[new_label]  # pointer jumping: halves the remaining distance
        if np.array_equal(new_label, label):
            break
        label = new_label
    return np.unique(label[gt_node], return_inverse=True)[1]


def _distinct_per_component(component: np.ndarray, node: np.ndarray, n: int) -> np.ndarray:
    """Number of distinct ``node`` values among the edges of each component."""
    stride = int(node.max(initial=0)) + 1
    return np.bincount(np.unique(component * stride + node) // stride, minlength=n)


def max_assignment_value(weights: np.ndarray) -> int:
    """The largest total weight of a one-to-one assignment of rows to columns (non-negative
    integer weights): the Hungarian algorithm (shortest augmenting paths with potentials, as in
    scipy's ``linear_sum_assignment``) on ``-weights``, rows <= columns."""
    if weights.shape[0] > weights.shape[1]:
        weights = weights.T
    n, m = weights.shape
    cost = -weights.astype(np.float64)
    u = np.zeros(n + 1)
    v = np.zeros(m + 1)
    row_of_column = np.zeros(m + 1, dtype=np.int64)  # 1-based row, 0: free; column 0 is a sentinel
    way = np.zeros(m + 1, dtype=np.int64)
    for i in range(1, n + 1):
        row_of_column[0] = i
        column = 0
        min_slack = np.full(m + 1, np.inf)
        used = np.zeros(m + 1, dtype=bool)
        while True:
            used[column] = True
            row = row_of_column[column]
            free = ~used
            free[0] = False
            slack = cost[row - 1] - u[row] - v[1:]
            improve = free[1:] & (slack < min_slack[1:])
            min_slack[1:][improve] = slack[improve]
            way[1:][improve] = column
            candidates = np.where(free, min_slack, np.inf)
            next_column = int(np.argmin(candidates))
            delta = candidates[next_column]
            u[row_of_column[used]] += delta
            v[used] -= delta
            min_slack[free] -= delta
            column = next_column
            if row_of_column[column] == 0:
                break
        while column:
            previous = way[column]
            row_of_column[column] = row_of_column[previous]
            column = previous
    assigned = np.flatnonzero(row_of_column[1:])
    return int(weights[row_of_column[1:][assigned] - 1, assigned].sum())
