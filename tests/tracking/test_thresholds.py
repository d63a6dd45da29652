"""Every threshold of the tracker at, just below and just above its value, for every mechanism.

Each scene puts one pair score (mask IoU, box IoU, association distance, centre distance), a
confidence, a mask area or a gap exactly on its threshold; the expected outcome comes from the
convention of the source each row follows, stated beside it: the paper (Algorithm 1, Sec. 5,
Supplement A: confidence "larger than" gamma, maskprop scores "larger than" delta_maskprop,
association distances "smaller than" delta_assoc) or the released code
(forwarding/tracking/Util_tracking.py: ``score >= detection_confidence_threshold``, masks with
``area <= 10`` dropped, a track kept while ``track.t >= t - keep_alive``, pairs with similarity
``<= association_threshold`` disallowed). Scores and thresholds are exactly representable
(0.5, 5.0 in float32), so "at" is exact.
"""
import numpy as np
import pytest
from helpers.tracking import make_frame

from trackrcnn_d2.tracking import MECHANISMS, TrackerParams, track_sequence

GAMMA = 0.5
EPS = 1e-3  # far above the rounding of the scores (float64 IoUs, float32 distances)
BASE = TrackerParams(
    class_names=("car", "pedestrian"),
    detection_confidence=(GAMMA,),
    maskprop_threshold=(0.3,),
    assoc_threshold=(0.5,),
    center_distance_threshold=(15.0,),
    keep_alive=(1,),
)


def _float32_neighbours(value):
    """(just below, at, just above) ``value`` as float32 scores."""
    at = np.float32(value)
    return np.nextafter(at, np.float32(0)), at, np.nextafter(at, np.float32(2))


def _second_frame_ids(first, second, params):
    tracks = track_sequence([make_frame(0, [first]), make_frame(1, [second])], params)
    assert [o.obj_id for o in tracks[0]] == [1001]
    return [o.obj_id for o in tracks[1]]


# Pair scores of exactly 0.5 and 5.0:
# - mask IoU: a 20x20 mask and the 20x10 half of it (no flow: mask propagation is their IoU);
# - box IoU: the same boxes (bbox_iou, no flow);
# - association distance: vectors (1, 0) and (4, 4);
# - box centre distance: centres (10, 10) and (13, 14).
HALF_IOU = ({"box": [10, 10, 30, 30], "vec": [0, 0]}, {"box": [10, 10, 30, 20], "vec": [90, 0]})
DISTANCE_5 = ({"box": [0, 0, 10, 10], "vec": [1, 0]}, {"box": [60, 30, 70, 40], "vec": [4, 4]})
CENTRES_5 = ({"box": [0, 0, 20, 20], "vec": [0, 0]}, {"box": [3, 4, 23, 24], "vec": [90, 0]})

# (mechanism, threshold field, scene, its score, the pair matches when the score is ...,
# convention): "above" = score > threshold, "below" = score < threshold.
PAIR_THRESHOLDS = [
    ("maskprop_assoc", "maskprop_threshold", HALF_IOU, 0.5, "above", "paper: Alg. 1 maskprop"),
    ("maskprop_assoc", "assoc_threshold", DISTANCE_5, 5.0, "below", "paper: Alg. 1 assoc_match"),
    ("maskprop", "maskprop_threshold", HALF_IOU, 0.5, "above", "paper: Table 5, Alg. 1"),
    ("bbox_iou", "maskprop_threshold", HALF_IOU, 0.5, "above", "paper: Table 5 as maskprop"),
    ("assoc", "assoc_threshold", DISTANCE_5, 5.0, "below", "paper: Table 5, Alg. 1"),
    ("bbox_center", "center_distance_threshold", CENTRES_5, 5.0, "below", "ours: a distance"),
    ("release_assoc", "assoc_threshold", DISTANCE_5, 5.0, "below", "release: similarity >"),
]


@pytest.mark.parametrize(
    "association, field, scene, score, direction, convention",
    PAIR_THRESHOLDS,
    ids=[f"{row[0]}-{row[1]}" for row in PAIR_THRESHOLDS],
)
def test_pair_score_thresholds(association, field, scene, score, direction, convention):
    outcomes = []
    for threshold in (score - EPS, score, score + EPS):
        params = BASE.replace(association=association, **{field: (threshold,)})
        outcomes.append(_second_frame_ids(*scene, params) == [1001])
    # Threshold just below, at, just above the score: does the pair match?
    expected = [True, False, False] if direction == "above" else [False, False, True]
    assert outcomes == expected, convention


def test_every_mechanism_has_its_pair_thresholds_tested():
    assert {row[0] for row in PAIR_THRESHOLDS} == set(MECHANISMS)


# gamma: a detection exactly at gamma is not confident in the paper (Alg. 1 line 4: conf_d >
# gamma, the default), and is in the released code (score >= detection_confidence_threshold:
# TRACKER_HEADS.DETECTION_CONFIDENCE_INCLUSIVE).


@pytest.mark.parametrize("inclusive", [False, True], ids=["paper", "release"])
@pytest.mark.parametrize("association", sorted(MECHANISMS))
def test_gamma_decides_which_detections_start_tracks(association, inclusive):
    params = BASE.replace(association=association, detection_confidence_inclusive=inclusive)
    started = []
    for score in _float32_neighbours(GAMMA):
        frame = make_frame(0, [{"box": [10, 10, 30, 30], "vec": [0, 0], "score": score}])
        started.append(len(track_sequence([frame], params)[0]) == 1)
    assert started == [False, inclusive, True]


@pytest.mark.parametrize("association", ["maskprop", "bbox_iou", "bbox_center", "assoc"])
def test_gamma_decides_which_detections_continue_tracks(association):
    """In the Table 5 mechanisms only confident detections are matched (paper: > gamma): a
    detection at gamma that overlaps the track perfectly, with the same vector, is dropped."""
    params = BASE.replace(association=association)
    continued = []
    for score in _float32_neighbours(GAMMA):
        second = {"box": [10, 10, 30, 30], "vec": [0, 0], "score": score}
        continued.append(_second_frame_ids({"box": [10, 10, 30, 30], "vec": [0, 0]}, second,
                                           params) == [1001])  # fmt: skip
    assert continued == [False, False, True]


def test_release_assoc_continues_a_track_with_a_detection_at_gamma():
    """Released code: score >= gamma is confident, and only confident detections match."""
    params = BASE.replace(association="release_assoc", detection_confidence_inclusive=True)
    continued = []
    for score in _float32_neighbours(GAMMA):
        second = {"box": [60, 30, 70, 40], "vec": [0.1, 0], "score": score}
        continued.append(_second_frame_ids({"box": [0, 0, 10, 10], "vec": [0, 0]}, second,
                                           params) == [1001])  # fmt: skip
    assert continued == [False, True, True]


def test_low_confidence_detections_join_down_to_min_score():
    """Ours (config: detections *below* MIN_SCORE are ignored): a low-confidence detection at
    MIN_SCORE still joins a track through assoc_match (Alg. 1's D_t), one just below does not."""
    params = BASE.replace(min_score=0.25)
    joined = []
    for score in _float32_neighbours(0.25):
        second = {"box": [60, 30, 70, 40], "vec": [0.1, 0], "score": score}
        joined.append(_second_frame_ids({"box": [0, 0, 10, 10], "vec": [0, 0]}, second, params))
    assert joined == [[], [1001], [1001]]


@pytest.mark.parametrize("association", sorted(MECHANISMS))
def test_min_mask_area_drops_masks_of_at_most_that_many_pixels(association):
    """Released code: ``if cocomask.area(mask) <= 10: continue`` (MIN_MASK_AREA 10)."""
    params = BASE.replace(association=association, min_mask_area=10)
    started = []
    for width in (9, 10, 11):  # masks of 9, 10 and 11 pixels (one row)
        frame = make_frame(0, [{"box": [10, 10, 10 + width, 11]}])
        assert int(frame.mask_areas[0]) == width
        started.append(len(track_sequence([frame], params)[0]) == 1)
    assert started == [False, False, True]


def test_min_mask_area_also_drops_low_confidence_detections_that_would_join():
    params = BASE.replace(min_mask_area=10)
    joined = []
    for width in (10, 11):
        second = {"box": [60, 30, 60 + width, 31], "vec": [0.1, 0], "score": 0.2}
        joined.append(_second_frame_ids({"box": [0, 0, 10, 10], "vec": [0, 0]}, second, params))
    assert joined == [[], [1001]]


@pytest.mark.parametrize("keep_alive", [1, 3])
def test_keep_alive_bridges_gaps_of_up_to_that_many_frames(keep_alive):
    """Released code: after frame t a track stays active while ``track.t >= t - keep_alive``,
    so it can continue after ``keep_alive`` frames without it, not after one more."""
    params = BASE.replace(association="release_assoc", keep_alive=(keep_alive,))
    continued = []
    for gap in (keep_alive - 1, keep_alive, keep_alive + 1):
        frames = [make_frame(0, [{"box": [0, 0, 10, 10], "vec": [0, 0]}])]
        frames += [make_frame(1 + i, []) for i in range(gap)]
        frames.append(make_frame(1 + gap, [{"box": [60, 30, 70, 40], "vec": [0.1, 0]}]))
        last = track_sequence(frames, params)[1 + gap]
        continued.append([o.obj_id for o in last] == [1001])
    assert continued == [True, True, False]


def test_keep_alive_is_per_class():
    """KEEP_ALIVE (car, pedestrian) = (0, 2): after a gap of two frames the pedestrian's track
    continues, the car's does not."""
    params = BASE.replace(association="release_assoc", keep_alive=(0, 2))
    objects = [{"box": [0, 0, 10, 10], "vec": [0, 0], "cls": 0},
               {"box": [20, 0, 30, 10], "vec": [5, 5], "cls": 1}]  # fmt: skip
    back = [{"box": [60, 30, 70, 40], "vec": [0.1, 0], "cls": 0},
            {"box": [80, 30, 90, 40], "vec": [5.1, 5], "cls": 1}]  # fmt: skip
    frames = [make_frame(0, objects), make_frame(1, []), make_frame(2, []), make_frame(3, back)]
    assert sorted(o.obj_id for o in track_sequence(frames, params)[3]) == [1002, 2001]


def test_per_class_pair_thresholds_follow_the_class_order():
    """delta_maskprop (0.45, 0.55) for (car, pedestrian): the IoU-0.5 pair matches for cars
    only."""
    params = BASE.replace(association="maskprop", maskprop_threshold=(0.45, 0.55))
    first, second = HALF_IOU
    assert _second_frame_ids(first, second, params) == [1001]
    pedestrians = [make_frame(0, [{**first, "cls": 1}]), make_frame(1, [{**second, "cls": 1}])]
    tracks = track_sequence(pedestrians, params)
    assert [o.obj_id for o in tracks[0]] == [2001] and [o.obj_id for o in tracks[1]] == [2002]
