"""The temporal backbone's and the association head's contracts: which frames a stack reaches,
the look-ahead near-online inference must feed, and the configuration mistakes refused with the
key that is wrong."""
import pytest
import torch
from detectron2.layers import ShapeSpec
from detectron2.modeling import build_backbone
from helpers.modeling import tiny_cfg

from trackrcnn_d2.modeling.backbone import Conv3dTemporalLayer, TemporalBackbone, TemporalLayerStack
from trackrcnn_d2.modeling.backbone.temporal_backbone import (
    build_temporal_layer_stacks,
    temporal_lookahead,
)
from trackrcnn_d2.modeling.roi_heads import AssociationHead


@pytest.mark.parametrize(
    "layer_type, num_layers, shared, reach, stacked",
    [("conv3d", 3, False, 3, 3), ("conv3d_separable", 2, False, 2, 2),
     ("convlstm", 2, False, 0, 2), ("convlstm", 2, True, 0, 1), ("none", 2, False, None, 0),
     ("conv3d", 0, False, None, 0)],
)  # fmt: skip
def test_layer_stacks_reach_one_frame_per_conv3d(layer_type, num_layers, shared, reach, stacked):
    stacks = build_temporal_layer_stacks(
        layer_type, num_layers, {"p2": 4, "p3": 4}, convlstm_channels=4, convlstm_shared_skip=shared
    )
    if reach is None:
        assert stacks == {}
        return
    assert sorted(stacks) == ["p2", "p3"]
    for stack in stacks.values():
        assert (stack.lookback, stack.lookahead) == (reach, reach)
        assert len(stack.layers) == stacked


def test_an_unknown_layer_type_names_the_choices():
    with pytest.raises(ValueError, match="MODEL.TEMPORAL.TYPE = 'lstm' is not one of 'conv3d'"):
        build_temporal_layer_stacks("lstm", 1, {"res4": 4})


@pytest.mark.parametrize(
    "temporal, num_layers, backbone, expected",
    [("conv3d", 3, "build_temporal_backbone", 3), ("conv3d_separable", 2,
     "build_temporal_backbone", 2), ("convlstm", 2, "build_temporal_backbone", 0),
     ("conv3d", 2, "build_resnet_backbone", 0)],
)  # fmt: skip
def test_the_look_ahead_near_online_inference_needs(temporal, num_layers, backbone, expected):
    cfg = tiny_cfg("c4", temporal, num_layers)
    cfg.MODEL.BACKBONE.NAME = backbone
    assert temporal_lookahead(cfg) == expected


def test_temporal_layers_must_match_the_wrapped_backbone():
    backbone = build_backbone(tiny_cfg("c4", "none")).frame_backbone
    with pytest.raises(ValueError, match=r"Temporal layers for \['res5'\], which the wrapped"):
        TemporalBackbone(frame_backbone=backbone,
                         temporal_layers={"res5": TemporalLayerStack([])})  # fmt: skip
    fpn = build_backbone(tiny_cfg("fpn", "none")).frame_backbone
    uneven = {"p2": TemporalLayerStack([Conv3dTemporalLayer(32)]),
              "p3": TemporalLayerStack([Conv3dTemporalLayer(32)] * 2)}  # fmt: skip
    with pytest.raises(ValueError, match="All temporal stacks must see the same frames"):
        TemporalBackbone(frame_backbone=fpn, temporal_layers=uneven)


@pytest.mark.parametrize(
    "key, value, message",
    [("MODEL.TEMPORAL.BACKBONE_NAME", "build_temporal_backbone", "must name the wrapped"),
     ("MODEL.TEMPORAL.CONV3D_ACTIVATION", "tanh", "CONV3D_ACTIVATION = 'tanh' is not 'auto'"),
     ("MODEL.TEMPORAL.CONVLSTM_STACKING", "stacked", "CONVLSTM_STACKING = 'stacked' is not")],
)  # fmt: skip
def test_config_mistakes_of_the_temporal_backbone_name_the_key(key, value, message):
    cfg = tiny_cfg("c4", "conv3d")
    cfg.merge_from_list([key, value])
    with pytest.raises(ValueError, match=message):
        build_backbone(cfg)


@pytest.mark.parametrize("features, relu", [("c4", True), ("fpn", False)])
def test_conv3d_activation_auto_follows_the_wrapped_backbone(features, relu):
    """ResNet stages are post-ReLU (a ReLU keeps the identity start); FPN outputs are not."""
    backbone = build_backbone(tiny_cfg(features, "conv3d"))
    layers = [layer for stack in backbone.temporal_layers.values() for layer in stack.layers]
    assert layers and all(layer.relu is relu for layer in layers)
    cfg = tiny_cfg(features, "conv3d")
    cfg.MODEL.TEMPORAL.CONV3D_ACTIVATION = "none" if relu else "relu"
    layers = [layer for stack in build_backbone(cfg).temporal_layers.values()
              for layer in stack.layers]  # fmt: skip
    assert all(layer.relu is not relu for layer in layers)


def test_the_temporal_backbone_needs_whole_clips():
    backbone = build_backbone(tiny_cfg("c4", "conv3d"))
    images = torch.zeros(4, 3, 32, 32)
    with pytest.raises(ValueError, match="META_ARCHITECTURE: 'TrackRCNN'"):
        backbone(images)
    with pytest.raises(ValueError, match="got 4 frames, not a multiple of the clip length 3"):
        backbone(images, clip_length=3)
    assert backbone(images, clip_length=2)["res4"].shape[0] == 4
    plain = build_backbone(tiny_cfg("c4", "none"))
    assert plain(images)["res4"].shape[0] == 4  # no temporal layers: any batch


def test_an_unknown_association_loss_names_the_choices():
    with pytest.raises(ValueError, match="LOSS = 'arcface' is not one of"):
        AssociationHead(in_channels=8, loss="arcface")
    head = AssociationHead(in_channels=8, embedding_dim=4)
    assert head(torch.zeros(3, 2, 2, 2)).shape == (3, 4)
    assert torch.equal(head.fc.bias, torch.zeros(4))


def test_backbone_shapes_are_the_wrapped_backbones():
    backbone = build_backbone(tiny_cfg("fpn", "conv3d"))
    assert backbone.output_shape() == backbone.frame_backbone.output_shape()
    assert backbone.size_divisibility == backbone.frame_backbone.size_divisibility
    assert isinstance(backbone.output_shape()["p2"], ShapeSpec)
