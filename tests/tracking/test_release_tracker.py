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
