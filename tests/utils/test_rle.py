"""The RLE codec: run lengths, complement and difference against the pixels; size checks of
strings, never decoding masks, against the run lengths."""
import numpy as np
import pytest

from trackrcnn_d2.utils.rle import (
    decode_mask,
    encode_mask,
    rle_areas,
    rle_complement,
    rle_counts_total,
    rle_counts_totals,
    rle_difference,
    rle_runs,
)


def _rle(counts) -> dict:
    return {"size": [1, 1], "counts": counts}  # the totals do not depend on the header


def test_vectorised_rle_totals_equal_the_reference_decoder():
    rng = np.random.default_rng(0)
    counts = []
    for _ in range(600):
        height, width = rng.integers(1, 40, size=2)
        mask = rng.random((height, width)) < rng.random() ** 3
        counts.append(encode_mask(mask)["counts"])
    counts.append(b"")
    expected = [rle_counts_total(c) for c in counts]
    totals = rle_counts_totals([_rle(c) for c in counts])
    np.testing.assert_array_equal(totals, expected)


def test_vectorised_rle_totals_and_areas_of_arbitrary_strings():
    # Strings of random characters of the alphabet, first codes of one to four characters (large
    # images), and empty masks: wherever the reference decoder accepts a string, totals and
    # areas equal the sums of its runs (up to 2^32 pixels, as pycocotools counts).
    rng = np.random.default_rng(1)
    counts = [encode_mask(np.zeros((3000, 4000), dtype=bool))["counts"]]
    mask = np.zeros((3000, 4000), dtype=bool)
    mask[2000:2100, 3000:3050] = True
    counts.append(encode_mask(mask)["counts"])
    for _ in range(5000):
        counts.append(bytes(rng.integers(48, 112, size=int(rng.integers(1, 12))).tolist()))
    totals, areas = rle_counts_totals([_rle(c) for c in counts], return_areas=True)
    checked = 0
    for c, total, area in zip(counts, totals, areas):
        try:
            expected = rle_counts_total(c)
        except ValueError:
            assert total == -1 or rle_runs({"counts": c})[0] >= 0
            continue
        runs = rle_runs({"counts": c})
        if (runs[:1] < 0).any() or (runs[:1] >= 2**35).any():  # no image has 2^35 pixels
            assert total == -1
            continue
        if expected >= 2**32:  # pycocotools sums in uint32; no image has that many pixels
            continue
        assert total == expected and area == runs[1::2].sum(), c
        checked += 1
    assert checked > 300


def test_vectorised_rle_totals_flag_malformed_strings():
    mask = np.zeros((20, 30), dtype=np.uint8)
    mask[2:9, 3:20] = 1
    good = encode_mask(mask)["counts"]
    truncated = good + b"P"  # "P" = 48 + 0x20: a code that announces more characters
    strings = [good, truncated, b"ab!c", good.decode() + "1"]  # bytes or str, as pycocotools
    totals = rle_counts_totals([_rle(c) for c in strings])
    assert totals[0] == 600
    assert totals[1] == -1 and totals[2] == -1
    # A valid string of another size: the caller compares the total with the header.
    assert totals[3] == rle_counts_total(good + b"1") != 600
    with pytest.raises(ValueError, match="truncated"):
        rle_counts_total(truncated)
    with pytest.raises(ValueError, match="alphabet"):
        rle_counts_total(b"ab!c")


def test_runs_complement_and_difference_match_the_pixels():
    rng = np.random.default_rng(0)
    for _ in range(200):
        height, width = rng.integers(1, 30, size=2)
        a = rng.random((height, width)) < rng.random() ** 3
        b = rng.random((height, width)) < rng.random() ** 0.3
        rle_a, rle_b = encode_mask(a), encode_mask(b)
        runs = rle_runs(rle_a)
        assert runs.sum() == height * width and (runs[1:] > 0).all()
        np.testing.assert_array_equal(decode_mask(rle_complement(rle_a)), ~a)
        np.testing.assert_array_equal(decode_mask(rle_difference(rle_a, rle_b)), a & ~b)


def test_runs_of_long_rles_with_large_counts():
    mask = np.zeros((375, 1242), dtype=bool)
    mask[100:300, 200:900] = True
    mask[0, 0] = True
    runs = rle_runs(encode_mask(mask))
    assert runs[:3].tolist() == [0, 1, 200 * 375 - 1 + 100]
    assert runs.sum() == 375 * 1242


def test_totals_and_areas_of_the_edge_strings():
    """An empty string covers nothing (0, 0); a malformed one is -1, -1; a one-character string
    (a 1x1 background) alone, with no other string after it, is read within its bounds."""
    rles = [{"size": [1, 1], "counts": b""}, {"size": [1, 1], "counts": b"5P"}]
    totals, areas = rle_counts_totals(rles, return_areas=True)
    assert totals.tolist() == [0, -1] and areas.tolist() == [0, -1]
    single = rle_counts_totals([{"size": [1, 1], "counts": b"1"}], return_areas=True)
    assert [a.tolist() for a in single] == [[1], [0]]
    assert rle_areas([]).shape == (0,)
    many = [encode_mask(np.eye(3, dtype=bool))] * 600  # more than pycocotools' 255 per call
    np.testing.assert_array_equal(rle_areas(many), [3] * 600)
