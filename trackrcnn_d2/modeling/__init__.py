"""TrackR-CNN model components, registered in detectron2's registries on import.

- ``build_temporal_backbone`` (BACKBONE_REGISTRY): any backbone + Conv3D/ConvLSTM layers.
- ``TrackStandardROIHeads``, ``TrackRes5ROIHeads`` (ROI_HEADS_REGISTRY): + association head.
- ``TrackRCNN`` (META_ARCH_REGISTRY): clip training, near-online inference.
- ``IgnoreRegionRPN`` (PROPOSAL_GENERATOR_REGISTRY): no negatives on ignore regions (release).
"""
from .backbone import TemporalBackbone, build_temporal_backbone
from .losses import (
    ASSOCIATION_LOSSES,
    batch_all_triplet_loss,
    batch_hard_triplet_loss,
    contrastive_loss,
)
from .meta_arch import TrackRCNN
from .proposal_generator import IgnoreRegionRPN
from .roi_heads import AssociationHead, TrackRes5ROIHeads, TrackStandardROIHeads

__all__ = [
    "ASSOCIATION_LOSSES",
    "AssociationHead",
    "IgnoreRegionRPN",
    "TemporalBackbone",
    "TrackRCNN",
    "TrackRes5ROIHeads",
    "TrackStandardROIHeads",
    "batch_all_triplet_loss",
    "batch_hard_triplet_loss",
    "build_temporal_backbone",
    "contrastive_loss",
]
