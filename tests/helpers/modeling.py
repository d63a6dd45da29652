"""Tiny TrackR-CNN configs and clips for the modeling tests (ResNet-18, ~64 px images)."""
import numpy as np
import torch
from detectron2.config import get_cfg
from detectron2.structures import BitMasks, Boxes, Instances

from trackrcnn_d2.config import add_trackrcnn_config


def tiny_cfg(features: str = "c4", temporal: str = "conv3d", num_layers: int = 1, clip_length=3):
    """A config of a small TrackR-CNN on the CPU: ResNet-18 with BN, C4 or FPN features."""
    cfg = get_cfg()
    add_trackrcnn_config(cfg)
    cfg.MODEL.DEVICE = "cpu"
    cfg.MODEL.META_ARCHITECTURE = "TrackRCNN"
    cfg.MODEL.BACKBONE.NAME = "build_temporal_backbone"
    cfg.MODEL.TEMPORAL.TYPE = temporal
    cfg.MODEL.TEMPORAL.NUM_LAYERS = num_layers
    cfg.MODEL.TEMPORAL.CONVLSTM_CHANNELS = 16
    cfg.MODEL.TEMPORAL.CONVLSTM_KERNEL_SIZE = 3
    cfg.MODEL.WEIGHTS = ""
    cfg.MODEL.MASK_ON = True
    cfg.MODEL.RESNETS.DEPTH = 18
    cfg.MODEL.RESNETS.RES2_OUT_CHANNELS = 64
    cfg.MODEL.RESNETS.STEM_OUT_CHANNELS = 32
    cfg.MODEL.RESNETS.NORM = "BN"
    cfg.MODEL.BACKBONE.FREEZE_AT = 0
    cfg.MODEL.ROI_HEADS.NUM_CLASSES = 2
    cfg.MODEL.ROI_HEADS.BATCH_SIZE_PER_IMAGE = 16
    cfg.MODEL.RPN.PRE_NMS_TOPK_TRAIN = 200
    cfg.MODEL.RPN.POST_NMS_TOPK_TRAIN = 50
    cfg.MODEL.RPN.PRE_NMS_TOPK_TEST = 200
    cfg.MODEL.RPN.POST_NMS_TOPK_TEST = 20
    cfg.MODEL.ROI_HEADS.SCORE_THRESH_TEST = 0.0
    cfg.TEST.DETECTIONS_PER_IMAGE = 20
    cfg.MODEL.ASSOCIATION_HEAD.EMBEDDING_DIM = 16
    cfg.INPUT.CLIP_LENGTH = clip_length
    if features == "c4":
        cfg.MODEL.TEMPORAL.BACKBONE_NAME = "build_resnet_backbone"
        cfg.MODEL.RESNETS.OUT_FEATURES = ["res4"]
        cfg.MODEL.RPN.IN_FEATURES = ["res4"]
        cfg.MODEL.ROI_HEADS.NAME = "TrackRes5ROIHeads"
        cfg.MODEL.ROI_HEADS.IN_FEATURES = ["res4"]
        cfg.MODEL.ROI_BOX_HEAD.POOLER_RESOLUTION = 8
        cfg.MODEL.ROI_MASK_HEAD.POOLER_RESOLUTION = 8
        cfg.MODEL.ANCHOR_GENERATOR.SIZES = [[16, 32, 64]]
    else:
        cfg.MODEL.TEMPORAL.BACKBONE_NAME = "build_resnet_fpn_backbone"
        cfg.MODEL.RESNETS.OUT_FEATURES = ["res2", "res3", "res4", "res5"]
        cfg.MODEL.FPN.IN_FEATURES = ["res2", "res3", "res4", "res5"]
        cfg.MODEL.FPN.OUT_CHANNELS = 32
        cfg.MODEL.RPN.IN_FEATURES = ["p2", "p3", "p4", "p5", "p6"]
        cfg.MODEL.ROI_HEADS.NAME = "TrackStandardROIHeads"
        cfg.MODEL.ROI_HEADS.IN_FEATURES = ["p2", "p3", "p4", "p5"]
        cfg.MODEL.ROI_BOX_HEAD.NAME = "FastRCNNConvFCHead"
        cfg.MODEL.ROI_BOX_HEAD.NUM_FC = 1
        cfg.MODEL.ROI_BOX_HEAD.FC_DIM = 64
        cfg.MODEL.ROI_BOX_HEAD.POOLER_RESOLUTION = 7
        cfg.MODEL.ROI_MASK_HEAD.NAME = "MaskRCNNConvUpsampleHead"
        cfg.MODEL.ROI_MASK_HEAD.NUM_CONV = 1
        cfg.MODEL.ROI_MASK_HEAD.CONV_DIM = 32
        cfg.MODEL.ROI_MASK_HEAD.POOLER_RESOLUTION = 7
        cfg.MODEL.ANCHOR_GENERATOR.SIZES = [[8], [16], [32], [64], [128]]
    return cfg


def frame_dict(image: np.ndarray, id_map: np.ndarray, sequence: str, frame_idx: int):
    """A training/inference frame dict from an RGB image and an obj_id map (0 = background)."""
    height, width = id_map.shape
    instances = Instances((height, width))
    obj_ids = [int(i) for i in np.unique(id_map) if 0 < i < 10000]
    masks = torch.from_numpy(np.stack([id_map == i for i in obj_ids]) if obj_ids else
                             np.zeros((0, height, width), dtype=bool))
    bit_masks = BitMasks(masks)
    instances.gt_boxes = bit_masks.get_bounding_boxes() if obj_ids else Boxes(torch.zeros(0, 4))
    instances.gt_classes = torch.tensor([i // 1000 - 1 for i in obj_ids], dtype=torch.int64)
    instances.gt_masks = bit_masks
    instances.gt_track_ids = torch.tensor(obj_ids, dtype=torch.int64)
    return {
        "image": torch.from_numpy(np.ascontiguousarray(image[:, :, ::-1].transpose(2, 0, 1))),
        "instances": instances,
        "sequence": sequence,
        "frame_idx": frame_idx,
        "height": height,
        "width": width,
    }


def shapes_clip(num_frames: int, height: int = 64, width: int = 96, seed: int = 0):
    """A clip of moving rectangles (class 0, "car") and discs (class 1, "pedestrian")."""
    rng = np.random.default_rng(seed)
    background = rng.integers(90, 110, size=(height, width, 3))
    objects = [
        (1001, "rect", (200, 40, 40), 10.0, 20.0, 3.0, 16, 24),
        (2001, "disc", (40, 40, 200), 50.0, 40.0, -2.0, 10, 10),
    ]
    yy, xx = np.mgrid[:height, :width]
    frames = []
    for t in range(num_frames):
        image = background.copy()
        id_map = np.zeros((height, width), dtype=np.int64)
        for obj_id, kind, colour, x, y, vx, h, w in objects:
            cx = x + vx * t
            if kind == "rect":
                mask = (abs(xx - cx) <= w / 2) & (abs(yy - y) <= h / 2)
            else:
                mask = (xx - cx) ** 2 + (yy - y) ** 2 <= (w / 2) ** 2
            image[mask] = colour
            id_map[mask] = obj_id
        frames.append(frame_dict(image.astype(np.uint8), id_map, "shapes", t))
    return frames
