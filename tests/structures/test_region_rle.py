"""Rectangles of masks to and from full-image RLEs: pycocotools' bytes, read column-wise."""
import numpy as np
import pycocotools.mask as mask_utils

from trackrcnn_d2.structures.region_rle import (
    decode_columns,
    region_run_boundaries,
    rles_from_run_boundaries,
)

HEIGHT, WIDTH = 30, 40


def encode(mask):
    return mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))


def run_lengths(mask):
    """Column-major run lengths, alternately 0s and 1s, starting with 0s."""
    flat = np.r_[0, mask.T.ravel().astype(np.int8), 0]
    boundaries = np.r_[0, np.flatnonzero(np.diff(flat)), mask.size]
    return np.diff(boundaries)


def random_rectangles(seed):
    rng = np.random.default_rng(seed)
    for _ in range(50):
        x0, y0 = rng.integers(0, WIDTH), rng.integers(0, HEIGHT)
        x1, y1 = rng.integers(x0 + 1, WIDTH + 1), rng.integers(y0 + 1, HEIGHT + 1)
        region = rng.random((y1 - y0, x1 - x0)) < rng.choice([0.0, 0.5, 0.9, 1.0])
        yield x0, y0, region


def test_regions_encode_as_pycocotools_encodes_the_full_mask():
    runs, expected = [], []
    for x0, y0, region in random_rectangles(0):
        mask = np.zeros((HEIGHT, WIDTH), dtype=bool)
        mask[y0 : y0 + region.shape[0], x0 : x0 + region.shape[1]] = region
        runs.append(region_run_boundaries(region, x0, y0, HEIGHT))
        expected.append(encode(mask))
    assert rles_from_run_boundaries(runs, HEIGHT, WIDTH) == expected


def test_full_height_region_runs_join_across_columns():
    region = np.ones((HEIGHT, 5), dtype=bool)
    (rle,) = rles_from_run_boundaries([region_run_boundaries(region, 3, 0, HEIGHT)], HEIGHT, WIDTH)
    mask = np.zeros((HEIGHT, WIDTH), dtype=bool)
    mask[:, 3:8] = True
    assert rle == encode(mask)


def test_empty_and_no_masks():
    (rle,) = rles_from_run_boundaries([([], [])], HEIGHT, WIDTH)
    assert rle == encode(np.zeros((HEIGHT, WIDTH)))
    assert rles_from_run_boundaries([], HEIGHT, WIDTH) == []


def test_decode_columns_is_a_slice_of_the_decoded_mask():
    rng = np.random.default_rng(1)
    for density in (0.0, 0.3, 1.0):
        mask = rng.random((HEIGHT, WIDTH)) < density
        for x0, x1 in [(0, WIDTH), (0, 1), (7, 19), (WIDTH - 1, WIDTH)]:
            columns = decode_columns(run_lengths(mask), HEIGHT, x0, x1)
            assert columns.dtype == np.uint8 and columns.flags["C_CONTIGUOUS"]
            np.testing.assert_array_equal(columns, mask[:, x0:x1])
