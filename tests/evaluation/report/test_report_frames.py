"""Error views: the pixels of a known false positive, miss, identity switch and ignore region
have the legend's colours, and their labels the legend's texts."""
import numpy as np
import pytest
from report_scene import IMAGE_GREY, SEQUENCE, SIZE, UNIT, scene

from trackrcnn_d2.data.mots_io import MOTS_CLASS_IDS
from trackrcnn_d2.evaluation.metrics import MOTSGroundTruth, evaluate_mots_with_matching
from trackrcnn_d2.evaluation.report.frames import (
    HEADER_HEIGHT,
    frame_header,
    frame_objects,
    render_error_view,
)
from trackrcnn_d2.evaluation.report.legend import ERROR_STYLES, track_colour
from trackrcnn_d2.evaluation.report.matching_log import build_sequence_logs

CLASSES = ("car", "pedestrian")


def _view(frame, max_width=1000):
    gt, results = scene()
    ground_truth = MOTSGroundTruth(gt)
    matching = evaluate_mots_with_matching(ground_truth, results, CLASSES)
    log = build_sequence_logs(matching, results)[SEQUENCE].by_frame[frame]
    class_of_id = {MOTS_CLASS_IDS[c]: c for c in CLASSES}
    gt_objects, hypotheses, ignore = frame_objects(ground_truth, results, SEQUENCE, frame,
                                                   class_of_id)  # fmt: skip
    image = np.full((*SIZE, 3), IMAGE_GREY, np.uint8)
    view, labels = render_error_view(image, log, gt_objects, hypotheses, ignore,
                                     frame_header(SEQUENCE, frame, log), max_width)  # fmt: skip
    return view[HEADER_HEIGHT:], view, labels


def _area(y0, y1, x0, x1):
    """Box [y0, y1) x [x0, x1), given in the scene's units."""
    mask = np.zeros(SIZE, bool)
    mask[UNIT * y0 : UNIT * y1, UNIT * x0 : UNIT * x1] = True
    return mask


def _ring(y0, y1, x0, x1, width):
    """The pixels of a box (scene units) within ``width`` pixels of its border."""
    mask = _area(y0, y1, x0, x1)
    mask[UNIT * y0 + width : UNIT * y1 - width, UNIT * x0 + width : UNIT * x1 - width] = False
    return mask


def _unlabelled(mask, labels):
    """``mask`` without the pixels under the labels' boxes."""
    mask = mask.copy()
    for label in labels:
        x0, y0, x1, y1 = label.box
        mask[max(0, y0 - HEADER_HEIGHT) : y1 - HEADER_HEIGHT + 1, x0 : x1 + 1] = False
    assert mask.sum() > 20  # enough left to judge
    return mask


def _fraction(pixels, mask, colour):
    return float((pixels[mask] == colour).all(axis=1).mean())


def _label(labels, kind):
    (label,) = [lab for lab in labels if lab.kind == kind]
    return label


def test_miss_false_positive_and_switch_have_the_legends_colours_and_labels():
    pixels, view, labels = _view(3)
    fn, fp, ids = (ERROR_STYLES[k].colour for k in ("fn", "fp", "ids"))
    # The miss (car 1003, rows 20-30, cols 2-12): solid outline and cross-hatch in FN colour.
    assert _fraction(pixels, _unlabelled(_ring(20, 30, 2, 12, 2), labels), fn) == 1.0
    inside = _unlabelled(_area(21, 29, 3, 11), labels)
    assert 0.2 < _fraction(pixels, inside, fn) < 0.6  # a hatch, not a fill
    assert (pixels[inside & ~(pixels == fn).all(axis=2)] == IMAGE_GREY).all()
    assert _label(labels, "fn").text == "FN 1003"
    # The false positive (hypothesis 9, rows 14-18, cols 50-60): dashed outline, FP colour.
    assert 0.3 < _fraction(pixels, _unlabelled(_ring(14, 18, 50, 60, 2), labels), fp) < 0.8
    assert _label(labels, "fp").text == "FP 9"
    # The switch (car 1001 now hypothesis 2, rows 2-12, cols 5-15): thick outline, IDS colour.
    assert _fraction(pixels, _unlabelled(_ring(2, 12, 5, 15, 3), labels), ids) == 1.0
    switch = _label(labels, "ids")
    assert switch.text == "IDS 1 \u2192 2"
    x0, y0, x1, y1 = switch.box
    assert tuple(view[y0, x0]) == ids and tuple(view[y1, x1]) == ids  # the label's box
    # The re-found car 1002 (hypothesis 3) carries the fragmentation's label.
    assert _label(labels, "frag").text == "Frag"
    # No colour of an error where there is none (the pedestrian, a true positive).
    for colour in (fn, fp, ids):
        assert _fraction(pixels, _area(20, 36, 30, 36), colour) == 0.0


def test_true_positive_is_filled_in_its_track_colour_and_labelled_with_its_iou():
    pixels, _, labels = _view(4)
    colour = np.array(track_colour(2005))
    inside = pixels[_unlabelled(_area(24, 30, 32, 34), labels)].astype(float)
    blended = 0.5 * IMAGE_GREY + 0.5 * colour
    assert np.abs(inside - blended).max() <= 1
    texts = {lab.text for lab in labels if lab.kind == "tp"}
    assert "2005 0.75" in texts  # soft TP: hypothesis 2005 covers 3/4 of the pedestrian


def test_ignore_region_is_hatched_and_the_hypothesis_it_removes_only_dotted():
    pixels, _, labels = _view(1)
    grey = ERROR_STYLES["ignore"].colour
    region = _unlabelled(_area(30, 40, 56, 64), labels)  # the region beside hypothesis 8
    assert 0.05 < _fraction(pixels, region, grey) < 0.3
    removed = _unlabelled(_ring(32, 38, 46, 54, 1), labels)
    assert 0.2 < _fraction(pixels, removed, grey) < 0.6  # dotted outline
    inner = _area(33, 37, 47, 53)  # not filled: only the image (and the region's hatch)
    assert set(map(tuple, pixels[inner])) <= {(IMAGE_GREY,) * 3, grey}
    assert not [lab for lab in labels if "8" in lab.text.split()]


def test_large_frames_are_scaled_to_the_view_width():
    _, view, labels = _view(3, max_width=SIZE[1] // 2)
    assert view.shape == (SIZE[0] // 2 + HEADER_HEIGHT, SIZE[1] // 2, 3)
    assert {lab.kind for lab in labels} >= {"fn", "fp", "ids"}


def test_header_counts_the_frames_errors():
    gt, results = scene()
    matching = evaluate_mots_with_matching(gt, results, CLASSES)
    log = build_sequence_logs(matching, results)[SEQUENCE].by_frame[3]
    assert frame_header(SEQUENCE, 3, log) == (
        f"{SEQUENCE}  frame 3   TP 3  FP 1  FN 1  IDS 1  Frag 1"
    )


@pytest.mark.parametrize("frame", [0, 2, 5])
def test_every_frame_renders_with_the_header_on_top(frame):
    _, view, _ = _view(frame)
    assert view.shape == (SIZE[0] + HEADER_HEIGHT, SIZE[1], 3)
    assert view.dtype == np.uint8
