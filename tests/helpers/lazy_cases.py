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
from detectron2.config import LazyConfig
from helpers.lazy_cases import narrow_data, narrow_model

_cfg = LazyConfig.load({shipped!r})
model, dataloader, train, tracker = _cfg.model, _cfg.dataloader, _cfg.train, _cfg.tracker
optimizer, lr_multiplier = _cfg.optimizer, _cfg.lr_multiplier
narrow_model(model)
narrow_data(dataloader)
"""
# (stride, in, bottleneck, out channels) of each stage of the narrow ResNet.
NARROW_STAGES = [(1, 16, 8, 32), (2, 32, 16, 64), (2, 64, 32, 128), (2, 128, 64, 256)]


def narrow_model(model):
    """Narrow a LazyConfig's Mask R-CNN or TrackR-CNN (FPN or C4, as detectron2's
    common/models files build them) in place: one bottleneck block per ResNet stage with the
    model's normalisation, 32 FPN channels, narrow heads, few proposals and detections."""
    from detectron2.config import LazyCall as L
    from detectron2.layers import ShapeSpec
    from detectron2.modeling.backbone import BottleneckBlock, ResNet

    backbone = model.backbone
    if "frame_backbone" in backbone:
        backbone = backbone.frame_backbone
    trunk = backbone.bottom_up if "bottom_up" in backbone else backbone
    norm = trunk.stages.norm
    heads = model.roi_heads
    c4 = "res5" in heads
    trunk.stem.out_channels = 16
    trunk.stages = [
        L(ResNet.make_stage)(
            block_class=BottleneckBlock, num_blocks=1, stride_per_block=[stride], in_channels=i,
            bottleneck_channels=b, out_channels=o, norm=norm,
        )
        for stride, i, b, o in NARROW_STAGES[: 3 if c4 else 4]
    ]  # fmt: skip
    model.proposal_generator.pre_nms_topk = (200, 200)
    model.proposal_generator.post_nms_topk = (32, 16)
    heads.batch_size_per_image = 16
    heads.box_predictor.test_topk_per_image = 4
    if c4:
        model.proposal_generator.head.in_channels = 128
        heads.res5.update(in_channels=128, bottleneck_channels=64, out_channels=256)
        heads.mask_head.conv_dims = [32]
        return model
    backbone.out_channels = 32
    model.proposal_generator.head.in_channels = 32
    heads.box_head.input_shape = ShapeSpec(channels=32, height=7, width=7)
    heads.box_head.conv_dims = [32]
    heads.box_head.fc_dims = [64]
    heads.box_predictor.input_shape = ShapeSpec(channels=64)
    heads.mask_head.input_shape = ShapeSpec(channels=32, width=14, height=14)
    heads.mask_head.conv_dims = [32, 32]
    return model


def narrow_data(dataloader):
    """64 x 128 frames, clips of two frames, no worker processes, in place."""
    train, test = dataloader.train, dataloader.test
    if "clip_length" in train:  # a MOTS training loader (with large-scale jitter)
        augmentations = train.mapper.augmentations
        augmentations[0].target_height, augmentations[0].target_width = 64, 128
        augmentations[1].crop_size = (64, 128)
        train.clip_length = 2
        train.total_batch_size = 2
    train.num_workers = 0
    test.num_workers = 0
    test.mapper.augmentations[0].short_edge_length = 64
    test.mapper.augmentations[0].max_size = 128
    return dataloader


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
