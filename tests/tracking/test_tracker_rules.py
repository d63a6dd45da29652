"""Rules of the tracker that the scenes of the other tests do not decide: a long video's
gallery, precomputed scores, the release tracker's Hungarian step, the class map's edges and
the detections' types."""
import numpy as np
import pytest
import torch
from detectron2.structures import Boxes, Instances
from helpers.tracking import make_frame

from trackrcnn_d2.tracking import (
    FrameDetections,
    PrecomputedPairScores,
    TrackerParams,
    frame_detections_from_instances,
    track_sequence,
)
from trackrcnn_d2.tracking.class_map import build_class_map, map_classes

PARAMS = TrackerParams(
    class_names=("car", "pedestrian"),
    detection_confidence=(0.5,),
    maskprop_threshold=(0.3,),
    assoc_threshold=(0.5,),
)


def test_a_track_is_found_again_after_the_gallery_has_grown():
    """Algorithm 1 compares with every detection selected so far in the video: after 80 other
    tracks (the gallery grows past its first 64 rows) the first car comes back, far from where
    it was, and joins its track through its association vector."""
    frames = [make_frame(0, [{"box": [0, 0, 10, 10], "vec": [50, 50]}])]
    for t in range(1, 81):  # one new car per frame, each elsewhere, with its own vector
        x = 20 + (t % 7) * 10
        frames.append(make_frame(t, [{"box": [x, 30, x + 8, 38], "vec": [t, -t]}]))
    frames.append(make_frame(81, [{"box": [85, 50, 95, 60], "vec": [50.1, 50]}]))
    tracks = track_sequence(frames, PARAMS)
    assert [o.obj_id for o in tracks[80]] == [1081]
    assert [o.obj_id for o in tracks[81]] == [1001]


def test_precomputed_pair_scores_replace_the_masks_overlap():
    """The threshold search gives the mask propagation scores itself: the tracker uses them,
    not the overlap of the masks (here none, where the given score says 0.9)."""
    frames = [make_frame(0, [{"box": [0, 0, 10, 10]}], with_vectors=False),
              make_frame(1, [{"box": [50, 30, 60, 40]}], with_vectors=False)]  # fmt: skip
    params = PARAMS.replace(association="maskprop")
    given = [None, PrecomputedPairScores(np.array([[0.9]]), None)]
    assert [o.obj_id for o in track_sequence(frames, params, pair_scores=given)[1]] == [1001]
    assert [o.obj_id for o in track_sequence(frames, params)[1]] == [1002]


def test_release_tracker_minimises_the_total_association_distance():
    """Two tracks, two detections, all four pairs allowed: the Hungarian step takes the pairs
    of least total distance (0.1 + 0.15), not the largest (0.3 + 0.35)."""
    params = PARAMS.replace(association="release_assoc")
    frames = [
        make_frame(0, [{"box": [0, 0, 10, 10], "vec": [0, 0]},
                       {"box": [30, 0, 40, 10], "vec": [1, 0]}]),
        make_frame(1, [{"box": [60, 30, 70, 40], "vec": [0.1, 0]},
                       {"box": [80, 30, 90, 40], "vec": [0.85, 0]}]),
    ]  # fmt: skip
    params = params.replace(assoc_threshold=(0.95,))
    tracks = track_sequence(frames, params)
    assert {o.det_index: o.obj_id for o in tracks[1]} == {0: 1001, 1: 1002}


def test_a_model_class_mapped_twice_is_refused_whichever_the_target():
    for target in ("car", "pedestrian"):
        with pytest.raises(ValueError, match="'person' is mapped twice"):
            build_class_map(["person", "car"], ["car", "pedestrian"],
                            [["person", target], ["person", target]])  # fmt: skip


def test_an_unknown_model_class_lists_the_first_twelve_classes():
    model_classes = [f"class{i}" for i in range(14)]
    with pytest.raises(ValueError) as error:
        build_class_map(model_classes, ["car"], [["dog", "car"]])
    assert "(class0, class1, class2, class3, class4, class5, class6, class7, class8, class9, " \
           "class10, class11, ...)" in str(error.value)  # fmt: skip
    with pytest.raises(ValueError) as error:
        build_class_map(model_classes[:12], ["car"], [["dog", "car"]])
    assert "class11)" in str(error.value) and "..." not in str(error.value)


def _instances(classes):
    instances = Instances((20, 30))
    instances.pred_boxes = Boxes(torch.tensor([[1.0, 2.0, 10.0, 12.0]] * len(classes)))
    instances.scores = torch.full((len(classes),), 0.9)
    instances.pred_classes = torch.tensor(classes)
    return instances


def test_a_predicted_class_just_beyond_the_map_is_named():
    table = build_class_map(["person", "bicycle", "car"], ["car", "pedestrian"],
                            [["person", "pedestrian"], ["car", "car"]])  # fmt: skip
    with pytest.raises(ValueError, match="predicts class 3, but DATASETS.MOTS.CLASS_MAP is for 3"):
        map_classes(_instances([0, 3, 1]), table)
    kept = map_classes(_instances([2, 1, 0]), table)
    assert kept.pred_classes.tolist() == [0, 1]


def test_frame_detections_hold_numpy_arrays_of_the_documented_types():
    frame = make_frame(3, [{"box": [1, 2, 10, 12]}])
    detections = FrameDetections("s", 3, frame.height, frame.width, [[1, 2, 10, 12]], [0.5],
                                 [1], tuple(frame.masks))  # fmt: skip
    assert detections.boxes.dtype == np.float32 and detections.boxes.shape == (1, 4)
    assert detections.scores.dtype == np.float32 and detections.classes.dtype == np.int64
    assert isinstance(detections.masks, list)
    converted = frame_detections_from_instances(_instances([1]))
    assert (converted.sequence, converted.frame_idx) == ("", 0)
