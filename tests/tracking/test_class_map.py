"""DATASETS.MOTS.CLASS_MAP: a model's classes (COCO) to MOTS classes, others dropped."""
import pytest

from trackrcnn_d2.tracking.class_map import build_class_map

COCO_FIRST = ["person", "bicycle", "car", "motorcycle"]
MOTS = ["car", "pedestrian"]


def test_table_maps_named_classes_and_drops_the_rest():
    table = build_class_map(COCO_FIRST, MOTS, [["person", "pedestrian"], ("car", "car")])
    assert table.tolist() == [1, -1, 0, -1]


def test_several_model_classes_may_share_a_mots_class():
    table = build_class_map(COCO_FIRST, MOTS, [["car", "car"], ["motorcycle", "car"]])
    assert table.tolist() == [-1, -1, 0, 0]


@pytest.mark.parametrize(
    "pairs, message",
    [
        ([["pedestrian", "pedestrian"]], "'pedestrian' is not one of the model's 4 classes"),
        ([["person", "person"]], "'person' is not one of DATASETS.MOTS.CLASSES"),
        ([["person", "pedestrian"], ["person", "car"]], "'person' is mapped twice"),
        ([["person"]], "is not a \\[model class, MOTS class\\] pair"),
        ([[0, "pedestrian"]], "is not a \\[model class, MOTS class\\] pair"),
    ],
)
def test_bad_entries_name_the_config_key(pairs, message):
    with pytest.raises(ValueError, match=f"DATASETS.MOTS.CLASS_MAP: .*{message}"):
        build_class_map(COCO_FIRST, MOTS, pairs)


def _coco_instances():
    """A car, a bicycle and a person (COCO ids 2, 1, 0) in an 8 x 10 frame."""
    import torch
    from detectron2.structures import Boxes, Instances

    instances = Instances((8, 10))
    instances.pred_boxes = Boxes(torch.tensor([[0, 0, 4, 4], [1, 1, 5, 5], [2, 2, 9, 7.0]]))
    instances.scores = torch.tensor([0.9, 0.8, 0.7])
    instances.pred_classes = torch.tensor([2, 1, 0])
    instances.pred_masks = torch.zeros(3, 8, 10, dtype=torch.bool)
    for i, (x0, y0, x1, y1) in enumerate([(0, 0, 4, 4), (1, 1, 5, 5), (2, 2, 9, 7)]):
        instances.pred_masks[i, y0:y1, x0:x1] = True
    instances.association_vectors = torch.arange(6.0).reshape(3, 2)
    return instances


def test_detections_from_instances_keep_mapped_classes_only():
    """Hand-made COCO Instances: person and car become the MOTS classes (contiguous ids of
    DATASETS.MOTS.CLASSES), the bicycle is dropped with its box, score, mask and vector."""
    from trackrcnn_d2.tracking import frame_detections_from_instances

    instances = _coco_instances()
    table = build_class_map(COCO_FIRST, MOTS, [["person", "pedestrian"], ["car", "car"]])

    detections = frame_detections_from_instances(instances, "video", 0, class_map=table)
    assert detections.classes.tolist() == [MOTS.index("car"), MOTS.index("pedestrian")]
    assert detections.scores.tolist() == pytest.approx([0.9, 0.7])
    assert detections.boxes.tolist() == [[0, 0, 4, 4], [2, 2, 9, 7]]
    assert detections.mask_areas.tolist() == [16, 35]
    assert detections.association_vectors.tolist() == [[0, 1], [4, 5]]
    unmapped = frame_detections_from_instances(instances, "video", 0)
    assert unmapped.classes.tolist() == [2, 1, 0]


def test_a_class_beyond_the_map_is_an_error():
    import torch
    from detectron2.structures import Boxes, Instances

    from trackrcnn_d2.tracking import frame_detections_from_instances

    instances = Instances((4, 4))
    instances.pred_boxes = Boxes(torch.tensor([[0, 0, 2, 2.0]]))
    instances.scores = torch.tensor([0.9])
    instances.pred_classes = torch.tensor([79])
    table = build_class_map(COCO_FIRST, MOTS, [["person", "pedestrian"]])
    with pytest.raises(ValueError, match="predicts class 79, but DATASETS.MOTS.CLASS_MAP is for 4"):
        frame_detections_from_instances(instances, "video", 3, class_map=table)


def test_tracker_head_maps_classes_before_tracking():
    """detectron2's tracking API (TrackRCNNTracker.update) returns the mapped detections."""
    from trackrcnn_d2.tracking import TrackerParams
    from trackrcnn_d2.tracking.tracker_head import TrackRCNNTracker

    params = TrackerParams(class_names=MOTS, association="maskprop", detection_confidence=[0.5])
    table = build_class_map(COCO_FIRST, MOTS, [["person", "pedestrian"], ["car", "car"]])
    tracker = TrackRCNNTracker(params=params, flow="none", class_map=table)
    tracked = tracker.update(_coco_instances())
    assert sorted(tracked.scores.tolist()) == pytest.approx([0.7, 0.9])
    by_score = sorted(zip(tracked.scores.tolist(), tracked.pred_classes.tolist(), tracked.obj_id))
    assert [(c, o // 1000) for _, c, o in by_score] == [(1, 2), (0, 1)]  # pedestrian, car
