# Track any video with no training, on the strongest Mask R-CNN that detectron2 installs with
# weights: new_baselines/mask_rcnn_R_101_FPN_400ep_LSJ (MODEL_ZOO.md: box AP 48.9, mask AP 43.7;
# configs/coco_mask_rcnn_R_50_FPN_maskprop.yaml's 3x R50-FPN has 41.0 / 37.2), linked by
# TrackR-CNN's tracker through mask propagation alone: the paper's "Mask R-CNN + maskprop"
# baseline (Table 2; Table 5 "Mask IoU"), without fine-tuning on KITTI MOTS. A LazyConfig:
# detectron2's own file, loaded with model_zoo.get_config, with the tracker and the MOTS test set
# and evaluator of kitti_mots_R_50_FPN_LSJ.py.
#
#   python demo.py --config-file configs/coco_mask_rcnn_R_101_FPN_400ep_LSJ_maskprop.py \
#       --input video.mp4 --output output/video
#   python train_net.py --config-file configs/coco_mask_rcnn_R_101_FPN_400ep_LSJ_maskprop.py \
#       --eval-only                                  # the baseline on kitti_mots_val
#
# The weights are downloaded on first use into $FVCORE_CACHE (default ~/.torch/iopath_cache);
# without internet access give the file: train.init_checkpoint=/path/to/model_final_f96b26.pkl.
from detectron2 import model_zoo
from detectron2.config import LazyCall as L

from trackrcnn_d2.tracking.class_map import class_map_from_dataset

from .kitti_mots_R_50_FPN_LSJ import dataloader as _mots_data
from .kitti_mots_R_50_FPN_LSJ import tracker

# trained=True: train.init_checkpoint is the zoo's trained weights, https://dl.fbaipublicfiles.com/
# detectron2/new_baselines/mask_rcnn_R_101_FPN_400ep_LSJ/42073830/model_final_f96b26.pkl (COCO).
_zoo = model_zoo.get_config("new_baselines/mask_rcnn_R_101_FPN_400ep_LSJ.py", trained=True)
model, dataloader, train = _zoo.model, _zoo.dataloader, _zoo.train
optimizer, lr_multiplier = _zoo.optimizer, _zoo.lr_multiplier

# Only detections that can pass gamma (below) get a mask: the mask head's cost on a CPU grows
# with the number of detections, and the maskprop tracker uses no others.
model.roi_heads.box_predictor.test_score_thresh = 0.5
# The zoo's NaiveSyncBatchNorm(stats_mode="N") by its registered name: the same modules, and a
# config.yaml that loads again (a lambda cannot).
model.roi_heads.box_head.conv_norm = model.roi_heads.mask_head.conv_norm = "naiveSyncBN_N"

# The MOTS test set (--eval-only) with its evaluator; demo.py takes the test mapper's transform,
# which is the zoo model's own test size (short edge 800, long edge at most 1333).
dataloader.test = _mots_data.test
dataloader.test.mapper.augmentations = _zoo.dataloader.test.mapper.augmentations
dataloader.evaluator = _mots_data.evaluator

# A plain Mask R-CNN has no association head: mask propagation only (Table 5 "Mask IoU"). gamma and
# delta_maskprop per class (car, pedestrian) as configs/coco_mask_rcnn_R_50_FPN_maskprop.yaml's,
# chosen by reasoning, not tuned (README "Track your own video").
tracker.params.association = "maskprop"
tracker.params.detection_confidence = [0.7, 0.7]
tracker.params.maskprop_threshold = [0.2, 0.2]
# COCO class -> MOTS class; detections of other COCO classes are dropped. The model's classes are
# the thing_classes of its training set, detectron2's coco_2017_train.
tracker.class_map = L(class_map_from_dataset)(
    dataset="${dataloader.train.dataset.names}",
    mots_classes="${tracker.params.class_names}",
    pairs=[["person", "pedestrian"], ["car", "car"]],
    num_classes="${model.roi_heads.num_classes}",
)
train.output_dir = "./output/coco_mask_rcnn_R_101_FPN_400ep_LSJ_maskprop"
