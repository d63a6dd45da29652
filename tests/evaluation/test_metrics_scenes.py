"""Scenes built to decide one rule of the evaluation each, checked against TrackEval (the
official evaluation) and against what the scene makes of the rule by hand."""
import pytest
from helpers.mots_eval_cases import box, frames

from trackrcnn_d2.evaluation.metrics import MOTSEvaluationError, MOTSGroundTruth, evaluate_mots

SIZE = (20, 40)
IGNORE = 10000


def _region(frame, y0, y1, x0, x1):
    return box(frame, IGNORE, y0, y1, x0, x1, size=SIZE)


def _several_ignore_regions():
    """Frame 0 has three ignore regions: R1 and R2 disjoint, R3 overlapping R1 in part. The
    unmatched hypotheses: 7 lies in R2 only; 8 is 40 % in R1 and 50 % in R3, 70 % in their
    union; 9 lies in no region. A matched car (1001) is left alone. Frame 1 repeats frame 0
    with R2 alone listed first."""
    regions = [_region(0, 0, 10, 0, 10), _region(0, 0, 10, 20, 30), _region(0, 5, 15, 5, 15)]
    car = box(0, 1001, 16, 20, 30, 40, size=SIZE)
    gt = {"0000": frames(car, *regions, _region(1, 0, 10, 20, 30), car._replace(frame=1))}
    hypotheses = [
        box(0, 1001, 16, 20, 30, 40, size=SIZE),
        box(0, 1007, 2, 6, 22, 26, size=SIZE),  # in R2
        box(0, 1008, 8, 13, 0, 10, size=SIZE),  # in R1 u R3 only
        box(0, 1009, 16, 20, 0, 4, size=SIZE),  # in none
    ]
    results = {"0000": frames(*hypotheses, *(h._replace(frame=1) for h in hypotheses))}
    return gt, results


def test_several_ignore_regions_in_one_frame_count_as_their_union(trackeval_report):
    """TrackEval (kitti_mots.py l. 336-350) removes an unmatched hypothesis more than half in
    the union of the frame's ignore regions. Frame 0: 7 (in R2, not the first region) and 8
    (in the union of R1 and R3, in neither alone) are removed, 9 stays a false positive.
    Frame 1 has R2 only: 7 is removed, 8 and 9 are false positives."""
    gt, results = _several_ignore_regions()
    ours = evaluate_mots(gt, results, ("car",))
    assert (ours["car"]["TP"], ours["car"]["FP"]) == (2, 1 + 2)
    trackeval = trackeval_report(gt, results, ("car",), "kitti")
    assert (trackeval["car"]["TP"], trackeval["car"]["FP"]) == (2, 3)
    for field in ("sMOTSA", "MOTSA", "HOTA", "DetA", "IDF1", "Precision"):
        assert ours["car"][field] == pytest.approx(trackeval["car"][field], rel=1e-9), field


# A very small overlap between a GT mask and a hypothesis still counts in HOTA: in frame 10
# the hypothesis track 1001 (the GT car's partner in frames 0..9) touches the GT car by 2 of
# 1598 pixels (IoU 0.00125), while 1002 (a long track of false positives) covers 6 % of it.
# HOTA matches on alignment x IoU: 0.83 x 0.00125 beats 0.006 x 0.06, so the car is matched
# to 1001 and, below every alpha, counts as missed; dropping the tiny pair would match it to
# 1002, a true positive at alpha 0.05.
TINY_SIZE = (40, 80)


def _tiny_overlap_case(touching=True):
    gt_car = [box(f, 1001, 0, 20, 0, 40, size=TINY_SIZE) for f in range(11)]
    partner = [box(f, 1001, 0, 20, 0, 40, size=TINY_SIZE) for f in range(10)]
    left = 38 if touching else 41
    partner.append(box(10, 1001, 19, 39, left, left + 40, size=TINY_SIZE))
    long_track = [box(10, 1002, 0, 4, 0, 12, size=TINY_SIZE)]
    long_track += [box(f, 1002, 30, 40, 0, 10, size=TINY_SIZE) for f in range(11, 160)]
    return {"0000": frames(*gt_car)}, {"0000": frames(*partner, *long_track)}


def test_very_small_overlaps_take_part_in_the_matching(trackeval_report):
    gt, results = _tiny_overlap_case()
    ours = evaluate_mots(gt, results, ("car",))
    trackeval = trackeval_report(gt, results, ("car",), "kitti")
    for field in ("HOTA", "DetA", "AssA", "LocA", "DetRe", "DetPr"):
        assert ours["car"][field] == pytest.approx(trackeval["car"][field], rel=1e-9), field
    # The scene decides: without the 2-pixel contact the car of frame 10 is matched to 1002.
    apart = evaluate_mots(*_tiny_overlap_case(touching=False), ("car",))
    assert apart["car"]["DetA"] > ours["car"]["DetA"]


def test_ground_truth_with_exactly_two_overlapping_masks_is_refused():
    gt = {"0000": frames(box(3, 1001, 0, 4, 0, 4), box(3, 2001, 3, 6, 3, 6))}
    with pytest.raises(MOTSEvaluationError, match="frame 3: the masks of object 1001 and "
                                                  "object 2001 overlap"):  # fmt: skip
        MOTSGroundTruth(gt)


def test_two_overlapping_ignore_regions_alone_are_merged_not_refused():
    gt = {"0000": frames(box(3, 1001, 8, 10, 8, 12), box(3, IGNORE, 0, 4, 0, 4),
                         box(3, IGNORE, 2, 6, 2, 6))}  # fmt: skip
    assert MOTSGroundTruth(gt)["0000"].ignore[3] is not None


def test_mostly_and_partly_tracked_at_their_boundaries(trackeval_report):
    """TrackEval (clear.py l. 119-123): a GT track matched in more than 80 % of its frames is
    mostly tracked, in at least 20 % partly tracked, else mostly lost. Five 5-frame cars,
    matched in 5, 4 (exactly 80 %: partly), 1 (exactly 20 %: partly), 0 frames, and a
    10-frame car matched in 9 (90 %: mostly)."""
    gt_boxes, hypotheses = [], []
    for k, matched in enumerate([5, 4, 1, 0]):
        obj_id, x = 1001 + k, 8 * k
        for f in range(5):
            gt_boxes.append(box(f, obj_id, 0, 4, x, x + 4, size=SIZE))
            if f < matched:
                hypotheses.append(box(f, obj_id, 0, 4, x, x + 4, size=SIZE))
    for f in range(10):
        gt_boxes.append(box(f, 1009, 10, 14, 0, 4, size=SIZE))
        if f < 9:
            hypotheses.append(box(f, 1009, 10, 14, 0, 4, size=SIZE))
    gt, results = {"0000": frames(*gt_boxes)}, {"0000": frames(*hypotheses)}
    ours = evaluate_mots(gt, results, ("car",))["car"]
    assert (ours["MT"], ours["PT"], ours["ML"]) == (2, 2, 1)
    reference = trackeval_report(gt, results, ("car",), "kitti")["car"]
    assert (reference["MT"], reference["PT"], reference["ML"]) == (2, 2, 1)


def test_clear_keeps_the_previous_frames_pairing_through_ties(trackeval_report):
    """TrackEval's CLEAR (clear.py l. 82-84) scores last frame's pair 1000 above the IoU. GT car
    A is two pixels, hypotheses 1 and 2 one each (IoU 0.5 both, a tie) in three frames: the
    first frame's choice (1, first in the file) is kept although 2 comes first afterwards, so
    there is no id switch. The ties are solved by the Hungarian algorithm in every frame."""
    gt = {"0000": frames(*(box(f, 1001, 0, 1, 0, 2, size=SIZE) for f in range(3)))}
    first, second = (box(0, i, 0, 1, i - 1, i, class_id=1, size=SIZE) for i in (1, 2))
    results = {"0000": frames(first, second, second._replace(frame=1), first._replace(frame=1),
                              second._replace(frame=2), first._replace(frame=2))}  # fmt: skip
    classes = ("car", "pedestrian")  # two classes: cells are (frame, class) pairs
    ours = evaluate_mots(gt, results, classes)["car"]
    assert (ours["TP"], ours["IDS"], ours["FP"]) == (3, 0, 3)
    reference = trackeval_report(gt, results, classes, "kitti")["car"]
    assert (reference["TP"], reference["IDS"], reference["FP"]) == (3, 0, 3)


def test_frame_numbers_at_their_limits():
    """Frames 0 and 2^32 - 1 are evaluated; -1 and 2^32 are refused (every frame of every
    sequence has one int64 key, sequence x 2^32 + frame)."""
    from trackrcnn_d2.data.mots_io import MAX_FRAME

    for frame in (0, MAX_FRAME):
        gt = {"0000": frames(box(frame, 1001, 0, 2, 0, 2))}
        assert evaluate_mots(gt, gt, ("car",))["car"]["TP"] == 1
    for frame in (-1, MAX_FRAME + 1):
        gt = {"0000": frames(box(0, 1001, 0, 2, 0, 2))}
        results = {"0000": frames(box(frame, 1001, 0, 2, 0, 2))}
        with pytest.raises(MOTSEvaluationError, match=f"has frame {frame}; frame numbers must"):
            evaluate_mots(gt, results, ("car",))


def test_frames_of_different_sequences_never_share_a_key():
    """Sequence 0000's frame 2^31 + 5 and sequence 0001's frame 5 are different frames: the
    car of one is not matched to the hypothesis of the other."""
    far = 2**31 + 5
    gt = {"0000": frames(box(far, 1001, 0, 2, 0, 2)), "0001": frames(box(5, 1002, 0, 2, 0, 2))}
    results = {"0000": {}, "0001": frames(box(far, 1001, 0, 2, 0, 2))}
    report = evaluate_mots(gt, results, ("car",))
    assert (report["car"]["TP"], report["car"]["FP"], report["car"]["FN"]) == (0, 1, 2)


def test_hypotheses_that_overlap_no_ground_truth_at_all():
    gt = {"0000": frames(box(0, 1001, 0, 2, 0, 2))}
    results = {"0000": frames(box(0, 1, 5, 7, 5, 7, class_id=1), box(1, 1, 5, 7, 5, 7,
                                                                     class_id=1))}  # fmt: skip
    report = evaluate_mots(gt, results, ("car",))["car"]
    assert (report["TP"], report["FP"], report["FN"], report["IDTP"]) == (0, 2, 1, 0)


def test_a_sequence_without_ground_truth_masks_takes_the_results_size():
    """No GT mask in 0001 (the image size is unknown from the GT): its results must agree on
    one size among themselves, and count as false positives."""
    gt = {"0000": frames(box(0, 1001, 0, 2, 0, 2)), "0001": {}}
    results = {"0001": frames(box(0, 1, 0, 2, 0, 2, class_id=1), box(1, 1, 0, 2, 0, 2,
                                                                     class_id=1))}  # fmt: skip
    report = evaluate_mots(gt, results, ("car",))
    assert report["per_sequence"]["0001"]["car"]["FP"] == 2
    results["0001"][1] = [box(1, 1, 0, 2, 0, 2, class_id=1, size=(11, 12))]
    other_size = "frame 1: object 1 has image size 11x12, but the ground truth of the sequence"
    with pytest.raises(MOTSEvaluationError, match=f"{other_size} is 10x12"):
        evaluate_mots(gt, results, ("car",))


def test_a_bad_rle_string_is_reported_by_its_message_alone():
    bad = box(0, 1, 0, 2, 0, 2, class_id=1)
    bad = bad._replace(rle={"size": bad.rle["size"], "counts": b"0"})
    gt = {"0000": frames(box(0, 1001, 0, 2, 0, 2))}
    with pytest.raises(MOTSEvaluationError) as error:
        evaluate_mots(gt, {"0000": frames(bad)}, ("car",))
    assert str(error.value).startswith("results of sequence 0000, frame 0, object 1: the RLE")
