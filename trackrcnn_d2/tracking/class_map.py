"""Tracking with a model trained on other classes (``DATASETS.MOTS.CLASS_MAP``), e.g. a COCO
Mask R-CNN for the paper's "Mask R-CNN + maskprop" baseline (Table 2): its classes are mapped
to MOTS classes (person -> pedestrian, car -> car) where its ``Instances`` become
:class:`~.detections.FrameDetections`, and the detections of other classes are dropped there.
"""
from typing import Optional, Sequence

import numpy as np

from trackrcnn_d2.data.class_pairs import checked_class_pair
from trackrcnn_d2.utils.cli import ConfigError

__all__ = ["build_class_map", "class_map_from_config", "class_map_from_dataset", "map_classes"]

KEY = "DATASETS.MOTS.CLASS_MAP"


def build_class_map(
    model_classes: Sequence[str],
    mots_classes: Sequence[str],
    pairs: Sequence[Sequence[str]],
    keys: Sequence[str] = (KEY, "DATASETS.MOTS.CLASSES"),
) -> np.ndarray:
    """(len(model_classes),) int64 lookup table: the contiguous MOTS class (index in
    ``mots_classes``) of each contiguous model class, -1 for a class whose detections are
    dropped. ``pairs``: ``[[model class name, MOTS class name], ...]``. A bad entry raises
    :class:`~trackrcnn_d2.utils.cli.ConfigError` (a ValueError) naming the key (``keys``: of
    the pairs and of the MOTS classes)."""
    map_key, classes_key = keys
    model_index = {name: i for i, name in enumerate(model_classes)}
    mots_index = {name: i for i, name in enumerate(mots_classes)}
    table = np.full(len(model_classes), -1, dtype=np.int64)
    for pair in pairs:
        model_class, mots_class = checked_class_pair(
            pair, map_key, "model class", model_classes, "the model's"
        )
        if mots_class not in mots_index:
            raise ConfigError(
                f"{map_key}: {mots_class!r} is not one of {classes_key} {list(mots_classes)}"
            )
        if table[model_index[model_class]] >= 0:
            raise ConfigError(f"{map_key}: the model class {model_class!r} is mapped twice")
        table[model_index[model_class]] = mots_index[mots_class]
    return table


def class_map_from_config(cfg) -> Optional[np.ndarray]:
    """The class map of ``cfg`` (see :func:`build_class_map`), or None when the model's classes
    are the MOTS classes (``DATASETS.MOTS.CLASS_MAP`` empty). The model's class names are the
    ``thing_classes`` of ``DATASETS.TRAIN[0]``, the set it was trained on."""
    pairs = cfg.DATASETS.MOTS.CLASS_MAP
    if not pairs:
        return None
    if not cfg.DATASETS.TRAIN:
        raise ConfigError(
            f"{KEY} names the model's classes, which come from the thing_classes of "
            "DATASETS.TRAIN[0]; DATASETS.TRAIN is empty (e.g. set it to ('coco_2017_train',))"
        )
    return class_map_from_dataset(
        cfg.DATASETS.TRAIN[0],
        cfg.DATASETS.MOTS.CLASSES,
        pairs,
        num_classes=cfg.MODEL.ROI_HEADS.NUM_CLASSES,
        keys=(KEY, "DATASETS.TRAIN[0]", "MODEL.ROI_HEADS.NUM_CLASSES", "DATASETS.MOTS.CLASSES"),
    )


def class_map_from_dataset(
    dataset: str,
    mots_classes: Sequence[str],
    pairs: Sequence[Sequence[str]],
    num_classes: Optional[int] = None,
    keys: Sequence[str] = ("pairs", "dataset", "num_classes", "mots_classes"),
) -> np.ndarray:
    """:func:`build_class_map` for a model trained on the registered ``dataset``, whose
    ``thing_classes`` name the model's classes (a LazyConfig's ``tracker.class_map``). With
    ``num_classes`` (the model's), the dataset must have that many classes. ``keys`` name the
    pairs, the dataset, the class count and the MOTS classes in errors (:class:`ConfigError`)."""
    from detectron2.data import MetadataCatalog

    map_key, dataset_key, count_key, classes_key = keys
    model_classes = MetadataCatalog.get(dataset).get("thing_classes")
    if model_classes is None:
        raise ConfigError(
            f"{map_key}: the dataset {dataset!r} ({dataset_key}) has no thing_classes to name "
            "the model's classes; is it registered?"
        )
    if num_classes is not None and len(model_classes) != num_classes:
        raise ConfigError(
            f"{map_key}: {dataset!r} ({dataset_key}) has {len(model_classes)} classes but the "
            f"model has {count_key} = {num_classes}"
        )
    return build_class_map(model_classes, mots_classes, pairs, keys=(map_key, classes_key))


def map_classes(instances, class_map: np.ndarray, where: str = ""):
    """The detections of ``instances`` (detectron2 ``Instances``) whose class ``class_map``
    keeps, their ``pred_classes`` replaced by the tracker's classes."""
    import torch

    model_classes = instances.pred_classes.to("cpu").numpy()
    if len(model_classes) and model_classes.max() >= len(class_map):
        raise ValueError(
            f"{where}: the model predicts class {model_classes.max()}, but {KEY} is for "
            f"{len(class_map)} classes"
        )
    keep = class_map[model_classes] >= 0
    device = instances.pred_classes.device
    kept = instances[torch.from_numpy(keep).to(device)]
    kept.pred_classes = torch.from_numpy(class_map[model_classes[keep]]).to(device)
    return kept
