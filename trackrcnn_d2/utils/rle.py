"""The one codec of COCO compressed RLE masks (column-major, as pycocotools writes them), torch-
free: encoding and decoding, run lengths, set difference, overlap search, and size checks of RLE
strings against their headers that never decode a mask.

pycocotools offers union and intersection (``merge``) but no difference, and no way to check a
string before it decodes it (a string that covers more pixels than its header says makes it read
past its buffer, or hang). The LEB128-like string format is that of pycocotools' ``rleToString``:
each number is 5-bit groups, least significant first; bit 0x20 of a character says "more groups
follow", bit 0x10 of the last group is the sign; from the fourth number on, each is stored as the
difference to the number two before.
"""
from typing import Optional, Sequence, Tuple

import numpy as np
import pycocotools.mask as mask_utils

from .rle_batch import RLEBatch

__all__ = [
    "encode_mask",
    "decode_mask",
    "rle_runs",
    "rle_from_runs",
    "rle_complement",
    "rle_difference",
    "find_overlap",
    "first_group_with_overlap",
    "overlapping_pair",
    "rle_areas",
    "rle_counts_total",
    "rle_counts_totals",
    "find_rle_size_mismatch",
    "describe_rle_size_mismatch",
]


def encode_mask(mask: np.ndarray) -> dict:
    """Compressed COCO RLE of a binary HxW mask."""
    return mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))


def decode_mask(rle: dict) -> np.ndarray:
    """Binary HxW uint8 mask of a compressed COCO RLE."""
    return mask_utils.decode(rle)


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


# The alphabet of pycocotools' compressed RLE strings: 48 + a 6-bit code.
_RLE_ALPHABET = bytes(range(48, 48 + 64))


_RLE_HEAD = 7  # characters that hold the first code of any image below 2^35 pixels


def rle_counts_totals(rles: Sequence[dict], return_areas: bool = False):
    """:func:`rle_counts_total` of the strings of many RLEs (``counts`` bytes or str) at C
    speed: an int64 array, -1 where a
    string is malformed (a character outside the alphabet, a truncated last code, a negative
    first run); call :func:`rle_counts_total` on those for the reason. With ``return_areas``
    also the foreground areas (-1 where malformed), which it computes anyway: ``(totals,
    areas)``.

    The total is the foreground area (the runs at odd positions) plus the background: the runs
    at even positions but the first (:meth:`~.rle_batch.RLEBatch.background_sums`, pycocotools'
    area of the runs shifted by one) plus the first run r0, read from the string's first
    characters; every string is parsed once by pycocotools (:class:`~.rle_batch.RLEBatch`).

    pycocotools sums runs as uint32, so a string crafted with a negative later run whose total
    wraps round to exactly the header's size would pass; :func:`rle_counts_total` catches it,
    but decodes in Python (about 40 times slower), which is why the readers use this check.
    """
    totals, areas, _ = _totals_areas_batch(rles)
    return (totals, areas) if return_areas else totals


def _totals_areas_batch(rles: Sequence[dict]):
    """``(totals, areas, batch)``: those of :func:`rle_counts_totals` and the
    :class:`~.rle_batch.RLEBatch` of the well-formed strings (all of ``rles`` when every one
    is), which the caller may reuse."""
    counts = [r["counts"] for r in rles]
    n = len(counts)
    totals = np.full(n, -1, dtype=np.int64)
    areas = np.full(n, -1, dtype=np.int64)
    if n == 0:
        return totals, areas, RLEBatch([])
    try:
        joined = b"".join(counts)
    except TypeError:  # some str
        counts = [c if isinstance(c, bytes) else c.encode() for c in counts]
        joined = b"".join(counts)
    characters = np.frombuffer(joined, dtype=np.uint8)
    lengths = np.fromiter(map(len, counts), dtype=np.int64, count=n)
    starts = np.cumsum(lengths) - lengths
    usable = lengths > 0
    if joined.translate(None, _RLE_ALPHABET):
        usable &= np.array([not c.translate(None, _RLE_ALPHABET) for c in counts])
    usable &= characters[np.maximum(starts + lengths - 1, 0)] < 80  # last code complete
    # The first _RLE_HEAD characters of each string ("0", i.e. zero codes, past its end).
    column = np.arange(_RLE_HEAD)
    in_string = column < lengths[:, None]
    head_index = np.minimum(starts[:, None] + column, max(len(characters) - 1, 0))
    heads = np.where(in_string, characters[head_index] if len(characters) else 48, 48)
    heads = heads.astype(np.int64) - 48
    more = (heads & 0x20) != 0
    usable &= ~more.all(axis=1)
    first_length = np.argmin(more, axis=1) + 1
    in_first = column < first_length[:, None]
    first_run = (((heads & 0x1F) << (5 * column)) * in_first).sum(axis=1)
    negative = (heads[np.arange(n), first_length - 1] & 0x10) != 0
    first_run[negative] -= np.left_shift(1, 5 * first_length[negative])
    usable &= first_run >= 0
    index = np.flatnonzero(usable)
    batch = RLEBatch(rles if len(index) == n else [rles[i] for i in index.tolist()])
    foreground = batch.areas()
    totals[index] = foreground + batch.background_sums(first_length[index]) + first_run[index]
    areas[index] = foreground
    totals[lengths == 0] = 0
    areas[lengths == 0] = 0
    return totals, areas, batch


def find_rle_size_mismatch(rles: Sequence[dict], return_batch: bool = False):
    """``(index, areas)``: the index of the first RLE whose string does not cover exactly its
    header's height x width pixels, or is malformed (None when every one does), and the
    foreground areas of all (:func:`rle_counts_totals`: at C speed, no mask decoded). What
    pycocotools must not see: it reads past the buffer of such a string, or loops forever
    intersecting it with a mask of the right size. With ``return_batch`` also the
    :class:`~.rle_batch.RLEBatch` of all ``rles`` (None where one is malformed), for the
    operations that follow: ``(index, areas, batch)``."""
    totals, areas, batch = _totals_areas_batch(rles)
    sizes = np.array([r["size"] for r in rles], dtype=np.int64).reshape(-1, 2)
    bad = np.flatnonzero(totals != sizes[:, 0] * sizes[:, 1])
    index = int(bad[0]) if len(bad) else None
    if not return_batch:
        return index, areas
    return index, areas, (batch if len(batch) == len(rles) else None)


def describe_rle_size_mismatch(rle: dict) -> str:
    """What is wrong with an RLE that :func:`find_rle_size_mismatch` names, for a message."""
    counts = rle["counts"] if isinstance(rle["counts"], bytes) else rle["counts"].encode()
    height, width = rle["size"]
    try:
        covered = rle_counts_total(counts)
    except ValueError as e:
        return f"invalid RLE string ({e})"
    return (
        f"the RLE covers {covered} pixels but the header says {height}x{width} = "
        f"{height * width}; the mask does not belong to this image size"
    )


def rle_areas(rles: Sequence[dict]) -> np.ndarray:
    """Foreground areas of many RLEs (int64 array), without decoding them."""
    return RLEBatch(rles).areas()


def rle_counts_total(counts: bytes) -> int:
    """Number of pixels that a compressed COCO RLE string covers (the sum of its run lengths,
    :func:`rle_runs`), so that an RLE whose size disagrees with its header can be reported before
    pycocotools reads past the end of its buffer. Raises ``ValueError`` for a malformed string.
    """
    invalid = counts.translate(None, _RLE_ALPHABET)
    if invalid:
        raise ValueError(f"character {chr(invalid[0])!r} is not in the RLE alphabet")
    if counts and (counts[-1] - 48) & 0x20:
        raise ValueError("truncated RLE string")
    runs = rle_runs({"counts": counts})
    if (runs < 0).any():
        raise ValueError("negative run length in RLE string")
    return int(runs.sum())


def find_overlap(
    groups: Sequence[Sequence[dict]], areas: Optional[Sequence[int]] = None
) -> Optional[Tuple[int, int, int]]:
    """The first pair of overlapping masks within a group (e.g. the RLEs of one frame):
    ``(group, i, j)`` with i < j, or None when the masks of every group are disjoint.
    ``areas``: the masks' foreground areas, in group order, where already known (as
    :func:`rle_counts_totals` gives them); -1 for those to compute.

    A group is disjoint iff the area of its union equals the sum of its masks' areas
    (:func:`first_group_with_overlap`); only the first failing group's pairs are looked at.
    """
    sizes = np.fromiter(map(len, groups), dtype=np.int64, count=len(groups))
    crowded = np.flatnonzero(sizes > 1)
    if len(crowded) == 0:
        return None
    batch = RLEBatch([rle for g in crowded.tolist() for rle in groups[g]])
    if areas is None:
        areas = batch.areas()
    else:
        areas = np.asarray(areas, dtype=np.int64)[np.repeat(sizes > 1, sizes)]
        unknown = np.flatnonzero(areas < 0)
        if len(unknown):
            areas[unknown] = RLEBatch([batch.rles[i] for i in unknown.tolist()]).areas()
    crowded_sizes = sizes[crowded]
    positions = np.split(np.arange(len(batch)), np.cumsum(crowded_sizes)[:-1])
    expected = np.add.reduceat(areas, np.cumsum(crowded_sizes) - crowded_sizes)
    bad = first_group_with_overlap(batch, positions, expected)
    if bad is None:
        return None
    group = int(crowded[bad])
    return (group, *overlapping_pair(groups[group]))


def first_group_with_overlap(
    batch: RLEBatch, groups: Sequence[np.ndarray], expected: np.ndarray
) -> Optional[int]:
    """The first group (indices into ``batch``) whose union's area is less than ``expected``
    (the sum of its masks' areas when they are disjoint), or None."""
    if not len(groups):
        return None
    bad = np.flatnonzero(batch.union_areas(groups) != expected)
    return int(bad[0]) if len(bad) else None


def overlapping_pair(rles: Sequence[dict]) -> Tuple[int, int]:
    """The first pair ``(i, j)``, i < j, of masks that overlap among ``rles`` (some do)."""
    rles = list(rles)
    ious = np.asarray(mask_utils.iou(rles, rles, [0] * len(rles)))
    np.fill_diagonal(ious, 0)
    first, second = np.argwhere(ious > 0)[0]
    return int(first), int(second)
