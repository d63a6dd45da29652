"""MOTSEvaluator computes optical flow and mask propagation scores on a worker thread while
frames are processed: the tracks are those of the serial path (flow computed while tracking)."""
import os

import cv2
import numpy as np
import pycocotools.mask as mask_utils
import pytest
import torch
from detectron2.config import get_cfg
from detectron2.data import DatasetCatalog
from detectron2.structures import Boxes, Instances

from trackrcnn_d2 import add_trackrcnn_config
from trackrcnn_d2.evaluation import MOTSEvaluator
from trackrcnn_d2.tracking import (
    FramePairScores,
    PrecomputedPairScores,
    SequenceFlowProvider,
    TrackerParams,
    build_optical_flow,
    frame_detections_from_instances,
    track_sequence,
    write_tracking_result,
)


@pytest.fixture(scope="module")
def dataset(synthetic_mots_set):
    return synthetic_mots_set("evaluator_flow_test", sequences=6, frames=8, seed=5)[1]


def maskprop_cfg(output_dir):
    cfg = get_cfg()
    add_trackrcnn_config(cfg)
    cfg.OUTPUT_DIR = str(output_dir)
    cfg.TRACKER_HEADS.ASSOCIATION = "maskprop"
    cfg.TRACKER_HEADS.FLOW = "dis"
    cfg.TRACKER_HEADS.DETECTION_CONFIDENCE = [0.5, 0.5]
    return cfg


def jittered_ground_truth(record, rng):
    """A Mask R-CNN's output: the frame's objects with eroded or dilated masks, no vectors."""
    annotations = record["annotations"]
    masks = []
    for a in annotations:
        mask = mask_utils.decode(a["segmentation"])
        kernel = np.ones((3, 3), np.uint8)
        masks.append(cv2.dilate(mask, kernel) if rng.random() < 0.5 else cv2.erode(mask, kernel))
    instances = Instances((record["height"], record["width"]))
    instances.pred_boxes = Boxes(torch.tensor([a["bbox"] for a in annotations]).reshape(-1, 4))
    instances.scores = torch.tensor(rng.uniform(0.6, 1.0, len(annotations)), dtype=torch.float32)
    instances.pred_classes = torch.tensor([a["category_id"] for a in annotations]).long()
    shape = (0, record["height"], record["width"])
    instances.pred_masks = torch.from_numpy(np.stack(masks) if masks else np.zeros(shape, bool))
    frame_input = {key: record[key] for key in ("file_name", "sequence", "frame_idx", "height")}
    return frame_input, {"instances": instances}


def test_threaded_flow_gives_the_serial_tracks(dataset, tmp_path):
    records = DatasetCatalog.get(dataset)
    rng = np.random.default_rng(0)
    outputs = [jittered_ground_truth(record, rng) for record in records]
    cfg = maskprop_cfg(tmp_path / "run")
    evaluator = MOTSEvaluator(cfg, dataset, distributed=False)
    serial_flow_calls = []

    def counting_provider(images, provider=evaluator._flow_provider):
        flow = provider(images)
        return lambda previous, current: serial_flow_calls.append(current) or flow(
            previous, current
        )

    evaluator.reset()
    for frame_input, output in outputs:
        evaluator.process([frame_input], [output])
    # The serial flow of the tracking in evaluate(), counted: the worker has done it all.
    evaluator._flow_provider = counting_provider
    evaluator.evaluate()
    # Every adjacent pair was scored on the worker thread; none was left to the tracker.
    precomputed = [f for f in evaluator._frames if "pair_scores" in f]
    assert len(precomputed) == len(records) - len({r["sequence"] for r in records}) > 0
    assert all(isinstance(f["pair_scores"][1], PrecomputedPairScores) for f in precomputed)
    assert serial_flow_calls == []
    # The scores are those of the flow between the two images (not of no flow).
    params = TrackerParams.from_config(cfg)
    optical_flow = build_optical_flow("dis")
    by_index = {(f["detections"].sequence, f["detections"].frame_idx): f for f in evaluator._frames}
    differs_from_no_flow = False
    for frame in precomputed:
        current = frame["detections"]
        previous = by_index[(current.sequence, frame["pair_scores"][0])]
        flow = optical_flow(cv2.imread(frame["file_name"]), cv2.imread(previous["file_name"]))
        rows, columns = np.arange(len(current)), np.arange(len(previous["detections"]))
        expected, no_flow = (
            PrecomputedPairScores.compute(
                FramePairScores(previous["detections"], current, f), params
            ).mask_propagation(rows, columns)
            for f in (flow, None)
        )
        np.testing.assert_array_equal(
            frame["pair_scores"][1].mask_propagation(rows, columns), expected
        )
        differs_from_no_flow |= not np.array_equal(expected, no_flow)
    assert differs_from_no_flow

    # The serial path: detections in hand, flow between adjacent frames computed while tracking.
    for sequence in sorted({r["sequence"] for r in records}):
        frames = [(i, o) for i, o in outputs if i["sequence"] == sequence]
        detections = [
            frame_detections_from_instances(o["instances"], sequence, i["frame_idx"])
            for i, o in frames
        ]
        images = {i["frame_idx"]: i["file_name"] for i, _ in frames}
        tracks = track_sequence(detections, params, SequenceFlowProvider(optical_flow, images))
        expected = tmp_path / f"serial_{sequence}.txt"
        write_tracking_result(str(expected), tracks)
        written = os.path.join(cfg.OUTPUT_DIR, "inference", dataset, f"{sequence}.txt")
        with open(written) as ours, open(expected) as serial:
            tracks_txt = serial.read()
            assert ours.read() == tracks_txt and tracks_txt
