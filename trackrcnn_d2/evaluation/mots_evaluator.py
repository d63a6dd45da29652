"""MOTSEvaluator: detectron2's DatasetEvaluator for MOTS datasets (paper Sec. 4).

Per frame, :meth:`MOTSEvaluator.process` keeps the detections as compressed RLEs
(:class:`~trackrcnn_d2.tracking.FrameDetections`); :meth:`MOTSEvaluator.evaluate` gathers them
from all workers, runs the tracker (Algorithm 1) over each sequence on the main process, writes

    <output_dir>/<sequence>.txt          tracks, KITTI MOTS txt (what the benchmarks take)
    <output_dir>/detections/<seq>.npz    the detection cache of tools/tune_tracker.py
    <output_dir>/mots_metrics.json       every metric, per class and per sequence
    <output_dir>/report/index.html       with TEST.MOTS.REPORT: the evaluation report

and evaluates the written txt files against the ground truth with
:func:`~trackrcnn_d2.evaluation.evaluate_mots`, so its numbers are those of
``python -m trackrcnn_d2.evaluation <annotation_root> <output_dir>``. ``output_dir`` is replaced
as a whole by each evaluation (written beside it, then swapped in): files of two evaluations are
never mixed.

With ``report=True`` (``TEST.MOTS.REPORT``) it also writes the evaluation report
(:mod:`trackrcnn_d2.evaluation.report`) from the same matching as the metrics, with error views
of the frames with an identity switch or a fragmentation and of each sequence's most telling
frame (every frame with an error would be thousands of images per evaluation: the standalone
command with ``--images`` draws them all), and, inside a training run, logs each sequence's most
telling error view to TensorBoard (``mots/error_view/<sequence>``) beside the metrics.
"""
import itertools
import json
import logging
import os
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from detectron2.config import configurable
from detectron2.data import MetadataCatalog
from detectron2.evaluation import DatasetEvaluator
from detectron2.utils import comm

from trackrcnn_d2.data import mots_io
from trackrcnn_d2.evaluation.metrics import evaluate_mots, evaluate_mots_with_matching
from trackrcnn_d2.evaluation.table import format_mots_table
from trackrcnn_d2.tracking import (
    FrameDetections,
    FramePairScores,
    PrecomputedPairScores,
    SequenceFlowProvider,
    TrackerParams,
    build_optical_flow,
    frame_detections_from_instances,
    track_sequence,
    write_detection_cache,
    write_tracking_result,
)
from trackrcnn_d2.tracking.class_map import class_map_from_config
from trackrcnn_d2.tracking.tracker_head import UnusableDetectionWarnings
from trackrcnn_d2.utils.file_io import OutputFolder, atomic_write_text

__all__ = ["MOTSEvaluator", "REPORTED_METRICS", "flat_mots_results", "format_mots_table"]

logger = logging.getLogger(__name__)

# Metrics in detectron2's results dict (and so in TensorBoard), per class. mots_metrics.json
# has all of them.
REPORTED_METRICS = ("sMOTSA", "MOTSA", "MOTSP", "IDS", "HOTA", "DetA", "AssA", "IDF1")


class MOTSEvaluator(DatasetEvaluator):
    """Tracks the detections of each sequence and evaluates the tracks (sMOTSA, HOTA, ...).

    The data loader must give each sequence's frames in order, whole sequences per worker
    (``build_mots_test_loader``); the model's outputs must be at image resolution
    (``Instances`` with ``pred_boxes``, ``scores``, ``pred_classes``, ``pred_masks`` and,
    for TrackR-CNN, ``association_vectors``). A plain Mask R-CNN works with a mechanism
    without association vectors (``maskprop``, the paper's "Mask R-CNN + maskprop"), its
    classes mapped to the MOTS classes by ``DATASETS.MOTS.CLASS_MAP``.
    """

    @configurable
    def __init__(
        self,
        dataset_name: str,
        *,
        tracker_params: TrackerParams,
        output_dir: str,
        flow: str = "dis",
        mask_threshold: float = 0.5,
        write_detection_cache: bool = True,
        distributed: bool = True,
        class_map: Optional[np.ndarray] = None,
        report: bool = False,
    ):
        """
        Args:
            dataset_name: a registered MOTS dataset (``evaluator_type == "mots"``); its metadata
                gives the sequences, ``annotation_root`` and ``thing_classes``.
            tracker_params: the tracker's parameters; ``class_names`` are the model's classes in
                contiguous-id order.
            output_dir: where the tracks, the detection cache and the metrics go; replaced as a
                whole by each evaluation.
            flow: optical flow method for mask propagation (see ``build_optical_flow``).
            mask_threshold: binarisation threshold of soft ``pred_masks``.
            write_detection_cache: also write the per-sequence detection cache.
            distributed: gather the detections of all workers and evaluate on the main one.
            class_map: the tracker's class of each model class, -1 to drop its detections
                (see ``trackrcnn_d2.tracking.class_map``); None: the same classes.
            report: also write the evaluation report to ``<output_dir>/report/`` and log each
                sequence's error view to TensorBoard when inside a training run.
        """
        self._dataset_name = dataset_name
        self._metadata = MetadataCatalog.get(dataset_name)
        if self._metadata.get("evaluator_type") != "mots":
            raise ValueError(
                f"Dataset {dataset_name!r} is not a MOTS dataset (evaluator_type "
                f"{self._metadata.get('evaluator_type')!r}); register it with "
                "trackrcnn_d2.data.register_mots_dataset"
            )
        self._tracker_params = tracker_params
        self._output_dir = output_dir
        self._flow_method = flow
        self._optical_flow = None  # built on first use, then kept for every sequence
        self._mask_threshold = mask_threshold
        self._write_detection_cache = write_detection_cache
        self._distributed = distributed
        # The output policy (utils/file_io.py), checked before inference; the folder is
        # replaced by each evaluation, which refuses if someone else wrote it meanwhile.
        self._output = self._new_output()
        self._class_map = class_map
        self._report = report
        self._unusable_detections = UnusableDetectionWarnings(
            tracker_params, f"MOTSEvaluator ({dataset_name})"
        )
        self._frames: List[dict] = []
        # Each frame's flow and mask propagation scores are computed on a worker thread while
        # the model runs the next frames (OpenCV releases the GIL); tracking then only matches.
        self._pair_worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="optical-flow")
        self._previous_frame: Optional[dict] = None
        # The files of the current sequence's frames, and the flow between them that the worker
        # computes (None without flow).
        self._sequence_files: Dict[int, str] = {}
        self._sequence_flow: Optional[SequenceFlowProvider] = None

    @classmethod
    def from_config(cls, cfg, dataset_name, output_dir=None, distributed=True):
        return {
            "dataset_name": dataset_name,
            "tracker_params": TrackerParams.from_config(cfg),
            "output_dir": output_dir or os.path.join(cfg.OUTPUT_DIR, "inference", dataset_name),
            "flow": cfg.TRACKER_HEADS.FLOW,
            "mask_threshold": cfg.TRACKER_HEADS.MASK_THRESHOLD,
            "write_detection_cache": cfg.TEST.MOTS.WRITE_DETECTION_CACHE,
            "distributed": distributed,
            "class_map": class_map_from_config(cfg),
            "report": cfg.TEST.MOTS.REPORT,
        }

    def _new_output(self) -> Optional[OutputFolder]:
        if self._distributed and not comm.is_main_process():
            return None  # the main process writes
        return OutputFolder(self._output_dir, overwrite=True, what="MOTSEvaluator output_dir")

    def reset(self):
        self._frames = []
        self._previous_frame = None
        self._output = self._new_output()

    def process(self, inputs, outputs):
        for frame_input, output in zip(inputs, outputs):
            _check_frame_input(frame_input)
            # On the model's device: unpasted masks (UnpastedMasksModel) are pasted there.
            detections = frame_detections_from_instances(
                output["instances"],
                sequence=frame_input["sequence"],
                frame_idx=frame_input["frame_idx"],
                mask_threshold=self._mask_threshold,
                class_map=self._class_map,
            )
            if not output["instances"].has("association_vectors"):
                # Refused at the first frame, not tracked without the vectors it asks for.
                self._tracker_params.check_association_head(False)
            self._unusable_detections.check(detections)
            frame = {"detections": detections, "file_name": frame_input["file_name"]}
            self._submit_pair_scores(frame)
            self._frames.append(frame)

    def _submit_pair_scores(self, frame: dict) -> None:
        """Starts the pair scores of ``frame`` and the frame processed before it, if that is
        the previous frame of its sequence (the loader gives each sequence in order)."""
        previous, self._previous_frame = self._previous_frame, frame
        current = frame["detections"]
        if previous is None or previous["detections"].sequence != current.sequence:
            self._sequence_files = {}
            self._sequence_flow = self._flow_provider(self._sequence_files)
        self._sequence_files[current.frame_idx] = frame["file_name"]
        if (
            self._sequence_flow is not None
            and previous is not None
            and previous["detections"].sequence == current.sequence
            and previous["detections"].frame_idx < current.frame_idx
        ):
            frame["pair_scores"] = self._pair_worker.submit(
                self._pair_scores, self._sequence_flow, previous["detections"], current
            )

    def _pair_scores(
        self, flow: SequenceFlowProvider, previous: FrameDetections, current: FrameDetections
    ) -> Tuple[int, PrecomputedPairScores]:
        """On the worker thread: (previous frame_idx, PrecomputedPairScores) of two frames."""
        scores = FramePairScores(previous, current, flow(previous.frame_idx, current.frame_idx))
        return previous.frame_idx, PrecomputedPairScores.compute(scores, self._tracker_params)

    def evaluate(self):
        for frame in self._frames:  # the worker's results, before they are gathered
            if isinstance(frame.get("pair_scores"), Future):
                frame["pair_scores"] = frame["pair_scores"].result()
        if self._distributed:
            comm.synchronize()
            frames = list(itertools.chain(*comm.gather(self._frames, dst=0)))
            if not comm.is_main_process():
                return {}
        else:
            frames = self._frames
        if not frames:
            logger.warning(f"[MOTSEvaluator] {self._dataset_name}: no frames were processed")
            return {}

        sequences = _group_by_sequence(frames)
        class_names = [
            c for c in self._tracker_params.class_names if c in self._metadata.thing_classes
        ]
        with self._output as folder:
            for sequence, sequence_frames in sequences.items():
                detections = [f["detections"] for f in sequence_frames]
                tracks = track_sequence(
                    detections,
                    self._tracker_params,
                    self._flow_provider(
                        {f["detections"].frame_idx: f["file_name"] for f in sequence_frames}
                    ),
                    pair_scores=_adjacent_pair_scores(sequence_frames),
                )
                write_tracking_result(os.path.join(folder, f"{sequence}.txt"), tracks)
                if self._write_detection_cache:
                    write_detection_cache(
                        os.path.join(folder, "detections", f"{sequence}.npz"), detections
                    )
            # Evaluate what was written, so that the numbers are the standalone command's.
            results = {
                sequence: mots_io.read_mots_txt(os.path.join(folder, f"{sequence}.txt"))
                for sequence in sequences
            }
            ground_truth = mots_io.load_mots_ground_truth(
                self._metadata.annotation_root,
                self._metadata.sequences,
                self._metadata.annotation_format,
            )
            if self._report:
                matching = evaluate_mots_with_matching(ground_truth, results, class_names)
                metrics = matching.report
                images = {
                    sequence: {f["detections"].frame_idx: f["file_name"] for f in frames}
                    for sequence, frames in sequences.items()
                }
                key_views = self._write_report(os.path.join(folder, "report"), matching, results,
                                               images)  # fmt: skip
            else:
                metrics = evaluate_mots(ground_truth, results, class_names)
            atomic_write_text(
                os.path.join(folder, "mots_metrics.json"), json.dumps(metrics, indent=1) + "\n"
            )
        logger.info(
            f"MOTS results for {self._dataset_name} ({len(sequences)} sequences; tracks in "
            f"{self._output_dir}):\n" + format_mots_table(metrics, class_names)
        )
        if self._report:
            _log_error_views(key_views)
        return OrderedDict(mots=flat_mots_results(metrics, class_names))

    def _write_report(self, folder: str, matching, results, images) -> Dict[str, np.ndarray]:
        from trackrcnn_d2.evaluation.report import ReportRun, write_report

        written = write_report(
            folder, [ReportRun("tracks", matching, results, self._output_dir)], images,
            command=f"MOTSEvaluator({self._dataset_name!r}), TEST.MOTS.REPORT True",
            view_frames="switches", gt_source=self._metadata.annotation_root,
        )  # fmt: skip
        logger.info(
            f"MOTS report for {self._dataset_name}: "
            f"{os.path.join(self._output_dir, 'report', 'index.html')} ({written.n_views} error "
            "views)"
        )
        return written.key_views

    def _flow_provider(self, images: Dict[int, str]) -> Optional[SequenceFlowProvider]:
        """The flow between frames of one sequence (``images``: frame_idx -> file); None
        without flow."""
        if not self._tracker_params.uses_flow:
            return None
        if self._optical_flow is None:
            # Once per evaluator, not per sequence: RAFT would reload its weights each time.
            self._optical_flow = build_optical_flow(self._flow_method)
        if self._optical_flow is None:
            return None
        return SequenceFlowProvider(self._optical_flow, images)


# What MOTSEvaluator needs of each input besides the image: which frame of which sequence it is,
# and the image file (for optical flow).
FRAME_INPUT_KEYS = ("sequence", "frame_idx", "file_name")


def _check_frame_input(frame_input: dict) -> None:
    missing = [key for key in FRAME_INPUT_KEYS if key not in frame_input]
    if missing:
        raise ValueError(
            f"MOTSEvaluator: an input has no {', '.join(map(repr, missing))}: it tracks the frames "
            f"of each sequence in order and needs {', '.join(map(repr, FRAME_INPUT_KEYS))} in "
            "every input. Build the loader with trackrcnn_d2.data.build_mots_test_loader(cfg, "
            "dataset_name) (detectron2's build_detection_test_loader gives none of them)."
        )


def _adjacent_pair_scores(sequence_frames: Sequence[dict]) -> List[Optional[PrecomputedPairScores]]:
    """Per frame, the pair scores computed during ``process`` with the frame before it; None
    where there are none (the flow provider computes them then)."""
    scores = [None] * len(sequence_frames)
    for t in range(1, len(sequence_frames)):
        previous_idx, pair_scores = sequence_frames[t].get("pair_scores", (None, None))
        if previous_idx == sequence_frames[t - 1]["detections"].frame_idx:
            scores[t] = pair_scores
    return scores


def _group_by_sequence(frames: Sequence[dict]) -> Dict[str, List[dict]]:
    """Frames per sequence, in frame order, each frame once (first-seen sequence order)."""
    sequences: Dict[str, Dict[int, dict]] = {}
    for frame in frames:
        detections: FrameDetections = frame["detections"]
        sequences.setdefault(detections.sequence, {}).setdefault(detections.frame_idx, frame)
    return {name: [by_index[i] for i in sorted(by_index)] for name, by_index in sequences.items()}


def _log_error_views(views: Dict[str, np.ndarray]) -> None:
    """Each sequence's most telling error view as a TensorBoard image next to the metrics'
    scalars, when evaluating inside a training run (detectron2's EventStorage); nothing for
    ``--eval-only``, which has no storage."""
    from detectron2.utils.events import get_event_storage

    try:
        storage = get_event_storage()
    except AssertionError:  # no EventStorage: not inside a training run
        return
    for sequence, view in views.items():
        image = np.ascontiguousarray(view.transpose(2, 0, 1))  # CHW, RGB, uint8
        storage.put_image(f"mots/error_view/{sequence}", image)


def flat_mots_results(metrics: dict, class_names: Sequence[str]) -> Dict[str, float]:
    """``{"<metric>/<class>": value}`` of :data:`REPORTED_METRICS`: detectron2's
    ``print_csv_format`` and ``EventStorage`` (TensorBoard) take flat scalar dicts."""
    return {
        f"{metric}/{name}": float(metrics[name][metric])
        for name in class_names
        for metric in REPORTED_METRICS
    }
