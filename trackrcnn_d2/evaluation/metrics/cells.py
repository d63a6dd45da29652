"""The dense score matrices of many (frame, class) cells, TrackEval's per-time-step matrices,
built at once for the cells that :func:`.pairing.hungarian_matching` solves."""
import numpy as np

__all__ = ["CellMatrices"]


class CellMatrices:
    """Dense matrices of pair values (:class:`.pairing.Pairs`) over the detections
    (:class:`.pairing.Detections`, ``cells`` sorted by frame then class) of many cells at once,
    TrackEval's per-time-step matrices (rows and columns in file order): ``rows(k)`` /
    ``cols(k)`` the detections of cell k, ``matrix(values, k)`` its dense matrix of ``values``
    (one per pair, zero elsewhere), from one flat array built for all cells (:meth:`fill`)."""

    def __init__(self, gt_dets, tracker_dets, pairs, cells):
        n_cls = int(max(gt_dets.cls.max(initial=0), tracker_dets.cls.max(initial=0))) + 1
        keys = cells[:, 0] * n_cls + cells[:, 1] if len(cells) else np.zeros(0, np.int64)
        self._rows, row_start, row_count, row_local = _cell_members(gt_dets, keys, n_cls)
        self._cols, col_start, col_count, col_local = _cell_members(tracker_dets, keys, n_cls)
        self._row_start, self._row_count = row_start.tolist(), row_count.tolist()
        self._col_start, self._col_count = col_start.tolist(), col_count.tolist()
        size = row_count * col_count
        self._offset = (np.cumsum(size) - size).tolist()
        self._size = int(size.sum())
        local = row_local[pairs.gt]
        self._pairs = np.flatnonzero(local >= 0)
        cell = np.searchsorted(keys, gt_dets.frame[pairs.gt[self._pairs]] * n_cls
                               + gt_dets.cls[pairs.gt[self._pairs]])  # fmt: skip
        self._flat = (np.cumsum(size) - size)[cell] + local[self._pairs] * col_count[cell] + (
            col_local[pairs.tracker[self._pairs]]
        )

    def fill(self, values: np.ndarray) -> np.ndarray:
        flat = np.zeros(self._size)
        flat[self._flat] = values[self._pairs]
        return flat

    def rows(self, k: int) -> np.ndarray:
        return self._rows[self._row_start[k] : self._row_start[k] + self._row_count[k]]

    def cols(self, k: int) -> np.ndarray:
        return self._cols[self._col_start[k] : self._col_start[k] + self._col_count[k]]

    def matrix(self, flat: np.ndarray, k: int) -> np.ndarray:
        n_rows, n_cols = self._row_count[k], self._col_count[k]
        return flat[self._offset[k] : self._offset[k] + n_rows * n_cols].reshape(n_rows, n_cols)


def _cell_members(dets, keys: np.ndarray, n_cls: int):
    """The detections in the cells ``keys`` (sorted) grouped by cell, in file order within a
    cell; each cell's start and count in that list; each detection's index within its cell
    (-1 outside the cells)."""
    det_key = dets.frame * n_cls + dets.cls
    slot = np.minimum(np.searchsorted(keys, det_key), max(len(keys) - 1, 0))
    inside = np.flatnonzero((keys[slot] == det_key) if len(keys) else np.zeros(len(dets), bool))
    members = inside[np.argsort(slot[inside], kind="stable")]
    count = np.bincount(slot[members], minlength=len(keys))
    start = np.cumsum(count) - count
    local = np.full(len(dets), -1, dtype=np.int64)
    local[members] = np.arange(len(members)) - start[slot[members]]
    return members, start, count, local
