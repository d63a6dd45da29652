#!/usr/bin/env python
"""Track the objects of a video (or a folder of frames) with a Mask R-CNN and TrackR-CNN's tracker.

    python demo.py --config-file configs/coco_mask_rcnn_R_50_FPN_maskprop.yaml \
        --input video.mp4 --output output/video

tracks people and cars with detectron2's COCO Mask R-CNN (downloaded on first use) linked by
mask propagation; a trained TrackR-CNN works the same way:

    python demo.py --config-file configs/demo_synthetic.yaml --input video.mp4 \
        --output output/video_tracks MODEL.WEIGHTS output/demo/model_final.pth

Writes into ``--output``: ``<name>.txt``, the tracks in the KITTI MOTS txt format (frames
numbered as the input's images, or from 0 for a video, also with ``--start``), and the rendered
frames, masks coloured by track with class and track number drawn: ``frames/<frame:06d>.png``
(default for a folder) or ``<name>.mp4`` (default for a video); ``--render`` chooses. An
existing output (a non-empty folder, or a file) is refused unless ``--overwrite``; then it is
replaced as a whole once the new results are complete (Ctrl-C or ``kill`` leave it as it was).
A mistake in the input, the config, the weights or the output path ends in one message and exit
status 2.
"""
import argparse
import contextlib
import itertools
import logging
import math
import os
import signal
import time

from detectron2.utils.logger import setup_logger
from tqdm import tqdm

import trackrcnn_d2
from trackrcnn_d2.data import mots_io
from trackrcnn_d2.tracking import TrackNumberOverflow, tracks_to_mots_objects
from trackrcnn_d2.utils.cli import (
    ConfigError,
    OutputDirError,
    UserError,
    check_output_folder,
    exit_on_user_error,
    load_config,
)
from trackrcnn_d2.utils.file_io import replace_folder_atomically
from trackrcnn_d2.utils.video import FrameWriter, open_frames
from trackrcnn_d2.utils.visualizer import draw_tracks

logger = logging.getLogger("demo")


def _count(minimum: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise argparse.ArgumentTypeError(f"expected a whole number >= {minimum}, got {text!r}")
        return value

    return parse


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="demo.py",
        description="Track objects in a video or a folder of frames with TrackR-CNN.",
        epilog="Trailing KEY VALUE pairs override config keys, e.g. MODEL.WEIGHTS model.pth "
        "TRACKER_HEADS.DETECTION_CONFIDENCE '[0.8, 0.9]'.",
    )
    parser.add_argument(
        "--config-file", required=True, metavar="FILE",
        help="configs/coco_mask_rcnn_R_50_FPN_maskprop.yaml: people and cars in any video with "
        "a COCO Mask R-CNN (no training); or a trained TrackR-CNN's config",
    )  # fmt: skip
    parser.add_argument("--input", required=True, help="a video file or a folder of frames")
    parser.add_argument("--output", required=True, help="folder for the tracks and renderings")
    parser.add_argument(
        "--render",
        choices=("auto", "png", "video", "none"),
        default="auto",
        help="rendered output: PNG frames, an MPEG-4 video, or none (default: PNG frames for "
        "a folder, a video for a video)",
    )
    parser.add_argument(
        "--render-scale",
        type=_positive_float,
        default=1.0,
        help="size of the rendered frames relative to the input (e.g. 3 for small frames)",
    )
    parser.add_argument(
        "--start", type=_count(0), default=0, metavar="N",
        help="skip the first N frames (frame numbers stay those of the whole input)",
    )  # fmt: skip
    parser.add_argument(
        "--max-frames", type=_count(1), default=None, metavar="N",
        help="track at most N frames (from --start), to try a long video quickly",
    )  # fmt: skip
    parser.add_argument(
        "--overwrite", action="store_true", help="replace the output folder if it has files"
    )
    parser.add_argument("opts", nargs="*", help="config overrides: KEY VALUE ...")
    return parser


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


def setup_config(args):
    """The config, on the CPU when it asks for a GPU that this machine does not have."""
    import torch

    cfg = load_config(args.config_file, args.opts)
    if not cfg.MODEL.WEIGHTS:
        raise ConfigError(
            "MODEL.WEIGHTS is empty; give a trained model, e.g. "
            "MODEL.WEIGHTS output/demo/model_final.pth"
        )
    if cfg.MODEL.DEVICE.startswith("cuda") and not torch.cuda.is_available():
        logger.warning(f"MODEL.DEVICE {cfg.MODEL.DEVICE}, but there is no CUDA GPU: using the CPU")
        cfg.defrost()
        cfg.MODEL.DEVICE = "cpu"
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


def run(args) -> str:
    """Track ``args.input`` into ``args.output``; returns the txt file's path."""
    check_output(args.output, args.input, args.overwrite)
    source = open_frames(args.input)
    if args.start >= source.num_frames:
        raise UserError(f"--start {args.start}: {args.input} has {source.num_frames} frames")
    num_frames = source.num_frames - args.start
    if args.max_frames is not None:
        num_frames = min(num_frames, args.max_frames)
    frames = itertools.islice(source.frames, args.start, args.start + num_frames)
    cfg = setup_config(args)
    predictor = build_predictor(cfg, args.config_file)
    render = args.render
    if render == "auto":
        render = "video" if source.fps is not None else "png"

    with contextlib.ExitStack() as stack:
        folder = stack.enter_context(
            replace_folder_atomically(args.output, replace_file=args.overwrite)
        )
        txt = stack.enter_context(
            open(os.path.join(folder, f"{source.name}.txt"), "w", encoding="ascii")
        )
        writer = None
        if render != "none":
            writer = stack.enter_context(
                FrameWriter(folder, render, source.name, source.fps or 10.0)
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
                writer.write(frame_idx, draw_tracks(image, objects, args.render_scale))
            tracked += 1
            track_ids.update(o.obj_id for o in objects)
    seconds = time.perf_counter() - started
    logger.info(
        f"Tracked {tracked} frames in {seconds:.1f} s ({tracked / seconds:.2f} frames/s): "
        f"{len(track_ids)} tracks"
    )
    logger.info(f"Tracks: {os.path.join(args.output, source.name + '.txt')}")
    if writer is not None:
        logger.info(f"Rendered: {os.path.join(args.output, os.path.basename(writer.path))}")
    return os.path.join(args.output, f"{source.name}.txt")


def main(argv=None) -> None:
    # Flags may also follow the KEY VALUE pairs (a user adds --start after MODEL.WEIGHTS ...).
    args = build_parser().parse_intermixed_args(argv)
    setup_logger(name="fvcore")
    setup_logger(name="demo")
    setup_logger(name="trackrcnn_d2")
    setup_logger()
    trackrcnn_d2.register_all()
    with exit_on_user_error("demo.py"):
        try:
            run(args)
        except TrackNumberOverflow as e:  # too many tracks for the MOTS format's obj_ids
            raise UserError(str(e)) from None
        except KeyboardInterrupt:
            raise UserError(f"interrupted; {args.output} is left as it was") from None


def _interrupt(signum, frame):
    raise KeyboardInterrupt


if __name__ == "__main__":
    # `kill` stops like Ctrl-C: the unfinished output folder is removed on the way out.
    signal.signal(signal.SIGTERM, _interrupt)
    main()
