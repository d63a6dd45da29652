"""Ground truth validated and arranged once (TrackEval's ``_load_raw_file`` for the GT side), so
that a threshold search evaluating hundreds of result sets against it pays this only once."""
import functools
import gc
import warnings
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import pycocotools.mask as mask_utils

from trackrcnn_d2.data.mots_io import CAR, IGNORE, IGNORE_OBJ_ID, PEDESTRIAN, MOTSObject

from .validation import (
    GroundTruthWarning,
    OverlapChecker,
    check_frame_number,
    check_rle_strings,
    check_sizes,
    check_unique_ids,
)

__all__ = [
    "MOTSGroundTruth",
    "without_gc",
    "FRAME_STRIDE",
    "CHUNK_FRAMES",
    "IGNORE_CHUNK_FRAMES",
    "chunk_rle",
]

Frames = Mapping[int, Sequence[MOTSObject]]

# Key of a frame in all sequences: sequence index * FRAME_STRIDE + frame number.
FRAME_STRIDE = 1 << 32
# Masks of this many consecutive frames go to pycocotools in one call: its per-call overhead
# dominates with fewer, its box overlaps of all pairs of masks (of different frames too) with more
# (MOTSChallenge, 1 frame: 98 ms, 4: 89 ms, 16: 102 ms, 32: 121 ms). Each frame's masks get a
# different width in their size header, so that pycocotools returns -1 for pairs of masks from
# different frames without intersecting them; boxes and IoUs of same-frame pairs do not depend on
# the width.
CHUNK_FRAMES = 4
# The same for the intersections with the ignore regions: few hypotheses are left unmatched, so
# many more frames fit in a call before the box overlaps of all pairs cost more than the calls.
IGNORE_CHUNK_FRAMES = 64


def chunk_rle(rle: dict, frame: int, chunk_frames: int = CHUNK_FRAMES) -> dict:
    height, width = rle["size"]
    return {"size": [height, width + frame % chunk_frames], "counts": rle["counts"]}


def without_gc(function):
    """Run ``function`` with Python's cyclic garbage collector paused. The evaluation allocates
    many small objects (masks, dicts) but no reference cycles; each collection the allocations
    trigger would scan every live object (the caller's data too), for nothing."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        enabled = gc.isenabled()
        gc.disable()
        try:
            return function(*args, **kwargs)
        finally:
            if enabled:
                gc.enable()

    return wrapper


class SequenceGroundTruth:
    """Validated GT of one sequence: per frame its masks except ignore regions (file order) and
    the union of its ignore regions (kitti_mots.py l. 226-242)."""

    def __init__(self, name: str, frames: Frames, frame_range: Optional[Tuple[int, int]]):
        self.name = name
        self.frame_range = frame_range
        self.objects: Dict[int, Tuple[MOTSObject, ...]] = {}
        self.ignore: Dict[int, dict] = {}
        self.image_size: Optional[Tuple[int, int]] = None
        ordered = [(name, frame, frames[frame]) for frame in sorted(frames) if frames[frame]]
        for _, frame, objects in ordered:
            check_frame_number(name, frame, frame_range, "ground truth")
            if self.image_size is None:
                self.image_size = (objects[0].rle["size"][0], objects[0].rle["size"][1])
            check_sizes(name, frame, objects, self.image_size, "ground truth")
        # Before pycocotools merges the ignore regions (kitti_mots.py l. 233).
        areas = check_rle_strings(ordered, "ground truth").tolist()
        # TrackEval refuses GT whose masks (ignore region included) overlap (l. 244-252).
        checker = OverlapChecker("ground truth")
        offset = 0
        for _, frame, objects in ordered:
            frame_areas = areas[offset : offset + len(objects)]
            offset += len(objects)
            regular = tuple(o for o in objects if o.class_id != IGNORE)
            regular_areas = [a for o, a in zip(objects, frame_areas) if o.class_id != IGNORE]
            ignore_rles = [o.rle for o in objects if o.class_id == IGNORE]
            check_unique_ids(name, frame, regular, "ground truth")
            self.objects[frame] = regular
            if not ignore_rles:
                checker.add(name, frame, regular, regular_areas)
                continue
            if len(ignore_rles) == 1:
                self.ignore[frame] = ignore_rles[0]
                ignore_area = frame_areas[[o.class_id for o in objects].index(IGNORE)]
            else:
                self.ignore[frame] = mask_utils.merge(ignore_rles, intersect=False)
                ignore_area = -1
            checker.add(name, frame, [*regular, self.ignore[frame]], [*regular_areas, ignore_area])
        checker.check()
        _warn_about_classes(name, frames)


def _warn_about_classes(sequence: str, frames: Frames) -> None:
    """TrackEval ignores GT objects of other classes and takes the class column when it
    disagrees with ``obj_id // 1000``; both usually mean a broken file, so say it."""
    unknown, mismatched = set(), set()
    for objects in frames.values():
        for o in objects:
            if o.class_id not in (CAR, PEDESTRIAN, IGNORE):
                unknown.add(o.class_id)
            elif o.obj_id // 1000 != o.class_id or (
                o.class_id == IGNORE and o.obj_id != IGNORE_OBJ_ID
            ):
                mismatched.add(o.obj_id)
    if unknown:
        warnings.warn(
            f"ground truth of sequence {sequence} has objects of unknown class id(s) "
            f"{sorted(unknown)}: they are ignored, as TrackEval does (MOTS classes: 1 car, "
            "2 pedestrian, 10 ignore region)",
            GroundTruthWarning,
            stacklevel=5,
        )
    if mismatched:
        warnings.warn(
            f"ground truth of sequence {sequence} has obj_id(s) {sorted(mismatched)[:10]} whose "
            "class column differs from obj_id // 1000 (or an ignore region other than obj_id "
            f"{IGNORE_OBJ_ID}): they count as the class column says, as in TrackEval",
            GroundTruthWarning,
            stacklevel=5,
        )


class GroundTruthForClasses:
    """The GT of the evaluated classes, arranged for :func:`.pairing.collect`: detection arrays
    in frame order (``key``: frame key, ``cls``: class index, ``ids``), and per chunk of frames
    (key: frame key // :data:`CHUNK_FRAMES`) the chunk's masks for pycocotools
    (:func:`chunk_rle`): ``chunks`` holds ``(rles, frame key per mask, GT index per mask)`` of the
    GT masks of the evaluated classes; ``ignore``: the ignore region of each frame (by key) that
    has one, kept apart because TrackEval intersects it only with the hypotheses left unmatched
    (kitti_mots.py l. 336-343), usually a few."""

    def __init__(self, ground_truth: "MOTSGroundTruth", class_index: Dict[int, int]):
        keys: List[int] = []
        classes: List[int] = []
        ids: List[int] = []
        chunks: Dict[int, tuple] = {}
        self.ignore: Dict[int, dict] = {}
        for sequence_index, sequence in enumerate(ground_truth.sequences):
            sequence_gt = ground_truth[sequence]
            for frame, objects in sequence_gt.objects.items():
                key = sequence_index * FRAME_STRIDE + frame
                gt = [o for o in objects if o.class_id in class_index]
                if gt:
                    rles, frame_keys, indices = chunks.setdefault(key // CHUNK_FRAMES, ([], [], []))
                    rles.extend(chunk_rle(o.rle, frame) for o in gt)
                    frame_keys.extend([key] * len(gt))
                    indices.extend(range(len(keys), len(keys) + len(gt)))
                    keys.extend([key] * len(gt))
                    classes.extend(class_index[o.class_id] for o in gt)
                    ids.extend(o.obj_id for o in gt)
                ignore = sequence_gt.ignore.get(frame)
                if ignore is not None:
                    self.ignore[key] = ignore
        self.chunks = {
            chunk: (rles, np.asarray(frame_keys, dtype=np.int64), np.asarray(indices))
            for chunk, (rles, frame_keys, indices) in chunks.items()
        }
        self.key = np.asarray(keys, dtype=np.int64)
        self.cls = np.asarray(classes, dtype=np.int64)
        self.ids = np.asarray(ids, dtype=np.int64)


class MOTSGroundTruth:
    """Ground truth prepared once for many :func:`evaluate_mots` calls.

    Validates the GT (frame numbers, sizes, unique ids per frame, no overlapping masks), merges
    each frame's ignore regions and arranges the masks of the evaluated classes, so that a
    threshold search that evaluates hundreds of result sets against the same GT pays this only
    once.

    Args:
        gt: ``{sequence: {frame: [MOTSObject, ...]}}`` including ignore regions (class 10).
        frame_ranges: optional ``{sequence: (first, last)}`` (e.g. from a seqmap); then GT and
            result frames outside the range are refused, as TrackEval does.
    """

    @without_gc
    def __init__(
        self,
        gt: Mapping[str, Frames],
        frame_ranges: Optional[Mapping[str, Tuple[int, int]]] = None,
    ):
        frame_ranges = frame_ranges or {}
        self.sequences: List[str] = list(gt)
        self._sequences = {
            name: SequenceGroundTruth(name, frames, frame_ranges.get(name))
            for name, frames in gt.items()
        }
        self._for_classes: Dict[Tuple[int, ...], GroundTruthForClasses] = {}

    def __getitem__(self, sequence: str) -> SequenceGroundTruth:
        return self._sequences[sequence]

    def __contains__(self, sequence: str) -> bool:
        return sequence in self._sequences

    def for_classes(self, class_ids: Sequence[int]) -> GroundTruthForClasses:
        key = tuple(class_ids)
        if key not in self._for_classes:
            class_index = {class_id: i for i, class_id in enumerate(class_ids)}
            self._for_classes[key] = GroundTruthForClasses(self, class_index)
        return self._for_classes[key]
