"""VideoTrackingPredictor's fast paths give the tracks of the plain ones: masks from the mask
head's probabilities straight to RLEs (vs detectron2's pasted masks), optical flow on a worker
thread (vs computed in the tracker's step); and it applies the precision keys."""
import contextlib
import threading

import numpy as np
import torch
from detectron2.config import get_cfg
from detectron2.modeling.postprocessing import detector_postprocess
from detectron2.structures import Boxes, Instances

from trackrcnn_d2.config import add_trackrcnn_config
from trackrcnn_d2.data.synthetic import render_sequence
from trackrcnn_d2.engine import VideoTrackingPredictor
from trackrcnn_d2.engine import predictor as predictor_module
from trackrcnn_d2.structures.mask_rle import UnpastedMasksModel
from trackrcnn_d2.tracking import SequenceTracker, TrackerParams, build_optical_flow
from trackrcnn_d2.tracking.detections import frame_detections_from_instances

HEIGHT, WIDTH = 72, 120
# The model sees the frames at half size; its raw outputs are in that frame.
INPUT_SIZE = (36, 60)


def video_frames(count):
    """BGR frames of a synthetic MOTS sequence (moving objects on a textured background)."""
    images, _ = render_sequence(0, count, HEIGHT, WIDTH, seed=0)
    return [np.ascontiguousarray(image[:, :, ::-1]) for image in images]


def raw_outputs(count, seed=1):
    """Per frame, the raw Instances of a Mask R-CNN (input resolution, 28 x 28 probabilities):
    three objects moving right, two overlapping, and a low-confidence false positive."""
    rng = np.random.default_rng(seed)
    starts = np.array([[5, 5, 20, 25], [15, 10, 30, 31], [35, 2, 47, 17], [2, 20, 10, 30]])
    yy, xx = np.meshgrid(np.linspace(-1, 1, 28), np.linspace(-1, 1, 28), indexing="ij")
    ellipse = 1 / (1 + np.exp(-6 * (1 - xx**2 - yy**2)))
    frames = []
    for t in range(count):
        boxes = starts + np.array([1.5 * t, 0, 1.5 * t, 0]) + rng.uniform(-0.5, 0.5, (4, 4))
        instances = Instances(INPUT_SIZE)
        instances.pred_boxes = Boxes(torch.tensor(boxes, dtype=torch.float32))
        instances.scores = torch.tensor([0.95, 0.9, 0.85, 0.2])
        instances.pred_classes = torch.tensor([0, 0, 1, 1])
        probabilities = ellipse * rng.uniform(0.8, 1.0, (4, 28, 28))
        instances.pred_masks = torch.tensor(probabilities, dtype=torch.float32)[:, None]
        frames.append(instances)
    return frames


class RawReplayModel(torch.nn.Module):
    """A detectron2 detector stand-in: ``inference(do_postprocess=False)`` gives the raw
    Instances of the frame; ``forward`` the post-processed ones (masks pasted)."""

    def __init__(self, raw_per_frame):
        super().__init__()
        self.raw_per_frame = raw_per_frame

    def inference(self, inputs, do_postprocess=True):
        assert not do_postprocess
        return [self.raw_per_frame[inputs[0]["frame_idx"]]]

    def forward(self, inputs):
        raw = self.raw_per_frame[inputs[0]["frame_idx"]]
        copy = Instances(raw.image_size, **raw.get_fields())
        copy.pred_boxes = raw.pred_boxes.clone()
        return [{"instances": detector_postprocess(copy, inputs[0]["height"], inputs[0]["width"])}]


def maskprop_cfg():
    cfg = get_cfg()
    add_trackrcnn_config(cfg)
    cfg.MODEL.DEVICE = "cpu"
    cfg.TRACKER_HEADS.ASSOCIATION = "maskprop"
    cfg.TRACKER_HEADS.FLOW = "dis"
    cfg.TRACKER_HEADS.DETECTION_CONFIDENCE = [0.5, 0.5]
    cfg.TRACKER_HEADS.MASKPROP_THRESHOLD = [0.3, 0.3]
    return cfg


def tracks(objects_per_frame):
    return [sorted((o.obj_id, o.rle["counts"]) for o in objects) for objects in objects_per_frame]


def test_fast_paths_give_the_serial_pasted_tracks():
    count = 5
    images, raw = video_frames(count), raw_outputs(count)
    cfg = maskprop_cfg()
    model = RawReplayModel(raw)
    # Reference: detectron2's pasted masks, the flow computed inside the tracker's step.
    tracker = SequenceTracker(TrackerParams.from_config(cfg), build_optical_flow("dis"), "video")
    expected = []
    for t, image in enumerate(images):
        inputs = [{"frame_idx": t, "height": HEIGHT, "width": WIDTH}]
        detections = frame_detections_from_instances(model(inputs)[0]["instances"], "video", t)
        expected.append(tracker.step(detections, image=image))

    predictor = VideoTrackingPredictor(cfg, model=model)
    flow_threads = []

    def recording_flow(image, previous_image, flow=predictor.flow):
        flow_threads.append(threading.current_thread().name)
        return flow(image, previous_image)

    predictor.flow = recording_flow
    got = [objects for _, _, objects in predictor(enumerate(images), sequence="video")]
    assert tracks(got) == tracks(expected)
    # Each frame pair's flow once, on the worker thread.
    assert len(flow_threads) == count - 1
    assert all(name.startswith("optical-flow") for name in flow_threads)
    # Not trivially equal: the three confident objects keep their tracks over the frames.
    assert [obj_id for obj_id, _ in tracks(got)[-1]] == [1001, 1002, 2001]


def test_predictor_applies_the_precision_keys(monkeypatch):
    count = 2
    contexts = []

    def recording_precision(precision, device):
        contexts.append((precision, torch.device(device).type))
        return contextlib.nullcontext()

    monkeypatch.setattr(predictor_module, "autocast_for", recording_precision)
    cfg = maskprop_cfg()
    cfg.MODEL.ALLOW_TF32 = False
    cfg.TEST.PRECISION = "bf16"
    saved = torch.backends.cudnn.allow_tf32, torch.get_float32_matmul_precision()
    try:
        torch.backends.cudnn.allow_tf32 = True
        predictor = VideoTrackingPredictor(cfg, model=RawReplayModel(raw_outputs(count)))
        assert torch.backends.cudnn.allow_tf32 is False
        assert torch.get_float32_matmul_precision() == "highest"
    finally:
        torch.backends.cudnn.allow_tf32 = saved[0]
        torch.set_float32_matmul_precision(saved[1])
    list(predictor(enumerate(video_frames(count))))
    assert contexts == [("bf16", "cpu")] * count


def test_unpasted_masks_model_gives_the_same_detections():
    """What MOTSEvaluator gets from UnpastedMasksModel (train_net's evaluation) turns into the
    FrameDetections of the model's own pasted outputs."""
    raw = raw_outputs(3)
    model = RawReplayModel(raw)
    for t in range(len(raw)):
        inputs = [{"frame_idx": t, "height": HEIGHT, "width": WIDTH}]
        (unpasted,) = UnpastedMasksModel(model)(inputs)
        assert unpasted["instances"].has("pred_mask_probs")
        ours = frame_detections_from_instances(unpasted["instances"], "video", t)
        pasted = frame_detections_from_instances(model(inputs)[0]["instances"], "video", t)
        assert ours.masks == pasted.masks and len(ours.masks) == 4
        np.testing.assert_array_equal(ours.boxes, pasted.boxes)
