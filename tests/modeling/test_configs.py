"""Every yaml in configs/ merges with add_trackrcnn_config and builds a model on the CPU."""
import glob
import os

import pytest
import torch
from detectron2.config import get_cfg
from detectron2.modeling import build_model

from trackrcnn_d2.config import add_trackrcnn_config

CONFIG_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "configs")
CONFIG_FILES = sorted(glob.glob(os.path.join(CONFIG_DIR, "**", "*.yaml"), recursive=True))


def _load(path):
    cfg = get_cfg()
    add_trackrcnn_config(cfg)
    cfg.merge_from_file(path)
    cfg.MODEL.DEVICE = "cpu"
    return cfg


def _shrink(cfg):
    """A smaller network of the same kind, so that all configs build in seconds."""
    cfg.MODEL.RESNETS.DEPTH = 18
    cfg.MODEL.RESNETS.RES2_OUT_CHANNELS = 64
    cfg.MODEL.RESNETS.STEM_OUT_CHANNELS = 32
    cfg.MODEL.RESNETS.RES5_DILATION = 1
    return cfg


def test_config_files_exist():
    names = {os.path.relpath(p, CONFIG_DIR) for p in CONFIG_FILES}
    assert {"Base-TrackRCNN.yaml", "kitti_mots_r101.yaml", "mots_challenge_r101.yaml"} <= names
    assert sum(n.startswith("ablations") for n in names) >= 7


@pytest.mark.parametrize("path", CONFIG_FILES, ids=lambda p: os.path.relpath(p, CONFIG_DIR))
def test_config_merges_and_builds(path):
    cfg = _load(path)
    cfg.MODEL.WEIGHTS = ""
    model = build_model(_shrink(cfg))
    assert sum(p.numel() for p in model.parameters()) > 0
    if cfg.MODEL.META_ARCHITECTURE == "TrackRCNN":
        assert model.clip_length == cfg.INPUT.CLIP_LENGTH
        assert model.roi_heads.num_classes == len(cfg.DATASETS.MOTS.CLASSES)
        temporal = cfg.MODEL.TEMPORAL
        num_layers = 0 if temporal.TYPE == "none" else temporal.NUM_LAYERS
        shared_skip = temporal.TYPE == "convlstm" and temporal.CONVLSTM_STACKING == "shared_skip"
        for stack in model.backbone.temporal_layers.values():
            if shared_skip:  # the LSTMs under one projection and skip: one layer
                assert len(stack.layers) == 1 and len(stack.layers[0].gates) == num_layers
            else:
                assert len(stack.layers) == num_layers


def test_kitti_mots_config_is_the_papers_model():
    cfg = _load(os.path.join(CONFIG_DIR, "kitti_mots_r101.yaml"))
    assert cfg.MODEL.RESNETS.DEPTH == 101
    assert cfg.SOLVER.OPTIMIZER == "ADAM" and cfg.SOLVER.BASE_LR == pytest.approx(5e-7)
    assert cfg.INPUT.CLIP_LENGTH == 8 and cfg.SOLVER.IMS_PER_BATCH % 8 == 0
    # 40 epochs of KITTI MOTS train (5,027 frames) in clips of 8 frames.
    assert cfg.SOLVER.MAX_ITER == 40 * -(-5027 // 8)
    assert cfg.MODEL.ASSOCIATION_HEAD.EMBEDDING_DIM == 128
    assert cfg.MODEL.ASSOCIATION_HEAD.MARGIN == pytest.approx(0.2)
    assert cfg.MODEL.WEIGHTS.startswith("https://dl.fbaipublicfiles.com/detectron2/")
    cfg.MODEL.WEIGHTS = ""
    cfg.MODEL.DEVICE = "meta"  # shapes only: the full-size model is not allocated
    with torch.device("meta"):
        model = build_model(cfg)
    conv = model.backbone.temporal_layers["res4"].layers[0].conv
    # One 3x3x3 Conv3D with 1024 feature maps on res4 (Sec. 6).
    assert tuple(conv.weight.shape) == (1024, 1024, 3, 3, 3)


MOTS_CHALLENGE_FOLDS = {
    "0002": "mots_challenge_r101.yaml",
    "0005": "mots_challenge_r101_held_out_0005.yaml",
    "0009": "mots_challenge_r101_held_out_0009.yaml",
    "0011": "mots_challenge_r101_held_out_0011.yaml",
}


@pytest.mark.parametrize("held_out", sorted(MOTS_CHALLENGE_FOLDS))
def test_mots_challenge_folds_train_40_epochs_on_the_other_three(held_out, motschallenge_root):
    """Table 6's leave-one-out: each fold is one file; its schedule is 40 epochs of the real
    frames of the three training sequences (frame ranges of the official seqmap)."""
    from trackrcnn_d2.data.mots_io import read_seqmap

    cfg = _load(os.path.join(CONFIG_DIR, MOTS_CHALLENGE_FOLDS[held_out]))
    assert cfg.DATASETS.TRAIN == (f"mots_challenge_train_wo_{held_out}",)
    assert cfg.DATASETS.TEST == (f"mots_challenge_val_{held_out}",)
    ranges = read_seqmap(os.path.join(motschallenge_root, "motschallenge_train.seqmap"))
    frames = sum(last - first + 1 for seq, (first, last) in ranges.items() if seq != held_out)
    assert cfg.SOLVER.MAX_ITER == 40 * -(-frames // cfg.SOLVER.IMS_PER_BATCH)
    assert cfg.OUTPUT_DIR.endswith(f"held_out_{held_out}")
    # One value per tracker key for the one class.
    assert list(cfg.DATASETS.MOTS.CLASSES) == ["pedestrian"]
    tracker = cfg.TRACKER_HEADS
    for key in ("DETECTION_CONFIDENCE", "MASKPROP_THRESHOLD", "ASSOC_THRESHOLD",
                "CENTER_DISTANCE_THRESHOLD", "KEEP_ALIVE"):  # fmt: skip
        assert len(tracker[key]) == 1, key


# What each ablation config must select to reproduce its table row: (first comment line names
# the row, association mechanism, temporal type, temporal layers, association loss, loss weight).
ABLATION_ROWS = {
    "assoc_loss_batch_all": ("Table 7", "assoc", "conv3d", 1, "batch_all", 1.0),
    "assoc_loss_batch_hard": ("Table 7", "assoc", "conv3d", 1, "batch_hard", 1.0),
    "assoc_loss_contrastive": ("Table 7", "assoc", "conv3d", 1, "contrastive", 1.0),
    "association_assoc": ("Table 5", "assoc", "conv3d", 1, "batch_hard", 1.0),
    "association_bbox_center": ("Table 5", "bbox_center", "conv3d", 1, "batch_hard", 1.0),
    "association_bbox_iou": ("Table 5", "bbox_iou", "conv3d", 1, "batch_hard", 1.0),
    "association_maskprop": ("Table 5", "maskprop", "conv3d", 1, "batch_hard", 1.0),
    "association_maskprop_assoc": ("Table 5", "maskprop_assoc", "conv3d", 1, "batch_hard", 1.0),
    "association_maskprop_train_without_assoc": (
        "Table 5", "maskprop", "conv3d", 1, "batch_hard", 0.0,
    ),
    "mask_rcnn_maskprop_baseline": ("Table 2", "maskprop", "none", 1, "batch_hard", 0.0),
    "temporal_1xconv3d": ("Table 4", "maskprop_assoc", "conv3d", 1, "batch_hard", 1.0),
    "temporal_2xconv3d": ("Table 4", "maskprop_assoc", "conv3d", 2, "batch_hard", 1.0),
    "temporal_1xconvlstm": ("Table 4", "maskprop_assoc", "convlstm", 1, "batch_hard", 1.0),
    "temporal_2xconvlstm": ("Table 4", "maskprop_assoc", "convlstm", 2, "batch_hard", 1.0),
    "temporal_2xconvlstm_shared_skip": (
        "Table 4", "maskprop_assoc", "convlstm", 2, "batch_hard", 1.0,
    ),
    "temporal_none": ("Table 4", "maskprop_assoc", "none", 1, "batch_hard", 1.0),
    "train_without_assoc": ("Table 5", "maskprop_assoc", "conv3d", 1, "batch_hard", 0.0),
}  # fmt: skip
ABLATION_FILES = sorted(glob.glob(os.path.join(CONFIG_DIR, "ablations", "*.yaml")))


def test_every_ablation_config_has_a_table_row():
    names = {os.path.basename(p)[:-5] for p in ABLATION_FILES}
    assert set(ABLATION_ROWS) <= names
    assert not {n for n in names - set(ABLATION_ROWS) if not n.startswith("official_release")}


@pytest.mark.parametrize("name", sorted(ABLATION_ROWS))
def test_ablation_config_selects_what_its_table_row_needs(name):
    table, association, temporal, num_layers, loss, loss_weight = ABLATION_ROWS[name]
    path = os.path.join(CONFIG_DIR, "ablations", f"{name}.yaml")
    with open(path) as f:
        assert table in f.readline(), "the first comment line names the table row"
    cfg = _load(path)
    assert cfg.TRACKER_HEADS.ASSOCIATION == association
    assert cfg.MODEL.TEMPORAL.TYPE == temporal
    assert cfg.MODEL.TEMPORAL.NUM_LAYERS == num_layers
    assert cfg.MODEL.ASSOCIATION_HEAD.LOSS == loss
    assert cfg.MODEL.ASSOCIATION_HEAD.LOSS_WEIGHT == loss_weight
    assert cfg.OUTPUT_DIR.endswith(f"ablations/{name}")
