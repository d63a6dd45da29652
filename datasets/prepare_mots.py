"""Preparation helpers for MOTS datasets under $DETECTRON2_DATASETS (see datasets/README.md).

    python datasets/prepare_mots.py check ROOT/kitti_mots       # layout, counts, every image
    python datasets/prepare_mots.py txt2png ANNOTATIONS_TXT OUT  # instances_txt -> instances
    python datasets/prepare_mots.py png2txt ANNOTATIONS_PNG OUT  # instances -> instances_txt
    python datasets/prepare_mots.py link-motschallenge MOTSCHALLENGE_RELEASE ROOT/mots_challenge

``check`` reads every annotation with all checks and decodes every image (a truncated or
corrupt file, or a frame of another size, is named). ``link-motschallenge`` turns the original
MOTSChallenge release (``images/0002/``, ``instances_txt/0002.txt``) into the MOTS20 layout that
``mots_challenge*`` expect (``train/MOTS20-02/img1/``, ``train/MOTS20-02/gt/gt.txt``) with
symbolic links, copying nothing. The converters write their output folder (``OUT``, or
``ROOT/mots_challenge/train``) beside it and swap it in when done: a failed or killed run leaves
nothing half-written. A folder that holds files is replaced only with ``--overwrite``.

Pure python (numpy, pycocotools, PIL): no torch needed.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from trackrcnn_d2.data import mots_io  # noqa: E402
from trackrcnn_d2.utils.cli import exit_on_user_error  # noqa: E402
from trackrcnn_d2.utils.file_io import (  # noqa: E402
    IMAGE_EXTENSIONS,
    OutputFolder,
    check_output_path,
)

MOTSCHALLENGE_SEQUENCES = ("0002", "0005", "0009", "0011")


def _image_folders(dataset_root):
    """(image_root, annotation_root) of a KITTI MOTS-like or MOTS20-like dataset folder."""
    kitti = os.path.join(dataset_root, "training", "image_02")
    if os.path.isdir(kitti):
        txt = os.path.join(dataset_root, "instances_txt")
        png = os.path.join(dataset_root, "instances")
        return kitti, txt if os.path.isdir(txt) else png
    mots20 = os.path.join(dataset_root, "train")
    if os.path.isdir(mots20):
        return mots20, mots20
    raise FileNotFoundError(
        f"{dataset_root}: neither training/image_02/ (KITTI MOTS) nor train/ (MOTS20) found; "
        "see datasets/README.md for the layouts"
    )


def check_images(folder):
    """Decode every image of a sequence folder; returns (frame numbers, (height, width)).
    Raises MOTSFormatError naming a file that cannot be read or has another size."""
    from PIL import Image

    names = sorted(n for n in os.listdir(folder) if n.lower().endswith(IMAGE_EXTENSIONS))
    if not names:
        raise mots_io.MOTSFormatError(f"{folder}: no images ({', '.join(IMAGE_EXTENSIONS)})")
    frames, size = set(), None
    for name in names:
        stem = os.path.splitext(name)[0]
        path = os.path.join(folder, name)
        if not stem.isdigit():
            raise mots_io.MOTSFormatError(f"{path}: image names must be frame numbers (000000.png)")
        try:
            with Image.open(path) as image:
                image.load()
                this_size = (image.height, image.width)
        except (OSError, SyntaxError, ValueError) as e:
            raise mots_io.MOTSFormatError(
                f"{path}: cannot read this image ({e}); replace the file (download or extract "
                "it again)"
            ) from None
        if size is not None and this_size != size:
            raise mots_io.MOTSFormatError(
                f"{path}: {this_size[0]}x{this_size[1]} pixels, but the sequence's first image "
                f"is {size[0]}x{size[1]}; a sequence has one image size (regenerate or "
                "re-extract it)"
            )
        size = this_size
        frames.add(int(stem))
    return frames, size


def check(dataset_root):
    """Read every sequence with all checks; print frames, masks and tracks per sequence."""
    image_root, annotation_root = _image_folders(dataset_root)
    sequences = _sequences(annotation_root, "<seq>.txt, <seq>/ pngs or <seq>/gt/gt.txt")
    print(f"{dataset_root}: images {image_root}, annotations {annotation_root}")
    print(f"{'sequence':<12} {'frames':>7} {'annotated':>9} {'masks':>7} {'tracks':>7}  size")
    for sequence in sequences:
        folder = os.path.join(image_root, sequence)
        if os.path.isdir(os.path.join(folder, "img1")):
            folder = os.path.join(folder, "img1")
        if not os.path.isdir(folder):
            raise FileNotFoundError(f"{folder}: image folder of sequence {sequence} not found")
        image_frames, (height, width) = check_images(folder)
        ground_truth = mots_io.load_mots_ground_truth(
            annotation_root, [sequence], image_sizes={sequence: (height, width)}
        )[sequence]
        missing = sorted(set(ground_truth) - image_frames)
        if missing:
            raise mots_io.MOTSFormatError(
                f"{folder}: frames {missing[:10]} of sequence {sequence} are annotated but have "
                "no image"
            )
        objects = [o for frame in ground_truth.values() for o in frame]
        tracks = {o.obj_id for o in objects if o.obj_id != mots_io.IGNORE_OBJ_ID}
        print(
            f"{sequence:<12} {len(image_frames):>7} {len(ground_truth):>9} {len(objects):>7} "
            f"{len(tracks):>7}  {height}x{width}"
        )


def _sequences(annotation_root, what):
    sequences = mots_io.sequence_names(annotation_root)
    if not sequences:
        raise mots_io.MOTSFormatError(f"{annotation_root}: no annotations ({what}) found")
    return sequences


def txt_to_png(txt_root, png_root):
    """Write ``<png_root>/<seq>/<frame:06d>.png`` for every annotated frame of every
    ``<txt_root>/<seq>.txt``."""
    for sequence in _sequences(txt_root, "<seq>.txt files"):
        ground_truth = mots_io.load_mots_ground_truth(txt_root, [sequence], "txt")[sequence]
        for frame, objects in ground_truth.items():
            height, width = objects[0].rle["size"]
            mots_io.write_mots_png(
                os.path.join(png_root, sequence, f"{frame:06d}.png"),
                mots_io.objects_to_id_map(objects, height, width),
            )
        print(f"{sequence}: {len(ground_truth)} frames")


def png_to_txt(png_root, txt_root):
    """Write ``<txt_root>/<seq>.txt`` for every ``<png_root>/<seq>/`` folder of pngs."""
    for sequence in _sequences(png_root, "<seq>/ folders of pngs"):
        ground_truth = mots_io.load_mots_ground_truth(png_root, [sequence], "png")[sequence]
        objects = [o for frame in ground_truth.values() for o in frame]
        mots_io.write_mots_txt(os.path.join(txt_root, f"{sequence}.txt"), objects)
        print(f"{sequence}: {len(ground_truth)} frames, {len(objects)} masks")


def link_motschallenge(release_root, train_root):
    """MOTS20 layout (``<train_root>/MOTS20-XX/``) of symbolic links to the original
    MOTSChallenge release."""
    for number in MOTSCHALLENGE_SEQUENCES:
        images = os.path.abspath(os.path.join(release_root, "images", number))
        annotations = os.path.abspath(os.path.join(release_root, "instances_txt", f"{number}.txt"))
        for path in (images, annotations):
            if not os.path.exists(path):
                raise FileNotFoundError(
                    f"{path} not found: is {release_root} the MOTSChallenge release (images/, "
                    "instances_txt/)?"
                )
        sequence = f"MOTS20-{number[2:]}"
        os.makedirs(os.path.join(train_root, sequence, "gt"))
        os.symlink(images, os.path.join(train_root, sequence, "img1"))
        os.symlink(annotations, os.path.join(train_root, sequence, "gt", "gt.txt"))
        print(f"{sequence}: img1 -> {images}, gt/gt.txt -> {annotations}")


def write_folder(convert, source, destination, overwrite):
    """``convert(source, folder)`` into a new folder beside ``destination`` that then takes
    its place (the output policy, ``utils/file_io.py``: a destination that holds files is
    refused unless ``overwrite``, one that is or holds ``source`` always)."""
    if not os.path.exists(source):
        raise FileNotFoundError(f"{source} not found")
    with OutputFolder(destination, overwrite=overwrite, inputs=[source]) as folder:
        convert(source, folder)
    print(f"wrote {destination}")


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="prepare_mots.py",
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("check", help="check a dataset folder").add_argument("dataset_root")
    helps = {
        "txt2png": ("instances_txt folder", "instances folder to write"),
        "png2txt": ("instances folder", "instances_txt folder to write"),
        "link-motschallenge": ("MOTSChallenge release", "dataset folder (train/ is written)"),
    }
    for name, (source_help, destination_help) in helps.items():
        command = commands.add_parser(name)
        command.add_argument("source", help=source_help)
        command.add_argument("destination", help=destination_help)
        command.add_argument(
            "--overwrite", action="store_true", help="replace an output folder that holds files"
        )
    args = parser.parse_args(argv)
    with exit_on_user_error(parser.prog):
        if args.command == "check":
            check(args.dataset_root)
        elif args.command == "txt2png":
            write_folder(txt_to_png, args.source, args.destination, args.overwrite)
        elif args.command == "png2txt":
            write_folder(png_to_txt, args.source, args.destination, args.overwrite)
        else:
            check_output_path(args.destination, "DESTINATION")  # not train/ of the cwd
            train_root = os.path.join(args.destination, "train")
            write_folder(link_motschallenge, args.source, train_root, args.overwrite)


if __name__ == "__main__":
    main()
