"""Reader and writer of the MOTS annotation formats (KITTI MOTS / MOTSChallenge).

This is the one place that parses and writes MOTS files; the dataset loaders, the evaluator and
the tracker output all go through it. It imports neither torch nor detectron2.

txt format, one file per sequence, one mask per line::

    time_frame obj_id class_id img_height img_width rle

``rle`` is a COCO compressed RLE string (column-major, as pycocotools writes it). The class is
``obj_id // 1000``: 1 car, 2 pedestrian, 10 ignore region (obj_id 10000).

png format: ``<seq>/<frame:06d>.png``, 16-bit, pixel value = obj_id, 0 background, 10000 ignore.
"""
import os
import tempfile
from typing import Dict, Iterable, List, NamedTuple, Optional, Sequence

import numpy as np
import pycocotools.mask as mask_utils

CAR = 1
PEDESTRIAN = 2
IGNORE = 10
IGNORE_OBJ_ID = 10000
# On-disk class ids of the classes that are tracked (paper Sec. 3).
MOTS_CLASS_IDS = {"car": CAR, "pedestrian": PEDESTRIAN}
MOTS_CLASS_NAMES = {v: k for k, v in MOTS_CLASS_IDS.items()}


class MOTSFormatError(ValueError):
    """A MOTS file is malformed. The message names the file, the line or frame, and the fix."""


class MOTSObject(NamedTuple):
    """One mask of one frame. ``rle`` is the compressed COCO RLE dict
    ``{"size": [height, width], "counts": bytes}`` as pycocotools uses it."""

    frame: int
    obj_id: int
    class_id: int
    rle: dict

    @property
    def height(self) -> int:
        return self.rle["size"][0]

    @property
    def width(self) -> int:
        return self.rle["size"][1]


def mots_class_to_contiguous(class_names: Sequence[str]) -> Dict[int, int]:
    """The one mapping between on-disk class ids (1 car, 2 pedestrian) and detectron2's
    contiguous ids 0..K-1, which follow the order of ``class_names`` (``thing_classes``)."""
    unknown = [c for c in class_names if c not in MOTS_CLASS_IDS]
    if unknown:
        raise ValueError(f"Unknown MOTS class name(s) {unknown}; known: {sorted(MOTS_CLASS_IDS)}")
    return {MOTS_CLASS_IDS[name]: i for i, name in enumerate(class_names)}


def obj_id_to_class_id(obj_id: int) -> int:
    """On-disk class of an object id: ``obj_id // 1000`` (10000 is the ignore region, class 10)."""
    return obj_id // 1000


def rle_counts_total(counts: bytes) -> int:
    """Number of pixels that a compressed COCO RLE string covers (the sum of its run lengths).

    Decodes the LEB128-like format of pycocotools' ``rleFrString`` without building the mask,
    so that an RLE whose size disagrees with its header can be reported before pycocotools
    reads past the end of its buffer.
    """
    total = 0
    # Run lengths after the second are stored as deltas to the run two places before.
    two_before, one_before = 0, 0
    index = 0
    position = 0
    length = len(counts)
    while position < length:
        value = 0
        shift = 0
        more = True
        while more:
            if position >= length:
                raise ValueError("truncated RLE string")
            char = counts[position] - 48
            value |= (char & 0x1F) << (5 * shift)
            more = bool(char & 0x20)
            position += 1
            shift += 1
            if not more and (char & 0x10):
                value |= -1 << (5 * shift)
        if index > 2:
            value += two_before
        if value < 0:
            raise ValueError("negative run length in RLE string")
        total += value
        two_before, one_before = one_before, value
        index += 1
    return total


def encode_mask(mask: np.ndarray) -> dict:
    """Compressed COCO RLE of a binary HxW mask."""
    return mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))


def decode_mask(rle: dict) -> np.ndarray:
    """Binary HxW uint8 mask of a compressed COCO RLE."""
    return mask_utils.decode(rle)


def _parse_line(line: str, path: str, line_number: int) -> MOTSObject:
    fields = line.split(" ")
    if len(fields) != 6:
        raise MOTSFormatError(
            f"{path}:{line_number}: expected 6 space-separated fields "
            f"'time_frame obj_id class_id img_height img_width rle', got {len(fields)}"
        )
    try:
        frame, obj_id, class_id, height, width = (int(f) for f in fields[:5])
    except ValueError:
        raise MOTSFormatError(
            f"{path}:{line_number}: the first five fields must be integers, got {fields[:5]}"
        ) from None
    if height <= 0 or width <= 0 or frame < 0 or obj_id < 0:
        raise MOTSFormatError(
            f"{path}:{line_number}: frame, obj_id must be >= 0 and height, width > 0"
        )
    counts = fields[5].encode("ascii")
    try:
        covered = rle_counts_total(counts)
    except ValueError as e:
        raise MOTSFormatError(f"{path}:{line_number}: invalid RLE string ({e})") from None
    if covered != height * width:
        raise MOTSFormatError(
            f"{path}:{line_number}: the RLE covers {covered} pixels but the header says "
            f"{height}x{width} = {height * width}; the mask does not belong to this image size"
        )
    return MOTSObject(frame, obj_id, class_id, {"size": [height, width], "counts": counts})


def read_mots_txt(path: str, validate: bool = True) -> Dict[int, List[MOTSObject]]:
    """Read one sequence in the txt format: ``{frame: [MOTSObject, ...]}``, frames in file order.

    With ``validate`` every RLE is checked against its header (cheap, no decoding of masks).
    Errors name the file and line. Empty lines are skipped.
    """
    frames: Dict[int, List[MOTSObject]] = {}
    with open(path, encoding="ascii", errors="replace") as f:
        for line_number, raw in enumerate(f, start=1):
            line = raw.strip()
            if not line:
                continue
            if validate:
                obj = _parse_line(line, path, line_number)
            else:
                fields = line.split(" ")
                obj = MOTSObject(
                    int(fields[0]),
                    int(fields[1]),
                    int(fields[2]),
                    {"size": [int(fields[3]), int(fields[4])], "counts": fields[5].encode()},
                )
            frames.setdefault(obj.frame, []).append(obj)
    return frames


def format_mots_line(obj: MOTSObject) -> str:
    counts = obj.rle["counts"]
    if isinstance(counts, bytes):
        counts = counts.decode("ascii")
    height, width = obj.rle["size"]
    return f"{obj.frame} {obj.obj_id} {obj.class_id} {height} {width} {counts}"


def atomic_write_text(path: str, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder and a rename,
    so a reader never sees a half-written file and an old file is replaced only when complete."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp_path = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=os.path.basename(path))
    try:
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(text)
        os.replace(tmp_path, path)
    except BaseException:
        os.unlink(tmp_path)
        raise


def write_mots_txt(path: str, objects: Iterable[MOTSObject]) -> None:
    """Write one sequence in the txt format, sorted by frame then obj_id, atomically."""
    ordered = sorted(objects, key=lambda o: (o.frame, o.obj_id))
    atomic_write_text(path, "".join(format_mots_line(o) + "\n" for o in ordered))


def objects_to_id_map(objects: Sequence[MOTSObject], height: int, width: int) -> np.ndarray:
    """HxW uint16 map, pixel = obj_id (0 background). Raises if two masks overlap."""
    id_map = np.zeros((height, width), dtype=np.uint16)
    for obj in objects:
        mask = decode_mask(obj.rle).astype(bool)
        if mask.shape != (height, width):
            raise MOTSFormatError(
                f"frame {obj.frame}: object {obj.obj_id} has size {mask.shape}, "
                f"expected {(height, width)}"
            )
        clash = id_map[mask]
        if clash.any():
            other = int(clash[clash > 0][0])
            raise MOTSFormatError(
                f"frame {obj.frame}: masks of objects {other} and {obj.obj_id} overlap; "
                "MOTS requires every pixel to belong to at most one object"
            )
        id_map[mask] = obj.obj_id
    return id_map


def id_map_to_objects(id_map: np.ndarray, frame: int) -> List[MOTSObject]:
    """Objects of a uint16 obj_id map, one per non-zero id, sorted by id."""
    objects = []
    for obj_id in np.unique(id_map):
        if obj_id == 0:
            continue
        rle = encode_mask(id_map == obj_id)
        objects.append(MOTSObject(frame, int(obj_id), obj_id_to_class_id(int(obj_id)), rle))
    return objects


def read_mots_png(path: str, frame: int) -> List[MOTSObject]:
    """Objects of one 16-bit instance png (pixel = obj_id)."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            id_map = np.asarray(image, dtype=np.uint16)
    except (OSError, ValueError) as e:
        raise MOTSFormatError(f"{path}: cannot read as a 16-bit instance png ({e})") from None
    if id_map.ndim != 2:
        raise MOTSFormatError(f"{path}: expected a single-channel 16-bit png, got {id_map.shape}")
    return id_map_to_objects(id_map, frame)


def write_mots_png(path: str, id_map: np.ndarray) -> None:
    """Write a uint16 obj_id map as a 16-bit png, atomically."""
    from PIL import Image

    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp_path = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".png")
    os.close(fd)
    try:
        Image.fromarray(id_map.astype(np.uint16)).save(tmp_path, format="PNG")
        os.replace(tmp_path, path)
    except BaseException:
        os.unlink(tmp_path)
        raise


def read_mots_png_sequence(folder: str) -> Dict[int, List[MOTSObject]]:
    """Read ``<folder>/<frame:06d>.png`` files: ``{frame: [MOTSObject, ...]}``."""
    frames: Dict[int, List[MOTSObject]] = {}
    for name in sorted(os.listdir(folder)):
        stem, ext = os.path.splitext(name)
        if ext != ".png" or not stem.isdigit():
            continue
        frames[int(stem)] = read_mots_png(os.path.join(folder, name), int(stem))
    return frames


def sequence_names(annotation_root: str, seqmap: Optional[str] = None) -> List[str]:
    """Sequences of an annotation folder: those listed in ``seqmap`` (first column of each line)
    or else every ``<seq>.txt`` in the folder, sorted."""
    if seqmap is not None:
        with open(seqmap, encoding="ascii") as f:
            return [line.split()[0] for line in f if line.strip()]
    return sorted(n[: -len(".txt")] for n in os.listdir(annotation_root) if n.endswith(".txt"))
