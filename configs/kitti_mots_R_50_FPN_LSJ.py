# TrackR-CNN (paper Sec. 5-6, Fig. 3) on detectron2's new_baselines R50-FPN Mask R-CNN trained
# with large-scale jitter for 400 epochs (MODEL_ZOO.md: box AP 47.4, mask AP 42.5; the 3x R50-FPN
# has 41.0 / 37.2), as a LazyConfig. detectron2's own file is loaded with model_zoo.get_config and
# only what TrackR-CNN changes is set here: the meta-architecture, a Conv3D in the backbone, the
# association head, the MOTS data in clips, the tracker and evaluator, the paper's optimizer.
#
#   python train_net.py --config-file configs/kitti_mots_R_50_FPN_LSJ.py        # train, evaluate
#   python train_net.py --config-file configs/kitti_mots_R_50_FPN_LSJ.py --eval-only \
#       train.init_checkpoint=output/kitti_mots_R_50_FPN_LSJ/model_final.pth
#   python demo.py --config-file configs/kitti_mots_R_50_FPN_LSJ.py --input video.mp4 \
#       --output output/video train.init_checkpoint=output/kitti_mots_R_50_FPN_LSJ/model_final.pth
#
# Overrides are detectron2's key=value (train.max_iter=1000 train.device=cpu ...). The same
# network in a yaml config: kitti_mots_R_50_FPN_LSJ.yaml (tests/engine/test_lazy_configs.py
# checks that both build the same modules and parameter shapes).
import detectron2.data.transforms as T
import torch
from detectron2 import model_zoo
from detectron2.config import LazyCall as L
from detectron2.solver import get_default_optimizer_params
from fvcore.common.param_scheduler import MultiStepParamScheduler

from trackrcnn_d2.checkpoint import WeightsClassMap
from trackrcnn_d2.data.build import (
    build_mots_test_loader,
    build_mots_train_loader,
    get_mots_dataset_dicts,
)
from trackrcnn_d2.data.dataset_mapper import MOTSClipDatasetMapper, MOTSTestDatasetMapper
from trackrcnn_d2.evaluation.mots_evaluator import MOTSEvaluator
from trackrcnn_d2.modeling import (
    AssociationHead,
    TemporalBackbone,
    TrackRCNN,
    TrackStandardROIHeads,
)
from trackrcnn_d2.modeling.backbone.temporal_backbone import build_temporal_layer_stacks
from trackrcnn_d2.tracking import TrackerParams

# trained=True: train.init_checkpoint is the zoo's trained weights, https://dl.fbaipublicfiles.com/
# detectron2/new_baselines/mask_rcnn_R_50_FPN_400ep_LSJ/42019571/model_final_14d201.pkl (COCO).
_zoo = model_zoo.get_config("new_baselines/mask_rcnn_R_50_FPN_400ep_LSJ.py", trained=True)
model, train = _zoo.model, _zoo.train

# ---------------------------------------------------------------------------------------------- #
# The tracker (Sec. 5, Algorithm 1, Table 5): its classes are the MOTS classes of the data, the
# evaluator and the model. Thresholds: the released code's tuned KITTI MOTS values (as
# trackrcnn_d2/config.py); tune them for this model with tools/tune_tracker.py.
# ---------------------------------------------------------------------------------------------- #
tracker = dict(
    params=L(TrackerParams)(
        class_names=["car", "pedestrian"],
        association="maskprop_assoc",
        detection_confidence=[0.847, 0.937],
        maskprop_threshold=[0.1, 0.1],
        assoc_threshold=[1.2, 1.2],
    ),
    # Optical flow for mask propagation: OpenCV's DIS (the paper: PWC-Net).
    flow="dis",
    mask_threshold=0.5,
    # The model predicts the MOTS classes: no map from other classes.
    class_map=None,
)

# ---------------------------------------------------------------------------------------------- #
# The model (Fig. 3): TrackRCNN around the zoo's FPN, RPN and ROI heads.
# ---------------------------------------------------------------------------------------------- #
model._target_ = TrackRCNN
# Frames per training clip (Sec. 6: 8), given with the data.
model.clip_length = "${dataloader.train.clip_length}"
# One 3x3x3 Conv3D (Table 4: 1xConv3D), identity-initialised, on every FPN level but p2 (the
# finest and costliest); no ReLU after it on FPN outputs, which can be negative.
model.backbone = L(TemporalBackbone)(
    frame_backbone=model.backbone,
    temporal_layers=L(build_temporal_layer_stacks)(
        layer_type="conv3d",
        num_layers=1,
        feature_channels={
            name: "${...frame_backbone.out_channels}" for name in ("p3", "p4", "p5", "p6")
        },
        conv3d_relu=False,
    ),
)
model.roi_heads._target_ = TrackStandardROIHeads
model.roi_heads.num_classes = 2
# The association head (Sec. 5, Supp. B): 128-dimensional vectors from the box head's fc
# feature, batch-hard triplet loss with margin 0.2 over the foreground proposals of each clip.
model.roi_heads.association_head = L(AssociationHead)(
    in_channels="${..box_head.fc_dims[0]}",
    embedding_dim=128,
    loss="batch_hard",
    margin=0.2,
    clip_length="${...clip_length}",
)
# Sampled proposals per frame: the released code's 64 (8 frames per batch).
model.roi_heads.batch_size_per_image = 64
# The zoo's NaiveSyncBatchNorm(stats_mode="N") by its registered name: the same modules, and a
# config.yaml that loads again (a lambda cannot), which --resume compares.
model.roi_heads.box_head.conv_norm = model.roi_heads.mask_head.conv_norm = "naiveSyncBN_N"

# ---------------------------------------------------------------------------------------------- #
# MOTS data (Sec. 3, 6): clips of adjacent frames of one sequence, one augmentation per clip.
# ---------------------------------------------------------------------------------------------- #
# The zoo model's large-scale jitter (scale 0.1-2.0 of the target, then a crop or padding to it,
# and a flip) at KITTI's frame size instead of COCO's 1024 x 1024: at scale 1 a frame is as is.
_FRAME_SIZE = (375, 1242)
dataloader = dict(
    train=L(build_mots_train_loader)(
        dataset=L(get_mots_dataset_dicts)(
            names="kitti_mots_train", classes="${tracker.params.class_names}"
        ),
        mapper=L(MOTSClipDatasetMapper)(
            augmentations=[
                L(T.ResizeScale)(
                    min_scale=0.1,
                    max_scale=2.0,
                    target_height=_FRAME_SIZE[0],
                    target_width=_FRAME_SIZE[1],
                ),
                L(T.FixedSizeCrop)(crop_size=_FRAME_SIZE),
                L(T.RandomFlip)(horizontal=True),
            ],
            image_format="${model.input_format}",
        ),
        clip_length=8,
        # Frames per iteration over all GPUs: one clip of 8 (Sec. 6). On N GPUs: 8 x N, and the
        # learning rate to match.
        total_batch_size=8,
        num_workers=4,
    ),
    test=L(build_mots_test_loader)(
        dataset=L(get_mots_dataset_dicts)(
            names="kitti_mots_val", classes="${tracker.params.class_names}"
        ),
        # KITTI's frames as they are (375 x 1242), as configs/kitti_mots_r101.yaml.
        mapper=L(MOTSTestDatasetMapper)(
            augmentations=[L(T.ResizeShortestEdge)(short_edge_length=375, max_size=1242)],
            image_format="${model.input_format}",
        ),
        num_workers=4,
        # Frames that near-online inference looks ahead: one per stacked Conv3D.
        lookahead=1,
    ),
    # Tracks each sequence and scores the tracks (sMOTSA, HOTA, ...); writes the tracks, the
    # detection cache and mots_metrics.json into output_dir.
    evaluator=L(MOTSEvaluator)(
        dataset_name="${..test.dataset.names}",
        tracker_params="${tracker.params}",
        output_dir="${train.output_dir}/inference/${..test.dataset.names}",
        flow="${tracker.flow}",
        mask_threshold="${tracker.mask_threshold}",
        class_map="${tracker.class_map}",
    ),
)

# ---------------------------------------------------------------------------------------------- #
# Training (Sec. 6): Adam at 5e-7 for 40 epochs, fine-tuning the COCO model.
# ---------------------------------------------------------------------------------------------- #
optimizer = L(torch.optim.Adam)(
    params=L(get_default_optimizer_params)(weight_decay_norm=0.0),
    lr=5e-7,
    weight_decay=1e-4,
)
# A constant learning rate (the yaml configs' SOLVER.STEPS (), as detectron2 builds it).
lr_multiplier = L(MultiStepParamScheduler)(
    values=[1.0], milestones=[], num_updates="${train.max_iter}"
)
# 40 epochs of the 5,027 training frames: 40 * ceil(5027 / 8) iterations; a checkpoint every 4.
train.max_iter = 25160
train.checkpointer.period = 2516
# Evaluation after training only (as the yaml configs' TEST.EVAL_PERIOD 0).
train.eval_period = 0
train.output_dir = "./output/kitti_mots_R_50_FPN_LSJ"
# Fine-tuning keeps what COCO knows of our classes: the rows of COCO's car and person in the
# classifier, box regressor and mask predictor initialise those of car and pedestrian
# (MODEL.WEIGHTS_CLASSES of the yaml configs).
train.init_checkpoint_classes = L(WeightsClassMap.from_dataset)(
    dataset="coco_2017_train",
    model_classes="${tracker.params.class_names}",
    pairs=[["car", "car"], ["person", "pedestrian"]],
)
