"""Association losses (Eqs. 4, 6-8) against brute-force loops over detections, pairs, triplets."""
import math

import pytest
import torch
from detectron2.structures import Instances

from trackrcnn_d2.modeling import AssociationHead
from trackrcnn_d2.modeling.losses import (
    ASSOCIATION_LOSSES,
    batch_all_triplet_loss,
    batch_hard_triplet_loss,
    contrastive_loss,
    pairwise_distances,
)
from trackrcnn_d2.utils.cli import ConfigError

MARGIN = 0.2


def _distance(a, b):
    return math.sqrt(sum((float(x) - float(y)) ** 2 for x, y in zip(a, b)))


def _comparable(groups, i, j):
    return groups is None or int(groups[i]) == int(groups[j])


def reference_batch_hard(vectors, ids, margin, groups=None):
    total = 0.0
    for d in range(len(ids)):
        positives = [
            _distance(vectors[e], vectors[d])
            for e in range(len(ids))
            if ids[e] == ids[d] and _comparable(groups, d, e)
        ]
        negatives = [
            _distance(vectors[e], vectors[d])
            for e in range(len(ids))
            if ids[e] != ids[d] and _comparable(groups, d, e)
        ]
        if negatives:
            total += max(max(positives) - min(negatives) + margin, 0.0)
    return total / len(ids)


def reference_batch_all(vectors, ids, margin, groups=None):
    losses = []
    n = len(ids)
    for d in range(n):
        for p in range(n):
            for q in range(n):
                if (
                    p != d
                    and ids[p] == ids[d]
                    and ids[q] != ids[d]
                    and _comparable(groups, d, p)
                    and _comparable(groups, d, q)
                ):
                    d_pos = _distance(vectors[p], vectors[d])
                    d_neg = _distance(vectors[q], vectors[d])
                    losses.append(max(d_pos - d_neg + margin, 0.0))
    return sum(losses) / len(losses) if losses else 0.0


def reference_contrastive(vectors, ids, margin, groups=None):
    total, pairs = 0.0, 0
    for d in range(len(ids)):
        for e in range(len(ids)):
            if not _comparable(groups, d, e):
                continue
            pairs += 1
            dist = _distance(vectors[e], vectors[d])
            total += dist**2 if ids[e] == ids[d] else max(margin - dist, 0.0) ** 2
    return total / pairs


CASES = [
    (batch_hard_triplet_loss, reference_batch_hard),
    (batch_all_triplet_loss, reference_batch_all),
    (contrastive_loss, reference_contrastive),
]


def _random_case(seed, with_groups):
    generator = torch.Generator().manual_seed(seed)
    num = 14
    # Small scale so that many hinges are active at margin 0.2.
    vectors = torch.randn(num, 5, generator=generator, dtype=torch.float64) * 0.15
    ids = torch.randint(1000, 1004, (num,), generator=generator)
    groups = torch.randint(0, 2, (num,), generator=generator) if with_groups else None
    return vectors, ids, groups


@pytest.mark.parametrize("loss_fn,reference", CASES)
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("with_groups", [False, True])
def test_loss_equals_brute_force_reference(loss_fn, reference, seed, with_groups):
    vectors, ids, groups = _random_case(seed, with_groups)
    expected = reference(vectors.tolist(), ids.tolist(), MARGIN, groups)
    got = loss_fn(vectors, ids, MARGIN, groups=groups)
    assert expected > 0
    assert float(got) == pytest.approx(expected, abs=1e-5)


def test_batch_all_chunking_matches_reference_on_larger_set():
    generator = torch.Generator().manual_seed(3)
    vectors = torch.randn(300, 4, generator=generator, dtype=torch.float64) * 0.1
    ids = torch.randint(0, 6, (300,), generator=generator)
    # 300 anchors split into several chunks; compare with the unchunked dense computation.
    distances = pairwise_distances(vectors)
    same = ids[:, None] == ids[None, :]
    positive = same & ~torch.eye(300, dtype=torch.bool)
    valid = positive[:, :, None] & ~same[:, None, :]
    hinge = (distances[:, :, None] - distances[:, None, :] + MARGIN).clamp(min=0)
    expected = hinge[valid].mean()
    assert float(batch_all_triplet_loss(vectors, ids, MARGIN)) == pytest.approx(float(expected))


def test_well_separated_identities_give_zero_triplet_losses():
    ids = torch.tensor([1, 1, 2, 2, 3])
    vectors = torch.tensor([[0.0, 0.0], [0.05, 0.0], [5.0, 0.0], [5.0, 0.05], [0.0, 5.0]])
    assert float(batch_hard_triplet_loss(vectors, ids, MARGIN)) == 0.0
    assert float(batch_all_triplet_loss(vectors, ids, MARGIN)) == 0.0
    assert float(contrastive_loss(vectors, ids, MARGIN)) == pytest.approx(
        2 * 2 * 0.05**2 / 25, rel=1e-5
    )


@pytest.mark.parametrize("name", sorted(ASSOCIATION_LOSSES))
def test_degenerate_sets_give_zero_and_finite_gradients(name):
    loss_fn = ASSOCIATION_LOSSES[name]
    # Identical vectors (zero distances) of one identity: no negatives anywhere.
    vectors = torch.zeros(3, 4, requires_grad=True)
    loss = loss_fn(vectors, torch.tensor([7, 7, 7]), MARGIN)
    loss.backward()
    assert float(loss) == pytest.approx(0.0, abs=1e-10)
    assert torch.isfinite(vectors.grad).all()
    empty = torch.zeros(0, 4, requires_grad=True)
    assert float(loss_fn(empty, torch.zeros(0, dtype=torch.long), MARGIN)) == 0.0


@pytest.mark.parametrize("name", sorted(ASSOCIATION_LOSSES))
def test_gradient_step_reduces_loss(name):
    vectors, ids, _ = _random_case(4, with_groups=False)
    vectors = vectors.float().requires_grad_(True)
    loss_fn = ASSOCIATION_LOSSES[name]
    before = loss_fn(vectors, ids, MARGIN)
    before.backward()
    with torch.no_grad():
        after = loss_fn(vectors - 0.05 * vectors.grad / vectors.grad.norm(), ids, MARGIN)
    assert float(after) < float(before)


def _sampled_frame(classes, track_ids):
    proposals = Instances((10, 10))
    proposals.gt_classes = torch.tensor(classes)
    proposals.gt_track_ids = torch.tensor(track_ids)
    return proposals


def _association_head(normalization, same_class_only, clip_length):
    return AssociationHead(
        in_channels=1,
        embedding_dim=1,
        margin=1.0,
        same_class_only=same_class_only,
        normalization=normalization,
        clip_length=clip_length,
    )


# A clip of two frames, four sampled proposals each (class 2 = background, track id 0), with
# 1-D association vectors. Same-class anchors: car 1001 at 0.0 (positive 0.1 away, negative 0.5
# away): 0.1 - 0.5 + 1 = 0.6; car 1002 at 0.5: 0 - 0.4 + 1 = 0.6; car 1001 at 0.1:
# 0.1 - 0.4 + 1 = 0.7; pedestrian 2001 has no same-class negative: 0. Sum 1.9.
CLIP = [
    _sampled_frame([0, 0, 2, 2], [1001, 1002, 0, 0]),
    _sampled_frame([0, 1, 2, 2], [1001, 2001, 0, 0]),
]
CLIP_VECTORS = [0.0, 0.5, 9.0, 9.0, 0.1, 3.0, 9.0, 9.0]


@pytest.mark.parametrize(
    "normalization, expected",
    [
        ("foreground", 1.9 / 4),  # Eq. 4: mean over the 4 foreground proposals
        ("sampled_rois", 1.9 / 8 / 2),  # released code: / 8 sampled proposals / 2 frames
    ],
)
def test_association_loss_normalization_by_hand(normalization, expected):
    head = _association_head(normalization, same_class_only=True, clip_length=2)
    vectors = torch.tensor(CLIP_VECTORS)[:, None]
    loss = head.losses(vectors, CLIP, num_classes=2)["loss_assoc"]
    assert float(loss) == pytest.approx(expected)


def test_sampled_rois_normalization_averages_the_clips_of_a_batch():
    head = _association_head("sampled_rois", same_class_only=True, clip_length=2)
    # The second clip: the same objects with one background proposal less per frame.
    second = [frame[[0, 1, 2]] for frame in CLIP]
    second_vectors = [0.0, 0.5, 9.0, 0.1, 3.0, 9.0]
    vectors = torch.tensor(CLIP_VECTORS + second_vectors)[:, None]
    loss = head.losses(vectors, CLIP + second, num_classes=2)["loss_assoc"]
    assert float(loss) == pytest.approx((1.9 / 8 / 2 + 1.9 / 6 / 2) / 2)


def test_sampled_rois_normalization_is_for_the_batch_hard_loss_only():
    with pytest.raises(ValueError, match="batch_hard"):
        AssociationHead(in_channels=1, loss="contrastive", normalization="sampled_rois")
    with pytest.raises(ValueError, match="NORMALIZATION"):
        AssociationHead(in_channels=1, normalization="per_roi")


def test_missing_track_ids_name_the_training_loader():
    head = _association_head("foreground", same_class_only=False, clip_length=2)
    frame = _sampled_frame([0, 2], [1001, 0])
    frame.remove("gt_track_ids")
    with pytest.raises(ValueError, match="build_mots_train_loader"):
        head.losses(torch.zeros(4, 1), [frame, frame], num_classes=2)


def _reference_head_loss(head, vectors, proposals, num_classes):
    """loss_assoc as the head computed it before it was vectorised: foreground proposals
    selected frame by frame, the batch-hard loss on them (Eq. 4 normalisation)."""
    chosen, ids, groups = [], [], []
    for index, (image_vectors, frame) in enumerate(zip(vectors.split([len(p) for p in proposals]),
                                                       proposals)):  # fmt: skip
        foreground = frame.gt_classes < num_classes
        if not foreground.any():
            continue
        classes = frame.gt_classes[foreground]
        clip = index // head.clip_length
        chosen.append(image_vectors[foreground])
        ids.append(frame.gt_track_ids[foreground])
        groups.append(clip * num_classes + (classes if head.same_class_only else 0 * classes))
    return batch_hard_triplet_loss(torch.cat(chosen), torch.cat(ids), head.margin,
                                   torch.cat(groups))  # fmt: skip


@pytest.mark.parametrize("same_class_only", [False, True])
def test_vectorised_association_loss_equals_the_per_frame_loss(same_class_only):
    generator = torch.Generator().manual_seed(3)
    proposals = []
    for frame in range(6):  # two clips of three frames; frame 4 has no object
        classes = torch.randint(0, 3, (10,), generator=generator)
        if frame == 4:
            classes[:] = 2
        track_ids = torch.where(classes < 2, 1000 * (classes + 1) + torch.randint(1, 4, (10,),
                                generator=generator), torch.zeros_like(classes))  # fmt: skip
        proposals.append(_sampled_frame(classes.tolist(), track_ids.tolist()))
    proposals[4].remove("gt_track_ids")  # as detectron2 leaves a frame without objects
    vectors = torch.randn(60, 4, generator=generator, requires_grad=True)
    head = _association_head("foreground", same_class_only, clip_length=3)
    got = head.losses(vectors, proposals, num_classes=2)["loss_assoc"]
    expected = _reference_head_loss(head, vectors, proposals, num_classes=2)
    torch.testing.assert_close(got, expected)
    got_grad, = torch.autograd.grad(got, vectors)
    expected_grad, = torch.autograd.grad(expected, vectors)
    torch.testing.assert_close(got_grad, expected_grad)


# Three 1-D vectors: track 1 at 0.0 and 0.5, track 2 at 0.3; margin 0.4.
THREE_VECTORS, THREE_IDS = torch.tensor([[0.0], [0.5], [0.3]]), torch.tensor([1, 1, 2])
WIDE_MARGIN = 0.4


def test_batch_all_with_the_anchor_as_its_own_positive_by_hand():
    """Eq. 7's triplets (d, p != d, n): (0, 1, 2) 0.5 - 0.3 + 0.4 = 0.6 and (1, 0, 2)
    0.5 - 0.2 + 0.4 = 0.7, mean 0.65. The released code's batch all (network/FasterRCNN.py
    l. 557-566) also takes p = d: (0, 0, 2) 0.1, (1, 1, 2) 0.2, (2, 2, 0) 0.1, (2, 2, 1) 0.2:
    1.9 over 6 triplets."""
    paper = batch_all_triplet_loss(THREE_VECTORS, THREE_IDS, WIDE_MARGIN)
    assert float(paper) == pytest.approx(0.65)
    release = batch_all_triplet_loss(THREE_VECTORS, THREE_IDS, WIDE_MARGIN, None, True)
    assert float(release) == pytest.approx(1.9 / 6)


def test_contrastive_factor_by_hand():
    """Pairs (d, e), (d, d) included: same id (0, 1) and (1, 0) 0.25 each, (d, d) 0; different
    ids max(0.4 - 0.3, 0)^2 = 0.01 twice, max(0.4 - 0.2, 0)^2 = 0.04 twice: 0.6 over 9 pairs.
    The released code halves it (network/FasterRCNN.py l. 577)."""
    full = contrastive_loss(THREE_VECTORS, THREE_IDS, WIDE_MARGIN)
    assert float(full) == pytest.approx(0.6 / 9)
    half = contrastive_loss(THREE_VECTORS, THREE_IDS, WIDE_MARGIN, factor=0.5)
    assert float(half) == pytest.approx(0.3 / 9)


@pytest.mark.parametrize(
    "loss, option, values, expected",
    [
        ("contrastive", "CONTRASTIVE_FACTOR", (1.0, 0.5), (0.6 / 9, 0.3 / 9)),
        ("batch_all", "BATCH_ALL_ANCHOR_AS_POSITIVE", (False, True), (0.65, 1.9 / 6)),
    ],
)
def test_release_loss_options_reach_the_association_head(loss, option, values, expected):
    from detectron2.config import get_cfg

    from trackrcnn_d2.config import add_trackrcnn_config

    cfg = get_cfg()
    add_trackrcnn_config(cfg)
    cfg.MODEL.ASSOCIATION_HEAD.LOSS = loss
    cfg.MODEL.ASSOCIATION_HEAD.MARGIN = WIDE_MARGIN
    frames = [_sampled_frame([0, 0, 1], [1001, 1001, 2001])]
    losses = []
    for value in values:
        cfg.MODEL.ASSOCIATION_HEAD[option] = value
        head = AssociationHead(cfg, in_channels=1)
        losses.append(float(head.losses(THREE_VECTORS, frames, num_classes=2)["loss_assoc"]))
    assert losses == pytest.approx(list(expected))


@pytest.mark.parametrize("init, std", [("normal", 0.01), ("he_normal", math.sqrt(2 / 2048))])
def test_association_head_initialisation(init, std):
    """ "he_normal": the released code's initialiser (network/Layer.py l. 55-59, TensorFlow's
    variance_scaling_initializer(factor=2.0, mode="FAN_IN", uniform=False)): a normal of std
    sqrt(1.3 * 2 / fan_in) truncated at two of them, std sqrt(2 / fan_in); zero bias (l. 73-76)."""
    torch.manual_seed(0)
    fan_in = 2048
    head = AssociationHead(in_channels=fan_in, embedding_dim=128, init=init)
    weight = head.fc.weight
    assert tuple(weight.shape) == (128, fan_in) and torch.all(head.fc.bias == 0)
    assert float(weight.std()) == pytest.approx(std, rel=0.02)
    if init == "he_normal":
        assert float(weight.abs().max()) <= 2 * math.sqrt(1.3 * 2 / fan_in)
    with pytest.raises(ConfigError, match="MODEL.ASSOCIATION_HEAD.INIT"):
        AssociationHead(in_channels=4, init="xavier")
