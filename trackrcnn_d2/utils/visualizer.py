"""Rendering of MOTS tracks with detectron2's Visualizer: each mask coloured by its track, with
the class and track number drawn on it."""
from typing import Sequence

import numpy as np
from detectron2.utils.colormap import colormap
from detectron2.utils.visualizer import Visualizer

from trackrcnn_d2.data import mots_io

from .cli import UserError

__all__ = ["track_color", "draw_tracks", "draw_dataset_frame", "RenderSizeError"]

# The largest rendering: matplotlib's canvas (RGBA) refuses sides of 2^16 pixels, and 2^27
# pixels take 0.5 GiB (KITTI's 1242 x 375 frames at scale 10 take a third of it).
MAX_RENDER_SIDE = 2**15
MAX_RENDER_PIXELS = 2**27


class RenderSizeError(UserError, ValueError):
    """A rendering scale that makes frames too large to draw."""

_PALETTE = colormap(rgb=True, maximum=1)


def track_color(obj_id: int) -> np.ndarray:
    """RGB colour in [0, 1] of a track: fixed per obj_id, so an object keeps it in every frame.
    Consecutive ids of a class get far-apart palette entries."""
    return _PALETTE[(obj_id * 7 + obj_id // 1000) % len(_PALETTE)]


_IGNORE_COLOR = np.array([0.5, 0.5, 0.5])


def draw_tracks(
    image_bgr: np.ndarray,
    objects: Sequence,
    scale: float = 1.0,
    alpha: float = 0.5,
    ignore_regions: Sequence[dict] = (),
) -> np.ndarray:
    """The frame (H x W x 3 BGR uint8) with the masks of ``objects`` drawn: anything with
    ``obj_id`` and ``rle`` (:class:`~trackrcnn_d2.data.mots_io.MOTSObject`,
    :class:`~trackrcnn_d2.tracking.TrackedObject`). Labelled ``<class> <track number>``;
    ``ignore_regions`` (RLEs) in grey, unlabelled, beneath them.
    Returns a new BGR image, ``scale`` times the frame's size (rounded). Raises
    :class:`RenderSizeError` for a rendering larger than :data:`MAX_RENDER_SIDE` per side or
    :data:`MAX_RENDER_PIXELS` pixels."""
    height, width = (round(side * scale) for side in image_bgr.shape[:2])
    if max(height, width) > MAX_RENDER_SIDE or height * width > MAX_RENDER_PIXELS:
        raise RenderSizeError(
            f"scale {scale:g} renders the {image_bgr.shape[1]} x {image_bgr.shape[0]} frames at "
            f"{width} x {height} pixels, more than can be drawn (at most {MAX_RENDER_SIDE} per "
            f"side and {MAX_RENDER_PIXELS} pixels): choose a smaller scale"
        )
    visualizer = Visualizer(image_bgr[:, :, ::-1], scale=scale)
    if ignore_regions:
        visualizer.overlay_instances(
            masks=list(ignore_regions),
            assigned_colors=[_IGNORE_COLOR] * len(ignore_regions),
            alpha=alpha,
        )
    if objects:
        visualizer.overlay_instances(
            masks=[o.rle for o in objects],
            labels=[_label(o.obj_id) for o in objects],
            assigned_colors=[track_color(o.obj_id) for o in objects],
            alpha=alpha,
        )
    return np.ascontiguousarray(visualizer.get_output().get_image()[:, :, ::-1])


def _label(obj_id: int) -> str:
    class_id = mots_io.obj_id_to_class_id(obj_id)
    return f"{mots_io.MOTS_CLASS_NAMES.get(class_id, class_id)} {obj_id % 1000}"


def draw_dataset_frame(dataset_dict: dict, image_bgr: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """A frame of a MOTS dataset (its dataset dict, see :mod:`trackrcnn_d2.data.datasets`, and
    its image) with the annotated masks drawn as :func:`draw_tracks` draws tracks: coloured by
    ``track_id`` (the on-disk obj_id), labelled with class and instance number; its ignore
    regions in grey."""
    objects = [
        mots_io.MOTSObject(
            dataset_dict["frame_idx"],
            a["track_id"],
            mots_io.obj_id_to_class_id(a["track_id"]),
            a["segmentation"],
        )
        for a in dataset_dict.get("annotations", [])
    ]
    return draw_tracks(
        image_bgr, objects, scale, ignore_regions=dataset_dict.get("ignore_regions", [])
    )
