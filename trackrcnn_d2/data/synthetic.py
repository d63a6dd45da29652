"""A small synthetic MOTS dataset in the KITTI MOTS layout: the data of the demo and the tests.

Each sequence shows a static, mildly textured street scene (light sky, grey road, faint lane
marks) in which textured "cars" (wide, rounded bodies with a cabin, windows and wheels; red or
blue) and "pedestrians" (head, elliptic torso, walking legs; yellow-green shirts) move smoothly,
enter and leave through the image borders and occlude each other. Every object has its own body
colour and stripe texture, so that association vectors can learn identity.

Ground truth follows the MOTS rules (paper Sec. 3): masks never overlap; the nearer object (the
one whose bottom is lower in the image) wins a pixel. Ignore regions (obj_id 10000) are a
cluttered "crowd" patch near the horizon (in about half of the sequences) and the visible parts
of objects that are mostly occluded or outside the image (visible area below
``MIN_VISIBLE_FRACTION`` of the whole object, or below ``MIN_VISIBLE_PIXELS``).

Layout written under ``out_dir`` (the KITTI MOTS one, frames numbered from 0)::

    training/image_02/<seq:04d>/<frame:06d>.png    RGB images
    instances_txt/<seq:04d>.txt                    txt annotations
    instances/<seq:04d>/<frame:06d>.png            16-bit png annotations (pixel = obj_id)
    evaluate_mots.seqmap.{train,val,all}           TrackEval seqmaps: "<seq> empty <first> <last>"
    README.md

The last ``max(1, round(sequences / 4))`` sequences are the validation split, the others the
training split (see :func:`synthetic_split`); ``synthetic_mots_train``/``synthetic_mots_val``
read the seqmaps. Output depends only on the arguments: sequence ``i`` is drawn from its own
random stream seeded by ``(seed, i)``.

The set is written beside ``out_dir`` and then takes its place: a killed run leaves the earlier
set (or nothing) there, never a mix. A folder that holds files is replaced only when asked
(``overwrite=True``, ``--overwrite``), and then as a whole.

Command line::

    python -m trackrcnn_d2.data.synthetic OUT_DIR [--sequences N] [--frames F]
        [--height H --width W] [--seed S] [--classes car,pedestrian] [--overwrite]

``--classes pedestrian`` (``classes=("pedestrian",)``) draws pedestrians only, as MOTSChallenge
annotates them (paper Table 1); the default draws cars and pedestrians, as KITTI MOTS.

This module imports neither torch nor detectron2.
"""
import argparse
import os
from typing import Dict, List, Sequence, Tuple

import numpy as np

from trackrcnn_d2.data import mots_io
from trackrcnn_d2.data.synthetic_drawing import (
    SyntheticObject,
    background,
    crowd_patch,
    new_object,
    render_object,
)
from trackrcnn_d2.utils.cli import exit_on_user_error
from trackrcnn_d2.utils.file_io import OutputFolder, atomic_open, atomic_write_text

DEFAULT_SEQUENCES = 12
DEFAULT_FRAMES = 30
DEFAULT_HEIGHT = 128
DEFAULT_WIDTH = 256
DEFAULT_SEED = 0
DEFAULT_CLASSES = ("car", "pedestrian")
# Image sides in pixels (KITTI MOTS: 375x1242, MOTSChallenge: 1080x1920), and the memory that
# one sequence may take while it is drawn (it is held whole, images and id maps).
MIN_SIDE, MAX_SIDE = 32, 8192
MAX_SEQUENCE_MEMORY = 8 * 2**30

# Objects whose visible part is smaller than this (fraction of the whole, unclipped object, or
# absolute pixels), being occluded or outside the image, are annotated as ignore region instead
# of as an object: a choice for the demo, whose small model, trained for minutes, cannot be
# expected to find such fragments; evaluation neither asks for nor punishes detections there.
MIN_VISIBLE_FRACTION = 0.5
MIN_VISIBLE_PIXELS = 40
# Number of simultaneously present objects that the spawning keeps between.
MIN_OBJECTS = 2
MAX_OBJECTS = 5
SPAWN_PROBABILITY = 0.08


def synthetic_split(num_sequences: int) -> Tuple[List[str], List[str]]:
    """(train, val) sequence names: the last ``max(1, round(num_sequences / 4))`` are val."""
    if num_sequences < 2:
        raise ValueError(f"need at least 2 sequences for a train/val split, got {num_sequences}")
    names = [f"{i:04d}" for i in range(num_sequences)]
    num_val = max(1, round(num_sequences / 4))
    return names[:-num_val], names[-num_val:]


def render_sequence(
    seq_index: int,
    frames: int,
    height: int,
    width: int,
    seed: int,
    classes: Sequence[str] = DEFAULT_CLASSES,
) -> Tuple[List[np.ndarray], List[np.ndarray]]:
    """Images (``H x W x 3`` uint8 RGB) and obj_id maps (``H x W`` uint16) of one sequence,
    with objects of ``classes`` (MOTS class names)."""
    class_ids = [mots_io.MOTS_CLASS_IDS[name] for name in _check_classes(classes)]
    rng = np.random.default_rng([seed, seq_index])
    scene = background(rng, height, width)
    crowd = crowd_patch(rng, height, width)
    crowd_mask = np.zeros((height, width), dtype=bool)
    if crowd is not None:
        cy0, cy1, cx0, cx1, crowd_colours = crowd
        scene[cy0:cy1, cx0:cx1] = crowd_colours
        crowd_mask[cy0:cy1, cx0:cx1] = True

    next_instance = {mots_io.CAR: 1, mots_io.PEDESTRIAN: 1}

    def spawn(at_edge: bool) -> SyntheticObject:
        # One draw whatever the classes, so that the other draws stay those of the default.
        class_id = class_ids[int(rng.random() * len(class_ids))]
        obj_id = class_id * 1000 + next_instance[class_id]
        next_instance[class_id] += 1
        return new_object(rng, class_id, obj_id, height, width, at_edge)

    active = [spawn(at_edge=False) for _ in range(int(rng.integers(MIN_OBJECTS, 5)))]
    images, id_maps = [], []
    for frame in range(frames):
        if len(active) < MIN_OBJECTS or (
            len(active) < MAX_OBJECTS and rng.random() < SPAWN_PROBABILITY
        ):
            active.append(spawn(at_edge=True))
        image = scene.copy()
        id_map = np.zeros((height, width), dtype=np.uint16)
        full_areas: Dict[int, int] = {}
        # Painter's algorithm: far (high in the image) first, so the nearer object wins.
        for obj in sorted(active, key=lambda o: o.bottom):
            x0, y0, mask, colours = render_object(obj, height, frame)
            full_areas[obj.obj_id] = int(mask.sum())
            gy0, gx0 = max(y0, 0), max(x0, 0)
            gy1, gx1 = min(y0 + mask.shape[0], height), min(x0 + mask.shape[1], width)
            if gy1 <= gy0 or gx1 <= gx0:
                continue
            local = mask[gy0 - y0 : gy1 - y0, gx0 - x0 : gx1 - x0]
            image[gy0:gy1, gx0:gx1][local] = colours[gy0 - y0 : gy1 - y0, gx0 - x0 : gx1 - x0][
                local
            ]
            id_map[gy0:gy1, gx0:gx1][local] = obj.obj_id
        ignore = crowd_mask & (id_map == 0)
        for obj_id, full_area in full_areas.items():
            visible = id_map == obj_id
            visible_area = int(visible.sum())
            if 0 < visible_area and (
                visible_area < MIN_VISIBLE_PIXELS or visible_area < MIN_VISIBLE_FRACTION * full_area
            ):
                ignore |= visible
        id_map[ignore] = mots_io.IGNORE_OBJ_ID
        image += rng.normal(0.0, 2.0, size=image.shape)
        images.append(np.clip(image, 0, 255).astype(np.uint8))
        id_maps.append(id_map)

        for obj in active:
            obj.x += obj.vx
            obj.bottom = float(np.clip(obj.bottom + obj.vy, 0.58 * height, 0.99 * height))
        active = [o for o in active if abs(o.x - width / 2) <= (width + o.size(height)[0]) / 2 + 1]
    return images, id_maps


def generate_synthetic_mots(
    out_dir: str,
    sequences: int = DEFAULT_SEQUENCES,
    frames: int = DEFAULT_FRAMES,
    height: int = DEFAULT_HEIGHT,
    width: int = DEFAULT_WIDTH,
    seed: int = DEFAULT_SEED,
    overwrite: bool = False,
    classes: Sequence[str] = DEFAULT_CLASSES,
) -> Dict[str, List[str]]:
    """Write the synthetic dataset to ``out_dir`` (layout in the module docstring), beside it
    first and then in its place (the output policy, ``utils/file_io.py``), with objects of
    ``classes`` (register it with these ``class_names``). Raises
    :class:`~trackrcnn_d2.utils.file_io.OutputError` if ``out_dir`` is a file or holds files,
    unless ``overwrite`` (then it is replaced as a whole).

    Returns ``{"train": [...], "val": [...], "all": [...]}`` sequence names.
    """
    check_size(frames, height, width)
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    classes = _check_classes(classes)
    train, val = synthetic_split(sequences)
    output = OutputFolder(out_dir, overwrite=overwrite, flag="--overwrite (overwrite=True)")
    with output as new_dir:
        _write_set(new_dir, out_dir, train, val, frames, height, width, seed, classes)
    return {"train": train, "val": val, "all": train + val}


def _check_classes(classes: Sequence[str]) -> Tuple[str, ...]:
    classes = tuple(classes)
    if not classes or len(set(classes)) < len(classes) or set(classes) - set(DEFAULT_CLASSES):
        raise ValueError(f"classes must be distinct names of {DEFAULT_CLASSES}, got {classes}")
    return classes


def check_size(frames: int, height: int, width: int) -> None:
    """Raise ValueError for sizes out of range, or whose sequence would not fit in memory
    (one is held whole while it is drawn: RGB images and 16-bit id maps, float working
    arrays of a frame)."""
    if frames < 1:
        raise ValueError(f"frames must be >= 1, got {frames}")
    if not (MIN_SIDE <= height <= MAX_SIDE and MIN_SIDE <= width <= MAX_SIDE):
        raise ValueError(
            f"image size must be within {MIN_SIDE}x{MIN_SIDE} and {MAX_SIDE}x{MAX_SIDE}, got "
            f"{height}x{width}"
        )
    memory = frames * height * width * (3 + 2) + 16 * height * width * 4
    if memory > MAX_SEQUENCE_MEMORY:
        raise ValueError(
            f"{frames} frames of {height}x{width} pixels need {memory / 2**30:.1f} GiB of memory "
            f"per sequence, more than {MAX_SEQUENCE_MEMORY / 2**30:.0f} GiB: give fewer frames "
            "or smaller images"
        )


def _write_set(folder, out_dir, train, val, frames, height, width, seed, classes) -> None:
    from PIL import Image

    all_sequences = train + val
    for seq_index, seq in enumerate(all_sequences):
        images, id_maps = render_sequence(seq_index, frames, height, width, seed, classes)
        image_folder = os.path.join(folder, "training", "image_02", seq)
        objects: List[mots_io.MOTSObject] = []
        for frame, (image, id_map) in enumerate(zip(images, id_maps)):
            with atomic_open(os.path.join(image_folder, f"{frame:06d}.png"), "wb") as f:
                Image.fromarray(image).save(f, format="PNG")
            mots_io.write_mots_png(
                os.path.join(folder, "instances", seq, f"{frame:06d}.png"), id_map
            )
            objects.extend(mots_io.id_map_to_objects(id_map, frame))
        mots_io.write_mots_txt(os.path.join(folder, "instances_txt", f"{seq}.txt"), objects)
    for split, names in {"train": train, "val": val, "all": all_sequences}.items():
        atomic_write_text(
            os.path.join(folder, f"evaluate_mots.seqmap.{split}"),
            "".join(f"{seq} empty {0:06d} {frames - 1:06d}\n" for seq in names),
        )
    atomic_write_text(
        os.path.join(folder, "README.md"),
        "# Synthetic MOTS\n\n"
        "Generated by `python -m trackrcnn_d2.data.synthetic "
        f"{out_dir} --sequences {len(all_sequences)} --frames {frames} --height {height} "
        f"--width {width} --seed {seed} --classes {','.join(classes)}`.\n\n"
        "KITTI MOTS layout: `training/image_02/<seq>/<frame:06d>.png`, "
        "`instances_txt/<seq>.txt`, `instances/<seq>/<frame:06d>.png`. "
        f"Train sequences: {' '.join(train)}; val sequences: {' '.join(val)} "
        "(`evaluate_mots.seqmap.train`/`.val`).\n",
    )


def _at_least(minimum: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return parse


def _class_names(text: str) -> Tuple[str, ...]:
    try:
        return _check_classes(name.strip() for name in text.split(","))
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m trackrcnn_d2.data.synthetic",
        description=(
            "Write a small synthetic MOTS dataset (cars and pedestrians moving over a street "
            "scene) in the KITTI MOTS layout: the data of the demo and the tests. The last "
            "quarter of the sequences is the validation split. Output depends only on the "
            "arguments."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "out_dir",
        help="folder to write (for the built-in datasets: $DETECTRON2_DATASETS/synthetic_mots)",
    )
    parser.add_argument(
        "--sequences", type=_at_least(2), default=DEFAULT_SEQUENCES, help="number of sequences"
    )
    parser.add_argument(
        "--frames", type=_at_least(1), default=DEFAULT_FRAMES, help="frames per sequence"
    )
    sides = _at_least(MIN_SIDE)
    parser.add_argument("--height", type=sides, default=DEFAULT_HEIGHT, help="image height, pixels")
    parser.add_argument("--width", type=sides, default=DEFAULT_WIDTH, help="image width, pixels")
    parser.add_argument("--seed", type=_at_least(0), default=DEFAULT_SEED, help="random seed")
    parser.add_argument(
        "--classes",
        type=_class_names,
        default=",".join(DEFAULT_CLASSES),
        help="comma-separated MOTS classes of the objects, e.g. pedestrian (as MOTSChallenge)",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace OUT_DIR as a whole if it holds files (else refuse)",
    )
    args = parser.parse_args(argv)
    try:
        check_size(args.frames, args.height, args.width)
    except ValueError as e:
        parser.error(str(e))
    with exit_on_user_error(parser.prog):
        splits = generate_synthetic_mots(
            args.out_dir,
            args.sequences,
            args.frames,
            args.height,
            args.width,
            args.seed,
            overwrite=args.overwrite,
            classes=args.classes,
        )
    print(
        f"Wrote {len(splits['all'])} sequences x {args.frames} frames to {args.out_dir} "
        f"(train: {' '.join(splits['train'])}; val: {' '.join(splits['val'])})"
    )


if __name__ == "__main__":
    main()
