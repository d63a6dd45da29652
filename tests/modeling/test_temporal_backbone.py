"""TemporalBackbone: identity init, zero padding at clip boundaries, windows, gradients."""
import pytest
import torch
from detectron2.layers import ShapeSpec
from detectron2.modeling import BACKBONE_REGISTRY, build_backbone
from helpers.modeling import tiny_cfg

from trackrcnn_d2.modeling.backbone import (
    Conv3dTemporalLayer,
    ConvLSTMTemporalLayer,
    TemporalBackbone,
    TemporalLayerStack,
)


def _backbone(features="c4", temporal="conv3d", num_layers=1):
    cfg = tiny_cfg(features, temporal, num_layers)
    backbone = build_backbone(cfg)
    backbone.eval()
    return backbone


def _images(num_frames=4, height=64, width=96, seed=0):
    return torch.randn(num_frames, 3, height, width, generator=torch.Generator().manual_seed(seed))


def _randomize(module, scale=0.05):
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.copy_(torch.randn_like(parameter) * scale)


@pytest.mark.parametrize("features", ["c4", "fpn"])
@pytest.mark.parametrize("num_layers", [1, 2])
def test_identity_init_reproduces_wrapped_backbone_features_exactly(features, num_layers):
    backbone = _backbone(features, "conv3d", num_layers)
    images = _images()
    with torch.no_grad():
        wrapped = backbone.frame_backbone(images)
        temporal = backbone(images, clip_length=len(images))
    assert set(temporal) == set(wrapped) == set(backbone.temporal_layers)
    if features == "fpn":
        # FPN outputs are signed: "auto" leaves the ReLU out so that identity stays identity.
        assert any((x < 0).any() for x in wrapped.values())
    for name in wrapped:
        assert torch.equal(temporal[name], wrapped[name]), name


def test_conv3d_relu_follows_the_wrapped_backbone():
    c4 = _backbone("c4")
    fpn = _backbone("fpn")
    assert all(layer.relu for stack in c4.temporal_layers.values() for layer in stack.layers)
    assert not any(layer.relu for stack in fpn.temporal_layers.values() for layer in stack.layers)


def _reference_conv3d(frames, weight, relu):
    """Frame-by-frame 3x3x3 convolution with explicit zero frames outside the clip."""
    zero = torch.zeros_like(frames[0:1])
    padded = torch.cat([zero, frames, zero])
    outputs = []
    for t in range(frames.shape[0]):
        out = sum(
            torch.nn.functional.conv2d(padded[t + k : t + k + 1], weight[:, :, k], padding=1)
            for k in range(3)
        )
        outputs.append(out.clamp(min=0) if relu else out)
    return torch.cat(outputs)


@pytest.mark.parametrize("relu", [True, False])
def test_conv3d_zero_pads_time_at_clip_boundaries(relu):
    layer = Conv3dTemporalLayer(6, relu=relu)
    _randomize(layer, 0.3)
    frames = torch.randn(4, 6, 5, 7)
    got, _ = layer(frames)
    expected = _reference_conv3d(frames, layer.conv.weight, relu)
    assert got.shape == frames.shape
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    # Away from a boundary the layer needs its neighbour and returns only the inner frames.
    inner, _ = layer(frames, starts_sequence=False, ends_sequence=False)
    torch.testing.assert_close(inner, expected[1:3], rtol=1e-5, atol=1e-5)


def test_clips_of_a_batch_are_padded_separately():
    backbone = _backbone("c4", "conv3d", 1)
    _randomize(backbone.temporal_layers, 0.01)
    images = _images(6)
    with torch.no_grad():
        two_clips = backbone(images, clip_length=3)
        first = backbone(images[:3], clip_length=3)
        second = backbone(images[3:], clip_length=3)
        one_clip = backbone(images, clip_length=6)
    torch.testing.assert_close(two_clips["res4"], torch.cat([first["res4"], second["res4"]]))
    # As one clip of 6, frames 2 and 3 see each other: different from two clips of 3.
    assert not torch.allclose(one_clip["res4"][2:4], two_clips["res4"][2:4])
    torch.testing.assert_close(one_clip["res4"][:2], two_clips["res4"][:2])


@pytest.mark.parametrize("temporal,num_layers", [("conv3d", 1), ("conv3d", 2), ("convlstm", 2)])
def test_sliding_windows_give_the_clip_outputs(temporal, num_layers):
    """temporal_context on windows with look-back/look-ahead context = the whole clip."""
    backbone = _backbone("fpn", temporal, num_layers)
    _randomize(backbone.temporal_layers, 0.02)
    images = _images(6)
    with torch.no_grad():
        frame_features = backbone.frame_features(images)
        clip = backbone(images, clip_length=6)
        lookback, lookahead = backbone.temporal_lookback, backbone.temporal_lookahead
        state = None
        for t in range(6):
            first, last = max(0, t - lookback), min(6, t + lookahead + 1)
            window = {k: v[first:last] for k, v in frame_features.items()}
            starts, ends = t - first < lookback, last - t - 1 < lookahead
            outputs, state = backbone.temporal_context(
                window, starts_sequence=starts, ends_sequence=ends, state=state
            )
            index = (t - first) - (0 if starts else lookback)
            for name in clip:
                torch.testing.assert_close(outputs[name][index], clip[name][t])


def test_convlstm_skip_connection_and_state():
    layer = ConvLSTMTemporalLayer(8, hidden_channels=4, kernel_size=3)
    frames = torch.randn(5, 8, 6, 6)
    with torch.no_grad():
        layer.output_projection.weight.zero_()
        layer.output_projection.bias.zero_()
        out, _ = layer(frames)
        torch.testing.assert_close(out, frames)
    _randomize(layer, 0.2)
    with torch.no_grad():
        whole, state_whole = layer(frames)
        first, state = layer(frames[:2])
        rest, state_rest = layer(frames[2:], state=state)
    torch.testing.assert_close(torch.cat([first, rest]), whole)
    torch.testing.assert_close(state_rest[0], state_whole[0])
    # Frame 0's output must not depend on later frames (online), frame 4's must on earlier ones.
    changed = frames.clone()
    changed[1:] += 1.0
    with torch.no_grad():
        out_changed, _ = layer(changed)
    torch.testing.assert_close(out_changed[0], whole[0])
    assert not torch.allclose(out_changed[4], whole[4])


@pytest.mark.parametrize("temporal", ["conv3d", "convlstm", "none"])
def test_gradients_reach_the_backbone_through_the_temporal_layers(temporal):
    backbone = _backbone("c4", temporal, 1)  # eval mode: BN does not couple the frames
    _randomize(backbone.temporal_layers, 0.01)
    images = _images(3).requires_grad_(True)
    # A later frame's features reach frame 0's image only through the temporal layers: the
    # Conv3D's output at frame 1 reads frame 0, the ConvLSTM's at frame 2 carries it in state.
    target = 1 if temporal == "conv3d" else 2
    backbone(images, clip_length=3)["res4"][target].sum().backward()
    assert backbone.frame_backbone.stem.conv1.weight.grad.abs().sum() > 0
    reaches_frame_0 = images.grad[0].abs().sum() > 0
    assert reaches_frame_0 == (temporal != "none")
    for parameter in backbone.temporal_layers.parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0


def test_temporal_backbone_wraps_any_registered_backbone_and_validates_features():
    cfg = tiny_cfg("c4")
    cfg.MODEL.TEMPORAL.IN_FEATURES = ["res5"]
    with pytest.raises(ValueError, match="res5"):
        build_backbone(cfg)
    frame_backbone = BACKBONE_REGISTRY.get("build_resnet_backbone")(
        tiny_cfg("c4"), ShapeSpec(channels=3)
    )
    backbone = TemporalBackbone(
        frame_backbone=frame_backbone,
        temporal_layers={"res4": TemporalLayerStack([Conv3dTemporalLayer(256)])},
    )
    assert backbone.output_shape() == frame_backbone.output_shape()
    assert (backbone.temporal_lookback, backbone.temporal_lookahead) == (1, 1)
    none = _backbone("c4", "none")
    assert len(none.temporal_layers) == 0
    images = _images(2)
    with torch.no_grad():
        torch.testing.assert_close(none(images)["res4"], none.frame_backbone(images)["res4"])


def test_temporal_layers_refuse_detectron2s_generalized_rcnn():
    """Issue 14: under GeneralizedRCNN the layers would run across clips and without context."""
    from detectron2.modeling import build_model

    cfg = tiny_cfg("fpn")
    cfg.MODEL.META_ARCHITECTURE = "GeneralizedRCNN"
    with pytest.raises(ValueError, match="META_ARCHITECTURE: 'TrackRCNN'"):
        build_model(cfg)
    cfg.MODEL.TEMPORAL.TYPE = "none"  # no temporal layer: a plain wrapped backbone is fine
    build_model(cfg)
    # Built without a config, the backbone refuses a call without the clip structure.
    backbone = _backbone("c4")
    with pytest.raises(ValueError, match="TrackRCNN"):
        backbone(_images(2))


@pytest.mark.parametrize(
    "temporal, num_layers, described",
    [("conv3d", 2, "2 x conv3d on ['res4'] of build_resnet_backbone"),
     ("conv3d", 0, "0 x conv3d on no features of build_resnet_backbone")],
)  # fmt: skip
def test_the_built_backbone_logs_its_temporal_layers(temporal, num_layers, described):
    """The log of a training run says which temporal layers the config built (Table 4's
    variant), and that none were built for NUM_LAYERS 0. A handler of its own: the scripts'
    setup_logger stops the package's records from reaching the root logger (caplog)."""
    import logging

    records = []
    handler = logging.Handler()
    handler.emit = lambda record: records.append(record.getMessage())
    logger = logging.getLogger("trackrcnn_d2.modeling.backbone.temporal_backbone")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        build_backbone(tiny_cfg("c4", temporal, num_layers))
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert f"TemporalBackbone: {described}" in records
