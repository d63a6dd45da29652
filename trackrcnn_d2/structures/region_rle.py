"""Masks that are non-zero only inside a rectangle of the image, to and from full-image COCO
RLEs, touching only the rectangle's pixels (numpy and pycocotools; no torch).

COCO RLEs run column-major: the pixels of columns x0..x1-1 are one contiguous stretch of the
image's runs, and a rectangle's runs are its columns' runs shifted by offsets. The RLEs made
here are byte for byte those of ``pycocotools.mask.encode`` of the full-image mask.
"""
from typing import List, Sequence, Tuple

import numpy as np
import pycocotools.mask as mask_utils

__all__ = [
    "column_run_boundaries",
    "decode_columns",
    "region_run_boundaries",
    "rles_from_run_boundaries",
]


def column_run_boundaries(
    padded_columns: np.ndarray, region_height: int, x0: int, y0: int, height: int
) -> Tuple[np.ndarray, np.ndarray]:
    """Full-image column-major starts and stops (exclusive) of the runs of 1s of a rectangle
    with top-left pixel (x0, y0), given as its columns one after the other, each with one 0
    above and below it: a flat bool array of ``width x (region_height + 2)``."""
    # Change k lies between padded rows r and r + 1 of column c: a run starts (its first 1) or
    # stops (the first 0 after it) at row r of the rectangle.
    changes = np.flatnonzero(padded_columns[1:] != padded_columns[:-1])
    column, row = np.divmod(changes, region_height + 2)
    positions = (column + x0) * height + y0 + row
    return positions[0::2], positions[1::2]


def region_run_boundaries(region: np.ndarray, x0: int, y0: int, height: int):
    """:func:`column_run_boundaries` of a binary (h, w) rectangle of the image at (x0, y0)."""
    h, w = region.shape
    padded = np.zeros((w, h + 2), dtype=bool)
    padded[:, 1:-1] = region.T
    return column_run_boundaries(padded.ravel(), h, x0, y0, height)


def rles_from_run_boundaries(
    runs: Sequence[Tuple[np.ndarray, np.ndarray]], height: int, width: int
) -> List[dict]:
    """Compressed COCO RLEs (as ``pycocotools.mask.encode`` gives them) of masks given by their
    runs of 1s in column-major pixel order: per mask, ``(starts, stops)`` with run k covering
    pixels ``starts[k]:stops[k]`` (sorted, not overlapping)."""
    if not runs:
        return []
    area = height * width
    starts = np.concatenate([np.asarray(s, dtype=np.int64) for s, _ in runs])
    stops = np.concatenate([np.asarray(s, dtype=np.int64) for _, s in runs])
    masks = np.repeat(np.arange(len(runs)), [len(s) for s, _ in runs])
    # A run that ends at the bottom of a column and one that starts at the top of the next are
    # one run of the image.
    joined = np.flatnonzero((stops[:-1] == starts[1:]) & (masks[:-1] == masks[1:]))
    if len(joined):
        starts, masks = np.delete(starts, joined + 1), np.delete(masks, joined + 1)
        stops = np.delete(stops, joined)
    # Counts: per run, the 0s before it (since the mask's previous run) and its 1s.
    previous_stop = np.r_[0, stops[:-1]]
    previous_stop[np.r_[True, masks[1:] != masks[:-1]]] = 0
    counts = np.empty(2 * len(starts), dtype=np.int64)
    counts[0::2], counts[1::2] = starts - previous_stop, stops - starts
    counts = counts.tolist()
    bounds = (2 * np.searchsorted(masks, np.arange(len(runs) + 1))).tolist()
    uncompressed = []
    for first, last in zip(bounds[:-1], bounds[1:]):
        mask_counts = counts[first:last]
        tail = area - (stops[last // 2 - 1] if last > first else 0)
        # pycocotools ends with the last run, never with an empty run of 0s.
        if tail or not mask_counts:
            mask_counts.append(int(tail))
        uncompressed.append({"size": [height, width], "counts": mask_counts})
    return mask_utils.frPyObjects(uncompressed, height, width)


def decode_columns(runs: np.ndarray, height: int, x0: int, x1: int) -> np.ndarray:
    """Columns x0..x1-1 (all rows) of the mask with run lengths ``runs`` (column-major,
    alternately 0s and 1s, starting with 0s), as a C-contiguous (height, x1 - x0) uint8 array."""
    ends = np.cumsum(runs)
    low, high = x0 * height, x1 * height
    lengths = np.clip(ends, low, high) - np.clip(ends - runs, low, high)
    values = (np.arange(len(runs)) % 2).astype(np.uint8)
    return np.ascontiguousarray(np.repeat(values, lengths).reshape(x1 - x0, height).T)
