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
import warnings
from typing import Dict, FrozenSet, Iterator, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np

from trackrcnn_d2.data import mots_io
from trackrcnn_d2.data.mots_io import MOTS_CLASS_IDS, MOTSObject
from trackrcnn_d2.utils.rle import find_rle_size_mismatch

from .metrics import (
    GroundTruthWarning,
    MissingResultsWarning,
    MOTSGroundTruth,
    ResultsWarning,
    concatenate_counts,
    mots_counts,
    mots_report,
    select_classes,
    without_gc,
)
from .metrics.pairing import missing_results_message
from .metrics.validation import RLEStringError

__all__ = [
    "evaluate_mots_folders",
    "read_mots_folders",
    "naming_bad_rle_lines",
    "evaluate_sequence",
    "sequence_jobs",
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


def selected_sequences(gt_root: str, seqmap: Optional[str]) -> Dict[str, Optional[Tuple[int, int]]]:
    """The sequences of ``seqmap`` with their frame ranges, or every sequence of the folder
    (range None); a seqmap sequence without ground truth is an error."""
    available = gt_sequences(gt_root)
    selected = dict.fromkeys(available) if seqmap is None else mots_io.read_seqmap(seqmap)
    missing = [s for s in selected if s not in available]
    if missing:
        raise FileNotFoundError(
            f"seqmap {seqmap} lists sequence(s) {missing} without ground truth in {gt_root} "
            f"(it has {available})"
        )
    return selected


@without_gc
def load_gt_folder(
    gt_root: str, seqmap: Optional[str] = None, check_rles: bool = True
) -> Tuple[Dict[str, Frames], Dict[str, Tuple[int, int]]]:
    """GT of the sequences of ``seqmap`` (or of every sequence of the folder), with the frame
    ranges the seqmap gives. Returns ``(gt, frame_ranges)``. ``check_rles=False`` leaves the RLE
    strings of txt files unchecked: only for a caller that checks them itself, as
    :func:`evaluate_mots` does."""
    selected = selected_sequences(gt_root, seqmap)
    gt = {}
    for sequence in selected:
        path, annotation_format = mots_io.find_sequence_annotations(gt_root, sequence)
        if annotation_format == "txt":
            gt[sequence] = read_mots_file(path, check_rles)
        else:
            gt[sequence] = mots_io.read_mots_png_sequence(path)
        warn_about_ground_truth(path, sequence, gt[sequence])
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
    names = result_names(results_root, known_sequences)
    results = {}
    for sequence in sequences:
        if sequence in names:
            path = os.path.join(results_root, sequence + ".txt")
            results[sequence] = read_mots_file(path, check_rles)
            warn_about_results(path, results[sequence])
    return results


# The MOTS class ids (car, pedestrian, ignore region); TrackEval drops result lines of others.
KNOWN_CLASS_IDS = (mots_io.CAR, mots_io.PEDESTRIAN, mots_io.IGNORE)


def warn_about_results(path: str, frames: Frames) -> None:
    """A :class:`~.metrics.ResultsWarning` naming ``path``'s first line of an unknown class id
    (not 1 car, 2 pedestrian or 10 ignore region; e.g. -1 or 7): TrackEval drops such lines
    silently, but they usually mean a broken writer (as unknown classes in ground truth,
    :class:`~.metrics.GroundTruthWarning`)."""
    other = [o.class_id for f in frames.values() for o in f if o.class_id not in KNOWN_CLASS_IDS]
    if other:
        line = mots_io.first_line_where(path, lambda o: o.class_id not in KNOWN_CLASS_IDS)
        warnings.warn(
            f"{path}:{line}: unknown class id {other[0]} (MOTS classes: 1 car, 2 pedestrian, 10 "
            f"ignore region); {len(other)} line(s) of unknown classes are not evaluated, as in "
            "TrackEval",
            ResultsWarning,
            stacklevel=3,
        )


def warn_about_ground_truth(path: str, sequence: str, frames: Frames) -> None:
    """A :class:`~.metrics.GroundTruthWarning` for ground truth without any object (an empty
    file or folder of empty masks: every result counts as a false positive)."""
    if not any(frames.values()):
        warnings.warn(
            f"{path}: the ground truth of sequence {sequence} has no object (not even an "
            "ignore region): every result of it counts as a false positive",
            GroundTruthWarning,
            stacklevel=3,
        )


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
    """The files :func:`evaluate_mots_folders` evaluates, all in memory: ``(gt, frame_ranges,
    results, class_names)``. The RLE strings are left for the evaluation to check, inside
    :func:`naming_bad_rle_lines`."""
    gt, frame_ranges = load_gt_folder(gt_folder, seqmap, check_rles=False)
    results = load_results_folder(
        res_folder, list(gt), gt_sequences(gt_folder), check_rles=False
    )
    class_names = list(classes or present_classes(gt, results) or MOTS_CLASS_IDS)
    return gt, frame_ranges, results, class_names


@contextlib.contextmanager
def naming_bad_rle_lines(gt_folder: str, res_folder: str):
    """Around an evaluation of files read without checking their RLE strings (the evaluation
    checks them once and reuses their areas): a bad string that the evaluation finds is looked
    up again in its file, so that the error names the line."""
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


class SequenceJob(NamedTuple):
    """What a worker needs to evaluate one sequence of a folder evaluation."""

    sequence: str
    gt_folder: str
    res_folder: str
    has_results: bool  # False: no result file, all missed
    frame_range: Optional[Tuple[int, int]]
    class_names: Tuple[str, ...]


class SequenceOutcome(NamedTuple):
    """A worker's answer: :func:`~.metrics.mots_counts` of its sequence, the MOTS class ids
    present in its GT or results, and the warnings raised meanwhile ``(category, message)``."""

    counts: Dict[str, np.ndarray]
    class_ids: FrozenSet[int]
    warnings: List[Tuple[type, str]]


def sequence_jobs(
    gt_folder: str,
    res_folder: str,
    seqmap: Optional[str],
    class_names: Sequence[str],
) -> List[SequenceJob]:
    """The sequences to evaluate (those of ``seqmap``, or all of ``gt_folder``), where their
    files are, before any is read: missing ground truth, a missing results folder and result
    files of sequences unknown to the ground truth are reported first."""
    selected = selected_sequences(gt_folder, seqmap)
    names = result_names(res_folder, gt_sequences(gt_folder))
    for sequence in selected:  # reported before any file is read
        mots_io.find_sequence_annotations(gt_folder, sequence)
    return [
        SequenceJob(sequence, gt_folder, res_folder, sequence in names, frame_range,
                    tuple(class_names))
        for sequence, frame_range in selected.items()
    ]  # fmt: skip


def result_names(results_root: str, known_sequences: Sequence[str]) -> List[str]:
    """The sequences of the ``<seq>.txt`` files of a results folder; a file of a sequence
    unknown to the ground truth (``known_sequences``) is an error, since it usually means a
    naming mismatch."""
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
    return names


@without_gc
def evaluate_sequence(job: SequenceJob) -> SequenceOutcome:
    """Read, validate and evaluate one sequence (a worker's task): its files are read here and
    dropped on return. An error gets the warnings raised before it as its attribute
    ``evaluation_warnings``, so that they are shown as without workers."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            counts, class_ids = _count_sequence(job)
        except Exception as e:
            e.evaluation_warnings = [(w.category, str(w.message)) for w in caught]
            raise
    return SequenceOutcome(counts, class_ids, [(w.category, str(w.message)) for w in caught])


def _count_sequence(job: SequenceJob):
    gt_path, gt_format = mots_io.find_sequence_annotations(job.gt_folder, job.sequence)
    with naming_bad_rle_lines(job.gt_folder, job.res_folder):
        if gt_format == "txt":
            gt = read_mots_file(gt_path, check_rles=False)
        else:
            gt = mots_io.read_mots_png_sequence(gt_path)
        warn_about_ground_truth(gt_path, job.sequence, gt)
        results = {}
        if job.has_results:
            path = os.path.join(job.res_folder, job.sequence + ".txt")
            results[job.sequence] = read_mots_file(path, check_rles=False)
            warn_about_results(path, results[job.sequence])
        class_ids = frozenset(
            MOTS_CLASS_IDS[c] for c in present_classes({job.sequence: gt}, results)
        )
        ranges = {job.sequence: job.frame_range} if job.frame_range is not None else None
        ground_truth = MOTSGroundTruth({job.sequence: gt}, ranges)
        return mots_counts(ground_truth, results, job.class_names), class_ids


def _outcomes(jobs: Sequence[SequenceJob], workers: int) -> Iterator[SequenceOutcome]:
    """The jobs' outcomes in order, from ``workers`` processes (at most one per job) or from
    this one. The first error in sequence order is raised once the sequences being evaluated
    are done (the others are not started); a worker that dies raises BrokenProcessPool."""
    if workers <= 1 or len(jobs) <= 1:
        yield from map(evaluate_sequence, jobs)
        return
    # Only for workers. Processes start with the platform's default method, as TrackEval's and
    # torch's DataLoader's workers.
    from concurrent.futures import ProcessPoolExecutor

    executor = ProcessPoolExecutor(min(workers, len(jobs)))
    try:
        futures = [executor.submit(evaluate_sequence, job) for job in jobs]
        for future in futures:
            yield future.result()
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


@without_gc
def evaluate_mots_folders(
    gt_folder: str,
    res_folder: str,
    classes: Optional[Sequence[str]] = None,
    seqmap: Optional[str] = None,
    workers: int = 1,
) -> Dict[str, object]:
    """Evaluate a folder of result files against a ground-truth folder: the numbers of
    ``python -m trackrcnn_d2.evaluation GT RESULTS`` (TrackEval's KITTI MOTS / MOTSChallenge).

    One sequence at a time: each is read, validated and evaluated, and only its counts are kept,
    so that memory does not grow with the number of sequences; with ``workers`` > 1 that many
    processes share the sequences (identical numbers, warnings and errors).

    Args:
        gt_folder: KITTI MOTS ``instances_txt`` (``<seq>.txt``) or ``instances``
            (``<seq>/<frame>.png``), or MOTSChallenge (``<seq>/gt/gt.txt``).
        res_folder: ``<seq>.txt`` per sequence; a missing one counts as all missed (with a
            :class:`~.metrics.MissingResultsWarning`).
        classes: class names to evaluate (``"car"``, ``"pedestrian"``); by default those present
            in the ground truth or the results (so MOTSChallenge gives pedestrians only).
        seqmap: the sequences to evaluate and their frame ranges (:func:`mots_io.read_seqmap`);
            by default every sequence of ``gt_folder``.
        workers: processes evaluating sequences in parallel (1: this process only), started
            with the platform's default method of :mod:`multiprocessing`.

    Returns:
        :func:`~.metrics.evaluate_mots`'s dict: ``{class: {field: value}, ...,
        "per_sequence": {sequence: {class: {field: value}}}}``, rates in percent.

    Raises:
        OSError (FileNotFoundError, NotADirectoryError, ...): missing or wrong paths;
        MOTSFormatError: a malformed file (naming file and line); MOTSEvaluationError: input
        that the official tools refuse (naming sequence, frame and ids). With several bad
        sequences, the first in sequence order is reported.
    """
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    evaluated = list(classes or MOTS_CLASS_IDS)
    jobs = sequence_jobs(gt_folder, res_folder, seqmap, evaluated)
    # One warning for all sequences without results, not one per sequence.
    missing = [job.sequence for job in jobs if not job.has_results]
    if missing:
        warnings.warn(missing_results_message(missing, len(jobs)), MissingResultsWarning,
                      stacklevel=3)  # fmt: skip
    parts, present = [], set()
    outcomes = _outcomes(jobs, workers)
    while True:
        try:
            outcome = next(outcomes)
        except StopIteration:
            break
        except Exception as e:
            _reissue(getattr(e, "evaluation_warnings", ()))
            raise
        _reissue([w for w in outcome.warnings if not issubclass(w[0], MissingResultsWarning)])
        parts.append(outcome.counts)
        present |= outcome.class_ids
    counts = concatenate_counts(parts)
    class_names = evaluated
    if not classes:  # those present, else all (TrackEval's zeros)
        class_names = [c for c in evaluated if MOTS_CLASS_IDS[c] in present] or evaluated
        counts = select_classes(counts, len(evaluated), [evaluated.index(c) for c in class_names])
    return mots_report(counts, [job.sequence for job in jobs], class_names)


def _reissue(caught: Sequence[Tuple[type, str]]) -> None:
    for category, message in caught:
        warnings.warn(message, category, stacklevel=3)
