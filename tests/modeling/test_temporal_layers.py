"""The released code's temporal layers: depthwise-separable Conv3D, ConvLSTM variants."""
import pytest
import torch
from detectron2.modeling import build_backbone
from helpers.modeling import tiny_cfg

from trackrcnn_d2.modeling.backbone import (
    Conv3dTemporalLayer,
    ConvLSTMTemporalLayer,
    SeparableConv3dTemporalLayer,
)


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
        temporal = backbone(images, clip_length=len(images))
    for name in wrapped:
        assert torch.equal(temporal[name], wrapped[name])


def test_convlstm_forget_bias_adds_to_the_forget_gate():
    with_bias = ConvLSTMTemporalLayer(6, hidden_channels=4, kernel_size=3, forget_bias=1.0)
    _randomize(with_bias, 0.2)
    without = ConvLSTMTemporalLayer(6, hidden_channels=4, kernel_size=3)
    without.load_state_dict(with_bias.state_dict())
    with torch.no_grad():
        # Gate order: input, forget, output, candidate.
        without.gates[0].bias[4:8] += 1.0
        frames = torch.randn(4, 6, 5, 5)
        torch.testing.assert_close(with_bias(frames)[0], without(frames)[0])
        with_bias.forget_bias = 0.0
        assert not torch.allclose(with_bias(frames)[0], without(frames)[0])


def _reference_stacked_convlstm(layer, frames):
    """Two LSTMs, the second reading the first's hidden state; one projection and skip."""
    states = [(torch.zeros(1, 4, 5, 5), torch.zeros(1, 4, 5, 5)) for _ in range(2)]
    outputs = []
    for frame in frames.split(1):
        for i in range(2):
            hidden, cell = states[i]
            gates = layer.gates[i](torch.cat([frame, hidden], dim=1))
            i_gate, f_gate, o_gate, candidate = gates.chunk(4, dim=1)
            cell = torch.sigmoid(f_gate + 1.0) * cell + torch.sigmoid(i_gate) * torch.tanh(
                candidate
            )
            hidden = torch.sigmoid(o_gate) * torch.tanh(cell)
            states[i] = (hidden, cell)
            frame = hidden
        outputs.append(frame)
    projected = torch.relu(layer.output_projection(torch.cat(outputs)))
    return layer.skip_weights[0] * frames + layer.skip_weights[1] * projected


def test_released_2xconvlstm_structure_shares_one_projection_and_skip():
    cfg = tiny_cfg("c4", "convlstm", 2)
    cfg.MODEL.TEMPORAL.CONVLSTM_CHANNELS = 4
    cfg.MODEL.TEMPORAL.CONVLSTM_STACKING = "shared_skip"
    cfg.MODEL.TEMPORAL.CONVLSTM_FORGET_BIAS = 1.0
    stack = build_backbone(cfg).temporal_layers["res4"]
    assert len(stack.layers) == 1
    layer = stack.layers[0]
    assert [g.in_channels for g in layer.gates] == [256 + 4, 4 + 4]
    standalone = ConvLSTMTemporalLayer(
        6, hidden_channels=4, kernel_size=3, num_lstms=2, forget_bias=1.0
    )
    _randomize(standalone, 0.3)
    frames = torch.randn(4, 6, 5, 5)
    with torch.no_grad():
        got, state = standalone(frames)
        first, first_state = standalone(frames[:2])
        rest, _ = standalone(frames[2:], state=first_state)
        torch.testing.assert_close(got, _reference_stacked_convlstm(standalone, frames))
    torch.testing.assert_close(torch.cat([first, rest]), got)
    assert len(state) == 2
    # The paper's reading (default): two layers, each with its own projection and skip.
    cfg.MODEL.TEMPORAL.CONVLSTM_STACKING = "per_layer_skip"
    assert len(build_backbone(cfg).temporal_layers["res4"].layers) == 2
    cfg.MODEL.TEMPORAL.CONVLSTM_STACKING = "shared"
    with pytest.raises(ValueError, match="CONVLSTM_STACKING"):
        build_backbone(cfg)
