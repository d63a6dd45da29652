"""Association losses of TrackR-CNN (Sec. 5 Eq. 4, Supplement B Eqs. 6-8, Table 7).

Every loss takes the association vectors of a set of detections D, their ground-truth track ids
and, optionally, a group per detection. Two detections are *comparable* only when they are in the
same group; the association head uses groups to keep clips of one mini-batch apart (track ids are
unique within a sequence only) and, optionally, to compare only detections of the same class.
Distances are Euclidean, d(v, w) = ||v - w|| (Sec. 5).
"""
from typing import Callable, Dict, Optional

import torch

__all__ = [
    "pairwise_distances",
    "batch_hard_triplet_per_anchor",
    "batch_hard_triplet_loss",
    "batch_all_triplet_loss",
    "contrastive_loss",
    "ASSOCIATION_LOSSES",
]

def pairwise_distances(embeddings: torch.Tensor) -> torch.Tensor:
    """(N, D) -> (N, N) matrix of Euclidean distances ||a_i - a_j||.

    Computed from the differences, not from ||a||^2 + ||b||^2 - 2ab, which loses the small
    distances of near-duplicate detections to rounding; the gradient at distance 0 is 0.
    """
    return torch.cdist(embeddings, embeddings, compute_mode="donot_use_mm_for_euclid_dist")


def _same_and_different_id_masks(ids: torch.Tensor, groups: Optional[torch.Tensor]):
    """(N,) ids, (N,) groups -> two (N, N) bool masks of comparable pairs: same id, different id."""
    same_id = ids[:, None] == ids[None, :]
    comparable = torch.ones_like(same_id) if groups is None else groups[:, None] == groups[None, :]
    return same_id & comparable, ~same_id & comparable


def _zero_loss(embeddings: torch.Tensor) -> torch.Tensor:
    """A zero that stays connected to the graph (all parameters get a gradient, as DDP needs)."""
    return embeddings.sum() * 0.0


def batch_hard_triplet_per_anchor(
    embeddings: torch.Tensor,
    ids: torch.Tensor,
    margin: float,
    groups: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """(N,) hinge terms of :func:`batch_hard_triplet_loss`, one per anchor, not normalised."""
    distances = pairwise_distances(embeddings)
    same, different = _same_and_different_id_masks(ids, groups)
    hardest_positive = distances.masked_fill(~same, 0.0).max(dim=1).values
    hardest_negative = distances.masked_fill(~different, float("inf")).min(dim=1).values
    return (hardest_positive - hardest_negative + margin).clamp(min=0)


def batch_hard_triplet_loss(
    embeddings: torch.Tensor,
    ids: torch.Tensor,
    margin: float,
    groups: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """Batch-hard triplet loss (Hermans et al.; the paper's Eq. 4 / Eq. 6).

    L = 1/|D| * sum_{d in D} max( max_{e: id_e = id_d} d(a_e, a_d)
                                 - min_{e: id_e != id_d} d(a_e, a_d) + margin, 0 )

    As in Eq. 4, the hardest positive ranges over all e with id_e = id_d, d itself included,
    so an anchor without another positive gets a hardest-positive distance of 0. An anchor
    without any (comparable) negative contributes 0 (the minimum over an empty set is +inf)
    but still counts in |D|.

    Args:
        embeddings: (N, D) association vectors.
        ids: (N,) ground-truth track ids.
        margin: alpha.
        groups: (N,) optional; only detections of the same group are compared.
    """
    if embeddings.shape[0] == 0:
        return _zero_loss(embeddings)
    per_anchor = batch_hard_triplet_per_anchor(embeddings, ids, margin, groups)
    return per_anchor.sum() / embeddings.shape[0]


def batch_all_triplet_loss(
    embeddings: torch.Tensor,
    ids: torch.Tensor,
    margin: float,
    groups: Optional[torch.Tensor] = None,
    anchor_as_positive: bool = False,
) -> torch.Tensor:
    """Batch-all triplet loss (Hermans et al. "BA"; the paper's Eq. 7, Table 7).

    Mean over all valid triplets (d, p, n) of D - p != d with id_p = id_d, and id_n != id_d,
    all three comparable - of max(d(a_p, a_d) - d(a_n, a_d) + margin, 0). Zero when D has
    no valid triplet. (Eq. 7 as printed lost its third sum; this is the cited definition.)

    Args: as in :func:`batch_hard_triplet_loss`, and
        anchor_as_positive: p = d counts too (distance 0: the term max(margin - d(a_n, a_d),
            0)), as in the released code (network/FasterRCNN.py l. 557-563, whose "TODO in
            each row, leave out the column corresponding to the same detection" stayed open).
    """
    num = embeddings.shape[0]
    if num == 0:
        return _zero_loss(embeddings)
    distances = pairwise_distances(embeddings)
    same, different = _same_and_different_id_masks(ids, groups)
    positive = same.clone()
    if not anchor_as_positive:
        positive.fill_diagonal_(False)
    total = _zero_loss(embeddings)
    num_triplets = 0
    # The (anchors, N, N) triplet tensor is built in chunks of anchors to bound memory.
    chunk = max(1, 2**22 // (num * num))
    for start in range(0, num, chunk):
        rows = slice(start, start + chunk)
        valid = positive[rows, :, None] & different[rows, None, :]
        hinge = distances[rows, :, None] - distances[rows, None, :] + margin
        total = total + hinge.clamp(min=0)[valid].sum()
        num_triplets += int(valid.sum())
    return total / max(num_triplets, 1)


def contrastive_loss(
    embeddings: torch.Tensor,
    ids: torch.Tensor,
    margin: float,
    groups: Optional[torch.Tensor] = None,
    factor: float = 1.0,
) -> torch.Tensor:
    """Contrastive loss (Hadsell et al.; the paper's Eq. 8, Table 7).

    L = factor/|P| * ( sum_{(d, e) in P, id_e = id_d} d(a_e, a_d)^2
                     + sum_{(d, e) in P, id_e != id_d} max(margin - d(a_e, a_d), 0)^2 )

    where P are the ordered comparable pairs of D, pairs (d, d) included; without groups
    |P| = |D|^2 as in Eq. 8.

    Args: as in :func:`batch_hard_triplet_loss`, and
        factor: 1 in Eq. 8; the released code's is 0.5 (network/FasterRCNN.py l. 577).
    """
    if embeddings.shape[0] == 0:
        return _zero_loss(embeddings)
    distances = pairwise_distances(embeddings)
    same, different = _same_and_different_id_masks(ids, groups)
    positive_term = distances[same].pow(2).sum()
    negative_term = (margin - distances[different]).clamp(min=0).pow(2).sum()
    num_pairs = int(same.sum()) + int(different.sum())
    return factor * (positive_term + negative_term) / num_pairs


ASSOCIATION_LOSSES: Dict[str, Callable[..., torch.Tensor]] = {
    "batch_hard": batch_hard_triplet_loss,
    "batch_all": batch_all_triplet_loss,
    "contrastive": contrastive_loss,
}
