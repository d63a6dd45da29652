"""Registration of MOTS datasets in detectron2's catalogs, and the built-in datasets.

:func:`register_kitti_mots`, :func:`register_mots_challenge` (both via
:func:`register_mots_dataset`) register sequences lazily: the DatasetCatalog function reads the
files only when called, and the metadata that needs the files (``sequences`` when read from a
seqmap, ``image_sizes``, ``annotation_format``) is computed on first access
(:class:`MOTSMetadata`). The built-in datasets below are registered when this module is
imported, which ``trackrcnn_d2.register_all()`` does.

Root: ``$DETECTRON2_DATASETS`` (default ``./datasets``), read at import as in detectron2.
Layout under the root (datasets/README.md explains how to obtain each):

====================================  =========================================================
name                                  sequences
====================================  =========================================================
``kitti_mots_train``                  KITTI MOTS 0000 0001 0003 0004 0005 0009 0011 0012 0015
                                      0017 0019 0020 (paper Sec. 3)
``kitti_mots_val``                    KITTI MOTS 0002 0006 0007 0008 0010 0013 0014 0016 0018
``mots_challenge``                    MOTS20-02, MOTS20-05, MOTS20-09, MOTS20-11
``mots_challenge_train_wo_XXXX``      the three sequences other than MOTS20-XX (leave-one-out
                                      training, XXXX in 0002 0005 0009 0011)
``mots_challenge_val_XXXX``           MOTS20-XX alone (leave-one-out evaluation)
``synthetic_mots_train``              ``evaluate_mots.seqmap.train`` of the synthetic set
``synthetic_mots_val``                ``evaluate_mots.seqmap.val``
====================================  =========================================================

Folders::

    kitti_mots/training/image_02/<seq>/<frame:06d>.png
    kitti_mots/instances_txt/<seq>.txt           (or kitti_mots/instances/<seq>/ png)
    mots_challenge/train/MOTS20-XX/img1/<frame:06d>.jpg
    mots_challenge/train/MOTS20-XX/gt/gt.txt
    synthetic_mots/                               python -m trackrcnn_d2.data.synthetic
"""
import functools
import os
from typing import Dict, Optional, Sequence, Tuple

from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.data.catalog import Metadata

from trackrcnn_d2.data import mots_io

__all__ = [
    "MOTSMetadata",
    "register_mots_dataset",
    "register_kitti_mots",
    "register_mots_challenge",
    "register_synthetic_mots",
]


class MOTSMetadata(Metadata):
    """detectron2 Metadata whose entries named in ``lazy_attributes`` ({name: zero-argument
    callable}) are computed on first access and then kept, so that registration reads no file."""

    def __getattr__(self, key):
        lazy = self.__dict__.get("lazy_attributes")
        if lazy is not None and key in lazy:
            value = lazy[key]()
            object.__setattr__(self, key, value)
            return value
        return super().__getattr__(key)


# This module is imported while detectron2 is being imported (trackrcnn_d2's registration
# hook), possibly from inside trackrcnn_d2.data.datasets, which is then only partly
# initialised: so it uses that module only when a dataset is loaded, never at import.
def _load_dataset_dicts(*args):
    from trackrcnn_d2.data.datasets import load_mots_dataset_dicts

    return load_mots_dataset_dicts(*args)


def _find_sequences(annotation_root: str, seqmap: Optional[str], hint: str):
    from trackrcnn_d2.data.datasets import find_sequences

    return find_sequences(annotation_root, seqmap, hint)


def _lazy_image_sizes(name: str, image_root: str, hint: str) -> Dict[str, Tuple[int, int]]:
    from trackrcnn_d2.data.datasets import sequence_image_sizes

    return sequence_image_sizes(image_root, MetadataCatalog.get(name).sequences, hint)


def _lazy_annotation_format(name: str, annotation_root: str, annotation_format: str) -> str:
    if annotation_format != "auto":
        return annotation_format
    first_sequence = MetadataCatalog.get(name).sequences[0]
    return mots_io.find_sequence_annotations(annotation_root, first_sequence)[1]


def register_mots_dataset(
    name: str,
    image_root: str,
    annotation_root: str,
    sequences: Optional[Sequence[str]] = None,
    class_names: Sequence[str] = ("car", "pedestrian"),
    gt_format: str = "kitti_mots",
    annotation_format: str = "auto",
    seqmap: Optional[str] = None,
    hint: str = "",
    **metadata,
) -> None:
    """Register a MOTS dataset lazily in DatasetCatalog and MetadataCatalog.

    Metadata: ``thing_classes``, ``thing_dataset_id_to_contiguous_id`` (on-disk class id ->
    contiguous id), ``evaluator_type="mots"``, ``sequences``, ``image_sizes`` ({sequence:
    (height, width)}), ``image_root``, ``annotation_root``, ``annotation_format`` ("txt" or
    "png"), ``gt_format`` ("kitti_mots" or "mots_challenge", the TrackEval dataset class and
    frame numbering), ``seqmap``, plus ``metadata``. Dataset dicts and bad-input errors:
    :func:`trackrcnn_d2.data.datasets.load_mots_dataset_dicts`. Their masks are COCO RLEs:
    detectron2's own ``DatasetMapper`` needs ``INPUT.MASK_FORMAT bitmask`` for them (its
    default, polygon, fails); ``build_mots_train_loader``/``build_mots_test_loader`` need nothing.
    """
    class_names = list(class_names)
    if sequences is not None:
        sequences = list(sequences)
    load = functools.partial(
        _load_dataset_dicts,
        image_root,
        annotation_root,
        sequences,
        class_names,
        annotation_format,
        seqmap,
        hint,
    )
    DatasetCatalog.register(name, load)
    lazy = {
        "image_sizes": functools.partial(_lazy_image_sizes, name, image_root, hint),
        "annotation_format": functools.partial(
            _lazy_annotation_format, name, annotation_root, annotation_format
        ),
    }
    if sequences is None:
        lazy["sequences"] = functools.partial(_find_sequences, annotation_root, seqmap, hint)
    MetadataCatalog[name] = meta = MOTSMetadata(name=name)
    meta.set(
        lazy_attributes=lazy,
        thing_classes=class_names,
        thing_dataset_id_to_contiguous_id=mots_io.mots_class_to_contiguous(class_names),
        evaluator_type="mots",
        image_root=image_root,
        annotation_root=annotation_root,
        gt_format=gt_format,
        seqmap=seqmap,
        **metadata,
    )
    if sequences is not None:
        meta.sequences = sequences


def register_kitti_mots(
    name: str,
    image_root: str,
    annotation_root: str,
    sequences: Optional[Sequence[str]] = None,
    class_names: Sequence[str] = ("car", "pedestrian"),
    **kwargs,
) -> None:
    """Register KITTI MOTS sequences (or own ones in its layout): images
    ``<image_root>/<seq>/<frame:06d>.png`` (frames from 0; KITTI's ``training/image_02``),
    annotations ``<annotation_root>/<seq>.txt`` (``instances_txt``) or
    ``<annotation_root>/<seq>/<frame:06d>.png`` (``instances``), detected automatically.
    ``kwargs`` go to :func:`register_mots_dataset`."""
    register_mots_dataset(
        name, image_root, annotation_root, sequences, class_names, gt_format="kitti_mots", **kwargs
    )


def register_mots_challenge(
    name: str,
    image_root: str,
    annotation_root: Optional[str] = None,
    sequences: Optional[Sequence[str]] = None,
    class_names: Sequence[str] = ("pedestrian",),
    **kwargs,
) -> None:
    """Register MOTSChallenge sequences: images ``<image_root>/<seq>/img1/<frame:06d>.jpg``
    (frames from 1) and annotations ``<annotation_root>/<seq>/gt/gt.txt`` (the MOTS20 layout;
    ``annotation_root`` defaults to ``image_root``), or the original release's
    ``images/<seq>/`` with ``instances_txt/<seq>.txt`` / ``instances/<seq>/``. MOTSChallenge
    annotates pedestrians only (paper Table 1). ``kwargs`` go to :func:`register_mots_dataset`."""
    register_mots_dataset(
        name,
        image_root,
        annotation_root if annotation_root is not None else image_root,
        sequences,
        class_names,
        gt_format="mots_challenge",
        **kwargs,
    )



KITTI_MOTS_VAL_SEQUENCES = [f"{i:04d}" for i in (2, 6, 7, 8, 10, 13, 14, 16, 18)]
KITTI_MOTS_TRAIN_SEQUENCES = [
    f"{i:04d}" for i in range(21) if f"{i:04d}" not in KITTI_MOTS_VAL_SEQUENCES
]
MOTS_CHALLENGE_SEQUENCES = ["MOTS20-02", "MOTS20-05", "MOTS20-09", "MOTS20-11"]


def _hint(root: str, folder: str) -> str:
    return (
        f"The built-in datasets are looked for in $DETECTRON2_DATASETS (now {root!r}, default "
        f"./datasets; read when trackrcnn_d2 is imported): put {folder}/ there or set "
        "DETECTRON2_DATASETS to the folder that holds it. See datasets/README.md."
    )


def _annotation_root(dataset_root: str) -> str:
    txt = os.path.join(dataset_root, "instances_txt")
    png = os.path.join(dataset_root, "instances")
    return png if not os.path.isdir(txt) and os.path.isdir(png) else txt


def register_all_kitti_mots(root: str) -> None:
    dataset_root = os.path.join(root, "kitti_mots")
    for split, sequences in (
        ("train", KITTI_MOTS_TRAIN_SEQUENCES),
        ("val", KITTI_MOTS_VAL_SEQUENCES),
    ):
        register_kitti_mots(
            f"kitti_mots_{split}",
            os.path.join(dataset_root, "training", "image_02"),
            _annotation_root(dataset_root),
            sequences,
            hint=_hint(root, "kitti_mots"),
        )


def register_all_mots_challenge(root: str) -> None:
    train_root = os.path.join(root, "mots_challenge", "train")
    hint = _hint(root, "mots_challenge")
    register_mots_challenge("mots_challenge", train_root, None, MOTS_CHALLENGE_SEQUENCES, hint=hint)
    for held_out in MOTS_CHALLENGE_SEQUENCES:
        number = f"00{held_out[-2:]}"
        others = [s for s in MOTS_CHALLENGE_SEQUENCES if s != held_out]
        register_mots_challenge(
            f"mots_challenge_train_wo_{number}", train_root, None, others, hint=hint
        )
        register_mots_challenge(
            f"mots_challenge_val_{number}", train_root, None, [held_out], hint=hint
        )


def register_synthetic_mots(
    prefix: str,
    dataset_root: str,
    hint: str = "",
    class_names: Sequence[str] = ("car", "pedestrian"),
) -> None:
    """Register ``<prefix>_train`` and ``<prefix>_val``: the splits of a synthetic set written
    by ``python -m trackrcnn_d2.data.synthetic <dataset_root>`` (read from its seqmaps);
    ``class_names``: its ``--classes``."""
    hint = (
        f"{hint} Generate the synthetic set with "
        f"`python -m trackrcnn_d2.data.synthetic {dataset_root}`."
    ).strip()
    for split in ("train", "val"):
        register_kitti_mots(
            f"{prefix}_{split}",
            os.path.join(dataset_root, "training", "image_02"),
            _annotation_root(dataset_root),
            sequences=None,
            class_names=class_names,
            seqmap=os.path.join(dataset_root, f"evaluate_mots.seqmap.{split}"),
            hint=hint,
        )


_root = os.path.expanduser(os.getenv("DETECTRON2_DATASETS", "datasets"))
register_all_kitti_mots(_root)
register_all_mots_challenge(_root)
register_synthetic_mots(
    "synthetic_mots", os.path.join(_root, "synthetic_mots"), _hint(_root, "synthetic_mots")
)
