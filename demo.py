#!/usr/bin/env python
"""Track the objects of videos (or folders of frames) with a Mask R-CNN and TrackR-CNN's tracker.

    python demo.py --config-file configs/coco_mask_rcnn_R_50_FPN_maskprop.yaml \
        --input video.mp4 --output output/video

tracks people and cars with detectron2's COCO Mask R-CNN (downloaded on first use) linked by
mask propagation; a trained TrackR-CNN works the same way:

    python demo.py --config-file configs/demo_synthetic.yaml --input video.mp4 \
        --output output/video_tracks MODEL.WEIGHTS output/demo/model_final.pth

A LazyConfig (``.py``) works the same way, with ``key=value`` overrides, e.g. detectron2's
strongest installed Mask R-CNN (new_baselines R101-FPN, 400 epochs of large-scale jitter):

    python demo.py --config-file configs/coco_mask_rcnn_R_101_FPN_400ep_LSJ_maskprop.py \\
        --input video.mp4 --output output/video

Many videos: ``--input`` takes several videos or folders of frames, a folder of them, a text
file listing them, or a glob; ``--num-gpus N`` (and ``--num-machines``) shares whole videos over
processes, the longest first:

    python demo.py --config-file ... --input dashcam/ --output output/dashcam --num-gpus 4

Writes into ``--output``, per video: ``<name>.txt``, the tracks in the KITTI MOTS txt format
(frames numbered as the input's images, or from 0 for a video, also with ``--start``), and the
rendered frames, masks coloured by track with class and track number drawn:
``frames/<name>/<frame:06d>.png`` (default for a folder) or ``<name>.mp4`` (default for a
video); ``--render`` chooses. Each video is written when it is done (a crash loses only the
videos being tracked); the same command again tracks only the videos not complete. An output
that holds anything else (other files, videos tracked with other settings) is refused unless
``--overwrite``; then everything is tracked again and replaces it as a whole once complete
(Ctrl-C or ``kill`` leave it as it was). A mistake in the input, the config, the weights or the
output path ends in one message and exit status 2.
"""
import argparse
import signal
import sys

from trackrcnn_d2.engine.launch import LAUNCH_EPILOG, add_launch_arguments
from trackrcnn_d2.engine.video_inputs import split_overrides
from trackrcnn_d2.utils.cli import (
    UserError,
    exit_on_user_error,
    positive_number,
    probability,
    whole_number,
)
from trackrcnn_d2.utils.upstream_warnings import silence_known_upstream_warnings

# At import, so that the processes that --num-gpus starts (they import this script again) print
# torch's and detectron2's known deprecation notices no more than this one.
silence_known_upstream_warnings()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="demo.py",
        description="Track objects in videos or folders of frames with TrackR-CNN.",
        epilog="Trailing KEY VALUE pairs override config keys, e.g.\n"
        "  MODEL.WEIGHTS model.pth TRACKER_HEADS.DETECTION_CONFIDENCE '[0.8, 0.9]'\n"
        "a LazyConfig (.py) takes key=value, e.g.\n"
        "  train.init_checkpoint=model.pth 'tracker.params.detection_confidence=[0.8,0.9]'\n\n"
        + LAUNCH_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--config-file", required=True, metavar="FILE",
        help="configs/coco_mask_rcnn_R_50_FPN_maskprop.yaml: people and cars in any video with "
        "a COCO Mask R-CNN (no training); or a trained TrackR-CNN's config",
    )  # fmt: skip
    parser.add_argument(
        "--input", "--video-input", action="extend", nargs="+", metavar="PATH",
        help="videos or folders of frames; a folder of them; a text file listing them (one "
        "per line); image files of one folder; or a quoted glob (--video-input, detectron2 "
        "demo's name, is the same)",
    )  # fmt: skip
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
        type=positive_number,
        default=1.0,
        help="size of the rendered frames relative to the input (e.g. 3 for small frames)",
    )
    parser.add_argument(
        "--start", type=whole_number(0), default=0, metavar="N",
        help="skip the first N frames (frame numbers stay those of the whole input)",
    )  # fmt: skip
    parser.add_argument(
        "--max-frames", type=whole_number(1), default=None, metavar="N",
        help="track at most N frames (from --start), to try a long video quickly",
    )  # fmt: skip
    parser.add_argument(
        "--overwrite", action="store_true",
        help="track every video again and replace the output folder as a whole (without it, "
        "a rerun into the folder of the same command tracks only the videos not complete)",
    )  # fmt: skip
    parser.add_argument(
        "--confidence-threshold", type=probability, metavar="X",
        help="as detectron2's demo: detections scoring below X start or continue no track "
        "(TRACKER_HEADS.DETECTION_CONFIDENCE X for every class; the detector keeps detections "
        "down to X)",
    )  # fmt: skip
    add_launch_arguments(parser)
    parser.add_argument(
        "opts", nargs="*", help="config overrides: KEY VALUE ... (a LazyConfig: key=value ...)"
    )
    # detectron2's demo takes its overrides after --opts.
    parser.add_argument(
        "--opts", dest="dashed_opts", action="extend", nargs="+", default=[],
        metavar="KEY VALUE", help="config overrides, as the trailing KEY VALUE pairs",
    )  # fmt: skip
    return parser


def parse_args(argv=None) -> argparse.Namespace:
    """The arguments; flags may also follow the KEY VALUE pairs (a user adds --start after
    MODEL.WEIGHTS ...), and the pairs may follow --input's paths."""
    parser = build_parser()
    args = parser.parse_intermixed_args(argv)
    if not args.input:
        parser.error("the following arguments are required: --input")
    args.input, overrides = split_overrides(args.input)
    args.opts = overrides + args.opts + args.dashed_opts
    if not args.input:
        parser.error("argument --input: expected at least one video, folder or list")
    if args.overwrite and args.num_machines > 1:
        parser.error(
            "--overwrite works on one machine; with several, write into a new folder (or the "
            "folder of the same command, to continue it)"
        )
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    # torch and detectron2 load from here on, after the arguments are parsed.
    from detectron2.utils.logger import setup_logger

    import trackrcnn_d2
    from trackrcnn_d2.engine.video_demo import run_demo
    from trackrcnn_d2.tracking import TrackNumberOverflow

    setup_logger(name="fvcore")
    setup_logger(name="demo")
    setup_logger(name="trackrcnn_d2")
    setup_logger()
    trackrcnn_d2.register_all()
    with exit_on_user_error("demo.py"):
        try:
            run_demo(args)
        except TrackNumberOverflow as e:  # too many tracks for the MOTS format's obj_ids
            raise UserError(str(e)) from None
        except KeyboardInterrupt:
            raise UserError(
                f"interrupted; {args.output}: the videos that were complete are kept (the same "
                "command tracks the others; with --overwrite, the earlier output is left as it was)"
            ) from None


def _interrupt(signum, frame):
    raise KeyboardInterrupt


if __name__ == "__main__":
    # `kill` stops like Ctrl-C: the unfinished videos' files are removed on the way out.
    signal.signal(signal.SIGTERM, _interrupt)
    main(sys.argv[1:])
