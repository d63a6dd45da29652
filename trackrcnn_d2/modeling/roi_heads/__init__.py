"""ROI heads with the association head (Sec. 5, Supplement B, Table 7)."""
from .track_roi_heads import AssociationHead, TrackRes5ROIHeads, TrackStandardROIHeads

__all__ = ["AssociationHead", "TrackRes5ROIHeads", "TrackStandardROIHeads"]
