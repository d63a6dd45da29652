"""The one per-frame tracking step and the MOTS output it produces.

:class:`SequenceTracker` owns everything between a frame's detections and that frame's tracked
objects: optical flow from the previous image, Algorithm 1 (:class:`~.algorithm.Algorithm1Tracker`),
the on-disk obj_id (class id x 1000 + track number) and disjoint masks (paper Sec. 4). Every
front end is a thin loop over :meth:`SequenceTracker.step`: :func:`track_sequence` (the
evaluator and the threshold search), the video predictor (``demo.py``) and the detectron2
tracker head ``TrackRCNNTracker``. Its shape is detectron2's ``BaseTracker.update``: one call
per frame, state kept between calls, :meth:`SequenceTracker.reset` between videos.
"""
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np
import pycocotools.mask as mask_utils

from trackrcnn_d2.data import mots_io
from trackrcnn_d2.utils.rle import rle_difference

from .algorithm import Algorithm1Tracker
from .detections import FrameDetections
from .matching import mask_iou
from .mechanisms import PairScores
from .params import TrackerParams

# An optical flow method: (image of frame t, image of frame t-1) -> backward flow (H, W, 2).
OpticalFlow = Callable[[np.ndarray, np.ndarray], np.ndarray]
# A flow provider: (previous_frame_idx, frame_idx) -> backward flow (H, W, 2), or None.
FlowProvider = Callable[[int, int], Optional[np.ndarray]]


class TrackedObject(NamedTuple):
    """One object of one frame in the tracker's output."""

    frame: int
    obj_id: int  # on-disk class id x 1000 + track number
    category: int  # contiguous class id
    rle: dict
    score: float
    det_index: int = -1  # index of the detection in its FrameDetections


class TrackNumberOverflow(ValueError):
    """A class has more tracks in a sequence than obj_id = class x 1000 + track allows."""


def mots_object_id(class_id: int, track_number: int, where: str = "") -> int:
    """obj_id = on-disk class id x 1000 + track number (KITTI MOTS / MOTSChallenge format)."""
    if not 1 <= track_number <= 999:
        raise TrackNumberOverflow(
            f"{where}: class {class_id} has track number {track_number}, but the MOTS format "
            "(obj_id = class x 1000 + track) allows 1..999 per class and sequence; raise "
            "TRACKER_HEADS.DETECTION_CONFIDENCE so that fewer tracks start"
        )
    return class_id * 1000 + track_number


class SequenceTracker:
    """Online tracking of one sequence, one frame per :meth:`step` call.

    Args:
        params: tracker parameters; ``params.class_names`` must be MOTS classes (car,
            pedestrian), which give the on-disk class ids of the obj_ids.
        flow: optical flow method (``build_optical_flow``), built once and reused for every
            sequence; used only by the mechanisms that warp with flow, and only for frames whose
            image is given to :meth:`step`. None: no warping (plain IoU).
        sequence: name of the sequence (error messages, order checks).
        categories: contiguous classes to track (default all).
    """

    def __init__(
        self,
        params: TrackerParams,
        flow: Optional[OpticalFlow] = None,
        sequence: str = "video",
        categories: Optional[Sequence[int]] = None,
    ):
        self.params = params
        self.flow = flow if params.uses_flow else None
        self._categories = categories
        class_to_contiguous = mots_io.mots_class_to_contiguous(params.class_names)
        self._contiguous_to_class = {v: k for k, v in class_to_contiguous.items()}
        self.reset(sequence)

    def reset(self, sequence: Optional[str] = None) -> None:
        """Forget all tracks: the next :meth:`step` starts a new sequence (``sequence``, or the
        same name)."""
        if sequence is not None:
            self.sequence = sequence
        self._algorithm = Algorithm1Tracker(self.params, self._categories)
        self._previous_image: Optional[np.ndarray] = None
        self._previous_frame_idx: Optional[int] = None

    def step(
        self,
        detections: FrameDetections,
        image: Optional[np.ndarray] = None,
        flow: Optional[np.ndarray] = None,
        pair_scores: Optional[PairScores] = None,
    ) -> List[TrackedObject]:
        """Track one frame; returns its tracked objects with disjoint masks.

        Args:
            detections: the frame's detections (frames in increasing ``frame_idx`` order).
            image: the frame (H, W, 3 BGR uint8); with :attr:`flow`, the backward flow to the
                previous frame's image is computed from it.
            flow: the backward flow to the previous frame, computed by the caller (e.g. on a
                worker thread); replaces the flow from ``image``.
            pair_scores: precomputed pair scores (threshold search); replace flow altogether.
        """
        self._check_order(detections)
        if (
            flow is None
            and pair_scores is None
            and self.flow is not None
            and image is not None
            and self._previous_image is not None
        ):
            flow = self.flow(image, self._previous_image)
        selections = self._algorithm.step(detections, flow=flow, pair_scores=pair_scores)
        where = f"sequence {detections.sequence!r} frame {detections.frame_idx}"
        objects = [
            TrackedObject(
                frame=detections.frame_idx,
                obj_id=mots_object_id(
                    self._contiguous_to_class[s.category], s.track_number, where
                ),
                category=s.category,
                rle=detections.masks[s.det_index],
                score=float(detections.scores[s.det_index]),
                det_index=s.det_index,
            )
            for s in selections
        ]
        self._previous_image = image if self.flow is not None else None
        self._previous_frame_idx = detections.frame_idx
        return make_disjoint(objects, self.params.disjoint)

    def _check_order(self, detections: FrameDetections) -> None:
        previous = self._previous_frame_idx
        if detections.sequence != self.sequence or (
            previous is not None and detections.frame_idx <= previous
        ):
            raise ValueError(
                f"SequenceTracker: frames must be of one sequence in increasing order; got "
                f"{self.sequence!r}:{previous} then "
                f"{detections.sequence!r}:{detections.frame_idx} (call reset() between sequences)"
            )


def track_sequence(
    frames: Sequence[FrameDetections],
    params: TrackerParams,
    flow_provider: Optional[FlowProvider] = None,
    pair_scores: Optional[Sequence[PairScores]] = None,
    categories: Optional[Sequence[int]] = None,
) -> Dict[int, List[TrackedObject]]:
    """Track one whole sequence: ``{frame_idx: [TrackedObject, ...]}`` with disjoint masks.

    Args:
        frames: the detections of every frame of one sequence, in time order.
        params: tracker parameters (see :class:`SequenceTracker`).
        flow_provider: ``(previous_frame_idx, frame_idx) -> backward flow`` for the mechanisms
            that use flow; None (or a provider returning None) means no warping (plain IoU).
        pair_scores: per frame, precomputed pair scores (threshold search); replaces
            ``flow_provider``.
        categories: contiguous classes to track (default all).
    """
    sequence = frames[0].sequence if len(frames) else ""
    tracker = SequenceTracker(params, sequence=sequence, categories=categories)
    result: Dict[int, List[TrackedObject]] = {}
    for t, frame in enumerate(frames):
        scores = pair_scores[t] if pair_scores is not None else None
        flow = None
        if scores is None and params.uses_flow and flow_provider is not None and t > 0:
            flow = flow_provider(frames[t - 1].frame_idx, frame.frame_idx)
        result[frame.frame_idx] = tracker.step(frame, flow=flow, pair_scores=scores)
    return result


def make_disjoint(objects: List[TrackedObject], strategy: str = "bottom") -> List[TrackedObject]:
    """Make the masks of one frame non-overlapping (MOTS requires it, paper Sec. 4).

    A pixel claimed by several objects goes to the object that is "lower" in the image
    (``"bottom"``, paper Sec. 5: assumed closer to the camera), defined as the larger bottom-most
    mask row (y + h of the mask's bounding box); ties go to the higher score. With ``"score"``
    the higher score wins. Objects left without pixels are dropped. Works on the RLEs, without
    decoding masks.
    """
    if len(objects) < 2:
        return list(objects)
    rles = [o.rle for o in objects]
    if strategy == "bottom":
        boxes = mask_utils.toBbox(rles)
        keys = [(-(b[1] + b[3]), -o.score) for b, o in zip(boxes, objects)]
    else:
        keys = [(-o.score,) for o in objects]
    order = sorted(range(len(objects)), key=lambda i: keys[i])
    ordered = [objects[i] for i in order]
    overlaps = mask_iou([o.rle for o in ordered], [o.rle for o in ordered]) > 0
    if not np.triu(overlaps, k=1).any():
        return ordered
    result = []
    claimed = None  # RLE union of the masks kept so far
    for i, obj in enumerate(ordered):
        if i > 0 and overlaps[i, :i].any():
            own = rle_difference(obj.rle, claimed)
            if mask_utils.area(own) == 0:
                continue
            obj = obj._replace(rle=own)
        claimed = obj.rle if claimed is None else mask_utils.merge([claimed, obj.rle])
        result.append(obj)
    return result


def tracks_to_mots_objects(
    tracks: Dict[int, List[TrackedObject]],
) -> Dict[int, List[mots_io.MOTSObject]]:
    """``{frame: [MOTSObject]}`` of a tracking result (class_id = obj_id // 1000)."""
    return {
        frame: [
            mots_io.MOTSObject(o.frame, o.obj_id, mots_io.obj_id_to_class_id(o.obj_id), o.rle)
            for o in objects
        ]
        for frame, objects in tracks.items()
    }


def write_tracking_result(
    txt_path: str,
    tracks: Dict[int, List[TrackedObject]],
    png_folder: Optional[str] = None,
    image_size: Optional[Tuple[int, int]] = None,
) -> None:
    """Write one sequence in the KITTI MOTS txt format (atomic) and, with ``png_folder``, one
    16-bit instance png per frame (``<png_folder>/<frame:06d>.png``, atomic). ``image_size``
    (height, width) is needed for png frames without objects when it cannot be inferred."""
    objects = tracks_to_mots_objects(tracks)
    mots_io.write_mots_txt(txt_path, [o for frame in objects.values() for o in frame])
    if png_folder is None:
        return
    any_object = next((o for frame in objects.values() for o in frame), None)
    size = image_size or (any_object.rle["size"] if any_object is not None else None)
    for frame, frame_objects in objects.items():
        frame_size = frame_objects[0].rle["size"] if frame_objects else size
        if frame_size is None:
            raise ValueError(
                f"{png_folder}: frame {frame} has no objects and no image_size was given"
            )
        id_map = mots_io.objects_to_id_map(frame_objects, int(frame_size[0]), int(frame_size[1]))
        mots_io.write_mots_png(f"{png_folder}/{frame:06d}.png", id_map)
