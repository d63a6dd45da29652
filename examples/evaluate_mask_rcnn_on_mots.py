# A plain detectron2 Mask R-CNN (no temporal backbone, no association head) evaluated on a MOTS
# dataset with MOTSEvaluator: its masks are tracked by mask propagation (the paper's "Mask R-CNN
# + maskprop" baseline) and scored with sMOTSA, MOTSA, HOTA, IDF1, ... Trailing KEY VALUE pairs
# override the config, e.g. MODEL.WEIGHTS your_model.pth. Offline, on a CPU, on the embedded
# synthetic set, with random weights (it runs; it finds nothing real):
#   python examples/evaluate_mask_rcnn_on_mots.py DATASETS.TEST "('synthetic_mots_val',)" \
#       MODEL.WEIGHTS "" INPUT.MIN_SIZE_TEST 128 INPUT.MAX_SIZE_TEST 256 OUTPUT_DIR output/example
import argparse

from detectron2 import model_zoo
from detectron2.config import get_cfg
from detectron2.evaluation import inference_on_dataset
from detectron2.modeling import build_model

import trackrcnn_d2
from trackrcnn_d2.checkpoint import MOTSCheckpointer
from trackrcnn_d2.data import build_mots_test_loader, check_mots_datasets
from trackrcnn_d2.engine import available_device
from trackrcnn_d2.evaluation import MOTSEvaluator
from trackrcnn_d2.utils.cli import exit_on_user_error, merge_overrides

parser = argparse.ArgumentParser(description="Evaluate a Mask R-CNN on a MOTS dataset.")
parser.add_argument("opts", nargs="*", metavar="KEY VALUE", help="config overrides")
args = parser.parse_args()
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
merge_overrides(cfg, args.opts, parser)  # a bad pair: the usage line and what is wrong
cfg.MODEL.DEVICE = available_device(cfg.MODEL.DEVICE)  # no GPU: the CPU, with a warning

# A missing dataset or weights that cannot be downloaded: one line, exit status 2.
with exit_on_user_error("evaluate_mask_rcnn_on_mots.py"):
    check_mots_datasets(cfg.DATASETS.TEST, "DATASETS.TEST")
    model = build_model(cfg)
    MOTSCheckpointer(model).load(cfg.MODEL.WEIGHTS)
    for dataset in cfg.DATASETS.TEST:
        evaluator = MOTSEvaluator(cfg, dataset)  # tracks, metrics: OUTPUT_DIR/inference/<dataset>
        results = inference_on_dataset(model, build_mots_test_loader(cfg, dataset), evaluator)
        print(dataset, results["mots"])
