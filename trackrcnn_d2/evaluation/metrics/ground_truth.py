"""Ground truth validated and arranged once (TrackEval's ``_load_raw_file`` for the GT side), so
that a threshold search evaluating hundreds of result sets against it pays this only once."""
import functools
import gc
import warnings
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import pycocotools.mask as mask_utils

from trackrcnn_d2.data.mots_io import CAR, IGNORE, IGNORE_OBJ_ID, PEDESTRIAN, MOTSObject
from trackrcnn_d2.utils.rle_batch import RLEBatch

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
]

Frames = Mapping[int, Sequence[MOTSObject]]

# Key of a frame in all sequences: sequence index * FRAME_STRIDE + frame number.
FRAME_STRIDE = 1 << 32
# Masks of this many consecutive frames are intersected in one pycocotools call (rleIou): its
# per-call overhead dominates with fewer, its box overlaps of all pairs of masks (of different
# frames too) with more. Each frame's masks count with a different width (image width + frame
# % CHUNK_FRAMES), so that pycocotools gives -1 for pairs of masks from different frames without
# intersecting them; boxes and IoUs of same-frame pairs do not depend on the width.
CHUNK_FRAMES = 4
# The same for the intersections with the ignore regions: few hypotheses are left unmatched, so
# many more frames fit in a call before the box overlaps of all pairs cost more than the calls.
IGNORE_CHUNK_FRAMES = 64


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
        # Where each frame's objects are in self.batch (every mask of the sequence, parsed once).
        self.positions: Dict[int, Tuple[int, ...]] = {}
        self.ignore: Dict[int, dict] = {}
        self.image_size: Optional[Tuple[int, int]] = None
        ordered = [(name, frame, frames[frame]) for frame in sorted(frames) if frames[frame]]
        for _, frame, objects in ordered:
            check_frame_number(name, frame, frame_range, "ground truth")
            if self.image_size is None:
                self.image_size = (objects[0].rle["size"][0], objects[0].rle["size"][1])
            check_sizes(name, frame, objects, self.image_size, "ground truth")
        # Before pycocotools merges the ignore regions (kitti_mots.py l. 233).
        areas, self.batch = check_rle_strings(ordered, "ground truth")
        areas = areas.tolist()
        # TrackEval refuses GT whose masks (ignore region included) overlap (l. 244-252).
        checker = OverlapChecker("ground truth", self.batch)
        offset = 0
        for _, frame, objects in ordered:
            positions = range(offset, offset + len(objects))
            frame_areas = areas[offset : offset + len(objects)]
            offset += len(objects)
            is_ignore = [o.class_id == IGNORE for o in objects]
            regular = tuple(o for o, ignore in zip(objects, is_ignore) if not ignore)
            check_unique_ids(name, frame, regular, "ground truth")
            self.objects[frame] = regular
            self.positions[frame] = tuple(
                p for p, ignore in zip(positions, is_ignore) if not ignore
            )
            area = sum(a for a, ignore in zip(frame_areas, is_ignore) if not ignore)
            ignore_rles = [o.rle for o, ignore in zip(objects, is_ignore) if ignore]
            if not ignore_rles:
                checker.add(name, frame, regular, positions, area)
                continue
            if len(ignore_rles) == 1:
                self.ignore[frame] = ignore_rles[0]
                area += frame_areas[is_ignore.index(True)]
            else:  # regions that may overlap each other: their union counts
                self.ignore[frame] = mask_utils.merge(ignore_rles, intersect=False)
                area += int(mask_utils.area(self.ignore[frame]))
            checker.add(name, frame, [*regular, self.ignore[frame]], positions, area)
        checker.check()
        _warn_about_classes(name, frames)
        # The ignore regions once more, merged ones included, for the intersections with the
        # hypotheses left unmatched.
        self.ignore_batch = RLEBatch(list(self.ignore.values()))
        self.ignore_index = {frame: i for i, frame in enumerate(self.ignore)}


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
    (key: frame key // :data:`CHUNK_FRAMES`, frames of one sequence) ``(batch, positions in it,
    width per mask, frame key per mask, GT index per mask)`` of the GT masks of the evaluated
    classes; ``ignore``: ``(batch, position)`` of the ignore region of each frame (by key) that
    has one, kept apart because TrackEval intersects it only with the hypotheses left unmatched
    (kitti_mots.py l. 336-343), usually a few."""

    def __init__(self, ground_truth: "MOTSGroundTruth", class_index: Dict[int, int]):
        keys: List[int] = []
        classes: List[int] = []
        ids: List[int] = []
        chunks: Dict[int, tuple] = {}
        self.ignore: Dict[int, Tuple[RLEBatch, int]] = {}
        for sequence_index, sequence in enumerate(ground_truth.sequences):
            sequence_gt = ground_truth[sequence]
            width = sequence_gt.image_size[1] if sequence_gt.image_size else 0
            for frame, objects in sequence_gt.objects.items():
                key = sequence_index * FRAME_STRIDE + frame
                gt = [
                    (o, p)
                    for o, p in zip(objects, sequence_gt.positions[frame])
                    if o.class_id in class_index
                ]
                if gt:
                    chunk = chunks.setdefault(
                        key // CHUNK_FRAMES, (sequence_gt.batch, [], [], [], [])
                    )
                    _, positions, widths, frame_keys, indices = chunk
                    positions.extend(p for _, p in gt)
                    widths.extend([width + frame % CHUNK_FRAMES] * len(gt))
                    frame_keys.extend([key] * len(gt))
                    indices.extend(range(len(keys), len(keys) + len(gt)))
                    keys.extend([key] * len(gt))
                    classes.extend(class_index[o.class_id] for o, _ in gt)
                    ids.extend(o.obj_id for o, _ in gt)
                if frame in sequence_gt.ignore_index:
                    self.ignore[key] = (sequence_gt.ignore_batch, sequence_gt.ignore_index[frame])
        self.chunks = {
            chunk: (batch, *(np.asarray(values, dtype=np.int64) for values in lists))
            for chunk, (batch, *lists) in chunks.items()
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
