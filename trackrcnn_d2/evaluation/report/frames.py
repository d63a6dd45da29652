"""Error views: a frame with the evaluation's matching drawn on it. Hypotheses filled in their
track colour; GT masks outlined; false positives with a dashed outline, misses cross-hatched,
identity switches outlined and labelled ``IDS old → new``, true positives labelled with their id
and IoU (their soft TP), ignore regions hatched, hypotheses removed by them outlined in dots
(styles: :data:`.legend.ERROR_STYLES`).

numpy, OpenCV and Pillow only (no matplotlib, no torch): a frame's masks become two label maps
(GT, hypotheses) straight from their RLE runs, scaled once to the view's size; outlines, hatches
and fills are array operations on them.
"""

import functools
import importlib.util
import os
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from trackrcnn_d2.utils.rle import rle_runs

from .legend import ERROR_STYLES, RGB, track_colour
from .matching_log import FrameLog

__all__ = ["Label", "render_error_view", "read_image_rgb"]

# Views wider than this are scaled down (a 1920 px frame to half its size).
MAX_VIEW_WIDTH = 960
HEADER_HEIGHT = 20


@dataclass(frozen=True)
class Label:
    """A text drawn on a view: its ``kind`` (a key of ``ERROR_STYLES``), ``text`` and ``box``
    (x0, y0, x1, y1) in view pixels, below the header."""

    kind: str
    text: str
    box: Tuple[int, int, int, int]


def read_image_rgb(path: str) -> np.ndarray:
    import cv2

    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(f"cannot read the image {path} (missing or not an image)")
    return image[:, :, ::-1]


def _label_map(rles: Sequence[dict], height: int, width: int, size: Tuple[int, int]):
    """``size`` (width, height) uint16 map of disjoint masks: 0 background, k + 1 for the pixels
    of ``rles[k]``. Built from their runs (all masks' runs in pixel order, the gaps between them
    0, repeated out in one call) without decoding each mask to a full image; scaled by taking
    the nearest pixel."""
    starts, lengths, values = [], [], []
    for k, rle in enumerate(rles):
        runs = rle_runs(rle)
        # Runs alternate 0s and 1s (column-major), starting with 0s.
        ones = runs[1::2]
        starts.append(np.cumsum(runs)[0::2][: len(ones)])
        lengths.append(ones)
        values.append(np.full(len(ones), k + 1, dtype=np.uint16))
    start, length, value = (
        np.concatenate(parts) if parts else np.zeros(0, np.int64)
        for parts in (starts, lengths, values)
    )
    order = np.argsort(start, kind="stable")
    start, length, value = start[order], length[order], value[order].astype(np.uint16)
    end = start + length
    gaps = start - np.concatenate([[0], end[:-1]])
    pieces = np.empty(2 * len(start) + 1, dtype=np.int64)
    pieces[0:-1:2], pieces[1::2] = gaps, length
    pieces[-1] = height * width - (end[-1] if len(end) else 0)
    labels = np.zeros(len(pieces), dtype=np.uint16)
    labels[1::2] = value
    by_column = np.repeat(labels, pieces).reshape(width, height)
    if size != (width, height):
        columns = ((np.arange(size[0]) + 0.5) * (width / size[0])).astype(np.int64)
        rows = ((np.arange(size[1]) + 0.5) * (height / size[1])).astype(np.int64)
        by_column = by_column[np.ix_(columns, rows)]
    return np.ascontiguousarray(by_column.T)


class _Masks:
    """Disjoint masks at the view's size: their label map and, per mask, the slices of its box
    (with a margin for outlines), so that each mask's drawing touches its box only."""

    MARGIN = 4

    def __init__(self, rles: Sequence[dict], height: int, width: int, size: Tuple[int, int]):
        self.labels = _label_map(rles, height, width, size)
        self.boxes = _boxes(rles)
        sx, sy = size[0] / width, size[1] / height
        m = self.MARGIN
        self.slices = [
            (slice(max(0, int(y0 * sy) - m), min(size[1], int(np.ceil(y1 * sy)) + m)),
             slice(max(0, int(x0 * sx) - m), min(size[0], int(np.ceil(x1 * sx)) + m)))
            for x0, y0, x1, y1 in self.boxes
        ]  # fmt: skip

    def mask(self, index: int) -> np.ndarray:
        """The mask's pixels within its box's slices."""
        return self.labels[self.slices[index]] == index + 1

    def outline(self, index: int, thickness: int) -> np.ndarray:
        """The mask's pixels within ``thickness`` pixels of another label (its inner outline),
        within its box's slices."""
        import cv2

        labels = self.labels[self.slices[index]]
        kernel = np.ones((2 * thickness + 1, 2 * thickness + 1), np.uint8)
        edges = (cv2.erode(labels, kernel) != labels) | (cv2.dilate(labels, kernel) != labels)
        return edges & (labels == index + 1)


@functools.lru_cache(maxsize=16)
def _pattern(kind: str, height: int, width: int) -> np.ndarray:
    """The pixels of a hatch or dash pattern over a whole view (the same for every frame)."""
    y, x = np.ogrid[0:height, 0:width]
    if kind == "dashes":
        return ((x + y) // 5) % 2 == 0
    if kind == "dots":
        return (x + y) % 3 == 0
    if kind == "cross":
        return ((x + y) % 6 == 0) | ((x - y) % 6 == 0)
    return (x - y) % 7 == 0  # "diagonal"


@functools.lru_cache(maxsize=8)
def _font(size: int):
    from PIL import ImageFont

    spec = importlib.util.find_spec("matplotlib")
    if spec is not None and spec.origin:  # matplotlib ships DejaVu Sans, which has the arrow
        path = os.path.join(
            os.path.dirname(spec.origin), "mpl-data", "fonts", "ttf", "DejaVuSans-Bold.ttf"
        )
        if os.path.isfile(path):
            return ImageFont.truetype(path, size)
    return ImageFont.load_default(size)


def _text_colour(background: RGB) -> RGB:
    luminance = 0.299 * background[0] + 0.587 * background[1] + 0.114 * background[2]
    return (0, 0, 0) if luminance > 140 else (255, 255, 255)


class _View:
    def __init__(self, image: np.ndarray, scale: float):
        self.scale = scale
        self.pixels = image
        self.labels: List[Label] = []
        self.texts: List[Tuple[str, str, Tuple[int, int], RGB]] = []

    def paint(self, where, mask: np.ndarray, colour: RGB, pattern: Optional[str] = None):
        """Paint the pixels of ``mask`` (within the slices ``where``), only those of a
        ``pattern`` when given."""
        if pattern is not None:
            mask = mask & _pattern(pattern, *self.pixels.shape[:2])[where]
        self.pixels[where][mask] = colour

    def blend(self, labels: np.ndarray, colours: np.ndarray) -> None:
        """Half the image, half the colour of each label (``colours``: uint16, per label)."""
        inside = labels > 0
        mixed = (self.pixels[inside].astype(np.uint16) + colours[labels[inside]]) >> 1
        self.pixels[inside] = mixed.astype(np.uint8)

    def add_label(self, kind: str, text: str, box, background: RGB) -> None:
        self.texts.append(
            (kind, text, (int(box[0] * self.scale), int(box[1] * self.scale)), background)
        )

    def finish(self, header: str) -> Tuple[np.ndarray, List[Label]]:
        from PIL import Image, ImageDraw

        height, width = self.pixels.shape[:2]
        canvas = Image.new("RGB", (width, height + HEADER_HEIGHT), (0, 0, 0))
        canvas.paste(Image.fromarray(self.pixels), (0, HEADER_HEIGHT))
        draw = ImageDraw.Draw(canvas)
        font = _font(12)
        draw.text((4, 3), header, fill=(255, 255, 255), font=font)
        labels = []
        for kind, text, (x, y), background in self.texts:
            left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
            w, h = right - left + 6, bottom - top + 4
            x = min(max(0, x), width - w)
            y = min(max(0, y - h), height - h) + HEADER_HEIGHT
            draw.rectangle((x, y, x + w - 1, y + h - 1), fill=background)
            draw.text((x + 3 - left, y + 2 - top), text, fill=_text_colour(background), font=font)
            labels.append(Label(kind, text, (x, y, x + w - 1, y + h - 1)))
        return np.asarray(canvas), labels


def render_error_view(
    image: np.ndarray,
    log: FrameLog,
    gt_objects: Sequence[Tuple[str, object]],
    hypotheses: Sequence[Tuple[str, object]],
    ignore_region: Optional[dict],
    header: str,
    max_width: int = MAX_VIEW_WIDTH,
) -> Tuple[np.ndarray, List[Label]]:
    """The error view of one frame.

    Args:
        image: the frame, HxWx3 RGB uint8, the size of the masks.
        log: the frame's matches and errors (:attr:`.matching_log.SequenceLog.by_frame`).
        gt_objects, hypotheses: ``(class name, MOTSObject)`` of the evaluated classes.
        ignore_region: the frame's ignore region (RLE) or None.
        header: the text of the strip above the frame.
        max_width: larger frames are scaled down to this width.

    Returns:
        ``(view, labels)``: the view (RGB uint8, the header strip on top) and its texts.
    """
    import cv2

    height, width = image.shape[:2]
    scale = min(1.0, max_width / width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    resized = cv2.resize(np.ascontiguousarray(image), size, interpolation=cv2.INTER_AREA)
    view = _View(resized.copy(), scale)

    styles = ERROR_STYLES
    everything = (slice(None), slice(None))
    if ignore_region is not None:
        ignore = _label_map([ignore_region], height, width, size) > 0
        view.paint(everything, ignore, styles["ignore"].colour, "diagonal")

    gt_keys = [(c, o.obj_id) for c, o in gt_objects]
    hypothesis_keys = [(c, o.obj_id) for c, o in hypotheses]
    gt_masks = _Masks([o.rle for _, o in gt_objects], height, width, size)
    hypothesis_masks = _Masks([o.rle for _, o in hypotheses], height, width, size)
    ignored = set(log.ignored)
    false_positives = set(log.false_positives)
    colours = np.array([(0, 0, 0)] + [track_colour(h) for _, h in hypothesis_keys], np.uint16)
    counted = np.array([False] + [k not in ignored for k in hypothesis_keys])
    labels = hypothesis_masks.labels
    view.blend(np.where(counted[labels], labels, 0), colours)

    missed = set(log.missed)
    for index, key in enumerate(gt_keys):
        where = gt_masks.slices[index]
        if key in missed:
            view.paint(where, gt_masks.mask(index), styles["fn"].colour, "cross")
            view.paint(where, gt_masks.outline(index, 2), styles["fn"].colour)
        else:
            view.paint(where, gt_masks.outline(index, 1), styles["tp"].colour)
    switched = {(key[0], new): key for key, (_, new) in log.switches.items()}
    matched_by = {(key[0], h): (key, iou) for key, (h, iou) in log.matched.items()}
    for index, key in enumerate(hypothesis_keys):
        box, where = hypothesis_masks.boxes[index], hypothesis_masks.slices[index]
        if key in ignored:
            outline = hypothesis_masks.outline(index, 1)
            view.paint(where, outline, styles["ignored"].colour, "dots")
        elif key in false_positives:
            outline = hypothesis_masks.outline(index, 2)
            view.paint(where, outline, styles["fp"].colour, "dashes")
            view.add_label("fp", f"FP {key[1]}", box, styles["fp"].colour)
        elif key in matched_by:
            gt_key, iou = matched_by[key]
            if switched.get(key) == gt_key:
                old, new = log.switches[gt_key]
                view.paint(where, hypothesis_masks.outline(index, 3), styles["ids"].colour)
                view.add_label("ids", f"IDS {old} \u2192 {new}", box, styles["ids"].colour)
            else:
                view.add_label("tp", f"{key[1]} {iou:.2f}", box, track_colour(key[1]))
            if gt_key in log.fragments:
                view.add_label("frag", "Frag", (box[0], box[3]), styles["frag"].colour)
    for index, key in enumerate(gt_keys):
        if key in missed:
            view.add_label("fn", f"FN {key[1]}", gt_masks.boxes[index], styles["fn"].colour)
    return view.finish(header)


def _boxes(rles: Sequence[dict]) -> List[Tuple[float, float, float, float]]:
    """(x0, y0, x1, y1) of each mask."""
    if not rles:
        return []
    import pycocotools.mask as mask_utils

    return [(x, y, x + w, y + h) for x, y, w, h in mask_utils.toBbox(list(rles)).tolist()]


def frame_header(sequence: str, frame: int, log: FrameLog) -> str:
    return (
        f"{sequence}  frame {frame}   TP {len(log.matched)}  FP {len(log.false_positives)}  "
        f"FN {len(log.missed)}  IDS {len(log.switches)}  Frag {len(log.fragments)}"
    )


def frame_objects(ground_truth, results, sequence: str, frame: int, class_of_id: Dict[int, str]):
    """``(gt_objects, hypotheses, ignore_region)`` of one frame, of the evaluated classes."""
    sequence_gt = ground_truth[sequence]
    gt_objects = [
        (class_of_id[o.class_id], o)
        for o in sequence_gt.objects.get(frame, ())
        if o.class_id in class_of_id
    ]
    hypotheses = [
        (class_of_id[o.class_id], o)
        for o in results.get(sequence, {}).get(frame, ())
        if o.class_id in class_of_id
    ]
    return gt_objects, hypotheses, sequence_gt.ignore.get(frame)
