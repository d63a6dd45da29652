"""Many compressed COCO RLEs parsed once, and the set operations the evaluation needs on all of
them at once: areas, sums of runs, union areas of groups, IoUs.

pycocotools' Python functions (``area``, ``merge``, ``iou``) parse every RLE string they are given
and encode every mask they return, so an evaluation that checks, merges and intersects each mask
parses its string five times and encodes the unions only to parse them again. :class:`RLEBatch`
calls the same C functions of pycocotools (``maskApi``: ``rleFrString``, ``rleArea``,
``rleMerge``, ``rleIou``) through ctypes on masks parsed once, kept in C; unions are merged
pairwise in a few levels (rleMerge walks the whole union so far for every mask it adds) and never
encoded. Where pycocotools' extension does not export those functions (Windows builds), the
same operations go through its Python functions: the numbers are the same either way (the same C
code computes them).

The strings must be well-formed (complete codes of the RLE alphabet, as the checks of
:mod:`trackrcnn_d2.utils.rle` ensure first): pycocotools' parser reads a string up to the end of
its last code.
"""
import ctypes
import functools
from typing import List, Optional, Sequence

import numpy as np
import pycocotools.mask as mask_utils

__all__ = ["RLEBatch", "c_library_available"]

# Masks merged per rleMerge call at each level of a group's union: rleMerge walks the union so
# far for each mask it adds, so a union of n masks costs n^2 / 2 mask lengths in one call and
# about n * (GROUP_MERGE + n / GROUP_MERGE) in two levels.
GROUP_MERGE = 4


class _MaskApi:
    """pycocotools' C functions, with the RLE struct (``typedef struct { siz h, w, m; uint *cnts;
    } RLE``, ``siz`` an unsigned long) as a numpy record type."""

    def __init__(self, library: ctypes.CDLL):
        class RLE(ctypes.Structure):
            _fields_ = [
                ("h", ctypes.c_ulong),
                ("w", ctypes.c_ulong),
                ("m", ctypes.c_ulong),
                ("cnts", ctypes.c_void_p),
            ]

        siz, pointer = ctypes.c_ulong, ctypes.c_void_p
        self.itemsize = ctypes.sizeof(RLE)
        self.dtype = np.dtype(
            {
                "names": ["h", "w", "m", "cnts"],
                "formats": [np.dtype(f"u{ctypes.sizeof(siz)}")] * 3 + [np.uintp],
                "offsets": [RLE.h.offset, RLE.w.offset, RLE.m.offset, RLE.cnts.offset],
                "itemsize": self.itemsize,
            }
        )
        self.uint_size = ctypes.sizeof(ctypes.c_uint)
        self.init = library.rlesInit
        self.init.argtypes = [ctypes.POINTER(pointer), siz]
        self.free = library.rlesFree
        self.free.argtypes = [ctypes.POINTER(pointer), siz]
        self.from_string = library.rleFrString
        self.from_string.argtypes = [pointer, ctypes.c_char_p, siz, siz]
        self.area = library.rleArea
        self.area.argtypes = [pointer, siz, pointer]
        self.merge = library.rleMerge
        self.merge.argtypes = [pointer, pointer, siz, ctypes.c_int]
        self.iou = library.rleIou
        self.iou.argtypes = [pointer, pointer, siz, siz, pointer, pointer]
        for function in (self.init, self.free, self.from_string, self.area, self.merge, self.iou):
            function.restype = None

    def allocate(self, n: int) -> int:
        """Address of n empty RLE structs (pycocotools' rlesInit), to release with release()."""
        address = ctypes.c_void_p()
        self.init(ctypes.byref(address), max(n, 1))
        return address.value

    def release(self, address: int, n: int) -> None:
        self.free(ctypes.byref(ctypes.c_void_p(address)), max(n, 1))

    def records(self, address: int, n: int) -> np.ndarray:
        """The n RLE structs at ``address`` as numpy records (a view)."""
        buffer = (ctypes.c_char * (self.itemsize * n)).from_address(address) if n else b""
        return np.frombuffer(buffer, dtype=self.dtype, count=n)


@functools.cache
def _mask_api() -> Optional[_MaskApi]:
    try:
        from pycocotools import _mask

        library = ctypes.CDLL(_mask.__file__)
        return _MaskApi(library)
    except (OSError, AttributeError, ImportError):
        return None


def c_library_available() -> bool:
    """Whether :class:`RLEBatch` calls pycocotools' C functions directly."""
    return _mask_api() is not None


class RLEBatch:
    """RLEs (``{"size": [h, w], "counts": bytes}``, well-formed strings) parsed once.

    ``use_c=False`` forces pycocotools' Python functions (for tests; the default uses the C
    functions where they are exported).
    """

    def __init__(self, rles: Sequence[dict], use_c: Optional[bool] = None):
        self.rles = rles
        self._api = _mask_api() if use_c is not False else None
        self._address = None
        if self._api is not None:
            api = self._api
            self._address = api.allocate(len(rles))
            parse, base, step = api.from_string, self._address, api.itemsize
            for address, rle in zip(range(base, base + step * len(rles), step), rles):
                height, width = rle["size"]
                parse(address, _bytes(rle), height, width)
            self._records = api.records(self._address, len(rles))

    def __len__(self) -> int:
        return len(self.rles)

    def __del__(self):
        if self._address is not None:
            self._api.release(self._address, len(self.rles))
            self._address = None

    def widths(self, indices: np.ndarray) -> np.ndarray:
        """The image widths of the masks ``indices``."""
        if self._api is None:
            return np.array([self.rles[i]["size"][1] for i in indices.tolist()], dtype=np.int64)
        return self._records["w"][indices].astype(np.int64)

    def areas(self) -> np.ndarray:
        """Foreground areas (the runs at odd positions, summed as pycocotools does: uint32)."""
        if self._api is None:
            return _python_areas(self.rles)
        return self._sum_odd_runs(self._records)

    def background_sums(self, first_code_lengths: np.ndarray) -> np.ndarray:
        """The runs at even positions but the first, summed (background pixels after the first
        run). ``first_code_lengths``: the characters of each string's first code."""
        if self._api is None:
            # pycocotools sums the odd positions of "00" + the string without its first code,
            # whose runs are the string's shifted by one (see utils.rle.rle_counts_totals).
            one_pixel = [1, 1]
            skips = first_code_lengths.tolist()
            return _python_areas(
                [{"size": one_pixel, "counts": b"00" + _bytes(rle)[skip:]}
                 for rle, skip in zip(self.rles, skips)]  # fmt: skip
            )
        shifted = self._records.copy()
        has_runs = shifted["m"] > 0
        shifted["m"][has_runs] -= 1
        shifted["cnts"][has_runs] += self._api.uint_size
        return self._sum_odd_runs(shifted)

    def _sum_odd_runs(self, records: np.ndarray) -> np.ndarray:
        out = np.zeros(len(records), dtype=np.uint32)
        if len(records):
            self._api.area(records.ctypes.data, len(records), out.ctypes.data)
        return out.astype(np.int64)

    def union_areas(self, groups: Sequence[np.ndarray]) -> np.ndarray:
        """The area of the union of each group of masks (indices into the batch, masks of one
        image size)."""
        if self._api is None:
            unions = [
                mask_utils.merge([self.rles[i] for i in group.tolist()], intersect=False)
                for group in groups
            ]
            return _python_areas(unions)
        api = self._api
        n_groups = len(groups)
        sizes = np.fromiter(map(len, groups), dtype=np.int64, count=n_groups)
        gathered = self._records[np.concatenate(groups)] if n_groups else self._records[:0]
        starts = (np.cumsum(sizes) - sizes).tolist()
        parts = -(-sizes // GROUP_MERGE)  # rleMerge outputs of the first level
        n_parts = int(parts.sum())
        level = api.allocate(n_parts)
        unions = api.allocate(n_groups)
        try:
            source, merge, step = gathered.ctypes.data, api.merge, api.itemsize
            part = 0
            for g, (start, size) in enumerate(zip(starts, sizes.tolist())):
                if size <= GROUP_MERGE:
                    merge(source + step * start, unions + step * g, size, 0)
                    continue
                first = part
                for offset in range(0, size, GROUP_MERGE):
                    count = min(GROUP_MERGE, size - offset)
                    merge(source + step * (start + offset), level + step * part, count, 0)
                    part += 1
                merge(level + step * first, unions + step * g, part - first, 0)
            return self._sum_odd_runs(api.records(unions, n_groups))
        finally:
            api.release(level, n_parts)
            api.release(unions, n_groups)

    def ious(
        self,
        rows: np.ndarray,
        other: "RLEBatch",
        columns: np.ndarray,
        crowd: bool,
        row_widths: np.ndarray,
        column_widths: np.ndarray,
    ) -> np.ndarray:
        """pycocotools' ``iou`` of the masks ``rows`` of this batch against the masks ``columns``
        of ``other`` (``crowd``: intersection over the row mask's area, as for ignore regions):
        a len(rows) x len(columns) array. The masks count with the widths given instead of
        theirs: pycocotools gives -1 for masks of different sizes without intersecting them."""
        if self._api is None or other._api is None:
            dt = [_with_width(self.rles[i], w) for i, w in zip(rows.tolist(), row_widths.tolist())]
            gt = [_with_width(other.rles[i], w)
                  for i, w in zip(columns.tolist(), column_widths.tolist())]  # fmt: skip
            if not dt or not gt:
                return np.zeros((len(dt), len(gt)))
            return np.asarray(mask_utils.iou(dt, gt, [int(crowd)] * len(gt)))
        dt = self._records[rows]
        dt["w"] = row_widths
        gt = other._records[columns]
        gt["w"] = column_widths
        out = np.zeros((len(columns), len(rows)))  # pycocotools fills o[g * m + d]
        if len(rows) and len(columns):
            crowds = np.full(len(columns), int(crowd), dtype=np.uint8)
            self._api.iou(dt.ctypes.data, gt.ctypes.data, len(rows), len(columns),
                          crowds.ctypes.data, out.ctypes.data)  # fmt: skip
        return out.T


def _bytes(rle: dict) -> bytes:
    counts = rle["counts"]
    return counts if isinstance(counts, bytes) else counts.encode()


def _with_width(rle: dict, width: int) -> dict:
    return {"size": [rle["size"][0], width], "counts": rle["counts"]}


def _python_areas(rles: List[dict]) -> np.ndarray:
    """pycocotools' areas, in chunks of 255: its ``area`` fails with numpy >= 2 for more RLEs
    than fit in a uint8 (it allocates a placeholder array of dtype uint8 from the count)."""
    chunk = 255
    parts = [mask_utils.area(list(rles[i : i + chunk])) for i in range(0, len(rles), chunk)]
    return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)
