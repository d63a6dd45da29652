"""The threshold search of the tracker (paper Sec. 6): random trials per class on cached
detections (:mod:`.search`), and the choice of thresholds from them, with cross-validation
over sequences to tell whether a choice holds on sequences it was not made on
(:mod:`.selection`); what the search can be asked (:mod:`.options`). ``tools/tune_tracker.py``
is its command line. Imports neither torch nor detectron2; names load on first access, so that
the tool's ``--help`` needs :mod:`.options` alone.
"""
import importlib

_LAZY_ATTRIBUTES = {
    **{name: "options" for name in (
        "CONFIG_KEYS", "DEFAULT_RANGES", "LOWER_IS_BETTER", "SEARCH_METRICS", "SELECTION_RULES",
        "default_workers", "is_minimised", "resolve_metric",
    )},
    **{name: "search" for name in (
        "SEARCHED_PARAMETERS", "ThresholdSearch", "precompute_pair_scores", "run_trials",
        "sample_settings",
    )},
    **{name: "selection" for name in (
        "best_per_class", "config_snippet", "cross_validate", "cross_validation_subsets",
        "select_per_class", "sequence_folds", "tuned_params",
    )},
}  # fmt: skip
__all__ = sorted(_LAZY_ATTRIBUTES)


def __getattr__(name):
    if name in _LAZY_ATTRIBUTES:
        module = importlib.import_module(f"trackrcnn_d2.tuning.{_LAZY_ATTRIBUTES[name]}")
        return getattr(module, name)
    raise AttributeError(f"module 'trackrcnn_d2.tuning' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
