"""Bad input gets a clear error naming sequence, frame and ids (never a crash in pycocotools)."""
import numpy as np
import pytest
from helpers.mots_eval_cases import box, frames

from trackrcnn_d2.data.mots_io import MOTSObject
from trackrcnn_d2.evaluation.metrics import (
    MissingResultsWarning,
    MOTSEvaluationError,
    MOTSGroundTruth,
    evaluate_mots,
)
from trackrcnn_d2.evaluation.metrics.pairing import missing_results_message
from trackrcnn_d2.evaluation.metrics.validation import RLEStringError
from trackrcnn_d2.utils.rle import encode_mask

GT = {"0002": frames(box(0, 1001, 0, 3, 0, 3), box(1, 1001, 0, 3, 1, 4),
                     box(1, 10000, 8, 10, 0, 12))}  # fmt: skip


def test_overlapping_results_are_refused_naming_sequence_frame_and_ids():
    results = {"0002": frames(box(1, 7, 0, 3, 0, 3, class_id=1), box(1, 9, 2, 5, 2, 5, class_id=2))}
    with pytest.raises(MOTSEvaluationError, match=r"sequence 0002, frame 1.*object 7.*object 9"):
        evaluate_mots(GT, results)


def test_overlap_with_an_unevaluated_class_is_refused_too():
    results = {"0002": frames(box(0, 7, 0, 3, 0, 3, class_id=1), box(0, 3001, 1, 2, 1, 2))}
    with pytest.raises(MOTSEvaluationError, match="object 7 and object 3001 overlap"):
        evaluate_mots(GT, results, ("car",))


def test_overlapping_ground_truth_is_refused():
    gt = {"0002": frames(box(4, 1001, 0, 3, 0, 3), box(4, 10000, 2, 4, 0, 12))}
    with pytest.raises(MOTSEvaluationError, match="frame 4.*object 1001 and the ignore region"):
        MOTSGroundTruth(gt)


def _with_counts(obj: MOTSObject, counts: bytes) -> MOTSObject:
    return obj._replace(rle={"size": obj.rle["size"], "counts": counts})


@pytest.mark.parametrize(
    "counts, problem",
    [(b"0", "the RLE covers 0 pixels but the header says 10x12 = 120"),
     (b"5P", r"invalid RLE string \(truncated")],  # fmt: skip
)
def test_rle_strings_that_would_hang_pycocotools_are_refused(counts, problem):
    # A string that covers fewer pixels than its header makes pycocotools' merge (and its IoU,
    # where the boxes meet) loop forever; such strings are refused before any pycocotools call,
    # naming frame and object.
    bad = _with_counts(box(1, 7, 0, 3, 0, 3, class_id=1), counts)
    results = {"0002": frames(bad, box(1, 9, 5, 7, 5, 7, class_id=1))}
    message = rf"results of sequence 0002, frame 1, object 7: {problem}"
    with pytest.raises(RLEStringError, match=message):
        evaluate_mots(GT, results)
    gt = {"0002": frames(box(0, 1001, 0, 3, 0, 3), _with_counts(box(3, 1002, 0, 3, 0, 3), counts))}
    with pytest.raises(RLEStringError, match="ground truth of sequence 0002, frame 3, object 1002"):
        MOTSGroundTruth(gt)


def test_result_sequence_unknown_to_the_ground_truth():
    with pytest.raises(MOTSEvaluationError, match=r"sequence\(s\) \['2'\].*0002"):
        evaluate_mots(GT, {"2": frames(box(0, 7, 0, 3, 0, 3, class_id=1))})


def test_wrong_image_size():
    results = {"0002": frames(box(1, 7, 0, 3, 0, 3, class_id=1, size=(375, 1242)))}
    message = "frame 1: object 7 has image size 375x1242.*10x12"
    with pytest.raises(MOTSEvaluationError, match=message):
        evaluate_mots(GT, results)


def test_duplicate_ids_in_a_frame():
    results = {"0002": frames(box(0, 7, 0, 2, 0, 2, class_id=1), box(0, 7, 5, 7, 5, 7, class_id=1))}
    with pytest.raises(MOTSEvaluationError, match=r"frame 0: object id 7 occurs more"):
        evaluate_mots(GT, results)


def test_frames_outside_the_seqmap_range():
    prepared = MOTSGroundTruth(GT, frame_ranges={"0002": (0, 1)})
    results = {"0002": frames(box(2, 7, 0, 3, 0, 3, class_id=1))}
    with pytest.raises(MOTSEvaluationError, match="frame 2, outside the sequence's frames 0..1"):
        evaluate_mots(prepared, results)
    with pytest.raises(MOTSEvaluationError, match="ground truth of sequence 0002 has frame 1"):
        MOTSGroundTruth(GT, frame_ranges={"0002": (0, 0)})


def test_missing_results_count_as_missed_with_a_warning():
    with pytest.warns(MissingResultsWarning, match="no results for sequence 0002"):
        report = evaluate_mots(GT, {})
    assert (report["car"]["FN"], report["car"]["TP"], report["car"]["sMOTSA"]) == (2, 0, 0.0)


def test_results_of_a_subset_give_one_warning_with_the_count():
    """The demo's validation tracks against the whole synthetic ground truth gave one warning
    per training sequence (18); one warning counts them and points to a seqmap."""
    gt = {f"{i:04d}": GT["0002"] for i in range(12)}
    results = {"0003": GT["0002"]}
    with pytest.warns(MissingResultsWarning) as caught:
        evaluate_mots(gt, results)
    (warning,) = caught
    message = str(warning.message)
    assert message.startswith("no results for 11 of 12 sequences (0000, 0001, 0002, 0004, ")
    assert ", ...): all their ground-truth masks count as missed" in message
    assert "give a seqmap (--seqmap FILE, or seqmap= of evaluate_mots_folders)" in message


def test_missing_results_message_names_eight_sequences_then_dots():
    """Eight missing sequences are all named; from nine on, the first eight and '...'."""
    names = [f"{i:04d}" for i in range(9)]
    eight = missing_results_message(names[:8], 20)
    assert "(0000, 0001, 0002, 0003, 0004, 0005, 0006, 0007): " in eight
    nine = missing_results_message(names, 20)
    assert "(0000, 0001, 0002, 0003, 0004, 0005, 0006, 0007, ...): " in nine
    assert nine.startswith("no results for 9 of 20 sequences")


def test_unknown_class_name():
    with pytest.raises(ValueError, match="cannot evaluate class"):
        evaluate_mots(GT, {}, ("truck",))


def test_empty_masks_are_accepted():
    empty = MOTSObject(0, 7, 1, encode_mask(np.zeros((10, 12), np.uint8)))
    report = evaluate_mots(GT, {"0002": frames(empty, box(0, 8, 0, 3, 0, 3, class_id=1))})
    assert (report["car"]["TP"], report["car"]["FP"]) == (1, 1)


@pytest.mark.parametrize("where", ["gt", "results"])
def test_frame_numbers_beyond_the_frame_key_are_refused(where):
    """Frames of all sequences share one int64 key (sequence * 2^32 + frame): a frame >= 2^32
    would be counted in the next sequence, so it is refused (also without a seqmap)."""
    gt = {"0002": GT["0002"], "0003": frames(box(0, 1001, 0, 3, 0, 3))}
    late = frames(box(2**32, 1001, 0, 3, 0, 3))
    data = {"gt": {**gt, "0002": {**GT["0002"], **late}}, "results": {"0002": late}}
    results = data["results"] if where == "results" else {}
    with pytest.raises(MOTSEvaluationError, match=r"frame 4294967296; frame numbers must be"):
        evaluate_mots(data["gt"] if where == "gt" else gt, results)
