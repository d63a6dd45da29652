"""From the trials of a threshold search to the thresholds: the best trial per class, or the
best region (``smoothed``: the trial whose nearest neighbours score best on average, which
prefers thresholds in a flat region of the objective over a lucky peak), the tuned tracker
parameters and the config that holds them; and cross-validation over sequences, which tells
whether a choice holds on sequences it was not made on.
"""
import dataclasses
import json
import math
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from trackrcnn_d2.tracking import TrackerParams
from trackrcnn_d2.tuning.options import (
    CONFIG_KEYS,
    DEFAULT_RANGES,
    SELECTION_RULES,
    is_minimised,
    resolve_metric,
)
from trackrcnn_d2.tuning.search import SEARCHED_PARAMETERS

__all__ = [
    "SELECTION_RULES",
    "best_per_class",
    "config_snippet",
    "cross_validate",
    "cross_validation_subsets",
    "select_per_class",
    "sequence_folds",
    "tuned_params",
]

Trial = Tuple[int, Mapping[str, float], Mapping[str, object]]
Choice = Dict[int, Tuple[Dict[str, float], Dict[str, object]]]


def best_per_class(trials: Iterable[Trial], metric: str) -> Choice:
    """``{category: (setting, metrics)}`` of the trial with the best ``metric`` per class: the
    highest, or the lowest for counts of errors (the first one on ties)."""
    metric = resolve_metric(metric)
    sign = -1.0 if is_minimised(metric) else 1.0
    best: Choice = {}
    for category, setting, metrics in trials:
        if category not in best or sign * metrics[metric] > sign * best[category][1][metric]:
            best[category] = (dict(setting), dict(metrics))
    return best


def tuned_params(
    params: TrackerParams,
    best: Mapping[int, Tuple[Mapping[str, float], Mapping[str, float]]],
) -> TrackerParams:
    """``params`` with the best setting of each tuned class (the others keep theirs)."""
    tuned = params
    for category, (setting, _) in best.items():
        values = {
            name: tuple(
                setting[name] if c == category else v
                for c, v in enumerate(getattr(tuned, name))
            )
            for name in setting
        }
        tuned = dataclasses.replace(tuned, **values)
    return tuned


def config_snippet(
    params: TrackerParams,
    best: Mapping[int, Tuple[Mapping[str, float], Mapping[str, float]]],
    metric: str,
    header: str = "",
    base: Optional[str] = None,
    together: Optional[Mapping[str, Mapping[str, float]]] = None,
    output_dir: Optional[str] = None,
) -> str:
    """YAML with the ``TRACKER_HEADS`` keys of the best settings (classes not tuned keep the
    values of ``params``); with ``base`` (a config path, relative to the yaml's folder or
    absolute) it starts with ``_BASE_: base``, so that it can be used as ``--config-file``
    itself; ``output_dir`` sets its ``OUTPUT_DIR`` (where an evaluation with it writes).
    ``together``: the metrics of :meth:`ThresholdSearch.evaluate_together`, noted beside each
    class's searched figure."""
    tuned = tuned_params(params, best)
    lines = [f"# {line}" for line in header.splitlines()]
    for category, (_, metrics) in sorted(best.items()):
        name = params.class_names[category]
        line = f"# {name}: {metric} {metrics[metric]:.2f}"
        if together is not None:
            line += (
                f" tracked alone (searched), {together[name][metric]:.2f} with all classes "
                "tracked together (as evaluated)"
            )
        lines.append(line)
    if base is not None:
        lines.append(f"_BASE_: {json.dumps(base)}")
    if output_dir is not None:
        lines.append(f"OUTPUT_DIR: {json.dumps(output_dir)}")
    # The overlap rule the trials used (the released code tunes and evaluates with "score").
    lines += [
        "TRACKER_HEADS:",
        f"  ASSOCIATION: {params.association}",
        f"  DISJOINT: {params.disjoint}",
    ]
    for name in SEARCHED_PARAMETERS[params.association]:
        values = ", ".join(f"{v:.4f}" for v in getattr(tuned, name))
        lines.append(f"  {CONFIG_KEYS[name]}: [{values}]")
    return "\n".join(lines) + "\n"



def _smoothed_scores(settings, values, ranges, neighbours: int) -> np.ndarray:
    """Per trial, the mean of ``values`` over its ``neighbours`` nearest trials (itself
    included), distances measured with each parameter scaled to its search range."""
    names = list(settings[0])
    scale = np.array([ranges[n][1] - ranges[n][0] or 1.0 for n in names])
    points = np.array([[s[n] for n in names] for s in settings]) / scale
    distances = np.linalg.norm(points[:, None, :] - points[None, :, :], axis=-1)
    nearest = np.argsort(distances, axis=1, kind="stable")[:, :neighbours]
    return values[nearest].mean(axis=1)


def select_per_class(
    trials: Iterable[Trial],
    metric: str,
    rule: str = "best",
    ranges: Optional[Mapping[str, Tuple[float, float]]] = None,
    subset: Optional[str] = None,
) -> Choice:
    """``{category: (setting, metrics)}`` chosen per class by ``rule``: ``"best"``, the trial
    with the best ``metric`` (:func:`best_per_class`); ``"smoothed"``, the trial whose nearest
    trials (1/25 of the class's trials, at least 5) have the best mean ``metric``. ``subset``:
    score with the metrics of that subset of the sequences (``metrics["subsets"][subset]``)."""
    metric = resolve_metric(metric)
    if rule not in SELECTION_RULES:
        raise ValueError(f"unknown selection rule {rule!r}; choose one of {SELECTION_RULES}")
    ranges = {**DEFAULT_RANGES, **(ranges or {})}
    sign = -1.0 if is_minimised(metric) else 1.0
    by_class: Dict[int, List[Tuple[Mapping[str, float], Mapping[str, object]]]] = {}
    for category, setting, metrics in trials:
        by_class.setdefault(category, []).append((setting, metrics))
    chosen: Choice = {}
    for category, class_trials in by_class.items():
        scored = [m["subsets"][subset] if subset else m for _, m in class_trials]
        values = sign * np.array([float(m[metric]) for m in scored])
        values[~np.isfinite(values)] = -math.inf
        if rule == "smoothed" and len(class_trials) > 1:
            neighbours = min(len(class_trials), max(5, len(class_trials) // 25))
            settings = [s for s, _ in class_trials]
            values = _smoothed_scores(settings, np.nan_to_num(values, neginf=-1e9), ranges,
                                      neighbours)  # fmt: skip
        index = int(np.argmax(values))  # the first one on ties
        setting, metrics = class_trials[index]
        chosen[category] = (dict(setting), dict(metrics))
    return chosen


def sequence_folds(sequences: Sequence[str], folds: int) -> List[List[str]]:
    """The sequences dealt round-robin into ``folds`` groups (in sorted order, so that
    neighbouring sequences of a recording land in different folds)."""
    names = sorted(sequences)
    if not 2 <= folds <= len(names):
        raise ValueError(f"cross-validation needs 2 to {len(names)} folds, got {folds}")
    return [names[k::folds] for k in range(folds)]


def cross_validation_subsets(folds: Sequence[Sequence[str]]) -> Dict[str, List[str]]:
    """``{"fit<k>": the sequences outside fold k, "held_out<k>": fold k}`` for
    :class:`~trackrcnn_d2.tuning.search.ThresholdSearch`'s ``subsets``."""
    subsets = {}
    for k, fold in enumerate(folds):
        subsets[f"fit{k}"] = [s for other in folds if other is not fold for s in other]
        subsets[f"held_out{k}"] = list(fold)
    return subsets


def cross_validate(
    trials: Sequence[Trial],
    baseline: Mapping[int, Mapping[str, object]],
    metric: str,
    folds: int,
    rules: Sequence[str] = SELECTION_RULES,
    ranges: Optional[Mapping[str, Tuple[float, float]]] = None,
) -> Dict[int, Dict[str, Dict[str, List[float]]]]:
    """How much each selection rule gains over the ``baseline`` settings (``{category:
    metrics}``, the config's own thresholds, scored with the same subsets) on sequences it did
    not choose on: per fold k, thresholds chosen on ``fit<k>``, scored on ``held_out<k>``.

    Returns ``{category: {rule: {"held_out": [gain per fold], "fit": [gain per fold]}}}``, gains
    in ``metric`` (positive = better, also for counts of errors); "fit" is the gain on the
    sequences the choice was made on, which overstates what a user gets."""
    metric = resolve_metric(metric)
    sign = -1.0 if is_minimised(metric) else 1.0
    report: Dict[int, Dict[str, Dict[str, List[float]]]] = {}
    for rule in rules:
        for k in range(folds):
            chosen = select_per_class(trials, metric, rule, ranges, subset=f"fit{k}")
            for category, (_, metrics) in chosen.items():
                gains = report.setdefault(category, {}).setdefault(
                    rule, {"held_out": [], "fit": []}
                )
                for part in ("held_out", "fit"):
                    name = f"{part}{k}"
                    ours = metrics["subsets"][name][metric]
                    theirs = baseline[category]["subsets"][name][metric]
                    gains[part].append(sign * (ours - theirs))
    return report
