"""MOTS evaluation (paper Sec. 4): sMOTSA, MOTSA, MOTSP, IDS, HOTA, IDF1, ...

``metrics.evaluate_mots`` computes them, identical to TrackEval's KITTI MOTS / MOTSChallenge
evaluation; ``python -m trackrcnn_d2.evaluation GT RESULTS`` is the standalone command. Neither
imports torch nor detectron2. ``MOTSEvaluator`` (the detectron2 ``DatasetEvaluator``) is loaded
on first access, so that importing this package stays light.
"""
import importlib

from .metrics import MissingResultsWarning, MOTSEvaluationError, MOTSGroundTruth, evaluate_mots

__all__ = [
    "evaluate_mots",
    "MOTSGroundTruth",
    "MOTSEvaluationError",
    "MissingResultsWarning",
    "MOTSEvaluator",
]

_LAZY_ATTRIBUTES = {"MOTSEvaluator": "trackrcnn_d2.evaluation.mots_evaluator"}


def __getattr__(name):
    if name in _LAZY_ATTRIBUTES:
        return getattr(importlib.import_module(_LAZY_ATTRIBUTES[name]), name)
    raise AttributeError(f"module 'trackrcnn_d2.evaluation' has no attribute {name!r}")
