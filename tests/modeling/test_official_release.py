"""configs/ablations/official_release_conv3d_sep2.yaml: the authors' released model builds and
trains on the tiny synthetic set."""
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


def test_official_release_config_selects_the_released_choices():
    cfg = _load(CONFIG)
    assert (cfg.MODEL.TEMPORAL.TYPE, cfg.MODEL.TEMPORAL.NUM_LAYERS) == ("conv3d_separable", 2)
    assert cfg.MODEL.ROI_BOX_HEAD.CLS_AGNOSTIC_BBOX_REG
    assert cfg.MODEL.ROI_MASK_HEAD.CLS_AGNOSTIC_MASK
    head = cfg.MODEL.ASSOCIATION_HEAD
    assert (head.LOSS, head.SAME_CLASS_ONLY, head.NORMALIZATION) == (
        "batch_hard", True, "sampled_rois",
    )  # fmt: skip
    assert cfg.INPUT.GAMMA_AUGMENTATION == pytest.approx(0.1)
    assert cfg.DATALOADER.SKIP_CLIPS_WITH_EMPTY_FRAMES
    assert cfg.MODEL.PROPOSAL_GENERATOR.NAME == "IgnoreRegionRPN"
    assert cfg.MODEL.RPN.IGNORE_REGION_OVERLAP == pytest.approx(0.7)
    assert cfg.TRACKER_HEADS.DISJOINT == "score"


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
