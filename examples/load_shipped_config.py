# TrackR-CNN's shipped configs by name, from any working directory (like detectron2's model_zoo).
# Trailing KEY VALUE pairs override the config. Offline, on a CPU (the model is built, no
# weights are loaded):
#   python examples/load_shipped_config.py MODEL.DEVICE cpu
import argparse

from detectron2.config import get_cfg
from detectron2.modeling import build_model

import trackrcnn_d2
from trackrcnn_d2 import model_zoo
from trackrcnn_d2.engine import available_device
from trackrcnn_d2.utils.cli import merge_overrides

parser = argparse.ArgumentParser(description="Build TrackR-CNN from a shipped config.")
parser.add_argument("opts", nargs="*", metavar="KEY VALUE", help="config overrides")
args = parser.parse_args()
trackrcnn_d2.register_all()

cfg = get_cfg()
trackrcnn_d2.add_trackrcnn_config(cfg)
cfg.merge_from_file(model_zoo.get_config_file("kitti_mots_r101.yaml"))
merge_overrides(cfg, args.opts, parser)  # a bad pair: the usage line and what is wrong
cfg.MODEL.DEVICE = available_device(cfg.MODEL.DEVICE)  # no GPU: the CPU, with a warning
model = build_model(cfg)  # TrackRCNN: ResNet-101 C4, a Conv3D, the association head
