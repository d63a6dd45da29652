# Your own detectron2 Mask R-CNN config, turned into TrackR-CNN by keys, trained with detectron2's
# SimpleTrainer on MOTS clips. Trailing KEY VALUE pairs override the config. Offline, on a CPU,
# on the embedded synthetic set (python -m trackrcnn_d2.data.synthetic datasets/synthetic_mots),
# from scratch:
#   python examples/train_own_mask_rcnn_as_trackrcnn.py DATASETS.TRAIN "('synthetic_mots_train',)" \
#       MODEL.WEIGHTS "" INPUT.MIN_SIZE_TRAIN "(128,)" INPUT.MAX_SIZE_TRAIN 256 SOLVER.MAX_ITER 20
import argparse

from detectron2 import model_zoo
from detectron2.config import get_cfg
from detectron2.engine import SimpleTrainer
from detectron2.modeling import build_model
from detectron2.solver import build_optimizer

import trackrcnn_d2
from trackrcnn_d2.checkpoint import MOTSCheckpointer
from trackrcnn_d2.data import build_mots_train_loader, check_mots_datasets
from trackrcnn_d2.engine import available_device
from trackrcnn_d2.utils.cli import exit_on_user_error, merge_overrides

parser = argparse.ArgumentParser(description="Train your Mask R-CNN config as TrackR-CNN.")
parser.add_argument("opts", nargs="*", metavar="KEY VALUE", help="config overrides")
args = parser.parse_args()
trackrcnn_d2.register_all()  # the model components, datasets, tracker and evaluator

cfg = get_cfg()
cfg.merge_from_file(
    model_zoo.get_config_file("COCO-InstanceSegmentation/mask_rcnn_R_50_FPN_3x.yaml")
)
trackrcnn_d2.add_trackrcnn_config(cfg)  # the new keys, with the paper's values
cfg.MODEL.META_ARCHITECTURE = "TrackRCNN"  # clips in training, a frame of look-ahead at test
cfg.MODEL.BACKBONE.NAME = "build_temporal_backbone"  # Conv3D over the clip ...
cfg.MODEL.TEMPORAL.BACKBONE_NAME = "build_resnet_fpn_backbone"  # ... on your backbone's outputs
cfg.MODEL.ROI_HEADS.NAME = "TrackStandardROIHeads"  # your ROI heads + the association head
cfg.MODEL.ROI_HEADS.NUM_CLASSES = 2
cfg.DATASETS.MOTS.CLASSES = ["car", "pedestrian"]
cfg.DATASETS.TRAIN = ("kitti_mots_train",)
cfg.INPUT.MASK_FORMAT = "bitmask"  # MOTS masks are RLEs, not polygons
cfg.INPUT.CLIP_LENGTH = 8  # a training mini-batch is a clip of 8 adjacent frames
cfg.SOLVER.IMS_PER_BATCH = 8  # frames per iteration: a multiple of INPUT.CLIP_LENGTH
merge_overrides(cfg, args.opts, parser)  # a bad pair: the usage line and what is wrong
cfg.MODEL.DEVICE = available_device(cfg.MODEL.DEVICE)  # no GPU: the CPU, with a warning
if not cfg.MODEL.WEIGHTS and cfg.MODEL.RESNETS.NORM == "FrozenBN":
    # From scratch, as detectron2's scratch configs: normalisation that trains (FrozenBN would
    # keep random statistics and diverge at once), every stage trained, and bounded gradients
    # for the first steps of random heads.
    cfg.MODEL.RESNETS.NORM = "BN"
    cfg.MODEL.BACKBONE.FREEZE_AT = 0
    cfg.SOLVER.CLIP_GRADIENTS.ENABLED = True
    cfg.SOLVER.CLIP_GRADIENTS.CLIP_TYPE = "norm"

# A missing dataset or weights that cannot be downloaded: one line, exit status 2.
with exit_on_user_error("train_own_mask_rcnn_as_trackrcnn.py"):
    check_mots_datasets(cfg.DATASETS.TRAIN)
    model = build_model(cfg)
    MOTSCheckpointer(model).load(cfg.MODEL.WEIGHTS)
    trainer = SimpleTrainer(model, build_mots_train_loader(cfg), build_optimizer(cfg, model))
    trainer.train(0, cfg.SOLVER.MAX_ITER)
