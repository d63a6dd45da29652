"""Choosing thresholds from the trials: the best trial, the best region ("smoothed"), and the
cross-validation over sequences that tells whether a choice holds on unseen sequences."""
import numpy as np
import pytest
from helpers.tuning_cases import PERFECT, synthetic_sequence

from trackrcnn_d2.tuning import (
    ThresholdSearch,
    best_per_class,
    cross_validate,
    cross_validation_subsets,
    select_per_class,
    sequence_folds,
)


def _trials_with_a_lone_peak():
    """Class 0, gamma on a grid: sMOTSA 80 on a plateau (gamma 0.60-0.75), a lone peak of 85 at
    0.95 between settings that score 40."""
    trials = []
    for gamma in np.linspace(0.5, 0.99, 50):
        value = 80.0 if 0.6 <= gamma <= 0.75 else 40.0
        if abs(gamma - 0.95) < 0.005:
            value = 85.0
        trials.append((0, {"detection_confidence": float(gamma)}, {"sMOTSA": value}))
    return trials


def test_best_takes_the_peak_and_smoothed_the_flat_region():
    trials = _trials_with_a_lone_peak()
    best = select_per_class(trials, "sMOTSA", "best")[0][0]["detection_confidence"]
    assert best == pytest.approx(0.95, abs=0.005)
    assert select_per_class(trials, "sMOTSA", "best") == best_per_class(trials, "sMOTSA")
    smoothed = select_per_class(trials, "sMOTSA", "smoothed")
    assert 0.6 <= smoothed[0][0]["detection_confidence"] <= 0.75
    assert smoothed[0][1]["sMOTSA"] == 80.0  # the chosen trial's own metrics


def test_error_counts_are_smoothed_towards_fewer():
    trials = [(0, {"detection_confidence": g}, {"IDS": 3.0 if g < 0.7 else 9.0})
              for g in np.linspace(0.5, 0.99, 30)]  # fmt: skip
    chosen = select_per_class(trials, "ids", "smoothed")
    assert chosen[0][0]["detection_confidence"] < 0.7


def test_folds_deal_the_sequences_round_robin_and_partition_them():
    folds = sequence_folds(["0003", "0001", "0000", "0002", "0004"], 2)
    assert folds == [["0000", "0002", "0004"], ["0001", "0003"]]
    subsets = cross_validation_subsets(folds)
    assert subsets == {
        "fit0": ["0001", "0003"], "held_out0": ["0000", "0002", "0004"],
        "fit1": ["0000", "0002", "0004"], "held_out1": ["0001", "0003"],
    }  # fmt: skip
    with pytest.raises(ValueError, match="2 to 5 folds"):
        sequence_folds(["0000", "0001", "0002", "0003", "0004"], 6)


def test_cross_validation_scores_each_choice_on_the_fold_it_did_not_see():
    """Two trials, two folds: A is better on fold 0, B on fold 1. Chosen on fold 1 (fit0), B
    is scored on fold 0, where the config's own setting does better: a negative held-out gain
    beside a positive gain on the sequences it was chosen on."""

    def metrics(fold0, fold1):
        return {
            "sMOTSA": (fold0 + fold1) / 2,
            "subsets": {"held_out0": {"sMOTSA": fold0}, "fit0": {"sMOTSA": fold1},
                        "held_out1": {"sMOTSA": fold1}, "fit1": {"sMOTSA": fold0}},
        }  # fmt: skip

    trials = [(0, {"detection_confidence": 0.6}, metrics(90, 50)),
              (0, {"detection_confidence": 0.9}, metrics(60, 80))]  # fmt: skip
    own = {0: metrics(70, 70)}
    report = cross_validate(trials, own, "sMOTSA", folds=2, rules=["best"])
    # Fold 0: chosen on fit0 (fold 1): B (80 > 50), held out 60 - 70; fit 80 - 70.
    # Fold 1: chosen on fit1 (fold 0): A (90 > 60), held out 50 - 70; fit 90 - 70.
    assert report == {0: {"best": {"held_out": [-10.0, -20.0], "fit": [10.0, 20.0]}}}


def test_subsets_are_scored_as_those_sequences_alone():
    sequences = {f"{i:04d}": synthetic_sequence(f"{i:04d}", i, frames=6) for i in range(3)}
    gt = {name: seq[0] for name, seq in sequences.items()}
    detections = {name: seq[2] for name, seq in sequences.items()}
    params = PERFECT.replace(association="assoc")
    setting = {"detection_confidence": 0.5, "assoc_threshold": 0.0}  # an IDS per frame
    subsets = {"a": ["0000", "0002"], "b": ["0001"]}
    search = ThresholdSearch(detections, gt, params, subsets=subsets)
    metrics = search.evaluate(1, setting)
    for name, members in subsets.items():
        alone = ThresholdSearch(
            {s: detections[s] for s in members}, {s: gt[s] for s in members}, params
        ).evaluate(1, setting)
        assert metrics["subsets"][name] == alone
    assert metrics["IDS"] == sum(metrics["subsets"][n]["IDS"] for n in subsets) > 0
