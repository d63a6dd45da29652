"""demo.py's work as library code: the videos of ``--input`` tracked over the processes of
``--num-gpus`` (and ``--num-machines``), whole videos per process, each video written atomically
into ``--output`` (:mod:`~trackrcnn_d2.engine.video_outputs`), and a summary.

Library code raises (:class:`~trackrcnn_d2.utils.cli.UserError` and its kinds for a user's
mistake); demo.py turns that into one message and exit status 2.
"""
import itertools
import logging
import os
import time
from typing import List, NamedTuple, Optional, Sequence

from tqdm import tqdm

from trackrcnn_d2.data import mots_io
from trackrcnn_d2.engine.launch import launch
from trackrcnn_d2.engine.lazy_config import is_lazy_config, tracker_uses_flow
from trackrcnn_d2.engine.video_inputs import VideoInput, find_videos, share_videos
from trackrcnn_d2.engine.video_outputs import (
    ResultsFolder,
    demo_settings,
    prepare_output,
    refuse_failed_videos,
)
from trackrcnn_d2.tracking import TrackNumberOverflow, tracks_to_mots_objects
from trackrcnn_d2.utils.cli import ConfigError, UserError, load_config, user_error_message
from trackrcnn_d2.utils.file_io import atomic_open
from trackrcnn_d2.utils.video import FrameSource, FrameWriter, VideoReadError
from trackrcnn_d2.utils.visualizer import draw_tracks

__all__ = [
    "RenderOptions",
    "VideoResult",
    "build_lazy_predictor",
    "build_predictor",
    "run_demo",
    "setup_config",
    "setup_lazy_config",
    "track_video",
    "track_videos",
]

logger = logging.getLogger("demo")


class RenderOptions(NamedTuple):
    """What demo.py renders: ``kind`` "auto" (PNG frames for a folder, a video for a video),
    "png", "video" or "none", at ``scale`` times the input's size."""

    kind: str = "auto"
    scale: float = 1.0


class VideoResult(NamedTuple):
    """What :func:`track_video` did: frames tracked, seconds, tracks."""

    frames: int
    seconds: float
    tracks: int


def setup_config(config_file: str, opts, confidence_threshold: Optional[float] = None):
    """The config, on the CPU when it asks for a GPU that this machine does not have.
    ``confidence_threshold`` (detectron2 demo's ``--confidence-threshold``): the tracker's
    gamma for every class (``TRACKER_HEADS.DETECTION_CONFIDENCE``), and the detector keeps its
    detections down to it (``MODEL.ROI_HEADS.SCORE_THRESH_TEST``, lowered only). A LazyConfig
    (``.py``, ``key=value`` ``opts``) is loaded as :func:`setup_lazy_config` says."""
    from trackrcnn_d2.engine.device import available_device

    if is_lazy_config(config_file):
        return setup_lazy_config(config_file, opts, confidence_threshold)
    cfg = load_config(config_file, opts)
    if not cfg.MODEL.WEIGHTS:
        raise ConfigError(
            "MODEL.WEIGHTS is empty; give a trained model, e.g. "
            "MODEL.WEIGHTS output/demo/model_final.pth"
        )
    cfg.defrost()
    cfg.MODEL.DEVICE = available_device(cfg.MODEL.DEVICE)
    if confidence_threshold is not None:
        classes = len(cfg.TRACKER_HEADS.DETECTION_CONFIDENCE)
        cfg.TRACKER_HEADS.DETECTION_CONFIDENCE = [confidence_threshold] * classes
        scores = cfg.MODEL.ROI_HEADS.SCORE_THRESH_TEST
        cfg.MODEL.ROI_HEADS.SCORE_THRESH_TEST = min(scores, confidence_threshold)
    cfg.freeze()
    return cfg


def setup_lazy_config(config_file: str, opts, confidence_threshold: Optional[float] = None):
    """A LazyConfig for demo.py: ``model``, ``tracker`` (params, flow, mask_threshold,
    class_map), the test loader's mapper (``dataloader.test.mapper``: the model's test
    transform and input format), trained weights in ``train.init_checkpoint``, and
    ``train.device`` (the CPU without a GPU); ``train.test_precision`` and
    ``train.allow_tf32`` if set. ``confidence_threshold`` as in :func:`setup_config`
    (``tracker.params.detection_confidence``, the box predictor's ``test_score_thresh``)."""
    from trackrcnn_d2.engine.device import available_device
    from trackrcnn_d2.engine.lazy_config import load_lazy_config, require_keys

    cfg = load_lazy_config(config_file, opts)
    needed = ("model", "tracker", "dataloader.test.mapper", "train.init_checkpoint", "train.device")
    require_keys(cfg, needed, config_file, "demo.py")
    if not cfg.train.init_checkpoint:
        raise ConfigError(
            "train.init_checkpoint is empty; give a trained model, e.g. "
            "train.init_checkpoint=output/model_final.pth"
        )
    cfg.train.device = available_device(str(cfg.train.device), key="train.device")
    if confidence_threshold is not None:
        classes = len(cfg.tracker.params.detection_confidence)
        cfg.tracker.params.detection_confidence = [confidence_threshold] * classes
        predictor = cfg.model.roi_heads.box_predictor
        predictor.test_score_thresh = min(predictor.test_score_thresh, confidence_threshold)
    return cfg


def build_lazy_predictor(cfg):
    """The video predictor of a LazyConfig (:func:`setup_lazy_config`): its model with the
    weights of ``train.init_checkpoint`` (strictly), its tracker and test transform."""
    from omegaconf import OmegaConf

    from trackrcnn_d2.checkpoint import MOTSCheckpointer
    from trackrcnn_d2.data.dataset_mapper import MOTSTestDatasetMapper
    from trackrcnn_d2.engine import VideoTrackingPredictor
    from trackrcnn_d2.engine.config_contract import check_lazy_tracker
    from trackrcnn_d2.engine.lazy_config import build_part

    params, class_map = check_lazy_tracker(cfg)
    mapper = build_part(cfg, "dataloader.test.mapper")
    if not isinstance(mapper, MOTSTestDatasetMapper):
        raise ConfigError(
            f"dataloader.test.mapper builds a {type(mapper).__name__}; demo.py takes the test "
            "transform of trackrcnn_d2's MOTSTestDatasetMapper"
        )
    model = build_part(cfg, "model").to(cfg.train.device)
    check_lazy_tracker(cfg, model)  # before the weights are loaded (maybe downloaded)
    MOTSCheckpointer(model, weights_key="train.init_checkpoint").load(
        cfg.train.init_checkpoint, strict=True
    )
    return VideoTrackingPredictor(
        model=model,
        tracker_params=params,
        mapper=mapper,
        flow=cfg.tracker.flow,
        mask_threshold=cfg.tracker.mask_threshold,
        class_map=class_map,
        precision=OmegaConf.select(cfg, "train.test_precision", default="fp32"),
        allow_tf32=OmegaConf.select(cfg, "train.allow_tf32", default=True),
    )


def build_predictor(cfg, config_file: str):
    """The model of ``cfg`` with its weights, and the tracker. Config mistakes that show only
    when the model and tracker are built, and weights that cannot be had, are user errors."""
    from trackrcnn_d2.engine import VideoTrackingPredictor

    if is_lazy_config(config_file):
        return build_lazy_predictor(cfg)
    try:
        return VideoTrackingPredictor(cfg)
    except UserError:  # weights (CheckpointError), tracker keys that do not fit the model
        raise
    except (KeyError, ValueError, AssertionError) as e:  # registries, layer shapes, tracker
        message = e.args[0] if e.args else type(e).__name__
        raise ConfigError(f"{config_file}: {message}") from None


def frames_to_track(num_frames: int, start: int, max_frames: Optional[int]) -> int:
    """How many of ``num_frames`` frames are tracked from frame ``start`` (``--start``,
    ``--max-frames``)."""
    count = max(0, num_frames - start)
    return count if max_frames is None else min(count, max_frames)


def track_video(
    predictor,
    source: FrameSource,
    folder: str,
    render: Optional[RenderOptions] = None,
    start: int = 0,
    max_frames: Optional[int] = None,
    progress: bool = True,
) -> VideoResult:
    """Track the frames of ``source`` (from ``start``, at most ``max_frames``) with
    ``predictor`` (a :class:`~trackrcnn_d2.engine.VideoTrackingPredictor`) and write into
    ``folder``: ``<name>.txt``, the tracks in the KITTI MOTS txt format, and the rendering
    (``frames/<frame:06d>.png`` or ``<name>.mp4``). ``folder`` is a work folder: the files
    are written in place."""
    render = render or RenderOptions()
    num_frames = frames_to_track(source.num_frames, start, max_frames)
    if num_frames == 0:
        raise UserError(f"--start {start}: {source.name} has {source.num_frames} frames")
    frames = itertools.islice(source.frames, start, start + num_frames)
    kind = render.kind
    if kind == "auto":
        kind = "video" if source.fps is not None else "png"
    writer = None
    if kind != "none":
        writer = FrameWriter(folder, kind, source.name, source.fps or 10.0)
    tracked = predictor(frames, sequence=source.name)
    if progress:
        tracked = tqdm(
            tracked,
            total=num_frames,
            desc=source.name,
            unit=" frames",
            bar_format="{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} "
            "[{elapsed}<{remaining}, {rate_noinv_fmt}]",
        )
    started, count, track_ids = time.perf_counter(), 0, set()
    txt_path = os.path.join(folder, f"{source.name}.txt")
    with atomic_open(txt_path, "w", encoding="ascii") as txt:
        try:
            for frame_idx, image, objects in tracked:
                lines = tracks_to_mots_objects({frame_idx: objects})[frame_idx]
                for line in sorted(lines, key=lambda o: o.obj_id):
                    txt.write(mots_io.format_mots_line(line) + "\n")
                if writer is not None:
                    writer.write(frame_idx, draw_tracks(image, objects, render.scale))
                count += 1
                track_ids.update(o.obj_id for o in objects)
        finally:
            if writer is not None:
                writer.close()
    return VideoResult(count, time.perf_counter() - started, len(track_ids))


class _Job(NamedTuple):
    """What every process needs to track its share (picklable for the launched processes)."""

    cfg: object
    config_file: str
    videos: Sequence[VideoInput]
    signatures: dict
    settings: dict
    folder: str
    render: RenderOptions
    start: int
    max_frames: Optional[int]


def track_videos(job: _Job) -> None:
    """One process's part of a run (all of it in one process): the videos not complete yet
    (on any machine), shared by frame count, tracked and committed one by one; rank 0 logs the
    summary. A video that cannot be read fails alone: the others go on, and the run ends in a
    :class:`UserError` naming it."""
    from detectron2.utils import comm

    rank, world_size = comm.get_rank(), comm.get_world_size()
    if world_size > 1:
        _setup_worker_logging(rank)
    results = ResultsFolder(job.folder)
    done = [results.is_complete(v.name, job.signatures[v.name], job.settings) for v in job.videos]
    if world_size > 1:
        done = [any(flags) for flags in zip(*comm.all_gather(done))]
    pending = [v for v, complete in zip(job.videos, done) if not complete]
    frames = [frames_to_track(v.num_frames, job.start, job.max_frames) for v in pending]
    mine = [pending[i] for i in share_videos(frames, world_size)[rank]]
    predictor = build_predictor(job.cfg, job.config_file) if mine else None
    tracked: List[VideoResult] = []
    failures = []
    started = time.perf_counter()
    for number, video in enumerate(mine, start=1):
        signature = job.signatures[video.name]
        work = results.begin(video.name, signature, job.settings, rank)
        try:
            source = video.open()  # a video removed or replaced since the start fails alone
            result = track_video(
                predictor, source, work, job.render, job.start, job.max_frames,
                progress=world_size == 1,
            )  # fmt: skip
        except (VideoReadError, FileNotFoundError, TrackNumberOverflow) as e:
            results.abandon(work)
            failures.append((video.name, user_error_message(e)))
            logger.error((f"rank {rank}: " if world_size > 1 else "") + failures[-1][1])
            continue
        except BaseException:
            results.abandon(work)
            raise
        results.commit(
            video.name, signature, job.settings, work, rank=rank, frames=result.frames,
            tracks=result.tracks, seconds=round(result.seconds, 3),
        )  # fmt: skip
        tracked.append(result)
        logger.info(
            (f"rank {rank}, {number} of {len(mine)}: " if world_size > 1 else "")
            + f"{video.name}: {result.frames} frames in {result.seconds:.1f} s "
            f"({result.frames / result.seconds:.2f} frames/s), {result.tracks} tracks"
        )
    share = (rank, tracked, failures, time.perf_counter() - started)
    shares = comm.gather(share, dst=0) if world_size > 1 else [share]
    if rank == 0:
        logger.info(_summary(shares, len(job.videos) - len(pending), job.folder))
        refuse_failed_videos([f for s in shares for f in s[2]], len(pending))


def _setup_worker_logging(rank: int) -> None:
    """A launched process's logging, as detectron2's: messages of rank 0 only, but each
    process's lines about its videos (tagged with its rank)."""
    from detectron2.utils.logger import setup_logger

    for name in ("fvcore", "trackrcnn_d2", "detectron2"):
        setup_logger(name=name, distributed_rank=rank)
    setup_logger(name="demo")


def _summary(shares, skipped: int, folder: str) -> str:
    """Videos, frames and frames/s per process and in all (frames/s in all: over the time of
    the slowest process)."""
    rows = []
    for rank, results, _, seconds in shares:
        rows.append((str(rank), len(results), sum(r.frames for r in results), seconds))
    videos, frames = sum(r[1] for r in rows), sum(r[2] for r in rows)
    seconds = max(r[3] for r in rows)
    head = (
        f"Tracked {videos} video(s), {frames} frames in {seconds:.1f} s "
        f"({frames / seconds if seconds else 0.0:.2f} frames/s) into {folder}"
        + (f"; {skipped} complete already, skipped" if skipped else "")
    )
    if len(rows) == 1:
        return head
    lines = [head, f"{'rank':>6} {'videos':>7} {'frames':>7} {'seconds':>8} {'frames/s':>9}"]
    for name, count, rank_frames, rank_seconds in rows + [("all", videos, frames, seconds)]:
        rate = rank_frames / rank_seconds if rank_seconds else 0.0
        lines.append(f"{name:>6} {count:>7} {rank_frames:>7} {rank_seconds:>8.1f} {rate:>9.2f}")
    return "\n".join(lines)


def run_demo(args) -> List[str]:
    """demo.py: track the videos of ``args.input`` into ``args.output`` with
    ``args.num_gpus`` processes per machine; returns the tracks' txt paths."""
    from trackrcnn_d2.tracking import TrackerParams

    videos = find_videos(args.input)
    for video in videos:
        if frames_to_track(video.num_frames, args.start, None) == 0:
            raise UserError(f"--start {args.start}: {video.paths[0]} has {video.num_frames} frames")
    cfg = setup_config(args.config_file, args.opts, args.confidence_threshold)
    try:
        if is_lazy_config(args.config_file):
            uses_flow = tracker_uses_flow(cfg)
        else:
            uses_flow = TrackerParams.from_config(cfg).uses_flow
    except (KeyError, ValueError) as e:  # tracker keys
        raise ConfigError(f"{args.config_file}: {e.args[0] if e.args else e}") from None
    settings = demo_settings(cfg, args.render, args.render_scale, args.start, args.max_frames)
    signatures = {video.name: video.signature() for video in videos}
    plan = prepare_output(
        args.output, signatures, settings, args.overwrite,
        inputs=[p for v in videos for p in v.paths], lock=args.machine_rank == 0,
    )  # fmt: skip
    job = _Job(
        cfg, args.config_file, videos, signatures, settings, plan.folder,
        RenderOptions(args.render, args.render_scale), args.start, args.max_frames,
    )  # fmt: skip
    with plan:
        launch(
            track_videos, args.num_gpus, num_machines=args.num_machines,
            machine_rank=args.machine_rank, dist_url=args.dist_url, args=(job,),
            rendezvous_timeout=args.dist_timeout,
            flow_worker=uses_flow,
        )  # fmt: skip
        plan.finish()
    outputs = [os.path.join(args.output, f"{video.name}.txt") for video in videos]
    if len(videos) == 1:
        logger.info(f"Tracks: {outputs[0]}")
    return outputs
