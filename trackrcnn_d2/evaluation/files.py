"""Folders of MOTS files for the standalone evaluation: ground truth in any layout that the
dataset loaders read (:func:`trackrcnn_d2.data.mots_io.sequence_names` and
:func:`~trackrcnn_d2.data.mots_io.find_sequence_annotations`: KITTI MOTS ``<seq>.txt`` or
``<seq>/<frame>.png``, MOTSChallenge ``<seq>/gt/gt.txt``), seqmaps, result folders (``<seq>.txt``),
and :func:`evaluate_mots_folders`, the folder-level call.

Every RLE of a txt file is checked against its image size, so that bad input gets an error
naming file and line instead of a hang or crash inside pycocotools. Imports neither torch nor
detectron2.
"""
import contextlib
import os
from typing import Dict, List, Optional, Sequence, Tuple

from trackrcnn_d2.data import mots_io
from trackrcnn_d2.data.mots_io import MOTS_CLASS_IDS, MOTSObject
from trackrcnn_d2.utils.rle import find_rle_size_mismatch

from .metrics import MOTSGroundTruth, evaluate_mots, without_gc
from .metrics.validation import RLEStringError

__all__ = [
    "evaluate_mots_folders",
    "read_mots_folders",
    "naming_bad_rle_lines",
    "read_mots_file",
    "load_gt_folder",
    "load_results_folder",
    "present_classes",
]

Frames = Dict[int, List[MOTSObject]]


def read_mots_file(path: str, check_rles: bool = True) -> Frames:
    """Read one MOTS txt file with every line checked (fields, and with ``check_rles`` each RLE
    against its image size); errors name the file and line.

    Parses with ``read_mots_txt(validate=False)`` and checks the RLEs with
    :func:`~trackrcnn_d2.utils.rle.find_rle_size_mismatch`; only if one fails is the file read
    again with ``read_mots_txt(validate=True)``, whose error names the line.
    """
    if not os.path.isfile(path):
        raise mots_io.missing_path_error(path, "MOTS file", "file")
    frames = mots_io.read_mots_txt(path, validate=False)
    if not check_rles:
        return frames
    index, _ = find_rle_size_mismatch([o.rle for f in frames.values() for o in f])
    if index is not None:
        return mots_io.read_mots_txt(path, validate=True)
    return frames


def gt_sequences(gt_root: str) -> List[str]:
    """The sequences of a ground-truth folder (:func:`mots_io.sequence_names`)."""
    if not os.path.isdir(gt_root):
        raise mots_io.missing_path_error(gt_root, "ground-truth folder", "folder")
    sequences = mots_io.sequence_names(gt_root)
    if not sequences:
        raise FileNotFoundError(
            f"ground-truth folder {gt_root} contains neither <seq>.txt files (KITTI MOTS "
            "instances_txt), <seq>/gt/gt.txt files (MOTSChallenge) nor <seq>/<frame>.png "
            "files (KITTI MOTS instances)"
        )
    return sequences


@without_gc
def load_gt_folder(
    gt_root: str, seqmap: Optional[str] = None, check_rles: bool = True
) -> Tuple[Dict[str, Frames], Dict[str, Tuple[int, int]]]:
    """GT of the sequences of ``seqmap`` (or of every sequence of the folder), with the frame
    ranges the seqmap gives. Returns ``(gt, frame_ranges)``. ``check_rles=False`` leaves the RLE
    strings of txt files unchecked: only for a caller that checks them itself, as
    :func:`evaluate_mots` does."""
    available = gt_sequences(gt_root)
    selected = dict.fromkeys(available) if seqmap is None else mots_io.read_seqmap(seqmap)
    missing = [s for s in selected if s not in available]
    if missing:
        raise FileNotFoundError(
            f"seqmap {seqmap} lists sequence(s) {missing} without ground truth in {gt_root} "
            f"(it has {available})"
        )
    gt = {}
    for sequence in selected:
        path, annotation_format = mots_io.find_sequence_annotations(gt_root, sequence)
        if annotation_format == "txt":
            gt[sequence] = read_mots_file(path, check_rles)
        else:
            gt[sequence] = mots_io.read_mots_png_sequence(path)
    frame_ranges = {s: r for s, r in selected.items() if r is not None}
    return gt, frame_ranges


@without_gc
def load_results_folder(
    results_root: str,
    sequences: Sequence[str],
    known_sequences: Sequence[str],
    check_rles: bool = True,
) -> Dict[str, Frames]:
    """Results ``<seq>.txt`` of the evaluated ``sequences``. A missing file is left out
    (``evaluate_mots`` then counts the sequence as missed, with a warning); a file of a sequence
    unknown to the GT folder (``known_sequences``) is an error, since it usually means a naming
    mismatch; files of known sequences outside ``sequences`` (e.g. of another split) are ignored.
    ``check_rles`` as for :func:`load_gt_folder`.
    """
    if not os.path.isdir(results_root):
        raise mots_io.missing_path_error(results_root, "results folder", "folder")
    names = sorted(n[: -len(".txt")] for n in os.listdir(results_root) if n.endswith(".txt"))
    unknown = [n for n in names if n not in known_sequences]
    if unknown:
        raise FileNotFoundError(
            f"results folder {results_root} has file(s) {[u + '.txt' for u in unknown]} for "
            f"sequence(s) that the ground truth does not have (it has {sorted(known_sequences)}); "
            "name result files <seq>.txt after the ground-truth sequences"
        )
    return {
        sequence: read_mots_file(os.path.join(results_root, sequence + ".txt"), check_rles)
        for sequence in sequences
        if sequence in names
    }


def present_classes(*datasets) -> List[str]:
    """The MOTS classes that have at least one object in any of the datasets."""
    present = {
        o.class_id
        for data in datasets
        for frames in data.values()
        for objects in frames.values()
        for o in objects
    }
    return [name for name, class_id in MOTS_CLASS_IDS.items() if class_id in present]


def read_mots_folders(
    gt_folder: str,
    res_folder: str,
    classes: Optional[Sequence[str]] = None,
    seqmap: Optional[str] = None,
) -> Tuple[Dict[str, Frames], Dict[str, Tuple[int, int]], Dict[str, Frames], List[str]]:
    """The files :func:`evaluate_mots_folders` evaluates: ``(gt, frame_ranges, results,
    class_names)``. The RLE strings are left for the evaluation to check, inside
    :func:`naming_bad_rle_lines`."""
    gt, frame_ranges = load_gt_folder(gt_folder, seqmap, check_rles=False)
    results = load_results_folder(
        res_folder, list(gt), gt_sequences(gt_folder), check_rles=False
    )
    class_names = list(classes or present_classes(gt, results) or MOTS_CLASS_IDS)
    return gt, frame_ranges, results, class_names


@contextlib.contextmanager
def naming_bad_rle_lines(gt_folder: str, res_folder: str):
    """Around an evaluation of files read by :func:`read_mots_folders`: a bad RLE string that the
    evaluation finds is looked up again in its file, so that the error names the line."""
    try:
        yield
    except RLEStringError as e:
        if e.what == "results":
            read_mots_file(os.path.join(res_folder, e.sequence + ".txt"))
        else:
            path, annotation_format = mots_io.find_sequence_annotations(gt_folder, e.sequence)
            if annotation_format == "txt":
                read_mots_file(path)
        raise


@without_gc
def evaluate_mots_folders(
    gt_folder: str,
    res_folder: str,
    classes: Optional[Sequence[str]] = None,
    seqmap: Optional[str] = None,
) -> Dict[str, object]:
    """Evaluate a folder of result files against a ground-truth folder: the numbers of
    ``python -m trackrcnn_d2.evaluation GT RESULTS`` (TrackEval's KITTI MOTS / MOTSChallenge).

    Args:
        gt_folder: KITTI MOTS ``instances_txt`` (``<seq>.txt``) or ``instances``
            (``<seq>/<frame>.png``), or MOTSChallenge (``<seq>/gt/gt.txt``).
        res_folder: ``<seq>.txt`` per sequence; a missing one counts as all missed (with a
            :class:`~.metrics.MissingResultsWarning`).
        classes: class names to evaluate (``"car"``, ``"pedestrian"``); by default those present
            in the ground truth or the results (so MOTSChallenge gives pedestrians only).
        seqmap: the sequences to evaluate and their frame ranges (:func:`mots_io.read_seqmap`);
            by default every sequence of ``gt_folder``.

    Returns:
        :func:`~.metrics.evaluate_mots`'s dict: ``{class: {field: value}, ...,
        "per_sequence": {sequence: {class: {field: value}}}}``, rates in percent.

    Raises:
        OSError (FileNotFoundError, NotADirectoryError, ...): missing or wrong paths;
        MOTSFormatError: a malformed file (naming file and line); MOTSEvaluationError: input
        that the official tools refuse (naming sequence, frame and ids).
    """
    # The RLE strings are checked once, by the evaluation, which reuses their areas; a bad one
    # is then looked up again in its file for the line number.
    gt, frame_ranges, results, class_names = read_mots_folders(
        gt_folder, res_folder, classes, seqmap
    )
    with naming_bad_rle_lines(gt_folder, res_folder):
        return evaluate_mots(MOTSGroundTruth(gt, frame_ranges), results, class_names)
