"""Algorithm 1 (paper Supplement A) and the Table 5 mechanisms on hand-built sequences."""
import numpy as np
import pytest

from trackrcnn_d2.data import mots_io
from trackrcnn_d2.tracking import (
    ASSOCIATION_MECHANISMS,
    TrackedObject,
    TrackerParams,
    TrackNumberOverflow,
    make_disjoint,
    track_sequence,
    tracks_to_mots_objects,
)
from trackrcnn_d2.tracking.detections import boxes_to_masks, encode_masks
from trackrcnn_d2.tracking.matching import greedy_match, hungarian_match
from trackrcnn_d2.utils.rle import decode_mask

PARAMS = TrackerParams(
    class_names=("car", "pedestrian"),
    detection_confidence=(0.5,),
    maskprop_threshold=(0.3,),
    assoc_threshold=(0.5,),
    center_distance_threshold=(15.0,),
)


def ids(tracks):
    """{frame: sorted obj_ids}."""
    return {f: sorted(o.obj_id for o in objects) for f, objects in tracks.items()}


def test_maskprop_match_extends_a_track_and_new_objects_start_tracks(frame_factory):
    frames = [
        frame_factory(0, [{"box": [10, 10, 30, 40], "vec": [0, 0]}]),
        frame_factory(
            1,
            [
                {"box": [13, 10, 33, 40], "vec": [9, 9]},  # moved 3 px; vector far: maskprop only
                {"box": [60, 10, 80, 40], "vec": [5, 0]},  # a new object
            ],
        ),
    ]
    tracks = track_sequence(frames, PARAMS)
    assert ids(tracks) == {0: [1001], 1: [1001, 1002]}
    first_mask = {o.obj_id: o for o in tracks[1]}[1001]
    assert first_mask.score == pytest.approx(0.99)
    expected = boxes_to_masks(np.array([[13, 10, 33, 40]]), 60, 100)[0]
    np.testing.assert_array_equal(decode_mask(first_mask.rle), expected)


def test_reidentification_after_a_gap_through_the_association_vector(frame_factory):
    frames = [
        frame_factory(0, [{"box": [10, 10, 30, 40], "vec": [1, 0]}]),
        frame_factory(1, []),
        frame_factory(2, []),
        frame_factory(3, [{"box": [60, 10, 80, 40], "vec": [1.2, 0.1]}]),  # no overlap, near vector
    ]
    assert ids(track_sequence(frames, PARAMS)) == {0: [1001], 1: [], 2: [], 3: [1001]}
    # Without association vectors the same detection starts a new track.
    no_assoc = track_sequence(frames, PARAMS.replace(association="maskprop"))
    assert ids(no_assoc)[3] == [1002]


def test_low_confidence_detection_joins_a_track_but_never_starts_one(frame_factory):
    frames = [
        frame_factory(0, [{"box": [10, 10, 30, 40], "vec": [1, 0]}]),
        frame_factory(
            1,
            [
                {"box": [12, 10, 32, 40], "vec": [1.1, 0], "score": 0.2},  # joins track 1
                {"box": [60, 10, 80, 40], "vec": [-3, 3], "score": 0.2},  # matches nothing
            ],
        ),
    ]
    tracks = track_sequence(frames, PARAMS)
    assert ids(tracks) == {0: [1001], 1: [1001]}
    assert tracks[1][0].score == pytest.approx(0.2)
    # The low-confidence detection is matched by association, not by mask propagation.
    assert ids(track_sequence(frames, PARAMS.replace(association="maskprop")))[1] == []


def test_a_track_gets_at_most_one_detection_per_frame(frame_factory):
    frames = [
        frame_factory(0, [{"box": [10, 10, 30, 40], "vec": [1, 0]}]),
        frame_factory(
            1,
            [
                {"box": [50, 10, 70, 40], "vec": [1.05, 0], "score": 0.2},
                {"box": [75, 10, 95, 40], "vec": [1.1, 0], "score": 0.3},
            ],
        ),
    ]
    tracks = track_sequence(frames, PARAMS)
    assert ids(tracks) == {0: [1001], 1: [1001]}
    assert tracks[1][0].score == pytest.approx(0.2)  # the closer vector wins the greedy match


def test_track_extended_by_maskprop_is_not_offered_to_assoc_match(frame_factory):
    frames = [
        frame_factory(0, [{"box": [10, 10, 30, 40], "vec": [1, 0]}]),
        frame_factory(
            1,
            [
                {"box": [11, 10, 31, 40], "vec": [1, 0]},  # maskprop match
                {"box": [60, 10, 80, 40], "vec": [1, 0]},  # same vector: must start a new track
            ],
        ),
    ]
    assert ids(track_sequence(frames, PARAMS)) == {0: [1001], 1: [1001, 1002]}


def test_classes_are_tracked_separately(frame_factory):
    car = {"box": [10, 10, 30, 40], "vec": [1, 0], "cls": 0}
    pedestrian = {"box": [10, 10, 30, 40], "vec": [1, 0], "cls": 1}
    frames = [
        frame_factory(0, [car]),
        frame_factory(1, [pedestrian]),  # same place and vector, other class
        frame_factory(2, [car, {"box": [60, 10, 80, 40], "vec": [1, 0], "cls": 1}]),
    ]
    tracks = track_sequence(frames, PARAMS.replace(disjoint="score"))
    assert ids(tracks) == {0: [1001], 1: [2001], 2: [1001, 2001]}
    assert {o.obj_id: o.category for o in tracks[2]} == {1001: 0, 2001: 1}
    only_pedestrians = track_sequence(frames, PARAMS, categories=[1])
    assert ids(only_pedestrians) == {0: [], 1: [2001], 2: [2001]}


def test_per_class_thresholds_follow_the_class_order(frame_factory):
    params = PARAMS.replace(detection_confidence=(0.9, 0.5))
    frames = [frame_factory(0, [{"box": [10, 10, 30, 40], "score": 0.7, "cls": c}]) for c in (0, 1)]
    assert ids(track_sequence(frames[:1], params)) == {0: []}
    assert ids(track_sequence(frames[1:], params)) == {0: [2001]}


def test_detections_below_min_score_or_with_tiny_masks_are_ignored(frame_factory):
    frames = [
        frame_factory(0, [{"box": [10, 10, 30, 40], "vec": [1, 0]}]),
        frame_factory(
            1,
            [
                {"box": [60, 10, 80, 40], "vec": [1, 0], "score": 0.05},
                {"box": [10, 10, 13, 13], "vec": [1, 0]},  # 9 pixels
            ],
        ),
    ]
    assert ids(track_sequence(frames, PARAMS.replace(min_score=0.1)))[1] == []


@pytest.mark.parametrize("association", ASSOCIATION_MECHANISMS)
def test_every_table5_mechanism_follows_two_moving_objects(frame_factory, association):
    frames = [
        frame_factory(
            t,
            [
                {"box": [5 + 4 * t, 10, 25 + 4 * t, 40], "vec": [1, 0]},
                {"box": [70 - 4 * t, 15, 90 - 4 * t, 45], "vec": [0, 1]},
            ],
        )
        for t in range(4)
    ]
    tracks = track_sequence(frames, PARAMS.replace(association=association, disjoint="score"))
    per_frame = [sorted(o.obj_id for o in tracks[t]) for t in range(4)]
    assert per_frame == [[1001, 1002]] * 4


def test_adjacent_frame_mechanisms_do_not_bridge_gaps(frame_factory):
    frames = [
        frame_factory(0, [{"box": [10, 10, 30, 40], "vec": [1, 0]}]),
        frame_factory(1, []),
        frame_factory(2, [{"box": [10, 10, 30, 40], "vec": [1, 0]}]),
    ]
    for association in ("maskprop", "bbox_iou", "assoc", "bbox_center"):
        tracks = track_sequence(frames, PARAMS.replace(association=association))
        assert ids(tracks)[2] == [1002], association
    assert ids(track_sequence(frames, PARAMS))[2] == [1001]


def test_make_disjoint_gives_overlap_to_the_lower_object():
    boxes = np.array([[10, 10, 40, 40], [20, 20, 50, 50]], dtype=np.float32)  # 2nd reaches lower
    rles = encode_masks(boxes_to_masks(boxes, 60, 100))
    objects = [
        TrackedObject(0, 1001, 0, rles[0], 0.9),
        TrackedObject(0, 1002, 0, rles[1], 0.5),
    ]
    by_bottom = {o.obj_id: decode_mask(o.rle) for o in make_disjoint(objects, "bottom")}
    assert by_bottom[1002].sum() == 30 * 30
    assert by_bottom[1001].sum() == 30 * 30 - 20 * 20
    assert not (by_bottom[1001] & by_bottom[1002]).any()
    by_score = {o.obj_id: decode_mask(o.rle) for o in make_disjoint(objects, "score")}
    assert by_score[1001].sum() == 30 * 30
    assert by_score[1002].sum() == 30 * 30 - 20 * 20


def test_make_disjoint_drops_a_fully_covered_object():
    boxes = np.array([[10, 10, 40, 40], [15, 15, 30, 30]], dtype=np.float32)
    rles = encode_masks(boxes_to_masks(boxes, 60, 100))
    objects = [TrackedObject(0, 1001, 0, rles[0], 0.9), TrackedObject(0, 1002, 0, rles[1], 0.9)]
    assert [o.obj_id for o in make_disjoint(objects)] == [1001]


def test_tracker_output_masks_are_disjoint(frame_factory):
    frames = [
        frame_factory(
            t, [{"box": [10, 10, 40, 40], "vec": [1, 0]}, {"box": [25, 20, 55, 50], "vec": [0, 1]}]
        )
        for t in range(2)
    ]
    tracks = track_sequence(frames, PARAMS)
    for objects in tracks_to_mots_objects(tracks).values():
        assert len(objects) == 2
        mots_io.objects_to_id_map(objects, 60, 100)  # raises on overlap


def test_more_than_999_tracks_of_a_class_is_a_clear_error(frame_factory):
    # A centre distance below 0 never matches: every frame starts a new track.
    params = PARAMS.replace(association="bbox_center", center_distance_threshold=(0.0,))
    box = {"box": [10, 10, 30, 40]}
    frames = [frame_factory(t, [box], with_vectors=False) for t in range(1000)]
    with pytest.raises(TrackNumberOverflow, match="DETECTION_CONFIDENCE"):
        track_sequence(frames, params)
    assert ids(track_sequence(frames[:999], params))[998] == [1999]


def test_params_validate_lengths_and_names():
    with pytest.raises(ValueError, match="one value per class"):
        TrackerParams(class_names=("car", "pedestrian"), detection_confidence=(0.1, 0.2, 0.3))
    with pytest.raises(ValueError, match="association mechanism"):
        TrackerParams(class_names=("car",), association="magic")


def test_hungarian_maximises_the_number_of_allowed_pairs_then_the_score():
    scores = np.array([[0.9, 0.8], [0.85, 0.0]])
    allowed = scores > 0.5
    # Greedy would pair (0, 0) and leave row 1 alone; two pairs are possible.
    assert hungarian_match(scores, allowed, maximize=True) == [(0, 1), (1, 0)]
    assert hungarian_match(np.zeros((0, 3)), np.zeros((0, 3), bool), maximize=True) == []


def test_greedy_match_uses_each_row_and_group_once_by_increasing_distance():
    distances = np.array([[0.1, 0.3, 0.2], [0.15, 0.9, 0.4]])
    groups = np.array([7, 7, 8])
    assert greedy_match(distances, distances < 0.5, groups) == [(0, 7), (1, 8)]
    assert greedy_match(distances, distances < 0.12, groups) == [(0, 7)]
