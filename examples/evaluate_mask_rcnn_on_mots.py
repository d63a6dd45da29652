# A plain detectron2 Mask R-CNN (no temporal backbone, no association head) evaluated on a MOTS
# dataset with MOTSEvaluator: its masks are tracked by mask propagation (the paper's "Mask R-CNN
# + maskprop" baseline) and scored with sMOTSA, MOTSA, HOTA, IDF1, ... Trailing KEY VALUE pairs
# override the config, e.g. MODEL.WEIGHTS your_model.pth MODEL.DEVICE cpu
import sys

from detectron2 import model_zoo
from detectron2.checkpoint import DetectionCheckpointer
from detectron2.config import get_cfg
from detectron2.evaluation import inference_on_dataset
from detectron2.modeling import build_model

import trackrcnn_d2
from trackrcnn_d2.data import build_mots_test_loader
from trackrcnn_d2.evaluation import MOTSEvaluator

trackrcnn_d2.register_all()

cfg = get_cfg()
cfg.merge_from_file(
    model_zoo.get_config_file("COCO-InstanceSegmentation/mask_rcnn_R_50_FPN_3x.yaml")
)
trackrcnn_d2.add_trackrcnn_config(cfg)
cfg.MODEL.ROI_HEADS.NUM_CLASSES = 2  # your Mask R-CNN, fine-tuned on ...
cfg.DATASETS.MOTS.CLASSES = ["car", "pedestrian"]  # ... these classes, in this order
cfg.DATASETS.TEST = ("kitti_mots_val",)
cfg.TRACKER_HEADS.ASSOCIATION = "maskprop"  # no association vectors: mask propagation only
cfg.merge_from_list(sys.argv[1:])

model = build_model(cfg)
DetectionCheckpointer(model).load(cfg.MODEL.WEIGHTS)
for dataset in cfg.DATASETS.TEST:
    evaluator = MOTSEvaluator(cfg, dataset)  # tracks and metrics in OUTPUT_DIR/inference/<dataset>
    results = inference_on_dataset(model, build_mots_test_loader(cfg, dataset), evaluator)
    print(dataset, results["mots"])
