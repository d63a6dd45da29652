"""The TrackRCNN meta-architecture (Sec. 5, Sec. 6, Fig. 3)."""
from .track_rcnn import TrackRCNN

__all__ = ["TrackRCNN"]
