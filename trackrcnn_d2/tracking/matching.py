"""The matching math of the tracker: pairwise scores and the two assignment procedures.

Pure numpy / scipy / pycocotools; no torch.
"""
from typing import List, Sequence, Tuple

import numpy as np
import pycocotools.mask as mask_utils
from scipy.optimize import linear_sum_assignment


def mask_iou(masks_a: Sequence[dict], masks_b: Sequence[dict]) -> np.ndarray:
    """(len(a), len(b)) IoU of compressed RLE masks."""
    if len(masks_a) == 0 or len(masks_b) == 0:
        return np.zeros((len(masks_a), len(masks_b)), dtype=np.float64)
    return np.asarray(mask_utils.iou(list(masks_a), list(masks_b), [0] * len(masks_b)))


def box_iou(boxes_a: np.ndarray, boxes_b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) IoU of XYXY boxes."""
    a = np.asarray(boxes_a, dtype=np.float64).reshape(-1, 1, 4)
    b = np.asarray(boxes_b, dtype=np.float64).reshape(1, -1, 4)
    width = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    height = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    intersection = width * height
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    union = area_a + area_b - intersection
    return np.where(union > 0, intersection / np.where(union > 0, union, 1.0), 0.0)


def box_center_distance(boxes_a: np.ndarray, boxes_b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) Euclidean distance in pixels between the centres of XYXY boxes."""
    a = np.asarray(boxes_a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(boxes_b, dtype=np.float64).reshape(-1, 4)
    centers_a = (a[:, :2] + a[:, 2:]) / 2
    centers_b = (b[:, :2] + b[:, 2:]) / 2
    return np.linalg.norm(centers_a[:, None, :] - centers_b[None, :, :], axis=-1)


def association_distance(vectors_a: np.ndarray, vectors_b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) Euclidean distance d(v, w) = ||v - w|| of association vectors
    (paper Eq. 4's distance)."""
    a = np.asarray(vectors_a, dtype=np.float32)
    b = np.asarray(vectors_b, dtype=np.float32)
    squared = (
        np.einsum("ij,ij->i", a, a)[:, None]
        + np.einsum("ij,ij->i", b, b)[None, :]
        - 2.0 * (a @ b.T)
    )
    return np.sqrt(np.maximum(squared, 0.0))


def hungarian_match(
    scores: np.ndarray, allowed: np.ndarray, maximize: bool
) -> List[Tuple[int, int]]:
    """Optimal one-to-one assignment of rows to columns using only ``allowed`` pairs.

    Among all assignments made of allowed pairs, the one with the most pairs is chosen, and among
    those the one with the best total score (as the original TrackR-CNN tracker does: it gives
    forbidden pairs a prohibitive cost). Returns (row, column) pairs sorted by row.
    """
    if scores.size == 0 or not allowed.any():
        return []
    rows = np.flatnonzero(allowed.any(axis=1))
    cols = np.flatnonzero(allowed.any(axis=0))
    sub_scores = scores[np.ix_(rows, cols)].astype(np.float64)
    sub_allowed = allowed[np.ix_(rows, cols)]
    cost = -sub_scores if maximize else sub_scores
    allowed_cost = cost[sub_allowed]
    span = allowed_cost.max() - allowed_cost.min()
    # Allowed costs are rescaled to [0, 1]; a forbidden pair costs more than any assignment of
    # allowed pairs can add up to, so the number of allowed pairs is maximised first.
    cost = (cost - allowed_cost.min()) / (span if span > 0 else 1.0)
    cost[~sub_allowed] = min(len(rows), len(cols)) + 1.0
    row_ind, col_ind = linear_sum_assignment(cost)
    keep = sub_allowed[row_ind, col_ind]
    return [(int(rows[r]), int(cols[c])) for r, c in zip(row_ind[keep], col_ind[keep])]


def greedy_match(
    distances: np.ndarray, allowed: np.ndarray, column_groups: np.ndarray
) -> List[Tuple[int, int]]:
    """Greedy matching of rows to groups of columns by increasing distance.

    Repeatedly takes the allowed (row, column) pair with the smallest distance among rows and
    groups not yet used, and assigns the row to the column's group: each row and each group is
    used at most once. (Greedy over all columns of a group equals greedy over the group's minimum
    distance, which is computed first.) Returns (row, group) pairs in the order they were made.

    Args:
        distances: (R, C) distances.
        allowed: (R, C) bool, pairs that may be matched.
        column_groups: (C,) int, the group of each column (a track number).
    """
    row_idx, col_idx = np.nonzero(allowed)
    if len(row_idx) == 0:
        return []
    pair_distances = distances[row_idx, col_idx]
    groups = np.asarray(column_groups)[col_idx]
    order = np.argsort(pair_distances, kind="stable")
    row_idx, groups = row_idx[order], groups[order]
    # First occurrence of each (row, group) in distance order = that pair's minimum distance.
    _, first = np.unique(np.stack([row_idx, groups], axis=1), axis=0, return_index=True)
    first.sort()
    matches = []
    used_rows, used_groups = set(), set()
    for row, group in zip(row_idx[first].tolist(), groups[first].tolist()):
        if row in used_rows or group in used_groups:
            continue
        used_rows.add(row)
        used_groups.add(group)
        matches.append((row, group))
    return matches
