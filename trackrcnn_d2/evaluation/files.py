"""Folders of MOTS txt files for the standalone evaluation: seqmaps, GT folders in the KITTI MOTS
(``<seq>.txt``) or MOTSChallenge (``<seq>/gt/gt.txt``) layout, result folders (``<seq>.txt``).

Files are parsed by :func:`trackrcnn_d2.data.mots_io.read_mots_txt`, and every RLE is checked
against its image size, so that bad input gets an error naming file and line instead of a hang or
crash inside pycocotools. Imports neither torch nor detectron2.
"""
import os
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from trackrcnn_d2.data.mots_io import MOTSFormatError, MOTSObject, read_mots_txt, rle_counts_totals

from .metrics import without_gc

__all__ = [
    "read_seqmap",
    "find_gt_files",
    "read_mots_file",
    "load_gt_folder",
    "load_results_folder",
]

Frames = Dict[int, List[MOTSObject]]


def read_seqmap(path: str) -> Dict[str, Optional[Tuple[int, int]]]:
    """Sequences of a seqmap, in file order, each with its frame range or None.

    Accepted lines: ``<seq> <anything> <first> <last>`` (KITTI MOTS / mots_tools, e.g.
    ``0002 empty 000000 000232``: frames 0..232) or ``<seq>`` alone (MOTChallenge seqmaps,
    whose header line ``name`` is skipped). Blank lines are skipped.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"seqmap {path} does not exist")
    sequences: Dict[str, Optional[Tuple[int, int]]] = {}
    with open(path, encoding="utf-8") as f:
        for line_number, line in enumerate(f, start=1):
            fields = line.replace(",", " ").split()
            if not fields or (line_number == 1 and fields == ["name"]):
                continue
            if len(fields) == 1:
                sequences[fields[0]] = None
                continue
            try:
                first, last = int(fields[2]), int(fields[3])
            except (IndexError, ValueError):
                raise MOTSFormatError(
                    f"{path}:{line_number}: expected '<seq> empty <first frame> <last frame>' or "
                    f"'<seq>', got {line.strip()!r}"
                ) from None
            sequences[fields[0]] = (first, last)
    if not sequences:
        raise MOTSFormatError(f"{path}: the seqmap lists no sequences")
    return sequences


def find_gt_files(gt_root: str) -> Dict[str, str]:
    """``{sequence: path}`` of a GT folder: ``<seq>.txt`` files (KITTI MOTS ``instances_txt``)
    or ``<seq>/gt/gt.txt`` (MOTSChallenge), sorted by sequence name."""
    if not os.path.isdir(gt_root):
        raise FileNotFoundError(f"ground-truth folder {gt_root} does not exist")
    files = {}
    for name in sorted(os.listdir(gt_root)):
        path = os.path.join(gt_root, name)
        if name.endswith(".txt") and os.path.isfile(path):
            files[name[: -len(".txt")]] = path
        elif os.path.isfile(os.path.join(path, "gt", "gt.txt")):
            files[name] = os.path.join(path, "gt", "gt.txt")
    if not files:
        raise FileNotFoundError(
            f"ground-truth folder {gt_root} contains neither <seq>.txt files (KITTI MOTS "
            "instances_txt) nor <seq>/gt/gt.txt files (MOTSChallenge)"
        )
    return files


def read_mots_file(path: str) -> Frames:
    """Read one MOTS txt file with every line checked (fields, and each RLE against its image
    size); errors name the file and line.

    Parses with ``read_mots_txt(validate=False)`` and checks the RLEs with
    :func:`~trackrcnn_d2.data.mots_io.rle_counts_totals`; only if one fails is the file read
    again with ``read_mots_txt(validate=True)``, whose error names the line.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path} does not exist")
    frames = read_mots_txt(path, validate=False)
    objects = [o for frame_objects in frames.values() for o in frame_objects]
    totals = rle_counts_totals([o.rle["counts"] for o in objects])
    expected = np.fromiter(
        (o.rle["size"][0] * o.rle["size"][1] for o in objects), dtype=np.int64, count=len(objects)
    )
    if (totals != expected).any():
        return read_mots_txt(path, validate=True)
    return frames


@without_gc
def load_gt_folder(
    gt_root: str, seqmap: Optional[str] = None
) -> Tuple[Dict[str, Frames], Dict[str, Tuple[int, int]]]:
    """GT of the sequences of ``seqmap`` (or of every sequence of the folder), with the frame
    ranges the seqmap gives. Returns ``(gt, frame_ranges)``."""
    files = find_gt_files(gt_root)
    if seqmap is None:
        selected: Mapping[str, Optional[Tuple[int, int]]] = dict.fromkeys(files)
    else:
        selected = read_seqmap(seqmap)
        missing = [s for s in selected if s not in files]
        if missing:
            raise FileNotFoundError(
                f"seqmap {seqmap} lists sequence(s) {missing} without a ground-truth file in "
                f"{gt_root} (it has {sorted(files)})"
            )
    gt = {sequence: read_mots_file(files[sequence]) for sequence in selected}
    frame_ranges = {s: r for s, r in selected.items() if r is not None}
    return gt, frame_ranges


@without_gc
def load_results_folder(
    results_root: str, sequences: Sequence[str], known_sequences: Sequence[str]
) -> Dict[str, Frames]:
    """Results ``<seq>.txt`` of the evaluated ``sequences``. A missing file is left out
    (``evaluate_mots`` then counts the sequence as missed, with a warning); a file of a sequence
    unknown to the GT folder (``known_sequences``) is an error, since it usually means a naming
    mismatch; files of known sequences outside ``sequences`` (e.g. of another split) are ignored.
    """
    if not os.path.isdir(results_root):
        raise FileNotFoundError(f"results folder {results_root} does not exist")
    names = sorted(n[: -len(".txt")] for n in os.listdir(results_root) if n.endswith(".txt"))
    unknown = [n for n in names if n not in known_sequences]
    if unknown:
        raise FileNotFoundError(
            f"results folder {results_root} has file(s) {[u + '.txt' for u in unknown]} for "
            f"sequence(s) that the ground truth does not have (it has {sorted(known_sequences)}); "
            "name result files <seq>.txt after the ground-truth sequences"
        )
    return {
        sequence: read_mots_file(os.path.join(results_root, sequence + ".txt"))
        for sequence in sequences
        if sequence in names
    }
