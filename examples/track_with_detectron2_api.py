# detectron2's tracking API with TrackR-CNN's tracker: the per-frame Instances of any
# instance-segmentation model in, the same Instances with detectron2's tracking fields (ID,
# ID_period, lost_frame_count) out, as for detectron2's own trackers. Trailing KEY VALUE pairs
# override the detector's config, e.g. MODEL.WEIGHTS your_model.pth MODEL.DEVICE cpu
#   python examples/track_with_detectron2_api.py FRAME_FOLDER [KEY VALUE ...]
import glob
import os
import sys

import cv2
from detectron2 import model_zoo
from detectron2.config import CfgNode, get_cfg
from detectron2.engine import DefaultPredictor
from detectron2.tracking import build_tracker_head

import trackrcnn_d2.tracking.tracker_head  # noqa: F401  registers TrackRCNNTracker

cfg = get_cfg()  # the detector: your Mask R-CNN fine-tuned on car (class 0), pedestrian (1)
cfg.merge_from_file(
    model_zoo.get_config_file("COCO-InstanceSegmentation/mask_rcnn_R_50_FPN_3x.yaml")
)
cfg.MODEL.ROI_HEADS.NUM_CLASSES = 2
cfg.merge_from_list(sys.argv[2:])
predictor = DefaultPredictor(cfg)

# Only TRACKER_HEADS, as for detectron2's trackers; other keys take trackrcnn_d2's defaults.
tracker = build_tracker_head(
    CfgNode({"TRACKER_HEADS": {"TRACKER_NAME": "TrackRCNNTracker", "ASSOCIATION": "maskprop"}})
)
for path in sorted(glob.glob(os.path.join(sys.argv[1], "*.png"))):
    image = cv2.imread(path)  # BGR, as DefaultPredictor takes it
    instances = predictor(image)["instances"]
    tracked = tracker.update(instances, image=image)  # the image: optical flow for maskprop
    print(os.path.basename(path), "IDs", tracked.ID)
