"""Per-frame detections (what inference produces and the tracker consumes) and their cache.

:class:`FrameDetections` is the contract between the detector and the tracker: pure
numpy, no torch. :func:`frame_detections_from_instances` converts the output of any detectron2
model (``Instances`` with ``pred_boxes``, ``scores``, ``pred_classes``, optionally ``pred_masks``
and ``association_vectors``) and is the only function here that touches torch (lazily).

Detection cache format (one file per sequence, ``<folder>/<sequence>.npz``, read with
``allow_pickle=False``; M = all detections of the sequence, F = its frames)::

    format               str      "trackrcnn_d2.detections.v1"
    sequence             str      sequence name
    frame_idx            (F,)     int64   on-disk frame index (time_frame), strictly increasing
    image_size           (F, 2)   int64   height, width of each frame
    det_offsets          (F+1,)   int64   detections of frame f are rows det_offsets[f]:[f+1]
    boxes                (M, 4)   float32 XYXY, absolute pixels
    scores               (M,)     float32
    classes              (M,)     int64   contiguous class ids (DATASETS.MOTS.CLASSES order)
    mask_counts          (B,)     uint8   the compressed COCO RLE strings, concatenated
    mask_offsets         (M+1,)   int64   RLE of detection m is mask_counts[mask_offsets[m]:[m+1]]
    association_vectors  (M, D)   float32 only when the model predicts them

Each mask has the size of its frame. Files are written atomically (temporary file + rename).
"""
import os
import zipfile
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import numpy as np
import pycocotools.mask as mask_utils

from trackrcnn_d2.utils.cli import UserError
from trackrcnn_d2.utils.file_io import atomic_open

from .class_map import map_classes

CACHE_FORMAT = "trackrcnn_d2.detections.v1"
CACHE_SUFFIX = ".npz"


@dataclass(eq=False)
class FrameDetections:
    """All detections of one frame.

    Attributes:
        sequence: name of the video sequence.
        frame_idx: on-disk frame index (the ``time_frame`` column of the MOTS txt format).
        height, width: image size in pixels; every mask has this size.
        boxes: (N, 4) float32, XYXY in absolute pixels.
        scores: (N,) float32 detector confidences.
        classes: (N,) int64 contiguous class ids.
        masks: N compressed COCO RLE dicts ``{"size": [height, width], "counts": bytes}``.
        association_vectors: (N, D) float32, or None for models without an association head.
    """

    sequence: str
    frame_idx: int
    height: int
    width: int
    boxes: np.ndarray
    scores: np.ndarray
    classes: np.ndarray
    masks: List[dict]
    association_vectors: Optional[np.ndarray] = None
    _areas: Optional[np.ndarray] = field(default=None, init=False, repr=False)

    def __post_init__(self):
        where = f"sequence {self.sequence!r} frame {self.frame_idx}"
        self.boxes = np.asarray(self.boxes, dtype=np.float32).reshape(-1, 4)
        self.scores = np.asarray(self.scores, dtype=np.float32).reshape(-1)
        self.classes = np.asarray(self.classes, dtype=np.int64).reshape(-1)
        self.masks = list(self.masks)
        n = len(self.boxes)
        if not (len(self.scores) == len(self.classes) == len(self.masks) == n):
            raise ValueError(
                f"{where}: boxes, scores, classes and masks must have one entry per detection, "
                f"got {n}, {len(self.scores)}, {len(self.classes)}, {len(self.masks)}"
            )
        for i, rle in enumerate(self.masks):
            if list(rle["size"]) != [self.height, self.width]:
                raise ValueError(
                    f"{where}: mask {i} has size {list(rle['size'])} but the frame is "
                    f"{self.height}x{self.width}; masks must be pasted at image resolution"
                )
        if self.association_vectors is not None:
            vectors = np.asarray(self.association_vectors, dtype=np.float32)
            if vectors.ndim != 2 or len(vectors) != n:
                raise ValueError(
                    f"{where}: association_vectors must be (N, D) with N = {n}, "
                    f"got shape {vectors.shape}"
                )
            self.association_vectors = vectors

    def __len__(self) -> int:
        return len(self.boxes)

    @property
    def mask_areas(self) -> np.ndarray:
        """(N,) pixel count of each mask (computed once, from the RLEs)."""
        if self._areas is None:
            self._areas = (
                mask_utils.area(self.masks).astype(np.int64)
                if self.masks
                else np.zeros(0, dtype=np.int64)
            )
        return self._areas


def frame_detections_from_instances(
    instances,
    sequence: str = "",
    frame_idx: int = 0,
    mask_threshold: float = 0.5,
    class_map: Optional[np.ndarray] = None,
) -> FrameDetections:
    """Convert a detectron2 ``Instances`` of one frame (at image resolution) to FrameDetections.

    Uses ``pred_boxes``, ``scores``, ``pred_classes``, ``pred_masks`` (N x H x W, bool or soft
    masks binarised at ``mask_threshold``; or ``pred_mask_probs``, the mask head's unpasted
    probabilities, see ``detector_postprocess_unpasted``) and, when present,
    ``association_vectors`` (N x D).
    A model without a mask head gets its boxes as masks, so the IoU mechanisms still apply.
    ``class_map`` (``DATASETS.MOTS.CLASS_MAP``, see :mod:`.class_map`): the tracker's class of
    each model class, -1 to drop its detections (a COCO model's other classes).
    """
    import torch

    if class_map is not None:
        instances = map_classes(instances, class_map, f"sequence {sequence!r} frame {frame_idx}")
    height, width = (int(s) for s in instances.image_size)
    boxes = instances.pred_boxes.tensor.detach().to("cpu", torch.float32).numpy()
    scores = instances.scores.detach().to("cpu", torch.float32).numpy()
    classes = instances.pred_classes.detach().to("cpu", torch.int64).numpy()
    if instances.has("pred_mask_probs"):
        # Unpasted M x M probabilities (structures.mask_rle): pasted into each box only.
        from trackrcnn_d2.structures.mask_rle import masks_to_rles

        rles = masks_to_rles(
            instances.pred_mask_probs, instances.pred_boxes.tensor, (height, width), mask_threshold
        )
    elif instances.has("pred_masks"):
        masks = instances.pred_masks.detach().to("cpu")
        if masks.dtype != torch.bool:
            masks = masks >= mask_threshold
        rles = encode_masks(masks.numpy())
    else:
        rles = encode_masks(boxes_to_masks(boxes, height, width))
    vectors = None
    if instances.has("association_vectors"):
        vectors = instances.association_vectors.detach().to("cpu", torch.float32).numpy()
    return FrameDetections(
        sequence=sequence,
        frame_idx=int(frame_idx),
        height=height,
        width=width,
        boxes=boxes,
        scores=scores,
        classes=classes,
        masks=rles,
        association_vectors=vectors,
    )


def encode_masks(masks: np.ndarray) -> List[dict]:
    """Compressed RLEs of an (N, H, W) stack of binary masks."""
    if len(masks) == 0:
        return []
    stacked = np.asfortranarray(np.transpose(masks, (1, 2, 0)).astype(np.uint8))
    return mask_utils.encode(stacked)


def boxes_to_masks(boxes: np.ndarray, height: int, width: int) -> np.ndarray:
    """(N, H, W) bool masks filled inside each XYXY box (rounded to whole pixels)."""
    masks = np.zeros((len(boxes), height, width), dtype=bool)
    for mask, (x0, y0, x1, y1) in zip(masks, np.round(boxes).astype(np.int64)):
        mask[max(y0, 0) : max(y1, 0), max(x0, 0) : max(x1, 0)] = True
    return masks


def write_detection_cache(path: str, frames: Sequence[FrameDetections]) -> None:
    """Write the detections of one sequence to ``path`` (an .npz, format in the module doc),
    atomically. Frames must belong to one sequence, in strictly increasing frame order."""
    if not frames:
        raise ValueError(f"{path}: no frames to write")
    sequence = frames[0].sequence
    frame_idx = np.array([f.frame_idx for f in frames], dtype=np.int64)
    if any(f.sequence != sequence for f in frames):
        raise ValueError(f"{path}: frames of several sequences; write one file per sequence")
    if np.any(np.diff(frame_idx) <= 0):
        raise ValueError(f"{path}: frame indices of {sequence!r} must be strictly increasing")
    has_vectors = [f.association_vectors is not None for f in frames if len(f)]
    if any(has_vectors) and not all(has_vectors):
        raise ValueError(
            f"{path}: some frames of {sequence!r} have association vectors and some do not"
        )
    counts = [rle["counts"] for f in frames for rle in f.masks]
    counts = [c.encode("ascii") if isinstance(c, str) else bytes(c) for c in counts]
    arrays = {
        "format": np.array(CACHE_FORMAT),
        "sequence": np.array(sequence),
        "frame_idx": frame_idx,
        "image_size": np.array([[f.height, f.width] for f in frames], dtype=np.int64),
        "det_offsets": np.cumsum([0] + [len(f) for f in frames]).astype(np.int64),
        "boxes": np.concatenate([f.boxes for f in frames]).reshape(-1, 4),
        "scores": np.concatenate([f.scores for f in frames]),
        "classes": np.concatenate([f.classes for f in frames]),
        "mask_counts": np.frombuffer(b"".join(counts), dtype=np.uint8),
        "mask_offsets": np.cumsum([0] + [len(c) for c in counts]).astype(np.int64),
    }
    if has_vectors and all(has_vectors):
        arrays["association_vectors"] = np.concatenate(
            [f.association_vectors for f in frames if len(f)]
        )
    with atomic_open(path, "wb") as f:
        np.savez(f, **arrays)


class DetectionCacheError(UserError, ValueError):
    """A detection cache file that cannot be read (not an .npz of this format, truncated,
    corrupt); the message names the file and how to write it again."""


_REWRITE = (
    "the evaluation of the dataset writes it again (train_net.py --eval-only, the dataset in "
    "DATASETS.TEST)"
)


def read_detection_cache(path: str) -> List[FrameDetections]:
    """Read one sequence written by :func:`write_detection_cache`. Raises
    :class:`DetectionCacheError` naming ``path`` for a file that is not such a cache."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such detection cache file; {_REWRITE}")
    try:
        with np.load(path, allow_pickle=False) as data:
            files = set(data.files)
            missing = {
                "format", "sequence", "frame_idx", "image_size", "det_offsets", "boxes",
                "scores", "classes", "mask_counts", "mask_offsets",
            } - files  # fmt: skip
            if missing:
                raise DetectionCacheError(
                    f"{path}: not a trackrcnn_d2 detection cache (missing {sorted(missing)}); "
                    f"{_REWRITE}"
                )
            if str(data["format"]) != CACHE_FORMAT:
                raise DetectionCacheError(
                    f"{path}: cache format {str(data['format'])!r}, expected {CACHE_FORMAT!r}; "
                    f"{_REWRITE}"
                )
            arrays = {k: data[k] for k in data.files}
    except DetectionCacheError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        # Not numpy's text: for a file that is no .npz at all it advises allow_pickle=True.
        with open(path, "rb") as f:
            is_zip = f.read(4) == b"PK\x03\x04"
        what = "an .npz archive that is truncated or corrupt" if is_zip else "no .npz archive"
        if is_zip and "pickle" in str(e):
            what = "an .npz archive of object arrays, not of this format"
        raise DetectionCacheError(
            f"{path}: cannot read as a detection cache (it is {what}); {_REWRITE}"
        ) from None
    sequence = str(arrays["sequence"])
    det_offsets = arrays["det_offsets"]
    mask_offsets = arrays["mask_offsets"]
    num_dets = len(arrays["boxes"])
    vectors = arrays.get("association_vectors")
    if (
        len(det_offsets) != len(arrays["frame_idx"]) + 1
        or det_offsets[-1] != num_dets
        or len(mask_offsets) != num_dets + 1
        or mask_offsets[-1] != len(arrays["mask_counts"])
        or (vectors is not None and len(vectors) != num_dets)
    ):
        raise DetectionCacheError(
            f"{path}: inconsistent offsets or lengths; the file is corrupt; {_REWRITE}"
        )
    counts = arrays["mask_counts"].tobytes()
    frames = []
    for f, frame_idx in enumerate(arrays["frame_idx"]):
        start, stop = int(det_offsets[f]), int(det_offsets[f + 1])
        height, width = (int(s) for s in arrays["image_size"][f])
        masks = [
            {"size": [height, width], "counts": counts[mask_offsets[m] : mask_offsets[m + 1]]}
            for m in range(start, stop)
        ]
        try:
            frames.append(
                FrameDetections(
                    sequence=sequence,
                    frame_idx=int(frame_idx),
                    height=height,
                    width=width,
                    boxes=arrays["boxes"][start:stop],
                    scores=arrays["scores"][start:stop],
                    classes=arrays["classes"][start:stop],
                    masks=masks,
                    association_vectors=None if vectors is None else vectors[start:stop],
                )
            )
        except ValueError as e:
            raise DetectionCacheError(f"{path}: {e}") from None
    return frames


def read_detection_cache_folder(folder: str) -> Dict[str, List[FrameDetections]]:
    """Every ``<sequence>.npz`` of a cache folder: ``{sequence: [FrameDetections, ...]}``."""
    if not os.path.isdir(folder):
        raise FileNotFoundError(
            f"{folder}: detection cache folder not found; an evaluation of the dataset writes "
            "it (train_net.py --eval-only, the dataset in DATASETS.TEST)"
        )
    names = sorted(n for n in os.listdir(folder) if n.endswith(CACHE_SUFFIX))
    if not names:
        raise FileNotFoundError(f"{folder}: no <sequence>{CACHE_SUFFIX} files in it")
    sequences = {}
    for name in names:
        frames = read_detection_cache(os.path.join(folder, name))
        sequences[frames[0].sequence if frames else name[: -len(CACHE_SUFFIX)]] = frames
    return sequences
