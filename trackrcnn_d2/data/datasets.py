"""Dataset dicts of MOTS sequences (KITTI MOTS, MOTSChallenge, own sequences).

One dataset dict per frame (paper Sec. 3), frames of each sequence in order, sequences in the
given order::

    {
        "file_name": str, "height": int, "width": int,
        "image_id": "<sequence>_<frame:06d>",   # unique across the dataset
        "sequence": str, "frame_idx": int,       # frame_idx = the on-disk frame number
        "annotations": [{
            "bbox": [x0, y0, x1, y1], "bbox_mode": BoxMode.XYXY_ABS,   # tight box of the mask
            "category_id": int,                  # contiguous, via mots_class_to_contiguous
            "segmentation": {"size": [h, w], "counts": bytes},   # compressed RLE
            "track_id": int,                     # the on-disk obj_id
            "iscrowd": 0,
        }, ...],
        "ignore_regions": [RLE, ...],            # obj_id 10000; never in "annotations"
    }

Every image of a sequence gets a dict, with or without annotations. Objects of classes that
the dataset does not select are dropped: TrackEval drops them too, and marking them as
ignore regions would teach the model nothing the ignore regions themselves do not.
Which classes a model uses is ``cfg.DATASETS.MOTS.CLASSES``; :func:`select_mots_classes`
narrows the dicts of a dataset registered with more classes (the loaders call it).

Registration in detectron2's catalogs: :mod:`trackrcnn_d2.data.builtin`.
"""
import logging
import os
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import pycocotools.mask as mask_utils
from detectron2.structures import BoxMode

from trackrcnn_d2.data import mots_io
from trackrcnn_d2.data.image_folders import list_sequence_images, sequence_image_folder

logger = logging.getLogger(__name__)


__all__ = [
    "find_sequences",
    "load_mots_dataset_dicts",
    "select_mots_classes",
    "sequence_image_folder",
    "sequence_image_sizes",
    "list_sequence_images",
]


def _image_size(path: str) -> Tuple[int, int]:
    from PIL import Image

    try:
        with Image.open(path) as image:  # reads the header only
            width, height = image.size
    except OSError as e:
        raise mots_io.MOTSFormatError(f"{path}: cannot read the image ({e})") from None
    return height, width


def sequence_image_sizes(image_root: str, sequences: Sequence[str], hint: str = ""):
    """``{sequence: (height, width)}`` from the first image of each sequence (all frames of a
    MOTS sequence share one size; detectron2's mapper checks every image when it reads it)."""
    sizes = {}
    for sequence in sequences:
        first_image = next(iter(list_sequence_images(image_root, sequence, hint).values()))
        sizes[sequence] = _image_size(first_image)
    return sizes


def _annotations_of_frame(
    objects: Sequence[mots_io.MOTSObject], class_to_contiguous: Dict[int, int]
) -> Tuple[List[dict], List[dict]]:
    kept = [o for o in objects if o.class_id in class_to_contiguous]
    ignore_regions = [o.rle for o in objects if o.obj_id == mots_io.IGNORE_OBJ_ID]
    if not kept:
        return [], ignore_regions
    boxes = bounding_boxes_of_rles([o.rle for o in kept])
    annotations = [
        {
            "bbox": box.tolist(),
            "bbox_mode": BoxMode.XYXY_ABS,
            "category_id": class_to_contiguous[obj.class_id],
            "segmentation": obj.rle,
            "track_id": obj.obj_id,
            "iscrowd": 0,
        }
        for obj, box in zip(kept, boxes)
    ]
    return annotations, ignore_regions


def load_mots_dataset_dicts(
    image_root: str,
    annotation_root: str,
    sequences: Optional[Sequence[str]],
    class_names: Sequence[str],
    annotation_format: str = "auto",
    seqmap: Optional[str] = None,
    hint: str = "",
) -> List[dict]:
    """Dataset dicts (module docstring) of the given sequences.

    Args:
        image_root: folder of the sequences' image folders (:func:`sequence_image_folder`).
        annotation_root: folder of the annotations (:func:`mots_io.find_sequence_annotations`).
        sequences: sequence names; None = those of ``seqmap``, or else every sequence found in
            ``annotation_root`` (:func:`mots_io.sequence_names`).
        class_names: classes to load (``"car"``, ``"pedestrian"``), in contiguous-id order.
        annotation_format: "auto", "txt" or "png".
        hint: appended to file-not-found errors (e.g. how to set $DETECTRON2_DATASETS).

    Raises :class:`mots_io.MOTSFormatError` naming the file (and line) for bad input: see
    :func:`mots_io.load_mots_ground_truth`; also for an annotated frame without image and an
    image folder without images. A sequence without any annotation is loaded with a warning.
    """
    if sequences is None:
        sequences = find_sequences(annotation_root, seqmap, hint)
    class_to_contiguous = mots_io.mots_class_to_contiguous(class_names)
    dataset_dicts = []
    for sequence in sequences:
        images = list_sequence_images(image_root, sequence, hint)
        height, width = _image_size(next(iter(images.values())))
        try:
            annotation_path, _ = mots_io.find_sequence_annotations(
                annotation_root, sequence, annotation_format
            )
        except FileNotFoundError as e:
            raise FileNotFoundError(f"{e}. {hint}".rstrip()) from None
        ground_truth = mots_io.load_mots_ground_truth(
            annotation_root, [sequence], annotation_format, image_sizes={sequence: (height, width)}
        )[sequence]
        if not ground_truth:
            logger.warning(
                f"Sequence {sequence!r} has no annotations in {annotation_path}; its "
                f"{len(images)} frames are loaded without objects."
            )
        missing = sorted(set(ground_truth) - set(images))
        if missing:
            expected = os.path.join(
                sequence_image_folder(image_root, sequence), f"{missing[0]:06d}.png/.jpg"
            )
            raise mots_io.MOTSFormatError(
                f"{annotation_path}: frame {missing[0]} of sequence {sequence!r} is annotated "
                f"but its image {expected} does not exist ({len(missing)} such frames)"
            )
        for frame, file_name in images.items():
            annotations, ignore_regions = _annotations_of_frame(
                ground_truth.get(frame, []), class_to_contiguous
            )
            dataset_dicts.append(
                {
                    "file_name": file_name,
                    "height": height,
                    "width": width,
                    "image_id": f"{sequence}_{frame:06d}",
                    "sequence": sequence,
                    "frame_idx": frame,
                    "annotations": annotations,
                    "ignore_regions": ignore_regions,
                }
            )
    return dataset_dicts


def find_sequences(annotation_root: str, seqmap: Optional[str], hint: str = "") -> List[str]:
    """Sequences listed in ``seqmap``, or else found in ``annotation_root``
    (:func:`mots_io.sequence_names`); raises if there are none."""
    where = seqmap if seqmap is not None else annotation_root
    if not os.path.exists(where):
        raise FileNotFoundError(
            f"Cannot list the sequences: {where} does not exist. {hint}".rstrip()
        )
    sequences = mots_io.sequence_names(annotation_root, seqmap)
    if not sequences:
        raise mots_io.MOTSFormatError(f"{where}: no sequences found")
    return sequences


def select_mots_classes(
    dataset_dicts: List[dict], dataset_classes: Sequence[str], classes: Sequence[str]
) -> List[dict]:
    """Dataset dicts whose annotations keep only ``classes``, with category ids renumbered to
    the positions in ``classes`` (``cfg.DATASETS.MOTS.CLASSES``). ``dataset_classes`` is the
    dataset's ``thing_classes``. A class the dataset does not have gets a warning (e.g. cars on
    MOTSChallenge): it simply has no annotations. Returns new dicts; the input is unchanged."""
    mots_io.mots_class_to_contiguous(classes)  # validates the names
    missing = [c for c in classes if c not in dataset_classes]
    if missing:
        logger.warning(
            f"Classes {missing} of DATASETS.MOTS.CLASSES are not annotated in this dataset "
            f"(its classes: {list(dataset_classes)})"
        )
    if list(dataset_classes) == list(classes):
        return dataset_dicts
    remap = {dataset_classes.index(c): i for i, c in enumerate(classes) if c in dataset_classes}
    selected = []
    for record in dataset_dicts:
        record = dict(record)
        record["annotations"] = [
            {**a, "category_id": remap[a["category_id"]]}
            for a in record["annotations"]
            if a["category_id"] in remap
        ]
        selected.append(record)
    return selected


def bounding_boxes_of_rles(rles: Sequence[dict]) -> np.ndarray:
    """(N, 4) float XYXY_ABS tight boxes of RLE masks (zeros for an empty mask)."""
    if not rles:
        return np.zeros((0, 4), dtype=np.float64)
    boxes = mask_utils.toBbox(list(rles))
    boxes[:, 2:] += boxes[:, :2]
    return boxes
