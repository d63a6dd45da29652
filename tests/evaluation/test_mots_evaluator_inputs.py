"""What MOTSEvaluator says about inputs and outputs it cannot use: inputs from a loader other
than build_mots_test_loader, and classes the tracker does not know."""
import logging
import uuid

import pytest
import torch
from detectron2.config import get_cfg
from detectron2.structures import Boxes, Instances

from trackrcnn_d2 import add_trackrcnn_config
from trackrcnn_d2.data.builtin import register_kitti_mots
from trackrcnn_d2.evaluation import MOTSEvaluator

HEIGHT, WIDTH = 40, 60


@pytest.fixture
def evaluator(tmp_path):
    """A MOTSEvaluator of a registered (never read) one-sequence dataset, for a plain Mask
    R-CNN (mask propagation only)."""
    name = f"test_evaluator_inputs_{uuid.uuid4().hex[:8]}"
    register_kitti_mots(name, str(tmp_path / "images"), str(tmp_path / "gt"), ["0000"])
    cfg = get_cfg()
    add_trackrcnn_config(cfg)
    cfg.TRACKER_HEADS.ASSOCIATION = "maskprop"
    return MOTSEvaluator(cfg, name, output_dir=str(tmp_path / "out"), distributed=False)


def output_of(classes):
    instances = Instances((HEIGHT, WIDTH))
    instances.pred_boxes = Boxes(torch.tensor([[5.0, 5.0, 25.0, 30.0]] * len(classes)))
    instances.scores = torch.full((len(classes),), 0.9)
    instances.pred_classes = torch.tensor(classes, dtype=torch.int64)
    instances.pred_masks = torch.zeros(len(classes), HEIGHT, WIDTH, dtype=torch.bool)
    instances.pred_masks[:, 5:30, 5:25] = True
    return {"instances": instances}


def test_inputs_without_frame_identity_name_the_mots_loader(evaluator):
    detectron2_input = {"image": torch.zeros(3, HEIGHT, WIDTH), "file_name": "x.png"}
    with pytest.raises(ValueError, match="no 'sequence', 'frame_idx'.*build_mots_test_loader"):
        evaluator.process([detectron2_input], [output_of([0])])


def test_classes_outside_the_tracker_classes_are_reported_once(evaluator, caplog):
    logger = "trackrcnn_d2.tracking.tracker_head"
    with caplog.at_level(logging.WARNING, logger=logger):
        for frame in range(2):
            frame_input = {"sequence": "0000", "frame_idx": frame, "file_name": f"{frame}.png"}
            evaluator.process([frame_input], [output_of([0, 9])])
    messages = [r.getMessage() for r in caplog.records if r.name == logger]
    assert len(messages) == 1
    assert messages[0].startswith("MOTSEvaluator (test_evaluator_inputs_")
    assert "detections of class [9] are dropped" in messages[0]
