"""Engine-level code, as detectron2 keeps it in ``detectron2/engine``: the trainer and the logic
of ``train_net.py`` (:mod:`.trainer`, :mod:`.train_net`), its command line (:mod:`.arguments`,
torch-free), the video predictor that runs a model and the tracker over a video, frame by frame
(:mod:`.predictor`), demo.py's work over many videos (:mod:`.video_demo`, :mod:`.video_inputs`,
:mod:`.video_outputs`), the launching of processes (:mod:`.launch`, torch-free until used) and
:func:`available_device`, the one answer to ``MODEL.DEVICE cuda`` on a machine without a GPU.

Names load on first access, so that ``train_net.py --help`` parses its arguments without
importing torch or detectron2.
"""
import importlib

__all__ = [
    "Trainer",
    "VideoTrackingPredictor",
    "available_device",
    "default_argument_parser",
    "has_association_head",
]

_LAZY_ATTRIBUTES = {
    "Trainer": "trackrcnn_d2.engine.trainer",
    "VideoTrackingPredictor": "trackrcnn_d2.engine.predictor",
    "available_device": "trackrcnn_d2.engine.device",
    "default_argument_parser": "trackrcnn_d2.engine.arguments",
    "has_association_head": "trackrcnn_d2.engine.predictor",
}


def __getattr__(name):
    if name in _LAZY_ATTRIBUTES:
        return getattr(importlib.import_module(_LAZY_ATTRIBUTES[name]), name)
    raise AttributeError(f"module 'trackrcnn_d2.engine' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
