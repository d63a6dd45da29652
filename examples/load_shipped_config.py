# TrackR-CNN's shipped configs by name, from any working directory (like detectron2's model_zoo).
# Trailing KEY VALUE pairs override the config, e.g. MODEL.DEVICE cpu
import sys

from detectron2.config import get_cfg
from detectron2.modeling import build_model

import trackrcnn_d2
from trackrcnn_d2 import model_zoo

trackrcnn_d2.register_all()

cfg = get_cfg()
trackrcnn_d2.add_trackrcnn_config(cfg)
cfg.merge_from_file(model_zoo.get_config_file("kitti_mots_r101.yaml"))
cfg.merge_from_list(sys.argv[1:])
model = build_model(cfg)  # TrackRCNN: ResNet-101 C4, a Conv3D, the association head
