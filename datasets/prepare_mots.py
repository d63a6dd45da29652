"""Preparation helpers for MOTS datasets under $DETECTRON2_DATASETS (see datasets/README.md).

    python datasets/prepare_mots.py check ROOT/kitti_mots       # layout, counts, every check
    python datasets/prepare_mots.py txt2png ANNOTATIONS_TXT OUT  # instances_txt -> instances
    python datasets/prepare_mots.py png2txt ANNOTATIONS_PNG OUT  # instances -> instances_txt
    python datasets/prepare_mots.py link-motschallenge MOTSCHALLENGE_RELEASE ROOT/mots_challenge

``link-motschallenge`` turns the original MOTSChallenge release (``images/0002/``,
``instances_txt/0002.txt``) into the MOTS20 layout that ``mots_challenge*`` expect
(``train/MOTS20-02/img1/``, ``train/MOTS20-02/gt/gt.txt``) with symbolic links, copying nothing.

Pure python (numpy, pycocotools, PIL): no torch needed.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from trackrcnn_d2.data import mots_io  # noqa: E402

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")


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
    raise SystemExit(
        f"{dataset_root}: neither training/image_02/ (KITTI MOTS) nor train/ (MOTS20) found"
    )


def check(dataset_root):
    """Read every sequence with all checks; print frames, masks and tracks per sequence."""
    from PIL import Image

    image_root, annotation_root = _image_folders(dataset_root)
    sequences = mots_io.sequence_names(annotation_root)
    print(f"{dataset_root}: images {image_root}, annotations {annotation_root}")
    print(f"{'sequence':<12} {'frames':>7} {'annotated':>9} {'masks':>7} {'tracks':>7}  size")
    for sequence in sequences:
        folder = os.path.join(image_root, sequence)
        if os.path.isdir(os.path.join(folder, "img1")):
            folder = os.path.join(folder, "img1")
        images = sorted(n for n in os.listdir(folder) if n.lower().endswith(IMAGE_EXTENSIONS))
        if not images:
            raise SystemExit(f"{folder}: no images")
        with Image.open(os.path.join(folder, images[0])) as image:
            width, height = image.size
        ground_truth = mots_io.load_mots_ground_truth(
            annotation_root, [sequence], image_sizes={sequence: (height, width)}
        )[sequence]
        image_frames = {int(os.path.splitext(n)[0]) for n in images}
        missing = sorted(set(ground_truth) - image_frames)
        if missing:
            raise SystemExit(f"{sequence}: annotated frames without image: {missing[:10]}")
        objects = [o for frame in ground_truth.values() for o in frame]
        tracks = {o.obj_id for o in objects if o.obj_id != mots_io.IGNORE_OBJ_ID}
        print(
            f"{sequence:<12} {len(images):>7} {len(ground_truth):>9} {len(objects):>7} "
            f"{len(tracks):>7}  {height}x{width}"
        )


def txt_to_png(txt_root, png_root):
    """Write ``<png_root>/<seq>/<frame:06d>.png`` for every annotated frame of every
    ``<txt_root>/<seq>.txt``."""
    for sequence in mots_io.sequence_names(txt_root):
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
    for sequence in mots_io.sequence_names(png_root):
        ground_truth = mots_io.load_mots_ground_truth(png_root, [sequence], "png")[sequence]
        objects = [o for frame in ground_truth.values() for o in frame]
        mots_io.write_mots_txt(os.path.join(txt_root, f"{sequence}.txt"), objects)
        print(f"{sequence}: {len(ground_truth)} frames, {len(objects)} masks")


def link_motschallenge(release_root, out_root):
    """MOTS20 layout of symbolic links to the original MOTSChallenge release."""
    for number in ("0002", "0005", "0009", "0011"):
        images = os.path.abspath(os.path.join(release_root, "images", number))
        annotations = os.path.abspath(os.path.join(release_root, "instances_txt", f"{number}.txt"))
        for path in (images, annotations):
            if not os.path.exists(path):
                raise SystemExit(f"{path} not found: is {release_root} the MOTSChallenge release?")
        sequence = os.path.join(out_root, "train", f"MOTS20-{number[2:]}")
        os.makedirs(os.path.join(sequence, "gt"), exist_ok=True)
        for target, link in ((images, "img1"), (annotations, os.path.join("gt", "gt.txt"))):
            link_path = os.path.join(sequence, link)
            if not os.path.lexists(link_path):
                os.symlink(target, link_path)
        print(f"{sequence}: img1 -> {images}, gt/gt.txt -> {annotations}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("check").add_argument("dataset_root")
    for name in ("txt2png", "png2txt", "link-motschallenge"):
        command = commands.add_parser(name)
        command.add_argument("source")
        command.add_argument("destination")
    args = parser.parse_args(argv)
    try:
        if args.command == "check":
            check(args.dataset_root)
        elif args.command == "txt2png":
            txt_to_png(args.source, args.destination)
        elif args.command == "png2txt":
            png_to_txt(args.source, args.destination)
        else:
            link_motschallenge(args.source, args.destination)
    except (mots_io.MOTSFormatError, FileNotFoundError) as e:
        raise SystemExit(f"error: {e}") from None


if __name__ == "__main__":
    main()
