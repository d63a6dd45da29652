"""evaluate_mots on tiny hand-computed cases, one per term of the metrics (paper Sec. 4 as
TrackEval implements it). Images are 10x12; ``box`` makes rectangular masks."""
import math

import pytest
from helpers.mots_eval_cases import box, frames

from trackrcnn_d2.evaluation.metrics import MOTSGroundTruth, evaluate_mots

CAR_A, CAR_B, PED_A = 1001, 1002, 2001


def car(report):
    return report["car"]


def test_perfect_tracking_scores_100_everywhere():
    gt = {"s": frames(*[box(f, CAR_A, 0, 3, f, f + 3) for f in range(3)],
                      *[box(f, PED_A, 5, 9, 6, 8) for f in range(3)])}  # fmt: skip
    results = {"s": frames(*[box(f, 7, 0, 3, f, f + 3, class_id=1) for f in range(3)],
                           *[box(f, 8, 5, 9, 6, 8, class_id=2) for f in range(3)])}  # fmt: skip
    report = evaluate_mots(gt, results)
    for class_name in ("car", "pedestrian"):
        r = report[class_name]
        for field in ("sMOTSA", "MOTSA", "MOTSP", "HOTA", "DetA", "AssA", "LocA", "IDF1"):
            assert r[field] == pytest.approx(100.0), field
        assert (r["TP"], r["FP"], r["FN"], r["IDS"], r["GT"]) == (3, 0, 0, 0, 3)
        assert (r["MT"], r["PT"], r["ML"], r["Frag"]) == (1, 0, 0, 0)
    assert report["per_sequence"]["s"]["car"] == report["car"]


def test_a_miss_is_a_false_negative():
    gt = {"s": frames(box(0, CAR_A, 0, 4, 0, 4), box(1, CAR_A, 0, 4, 1, 5))}
    results = {"s": frames(box(0, 5, 0, 4, 0, 4, class_id=1))}
    r = car(evaluate_mots(gt, results, ("car",)))
    assert (r["TP"], r["FN"], r["FP"], r["IDS"], r["GT"]) == (1, 1, 0, 0, 2)
    assert r["MOTSA"] == pytest.approx(50.0)  # (TP - FP - IDS) / GT
    assert r["sMOTSA"] == pytest.approx(50.0)
    assert r["MOTSP"] == pytest.approx(100.0)
    assert (r["MT"], r["PT"], r["ML"]) == (0, 1, 0)  # tracked in 1 of 2 frames
    assert r["DetA"] == pytest.approx(50.0)  # TP / (TP + FN + FP) at every alpha
    assert r["AssA"] == pytest.approx(50.0)  # 1 match / (2 GT + 1 hyp - 1 match)
    assert r["HOTA"] == pytest.approx(50.0)
    assert (r["IDTP"], r["IDFN"], r["IDFP"]) == (1, 1, 0)
    assert r["IDF1"] == pytest.approx(100 * 1 / (1 + 0.5))


def test_false_positive_and_soft_true_positive():
    gt = {"s": frames(box(0, CAR_A, 0, 4, 0, 4))}  # 16 pixels
    results = {"s": frames(box(0, 1, 0, 4, 0, 3, class_id=1),  # 12 of them: IoU 0.75
                           box(0, 2, 6, 8, 6, 9, class_id=1))}  # fmt: skip
    r = car(evaluate_mots(gt, results, ("car",)))
    assert (r["TP"], r["FP"], r["FN"], r["GT"]) == (1, 1, 0, 1)
    assert r["soft_TP"] == pytest.approx(0.75)
    assert r["MOTSP"] == pytest.approx(75.0)
    assert r["MOTSA"] == pytest.approx(0.0)  # (1 - 1 - 0) / 1
    assert r["sMOTSA"] == pytest.approx(-25.0)  # (0.75 - 1 - 0) / 1
    assert r["Precision"] == pytest.approx(50.0)
    # LocA is averaged over alpha = 0.05 .. 0.95: 0.75 for the 15 alphas up to 0.75, and
    # TrackEval's 1 where nothing is matched (alpha 0.8 .. 0.95).
    assert r["LocA"] == pytest.approx(100 * (15 * 0.75 + 4 * 1.0) / 19)


def test_unmatched_hypothesis_mostly_inside_an_ignore_region_is_not_a_false_positive():
    ignore = box(0, 10000, 6, 10, 0, 12)  # rows 6..9
    gt = {"s": frames(box(0, CAR_A, 0, 3, 0, 3), ignore)}
    inside = box(0, 1, 6, 8, 0, 4, class_id=1)  # entirely in the ignore region: dropped
    half = box(0, 2, 4, 8, 8, 12, class_id=1)  # 8 of 16 pixels inside: IoA 0.5, not > 0.5
    matched = box(0, 3, 0, 3, 0, 3, class_id=1)
    r = car(evaluate_mots(gt, {"s": frames(inside, half, matched)}, ("car",)))
    assert (r["TP"], r["FP"], r["FN"]) == (1, 1, 0)
    r = car(evaluate_mots(gt, {"s": frames(inside, matched)}, ("car",)))
    assert (r["TP"], r["FP"], r["FN"]) == (1, 0, 0)
    assert r["sMOTSA"] == pytest.approx(100.0)


def test_id_switch_across_a_gap_counts_against_the_last_match():
    """TrackEval compares with the last frame in which the GT track was matched (here two
    frames earlier); the paper's formal IDS, which needs a matched immediate predecessor,
    would count 0."""
    gt = {"s": frames(*[box(f, CAR_A, 0, 3, 0, 3) for f in range(3)])}
    results = [box(0, 1, 0, 3, 0, 3, class_id=1), box(2, 2, 0, 3, 0, 3, class_id=1)]
    r = car(evaluate_mots(gt, {"s": frames(*results)}, ("car",)))
    assert (r["TP"], r["FN"], r["IDS"]) == (2, 1, 1)
    assert r["MOTSA"] == pytest.approx(100 * (2 - 0 - 1) / 3)
    # Frame 1 has no hypotheses at all, so TrackEval does not count the gap as a fragmentation.
    assert r["Frag"] == 0
    # With a hypothesis elsewhere in frame 1 the track is fragmented: two matched runs.
    results.append(box(1, 3, 6, 9, 6, 9, class_id=1))
    r = car(evaluate_mots(gt, {"s": frames(*results)}, ("car",)))
    assert (r["IDS"], r["FP"], r["Frag"]) == (1, 1, 1)


def test_id_switch_between_adjacent_frames_in_hota_and_idf1():
    gt = {"s": frames(box(0, CAR_A, 0, 3, 0, 3), box(1, CAR_A, 0, 3, 1, 4))}
    results = {"s": frames(box(0, 1, 0, 3, 0, 3, class_id=1), box(1, 2, 0, 3, 1, 4, class_id=1))}
    r = car(evaluate_mots(gt, results, ("car",)))
    assert (r["TP"], r["IDS"]) == (2, 1)
    assert r["MOTSA"] == pytest.approx(50.0)
    assert r["DetA"] == pytest.approx(100.0)
    assert r["AssA"] == pytest.approx(50.0)  # each match: 1 / (2 + 1 - 1)
    assert r["HOTA"] == pytest.approx(100 * math.sqrt(0.5))
    assert (r["IDTP"], r["IDFP"], r["IDFN"]) == (1, 1, 1)
    assert r["IDF1"] == pytest.approx(50.0)


def test_iou_exactly_one_half_is_a_match_and_just_below_is_not():
    gt = {"s": frames(box(0, CAR_A, 0, 2, 0, 2), box(0, CAR_B, 4, 7, 4, 7))}  # 4 and 9 pixels
    results = {"s": frames(box(0, 1, 0, 2, 0, 1, class_id=1),  # 2 of 4: IoU = 0.5
                           box(0, 2, 4, 6, 4, 6, class_id=1))}  # 4 of 9: IoU 0.44  # fmt: skip
    r = car(evaluate_mots(gt, results, ("car",)))
    assert (r["TP"], r["FP"], r["FN"]) == (1, 1, 1)
    assert r["soft_TP"] == pytest.approx(0.5)
    assert r["IDTP"] == 1  # the Identity metrics also count IoU >= 0.5


def test_classes_are_evaluated_separately():
    gt = {"s": frames(box(0, CAR_A, 0, 3, 0, 3))}
    results = {"s": frames(box(0, 2005, 0, 3, 0, 3))}  # the right mask, the wrong class
    report = evaluate_mots(gt, results)
    assert (report["car"]["TP"], report["car"]["FN"], report["car"]["FP"]) == (0, 1, 0)
    assert (report["pedestrian"]["FP"], report["pedestrian"]["GT"]) == (1, 0)


def test_empty_sequence_and_empty_class():
    gt = {"a": frames(box(0, CAR_A, 0, 3, 0, 3)), "b": {}}
    results = {"a": frames(box(0, 1, 0, 3, 0, 3, class_id=1)), "b": {}}
    report = evaluate_mots(gt, results)
    empty = report["per_sequence"]["b"]["car"]
    assert all(empty[f] == 0 for f in ("TP", "FP", "FN", "GT", "IDS", "MT", "PT", "ML"))
    assert empty["sMOTSA"] == 0.0 and empty["HOTA"] == 0.0 and empty["IDF1"] == 0.0
    assert empty["LocA"] == 100.0  # TrackEval's value when nothing is matched
    assert report["car"] == report["per_sequence"]["a"]["car"]
    # No pedestrian GT and no pedestrian results: TrackEval's zeros.
    assert report["pedestrian"]["sMOTSA"] == 0.0 and report["pedestrian"]["GT"] == 0


def test_sequence_without_gt_of_a_class_but_with_hypotheses():
    """TrackEval's per-sequence CLEAR leaves MOTA at 0 for a sequence without GT of the class;
    combined over sequences the false positives count."""
    gt = {"a": frames(box(0, CAR_A, 0, 3, 0, 3)), "b": frames(box(0, PED_A, 0, 3, 0, 3))}
    results = {"a": frames(box(0, 1, 0, 3, 0, 3, class_id=1)),
               "b": frames(box(0, 1, 5, 8, 5, 8, class_id=1))}  # fmt: skip
    report = evaluate_mots(gt, results, ("car",))
    assert report["per_sequence"]["b"]["car"]["FP"] == 1
    assert report["per_sequence"]["b"]["car"]["MOTSA"] == 0.0
    assert report["car"]["MOTSA"] == pytest.approx(0.0)  # (1 - 1 - 0) / 1


def test_class_without_gt_in_any_sequence_counts_its_false_positives_combined():
    """No car GT anywhere, two car hypotheses: per sequence TrackEval's early return leaves
    MOTA at 0; combined, its _compute_final_fields divides by max(1, GT) = 1, so
    MOTSA = sMOTSA = (0 - 2 - 0) / 1."""
    gt = {"a": frames(box(0, PED_A, 0, 3, 0, 3)), "b": frames(box(0, PED_A, 0, 3, 0, 3))}
    results = {"a": frames(box(0, 1, 5, 8, 5, 8, class_id=1)),
               "b": frames(box(0, 1, 5, 8, 5, 8, class_id=1))}  # fmt: skip
    report = evaluate_mots(gt, results, ("car",))
    r = report["car"]
    assert (r["TP"], r["FP"], r["GT"], r["IDS"]) == (0, 2, 0, 0)
    assert r["MOTSA"] == pytest.approx(-200.0)
    assert r["sMOTSA"] == pytest.approx(-200.0)
    assert report["per_sequence"]["a"]["car"]["MOTSA"] == 0.0


def test_prepared_ground_truth_and_skipped_validation_give_the_same_report():
    ignore = box(1, 10000, 8, 10, 0, 12)
    gt = {"s": frames(box(0, CAR_A, 0, 4, 0, 4), box(1, CAR_A, 0, 4, 1, 5), ignore)}
    results = {"s": frames(box(0, 3, 0, 4, 0, 3, class_id=1), box(1, 4, 8, 9, 0, 5, class_id=1))}
    expected = evaluate_mots(gt, results)
    prepared = MOTSGroundTruth(gt)
    assert evaluate_mots(prepared, results) == expected
    assert evaluate_mots(prepared, results, validate=False) == expected
    assert evaluate_mots(prepared, results) == expected  # the prepared GT is reusable


def test_report_layout_and_types():
    gt = {"s": frames(box(0, CAR_A, 0, 3, 0, 3))}
    report = evaluate_mots(gt, {"s": frames(box(0, 1, 0, 3, 0, 3, class_id=1))})
    assert set(report) == {"car", "pedestrian", "per_sequence"}
    assert set(report["per_sequence"]) == {"s"}
    for field in ("sMOTSA", "MOTSA", "MOTSP", "HOTA", "IDF1"):
        assert type(report["car"][field]) is float
    for field in ("IDS", "TP", "FP", "FN", "GT", "MT", "Frag"):
        assert type(report["car"][field]) is int
