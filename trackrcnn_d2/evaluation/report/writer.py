"""Writes the report folder: ``index.html``, ``metrics.json`` (the ``--json`` output), the charts
(``plots/``), the error views (``frames/<seq>/<frame:06d>.png``) and, for a second run,
``compare/metrics.json`` and ``compare/frames/``. The folder is written beside its place and
swapped in when complete (:class:`~trackrcnn_d2.utils.file_io.replace_folder_atomically`)."""

import json
import os
import warnings
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from trackrcnn_d2.data.image_folders import list_sequence_images
from trackrcnn_d2.data.mots_io import MOTS_CLASS_IDS
from trackrcnn_d2.utils.file_io import atomic_open, atomic_write_text, replace_folder_atomically

from ..files import (
    gt_sequences,
    load_results_folder,
    naming_bad_rle_lines,
    present_classes,
    read_mots_folders,
)
from ..metrics import (
    HOTA_ALPHAS,
    MOTSEvaluationError,
    MOTSGroundTruth,
    MOTSMatching,
    evaluate_mots_with_matching,
)
from .frames import MAX_VIEW_WIDTH, frame_header, frame_objects, read_image_rgb, render_error_view
from .matching_log import SequenceLog, build_sequence_logs

__all__ = ["ReportRun", "WrittenReport", "write_report", "write_folder_report", "VIEW_FRAMES"]

# Which frames get an error view: every frame with an error, or only those with an identity
# switch or a fragmentation (plus each sequence's most telling frame), for long evaluations.
VIEW_FRAMES = ("errors", "switches")


@dataclass
class ReportRun:
    """One evaluated run: ``name`` (shown on the page), ``matching``
    (:func:`~trackrcnn_d2.evaluation.metrics.evaluate_mots_with_matching`'s result),
    ``results`` (the hypotheses it evaluated, ``{sequence: {frame: [MOTSObject]}}``) and
    ``source`` (where they were read, for the page)."""

    name: str
    matching: MOTSMatching
    results: Mapping
    source: Optional[str] = None
    logs: Dict[str, SequenceLog] = field(init=False)
    views: Dict[str, Dict[int, str]] = field(init=False, default_factory=dict)

    def __post_init__(self):
        self.logs = build_sequence_logs(self.matching, self.results)


@dataclass
class WrittenReport:
    """``folder``: where it is; ``key_views``: per sequence of the first run, the error view
    of its most telling frame (RGB uint8), where images were given; ``n_views``: the number of
    error views written."""

    folder: str
    key_views: Dict[str, np.ndarray]
    n_views: int


def write_report(
    folder: str,
    runs: Sequence[ReportRun],
    images: Optional[Mapping[str, Mapping[int, str]]] = None,
    command: Optional[str] = None,
    view_frames: str = "errors",
    max_view_width: int = MAX_VIEW_WIDTH,
    gt_source: Optional[str] = None,
) -> WrittenReport:
    """Write the report of one run, or of two side by side, to ``folder`` (replaced as a whole).

    Args:
        runs: one or two :class:`ReportRun` of the same ground truth and classes.
        images: ``{sequence: {frame: image path}}``; error views are drawn for the frames that
            have one (``view_frames``: see :data:`VIEW_FRAMES`).
        command: the command line that made the report, shown on the page.
        gt_source: where the ground truth was read, shown on the page.
    """
    if not 1 <= len(runs) <= 2:
        raise ValueError(f"a report shows one run or two side by side, got {len(runs)}")
    if view_frames not in VIEW_FRAMES:
        raise ValueError(f"view_frames must be one of {VIEW_FRAMES}, got {view_frames!r}")
    first = runs[0].matching
    for run in runs[1:]:
        if (
            run.matching.ground_truth.sequences != first.ground_truth.sequences
            or run.matching.class_names != first.class_names
        ):
            raise ValueError(
                "the runs of a report must be evaluated on the same sequences and classes"
            )
    from . import html, plots  # matplotlib only now

    with replace_folder_atomically(folder) as target:
        key_views: Dict[str, np.ndarray] = {}
        n_views = 0
        for index, run in enumerate(runs):
            run_folder = target if index == 0 else os.path.join(target, "compare")
            atomic_write_text(
                os.path.join(run_folder, "metrics.json"),
                json.dumps(run.matching.report, indent=2) + "\n",
            )
            if images is not None:
                prefix = "" if index == 0 else "compare/"
                n_views += _write_views(
                    run,
                    images,
                    target,
                    prefix,
                    view_frames,
                    max_view_width,
                    key_views if index == 0 else {},
                )
        charts = {}
        reports = [(run.name, run.matching.report) for run in runs]
        for class_name in first.class_names:
            bars = f"plots/{class_name}_sequences.svg"
            curves = f"plots/{class_name}_alpha.svg"
            plots.save_svg(plots.sequence_bars(reports, class_name), os.path.join(target, bars))
            figure = plots.alpha_curves(
                [(run.name, run.matching.alpha_curves(class_name)) for run in runs],
                HOTA_ALPHAS,
                class_name,
                [run.matching.report[class_name] for run in runs],
            )
            plots.save_svg(figure, os.path.join(target, curves))
            charts[class_name] = (bars, curves)
        page = html.report_page(runs, charts, command=command, gt_source=gt_source)
        atomic_write_text(os.path.join(target, "index.html"), page)
    return WrittenReport(os.path.abspath(folder), key_views, n_views)


def _view_frames(log: SequenceLog, view_frames: str):
    frames = log.error_frames()
    if view_frames == "switches":
        telling = max(frames, key=lambda f: log.by_frame[f].severity(), default=None)
        frames = [
            f
            for f in frames
            if log.by_frame[f].switches or log.by_frame[f].fragments or f == telling
        ]
    return frames


def _write_views(
    run: ReportRun,
    images,
    target: str,
    prefix: str,
    view_frames: str,
    max_view_width: int,
    key_views: Dict[str, np.ndarray],
) -> int:
    import cv2

    matching = run.matching
    class_of_id = {MOTS_CLASS_IDS[name]: name for name in matching.class_names}
    written = 0
    for sequence, log in run.logs.items():
        sequence_images = images.get(sequence, {})
        frames = [f for f in _view_frames(log, view_frames) if f in sequence_images]
        missing = len(log.error_frames()) - len(
            [f for f in log.error_frames() if f in sequence_images]
        )
        if missing and sequence_images:
            warnings.warn(
                f"no image for {missing} frame(s) with errors of sequence {sequence}: "
                "they have no error view",
                stacklevel=3,
            )
        telling = max(frames, key=lambda f: log.by_frame[f].severity(), default=None)
        size = matching.ground_truth[sequence].image_size
        for frame in frames:
            image = read_image_rgb(sequence_images[frame])
            if size is not None and image.shape[:2] != tuple(size):
                raise MOTSEvaluationError(
                    f"image {sequence_images[frame]} is {image.shape[1]}x{image.shape[0]} but the "
                    f"masks of sequence {sequence} are {size[1]}x{size[0]}: the images belong to "
                    "other frames (check the image folder)"
                )
            gt_objects, hypotheses, ignore = frame_objects(
                matching.ground_truth, run.results, sequence, frame, class_of_id
            )
            log_of_frame = log.by_frame[frame]
            view, _ = render_error_view(
                image,
                log_of_frame,
                gt_objects,
                hypotheses,
                ignore,
                frame_header(sequence, frame, log_of_frame),
                max_view_width,
            )
            relative = f"{prefix}frames/{sequence}/{frame:06d}.png"
            ok, encoded = cv2.imencode(".png", view[:, :, ::-1], [cv2.IMWRITE_PNG_COMPRESSION, 1])
            if not ok:
                raise RuntimeError(f"OpenCV could not encode the error view of {relative}")
            with atomic_open(os.path.join(target, relative), "wb") as f:
                f.write(encoded.tobytes())
            run.views.setdefault(sequence, {})[frame] = relative
            written += 1
            if frame == telling:
                key_views[sequence] = view
    return written


def _run_names(folders: Sequence[str]) -> List[str]:
    names = [os.path.basename(os.path.normpath(f)) or f for f in folders]
    return names if len(set(names)) == len(names) else [os.path.normpath(f) for f in folders]


def sequence_images(image_root: str, sequences: Sequence[str]) -> Dict[str, Dict[int, str]]:
    """``{sequence: {frame: image path}}`` of an image folder in the datasets' layout
    (``<root>/<seq>/<frame:06d>.png`` or ``<root>/<seq>/img1/<frame:06d>.jpg``)."""
    if not os.path.isdir(image_root):
        raise FileNotFoundError(f"--images {image_root}: no such folder")
    hint = (
        f"--images {image_root} must hold the sequences' frames as <seq>/<frame:06d>.png "
        "(KITTI MOTS training/image_02) or <seq>/img1/<frame:06d>.jpg (MOTSChallenge)"
    )
    return {s: list_sequence_images(image_root, s, hint) for s in sequences}


def write_folder_report(
    folder: str,
    gt_folder: str,
    results_folders: Sequence[str],
    classes: Optional[Sequence[str]] = None,
    seqmap: Optional[str] = None,
    image_root: Optional[str] = None,
    command: Optional[str] = None,
    view_frames: str = "errors",
) -> Tuple[WrittenReport, List[dict]]:
    """Evaluate one or two result folders against a ground-truth folder (as
    :func:`~trackrcnn_d2.evaluation.evaluate_mots_folders`) and write their report. Returns the
    written report and each run's :func:`~trackrcnn_d2.evaluation.evaluate_mots` dict (what
    ``--json`` writes). Without ``classes``, the classes present in the ground truth or any of
    the results are evaluated."""
    gt, frame_ranges, first_results, _ = read_mots_folders(
        gt_folder, results_folders[0], classes, seqmap
    )
    all_results = [first_results] + [
        load_results_folder(f, list(gt), gt_sequences(gt_folder), check_rles=False)
        for f in results_folders[1:]
    ]
    class_names = list(classes or present_classes(gt, *all_results) or MOTS_CLASS_IDS)
    images = sequence_images(image_root, list(gt)) if image_root is not None else None
    runs = []
    ground_truth = None
    for name, source, results in zip(_run_names(results_folders), results_folders, all_results):
        with naming_bad_rle_lines(gt_folder, source):
            if ground_truth is None:
                ground_truth = MOTSGroundTruth(gt, frame_ranges)
            matching = evaluate_mots_with_matching(ground_truth, results, class_names)
        runs.append(ReportRun(name, matching, results, source))
    written = write_report(folder, runs, images, command, view_frames, gt_source=gt_folder)
    return written, [run.matching.report for run in runs]
