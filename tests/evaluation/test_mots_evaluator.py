"""MOTSEvaluator: per-frame detections in, tracks written, numbers equal the standalone command's.

The "model" here is the ground truth itself (masks, boxes, an association vector per track), so
the expected result is known without training: perfect tracking, sMOTSA 100 for both classes.
"""
import json
import os
import subprocess
import sys
import uuid

import numpy as np
import pycocotools.mask as mask_utils
import pytest
import torch
from detectron2.config import get_cfg
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.structures import Boxes, Instances

from trackrcnn_d2 import add_trackrcnn_config
from trackrcnn_d2.evaluation import MOTSEvaluator
from trackrcnn_d2.evaluation.mots_evaluator import flat_mots_results


@pytest.fixture(scope="module")
def dataset(synthetic_mots_set):
    """A tiny synthetic set (4 sequences: val = the last one), registered under a fresh name."""
    return synthetic_mots_set("evaluator_test", sequences=4, frames=8, seed=3)


def _cfg(output_dir):
    cfg = get_cfg()
    add_trackrcnn_config(cfg)
    cfg.OUTPUT_DIR = str(output_dir)
    return cfg


def _ground_truth_as_model_output(record, num_tracks=64):
    """(input, output) of a perfect model: the frame's GT objects with score 1 and a one-hot
    association vector per track."""
    annotations = record["annotations"]
    height, width = record["height"], record["width"]
    instances = Instances((height, width))
    instances.pred_boxes = Boxes(torch.tensor([a["bbox"] for a in annotations]).reshape(-1, 4))
    instances.scores = torch.ones(len(annotations))
    instances.pred_classes = torch.tensor([a["category_id"] for a in annotations]).long()
    masks = [mask_utils.decode(a["segmentation"]) for a in annotations]
    instances.pred_masks = torch.from_numpy(
        np.stack(masks).astype(bool) if masks else np.zeros((0, height, width), dtype=bool)
    )
    vectors = np.zeros((len(annotations), num_tracks), dtype=np.float32)
    for row, a in enumerate(annotations):
        vectors[row, (a["track_id"] * 7) % num_tracks] = 1.0
    instances.association_vectors = torch.from_numpy(vectors)
    frame_input = {key: record[key] for key in ("file_name", "sequence", "frame_idx", "height")}
    return frame_input, {"instances": instances}


def _run(evaluator, records):
    evaluator.reset()
    for record in records:
        frame_input, output = _ground_truth_as_model_output(record)
        evaluator.process([frame_input], [output])
    return evaluator.evaluate()


def _degraded(records):
    """The records of a partly wrong model: pedestrians dropped in every third frame, cars
    shifted by two pixels."""
    degraded = []
    for record in records:
        record = dict(record)
        keep = []
        for a in record["annotations"]:
            if a["category_id"] == 1 and record["frame_idx"] % 3 == 0:
                continue
            if a["category_id"] == 0:
                mask = np.roll(mask_utils.decode(a["segmentation"]), 2, axis=1)
                a = {**a, "segmentation": mask_utils.encode(np.asfortranarray(mask))}
            keep.append(a)
        record["annotations"] = keep
        degraded.append(record)
    return degraded


def test_perfect_detections_give_perfect_tracks(dataset, tmp_path):
    root, name = dataset
    evaluator = MOTSEvaluator(_cfg(tmp_path), name)
    results = _run(evaluator, DatasetCatalog.get(name))

    mots = results["mots"]
    for class_name in ("car", "pedestrian"):
        assert mots[f"sMOTSA/{class_name}"] == pytest.approx(100.0)
        assert mots[f"HOTA/{class_name}"] == pytest.approx(100.0)
        assert mots[f"IDS/{class_name}"] == 0
    output = tmp_path / "inference" / name
    sequence = MetadataCatalog.get(name).sequences[0]
    assert (output / f"{sequence}.txt").stat().st_size > 0
    assert (output / "detections" / f"{sequence}.npz").is_file()
    assert json.loads((output / "mots_metrics.json").read_text())["car"]["sMOTSA"] == 100.0


def test_numbers_equal_the_standalone_command_on_the_written_files(dataset, tmp_path):
    """Detections of a partly wrong model (pedestrians dropped in every third frame, cars
    shifted), frames arriving interleaved as from several workers."""
    root, name = dataset
    degraded = _degraded(DatasetCatalog.get(name))
    evaluator = MOTSEvaluator(_cfg(tmp_path), name)
    results = _run(evaluator, degraded[1::2] + degraded[0::2])

    output = tmp_path / "inference" / name
    report = tmp_path / "standalone.json"
    subprocess.run(
        [
            sys.executable, "-m", "trackrcnn_d2.evaluation",
            os.path.join(root, "instances_txt"), str(output),
            "--seqmap", os.path.join(root, "evaluate_mots.seqmap.val"),
            "--classes", "car,pedestrian", "--json", str(report),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    standalone = json.loads(report.read_text())
    assert results["mots"] == flat_mots_results(standalone, ["car", "pedestrian"])
    assert 0 < results["mots"]["sMOTSA/car"] < 100
    assert 0 < results["mots"]["sMOTSA/pedestrian"] < 100


def test_each_evaluation_replaces_the_output_folder(dataset, tmp_path):
    root, name = dataset
    output = tmp_path / "results"
    output.mkdir()
    (output / "0099.txt").write_text("left from an earlier run\n")
    evaluator = MOTSEvaluator(
        name,
        tracker_params=MOTSEvaluator.from_config(_cfg(tmp_path), name)["tracker_params"],
        output_dir=str(output),
        flow="none",
        write_detection_cache=False,
    )
    _run(evaluator, DatasetCatalog.get(name))
    sequence = MetadataCatalog.get(name).sequences[0]
    assert sorted(os.listdir(output)) == sorted([f"{sequence}.txt", "mots_metrics.json"])
    assert [n for n in os.listdir(tmp_path) if n.startswith(".")] == []


def test_a_failed_evaluation_leaves_earlier_results_alone(dataset, tmp_path):
    root, name = dataset
    output = tmp_path / "inference" / name
    output.mkdir(parents=True)
    (output / "earlier.txt").write_text("kept\n")
    record = dict(DatasetCatalog.get(name)[0], sequence="not_in_the_ground_truth")
    with pytest.raises(ValueError, match="not_in_the_ground_truth"):
        _run(MOTSEvaluator(_cfg(tmp_path), name), [record])
    assert os.listdir(output) == ["earlier.txt"]
    assert [n for n in os.listdir(output.parent) if n.startswith(".")] == []


def test_refuses_a_dataset_that_is_not_mots(tmp_path):
    name = f"not_mots_{uuid.uuid4().hex[:6]}"
    MetadataCatalog.get(name).set(evaluator_type="coco")
    with pytest.raises(ValueError, match="not a MOTS dataset"):
        MOTSEvaluator(_cfg(tmp_path), name)


def test_optical_flow_is_built_once_for_all_sequences(dataset, tmp_path, monkeypatch):
    """The flow method (RAFT loads weights) is built once per evaluator, not per sequence."""
    from trackrcnn_d2.evaluation import mots_evaluator

    root, name = dataset
    built = []

    def counting_build(method):
        built.append(method)
        return original_build(method)

    original_build = mots_evaluator.build_optical_flow
    monkeypatch.setattr(mots_evaluator, "build_optical_flow", counting_build)
    train_name = name.replace("_val", "_train")
    records = DatasetCatalog.get(train_name)
    assert len({r["sequence"] for r in records}) >= 2
    evaluator = MOTSEvaluator(_cfg(tmp_path), train_name)
    _run(evaluator, records)
    _run(evaluator, records)
    assert built == ["dis"]


def test_report_is_written_and_error_views_logged_beside_the_metrics(dataset, tmp_path):
    """TEST.MOTS.REPORT: the report of the same matching under <output>/report/, with error
    views from the dataset's images, and each sequence's most telling error view in
    TensorBoard (EventStorage) inside a training run; without a storage (--eval-only) none."""
    from detectron2.utils.events import EventStorage

    root, name = dataset
    cfg = _cfg(tmp_path)
    cfg.TEST.MOTS.REPORT = True
    with EventStorage(0) as storage:
        results = _run(MOTSEvaluator(cfg, name), _degraded(DatasetCatalog.get(name)))
    output = tmp_path / "inference" / name
    report = output / "report"
    metrics = json.loads((output / "mots_metrics.json").read_text())
    assert json.loads((report / "metrics.json").read_text()) == metrics
    assert results["mots"] == flat_mots_results(metrics, ["car", "pedestrian"])
    page = (report / "index.html").read_text()
    sequence = MetadataCatalog.get(name).sequences[0]
    views = sorted(os.listdir(report / "frames" / sequence))
    assert views and f'href="frames/{sequence}/{views[0]}"' in page
    logged = {name: image for name, image, _ in storage._vis_data}
    assert list(logged) == [f"mots/error_view/{sequence}"]
    height, width = DatasetCatalog.get(name)[0]["height"], DatasetCatalog.get(name)[0]["width"]
    image = logged[f"mots/error_view/{sequence}"]
    assert image.dtype == np.uint8 and image.shape[0] == 3 and image.shape[2] == width
    assert image.shape[1] > height  # the frame and the header strip above it
    _run(MOTSEvaluator(cfg, name), _degraded(DatasetCatalog.get(name)))  # no storage: no image
    assert (report / "index.html").is_file()
