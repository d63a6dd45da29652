"""The released code's temporal layers: depthwise-separable Conv3D, ConvLSTM variants."""
import pytest
import torch
from conftest import tiny_cfg
from detectron2.modeling import build_backbone

from trackrcnn_d2.modeling.backbone import Conv3dTemporalLayer, SeparableConv3dTemporalLayer


def _randomize(module, scale):
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.copy_(torch.randn_like(parameter) * scale)


@pytest.mark.parametrize("relu", [True, False])
@pytest.mark.parametrize("starts,ends", [(True, True), (False, False), (True, False)])
def test_separable_conv3d_equals_the_dense_conv3d_of_the_product_weight(relu, starts, ends):
    separable = SeparableConv3dTemporalLayer(6, relu=relu)
    _randomize(separable, 0.3)
    dense = Conv3dTemporalLayer(6, relu=relu)
    with torch.no_grad():
        # W[o, i] = P[o, i] * D_i: the pointwise weight times input channel i's 3x3x3 filter.
        pointwise = separable.pointwise.weight[:, :, 0, 0, 0]
        depthwise = separable.depthwise.weight[:, 0]
        dense.conv.weight.copy_(pointwise[:, :, None, None, None] * depthwise[None])
    frames = torch.randn(5, 6, 7, 9)
    with torch.no_grad():
        got, _ = separable(frames, starts_sequence=starts, ends_sequence=ends)
        expected, _ = dense(frames, starts_sequence=starts, ends_sequence=ends)
        # And as torch's own 3D convolutions, zero-padded in time as Conv3dTemporalLayer is.
        padded = torch.nn.functional.pad(frames, (0, 0, 0, 0, 0, 0, int(starts), int(ends)))
        volume = padded.transpose(0, 1)[None]
        reference = separable.pointwise(separable.depthwise(volume))[0].transpose(0, 1)
    assert got.shape[0] == 5 - (not starts) - (not ends)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(got, reference.relu() if relu else reference, rtol=1e-4, atol=1e-5)


def test_separable_conv3d_starts_as_the_identity():
    layer = SeparableConv3dTemporalLayer(5, relu=False)
    frames = torch.randn(4, 5, 6, 6)
    with torch.no_grad():
        torch.testing.assert_close(layer(frames)[0], frames, rtol=0, atol=0)
        inner, _ = layer(frames, starts_sequence=False, ends_sequence=False)
    torch.testing.assert_close(inner, frames[1:3], rtol=0, atol=0)
    assert layer.depthwise.bias is None and layer.pointwise.bias is None


@pytest.mark.parametrize("features", ["c4", "fpn"])
def test_separable_conv3d_backbone_builds_from_the_config(features):
    backbone = build_backbone(tiny_cfg(features, "conv3d_separable", 2)).eval()
    stacks = list(backbone.temporal_layers.values())
    assert stacks and all(
        isinstance(layer, SeparableConv3dTemporalLayer) and len(stack.layers) == 2
        for stack in stacks
        for layer in stack.layers
    )
    assert (backbone.temporal_lookback, backbone.temporal_lookahead) == (2, 2)
    images = torch.randn(3, 3, 64, 96)
    with torch.no_grad():
        wrapped = backbone.frame_backbone(images)
        temporal = backbone(images)
    for name in wrapped:
        assert torch.equal(temporal[name], wrapped[name])
