"""TrackR-CNN (Voigtlaender et al., CVPR 2019) as a Detectron2 extension.

Registration is explicit, as in detectron2's projects (PointRend: ``from . import roi_heads``)::

    import trackrcnn_d2.modeling  # registers the backbone, ROI heads and meta-architecture
    import trackrcnn_d2
    trackrcnn_d2.register_all()   # all of it: model, datasets, tracker head, evaluator

``import trackrcnn_d2`` itself imports neither torch nor detectron2, so that the pure-Python
parts (``trackrcnn_d2.data.mots_io``, ``trackrcnn_d2.evaluation`` and
``python -m trackrcnn_d2.evaluation``) start fast.
"""
import importlib

__version__ = "0.1.0"

# Importing each of these registers its components in detectron2's registries and catalogs.
_COMPONENT_MODULES = (
    "trackrcnn_d2.config",
    "trackrcnn_d2.data.builtin",  # the built-in datasets (root: $DETECTRON2_DATASETS)
    "trackrcnn_d2.modeling",  # TemporalBackbone, TrackStandardROIHeads/TrackRes5ROIHeads, TrackRCNN
    "trackrcnn_d2.tracking.tracker_head",  # TrackRCNNTracker (TRACKER_HEADS_REGISTRY)
    "trackrcnn_d2.evaluation.mots_evaluator",  # MOTSEvaluator
)
_LAZY_ATTRIBUTES = {
    "add_trackrcnn_config": "trackrcnn_d2.config",
}


class MissingDependencyError(ImportError):
    """torch or detectron2, which the registered components need, is not installed."""


def register_all() -> None:
    """Register every component of this package in detectron2 (model, built-in datasets,
    tracker head, evaluator). Idempotent; call it once before building from a config."""
    try:
        for name in _COMPONENT_MODULES:
            importlib.import_module(name)
    except ImportError as e:
        if e.name and e.name.split(".")[0] in ("detectron2", "torch"):
            raise MissingDependencyError(
                f"trackrcnn_d2 needs {e.name.split('.')[0]}, which is not installed. Run "
                "`make install` (it creates .venv with torch and detectron2), or see the README "
                "section 'Installing detectron2' for an official source build."
            ) from e
        raise


def __getattr__(name):
    if name in _LAZY_ATTRIBUTES:
        return getattr(importlib.import_module(_LAZY_ATTRIBUTES[name]), name)
    raise AttributeError(f"module 'trackrcnn_d2' has no attribute {name!r}")
