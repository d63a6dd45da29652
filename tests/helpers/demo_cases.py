"""Shared by demo.py's tests (tests/test_demo.py, tests/engine/test_video_demo.py): the demo
config's model at 64 x 128 pixels with the score thresholds at 0, so that random weights still
report detections (what the plumbing needs), saved as a checkpoint."""
import os

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIG = os.path.join(REPO, "configs", "demo_synthetic.yaml")
OPTS = [
    "INPUT.MIN_SIZE_TEST", "64", "INPUT.MAX_SIZE_TEST", "128",
    "MODEL.ROI_HEADS.SCORE_THRESH_TEST", "0.0", "TEST.DETECTIONS_PER_IMAGE", "4",
    "TRACKER_HEADS.DETECTION_CONFIDENCE", "[0.0, 0.0]",
]  # fmt: skip


def save_random_weights(folder) -> str:
    """The demo config's model (with ``OPTS``) with random weights (seed 0), saved in
    ``folder``; returns the checkpoint's path."""
    import torch
    from detectron2.checkpoint import DetectionCheckpointer
    from detectron2.modeling import build_model

    from trackrcnn_d2.utils.cli import load_config

    torch.manual_seed(0)
    model = build_model(load_config(CONFIG, OPTS))
    DetectionCheckpointer(model, save_dir=str(folder)).save("random")
    return os.path.join(str(folder), "random.pth")
