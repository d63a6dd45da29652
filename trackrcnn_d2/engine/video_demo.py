"""demo.py's work as library code: the config and predictor of a demo run, and the tracking of one
video (or folder of frames) into tracks in the KITTI MOTS txt format and a rendering.

Library code raises (:class:`~trackrcnn_d2.utils.cli.UserError` and its kinds for a user's
mistake); demo.py turns that into one message and exit status 2.
"""
import contextlib
import itertools
import logging
import os
import time
from typing import NamedTuple, Optional

from tqdm import tqdm

from trackrcnn_d2.data import mots_io
from trackrcnn_d2.tracking import tracks_to_mots_objects
from trackrcnn_d2.utils.cli import (
    ConfigError,
    OutputDirError,
    UserError,
    check_output_folder,
    load_config,
)
from trackrcnn_d2.utils.file_io import replace_folder_atomically
from trackrcnn_d2.utils.video import FrameSource, FrameWriter, open_frames
from trackrcnn_d2.utils.visualizer import draw_tracks

__all__ = [
    "RenderOptions",
    "VideoResult",
    "build_predictor",
    "check_output",
    "run_demo",
    "setup_config",
    "track_video",
]

logger = logging.getLogger("demo")


class RenderOptions(NamedTuple):
    """What demo.py renders: ``kind`` "auto" (PNG frames for a folder, a video for a video),
    "png", "video" or "none", at ``scale`` times the input's size."""

    kind: str = "auto"
    scale: float = 1.0


class VideoResult(NamedTuple):
    """What :func:`track_video` did: the files it wrote, frames tracked, seconds, tracks."""

    txt_path: str
    render_path: Optional[str]
    frames: int
    seconds: float
    tracks: int


def check_output(output: str, input_path: str, overwrite: bool) -> None:
    """Refuse an output that would destroy something (``check_output_folder``: an existing
    file or non-empty folder unless ``overwrite``, the input or a folder holding it), or a
    place where no folder can be made, before the model is loaded."""
    check_output_folder(output, overwrite, inputs=[input_path])
    parent = os.path.dirname(os.path.abspath(output))
    while not os.path.lexists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent) or not os.access(parent, os.W_OK | os.X_OK):
        raise OutputDirError(f"--output {output}: cannot create a folder in {parent}")


def setup_config(config_file: str, opts):
    """The config, on the CPU when it asks for a GPU that this machine does not have."""
    from trackrcnn_d2.engine.device import available_device

    cfg = load_config(config_file, opts)
    if not cfg.MODEL.WEIGHTS:
        raise ConfigError(
            "MODEL.WEIGHTS is empty; give a trained model, e.g. "
            "MODEL.WEIGHTS output/demo/model_final.pth"
        )
    cfg.defrost()
    cfg.MODEL.DEVICE = available_device(cfg.MODEL.DEVICE)
    cfg.freeze()
    return cfg


def build_predictor(cfg, config_file: str):
    """The model of ``cfg`` with its weights, and the tracker. Config mistakes that show only
    when the model and tracker are built, and weights that cannot be had, are user errors."""
    from trackrcnn_d2.engine import VideoTrackingPredictor

    try:
        return VideoTrackingPredictor(cfg)
    except UserError:  # weights (CheckpointError), tracker keys that do not fit the model
        raise
    except (KeyError, ValueError, AssertionError) as e:  # registries, layer shapes, tracker
        message = e.args[0] if e.args else type(e).__name__
        raise ConfigError(f"{config_file}: {message}") from None


def frame_range(source: FrameSource, start: int, max_frames: Optional[int]) -> int:
    """How many frames of ``source`` are tracked from frame ``start`` (``--start``,
    ``--max-frames``); a ``start`` past the end is a :class:`UserError`."""
    if start >= source.num_frames:
        raise UserError(f"--start {start}: {source.name} has {source.num_frames} frames")
    num_frames = source.num_frames - start
    return num_frames if max_frames is None else min(num_frames, max_frames)


def track_video(
    predictor,
    source: FrameSource,
    folder: str,
    render: Optional[RenderOptions] = None,
    start: int = 0,
    max_frames: Optional[int] = None,
) -> VideoResult:
    """Track the frames of ``source`` (from ``start``, at most ``max_frames``) with
    ``predictor`` (a :class:`~trackrcnn_d2.engine.VideoTrackingPredictor`) and write into
    ``folder``: ``<name>.txt``, the tracks in the KITTI MOTS txt format, and the rendering
    (``frames/<frame:06d>.png`` or ``<name>.mp4``)."""
    render = render or RenderOptions()
    num_frames = frame_range(source, start, max_frames)
    frames = itertools.islice(source.frames, start, start + num_frames)
    kind = render.kind
    if kind == "auto":
        kind = "video" if source.fps is not None else "png"
    txt_path = os.path.join(folder, f"{source.name}.txt")
    with contextlib.ExitStack() as stack:
        txt = stack.enter_context(open(txt_path, "w", encoding="ascii"))
        writer = None
        if kind != "none":
            writer = stack.enter_context(
                FrameWriter(folder, kind, source.name, source.fps or 10.0)
            )
        progress = tqdm(
            predictor(frames, sequence=source.name),
            total=num_frames,
            desc=source.name,
            unit=" frames",
            bar_format="{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} "
            "[{elapsed}<{remaining}, {rate_noinv_fmt}]",
        )
        started, tracked, track_ids = time.perf_counter(), 0, set()
        for frame_idx, image, objects in progress:
            lines = tracks_to_mots_objects({frame_idx: objects})[frame_idx]
            for line in sorted(lines, key=lambda o: o.obj_id):
                txt.write(mots_io.format_mots_line(line) + "\n")
            if writer is not None:
                writer.write(frame_idx, draw_tracks(image, objects, render.scale))
            tracked += 1
            track_ids.update(o.obj_id for o in objects)
    seconds = time.perf_counter() - started
    return VideoResult(
        txt_path, None if writer is None else writer.path, tracked, seconds, len(track_ids)
    )


def run_demo(args) -> str:
    """demo.py: track ``args.input`` into ``args.output`` (replaced as a whole when the results
    are complete); returns the txt file's path."""
    check_output(args.output, args.input, args.overwrite)
    source = open_frames(args.input)
    frame_range(source, args.start, args.max_frames)
    cfg = setup_config(args.config_file, args.opts)
    predictor = build_predictor(cfg, args.config_file)
    with replace_folder_atomically(args.output, replace_file=args.overwrite) as folder:
        result = track_video(
            predictor,
            source,
            folder,
            RenderOptions(args.render, args.render_scale),
            args.start,
            args.max_frames,
        )
    logger.info(
        f"Tracked {result.frames} frames in {result.seconds:.1f} s "
        f"({result.frames / result.seconds:.2f} frames/s): {result.tracks} tracks"
    )
    txt_path = os.path.join(args.output, os.path.basename(result.txt_path))
    logger.info(f"Tracks: {txt_path}")
    if result.render_path is not None:
        logger.info(f"Rendered: {os.path.join(args.output, os.path.basename(result.render_path))}")
    return txt_path
