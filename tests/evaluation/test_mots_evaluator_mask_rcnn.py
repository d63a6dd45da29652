"""MOTSEvaluator with a plain COCO Mask R-CNN (the paper's "Mask R-CNN + maskprop" baseline):
its classes mapped by DATASETS.MOTS.CLASS_MAP, no association vectors, and the threshold search
on its detection cache.

The "model" is the ground truth, labelled with COCO's ids (person 0, car 2) and joined by a
dog (16) per frame that the class map must drop.
"""
import os
import subprocess
import sys

import numpy as np
import pycocotools.mask as mask_utils
import pytest
import torch
from detectron2.data import DatasetCatalog
from detectron2.structures import Boxes, Instances

from trackrcnn_d2.evaluation import MOTSEvaluator
from trackrcnn_d2.tracking import read_detection_cache_folder
from trackrcnn_d2.utils.cli import ConfigError, load_config

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COCO_CONFIG = os.path.join(REPO, "configs", "coco_mask_rcnn_R_50_FPN_maskprop.yaml")
# Synthetic contiguous ids (car 0, pedestrian 1) -> COCO's (car 2, person 0).
TO_COCO = {0: 2, 1: 0}
DOG = 16


@pytest.fixture(scope="module")
def dataset(synthetic_mots_set):
    return synthetic_mots_set("mask_rcnn_eval", sequences=4, frames=6, seed=3)


def _coco_model_output(record):
    annotations = record["annotations"]
    height, width = record["height"], record["width"]
    masks = [mask_utils.decode(a["segmentation"]).astype(bool) for a in annotations]
    boxes = [a["bbox"] for a in annotations]
    classes = [TO_COCO[a["category_id"]] for a in annotations]
    dog = np.zeros((height, width), dtype=bool)
    dog[: height // 2, : width // 2] = True  # overlaps the objects: kept, it would take pixels
    instances = Instances((height, width))
    instances.pred_boxes = Boxes(torch.tensor(boxes + [[0, 0, width // 2, height // 2]]).float())
    instances.scores = torch.ones(len(annotations) + 1)
    instances.pred_classes = torch.tensor(classes + [DOG])
    instances.pred_masks = torch.from_numpy(np.stack(masks + [dog]))
    frame_input = {key: record[key] for key in ("file_name", "sequence", "frame_idx", "height")}
    return frame_input, {"instances": instances}


def _cfg(output_dir, *opts):
    return load_config(
        COCO_CONFIG,
        ["OUTPUT_DIR", str(output_dir), "TRACKER_HEADS.FLOW", "none",
         "TRACKER_HEADS.DETECTION_CONFIDENCE", "[0.5, 0.5]", *opts],
    )  # fmt: skip


def test_coco_classes_are_mapped_and_tracked_by_mask_propagation(dataset, tmp_path):
    root, name = dataset
    evaluator = MOTSEvaluator(_cfg(tmp_path), name)
    evaluator.reset()
    for record in DatasetCatalog.get(name):
        evaluator.process(*([x] for x in _coco_model_output(record)))
    mots = evaluator.evaluate()["mots"]
    for class_name in ("car", "pedestrian"):
        assert mots[f"sMOTSA/{class_name}"] > 90, mots
    cache = read_detection_cache_folder(str(tmp_path / "inference" / name / "detections"))
    frames = [f for sequence in cache.values() for f in sequence]
    assert all(f.association_vectors is None for f in frames)
    assert set(np.concatenate([f.classes for f in frames]).tolist()) == {0, 1}

    # tools/tune_tracker.py searches gamma and delta_maskprop on this cache.
    search = tmp_path / "search.yaml"
    detections = tmp_path / "inference" / name / "detections"
    result = subprocess.run(
        [sys.executable, os.path.join(REPO, "tools", "tune_tracker.py"),
         "--config-file", COCO_CONFIG, "--detections", str(detections),
         "--gt", os.path.join(root, "instances_txt"), "--images", os.path.join(root, "images"),
         "--iterations", "4", "--workers", "1", "--no-progress", "--output", str(search),
         "TRACKER_HEADS.FLOW", "none"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    tuned = search.read_text()
    assert "ASSOCIATION: maskprop" in tuned and "MASKPROP_THRESHOLD" in tuned
    assert "ASSOC_THRESHOLD" not in tuned


@pytest.mark.parametrize("mechanism", ["maskprop_assoc", "assoc"])
def test_association_without_vectors_is_refused_at_the_first_frame(dataset, tmp_path, mechanism):
    _, name = dataset
    evaluator = MOTSEvaluator(_cfg(tmp_path, "TRACKER_HEADS.ASSOCIATION", mechanism), name)
    evaluator.reset()
    record = DatasetCatalog.get(name)[0]
    message = f"TRACKER_HEADS.ASSOCIATION '{mechanism}' .* no association head"
    with pytest.raises(ConfigError, match=message):
        evaluator.process(*([x] for x in _coco_model_output(record)))
