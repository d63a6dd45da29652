"""MOTS evaluation (paper Sec. 4): sMOTSA, MOTSA, MOTSP, IDS, HOTA, IDF1, ...

``evaluate_mots(gt, results)`` computes them from ``{sequence: {frame: [MOTSObject]}}`` dicts,
``evaluate_mots_folders(gt_folder, res_folder)`` from folders of MOTS files, identical to
TrackEval's KITTI MOTS / MOTSChallenge evaluation; ``python -m trackrcnn_d2.evaluation GT RESULTS``
is the standalone command. None of them imports torch or detectron2. ``MOTSEvaluator`` (the
detectron2 ``DatasetEvaluator``) is loaded on first access, so that importing this package stays
light.
"""
import importlib

from .files import evaluate_mots_folders
from .metrics import MissingResultsWarning, MOTSEvaluationError, MOTSGroundTruth, evaluate_mots
from .table import format_mots_table

__all__ = [
    "evaluate_mots",
    "evaluate_mots_folders",
    "format_mots_table",
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
