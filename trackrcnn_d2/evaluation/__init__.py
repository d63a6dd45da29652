"""MOTS evaluation (paper Sec. 4): sMOTSA, MOTSA, MOTSP, IDS, HOTA, IDF1, ...

``evaluate_mots(gt, results)`` computes them from ``{sequence: {frame: [MOTSObject]}}`` dicts,
``evaluate_mots_folders(gt_folder, res_folder)`` from folders of MOTS files, identical to
TrackEval's KITTI MOTS / MOTSChallenge evaluation; ``python -m trackrcnn_d2.evaluation GT RESULTS``
is the standalone command. None of them imports torch or detectron2. ``MOTSEvaluator`` is the
detectron2 ``DatasetEvaluator``.
"""
import importlib

__all__ = [
    "evaluate_mots",
    "evaluate_mots_folders",
    "format_mots_table",
    "MOTSGroundTruth",
    "MOTSEvaluationError",
    "MissingResultsWarning",
    "MOTSEvaluator",
]

# Every name is loaded on first access, so that ``python -m trackrcnn_d2.evaluation`` can set up
# the process (:mod:`.__main__`) before numpy is imported, and MOTSEvaluator (detectron2) is only
# imported when used.
_LAZY_ATTRIBUTES = {
    "evaluate_mots": "trackrcnn_d2.evaluation.metrics",
    "evaluate_mots_folders": "trackrcnn_d2.evaluation.files",
    "format_mots_table": "trackrcnn_d2.evaluation.table",
    "MOTSGroundTruth": "trackrcnn_d2.evaluation.metrics",
    "MOTSEvaluationError": "trackrcnn_d2.evaluation.metrics",
    "MissingResultsWarning": "trackrcnn_d2.evaluation.metrics",
    "MOTSEvaluator": "trackrcnn_d2.evaluation.mots_evaluator",
}


def __getattr__(name):
    if name in _LAZY_ATTRIBUTES:
        return getattr(importlib.import_module(_LAZY_ATTRIBUTES[name]), name)
    raise AttributeError(f"module 'trackrcnn_d2.evaluation' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
