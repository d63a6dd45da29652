"""evaluate_mots_with_matching: the matching it returns is the one the report's counts are made
of (TP, FN, FP, IDS and Frag per sequence and class recounted from it), and its HOTA curves per
alpha are TrackEval's."""

import contextlib
import io

import numpy as np
import pytest
from helpers.environment import import_or_skip
from helpers.mots_eval_cases import box, frames, random_case

from trackrcnn_d2.evaluation.metrics import (
    HOTA_ALPHAS,
    evaluate_mots,
    evaluate_mots_with_matching,
)
from trackrcnn_d2.evaluation.metrics.pairing import EPS, MATCH_THRESHOLD


def _recount(matching, sequence_index, class_index):
    """TP, FN, FP, IDS and Frag of one (sequence, class) group from the recorded matches."""
    data, matches = matching.data, matching.matches
    group = sequence_index * data.n_cls + class_index
    in_group = data.gt_tracks.det_group[matches.gt] == group
    tracks = data.gt_tracks.track[matches.gt[in_group]]
    starts = np.bincount(tracks[matches.is_run_start[in_group]], minlength=data.gt_tracks.n_tracks)
    return {
        "TP": int(in_group.sum()),
        "FN": int((data.gt_tracks.det_group == group).sum() - in_group.sum()),
        "FP": int((data.tracker_tracks.det_group == group).sum() - in_group.sum()),
        "IDS": int(matches.is_switch[in_group].sum()),
        "Frag": int(np.maximum(starts - 1, 0).sum()),
    }


@pytest.mark.parametrize("seed", range(12))
def test_recorded_matches_add_up_to_the_report(seed):
    gt, results = random_case(np.random.default_rng(seed), n_seq=2, n_frames=14)
    class_names = ("car", "pedestrian")
    matching = evaluate_mots_with_matching(gt, results, class_names)
    assert matching.report == evaluate_mots(gt, results, class_names)
    data, matches = matching.data, matching.matches
    # A matching: each GT mask and each hypothesis at most once, same frame and class, IoU >= 0.5.
    assert len(np.unique(matches.gt)) == len(matches.gt)
    assert len(np.unique(matches.tracker)) == len(matches.tracker)
    assert np.array_equal(data.gt_dets.frame[matches.gt], data.tracker_dets.frame[matches.tracker])
    assert np.array_equal(data.gt_dets.cls[matches.gt], data.tracker_dets.cls[matches.tracker])
    assert (matches.sim >= MATCH_THRESHOLD - EPS).all()
    for s, sequence in enumerate(matching.ground_truth.sequences):
        for c, name in enumerate(class_names):
            row = matching.report["per_sequence"][sequence][name]
            expected = {f: row[f] for f in ("TP", "FN", "FP", "IDS", "Frag")}
            assert _recount(matching, s, c) == expected


def test_switch_and_run_start_on_a_hand_made_track():
    """GT car over frames 0-4; hypothesis 1 in frames 0-1, nothing matched in frame 2 (a
    hypothesis elsewhere keeps the frame active), hypothesis 2 in frames 3-4: one IDS at frame
    3 (old track 1), two runs (one Frag), one FN."""
    gt = {"s": frames(*[box(f, 1001, 0, 4, 0, 4) for f in range(5)])}
    hypotheses = [box(f, 1, 0, 4, 0, 4, class_id=1) for f in (0, 1)]
    hypotheses += [box(2, 7, 6, 9, 6, 9, class_id=1)]
    hypotheses += [box(f, 2, 0, 4, 0, 4, class_id=1) for f in (3, 4)]
    matching = evaluate_mots_with_matching(gt, {"s": frames(*hypotheses)}, ("car",))
    data, matches = matching.data, matching.matches
    frame = data.frame_number[data.gt_dets.frame[matches.gt]]
    hypothesis = data.tracker_dets.ids[matches.tracker]
    assert frame.tolist() == [0, 1, 3, 4]
    assert hypothesis.tolist() == [1, 1, 2, 2]
    assert matches.is_switch.tolist() == [False, False, True, False]
    assert matches.is_run_start.tolist() == [True, False, True, False]
    report = matching.report["car"]
    assert (report["IDS"], report["Frag"], report["FN"], report["FP"]) == (1, 1, 1, 1)


@pytest.mark.parametrize("seed", [0, 5])
def test_alpha_curves_are_trackevals_and_average_to_the_report(seed, tmp_path):
    trackeval = import_or_skip("trackeval")
    from trackrcnn_d2.evaluation.reference import trackeval_configs, write_trackeval_folders

    gt, results = random_case(np.random.default_rng(seed), n_seq=2, n_frames=10)
    class_names = ("car", "pedestrian")
    matching = evaluate_mots_with_matching(gt, results, class_names)
    seq_info = write_trackeval_folders(str(tmp_path), gt, results, "kitti")
    dataset_name, dataset_config, evaluator_config = trackeval_configs(
        str(tmp_path), seq_info, class_names, "kitti"
    )
    with contextlib.redirect_stdout(io.StringIO()):
        output, _ = trackeval.Evaluator(evaluator_config).evaluate(
            [getattr(trackeval.datasets, dataset_name)(dataset_config)],
            [trackeval.metrics.HOTA()],
        )
    theirs = output[dataset_name]["ours"]
    for name in class_names:
        for sequence, key in [(None, "COMBINED_SEQ"), *((s, s) for s in gt)]:
            curves = matching.alpha_curves(name, sequence)
            row = (
                matching.report[name]
                if sequence is None
                else matching.report["per_sequence"][sequence][name]
            )
            for field in ("HOTA", "DetA", "AssA", "LocA"):
                assert len(curves[field]) == len(HOTA_ALPHAS)
                np.testing.assert_allclose(
                    curves[field], 100 * theirs[key][name]["HOTA"][field], rtol=1e-9, atol=1e-9
                )
                assert np.mean(curves[field]) == pytest.approx(row[field], rel=1e-12)
