# Your own detectron2 Mask R-CNN config, turned into TrackR-CNN by keys, trained with detectron2's
# SimpleTrainer on MOTS clips. Trailing KEY VALUE pairs override the config, e.g.
#   python examples/train_own_mask_rcnn_as_trackrcnn.py SOLVER.MAX_ITER 1000 MODEL.DEVICE cpu
import sys

from detectron2 import model_zoo
from detectron2.checkpoint import DetectionCheckpointer
from detectron2.config import get_cfg
from detectron2.engine import SimpleTrainer
from detectron2.modeling import build_model
from detectron2.solver import build_optimizer

import trackrcnn_d2
from trackrcnn_d2.data import build_mots_train_loader

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
cfg.merge_from_list(sys.argv[1:])

model = build_model(cfg)
DetectionCheckpointer(model).load(cfg.MODEL.WEIGHTS)
trainer = SimpleTrainer(model, build_mots_train_loader(cfg), build_optimizer(cfg, model))
trainer.train(0, cfg.SOLVER.MAX_ITER)
