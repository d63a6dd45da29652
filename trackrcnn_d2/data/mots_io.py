"""Reader and writer of the MOTS annotation formats (KITTI MOTS / MOTSChallenge).

This is the one place that parses and writes MOTS files; the dataset loaders, the evaluator and
the tracker output all go through it. It imports neither torch nor detectron2.

txt format, one file per sequence, one mask per line::

    time_frame obj_id class_id img_height img_width rle

``rle`` is a COCO compressed RLE string (column-major, as pycocotools writes it). The class is
``obj_id // 1000``: 1 car, 2 pedestrian, 10 ignore region (obj_id 10000).

png format: ``<seq>/<frame:06d>.png``, 16-bit, pixel value = obj_id, 0 background, 10000 ignore.

Ground truth of whole datasets: :func:`load_mots_ground_truth` (either format, KITTI MOTS or
MOTSChallenge layout, every check with errors naming file and line). RLE strings are checked
against their headers before pycocotools decodes them (:func:`check_rle_sizes`), at C speed.
"""
import os
from typing import Dict, Iterable, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np

from trackrcnn_d2.utils.rle import (
    decode_mask,
    describe_rle_size_mismatch,
    encode_mask,
    find_overlap,
    find_rle_size_mismatch,
)

CAR = 1
PEDESTRIAN = 2
IGNORE = 10
IGNORE_OBJ_ID = 10000
# On-disk class ids of the classes that are tracked (paper Sec. 3).
MOTS_CLASS_IDS = {"car": CAR, "pedestrian": PEDESTRIAN}
MOTS_CLASS_NAMES = {v: k for k, v in MOTS_CLASS_IDS.items()}
# Largest frame number accepted (frames of all sequences share one int64 key in the evaluation).
MAX_FRAME = 2**32 - 1


class MOTSFormatError(ValueError):
    """A MOTS file is malformed. The message names the file, the line or frame, and the fix."""


class MOTSObject(NamedTuple):
    """One mask of one frame. ``rle`` is the compressed COCO RLE dict
    ``{"size": [height, width], "counts": bytes}`` as pycocotools uses it."""

    frame: int
    obj_id: int
    class_id: int
    rle: dict


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


def _diagnose_line(line: str, path: str, line_number: int) -> MOTSFormatError:
    """The error of a txt line that the fast parser rejected."""
    fields = line.split(" ")
    if len(fields) != 6:
        return MOTSFormatError(
            f"{path}:{line_number}: expected 6 space-separated fields "
            f"'time_frame obj_id class_id img_height img_width rle', got {len(fields)}"
        )
    try:
        [int(f) for f in fields[:5]]
    except ValueError:
        return MOTSFormatError(
            f"{path}:{line_number}: the first five fields must be integers, got {fields[:5]}"
        )
    try:
        fields[5].encode("ascii")
    except UnicodeEncodeError:
        return MOTSFormatError(f"{path}:{line_number}: the RLE string is not ASCII")
    return MOTSFormatError(
        f"{path}:{line_number}: frame must be in 0..{MAX_FRAME}, obj_id >= 0 and height, "
        "width > 0"
    )


def _read_txt_records(path: str) -> Tuple[List[MOTSObject], List[int]]:
    """Objects of a txt file in file order and the line number of each. Checks the fields
    (count, integers, ranges) but not the RLE strings (:func:`check_rle_sizes` does)."""
    objects: List[MOTSObject] = []
    line_numbers: List[int] = []
    with open(path, "rb") as f:
        lines = f.read().split(b"\n")
    new_object = tuple.__new__  # MOTSObject's fields in order, without its Python __new__
    for line_number, raw in enumerate(lines, start=1):
        fields = raw.split(b" ")
        if len(fields) != 6 or fields[5][-1:].isspace() or not fields[0].strip():
            line = raw.strip()  # surrounding white space, "\r" of Windows files, blank lines
            if not line:
                continue
            fields = line.split(b" ")
        try:
            frame, obj_id, class_id, height, width, counts = fields
            frame, obj_id, class_id = int(frame), int(obj_id), int(class_id)
            height, width = int(height), int(width)
            if height <= 0 or width <= 0 or not 0 <= frame <= MAX_FRAME or obj_id < 0:
                raise ValueError
        except ValueError:
            text = raw.strip().decode("utf-8", errors="replace")
            raise _diagnose_line(text, path, line_number) from None
        objects.append(
            new_object(
                MOTSObject, (frame, obj_id, class_id, {"size": [height, width], "counts": counts})
            )
        )
        line_numbers.append(line_number)
    return objects, line_numbers


def first_line_where(path: str, predicate) -> Optional[int]:
    """The number of the first line of the txt file ``path`` whose object satisfies
    ``predicate`` (a function of a :class:`MOTSObject`), or None: to name a line in a warning."""
    objects, line_numbers = _read_txt_records(path)
    return next((n for o, n in zip(objects, line_numbers) if predicate(o)), None)


def check_rle_sizes(objects: Sequence[MOTSObject], sources: Sequence[str]) -> None:
    """Raise :class:`MOTSFormatError` (naming ``sources[i]``, e.g. ``"file:line"``) for the first
    object whose RLE string does not cover exactly its header's height x width pixels, or is
    malformed (:func:`find_rle_size_mismatch`: at C speed, no mask decoded)."""
    index, _ = find_rle_size_mismatch([o.rle for o in objects])
    if index is not None:
        raise MOTSFormatError(f"{sources[index]}: {describe_rle_size_mismatch(objects[index].rle)}")


def read_mots_txt(path: str, validate: bool = True) -> Dict[int, List[MOTSObject]]:
    """Read one sequence in the txt format: ``{frame: [MOTSObject, ...]}``, frames in file order.

    Malformed lines (field count, non-integers, negative values) always raise
    :class:`MOTSFormatError` naming the file and line. With ``validate`` every RLE string is
    also checked against its header (at C speed, no decoding of masks). Empty lines are skipped.
    """
    objects, line_numbers = _read_txt_records(path)
    if validate:
        check_rle_sizes(objects, [f"{path}:{n}" for n in line_numbers])
    frames: Dict[int, List[MOTSObject]] = {}
    for obj in objects:
        frames.setdefault(obj.frame, []).append(obj)
    return frames


def format_mots_line(obj: MOTSObject) -> str:
    counts = obj.rle["counts"]
    if isinstance(counts, bytes):
        counts = counts.decode("ascii")
    height, width = obj.rle["size"]
    return f"{obj.frame} {obj.obj_id} {obj.class_id} {height} {width} {counts}"


def write_mots_txt(path: str, objects: Iterable[MOTSObject]) -> None:
    """Write one sequence in the txt format, sorted by frame then obj_id, atomically."""
    # Imported here, as PIL below: the readers (and the evaluation command) do not need it.
    from trackrcnn_d2.utils.file_io import atomic_write_text

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

    from trackrcnn_d2.utils.file_io import atomic_open

    with atomic_open(path, "wb") as f:
        Image.fromarray(id_map.astype(np.uint16)).save(f, format="PNG")


def read_mots_png_sequence(folder: str) -> Dict[int, List[MOTSObject]]:
    """Read ``<folder>/<frame:06d>.png`` files: ``{frame: [MOTSObject, ...]}``."""
    frames: Dict[int, List[MOTSObject]] = {}
    for name in sorted(os.listdir(folder)):
        stem, ext = os.path.splitext(name)
        if ext != ".png" or not stem.isdigit():
            continue
        frames[int(stem)] = read_mots_png(os.path.join(folder, name), int(stem))
    return frames


def read_seqmap(path: str) -> Dict[str, Optional[Tuple[int, int]]]:
    """Sequences of a seqmap, in file order, each with its frame range or None.

    Accepted lines: ``<seq> <anything> <first> <last>`` (KITTI MOTS / mots_tools, e.g.
    ``0002 empty 000000 000232``: frames 0..232) or ``<seq>`` alone (MOTChallenge seqmaps,
    whose header line ``name`` is skipped). Blank lines are skipped.
    """
    if not os.path.isfile(path):
        raise missing_path_error(path, "seqmap", "file")
    sequences: Dict[str, Optional[Tuple[int, int]]] = {}
    try:
        with open(path, encoding="utf-8-sig") as f:  # "-sig": a BOM is no part of a name
            lines = f.readlines()
    except UnicodeDecodeError as e:
        raise MOTSFormatError(
            f"{path}: not a seqmap (not UTF-8 text: byte {e.start} is {e.object[e.start]:#04x}); "
            "a seqmap has lines '<seq> empty <first frame> <last frame>' (save it as UTF-8)"
        ) from None
    for line_number, line in enumerate(lines, start=1):
        fields = line.replace(",", " ").split()
        if not fields or (line_number == 1 and fields == ["name"]):
            continue
        if len(fields) == 1:
            sequences[fields[0]] = None
            continue
        try:
            first, last = int(fields[2]), int(fields[3])
            if not 0 <= first <= last:
                raise ValueError
        except (IndexError, ValueError):
            raise MOTSFormatError(
                f"{path}:{line_number}: expected '<seq> empty <first frame> <last frame>' (0 <= "
                f"first <= last) or '<seq>', got {line.strip()!r}"
            ) from None
        sequences[fields[0]] = (first, last)
    if not sequences:
        raise MOTSFormatError(f"{path}: the seqmap lists no sequences")
    return sequences


def missing_path_error(path: str, what: str, kind: str) -> OSError:
    """FileNotFoundError, or NotADirectoryError / IsADirectoryError for a path of the wrong
    type (a file given for a folder or the reverse)."""
    if not os.path.exists(path):
        return FileNotFoundError(f"{what} {path} does not exist")
    if kind == "folder":
        return NotADirectoryError(f"{what} {path} is a file; expected a folder")
    return IsADirectoryError(f"{what} {path} is a folder; expected a file")


def sequence_names(annotation_root: str, seqmap: Optional[str] = None) -> List[str]:
    """Sequences of an annotation folder: those listed in ``seqmap`` (:func:`read_seqmap`), or
    else every ``<seq>.txt`` in the folder, or else (no txt files) every ``<seq>/`` folder with
    png annotations or a MOTSChallenge ``gt/gt.txt``; sorted."""
    if seqmap is not None:
        return list(read_seqmap(seqmap))
    if not os.path.isdir(annotation_root):
        raise missing_path_error(annotation_root, "annotation folder", "folder")
    entries = sorted(os.listdir(annotation_root))
    txt = [n[: -len(".txt")] for n in entries if n.endswith(".txt")]
    if txt:
        return txt
    folders = []
    for name in entries:
        folder = os.path.join(annotation_root, name)
        if not os.path.isdir(folder):
            continue
        if os.path.isfile(os.path.join(folder, "gt", "gt.txt")) or any(
            n.endswith(".png") for n in os.listdir(folder)
        ):
            folders.append(name)
    return folders


ANNOTATION_FORMATS = ("auto", "txt", "png")


def find_sequence_annotations(
    annotation_root: str, sequence: str, annotation_format: str = "auto"
) -> Tuple[str, str]:
    """Where the annotations of ``sequence`` are, and in which format: ``(path, "txt"|"png")``.

    Looks for, in this order (``annotation_format`` restricts the candidates):

    - txt: ``<annotation_root>/<sequence>.txt`` (KITTI MOTS ``instances_txt``) or
      ``<annotation_root>/<sequence>/gt/gt.txt`` (MOTSChallenge ``train/MOTS20-XX``);
    - png: ``<annotation_root>/<sequence>/`` holding ``<frame:06d>.png`` files (KITTI MOTS
      ``instances``).
    """
    if annotation_format not in ANNOTATION_FORMATS:
        raise ValueError(f"annotation_format must be one of {ANNOTATION_FORMATS}")
    candidates = []
    if annotation_format in ("auto", "txt"):
        candidates.append((os.path.join(annotation_root, f"{sequence}.txt"), "txt"))
        candidates.append((os.path.join(annotation_root, sequence, "gt", "gt.txt"), "txt"))
    if annotation_format in ("auto", "png"):
        candidates.append((os.path.join(annotation_root, sequence), "png"))
    for path, fmt in candidates:
        if fmt == "txt" and os.path.isfile(path):
            return path, fmt
        if fmt == "png" and os.path.isdir(path):
            if any(name.endswith(".png") for name in os.listdir(path)):
                return path, fmt
    looked = ", ".join(path + ("/*.png" if fmt == "png" else "") for path, fmt in candidates)
    raise FileNotFoundError(
        f"No {annotation_format if annotation_format != 'auto' else 'txt or png'} annotations "
        f"of sequence {sequence!r}: looked for {looked}"
    )


def check_ground_truth_objects(
    objects: Sequence[MOTSObject],
    sources: Sequence[str],
    image_size: Optional[Tuple[int, int]] = None,
) -> None:
    """Check the ground truth of one sequence; raise :class:`MOTSFormatError` naming the
    offending ``sources[i]`` (``"file:line"`` or a png file) at the first problem:

    - a class id other than 1 (car), 2 (pedestrian), 10 (ignore region), or one that disagrees
      with ``obj_id // 1000``, or an ignore region whose obj_id is not 10000;
    - masks of different sizes in one sequence, or a size other than ``image_size`` (h, w);
    - one obj_id twice in a frame;
    - overlapping masks in a frame (every pixel belongs to at most one object).

    RLE strings must already be valid (:func:`check_rle_sizes`). The overlap check is
    :func:`find_overlap` (pycocotools, no decoding), the id check :func:`find_duplicate_id`: the
    evaluation's validators use the same two.
    """
    valid_classes = (CAR, PEDESTRIAN, IGNORE)
    for obj, source in zip(objects, sources):
        if obj.class_id not in valid_classes:
            raise MOTSFormatError(
                f"{source}: unknown class id {obj.class_id} (obj_id {obj.obj_id}); MOTS ground "
                "truth has 1 car, 2 pedestrian, 10 ignore region"
            )
        if obj_id_to_class_id(obj.obj_id) != obj.class_id or (
            obj.class_id == IGNORE and obj.obj_id != IGNORE_OBJ_ID
        ):
            raise MOTSFormatError(
                f"{source}: obj_id {obj.obj_id} does not match class id {obj.class_id}; the class "
                f"is obj_id // 1000 and the ignore region is obj_id {IGNORE_OBJ_ID}"
            )
    if not objects:
        return
    expected_size = tuple(image_size) if image_size is not None else tuple(objects[0].rle["size"])
    what = "the image size" if image_size is not None else f"the size of {sources[0]}"
    by_frame: Dict[int, List[int]] = {}
    for i, obj in enumerate(objects):
        if tuple(obj.rle["size"]) != expected_size:
            raise MOTSFormatError(
                f"{sources[i]}: mask size {tuple(obj.rle['size'])} (height, width) differs from "
                f"{what} {expected_size}"
            )
        by_frame.setdefault(obj.frame, []).append(i)
    crowded = []
    for indices in by_frame.values():
        duplicate = find_duplicate_id([objects[i] for i in indices])
        if duplicate is not None:
            first, repeat = indices[duplicate[0]], indices[duplicate[1]]
            raise MOTSFormatError(
                f"{sources[repeat]}: obj_id {objects[repeat].obj_id} appears more than once in "
                f"frame {objects[repeat].frame} (first at {sources[first]})"
            )
        if len(indices) > 1:
            crowded.append(indices)
    overlap = find_overlap([[objects[i].rle for i in indices] for indices in crowded])
    if overlap is not None:
        group, first, second = overlap
        a, b = objects[crowded[group][first]], objects[crowded[group][second]]
        raise MOTSFormatError(
            f"{sources[crowded[group][first]]} and {sources[crowded[group][second]]}: masks of "
            f"objects {a.obj_id} and {b.obj_id} overlap in frame {a.frame}; MOTS ground truth "
            "requires every pixel to belong to at most one object"
        )


def find_duplicate_id(objects: Sequence[MOTSObject]) -> Optional[Tuple[int, int]]:
    """Positions ``(first, repeat)`` of the first obj_id that occurs twice in ``objects`` (the
    masks of one frame), or None."""
    seen: Dict[int, int] = {}
    for i, obj in enumerate(objects):
        if obj.obj_id in seen:
            return seen[obj.obj_id], i
        seen[obj.obj_id] = i
    return None


def load_mots_ground_truth(
    annotation_root: str,
    sequences: Sequence[str],
    annotation_format: str = "auto",
    image_sizes: Optional[Dict[str, Tuple[int, int]]] = None,
    check: bool = True,
) -> Dict[str, Dict[int, List[MOTSObject]]]:
    """Ground truth of several sequences: ``{sequence: {frame: [MOTSObject, ...]}}``.

    Every object is returned, ignore regions (obj_id 10000) and all classes included, frames
    in file order (txt) or frame order (png); a sequence without any object maps to ``{}``.
    The layout of each sequence is found by :func:`find_sequence_annotations` (txt or png,
    KITTI MOTS or MOTSChallenge). With ``check`` the data are validated by
    :func:`check_rle_sizes` and :func:`check_ground_truth_objects` (against
    ``image_sizes[sequence]`` = (height, width) where given); errors name the file and line.

    Pure python (numpy, pycocotools): the evaluator and the dataset loaders share it.
    """
    ground_truth: Dict[str, Dict[int, List[MOTSObject]]] = {}
    for sequence in sequences:
        path, fmt = find_sequence_annotations(annotation_root, sequence, annotation_format)
        if fmt == "txt":
            objects, line_numbers = _read_txt_records(path)
            sources = [f"{path}:{n}" for n in line_numbers]
            if check:
                check_rle_sizes(objects, sources)
        else:
            frames = read_mots_png_sequence(path)
            objects = [o for frame in sorted(frames) for o in frames[frame]]
            sources = [os.path.join(path, f"{o.frame:06d}.png") for o in objects]
        if check:
            size = image_sizes.get(sequence) if image_sizes is not None else None
            check_ground_truth_objects(objects, sources, size)
        by_frame: Dict[int, List[MOTSObject]] = {}
        for obj in objects:
            by_frame.setdefault(obj.frame, []).append(obj)
        ground_truth[sequence] = by_frame
    return ground_truth
