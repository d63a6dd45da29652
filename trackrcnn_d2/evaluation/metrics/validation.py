"""Checks of the input that TrackEval refuses (or would count wrongly), with messages that name
the sequence, frame and ids: frame numbers, image sizes, unique ids per frame, no overlapping masks.

TrackEval raises on the same inputs in ``datasets/_base_dataset.py`` ``_check_unique_ids``
(l. 303-330) and ``datasets/kitti_mots.py`` / ``mots_challenge.py`` ``_load_raw_file`` (overlap
check, kitti_mots.py l. 244-252); its message names the sequence and time step only.
"""
from typing import List, Optional, Sequence, Tuple

import numpy as np
import pycocotools.mask as mask_utils

from trackrcnn_d2.data.mots_io import MAX_FRAME, MOTSObject, rle_areas

__all__ = [
    "MOTSEvaluationError",
    "MissingResultsWarning",
    "GroundTruthWarning",
    "check_frame_number",
    "check_sizes",
    "check_unique_ids",
    "OverlapChecker",
]


class MOTSEvaluationError(ValueError):
    """Input the official tools refuse: the message names the sequence, frame and ids."""


class MissingResultsWarning(UserWarning):
    """A GT sequence has no results: all its GT masks count as missed."""


class GroundTruthWarning(UserWarning):
    """Ground truth that TrackEval accepts but that is likely broken (unknown classes, class
    column and obj_id disagree)."""


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
    ids = [o.obj_id for o in objects]
    if len(set(ids)) != len(ids):
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        raise MOTSEvaluationError(
            f"{what} of sequence {sequence}, frame {frame}: object id(s) {duplicates} occur more "
            "than once; every object id may appear at most once per frame"
        )


_OVERLAP_ADVICE = (
    "MOTS requires every pixel to belong to at most one object, and the official tools refuse "
    "overlapping masks: resolve the overlaps first"
)


def _overlap_error(what, sequence, frame, first_name, second_name) -> MOTSEvaluationError:
    return MOTSEvaluationError(
        f"{what} of sequence {sequence}, frame {frame}: the masks of {first_name} and "
        f"{second_name} overlap. {_OVERLAP_ADVICE}"
    )


class OverlapChecker:
    """Finds overlapping masks in bulk: the masks of a frame are disjoint iff the area of their
    union equals the sum of their areas (one pycocotools merge per frame, the areas of all masks
    in one go); only for a frame that fails are the pairs looked at, to name them."""

    def __init__(self, what: str):
        self.what = what
        self.frames: List[Tuple[str, int, list]] = []
        self.rles: List[dict] = []
        self.unions: List[dict] = []

    def add(self, sequence: str, frame: int, objects: list) -> None:
        """``objects``: the frame's MOTSObjects, or RLE dicts for ignore regions."""
        if len(objects) > 1:
            rles = [o if isinstance(o, dict) else o.rle for o in objects]
            self.frames.append((sequence, frame, objects))
            self.rles.extend(rles)
            self.unions.append(mask_utils.merge(rles, intersect=False))

    def check(self) -> None:
        if not self.frames:
            return
        sizes = np.array([len(objects) for _, _, objects in self.frames])
        area_sums = np.add.reduceat(rle_areas(self.rles), np.cumsum(sizes) - sizes)
        for index in np.flatnonzero(rle_areas(self.unions) != area_sums)[:1]:
            self._raise(*self.frames[index])

    def _raise(self, sequence, frame, objects) -> None:
        rles = [o if isinstance(o, dict) else o.rle for o in objects]
        ious = np.asarray(mask_utils.iou(rles, rles, [0] * len(rles)))
        np.fill_diagonal(ious, 0)
        first, second = np.argwhere(ious > 0)[0]
        names = [
            "the ignore region" if isinstance(o, dict) else f"object {o.obj_id}"
            for o in (objects[first], objects[second])
        ]
        raise _overlap_error(self.what, sequence, frame, *names)
