"""The threshold search of the tracker (paper Sec. 6): random trials per class on cached
detections (:mod:`.search`), and the choice of thresholds from them, with cross-validation
over sequences to tell whether a choice holds on sequences it was not made on
(:mod:`.selection`). ``tools/tune_tracker.py`` is its command line. Imports neither torch nor
detectron2.
"""
from .search import (
    CONFIG_KEYS,
    DEFAULT_RANGES,
    LOWER_IS_BETTER,
    SEARCH_METRICS,
    SEARCHED_PARAMETERS,
    ThresholdSearch,
    default_workers,
    is_minimised,
    precompute_pair_scores,
    resolve_metric,
    run_trials,
    sample_settings,
)
from .selection import (
    SELECTION_RULES,
    best_per_class,
    config_snippet,
    cross_validate,
    cross_validation_subsets,
    select_per_class,
    sequence_folds,
    tuned_params,
)

__all__ = [
    "CONFIG_KEYS",
    "DEFAULT_RANGES",
    "LOWER_IS_BETTER",
    "SEARCH_METRICS",
    "SEARCHED_PARAMETERS",
    "SELECTION_RULES",
    "ThresholdSearch",
    "best_per_class",
    "config_snippet",
    "cross_validate",
    "cross_validation_subsets",
    "default_workers",
    "is_minimised",
    "precompute_pair_scores",
    "resolve_metric",
    "run_trials",
    "sample_settings",
    "select_per_class",
    "sequence_folds",
    "tuned_params",
]
