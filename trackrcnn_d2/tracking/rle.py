"""Set operations on compressed COCO RLE masks without decoding them to pixels.

pycocotools offers union and intersection (``merge``) but no difference; making the masks of a
frame disjoint needs ``a and not b``. Decoding two 375 x 1242 masks costs about a millisecond;
complementing the runs of one and intersecting (pycocotools) costs a fraction of that.
"""
import numpy as np
import pycocotools.mask as mask_utils


def rle_runs(rle: dict) -> np.ndarray:
    """Run lengths of a compressed RLE (column-major, alternating 0s and 1s, starting with 0s):
    the decoding of pycocotools' ``rleFrString``, vectorised."""
    counts = rle["counts"]
    if isinstance(counts, str):
        counts = counts.encode("ascii")
    chars = np.frombuffer(counts, dtype=np.uint8).astype(np.int64) - 48
    if len(chars) == 0:
        return np.zeros(0, dtype=np.int64)
    # Each number is 5-bit groups, least significant first; bit 0x20 says "more groups follow",
    # bit 0x10 of the last group is the sign.
    last = np.flatnonzero((chars & 0x20) == 0)
    first = np.r_[0, last[:-1] + 1]
    position = np.arange(len(chars)) - np.repeat(first, last - first + 1)
    values = np.add.reduceat((chars & 0x1F) << (5 * position), first)
    negative = (chars[last] & 0x10) != 0
    values[negative] |= -1 << (5 * (last - first + 1)[negative])
    # From the fourth number on, each is stored as the difference to the number two before.
    runs = values.copy()
    runs[1::2] = np.cumsum(values[1::2])
    runs[2::2] = np.cumsum(values[2::2])
    return runs


def rle_from_runs(runs: np.ndarray, height: int, width: int) -> dict:
    """Compressed RLE of run lengths (starting with a run of 0s)."""
    return mask_utils.frPyObjects(
        {"size": [height, width], "counts": np.asarray(runs).tolist()}, height, width
    )


def rle_complement(rle: dict) -> dict:
    """RLE of the pixels not in ``rle``: the same runs, shifted by one 0-length run."""
    runs = rle_runs(rle)
    runs = runs[1:] if len(runs) and runs[0] == 0 else np.r_[0, runs]
    return rle_from_runs(runs, *rle["size"])


def rle_difference(a: dict, b: dict) -> dict:
    """RLE of the pixels in ``a`` and not in ``b`` (same size)."""
    return mask_utils.merge([a, rle_complement(b)], intersect=True)
