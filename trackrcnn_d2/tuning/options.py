"""What a threshold search can be asked (tools/tune_tracker.py's options): the metrics it can
optimise and which are minimised, the default search ranges, the selection rules, the number
of worker processes. Light (no tracking code), so that the tool's ``--help`` answers at once.
"""
import os

from trackrcnn_d2.evaluation.metrics import PERCENT_FIELDS

__all__ = [
    "CONFIG_KEYS",
    "DEFAULT_RANGES",
    "LOWER_IS_BETTER",
    "SEARCH_METRICS",
    "SELECTION_RULES",
    "check_search_range",
    "default_workers",
    "is_minimised",
    "resolve_metric",
]

# Default search ranges: those of the original code (scripts/segtrack_tune_experiment.py of the
# TrackR-CNN repository), widened because a model of ours may be calibrated differently.
DEFAULT_RANGES = {
    "detection_confidence": (0.5, 0.99),
    "maskprop_threshold": (0.0, 0.5),
    "assoc_threshold": (0.2, 3.0),
    "center_distance_threshold": (5.0, 150.0),
}
# Fields of evaluate_mots that a search can optimise: rates and counts of correct results are
# maximised, counts of errors minimised (GT and PT are no objectives).
LOWER_IS_BETTER = ("IDS", "FP", "FN", "Frag", "ML", "IDFP", "IDFN")
SEARCH_METRICS = PERCENT_FIELDS + ("TP", "MT", "IDTP") + LOWER_IS_BETTER
# Config key of each parameter under TRACKER_HEADS.
CONFIG_KEYS = {
    "detection_confidence": "DETECTION_CONFIDENCE",
    "maskprop_threshold": "MASKPROP_THRESHOLD",
    "assoc_threshold": "ASSOC_THRESHOLD",
    "center_distance_threshold": "CENTER_DISTANCE_THRESHOLD",
}


def check_search_range(name: str, low: float, high: float) -> None:
    """ValueError unless ``low <= high`` and both are values that the parameter's config key
    allows (its rule in :data:`trackrcnn_d2.config_values.VALUE_RULES`: a confidence from 0
    to 1, a distance >= 0, ...)."""
    from trackrcnn_d2.config_values import VALUE_RULES

    key = f"TRACKER_HEADS.{CONFIG_KEYS[name]}"
    rule = VALUE_RULES[key]
    outside = [value for value in (low, high) if not rule.allows(value)]
    if outside:
        raise ValueError(f"{outside[0]:g} is no value of {key}, which must be {rule.describe()}")
    if low > high:
        raise ValueError(f"LOW {low:g} is above HIGH {high:g}")


def resolve_metric(name: str) -> str:
    """The field of :data:`SEARCH_METRICS` named ``name``, case-insensitive ("smotsa" ->
    "sMOTSA"); ValueError naming the choices otherwise."""
    by_lower_case = {metric.lower(): metric for metric in SEARCH_METRICS}
    if name.lower() not in by_lower_case:
        raise ValueError(f"unknown metric {name!r}; choose one of {', '.join(SEARCH_METRICS)}")
    return by_lower_case[name.lower()]


def is_minimised(metric: str) -> bool:
    """Whether the search minimises ``metric`` (a count of errors such as IDS)."""
    return resolve_metric(metric) in LOWER_IS_BETTER
# How the thresholds are chosen from the trials of a class (selection.select_per_class): the
# best trial, or the trial whose nearest trials score best on average.
SELECTION_RULES = ("best", "smoothed")


def default_workers() -> int:
    """CPU cores this process may use."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1
