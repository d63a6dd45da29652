#!/usr/bin/env python
"""Track the objects of a video (or a folder of frames) with a trained TrackR-CNN.

    python demo.py --config-file configs/demo_synthetic.yaml --input video.mp4 \
        --output output/video_tracks MODEL.WEIGHTS output/demo/model_final.pth

Writes into ``--output``: ``<name>.txt``, the tracks in the KITTI MOTS txt format (frames
numbered as the input's images, or from 0 for a video), and the rendered frames, masks coloured
by track with class and track number drawn: ``frames/<frame:06d>.png`` (default for a folder)
or ``<name>.mp4`` (default for a video); ``--render`` chooses. An existing, non-empty output
folder is refused unless ``--overwrite``; then it is replaced as a whole once the new results
are complete.
"""
import argparse
import contextlib
import logging
import os

from detectron2.utils.logger import setup_logger
from tqdm import tqdm

import trackrcnn_d2
from trackrcnn_d2.data import mots_io
from trackrcnn_d2.engine import VideoTrackingPredictor
from trackrcnn_d2.tracking import tracks_to_mots_objects
from trackrcnn_d2.utils.cli import load_config
from trackrcnn_d2.utils.file_io import replace_folder_atomically
from trackrcnn_d2.utils.video import FrameWriter, open_frames
from trackrcnn_d2.utils.visualizer import draw_tracks

trackrcnn_d2.register_all()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Track objects in a video or a folder of frames with TrackR-CNN.",
        epilog="Trailing KEY VALUE pairs override config keys, e.g. MODEL.WEIGHTS model.pth "
        "TRACKER_HEADS.DETECTION_CONFIDENCE '[0.8, 0.9]'.",
    )
    parser.add_argument("--config-file", required=True, metavar="FILE")
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
        type=float,
        default=1.0,
        help="size of the rendered frames relative to the input (e.g. 3 for small frames)",
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace the output folder if it has files"
    )
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="config overrides: KEY VALUE ...")
    return parser


def run(args) -> str:
    """Track ``args.input`` into ``args.output``; returns the txt file's path."""
    if os.path.isdir(args.output) and os.listdir(args.output) and not args.overwrite:
        raise SystemExit(
            f"{args.output} already holds files; pass --overwrite to replace them, or choose "
            "another --output"
        )
    try:
        source = open_frames(args.input)
    except (FileNotFoundError, ValueError) as e:
        raise SystemExit(f"demo.py: {e}") from None
    cfg = load_config(args.config_file, args.opts)
    if not cfg.MODEL.WEIGHTS:
        raise SystemExit(
            "demo.py: MODEL.WEIGHTS is empty; give a trained model, e.g. "
            "MODEL.WEIGHTS output/demo/model_final.pth"
        )
    predictor = VideoTrackingPredictor(cfg)
    render = args.render
    if render == "auto":
        render = "video" if source.fps is not None else "png"

    with replace_folder_atomically(args.output) as folder, contextlib.ExitStack() as stack:
        txt = stack.enter_context(
            open(os.path.join(folder, f"{source.name}.txt"), "w", encoding="ascii")
        )
        writer = None
        if render != "none":
            writer = stack.enter_context(
                FrameWriter(folder, render, source.name, source.fps or 10.0)
            )
        tracked = predictor(source.frames, sequence=source.name)
        for frame_idx, image, objects in tqdm(
            tracked, total=source.num_frames, unit="frame", desc=source.name
        ):
            lines = tracks_to_mots_objects({frame_idx: objects})[frame_idx]
            for line in sorted(lines, key=lambda o: o.obj_id):
                txt.write(mots_io.format_mots_line(line) + "\n")
            if writer is not None:
                writer.write(frame_idx, draw_tracks(image, objects, args.render_scale))
    logger = logging.getLogger("demo")
    logger.info(f"Tracks: {os.path.join(args.output, source.name + '.txt')}")
    if writer is not None:
        logger.info(f"Rendered: {os.path.join(args.output, os.path.basename(writer.path))}")
    return os.path.join(args.output, f"{source.name}.txt")


def main(argv=None) -> None:
    args = build_parser().parse_args(argv)
    setup_logger(name="fvcore")
    setup_logger(name="demo")
    setup_logger(name="trackrcnn_d2")
    setup_logger()
    run(args)


if __name__ == "__main__":
    main()
