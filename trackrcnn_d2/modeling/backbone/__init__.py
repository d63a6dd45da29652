"""Temporal backbone: any registered backbone plus Conv3D / ConvLSTM layers (Sec. 5, Table 4)."""
from .temporal_backbone import TemporalBackbone, build_temporal_backbone
from .temporal_layers import (
    Conv3dTemporalLayer,
    ConvLSTMTemporalLayer,
    SeparableConv3dTemporalLayer,
    TemporalLayerStack,
)

__all__ = [
    "Conv3dTemporalLayer",
    "ConvLSTMTemporalLayer",
    "SeparableConv3dTemporalLayer",
    "TemporalBackbone",
    "TemporalLayerStack",
    "build_temporal_backbone",
]
