"""The released code's tracker (ASSOCIATION "release_assoc") beside Algorithm 1."""
import pytest

from trackrcnn_d2.tracking import TrackerParams, track_sequence

PARAMS = TrackerParams(
    class_names=("car", "pedestrian"),
    association="release_assoc",
    detection_confidence=(0.5,),
    assoc_threshold=(0.5,),
    keep_alive=(1,),
)


def ids(tracks):
    return {f: sorted(o.obj_id for o in objects) for f, objects in tracks.items()}


def _gap_sequence(frame_factory, empty_frames):
    """An object, then ``empty_frames`` frames without it, then it again (near vector)."""
    first = frame_factory(0, [{"box": [10, 10, 30, 40], "vec": [1, 0]}])
    empty = [frame_factory(1 + i, []) for i in range(empty_frames)]
    back = frame_factory(1 + empty_frames, [{"box": [60, 10, 80, 40], "vec": [1.2, 0.1]}])
    return [first, *empty, back]


@pytest.mark.parametrize("empty_frames, same_track", [(0, True), (1, True), (2, False)])
def test_tracks_stay_matchable_for_keep_alive_frames(frame_factory, empty_frames, same_track):
    tracks = track_sequence(_gap_sequence(frame_factory, empty_frames), PARAMS)
    last = empty_frames + 1
    assert ids(tracks)[0] == [1001]
    assert ids(tracks)[last] == ([1001] if same_track else [1002])
    # keep_alive 0: adjacent frames only, as "assoc".
    adjacent_only = PARAMS.replace(keep_alive=(0,))
    adjacent = track_sequence(_gap_sequence(frame_factory, empty_frames), adjacent_only)
    assert ids(adjacent)[last] == ([1001] if empty_frames == 0 else [1002])


def test_hungarian_on_association_distance_and_low_confidence_dropped(frame_factory):
    frames = [
        frame_factory(0, [{"box": [10, 10, 30, 40], "vec": [0, 0]},
                          {"box": [60, 10, 80, 40], "vec": [0.5, 0]}]),
        # Greedy matching would give detection 0 to track 1 (distance 0.1) and leave detection
        # 1 (0.2 from track 1, 0.7 from track 2) unmatched; the Hungarian step matches both.
        frame_factory(1, [{"box": [10, 10, 30, 40], "vec": [0.1, 0]},
                          {"box": [60, 10, 80, 40], "vec": [-0.2, 0]},
                          {"box": [40, 40, 50, 50], "vec": [0, 0], "score": 0.3}]),
    ]  # fmt: skip
    tracks = track_sequence(frames, PARAMS)
    # The low-confidence detection joins no track and starts none.
    assert {o.det_index: o.obj_id for o in tracks[1]} == {0: 1002, 1: 1001}


def test_keep_alive_is_read_from_the_config_and_validated():
    from detectron2.config import get_cfg

    from trackrcnn_d2.config import add_trackrcnn_config

    cfg = get_cfg()
    add_trackrcnn_config(cfg)
    cfg.TRACKER_HEADS.ASSOCIATION = "release_assoc"
    params = TrackerParams.from_config(cfg)
    assert params.keep_alive == (4, 6) and params.mechanism.keep_alive
    assert params.mechanism.uses_association_vectors
    with pytest.raises(ValueError, match="keep_alive"):
        PARAMS.replace(keep_alive=(1, 2, 3))


@pytest.mark.parametrize("association", ["release_assoc", "maskprop_assoc", "assoc"])
def test_a_score_equal_to_gamma_is_confident_only_when_inclusive(frame_factory, association):
    """The release keeps a detection at score >= gamma (forwarding/tracking/Util_tracking.py
    l. 89 and 228); Algorithm 1 line 4 takes conf > gamma."""
    frames = [frame_factory(0, [{"box": [10, 10, 30, 40], "score": 0.5}])]
    params = PARAMS.replace(association=association)
    assert ids(track_sequence(frames, params))[0] == []
    inclusive = params.replace(detection_confidence_inclusive=True)
    assert ids(track_sequence(frames, inclusive))[0] == [1001]


def test_release_distance_thresholds_decide_as_the_release_similarity(frame_factory):
    """The release matches a detection to a track when scale * (offset - distance) >
    association_threshold (Util_tracking.py l. 113-115 and 170): a distance below offset -
    threshold / scale. configs/conv3d_sep2 l. 46, car: offset 8.8102, scale 1.0091, threshold
    0.8166."""
    offset, scale, threshold = 8.810218833503743, 1.0090931467228708, 0.8165986526897969
    params = PARAMS.replace(assoc_threshold=(offset - threshold / scale,), keep_alive=(4,))
    for distance in (0.5, 7.9, 7.99, 8.0009, 8.0011, 8.1, 12.0):
        frames = [
            frame_factory(0, [{"box": [10, 10, 30, 40], "vec": [0.0, 0.0]}]),
            frame_factory(1, [{"box": [10, 10, 30, 40], "vec": [distance, 0.0]}]),
        ]
        release_matches = scale * (offset - distance) > threshold
        assert ids(track_sequence(frames, params))[1] == ([1001] if release_matches else [1002])
