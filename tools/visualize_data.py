#!/usr/bin/env python
"""Look at a registered MOTS dataset, as detectron2's tools/visualize_data.py does for detection
datasets: each frame with its annotated masks coloured by track and labelled with class and
track id (the on-disk obj_id's instance number), ignore regions in grey.

    python tools/visualize_data.py --dataset synthetic_mots_train --output output/look
    python tools/visualize_data.py --dataset kitti_mots_val --sequences 0002,0006 \\
        --max-frames 50 --render video --output output/look_kitti

Writes ``<output>/<sequence>/frames/<frame:06d>.png`` (``--render png``, the default) or
``<output>/<sequence>.mp4`` (``--render video``) per sequence. The dataset is one of
detectron2's catalog (the built-in ones live under $DETECTRON2_DATASETS; see the README's
Datasets). An existing output (a non-empty folder or a file) is refused unless
``--overwrite``; then it is replaced as a whole once the new rendering is complete.
"""
import argparse
import os
from collections import defaultdict

from trackrcnn_d2.engine.arguments import MOTSArgumentParser
from trackrcnn_d2.utils.cli import UserError, exit_on_user_error, positive_number, whole_number
from trackrcnn_d2.utils.upstream_warnings import silence_known_upstream_warnings

PROGRAM = "visualize_data.py"


def build_parser() -> argparse.ArgumentParser:
    parser = MOTSArgumentParser.from_docstring(PROGRAM, __doc__)
    parser.add_argument(
        "--dataset", required=True,
        help="a registered MOTS dataset, e.g. synthetic_mots_train, kitti_mots_val",
    )  # fmt: skip
    parser.add_argument("--output", required=True, help="folder for the renderings")
    parser.add_argument(
        "--sequences", help="comma-separated sequences to render (default: all of the dataset's)"
    )
    parser.add_argument(
        "--max-frames", type=whole_number(1), metavar="N",
        help="render at most N frames per sequence",
    )  # fmt: skip
    parser.add_argument(
        "--render", choices=("png", "video"), default="png",
        help="PNG frames or an MPEG-4 video per sequence (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--scale", type=positive_number, default=1.0,
        help="size of the renderings relative to the frames, e.g. 3 for small frames "
        "(default: %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--overwrite", action="store_true", help="replace the output folder if it has files"
    )
    return parser


def render_dataset(args) -> None:
    """Render the frames of ``args.dataset`` into ``args.output`` (replaced as a whole at the
    end); a user's mistake raises :class:`UserError` (or one of its kinds) before anything is
    written."""
    import cv2
    from detectron2.data import DatasetCatalog, MetadataCatalog
    from tqdm import tqdm

    import trackrcnn_d2
    from trackrcnn_d2.data.build import ImageReadError, check_mots_datasets
    from trackrcnn_d2.utils.file_io import OutputFolder
    from trackrcnn_d2.utils.video import FrameWriter
    from trackrcnn_d2.utils.visualizer import draw_dataset_frame

    trackrcnn_d2.register_all()
    check_mots_datasets([args.dataset], "--dataset")
    known = list(MetadataCatalog.get(args.dataset).sequences)
    sequences = args.sequences.split(",") if args.sequences else known
    unknown = [s for s in sequences if s not in known]
    if unknown:
        raise UserError(
            f"--sequences: {', '.join(unknown)} not in {args.dataset}, which has "
            f"{', '.join(known)}"
        )
    output = OutputFolder(args.output, overwrite=args.overwrite, what="--output")  # checked now
    frames = defaultdict(list)
    for dataset_dict in DatasetCatalog.get(args.dataset):
        frames[dataset_dict["sequence"]].append(dataset_dict)
    with output as folder:
        for sequence in sequences:
            selected = frames[sequence][: args.max_frames]
            where = folder if args.render == "video" else os.path.join(folder, sequence)
            with FrameWriter(where, args.render, sequence) as writer:
                for dataset_dict in tqdm(selected, desc=sequence, unit=" frames"):
                    image = cv2.imread(dataset_dict["file_name"], cv2.IMREAD_COLOR)
                    if image is None:
                        raise ImageReadError(f"{dataset_dict['file_name']}: cannot read this image")
                    rendering = draw_dataset_frame(dataset_dict, image, args.scale)
                    writer.write(dataset_dict["frame_idx"], rendering)
            rendered = os.path.relpath(writer.path, folder)
            print(f"{sequence}: {len(selected)} frames -> {os.path.join(args.output, rendered)}")


def main(argv=None) -> None:
    args = build_parser().parse_args(argv)
    silence_known_upstream_warnings()
    with exit_on_user_error(PROGRAM):
        render_dataset(args)


if __name__ == "__main__":
    main()
