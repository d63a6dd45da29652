"""Set operations on compressed RLEs."""
import numpy as np

from trackrcnn_d2.data import mots_io
from trackrcnn_d2.tracking.rle import rle_complement, rle_difference, rle_runs


def test_runs_complement_and_difference_match_the_pixels():
    rng = np.random.default_rng(0)
    for _ in range(200):
        height, width = rng.integers(1, 30, size=2)
        a = rng.random((height, width)) < rng.random() ** 3
        b = rng.random((height, width)) < rng.random() ** 0.3
        rle_a, rle_b = mots_io.encode_mask(a), mots_io.encode_mask(b)
        runs = rle_runs(rle_a)
        assert runs.sum() == height * width and (runs[1:] > 0).all()
        np.testing.assert_array_equal(mots_io.decode_mask(rle_complement(rle_a)), ~a)
        np.testing.assert_array_equal(mots_io.decode_mask(rle_difference(rle_a, rle_b)), a & ~b)


def test_runs_of_long_rles_with_large_counts():
    mask = np.zeros((375, 1242), dtype=bool)
    mask[100:300, 200:900] = True
    mask[0, 0] = True
    runs = rle_runs(mots_io.encode_mask(mask))
    assert runs[:3].tolist() == [0, 1, 200 * 375 - 1 + 100]
    assert runs.sum() == 375 * 1242
