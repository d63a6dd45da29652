"""FrameDetections, the conversion from detectron2 Instances and the detection cache."""
import os

import numpy as np
import pytest

from trackrcnn_d2.tracking import (
    DetectionCacheError,
    FrameDetections,
    read_detection_cache,
    read_detection_cache_folder,
    write_detection_cache,
)
from trackrcnn_d2.utils.cli import is_user_error


def assert_same_frames(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert (x.sequence, x.frame_idx, x.height, x.width) == (
            y.sequence, y.frame_idx, y.height, y.width
        )
        np.testing.assert_array_equal(x.boxes, y.boxes)
        np.testing.assert_array_equal(x.scores, y.scores)
        np.testing.assert_array_equal(x.classes, y.classes)
        assert [m["counts"] for m in x.masks] == [bytes(m["counts"]) for m in y.masks]
        assert [list(m["size"]) for m in x.masks] == [list(m["size"]) for m in y.masks]
        if x.association_vectors is None:
            assert y.association_vectors is None
        else:
            np.testing.assert_array_equal(x.association_vectors, y.association_vectors)


@pytest.mark.parametrize("with_vectors", [True, False])
def test_cache_round_trip(tmp_path, frame_factory, with_vectors):
    frames = [
        frame_factory(0, [{"box": [1, 2, 30, 40], "vec": [0.5, -1], "score": 0.3, "cls": 1}],
                      with_vectors=with_vectors),
        frame_factory(1, [], with_vectors=with_vectors),
        frame_factory(
            5,
            [{"box": [10, 10, 20, 20], "vec": [1, 2]}, {"box": [50, 5, 90, 55], "vec": [3, 4]}],
            with_vectors=with_vectors,
        ),
    ]
    path = str(tmp_path / "cache" / "0000.npz")
    write_detection_cache(path, frames)
    assert_same_frames(frames, read_detection_cache(path))
    assert_same_frames(frames, read_detection_cache_folder(str(tmp_path / "cache"))["0000"])
    assert [n for n in os.listdir(tmp_path / "cache")] == ["0000.npz"]  # no temporary left


def test_cache_refuses_bad_input(tmp_path, frame_factory):
    frames = [frame_factory(1, []), frame_factory(0, [])]
    with pytest.raises(ValueError, match="strictly increasing"):
        write_detection_cache(str(tmp_path / "a.npz"), frames)
    not_a_cache = tmp_path / "b.npz"
    np.savez(not_a_cache, boxes=np.zeros((0, 4)))
    with pytest.raises(ValueError, match="b.npz.*missing"):
        read_detection_cache(str(not_a_cache))
    garbage = tmp_path / "c.npz"
    garbage.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="c.npz"):
        read_detection_cache(str(garbage))


def test_a_corrupt_cache_is_one_user_error_naming_the_file(tmp_path, frame_factory):
    good = tmp_path / "good.npz"
    write_detection_cache(str(good), [frame_factory(0, [{"box": [1, 2, 30, 40]}])])
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[:300])
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, **{k: np.array([{"x": 1}], dtype=object) for k in CACHE_KEYS})
    random_bytes = tmp_path / "random.npz"
    random_bytes.write_bytes(np.random.default_rng(0).bytes(500))
    cases = [
        (truncated, "an .npz archive that is truncated or corrupt"),
        (pickled, "an .npz archive of object arrays, not of this format"),
        (random_bytes, "no .npz archive"),
        (tmp_path / "empty.npz", "no .npz archive"),
    ]
    (tmp_path / "empty.npz").write_bytes(b"")
    for path, what in cases:
        with pytest.raises(DetectionCacheError) as error:
            read_detection_cache(str(path))
        message = str(error.value)
        assert message.startswith(f"{path}: cannot read as a detection cache (it is {what}); ")
        assert "allow_pickle" not in message and "\n" not in message
        assert is_user_error(error.value)
    with pytest.raises(FileNotFoundError, match="missing.npz: no such detection cache file"):
        read_detection_cache(str(tmp_path / "missing.npz"))


CACHE_KEYS = ("format", "sequence", "frame_idx", "image_size", "det_offsets", "boxes", "scores",
              "classes", "mask_counts", "mask_offsets")  # fmt: skip


def test_frame_detections_validate_shapes(frame_factory):
    frame = frame_factory(0, [{"box": [1, 2, 30, 40]}])
    with pytest.raises(ValueError, match="frame 3.*one entry per detection"):
        FrameDetections("s", 3, 60, 100, frame.boxes, [0.5, 0.6], [0], frame.masks)
    with pytest.raises(ValueError, match="image resolution"):
        FrameDetections("s", 3, 61, 100, frame.boxes, [0.5], [0], frame.masks)


def test_from_instances_binarises_masks_and_keeps_association_vectors():
    import torch
    from detectron2.structures import Boxes, Instances

    from trackrcnn_d2.tracking import frame_detections_from_instances

    instances = Instances((20, 30))
    instances.pred_boxes = Boxes(torch.tensor([[1.0, 2.0, 10.0, 12.0], [5.0, 5.0, 25.0, 15.0]]))
    instances.scores = torch.tensor([0.9, 0.4])
    instances.pred_classes = torch.tensor([1, 0])
    soft = torch.zeros(2, 20, 30)
    soft[0, 2:12, 1:10] = 0.8
    soft[1, 5:15, 5:25] = 0.6
    soft[1, 0, 0] = 0.4  # below the threshold
    instances.pred_masks = soft
    instances.association_vectors = torch.arange(8.0).reshape(2, 4)
    frame = frame_detections_from_instances(instances, "seq", 7)
    assert (frame.sequence, frame.frame_idx, frame.height, frame.width) == ("seq", 7, 20, 30)
    np.testing.assert_array_equal(frame.classes, [1, 0])
    np.testing.assert_array_equal(frame.mask_areas, [90, 200])
    np.testing.assert_array_equal(frame.association_vectors, np.arange(8.0).reshape(2, 4))

    instances.remove("association_vectors")
    instances.remove("pred_masks")
    boxes_only = frame_detections_from_instances(instances)
    assert boxes_only.association_vectors is None
    np.testing.assert_array_equal(boxes_only.mask_areas, [9 * 10, 20 * 10])
