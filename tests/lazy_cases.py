"""Shared by the LazyConfig tests: a shipped LazyConfig at reduced size, and weights that make
its model detect.

The reduced config is a LazyConfig file that loads the shipped one and narrows what makes it
slow on a CPU (the ResNet trunk, the FPN and head widths, the proposal counts, the image and
clip sizes); everything else (the meta-architecture, temporal layers, association head, data
loaders, evaluator, tracker, optimizer, schedule) stays the shipped file's. The data are given
as the usual overrides (dataloader.train.dataset.names=..., dataloader.test.dataset.names=...).
"""
import torch

REDUCED = """\
from detectron2.config import LazyCall as L
from detectron2.config import LazyConfig
from detectron2.layers import ShapeSpec
from detectron2.modeling.backbone import BottleneckBlock, ResNet

_cfg = LazyConfig.load({shipped!r})
model, dataloader, train, tracker = _cfg.model, _cfg.dataloader, _cfg.train, _cfg.tracker
optimizer, lr_multiplier = _cfg.optimizer, _cfg.lr_multiplier

# A narrow bottleneck ResNet (one block per stage) and FPN, with the shipped normalisation.
_fpn = model.backbone.frame_backbone if "frame_backbone" in model.backbone else model.backbone
_norm = _fpn.bottom_up.stages.norm
_fpn.bottom_up.stem.out_channels = 16
_fpn.bottom_up.stages = [
    L(ResNet.make_stage)(
        block_class=BottleneckBlock, num_blocks=1, stride_per_block=[stride], in_channels=i,
        bottleneck_channels=b, out_channels=o, norm=_norm,
    )
    for stride, i, b, o in [(1, 16, 8, 32), (2, 32, 16, 64), (2, 64, 32, 128), (2, 128, 64, 256)]
]
_fpn.out_channels = 32
model.proposal_generator.head.in_channels = 32
model.proposal_generator.pre_nms_topk = (200, 200)
model.proposal_generator.post_nms_topk = (32, 16)
_heads = model.roi_heads
_heads.batch_size_per_image = 16
_heads.box_head.input_shape = ShapeSpec(channels=32, height=7, width=7)
_heads.box_head.conv_dims = [32]
_heads.box_head.fc_dims = [64]
_heads.box_predictor.input_shape = ShapeSpec(channels=64)
_heads.box_predictor.test_topk_per_image = 4
_heads.mask_head.input_shape = ShapeSpec(channels=32, width=14, height=14)
_heads.mask_head.conv_dims = [32, 32]

# 64 x 128 frames, clips of two frames, no worker processes.
if "clip_length" in dataloader.train:
    _augmentations = dataloader.train.mapper.augmentations
    _augmentations[0].target_height, _augmentations[0].target_width = 64, 128
    _augmentations[1].crop_size = (64, 128)
    dataloader.train.clip_length = 2
    dataloader.train.total_batch_size = 2
dataloader.train.num_workers = 0
dataloader.test.num_workers = 0
dataloader.test.mapper.augmentations[0].short_edge_length = 64
dataloader.test.mapper.augmentations[0].max_size = 128
"""


def write_reduced_config(shipped, target):
    """Write the reduced-size LazyConfig of the shipped file ``shipped`` to ``target``."""
    target.write_text(REDUCED.format(shipped=str(shipped)))
    return str(target)


def make_confident(model):
    """Weights in which every proposal is a detection of the first class with a score of about
    1 and a mask that fills its box: the outputs come from the biases alone (an untrained
    network's features are large and random), so that the proposals are the anchors, the boxes
    the proposals, the logits and the masks the biases."""
    rpn = model.proposal_generator.rpn_head
    predictor, mask_predictor = model.roi_heads.box_predictor, model.roi_heads.mask_head.predictor
    with torch.no_grad():
        layers = (rpn.objectness_logits, rpn.anchor_deltas, predictor.cls_score)
        for layer in (*layers, predictor.bbox_pred, mask_predictor):
            layer.weight.zero_()
            layer.bias.zero_()
        predictor.cls_score.bias[0] = 12.0
        mask_predictor.bias.fill_(6.0)
    return model
