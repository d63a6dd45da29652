"""Built-in MOTS datasets, registered (lazily) when ``trackrcnn_d2.data`` is imported.

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
import os

from trackrcnn_d2.data.datasets import register_kitti_mots, register_mots_challenge

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


def register_synthetic_mots(prefix: str, dataset_root: str, hint: str = "") -> None:
    """Register ``<prefix>_train`` and ``<prefix>_val``: the splits of a synthetic set written
    by ``python -m trackrcnn_d2.data.synthetic <dataset_root>`` (read from its seqmaps)."""
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
            seqmap=os.path.join(dataset_root, f"evaluate_mots.seqmap.{split}"),
            hint=hint,
        )


_root = os.path.expanduser(os.getenv("DETECTRON2_DATASETS", "datasets"))
register_all_kitti_mots(_root)
register_all_mots_challenge(_root)
register_synthetic_mots(
    "synthetic_mots", os.path.join(_root, "synthetic_mots"), _hint(_root, "synthetic_mots")
)
