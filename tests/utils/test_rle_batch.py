"""RLEBatch: pycocotools' C functions on masks parsed once give pycocotools' Python functions'
numbers (areas, sums of runs, union areas, IoUs), and so does its fallback."""
import sys

import numpy as np
import pycocotools.mask as mask_utils
import pytest

from trackrcnn_d2.utils import rle_batch
from trackrcnn_d2.utils.rle import encode_mask, rle_runs
from trackrcnn_d2.utils.rle_batch import RLEBatch, c_library_available


def _random_masks(rng, n, height=9, width=11):
    masks = []
    for _ in range(n):
        mask = rng.random((height, width)) < rng.uniform(0.0, 0.6)
        if rng.random() < 0.3:  # a box: few runs
            mask[:] = False
            y, x = rng.integers(0, height - 2), rng.integers(0, width - 2)
            mask[y : y + rng.integers(1, 4), x : x + rng.integers(1, 5)] = True
        masks.append(encode_mask(mask))
    return masks


def test_the_c_functions_are_used_where_pycocotools_exports_them():
    if sys.platform.startswith("linux"):
        assert c_library_available()


@pytest.mark.parametrize("use_c", [None, False])
def test_batch_operations_equal_pycocotools(use_c):
    rng = np.random.default_rng(0)
    rles = _random_masks(rng, 60)
    batch = RLEBatch(rles, use_c=use_c)
    np.testing.assert_array_equal(batch.areas(), mask_utils.area(rles).astype(np.int64))
    runs = [rle_runs(r) for r in rles]
    first_lengths = np.array([_first_code_length(r["counts"]) for r in rles])
    np.testing.assert_array_equal(
        batch.background_sums(first_lengths), [r[2::2].sum() for r in runs]
    )
    groups = [rng.choice(60, size=int(rng.integers(1, 12)), replace=False) for _ in range(20)]
    expected = [mask_utils.area(mask_utils.merge([rles[i] for i in g], False)) for g in groups]
    np.testing.assert_array_equal(batch.union_areas(groups), expected)
    other = RLEBatch(_random_masks(rng, 15), use_c=use_c)
    rows, columns = rng.choice(60, 25), rng.choice(15, 10)
    for crowd in (False, True):
        # Widths of two kinds: pairs of different widths get -1 without being intersected.
        row_widths = 11 + rng.integers(0, 2, size=25)
        column_widths = 11 + rng.integers(0, 2, size=10)
        got = batch.ious(rows, other, columns, crowd, row_widths, column_widths)
        dt = [{"size": [9, int(w)], "counts": rles[i]["counts"]} for i, w in zip(rows, row_widths)]
        gt = [{"size": [9, int(w)], "counts": other.rles[j]["counts"]}
              for j, w in zip(columns, column_widths)]  # fmt: skip
        np.testing.assert_array_equal(got, mask_utils.iou(dt, gt, [int(crowd)] * len(gt)))
    assert batch.ious(rows[:0], other, columns, False, row_widths[:0], column_widths).shape == (
        0,
        10,
    )


def _first_code_length(counts: bytes) -> int:
    return next(i for i, c in enumerate(counts) if not (c - 48) & 0x20) + 1


def test_evaluation_without_the_c_functions_is_the_same(monkeypatch):
    from helpers.mots_eval_cases import random_case

    from trackrcnn_d2.evaluation import evaluate_mots

    gt, results = random_case(np.random.default_rng(3), n_seq=2, n_frames=12, n_tracks=6)
    expected = evaluate_mots(gt, results)
    monkeypatch.setattr(rle_batch, "_mask_api", lambda: None)
    assert not c_library_available()
    assert evaluate_mots(gt, results) == expected
