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
    FramePairScores,
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


def test_precomputed_pair_scores_are_the_warped_masks_iou_per_class():
    """The threshold search's scores from a scene with known motion: the flow says everything
    moved 5 pixels right (backward flow -5 in x). The car did, so its warped mask covers the new
    one exactly (score 1); the pedestrian stood still, so its warped mask overlaps half of it
    (50 / 150 pixels); the second car is elsewhere (0); pairs of different classes are never
    scored (0). Without flow it is the other way round."""
    previous = make_frame(0, [{"box": [0, 0, 10, 10]}, {"box": [60, 40, 70, 50], "cls": 1}],
                          with_vectors=False)  # fmt: skip
    current = make_frame(1, [{"box": [5, 0, 15, 10]}, {"box": [40, 20, 50, 30]},
                             {"box": [60, 40, 70, 50], "cls": 1}], with_vectors=False)  # fmt: skip
    params = PARAMS.replace(association="maskprop")
    flow = np.zeros((current.height, current.width, 2), dtype=np.float32)
    flow[..., 0] = -5
    warped = PrecomputedPairScores.compute(FramePairScores(previous, current, flow), params)
    assert warped.mask_propagation(np.arange(3), np.arange(2)) == pytest.approx(
        np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 50 / 150]])
    )
    still = PrecomputedPairScores.compute(FramePairScores(previous, current), params)
    assert still.mask_propagation(np.arange(3), np.arange(2)) == pytest.approx(
        np.array([[50 / 150, 0.0], [0.0, 0.0], [0.0, 1.0]])
    )


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


def test_the_detection_cache_refuses_what_it_cannot_store(tmp_path):
    from trackrcnn_d2.tracking import read_detection_cache_folder, write_detection_cache

    path = str(tmp_path / "0000.npz")
    with pytest.raises(ValueError, match="strictly increasing"):
        write_detection_cache(path, [make_frame(4, []), make_frame(4, [])])
    with pytest.raises(ValueError, match="several sequences"):
        write_detection_cache(path, [make_frame(0, []), make_frame(1, [], sequence="0001")])
    mixed = [make_frame(0, [{"box": [0, 0, 9, 9]}]),
             make_frame(1, [{"box": [0, 0, 9, 9]}], with_vectors=False)]  # fmt: skip
    with pytest.raises(ValueError, match="some frames of '0000' have association vectors"):
        write_detection_cache(path, mixed)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no <sequence>.npz files"):
        read_detection_cache_folder(str(tmp_path / "empty"))
    with pytest.raises(ValueError, match=r"association_vectors must be \(N, D\) with N = 1"):
        frame = make_frame(0, [{"box": [0, 0, 9, 9]}])
        FrameDetections("s", 0, frame.height, frame.width, frame.boxes, [0.9], [0],
                        frame.masks, np.zeros((2, 4)))  # fmt: skip


def test_a_flow_of_another_size_is_refused_naming_both():
    from trackrcnn_d2.tracking import FramePairScores

    frame = make_frame(3, [{"box": [0, 0, 9, 9]}])
    with pytest.raises(ValueError, match=r"frame 3: optical flow of size \(10, 12\) but the "
                                         r"frame is 60x100"):  # fmt: skip
        FramePairScores(make_frame(2, []), frame, np.zeros((10, 12, 2), np.float32))


def test_png_results_of_frames_without_objects(tmp_path):
    from trackrcnn_d2.data import mots_io
    from trackrcnn_d2.tracking import write_tracking_result

    tracks = track_sequence([make_frame(0, [{"box": [0, 0, 9, 9]}]), make_frame(1, [])], PARAMS)
    write_tracking_result(str(tmp_path / "a.txt"), tracks, str(tmp_path / "a"))
    written = mots_io.read_mots_png_sequence(str(tmp_path / "a"))
    assert [o.obj_id for o in written[0]] == [1001] and written[1] == []
    from PIL import Image

    with Image.open(tmp_path / "a" / "000001.png") as empty:
        assert empty.size == (100, 60)  # the size of the frames that have objects
    nothing = track_sequence([make_frame(0, []), make_frame(1, [])], PARAMS)
    write_tracking_result(str(tmp_path / "b.txt"), nothing, str(tmp_path / "b"), (7, 9))
    with Image.open(tmp_path / "b" / "000000.png") as empty:
        assert empty.size == (9, 7)
    with pytest.raises(ValueError, match="frame 0 has no objects and no image_size"):
        write_tracking_result(str(tmp_path / "c.txt"), nothing, str(tmp_path / "c"))


def test_the_default_parameters_are_the_released_codes_tuned_values():
    """configs/conv3d_sep2 of the release: gamma (0.847, 0.937), KEEP_ALIVE (4, 6), masks of
    at most 10 pixels dropped; delta_maskprop 0.1, delta_assoc 1.2 (the centres of its search
    ranges), the paper's tracker, bottom-most mask wins."""
    params = TrackerParams(class_names=("car", "pedestrian"))
    assert params.detection_confidence == (0.847, 0.937)
    assert params.keep_alive == (4, 6) and params.min_mask_area == 10
    assert params.maskprop_threshold == (0.1, 0.1) and params.assoc_threshold == (1.2, 1.2)
    assert params.center_distance_threshold == (50.0, 50.0) and params.min_score == 0.0
    assert (params.association, params.disjoint) == ("maskprop_assoc", "bottom")
    assert params.detection_confidence_inclusive is False


def test_an_unknown_name_of_the_tracking_package_is_an_attribute_error():
    import trackrcnn_d2.tracking as tracking

    with pytest.raises(AttributeError, match="has no attribute 'NoSuchTracker'"):
        tracking.NoSuchTracker  # noqa: B018


def test_a_previous_frame_without_association_vectors_matches_nothing_by_them():
    """A detector that gave no vectors for frame t-1 (a plain Mask R-CNN frame in a cache of
    mixed models): 'assoc' starts a new track instead of failing."""
    frames = [make_frame(0, [{"box": [0, 0, 9, 9]}], with_vectors=False),
              make_frame(1, [{"box": [0, 0, 9, 9], "vec": [0, 0]}])]  # fmt: skip
    tracks = track_sequence(frames, PARAMS.replace(association="assoc"))
    assert [o.obj_id for o in tracks[1]] == [1002]


def test_a_class_map_for_another_number_of_classes_is_refused():
    from detectron2.config import get_cfg
    from detectron2.data import MetadataCatalog

    from trackrcnn_d2.config import add_trackrcnn_config
    from trackrcnn_d2.tracking.class_map import class_map_from_config

    cfg = get_cfg()
    add_trackrcnn_config(cfg)
    MetadataCatalog.get("h21_three_classes").thing_classes = ["person", "car", "dog"]
    cfg.DATASETS.TRAIN = ("h21_three_classes",)
    cfg.DATASETS.MOTS.CLASS_MAP = [["person", "pedestrian"]]
    cfg.MODEL.ROI_HEADS.NUM_CLASSES = 4
    with pytest.raises(ValueError, match="has 3 classes but the model has .*NUM_CLASSES = 4"):
        class_map_from_config(cfg)
    cfg.MODEL.ROI_HEADS.NUM_CLASSES = 3
    assert class_map_from_config(cfg).tolist() == [1, -1, -1]


def _head_instances(masks, scores=(0.99,)):
    height, width = masks.shape[-2:]
    instances = Instances((height, width))
    instances.pred_boxes = Boxes(torch.tensor([[0.0, 0.0, width, height]] * len(masks)))
    instances.scores = torch.tensor(scores, dtype=torch.float32)
    instances.pred_classes = torch.zeros(len(masks), dtype=torch.int64)
    instances.pred_masks = masks
    return instances


def test_the_tracker_head_binarises_soft_masks_at_the_threshold_inclusive():
    """A soft mask's pixel exactly at TRACKER_HEADS.MASK_THRESHOLD (0.5) is in the object, in
    the tracker's RLE and in the returned pred_masks alike."""
    from detectron2.tracking import build_tracker_head
    from helpers.tracking import tracker_config

    from trackrcnn_d2.utils.rle import decode_mask

    cfg = tracker_config("none")
    cfg.TRACKER_HEADS.ASSOCIATION = "maskprop"
    head = build_tracker_head(cfg)
    soft = torch.zeros(1, 20, 30)
    soft[0, 2:8, 3:9] = 0.5
    soft[0, 10:12, 3:9] = 0.49
    out = head.update(_head_instances(soft))
    assert out.pred_masks.dtype == torch.bool
    assert out.pred_masks.sum() == 36 and out.pred_masks[0, 2, 3] and not out.pred_masks[0, 10, 3]
    detections = frame_detections_from_instances(_head_instances(soft))
    assert decode_mask(detections.masks[0]).sum() == 36


def test_the_warning_about_unknown_classes_names_the_contiguous_ids(caplog):
    import logging

    from trackrcnn_d2.tracking.tracker_head import UnusableDetectionWarnings

    warnings = UnusableDetectionWarnings(PARAMS.replace(association="maskprop"), "me")
    frame = make_frame(0, [{"box": [0, 0, 9, 9], "cls": 2}])
    with caplog.at_level(logging.WARNING):
        warnings.check(frame)
    assert "contiguous ids 0..1" in caplog.text and "class [2] are dropped" in caplog.text


@pytest.mark.parametrize("classes, dropped", [([-1, 0, 1], [-1]), ([0, 1], None)])
def test_the_unknown_classes_are_those_below_0_and_from_the_class_count(caplog, classes,
                                                                        dropped):  # fmt: skip
    import logging

    from trackrcnn_d2.tracking.tracker_head import UnusableDetectionWarnings

    warnings = UnusableDetectionWarnings(PARAMS.replace(association="maskprop"), "me")
    frame = make_frame(0, [{"box": [10 * i, 0, 10 * i + 9, 9], "cls": c}
                           for i, c in enumerate(classes)])  # fmt: skip
    with caplog.at_level(logging.WARNING):
        warnings.check(frame)
    if dropped is None:
        assert "are dropped" not in caplog.text
    else:
        assert f"class {dropped} are dropped" in caplog.text


def test_usable_detections_are_of_the_classes_0_to_the_class_count_less_one():
    """Two classes (car 0, pedestrian 1): class 2, one past the last, is not the tracker's."""
    from trackrcnn_d2.tracking.params import usable_detections

    frame = make_frame(0, [{"box": [10 * c, 0, 10 * c + 9, 9], "cls": c} for c in (-1, 0, 1, 2)])
    assert usable_detections(frame, PARAMS).tolist() == [False, True, True, False]


def test_the_detection_cache_of_one_frame_and_its_corruptions(tmp_path):
    from trackrcnn_d2.tracking import (
        read_detection_cache,
        read_detection_cache_folder,
        write_detection_cache,
    )

    folder = tmp_path / "cache"
    folder.mkdir()
    frame = make_frame(7, [{"box": [0, 0, 9, 9], "vec": [1, 2]}], sequence="0003")
    write_detection_cache(str(folder / "0003.npz"), [frame])
    read = read_detection_cache_folder(str(folder))
    assert list(read) == ["0003"] and read["0003"][0].frame_idx == 7
    with pytest.raises(ValueError, match="no frames to write"):
        write_detection_cache(str(folder / "none.npz"), [])
    with pytest.raises(FileNotFoundError, match="detection cache folder not found"):
        read_detection_cache_folder(str(tmp_path / "missing"))
    arrays = dict(np.load(folder / "0003.npz"))
    corruptions = [
        ("format", np.array("v0"), "cache format 'v0'"),
        ("mask_offsets", arrays["mask_offsets"][:1], "corrupt"),
        ("association_vectors", np.array([1.0], np.float32),
         "bad.npz: sequence '0003' frame 7: association_vectors must"),
    ]  # fmt: skip
    for key, value, message in corruptions:
        np.savez(tmp_path / "bad.npz", **{**arrays, key: value})
        with pytest.raises(ValueError, match=message):
            read_detection_cache(str(tmp_path / "bad.npz"))


def test_frame_detections_convert_vectors_and_know_empty_frames():
    frame = make_frame(0, [{"box": [0, 0, 9, 9]}])
    detections = FrameDetections("s", 0, frame.height, frame.width, frame.boxes, [0.9], [0],
                                 frame.masks, np.ones((1, 3), np.float64))  # fmt: skip
    assert detections.association_vectors.dtype == np.float32
    empty = make_frame(1, [])
    assert empty.mask_areas.shape == (0,) and len(empty) == 0
