"""Checks of the input that TrackEval refuses (or would count wrongly), with messages that name
the sequence, frame and ids: frame numbers, image sizes, unique ids per frame, no overlapping masks.

TrackEval raises on the same inputs in ``datasets/_base_dataset.py`` ``_check_unique_ids``
(l. 303-330) and ``datasets/kitti_mots.py`` / ``mots_challenge.py`` ``_load_raw_file`` (overlap
check, kitti_mots.py l. 244-252); its message names the sequence and time step only.
"""
from typing import List, Optional, Sequence, Tuple

import numpy as np

from trackrcnn_d2.data.mots_io import MAX_FRAME, MOTSObject, find_duplicate_id
from trackrcnn_d2.utils.rle import (
    describe_rle_size_mismatch,
    find_rle_size_mismatch,
    first_group_with_overlap,
    overlapping_pair,
)
from trackrcnn_d2.utils.rle_batch import RLEBatch

__all__ = [
    "MOTSEvaluationError",
    "RLEStringError",
    "MissingResultsWarning",
    "GroundTruthWarning",
    "ResultsWarning",
    "check_frame_number",
    "check_sizes",
    "check_unique_ids",
    "check_rle_strings",
    "OverlapChecker",
]


class MOTSEvaluationError(ValueError):
    """Input the official tools refuse: the message names the sequence, frame and ids."""


class RLEStringError(MOTSEvaluationError):
    """An RLE string that does not cover exactly its header's height x width pixels, or is
    malformed: pycocotools would read past its buffer or loop forever on it. ``what`` ("ground
    truth" or "results") and ``sequence`` say where (file readers re-read that file to name the
    line)."""

    def __init__(self, message: str, what: str, sequence: str):
        super().__init__(message)
        self.what, self.sequence = what, sequence


class MissingResultsWarning(UserWarning):
    """A GT sequence has no results: all its GT masks count as missed."""


class GroundTruthWarning(UserWarning):
    """Ground truth that TrackEval accepts but that is likely broken (unknown classes, class
    column and obj_id disagree)."""


class ResultsWarning(UserWarning):
    """Results that TrackEval accepts but that are likely broken (lines of classes that are not
    evaluated)."""


def check_frame_number(sequence, frame, frame_range: Optional[Tuple[int, int]], what) -> None:
    """A frame inside the seqmap's range (when there is one) and below 2^32 (frames of all
    sequences share one int64 key: sequence index * 2^32 + frame)."""
    if frame_range is not None and not frame_range[0] <= frame <= frame_range[1]:
        raise MOTSEvaluationError(
            f"{what} of sequence {sequence} has frame {frame}, outside the sequence's frames "
            f"{frame_range[0]}..{frame_range[1]} (seqmap); check the frame numbering "
            "(KITTI MOTS counts from 0, MOTSChallenge from 1)"
        )
    if not 0 <= frame <= MAX_FRAME:
        raise MOTSEvaluationError(
            f"{what} of sequence {sequence} has frame {frame}; frame numbers must be in "
            f"0..{MAX_FRAME}"
        )


def check_sizes(sequence, frame, objects: Sequence[MOTSObject], image_size, what) -> None:
    height, width = image_size
    for obj in objects:
        size = obj.rle["size"]
        if size[0] != height or size[1] != width:
            raise MOTSEvaluationError(
                f"{what} of sequence {sequence}, frame {frame}: object {obj.obj_id} has image "
                f"size {size[0]}x{size[1]}, but the ground truth of the sequence is "
                f"{height}x{width}; the masks belong to other images (wrong sequence or resized)"
            )


def check_unique_ids(sequence, frame, objects: Sequence[MOTSObject], what) -> None:
    duplicate = find_duplicate_id(objects)
    if duplicate is not None:
        raise MOTSEvaluationError(
            f"{what} of sequence {sequence}, frame {frame}: object id "
            f"{objects[duplicate[1]].obj_id} occurs more than once; every object id may appear "
            "at most once per frame"
        )


def check_rle_strings(
    frames: Sequence[Tuple[str, int, Sequence[MOTSObject]]], what
) -> Tuple[np.ndarray, RLEBatch]:
    """Refuse the first RLE string of the frames ``(sequence, frame, objects)`` that does not
    cover its header's size (:func:`~trackrcnn_d2.utils.rle.find_rle_size_mismatch`, before
    anything hands it to pycocotools). Returns the masks' areas in frame then object order and
    their :class:`~trackrcnn_d2.utils.rle_batch.RLEBatch` (parsed once), which the overlap
    check and the IoUs reuse."""
    objects = [o for *_, frame_objects in frames for o in frame_objects]
    index, areas, batch = find_rle_size_mismatch([o.rle for o in objects], return_batch=True)
    if index is None:
        return areas, batch
    obj = objects[index]
    frame_ends = np.cumsum([len(frame_objects) for *_, frame_objects in frames])
    sequence = frames[int(np.searchsorted(frame_ends, index, side="right"))][0]
    raise RLEStringError(
        f"{what} of sequence {sequence}, frame {obj.frame}, object {obj.obj_id}: "
        f"{describe_rle_size_mismatch(obj.rle)}",
        what,
        sequence,
    )


_OVERLAP_ADVICE = (
    "MOTS requires every pixel to belong to at most one object, and the official tools refuse "
    "overlapping masks: resolve the overlaps first"
)


class OverlapChecker:
    """Collects the masks of frames, then refuses the first frame whose masks overlap: a frame's
    masks are disjoint iff the area of their union (:class:`RLEBatch`, masks parsed once) is the
    sum of their areas; only in a frame that fails are the pairs looked at."""

    def __init__(self, what: str, batch: RLEBatch):
        self.what = what
        self.batch = batch
        self.frames: List[Tuple[str, int, Sequence]] = []
        self.groups: List[np.ndarray] = []
        self.expected: List[int] = []

    def add(self, sequence: str, frame: int, objects: Sequence, positions, area: int) -> None:
        """``objects``: the frame's MOTSObjects, the ignore region (an RLE dict) last where
        there is one, named in the message; ``positions``: the masks in the batch whose union
        they are (the ignore region's parts where it was merged); ``area``: the sum of the
        objects' areas."""
        if len(positions) > 1:
            self.frames.append((sequence, frame, objects))
            self.groups.append(np.asarray(positions, dtype=np.int64))
            self.expected.append(area)

    def check(self) -> None:
        index = first_group_with_overlap(
            self.batch, self.groups, np.asarray(self.expected, dtype=np.int64)
        )
        if index is None:
            return
        sequence, frame, objects = self.frames[index]
        first, second = overlapping_pair([o if isinstance(o, dict) else o.rle for o in objects])
        first_name, second_name = (
            "the ignore region" if isinstance(o, dict) else f"object {o.obj_id}"
            for o in (objects[first], objects[second])
        )
        raise MOTSEvaluationError(
            f"{self.what} of sequence {sequence}, frame {frame}: the masks of {first_name} and "
            f"{second_name} overlap. {_OVERLAP_ADVICE}"
        )
