"""TemporalBackbone: any registered backbone plus temporal layers (Sec. 5, Sec. 6, Table 4)."""
import logging
from typing import Dict, Optional, Tuple

import torch
from detectron2.config import CfgNode, configurable
from detectron2.layers import ShapeSpec
from detectron2.modeling import BACKBONE_REGISTRY, META_ARCH_REGISTRY, Backbone, ResNet
from torch import nn

from .temporal_layers import (
    Conv3dTemporalLayer,
    ConvLSTMTemporalLayer,
    SeparableConv3dTemporalLayer,
    TemporalLayerStack,
)

__all__ = [
    "TemporalBackbone",
    "build_temporal_backbone",
    "build_temporal_layer_stacks",
    "temporal_lookahead",
]

logger = logging.getLogger(__name__)

TemporalState = Dict[str, list]


def build_temporal_layer_stacks(
    layer_type: str,
    num_layers: int,
    feature_channels: Dict[str, int],
    *,
    conv3d_relu: bool = True,
    convlstm_channels: int = 128,
    convlstm_kernel_size: int = 5,
    convlstm_skip_weights: Tuple[float, float] = (1.0, 0.05),
    convlstm_forget_bias: float = 0.0,
    convlstm_shared_skip: bool = False,
) -> Dict[str, TemporalLayerStack]:
    """One stack of ``num_layers`` temporal layers per feature map (FPN: one per level).

    Args:
        layer_type: "conv3d", "convlstm" or "none" (Table 4), or "conv3d_separable" (the
            released code's depthwise-separable Conv3D).
        convlstm_shared_skip: stacked ConvLSTMs as one layer of ``num_layers`` LSTMs under
            one projection and skip (released code) instead of ``num_layers`` layers.
        feature_channels: channel count of each feature map the layers act on.
    """
    if layer_type == "none" or num_layers == 0:
        return {}

    def make_layer(channels):
        if layer_type == "conv3d":
            return Conv3dTemporalLayer(channels, relu=conv3d_relu)
        if layer_type == "conv3d_separable":
            return SeparableConv3dTemporalLayer(channels, relu=conv3d_relu)
        if layer_type == "convlstm":
            return ConvLSTMTemporalLayer(
                channels,
                convlstm_channels,
                convlstm_kernel_size,
                tuple(convlstm_skip_weights),
                num_lstms=num_layers if convlstm_shared_skip else 1,
                forget_bias=convlstm_forget_bias,
            )
        raise ValueError(
            f"MODEL.TEMPORAL.TYPE = {layer_type!r} is not one of 'conv3d', "
            "'conv3d_separable', 'convlstm', 'none'."
        )

    num_stacked = 1 if layer_type == "convlstm" and convlstm_shared_skip else num_layers
    return {
        name: TemporalLayerStack([make_layer(channels) for _ in range(num_stacked)])
        for name, channels in feature_channels.items()
    }


_NEEDS_TRACK_RCNN = (
    "TemporalBackbone: the temporal layers need the frames' clip structure, which detectron2's "
    "GeneralizedRCNN and DefaultPredictor do not give (they would mix the clips of a batch in "
    "training and see no neighbour frames in inference). Use MODEL.META_ARCHITECTURE: "
    "'TrackRCNN' (clips in training, near-online inference), or MODEL.TEMPORAL.TYPE: 'none'."
)


def temporal_lookahead(cfg: CfgNode) -> int:
    """Frames after frame t that the temporal layers of ``cfg``'s model reach: the look-ahead
    frames near-online inference needs ("next_images"); 0 without a temporal backbone."""
    if cfg.MODEL.BACKBONE.NAME != "build_temporal_backbone":
        return 0
    layer_lookahead = {
        "conv3d": Conv3dTemporalLayer.lookahead,
        "conv3d_separable": SeparableConv3dTemporalLayer.lookahead,
    }.get(cfg.MODEL.TEMPORAL.TYPE, 0)
    return layer_lookahead * cfg.MODEL.TEMPORAL.NUM_LAYERS


class TemporalBackbone(Backbone):
    """Wraps a per-frame backbone and applies temporal layers to its features.

    The batch axis of the input is the time axis: ``forward(x, clip_length)`` takes frames of
    consecutive clips of ``clip_length`` frames each (one clip if None), each in time order,
    and zero-pads in time at clip boundaries (Sec. 6). Output names and shapes are the wrapped
    backbone's, so RPN and ROI heads are unchanged.

    Near-online inference uses the two halves separately: :meth:`frame_features` once per frame,
    and :meth:`temporal_context` over a window of buffered frame features.

    Parameter names: the wrapped backbone is ``frame_backbone``, the temporal layers are
    ``temporal_layers.<feature>``. A plain detectron2 checkpoint's ``backbone.*`` keys are mapped
    to ``backbone.frame_backbone.*`` when loaded (see :meth:`_load_from_state_dict`).
    """

    @configurable
    def __init__(self, *, frame_backbone: Backbone, temporal_layers: Dict[str, nn.Module]):
        """
        Args:
            frame_backbone: the per-frame backbone (e.g. a ResNet or an FPN).
            temporal_layers: feature name -> :class:`TemporalLayerStack` (or any module with
                its interface); features without an entry pass unchanged.
        """
        super().__init__()
        self.frame_backbone = frame_backbone
        unknown = set(temporal_layers) - set(frame_backbone.output_shape())
        if unknown:
            raise ValueError(
                f"Temporal layers for {sorted(unknown)}, which the wrapped backbone does not "
                f"output (it has {sorted(frame_backbone.output_shape())}). Check "
                "MODEL.TEMPORAL.IN_FEATURES."
            )
        extents = {(stack.lookback, stack.lookahead) for stack in temporal_layers.values()}
        if len(extents) > 1:
            raise ValueError(f"All temporal stacks must see the same frames, got {extents}.")
        self.temporal_layers = nn.ModuleDict(temporal_layers)

    @classmethod
    def from_config(cls, cfg: CfgNode, input_shape: ShapeSpec):
        from ..meta_arch.track_rcnn import TrackRCNN  # the meta-architecture imports this module

        meta_arch = META_ARCH_REGISTRY.get(cfg.MODEL.META_ARCHITECTURE)
        has_layers = cfg.MODEL.TEMPORAL.TYPE != "none" and cfg.MODEL.TEMPORAL.NUM_LAYERS > 0
        if has_layers and not issubclass(meta_arch, TrackRCNN):
            raise ValueError(
                f"MODEL.META_ARCHITECTURE is {cfg.MODEL.META_ARCHITECTURE!r}. {_NEEDS_TRACK_RCNN}"
            )
        frame_backbone_name = cfg.MODEL.TEMPORAL.BACKBONE_NAME
        if frame_backbone_name == "build_temporal_backbone":
            raise ValueError("MODEL.TEMPORAL.BACKBONE_NAME must name the wrapped backbone.")
        frame_backbone = BACKBONE_REGISTRY.get(frame_backbone_name)(cfg, input_shape)
        shapes = frame_backbone.output_shape()
        in_features = list(cfg.MODEL.TEMPORAL.IN_FEATURES) or list(shapes)
        missing = [name for name in in_features if name not in shapes]
        if missing:
            raise ValueError(
                f"MODEL.TEMPORAL.IN_FEATURES names {missing}, which {frame_backbone_name} does "
                f"not output (it has {sorted(shapes)})."
            )
        if cfg.MODEL.TEMPORAL.CONVLSTM_STACKING not in ("per_layer_skip", "shared_skip"):
            raise ValueError(
                f"MODEL.TEMPORAL.CONVLSTM_STACKING = {cfg.MODEL.TEMPORAL.CONVLSTM_STACKING!r} is "
                "not 'per_layer_skip' or 'shared_skip'."
            )
        activation = cfg.MODEL.TEMPORAL.CONV3D_ACTIVATION
        if activation not in ("auto", "relu", "none"):
            raise ValueError(
                f"MODEL.TEMPORAL.CONV3D_ACTIVATION = {activation!r} is not 'auto', 'relu' or "
                "'none'."
            )
        if activation == "auto":
            # ResNet stage outputs are post-ReLU, so identity + ReLU keeps them (the paper's
            # C4 model); FPN outputs can be negative, where a ReLU would break the identity init.
            activation = "relu" if isinstance(frame_backbone, ResNet) else "none"
        temporal_layers = build_temporal_layer_stacks(
            cfg.MODEL.TEMPORAL.TYPE,
            cfg.MODEL.TEMPORAL.NUM_LAYERS,
            {name: shapes[name].channels for name in in_features},
            conv3d_relu=activation == "relu",
            convlstm_channels=cfg.MODEL.TEMPORAL.CONVLSTM_CHANNELS,
            convlstm_kernel_size=cfg.MODEL.TEMPORAL.CONVLSTM_KERNEL_SIZE,
            convlstm_skip_weights=tuple(cfg.MODEL.TEMPORAL.CONVLSTM_SKIP_WEIGHTS),
            convlstm_forget_bias=cfg.MODEL.TEMPORAL.CONVLSTM_FORGET_BIAS,
            convlstm_shared_skip=cfg.MODEL.TEMPORAL.CONVLSTM_STACKING == "shared_skip",
        )
        return {"frame_backbone": frame_backbone, "temporal_layers": temporal_layers}

    @property
    def temporal_lookback(self) -> int:
        """Frames before frame t that its output features depend on (apart from a state)."""
        return max((stack.lookback for stack in self.temporal_layers.values()), default=0)

    @property
    def temporal_lookahead(self) -> int:
        """Frames after frame t that its output features depend on."""
        return max((stack.lookahead for stack in self.temporal_layers.values()), default=0)

    @property
    def size_divisibility(self) -> int:
        return self.frame_backbone.size_divisibility

    @property
    def padding_constraints(self) -> Dict[str, int]:
        return self.frame_backbone.padding_constraints

    def output_shape(self) -> Dict[str, ShapeSpec]:
        return self.frame_backbone.output_shape()

    def frame_features(self, x: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Per-frame features of (N, C, H, W) images, before any temporal layer."""
        return self.frame_backbone(x)

    def temporal_context(
        self,
        features: Dict[str, torch.Tensor],
        *,
        starts_sequence: bool = True,
        ends_sequence: bool = True,
        state: Optional[TemporalState] = None,
    ) -> Tuple[Dict[str, torch.Tensor], TemporalState]:
        """Applies the temporal layers to a window of consecutive frames of one sequence.

        Args:
            features: name -> (T, C, H, W) frame features of the window, in time order.
            starts_sequence, ends_sequence: whether the window starts/ends at a sequence (or
                clip) boundary, where time is zero-padded; see :mod:`.temporal_layers`.
            state: recurrent state after the frame preceding the window (None: zeros).

        Returns:
            name -> (T', C, H, W) features of the window's frames, without the first
            ``temporal_lookback`` frames unless ``starts_sequence`` and without the last
            ``temporal_lookahead`` frames unless ``ends_sequence``; and the recurrent state
            after the window's last frame.
        """
        state = state or {}
        outputs, new_state = {}, {}
        num_frames = next(iter(features.values())).shape[0]
        first = 0 if starts_sequence else self.temporal_lookback
        last = num_frames if ends_sequence else num_frames - self.temporal_lookahead
        for name, x in features.items():
            if name in self.temporal_layers:
                x, new_state[name] = self.temporal_layers[name](
                    x,
                    starts_sequence=starts_sequence,
                    ends_sequence=ends_sequence,
                    state=state.get(name),
                )
            else:
                x = x[first:last]
            outputs[name] = x
        return outputs, new_state

    def forward(
        self, x: torch.Tensor, clip_length: Optional[int] = None
    ) -> Dict[str, torch.Tensor]:
        """(N, C, H, W) frames of N / clip_length consecutive clips -> name -> (N, C', H', W').

        ``clip_length`` is required when there are temporal layers: without it the frames'
        clip structure is unknown (detectron2's GeneralizedRCNN gives none), and the layers
        would mix clips in training and see no neighbour frames in inference.
        """
        frame_features = self.frame_features(x)
        if not self.temporal_layers:
            return frame_features
        if clip_length is None:
            raise ValueError(_NEEDS_TRACK_RCNN)
        if x.shape[0] % clip_length != 0:
            raise ValueError(
                f"TemporalBackbone got {x.shape[0]} frames, not a multiple of the clip length "
                f"{clip_length} (INPUT.CLIP_LENGTH)."
            )
        clips = [
            self.temporal_context({k: v[i : i + clip_length] for k, v in frame_features.items()})[0]
            for i in range(0, x.shape[0], clip_length)
        ]
        return {name: torch.cat([clip[name] for clip in clips]) for name in frame_features}

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # A GeneralizedRCNN checkpoint names the per-frame backbone's parameters
        # "backbone.<param>"; here they live under "backbone.frame_backbone.<param>".
        own_children = tuple(f"{prefix}{name}." for name in self._modules)
        for key in list(state_dict):
            if key.startswith(prefix) and not key.startswith(own_children):
                state_dict[f"{prefix}frame_backbone.{key[len(prefix):]}"] = state_dict.pop(key)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


@BACKBONE_REGISTRY.register()
def build_temporal_backbone(cfg: CfgNode, input_shape: ShapeSpec) -> TemporalBackbone:
    """TemporalBackbone around ``cfg.MODEL.TEMPORAL.BACKBONE_NAME`` (Table 4 variants)."""
    backbone = TemporalBackbone(cfg, input_shape)
    logger.info(
        "TemporalBackbone: %s x %s on %s of %s",
        cfg.MODEL.TEMPORAL.NUM_LAYERS,
        cfg.MODEL.TEMPORAL.TYPE,
        sorted(backbone.temporal_layers) or "no features",
        cfg.MODEL.TEMPORAL.BACKBONE_NAME,
    )
    return backbone
