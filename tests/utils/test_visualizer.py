"""The renderings of tracks and of dataset frames: each mask blended with its track's colour,
ignore regions grey, nothing else changed."""
import numpy as np
import pycocotools.mask as mask_utils
import pytest

from trackrcnn_d2.data import mots_io
from trackrcnn_d2.utils.visualizer import (
    RenderSizeError,
    draw_dataset_frame,
    draw_tracks,
    track_color,
)

GREY = 100


def _square(y, x, size=24, height=96, width=192):
    mask = np.zeros((height, width), np.uint8)
    mask[y : y + size, x : x + size] = 1
    return mask_utils.encode(np.asfortranarray(mask))


def test_a_dataset_frame_blends_each_mask_with_its_tracks_colour():
    image = np.full((96, 192, 3), GREY, np.uint8)
    car, pedestrian, ignore = _square(10, 10), _square(10, 100), _square(60, 150, size=20)
    dataset_dict = {
        "frame_idx": 0,
        "annotations": [
            {"track_id": 1005, "segmentation": car, "category_id": 0},
            {"track_id": 2003, "segmentation": pedestrian, "category_id": 1},
        ],
        "ignore_regions": [ignore],
    }
    rendering = draw_dataset_frame(dataset_dict, image)
    assert rendering.shape == image.shape and rendering.dtype == np.uint8
    # Inside each square, away from its outline and the label at its centre: half frame, half
    # colour (BGR).
    for (y, x), colour in (
        ((13, 13), track_color(1005)),
        ((13, 103), track_color(2003)),
        ((63, 153), np.array([0.5, 0.5, 0.5])),
    ):
        expected = 0.5 * GREY + 0.5 * 255 * colour[::-1]
        assert np.abs(rendering[y, x].astype(float) - expected).max() <= 3, (y, x)
    assert (rendering[90, 5] == GREY).all() and (rendering[50, 70] == GREY).all()
    assert not np.allclose(track_color(1005), track_color(2003))


def test_labels_name_the_class_and_the_instance_number():
    from trackrcnn_d2.utils import visualizer

    assert visualizer._label(1005) == "car 5"
    assert visualizer._label(2003) == "pedestrian 3"
    assert mots_io.obj_id_to_class_id(2003) == 2


def test_a_scale_too_large_to_draw_is_refused_before_drawing():
    frame = np.zeros((128, 256, 3), np.uint8)
    assert draw_tracks(frame, [], scale=2).shape == (256, 512, 3)
    with pytest.raises(RenderSizeError, match=r"scale 1000 renders the 256 x 128 frames at "
                                              r"256000 x 128000 pixels"):  # fmt: skip
        draw_tracks(frame, [], scale=1000)
    with pytest.raises(RenderSizeError):  # one side beyond matplotlib's canvas, few pixels
        draw_tracks(np.zeros((1, 300, 3), np.uint8), [], scale=200)
