"""The tracker's arithmetic by hand: box IoU and centre distance, association distances of
identical vectors, the two assignment procedures, and boxes moved by the median flow."""
import numpy as np
import pytest

from trackrcnn_d2.tracking.detections import boxes_to_masks
from trackrcnn_d2.tracking.flow import sampling_maps, warp_box_by_median_flow
from trackrcnn_d2.tracking.matching import (
    association_distance,
    box_center_distance,
    box_iou,
    greedy_match,
    hungarian_match,
    mask_iou,
)
from trackrcnn_d2.utils.rle import encode_mask


def test_box_iou_by_hand():
    boxes_a = np.array([[0, 0, 10, 10], [5, 5, 15, 25], [40, 40, 40, 50]], np.float32)
    boxes_b = np.array([[5, 0, 15, 10], [0, 0, 10, 10]], np.float32)
    expected = [
        [50 / 150, 1.0],
        [50 / (200 + 100 - 50), 25 / (200 + 100 - 25)],
        [0.0, 0.0],  # a box without area: IoU 0, not a division by zero
    ]
    np.testing.assert_allclose(box_iou(boxes_a, boxes_b), expected)
    np.testing.assert_allclose(box_iou(boxes_b, boxes_a), np.transpose(expected))
    assert box_iou(np.zeros((0, 4)), boxes_b).shape == (0, 2)
    # Boxes smaller than a pixel (a union below 1 is not a missing union).
    tiny = np.array([[0.0, 0.0, 0.5, 0.5], [0.25, 0.0, 0.75, 0.5]])
    np.testing.assert_allclose(box_iou(tiny, tiny), [[1.0, 1 / 3], [1 / 3, 1.0]])


def test_box_iou_of_two_boxes_without_area_is_0():
    """A point box and a line box cover no pixel: nothing to overlap, IoU 0 (the union is 0
    here, the one case the division is not taken), whether they coincide or not."""
    point, line = [3.0, 4.0, 3.0, 4.0], [0.0, 2.0, 6.0, 2.0]
    np.testing.assert_array_equal(box_iou([point, line], [point, line]), np.zeros((2, 2)))


def test_box_center_distance_by_hand():
    boxes_a = np.array([[0, 0, 20, 20], [10, 10, 12, 14]], np.float32)
    boxes_b = np.array([[3, 4, 23, 24], [0, 0, 20, 20], [11, 12, 11, 12]], np.float32)
    expected = [[5.0, 0.0, np.hypot(1, 2)], [np.hypot(2, 2), np.hypot(1, 2), 0.0]]
    np.testing.assert_allclose(box_center_distance(boxes_a, boxes_b), expected)


def test_identical_association_vectors_are_at_distance_zero():
    """The distance is computed from squared norms, whose rounding can dip below zero for equal
    vectors: clamped there, never NaN (a NaN would match nothing)."""
    rng = np.random.default_rng(0)
    vectors = rng.normal(0, 30, (200, 128)).astype(np.float32)
    distances = association_distance(vectors, vectors)
    assert not np.isnan(distances).any()
    assert np.diag(distances).max() < 1.0  # float32 rounding of norms of about 340
    np.testing.assert_allclose(association_distance([[0, 0]], [[3, 4], [1, 0]]), [[5.0, 1.0]])


def test_mask_iou_of_no_masks_keeps_its_shape():
    rle = encode_mask(np.ones((4, 5), bool))
    assert mask_iou([], [rle, rle]).shape == (0, 2)
    assert mask_iou([rle], []).shape == (1, 0)


def test_hungarian_maximises_allowed_pairs_whatever_the_scale_of_the_scores():
    """Distances in pixels (bbox_center): two pairs are possible only with the expensive one
    (100 + 2); a forbidden pair must cost more than any allowed assignment, here too."""
    distances = np.array([[1.0, 100.0], [2.0, 1000.0]])
    allowed = np.array([[True, True], [True, False]])
    assert hungarian_match(distances, allowed, maximize=False) == [(0, 1), (1, 0)]
    # Equal scores everywhere (no spread to rescale by).
    assert hungarian_match(np.ones((2, 2)), np.ones((2, 2), bool), maximize=True) == [
        (0, 0), (1, 1),
    ]  # fmt: skip


def test_greedy_match_goes_by_distance_not_by_index():
    """Row 0 is nearest to group 8 (0.1), row 1 to group 7 (0.2): by increasing distance both
    get their nearest; by index, row 0 would take group 7 first."""
    distances = np.array([[0.3, 0.1], [0.2, 0.9]])
    groups = np.array([7, 8])
    assert greedy_match(distances, distances < 1.0, groups) == [(0, 8), (1, 7)]


def test_boxes_to_masks_start_at_the_image_border():
    boxes = [[0, 0, 2, 3], [-5, -5, 1, 1], [98, 58, 105, 70], [-9, 5, 0, 9], [5, -9, 9, 0],
             [-9, -9, -3, -3], [5, -9, 9, -3], [-9, 5, -3, 9]]  # fmt: skip
    masks = boxes_to_masks(np.array(boxes), 60, 100)
    assert masks[0].sum() == 6 and masks[0][0, 0] and masks[0][2, 1]
    assert masks[1].sum() == 1 and masks[1][0, 0]
    assert masks[2].sum() == 2 * 2 and masks[2][59, 99]
    # Boxes that end at the border, or lie beyond it (also wholly above or left of the image,
    # where a slice end of -1 would count from the far border).
    assert masks[3:].sum() == 0


def test_a_box_moves_by_the_median_displacement_of_the_pixels_that_came_from_it():
    """Box [2, 5) x [2, 4): its top row's three pixels went 10 px right, its bottom row's three
    1 px right (all other pixels of frame t come from outside the image): the median is 5.5.
    The box is half-open: pixels from its top row and left column count, from x = 5 or y = 4
    not."""
    height, width = 12, 24
    flow = np.zeros((height, width, 2), np.float32)
    flow[..., 1] = 100.0  # from outside
    for x in range(2, 5):
        flow[2, x + 10] = (-10, 0)  # came from (x, 2), the box's top row
        flow[3, x + 1] = (-1, 0)  # came from (x, 3)
    flow[4, 20] = (-15, 0)  # came from (5, 4), outside the half-open box
    flow[3, 20] = (-15, 0)  # came from (5, 3): x = x1, outside
    flow[4, 18] = (-15, 0)  # came from (3, 4): y = y1, outside
    maps = sampling_maps(flow)
    box = np.array([2.0, 2.0, 5.0, 4.0])
    np.testing.assert_allclose(warp_box_by_median_flow(box, maps), [7.5, 2.0, 10.5, 4.0])
    np.testing.assert_allclose(warp_box_by_median_flow(box, maps, reach=100), [7.5, 2, 10.5, 4])


def test_a_box_moved_far_down_is_found_within_the_flow_reach():
    """All pixels move 9 down and 7 left: the box follows exactly, with or without the reach
    limit (the limit must still cover where its pixels went)."""
    flow = np.zeros((60, 80, 2), np.float32)
    flow[..., 0], flow[..., 1] = 7.0, -9.0
    maps = sampling_maps(flow)
    box = np.array([30.0, 10.0, 40.0, 20.0])
    expected = [23.0, 19.0, 33.0, 29.0]
    np.testing.assert_allclose(warp_box_by_median_flow(box, maps), expected)
    np.testing.assert_allclose(warp_box_by_median_flow(box, maps, reach=9), expected)
    flow[..., 0], flow[..., 1] = -7.0, 9.0  # up and right
    maps = sampling_maps(flow)
    np.testing.assert_allclose(warp_box_by_median_flow(box, maps, reach=9), [37, 1, 47, 11])


@pytest.mark.parametrize(
    "pixels, flow, moved",
    [([(35, 28), (36, 28)], (0, -9), (0, 9)),  # from the box's bottom row, 9 rows up
     ([(35, 1), (36, 1)], (0, 9), (0, -9)),  # from its top row, 9 rows down
     ([(48, 14), (48, 16)], (-9, 0), (9, 0)),  # from its right column, 9 columns left
     ([(21, 14), (21, 16)], (9, 0), (-9, 0))],  # from its left column, 9 columns right
)  # fmt: skip
def test_the_reach_limit_keeps_pixels_that_moved_exactly_the_reach(pixels, flow, moved):
    """Box [30, 40) x [10, 20), reach 9: every other pixel of frame t comes from farther away
    (rows above 15 from 9 rows higher, the others from 9 lower), but two pixels 9 pixels beyond
    one side came from inside it, and one pixel (35, 15) stayed: the box moves by their
    median, 9 pixels, with the reach limit as without."""
    height, width = 60, 80
    field = np.zeros((height, width, 2), np.float32)
    field[:15, :, 1], field[15:, :, 1] = -9.0, 9.0
    field[15, 35] = (0, 0)
    for x, y in pixels:
        field[y, x] = flow
    maps = sampling_maps(field)
    box = np.array([30.0, 10.0, 40.0, 20.0])
    expected = box + np.array([moved[0], moved[1], moved[0], moved[1]])
    np.testing.assert_allclose(warp_box_by_median_flow(box, maps), expected)
    np.testing.assert_allclose(warp_box_by_median_flow(box, maps, reach=9), expected)


@pytest.mark.parametrize(
    "box, pixels, flow, still, moved",
    [([0, 10, 6, 20], [(0, 14), (0, 16)], (3, 0), (3, 14), (-3, 0)),  # left image border
     ([30, 0, 40, 6], [(35, 0), (36, 0)], (0, 3), (35, 3), (0, -3))],  # top image border
)  # fmt: skip
def test_the_reach_limit_keeps_the_first_row_and_column_of_the_image(box, pixels, flow, still,
                                                                     moved):  # fmt: skip
    field = np.zeros((60, 80, 2), np.float32)
    field[:15, :, 1], field[15:, :, 1] = -20.0, 20.0  # from outside the image
    field[still[1], still[0]] = (0, 0)
    for x, y in pixels:
        field[y, x] = flow
    maps = sampling_maps(field)
    box = np.array(box, dtype=np.float64)
    expected = box + np.array([moved[0], moved[1], moved[0], moved[1]])
    np.testing.assert_allclose(warp_box_by_median_flow(box, maps), expected)
    np.testing.assert_allclose(warp_box_by_median_flow(box, maps, reach=20), expected)
