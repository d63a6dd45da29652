# detectron2's tracking API with TrackR-CNN's tracker: the per-frame Instances of any
# instance-segmentation model in, the same Instances with detectron2's tracking fields (ID,
# ID_period, lost_frame_count) out, as for detectron2's own trackers. Trailing KEY VALUE pairs
# override the detector's config, e.g. MODEL.WEIGHTS your_model.pth. Offline, on a CPU, on a
# sequence of the embedded synthetic set, with random weights (it runs; it finds nothing real):
#   python examples/track_with_detectron2_api.py datasets/synthetic_mots/training/image_02/0018 \
#       MODEL.WEIGHTS "" INPUT.MIN_SIZE_TEST 128 INPUT.MAX_SIZE_TEST 256
import argparse
import glob
import os

import cv2
from detectron2 import model_zoo
from detectron2.config import CfgNode, get_cfg
from detectron2.engine import DefaultPredictor
from detectron2.tracking import build_tracker_head

import trackrcnn_d2.tracking.tracker_head  # noqa: F401  registers TrackRCNNTracker
from trackrcnn_d2.engine import available_device
from trackrcnn_d2.utils.cli import exit_on_user_error, merge_overrides

parser = argparse.ArgumentParser(description="Track the frames of a folder.")
parser.add_argument("frames", metavar="FRAME_FOLDER", help="a folder of .png frames, in order")
parser.add_argument("opts", nargs="*", metavar="KEY VALUE", help="detector config overrides")
args = parser.parse_args()
paths = sorted(glob.glob(os.path.join(args.frames, "*.png")))
if not paths:
    parser.error(f"no .png frames in {args.frames}")

cfg = get_cfg()  # the detector: your Mask R-CNN fine-tuned on car (class 0), pedestrian (1)
cfg.merge_from_file(
    model_zoo.get_config_file("COCO-InstanceSegmentation/mask_rcnn_R_50_FPN_3x.yaml")
)
cfg.MODEL.ROI_HEADS.NUM_CLASSES = 2
merge_overrides(cfg, args.opts, parser)  # a bad pair: the usage line and what is wrong
cfg.MODEL.DEVICE = available_device(cfg.MODEL.DEVICE)  # no GPU: the CPU, with a warning
with exit_on_user_error("track_with_detectron2_api.py"):  # e.g. weights that cannot be had
    predictor = DefaultPredictor(cfg)

# Only TRACKER_HEADS, as for detectron2's trackers; other keys take trackrcnn_d2's defaults.
tracker = build_tracker_head(
    CfgNode({"TRACKER_HEADS": {"TRACKER_NAME": "TrackRCNNTracker", "ASSOCIATION": "maskprop"}})
)
for path in paths:
    image = cv2.imread(path)  # BGR, as DefaultPredictor takes it
    instances = predictor(image)["instances"]
    tracked = tracker.update(instances, image=image)  # the image: optical flow for maskprop
    print(os.path.basename(path), "IDs", tracked.ID)
