"""configs/ablations/official_release_*.yaml hold every value of the authors' release
(github.com/VisualComputingInstitute/TrackR-CNN, each value with its file and line), and the
released model builds and trains on the tiny synthetic set."""
import itertools
import os
import uuid

import numpy as np
import pytest
import torch
from detectron2.modeling import build_model
from detectron2.utils.events import EventStorage
from test_configs import CONFIG_DIR, _load, _shrink

from trackrcnn_d2.data.build import build_mots_train_loader
from trackrcnn_d2.data.builtin import register_synthetic_mots
from trackrcnn_d2.data.synthetic import generate_synthetic_mots
from trackrcnn_d2.modeling import IgnoreRegionRPN
from trackrcnn_d2.modeling.backbone import SeparableConv3dTemporalLayer

CONFIG = os.path.join(CONFIG_DIR, "ablations", "official_release_conv3d_sep2.yaml")

# The release's tracker numbers (configs/conv3d_sep2 l. 46-47, conv3d_sep2_on_all_mots l. 50-51,
# copied from github.com/VisualComputingInstitute/TrackR-CNN at 5917836): a pair matches when
# scale * (offset - distance) > threshold (forwarding/tracking/Util_tracking.py l. 113-115, 170).
KITTI_CAR = {"gamma": 0.8469800990815324, "threshold": 0.8165986526897969,
             "offset": 8.810218833503743, "scale": 1.0090931467228708}
KITTI_PEDESTRIAN = {"gamma": 0.9368820089063415, "threshold": 0.47985540892434836,
                    "offset": 9.447084376750222, "scale": 1.3437965549876354}
MOTS_PEDESTRIAN = {"gamma": 0.9721997956902924, "threshold": 0.9273090046064475,
                   "offset": 9.176847347961733, "scale": 1.1158137190659225}  # fmt: skip


def _distance(tracker):
    return tracker["offset"] - tracker["threshold"] / tracker["scale"]


# (key, the release's value, where the release sets it) for configs/conv3d_sep2.
CONV3D_SEP2 = [
    ("MODEL.RESNETS.DEPTH", 101, "configs/conv3d_sep2 l. 50 ResNet101Conv4"),
    ("MODEL.RESNETS.OUT_FEATURES", ["res4"], "l. 50: the C4 features"),
    ("MODEL.TEMPORAL.TYPE", "conv3d_separable", "l. 51-52 SepConv3DOverBatch"),
    ("MODEL.TEMPORAL.NUM_LAYERS", 2, "l. 51-52 conv3d_1, conv3d_2"),
    ("MODEL.TEMPORAL.CONV3D_ACTIVATION", "auto", "l. 51-52 relu (auto: ReLU on ResNet outputs)"),
    ("MODEL.ROI_HEADS.BATCH_SIZE_PER_IMAGE", 64, "l. 53 fastrcnn_batch_per_img"),
    ("MODEL.ROI_HEADS.NUM_CLASSES", 2, "datasets/KITTI/segtrack/KITTI_segtrack.py l. 20"),
    ("MODEL.ROI_HEADS.SCORE_THRESH_TEST", 0.05, "network/FasterRCNN.py l. 132"),
    ("MODEL.ROI_BOX_HEAD.CLS_AGNOSTIC_BBOX_REG", True, "l. 55 class_agnostic_box_and_mask_heads"),
    ("MODEL.ROI_MASK_HEAD.CLS_AGNOSTIC_MASK", True, "l. 55"),
    ("MODEL.ASSOCIATION_HEAD.EMBEDDING_DIM", 128, "l. 53 reid_dimension"),
    ("MODEL.ASSOCIATION_HEAD.LOSS", "batch_hard", "l. 54 reid_loss_variant 1"),
    ("MODEL.ASSOCIATION_HEAD.MARGIN", 0.2, "network/FasterRCNN.py l. 135 reid_loss_margin"),
    ("MODEL.ASSOCIATION_HEAD.LOSS_WEIGHT", 1.0, "l. 54 reid_loss_factor"),
    ("MODEL.ASSOCIATION_HEAD.SAME_CLASS_ONLY", True, "l. 53 reid_loss_per_class"),
    ("MODEL.ASSOCIATION_HEAD.NORMALIZATION", "sampled_rois", "network/FasterRCNN.py l. 541-544"),
    ("MODEL.ASSOCIATION_HEAD.INIT", "he_normal", "network/Layer.py l. 55-59, 73-76"),
    ("MODEL.PROPOSAL_GENERATOR.NAME", "IgnoreRegionRPN", "l. 33-35 prefer_gt_to_ignore etc."),
    ("MODEL.RPN.IGNORE_REGION_OVERLAP", 0.7, "datasets/util/Detection.py l. 23"),
    ("MODEL.RPN.IGNORE_REGION_RATIO", "frame_ignore_area", "datasets/util/Detection.py l. 166"),
    ("INPUT.CLIP_LENGTH", 8, "l. 23 batch_size"),
    ("SOLVER.IMS_PER_BATCH", 8, "l. 23 batch_size"),
    ("SOLVER.OPTIMIZER", "ADAM", "l. 25"),
    ("SOLVER.BASE_LR", 5e-7, "l. 24"),
    ("SOLVER.MAX_ITER", 5 * -(-5027 // 8), "l. 26 num_epochs 5 of KITTI MOTS train's frames"),
    ("INPUT.MIN_SIZE_TRAIN", (309,), "l. 36-37 input_size_train"),
    ("INPUT.MAX_SIZE_TRAIN", 1024, "l. 37"),
    ("INPUT.MIN_SIZE_TEST", 375, "l. 38-39 input_size_val"),
    ("INPUT.MAX_SIZE_TEST", 1242, "l. 39"),
    ("INPUT.RANDOM_FLIP", "horizontal", "l. 41 flip"),
    ("INPUT.GAMMA_AUGMENTATION", 0.05, "l. 41 gamma; datasets/Augmentors.py l. 143-144"),
    ("DATALOADER.SKIP_CLIPS_WITH_EMPTY_FRAMES", True, "datasets/util/Detection.py l. 333"),
    ("TEST.CLIP_CHUNK", 5, "the release's README l. 81: forwarding with batch_size 5"),
    ("TRACKER_HEADS.ASSOCIATION", "release_assoc", "l. 46 hungarian, euclidean, reid only"),
    ("TRACKER_HEADS.DETECTION_CONFIDENCE", [KITTI_CAR["gamma"], KITTI_PEDESTRIAN["gamma"]],
     "l. 46-47"),
    ("TRACKER_HEADS.DETECTION_CONFIDENCE_INCLUSIVE", True, "Util_tracking.py l. 89: >="),
    ("TRACKER_HEADS.ASSOC_THRESHOLD", [_distance(KITTI_CAR), _distance(KITTI_PEDESTRIAN)],
     "l. 46-47 offset - threshold / scale"),
    ("TRACKER_HEADS.KEEP_ALIVE", [4, 6], "l. 46-47"),
    ("TRACKER_HEADS.DISJOINT", "score", "l. 45 mask_disjoint_strategy"),
    ("TRACKER_HEADS.MIN_MASK_AREA", 10, "Util_tracking.py l. 87"),
    ("TRACKER_HEADS.MIN_SCORE", 0.0, "Util_tracking.py: every detection of the detector"),
]  # fmt: skip

# configs/conv3d_sep2_on_all_mots: conv3d_sep2 trained on MOTSChallenge, pedestrians.
CONV3D_SEP2_ON_ALL_MOTS = [
    ("DATASETS.TRAIN", ("mots_challenge",), "configs/conv3d_sep2_on_all_mots l. 5"),
    ("INPUT.MIN_SIZE_TRAIN", (420,), "l. 39-40 resize_min_short_edge_max_long_edge"),
    ("INPUT.MAX_SIZE_TRAIN", 747, "l. 40"),
    ("INPUT.MIN_SIZE_TEST", 420, "l. 41-42"),
    ("INPUT.MAX_SIZE_TEST", 1024, "l. 42"),
    ("SOLVER.MAX_ITER", 5 * -(-(600 + 837 + 525 + 900) // 8), "l. 26: 5 epochs of MOTS20"),
    ("TRACKER_HEADS.DETECTION_CONFIDENCE", [MOTS_PEDESTRIAN["gamma"]], "l. 51"),
    ("TRACKER_HEADS.ASSOC_THRESHOLD", [_distance(MOTS_PEDESTRIAN)], "l. 51"),
    ("TRACKER_HEADS.KEEP_ALIVE", [9], "l. 51"),
] + [entry for entry in CONV3D_SEP2 if not entry[0].startswith(("INPUT.M", "SOLVER.MAX",
     "TRACKER_HEADS.DETECTION_CONFIDENCE", "TRACKER_HEADS.ASSOC", "TRACKER_HEADS.KEEP",
     "MODEL.ROI_HEADS.NUM_CLASSES"))]  # fmt: skip

RELEASE_CONFIGS = {
    "official_release_conv3d_sep2": CONV3D_SEP2,
    "official_release_conv3d_sep2_on_all_mots": CONV3D_SEP2_ON_ALL_MOTS,
    # configs/conv3d_batch_all l. 52 reid_loss_variant 2; network/FasterRCNN.py l. 557-566.
    "official_release_conv3d_batch_all": [
        ("MODEL.ASSOCIATION_HEAD.LOSS", "batch_all", "conv3d_batch_all l. 52"),
        ("MODEL.ASSOCIATION_HEAD.BATCH_ALL_ANCHOR_AS_POSITIVE", True, "FasterRCNN.py l. 562"),
        ("MODEL.ASSOCIATION_HEAD.NORMALIZATION", "foreground", "FasterRCNN.py l. 566, 543"),
    ],
    # configs/conv3d_contrastive l. 52 reid_loss_variant 4; network/FasterRCNN.py l. 576-580.
    "official_release_conv3d_contrastive": [
        ("MODEL.ASSOCIATION_HEAD.LOSS", "contrastive", "conv3d_contrastive l. 52"),
        ("MODEL.ASSOCIATION_HEAD.CONTRASTIVE_FACTOR", 0.5, "FasterRCNN.py l. 577"),
        ("MODEL.ASSOCIATION_HEAD.NORMALIZATION", "foreground", "FasterRCNN.py l. 579, 543"),
    ],
}


def _value(cfg, key):
    for part in key.split("."):
        cfg = cfg[part]
    return cfg


@pytest.mark.parametrize("name", sorted(RELEASE_CONFIGS))
def test_release_configs_hold_every_release_value(name):
    cfg = _load(os.path.join(CONFIG_DIR, "ablations", f"{name}.yaml"))
    for key, expected, where in RELEASE_CONFIGS[name]:
        value = _value(cfg, key)
        value = list(value) if isinstance(expected, list) else value
        numbers = expected if isinstance(expected, list) else [expected]
        if all(isinstance(number, float) for number in numbers):
            assert value == pytest.approx(expected, abs=1e-6), (key, where)
        else:
            assert value == expected, (key, where)


def test_release_distance_thresholds_are_the_issues():
    """The release's association thresholds as distances: 8.00 (car), 9.09 (pedestrian) on
    KITTI MOTS, 8.35 (pedestrian) on MOTSChallenge."""
    assert _distance(KITTI_CAR) == pytest.approx(8.00, abs=0.005)
    assert _distance(KITTI_PEDESTRIAN) == pytest.approx(9.09, abs=0.005)
    assert _distance(MOTS_PEDESTRIAN) == pytest.approx(8.35, abs=0.005)


def test_every_official_release_config_is_checked():
    names = {f[:-5] for f in os.listdir(os.path.join(CONFIG_DIR, "ablations"))}
    assert {n for n in names if n.startswith("official_release")} == set(RELEASE_CONFIGS)


def test_official_release_config_trains_two_iterations_on_the_synthetic_set(tmp_path):
    root = str(tmp_path / "synthetic_mots")
    generate_synthetic_mots(root, sequences=3, frames=5, height=64, width=128, seed=3)
    prefix = f"official_release_test_{uuid.uuid4().hex[:6]}"
    register_synthetic_mots(prefix, root)
    cfg = _shrink(_load(CONFIG))
    cfg.merge_from_list([
        "MODEL.WEIGHTS", "", "DATASETS.TRAIN", f"('{prefix}_train',)",
        "INPUT.MIN_SIZE_TRAIN", "(64,)", "INPUT.MAX_SIZE_TRAIN", "128",
        "INPUT.CLIP_LENGTH", "2", "SOLVER.IMS_PER_BATCH", "2", "SEED", "1",
        "MODEL.ROI_HEADS.BATCH_SIZE_PER_IMAGE", "16", "MODEL.RPN.POST_NMS_TOPK_TRAIN", "50",
        "MODEL.ANCHOR_GENERATOR.SIZES", "[[16, 32, 64]]",
    ])  # fmt: skip
    model = build_model(cfg).train()
    layers = [layer for stack in model.backbone.temporal_layers.values() for layer in stack.layers]
    assert len(layers) == 2 and all(isinstance(x, SeparableConv3dTemporalLayer) for x in layers)
    assert model.roi_heads.box_predictor.bbox_pred.out_features == 4  # class-agnostic
    assert model.roi_heads.mask_head.predictor.out_channels == 1
    assert isinstance(model.proposal_generator, IgnoreRegionRPN)
    assert model.proposal_generator.ignore_region_ratio == "frame_ignore_area"
    assert model.clip_chunk == 5
    association = model.roi_heads.association_head.fc
    fan_in = association.in_features
    assert float(association.weight.std()) == pytest.approx((2 / fan_in) ** 0.5, rel=0.1)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    before = {k: v.clone() for k, v in model.backbone.temporal_layers.state_dict().items()}
    with EventStorage():
        for batch in itertools.islice(iter(build_mots_train_loader(cfg)), 2):
            assert len(batch) == 2 and all(len(frame["instances"]) > 0 for frame in batch)
            losses = model(batch)
            assert {"loss_assoc", "loss_mask", "loss_rpn_cls"} <= set(losses)
            total = sum(losses.values())
            assert np.isfinite(float(total))
            optimizer.zero_grad()
            total.backward()
            optimizer.step()
    after = model.backbone.temporal_layers.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)
