"""Every config key that trackrcnn_d2 adds to detectron2's, with the paper's value as default.

Sections and tables refer to Voigtlaender et al., "MOTS: Multi-Object Tracking and
Segmentation", CVPR 2019 (arXiv:1902.03604).
"""
from detectron2.config import CfgNode as CN


def add_trackrcnn_config(cfg):
    """Add the TrackR-CNN keys to a detectron2 config (in place)."""
    _C = cfg

    # ---------------------------------------------------------------------------------------- #
    # Data (Sec. 3, Sec. 6)
    # ---------------------------------------------------------------------------------------- #
    _C.DATASETS.MOTS = CN()
    # Classes that are loaded, trained and evaluated, in contiguous-id order (Sec. 3, Table 1).
    _C.DATASETS.MOTS.CLASSES = ["car", "pedestrian"]
    # For a model trained on other classes (this project: a COCO Mask R-CNN, the paper's "Mask
    # R-CNN + maskprop" baseline): [[model class, MOTS class], ...], model classes named as in
    # the thing_classes of DATASETS.TRAIN[0]; detections of unmapped classes are dropped.
    # Empty: the model's classes are CLASSES.
    _C.DATASETS.MOTS.CLASS_MAP = []
    # Number of adjacent frames of one sequence in a training mini-batch (Sec. 6).
    _C.INPUT.CLIP_LENGTH = 8
    # Gamma augmentation, one draw per clip: factor range +-this (0 = off, the paper states
    # none; released code: 0.05, datasets/Augmentors.py l. 143-144 for the configs' "gamma").
    _C.INPUT.GAMMA_AUGMENTATION = 0.0
    # Train only on clips whose every frame has an annotated object (the paper states nothing;
    # released code: a frame without objects is skipped, datasets/util/Detection.py l. 195-198
    # and 333 SKIP_EXAMPLE).
    _C.DATALOADER.SKIP_CLIPS_WITH_EMPTY_FRAMES = False
    # With MODEL.PROPOSAL_GENERATOR.NAME "IgnoreRegionRPN" (released code; detectron2's "RPN" is
    # the paper's): negative anchors more than this fraction on ignore regions are not trained.
    _C.MODEL.RPN.IGNORE_REGION_OVERLAP = 0.7
    # What that fraction divides the anchor's ignored pixels by: "anchor" (its area, this
    # project) or "frame_ignore_area" (the frame's ignored pixels, released code,
    # datasets/util/Detection.py l. 154-166).
    _C.MODEL.RPN.IGNORE_REGION_RATIO = "anchor"

    # ---------------------------------------------------------------------------------------- #
    # Temporal backbone (Sec. 5 "Integrating temporal context", Sec. 6, Table 4)
    # ---------------------------------------------------------------------------------------- #
    _C.MODEL.TEMPORAL = CN()
    # Registered backbone that TemporalBackbone wraps (the paper: ResNet-101, Sec. 6).
    _C.MODEL.TEMPORAL.BACKBONE_NAME = "build_resnet_backbone"
    # Temporal layers over the clip's time axis: "conv3d", "convlstm" or "none" (Table 4), or
    # "conv3d_separable" (released code, configs/conv3d_sep2: depthwise 3x3x3 + pointwise 1x1x1).
    _C.MODEL.TEMPORAL.TYPE = "conv3d"
    # Number of stacked temporal layers (Table 4: 1xConv3D is the paper's model).
    _C.MODEL.TEMPORAL.NUM_LAYERS = 1
    # Backbone outputs the temporal layers act on; empty = all of them (C4: res4, Sec. 6).
    _C.MODEL.TEMPORAL.IN_FEATURES = []
    # Activation after each Conv3D (Sec. 6: ReLU): "relu", "none", or "auto" = ReLU on ResNet
    # outputs (post-ReLU, so the identity init stays exact), none on FPN outputs (can be < 0).
    _C.MODEL.TEMPORAL.CONV3D_ACTIVATION = "auto"
    # Hidden channels of each ConvLSTM layer (Table 4: 128).
    _C.MODEL.TEMPORAL.CONVLSTM_CHANNELS = 128
    # Spatial kernel of the ConvLSTM gates (not in the paper; the original implementation's 5x5).
    _C.MODEL.TEMPORAL.CONVLSTM_KERNEL_SIZE = 5
    # Initial weights (input, ConvLSTM branch) of the ConvLSTM skip connection (Sec. 6; the
    # original implementation's 1.0 and 0.05).
    _C.MODEL.TEMPORAL.CONVLSTM_SKIP_WEIGHTS = [1.0, 0.05]
    # Added to the ConvLSTM forget gate's pre-activation (not in the paper; released code,
    # network/layer_implementations/ConvLSTMCell.py: 1.0).
    _C.MODEL.TEMPORAL.CONVLSTM_FORGET_BIAS = 0.0
    # NUM_LAYERS ConvLSTMs: "per_layer_skip" (each with its own projection and skip) or
    # "shared_skip" (released code, configs/lstm_stacked2: the second LSTM reads the first's
    # hidden state; one projection and skip after the stack).
    _C.MODEL.TEMPORAL.CONVLSTM_STACKING = "per_layer_skip"

    # ---------------------------------------------------------------------------------------- #
    # Association head (Sec. 5 "Association Head", Supplement B, Table 7)
    # ---------------------------------------------------------------------------------------- #
    _C.MODEL.ASSOCIATION_HEAD = CN()
    # Dimension of the association vector (Sec. 6: 128).
    _C.MODEL.ASSOCIATION_HEAD.EMBEDDING_DIM = 128
    # Association loss: "batch_hard", "batch_all" or "contrastive" (Supp. B, Table 7).
    _C.MODEL.ASSOCIATION_HEAD.LOSS = "batch_hard"
    # Margin alpha of the association loss (Sec. 6: 0.2).
    _C.MODEL.ASSOCIATION_HEAD.MARGIN = 0.2
    # Weight of loss_assoc in the total loss (the paper adds it unweighted).
    _C.MODEL.ASSOCIATION_HEAD.LOSS_WEIGHT = 1.0
    # Compare only detections of the same class in the loss (Eq. 6 compares all; the original
    # implementation's released configs compare per class).
    _C.MODEL.ASSOCIATION_HEAD.SAME_CLASS_ONLY = False
    # Normalisation of the batch-hard loss: "foreground" (Eq. 4: mean over the foreground
    # proposals) or "sampled_rois" (released code, network/FasterRCNN.py l. 541-544:
    # sum divided by all sampled proposals of the clip, then by the clip length).
    _C.MODEL.ASSOCIATION_HEAD.NORMALIZATION = "foreground"
    # Initial weights of the association head's layer (the paper states none): "normal"
    # (N(0, 0.01^2), detectron2's predictor layers) or "he_normal" (released code,
    # network/Layer.py l. 55-59 and 73-76: truncated normal of std sqrt(2 / fan_in), zero bias).
    _C.MODEL.ASSOCIATION_HEAD.INIT = "normal"
    # Factor of the contrastive loss (Eq. 8: 1; released code, network/FasterRCNN.py l. 577: 0.5).
    _C.MODEL.ASSOCIATION_HEAD.CONTRASTIVE_FACTOR = 1.0
    # Batch-all triplets (Eq. 7) also with the anchor as its own positive, at distance 0
    # (released code, network/FasterRCNN.py l. 557-563: "same" keeps the anchor's column).
    _C.MODEL.ASSOCIATION_HEAD.BATCH_ALL_ANCHOR_AS_POSITIVE = False

    # ---------------------------------------------------------------------------------------- #
    # Tracker (Sec. 5 "Mask Propagation", "Tracking", Supplement A, Table 5)
    # ---------------------------------------------------------------------------------------- #
    # detectron2's tracking section: build_tracker_head(cfg) reads TRACKER_NAME from it.
    _C.TRACKER_HEADS = CN()
    # Registered tracker (detectron2.tracking.TRACKER_HEADS_REGISTRY): Algorithm 1 (Supp. A).
    _C.TRACKER_HEADS.TRACKER_NAME = "TrackRCNNTracker"
    # Association mechanism (Table 5): "maskprop_assoc" (the paper's, Alg. 1), "maskprop",
    # "bbox_iou", "assoc" or "bbox_center" (the last four: Hungarian, adjacent frames only), or
    # "release_assoc" (released code: Hungarian on association distance, KEEP_ALIVE frames back).
    _C.TRACKER_HEADS.ASSOCIATION = "maskprop_assoc"
    # Optical flow for mask propagation (Sec. 5, Eq. 5): "dis" (OpenCV, CPU), "raft_small",
    # "raft_large" (torchvision, weights from the torch hub cache) or "none" (plain IoU).
    # The paper uses PWC-Net, which has no maintained CPU implementation.
    _C.TRACKER_HEADS.FLOW = "dis"
    # Per class (DATASETS.MOTS.CLASSES order): confidence threshold gamma (Alg. 1). The paper
    # gives none; these are the original code's tuned KITTI MOTS values (TrackR-CNN repository,
    # configs/conv3d_sep2 l. 46-47: detection_confidence_threshold_car/_pedestrian).
    _C.TRACKER_HEADS.DETECTION_CONFIDENCE = [0.847, 0.937]
    # A detection is confident at score >= gamma (released code, forwarding/tracking/
    # Util_tracking.py l. 89 and 228) instead of Alg. 1's conf > gamma.
    _C.TRACKER_HEADS.DETECTION_CONFIDENCE_INCLUSIVE = False
    # Per class: minimum mask propagation score delta_maskprop for a match (Alg. 1); box IoU
    # threshold for "bbox_iou". Not published: centre of the original's search range [0, 0.2]
    # (TrackR-CNN repository, scripts/segtrack_tune_experiment.py l. 153-154, "new_reid").
    _C.TRACKER_HEADS.MASKPROP_THRESHOLD = [0.1, 0.1]
    # Per class: maximum association distance delta_assoc for a match (Alg. 1). Not published:
    # centre of the original's search range [0.7, 1.7] (same script l. 156-157,
    # "new_reid_threshold"). For "release_assoc" the released thresholds are distances 8.00
    # (car), 9.09 (pedestrian): configs/ablations/official_release_conv3d_sep2.yaml.
    _C.TRACKER_HEADS.ASSOC_THRESHOLD = [1.2, 1.2]
    # Per class: maximum distance of box centres in pixels for "bbox_center" (Table 5): the
    # original's box_offset, where its box similarity turns negative (same script l. 111).
    _C.TRACKER_HEADS.CENTER_DISTANCE_THRESHOLD = [50.0, 50.0]
    # Per class: frames a track without detection stays matchable for ASSOCIATION
    # "release_assoc" (released code, configs/conv3d_sep2 l. 46-47: keep_alive_car 4,
    # keep_alive_pedestrian 6).
    _C.TRACKER_HEADS.KEEP_ALIVE = [4, 6]
    # Detections below this score are ignored, even by assoc_match (Alg. 1's D_t); 0 = all
    # that the detector outputs (MODEL.ROI_HEADS.SCORE_THRESH_TEST), as the original code.
    _C.TRACKER_HEADS.MIN_SCORE = 0.0
    # Detections whose mask has at most this many pixels are ignored (original code: 10).
    _C.TRACKER_HEADS.MIN_MASK_AREA = 10
    # Overlapping masks (Sec. 5): "bottom" (the object reaching lowest in the image keeps the
    # pixel, the paper's rule) or "score".
    _C.TRACKER_HEADS.DISJOINT = "bottom"
    # Pixel threshold that turns the mask head's soft masks into binary masks.
    _C.TRACKER_HEADS.MASK_THRESHOLD = 0.5

    # ---------------------------------------------------------------------------------------- #
    # Evaluation (Sec. 4)
    # ---------------------------------------------------------------------------------------- #
    _C.TEST.MOTS = CN()
    # Write the per-frame detection cache used by tools/tune_tracker.py (Sec. 6 threshold search).
    _C.TEST.MOTS.WRITE_DETECTION_CACHE = True
    # Also write the evaluation report (timelines, error views; this project) to <output>/report/.
    _C.TEST.MOTS.REPORT = False
    # Inference in non-overlapping chunks of this many frames, zero-padded in time at each
    # chunk's edges, the last chunk filled by repeating the sequence's last frame (released
    # code: batch_size 5 when forwarding, README l. 81, datasets/KITTI/segtrack/
    # KITTI_segtrack_feed.py l. 82-84). 0: near-online, the paper's (Sec. 6).
    _C.TEST.CLIP_CHUNK = 0
    # Inference precision on CUDA: "fp32" or "bf16" (autocast; this project, for speed).
    _C.TEST.PRECISION = "fp32"
    # TF32 for float32 convolutions and matmuls on CUDA, training and inference (this project).
    _C.MODEL.ALLOW_TF32 = True

    # ---------------------------------------------------------------------------------------- #
    # Training (Sec. 6)
    # ---------------------------------------------------------------------------------------- #
    # Optimizer built by train_net: "ADAM" (Sec. 6, with SOLVER.BASE_LR 5e-7) or "SGD".
    _C.SOLVER.OPTIMIZER = "ADAM"
    # Fine-tuning from MODEL.WEIGHTS trained on other classes (Sec. 6: from a Mask R-CNN
    # pre-trained on COCO; the released code starts from a checkpoint prepared for its classes).
    _C.MODEL.WEIGHTS_CLASSES = CN()
    # The dataset whose thing_classes name the checkpoint's classes (detectron2's zoo: COCO).
    _C.MODEL.WEIGHTS_CLASSES.DATASET = "coco_2017_train"
    # [[checkpoint class, MOTS class], ...]: the checkpoint class's rows of the classifier, box
    # regressor and mask predictor initialise the MOTS class's (background from background);
    # pairs of classes not in DATASETS.MOTS.CLASSES are skipped. Empty: detectron2's behaviour
    # (rows of another shape start from scratch).
    _C.MODEL.WEIGHTS_CLASSES.MAP = [["car", "car"], ["person", "pedestrian"]]
