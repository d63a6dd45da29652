"""Random search of the tracker thresholds on cached detections (paper Sec. 6: "we tune the
thresholds of the tracker by random search", 250 iterations per class in the paper's setup).

Tracking and the metrics are per class, so each class is tuned on its own: a trial tracks only
that class over every sequence and scores it with
:func:`trackrcnn_d2.evaluation.evaluate_mots` against ground truth prepared once
(:class:`~trackrcnn_d2.evaluation.MOTSGroundTruth`). What does not depend on the
thresholds is computed once before the search: the flow-warped mask (or box) IoU between the
detections of adjacent frames (:class:`~trackrcnn_d2.tracking.PrecomputedPairScores`). Trials run in
parallel worker processes. The evaluation tracks all classes together and makes their masks
disjoint, which changes each class's figures slightly: :meth:`ThresholdSearch.evaluate_together`
gives, for the best settings, the figures that the evaluation reports.

The objective is any field of :func:`~trackrcnn_d2.evaluation.evaluate_mots`
(:func:`resolve_metric`, case-insensitive); counts of errors (:data:`LOWER_IS_BETTER`) are
minimised, everything else maximised.

It sits above both ``tracking`` and ``evaluation`` and imports neither torch nor detectron2;
``tools/tune_tracker.py`` is its command line.
"""
import dataclasses
import math
import multiprocessing
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from trackrcnn_d2.evaluation import MOTSGroundTruth, evaluate_mots
from trackrcnn_d2.tracking import (
    MECHANISMS,
    AssociationMechanism,
    FrameDetections,
    FramePairScores,
    PrecomputedPairScores,
    TrackerParams,
    TrackNumberOverflow,
    track_sequence,
    tracks_to_mots_objects,
)
from trackrcnn_d2.tuning.options import DEFAULT_RANGES, is_minimised, resolve_metric


def _searched_parameters(mechanism: AssociationMechanism) -> Tuple[str, ...]:
    # gamma, the threshold of the first match, and delta_assoc when assoc_match follows.
    names = ("detection_confidence", mechanism.threshold)
    return names + ("assoc_threshold",) if mechanism.assoc_match else names


# Which per-class parameters the search draws for each mechanism (Table 5).
SEARCHED_PARAMETERS = {name: _searched_parameters(m) for name, m in MECHANISMS.items()}
def sample_settings(
    association: str,
    iterations: int,
    rng: np.random.Generator,
    ranges: Optional[Mapping[str, Tuple[float, float]]] = None,
) -> List[Dict[str, float]]:
    """``iterations`` random settings ``{parameter: value}`` of one class, each parameter that
    ``association`` uses drawn uniformly from its range."""
    ranges = {**DEFAULT_RANGES, **(ranges or {})}
    names = SEARCHED_PARAMETERS[association]
    return [
        {name: float(rng.uniform(*ranges[name])) for name in names} for _ in range(iterations)
    ]


def precompute_pair_scores(
    frames: Sequence[FrameDetections],
    params: TrackerParams,
    flow_provider: Optional[Callable[[int, int], Optional[np.ndarray]]] = None,
) -> Optional[List[PrecomputedPairScores]]:
    """Per frame, the flow-dependent scores between all usable detections of the frame and of
    the previous one; None when ``params.association`` uses no flow-dependent score."""
    if not params.uses_flow:
        return None
    scores = []
    for t, frame in enumerate(frames):
        previous = frames[t - 1] if t > 0 else None
        flow = None
        if previous is not None and flow_provider is not None:
            flow = flow_provider(previous.frame_idx, frame.frame_idx)
        scores.append(PrecomputedPairScores.compute(FramePairScores(previous, frame, flow), params))
    return scores


class ThresholdSearch:
    """Scores threshold settings of one class on cached detections.

    Args:
        sequences: ``{sequence: [FrameDetections]}``.
        ground_truth: a :class:`MOTSGroundTruth` (or GT dict) of the same sequences.
        params: base tracker parameters; the searched ones are replaced per trial.
        pair_scores: ``{sequence: precomputed pair scores}`` (see :func:`precompute_pair_scores`).
        metric: the objective, a field of the metrics (paper: sMOTSA; case-insensitive, see
            :func:`resolve_metric`), maximised or, for counts of errors, minimised.
        subsets: ``{name: [sequence, ...]}``, groups of the sequences that each trial also
            scores on their own (``metrics["subsets"][name]``), e.g. the parts of a
            cross-validation (:func:`~trackrcnn_d2.tuning.selection.cross_validation_subsets`);
            ``ground_truth`` must then be a GT dict.
    """

    def __init__(
        self,
        sequences: Mapping[str, Sequence[FrameDetections]],
        ground_truth,
        params: TrackerParams,
        pair_scores: Optional[Mapping[str, Optional[List[PrecomputedPairScores]]]] = None,
        metric: str = "sMOTSA",
        subsets: Optional[Mapping[str, Sequence[str]]] = None,
    ):
        self.sequences = dict(sequences)
        self.ground_truth = (
            ground_truth
            if isinstance(ground_truth, MOTSGroundTruth)
            else MOTSGroundTruth(ground_truth)
        )
        self.params = params
        self.pair_scores = dict(pair_scores or {})
        self.metric = resolve_metric(metric)
        self.subsets = {name: list(names) for name, names in (subsets or {}).items()}
        if self.subsets and isinstance(ground_truth, MOTSGroundTruth):
            raise ValueError("scoring subsets of the sequences needs the ground truth as a dict")
        self._subset_ground_truth = {
            name: MOTSGroundTruth({s: ground_truth[s] for s in names})
            for name, names in self.subsets.items()
        }

    def params_for(self, category: int, setting: Mapping[str, float]) -> TrackerParams:
        """``self.params`` with the values of ``setting`` for class ``category``."""
        changes = {}
        for name, value in setting.items():
            values = list(getattr(self.params, name))
            values[category] = value
            changes[name] = tuple(values)
        return dataclasses.replace(self.params, **changes)

    def evaluate(self, category: int, setting: Mapping[str, float]) -> Dict[str, object]:
        """Track class ``category`` with ``setting`` on every sequence; its metrics (the
        objective is ``result[self.metric]``, the worst possible value when the setting starts
        more tracks than the MOTS format can number), and with ``subsets`` those of each
        subset under ``"subsets"``."""
        params = self.params_for(category, setting)
        class_name = params.class_names[category]
        results = {}
        try:
            for name, frames in self.sequences.items():
                tracks = track_sequence(
                    frames,
                    params,
                    pair_scores=self.pair_scores.get(name),
                    categories=[category],
                )
                results[name] = tracks_to_mots_objects(tracks)
        except TrackNumberOverflow:
            worst = {self.metric: math.inf if is_minimised(self.metric) else -math.inf}
            if not self.subsets:
                return worst
            return {**worst, "subsets": {name: dict(worst) for name in self.subsets}}
        metrics = _class_metrics(self.ground_truth, results, class_name)
        if self.subsets:
            metrics["subsets"] = {
                name: _class_metrics(
                    self._subset_ground_truth[name], {s: results[s] for s in names}, class_name
                )
                for name, names in self.subsets.items()
            }
        return metrics

    def evaluate_together(self, params: TrackerParams) -> Dict[str, Dict[str, float]]:
        """``{class: metrics}`` of every class tracked at once with ``params``, masks disjoint
        across classes: what the evaluation reports on these detections."""
        results = {
            name: tracks_to_mots_objects(
                track_sequence(frames, params, pair_scores=self.pair_scores.get(name))
            )
            for name, frames in self.sequences.items()
        }
        metrics = evaluate_mots(
            self.ground_truth, results, class_names=params.class_names, validate=False
        )
        return {name: metrics[name] for name in params.class_names}


def _class_metrics(ground_truth, results, class_name: str) -> Dict[str, float]:
    metrics = evaluate_mots(ground_truth, results, class_names=(class_name,), validate=False)
    return {k: float(v) for k, v in metrics[class_name].items() if isinstance(v, (int, float))}


_WORKER_SEARCH: Optional[ThresholdSearch] = None


def _init_worker(search: ThresholdSearch) -> None:
    global _WORKER_SEARCH
    _WORKER_SEARCH = search


def _run_trial(task):
    index, category, setting = task
    return index, _WORKER_SEARCH.evaluate(category, setting)


def run_trials(
    search: ThresholdSearch,
    tasks: Sequence[Tuple[int, Mapping[str, float]]],
    workers: int = 1,
    progress: bool = True,
) -> List[Dict[str, float]]:
    """Evaluate ``(category, setting)`` tasks, in parallel worker processes when ``workers >
    1`` (forked, so the search is not copied per task); metrics in task order."""
    indexed = [(i, category, setting) for i, (category, setting) in enumerate(tasks)]
    results: List[Optional[Dict[str, float]]] = [None] * len(indexed)
    bar = _progress_bar(len(indexed), progress)
    if workers > 1 and len(indexed) > 1:
        context = multiprocessing.get_context(
            "fork" if "fork" in multiprocessing.get_all_start_methods() else None
        )
        with context.Pool(workers, initializer=_init_worker, initargs=(search,)) as pool:
            for index, metrics in pool.imap_unordered(_run_trial, indexed):
                results[index] = metrics
                bar.update(1)
    else:
        _init_worker(search)
        for task in indexed:
            index, metrics = _run_trial(task)
            results[index] = metrics
            bar.update(1)
    bar.close()
    return results


def _progress_bar(total: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc="threshold search", unit="trial", disable=not enabled)
