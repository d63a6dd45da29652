"""Engine-level code (as detectron2 keeps ``DefaultPredictor`` in ``engine/defaults.py``): the
video predictor that runs a model and the tracker over a video, frame by frame."""
from .predictor import VideoTrackingPredictor, has_association_head

__all__ = ["VideoTrackingPredictor", "has_association_head"]
