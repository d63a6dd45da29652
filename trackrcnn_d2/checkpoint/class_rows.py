"""Fine-tuning from a checkpoint trained on other classes keeps what it knows of ours.

TrackR-CNN starts from a Mask R-CNN pre-trained on COCO (paper Sec. 6; the released code from a
checkpoint prepared for its classes). detectron2 skips the tensors whose shapes differ, so the
80-class classifier, box regressor and mask predictor would start from scratch, and at Adam's
learning rate 5e-7 they hardly move. Here the rows of the checkpoint's classes (COCO car,
person; ``MODEL.WEIGHTS_CLASSES``) initialise the rows of the model's classes (MOTS car,
pedestrian), the background row the background row, before detectron2 loads the rest.
"""
import logging
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from detectron2.modeling.roi_heads.fast_rcnn import FastRCNNOutputLayers
from detectron2.modeling.roi_heads.mask_head import BaseMaskRCNNHead

from trackrcnn_d2.data.class_pairs import checked_class_pair
from trackrcnn_d2.data.mots_io import MOTS_CLASS_IDS
from trackrcnn_d2.utils.cli import ConfigError

__all__ = ["WeightsClassMap", "transfer_class_rows"]

KEY = "MODEL.WEIGHTS_CLASSES"


@dataclass(frozen=True)
class WeightsClassMap:
    """Which class of a checkpoint initialises each class of the model.

    Attributes:
        dataset: the dataset whose ``thing_classes`` name the checkpoint's classes.
        checkpoint_classes: those names, in contiguous-id order (the checkpoint's rows).
        model_classes: the model's classes (``DATASETS.MOTS.CLASSES``), in contiguous-id order.
        sources: per model class, the contiguous id of its checkpoint class, or None (the row
            keeps its initialisation).
    """

    dataset: str
    checkpoint_classes: Tuple[str, ...]
    model_classes: Tuple[str, ...]
    sources: Tuple[Optional[int], ...]

    @classmethod
    def from_config(cls, cfg) -> Optional["WeightsClassMap"]:
        """From ``MODEL.WEIGHTS_CLASSES`` (DATASET, MAP: [[checkpoint class, MOTS class], ...])
        and ``DATASETS.MOTS.CLASSES``; None when MAP or DATASET is empty. Pairs whose MOTS class
        the model does not have are skipped (one map serves car-and-pedestrian and
        pedestrian-only configs). A bad entry is a :class:`ConfigError` naming the key."""
        pairs, dataset = cfg.MODEL.WEIGHTS_CLASSES.MAP, cfg.MODEL.WEIGHTS_CLASSES.DATASET
        if not pairs or not dataset:
            return None
        return cls.from_dataset(dataset, cfg.DATASETS.MOTS.CLASSES, pairs)

    @classmethod
    def from_dataset(
        cls,
        dataset: str,
        model_classes: Sequence[str],
        pairs: Sequence[Sequence[str]],
        keys: Tuple[str, str] = (f"{KEY}.DATASET", f"{KEY}.MAP"),
    ) -> "WeightsClassMap":
        """The map of ``pairs`` ([[checkpoint class, MOTS class], ...]) from the checkpoint's
        classes, the ``thing_classes`` of the registered ``dataset``, to ``model_classes`` (a
        LazyConfig's ``train.init_checkpoint_classes``). ``keys`` name the dataset and the
        pairs in errors (:class:`ConfigError`)."""
        from detectron2.data import MetadataCatalog

        dataset_key, map_key = keys
        names = MetadataCatalog.get(dataset).get("thing_classes")
        if names is None:
            raise ConfigError(
                f"{dataset_key}: {dataset!r} has no thing_classes to name the classes of the "
                "initial weights (is it registered? detectron2's COCO is 'coco_2017_train')"
            )
        model_classes = tuple(model_classes)
        sources: List[Optional[int]] = [None] * len(model_classes)
        for pair in pairs:
            checkpoint_class, mots_class = checked_class_pair(
                pair, map_key, "checkpoint class", list(names), f"{dataset}'s"
            )
            if mots_class not in MOTS_CLASS_IDS:
                raise ConfigError(
                    f"{map_key}: {mots_class!r} is not a MOTS class ({', '.join(MOTS_CLASS_IDS)})"
                )
            if mots_class not in model_classes:
                continue
            index = model_classes.index(mots_class)
            if sources[index] is not None:
                raise ConfigError(f"{map_key}: the MOTS class {mots_class!r} is mapped twice")
            sources[index] = names.index(checkpoint_class)
        return cls(dataset, tuple(names), model_classes, tuple(sources))

    def describe(self) -> str:
        """``car <- car (2), pedestrian <- person (0), background <- background (80)``."""
        rows = [
            f"{name} <- {self.checkpoint_classes[source]} ({source})"
            if source is not None
            else f"{name}: kept its initialisation (not in {KEY}.MAP)"
            for name, source in zip(self.model_classes, self.sources)
        ]
        rows.append(f"background <- background ({len(self.checkpoint_classes)})")
        return ", ".join(rows)


def _class_rows(
    tensor: torch.Tensor, per_class: int, num_classes: int, background: bool
) -> Optional[List[torch.Tensor]]:
    """The rows (dim 0) of ``tensor`` cut into one block of ``per_class`` rows per class
    (and the background's after them when ``background``); None for another row count."""
    blocks = num_classes + int(background)
    if tensor.shape[0] != blocks * per_class:
        return None
    return list(tensor.split(per_class))


def _predictor_tensors(model: torch.nn.Module) -> Dict[str, Tuple[int, bool]]:
    """Every class-specific tensor of the model's box and mask predictors: name -> (rows per
    class, has a background block). Found by module type, so that any ROI heads built on
    detectron2's FastRCNNOutputLayers and mask heads (Standard, Res5, ours) are covered."""
    tensors = {}
    for prefix, module in model.named_modules():
        if isinstance(module, FastRCNNOutputLayers):
            box_dim = len(module.box2box_transform.weights)
            for name in ("weight", "bias"):
                tensors[f"{prefix}.cls_score.{name}"] = (1, True)
                tensors[f"{prefix}.bbox_pred.{name}"] = (box_dim, False)
        elif isinstance(module, BaseMaskRCNNHead) and isinstance(
            getattr(module, "predictor", None), torch.nn.Conv2d
        ):
            for name, _ in module.predictor.named_parameters():
                tensors[f"{prefix}.predictor.{name}"] = (1, False)
    return tensors


def transfer_class_rows(
    model: torch.nn.Module, state_dict: dict, class_map: WeightsClassMap
) -> Optional[Tuple[int, str]]:
    """Replace the class-specific predictor tensors of ``state_dict`` (a checkpoint's "model",
    modified in place) that have the checkpoint's classes by tensors of the model's shapes: the
    rows of each model class from its checkpoint class, the background's from the background's,
    the other rows from the model's current (initial) values. A class-agnostic tensor (one
    block) gives its block to every class; a class-agnostic model tensor gets the mean of the
    mapped classes' blocks. Returns (log level, one line) saying which rows came from where, or
    that the checkpoint has no such rows (detectron2's behaviour then); None when the
    checkpoint's predictors already have the model's shapes (nothing to do)."""
    model_state = model.state_dict()
    tensors = _predictor_tensors(model)
    present = {key: torch.as_tensor(state_dict[key]) for key in tensors if key in state_dict}
    differing = {
        key: value for key, value in present.items() if value.shape != model_state[key].shape
    }
    if not differing:
        return None
    num_classes = len(class_map.model_classes)
    mapped = [(i, source) for i, source in enumerate(class_map.sources) if source is not None]
    new = {}
    for key, value in differing.items():
        per_class, background = tensors[key]
        target = model_state[key].detach().clone().to(value.dtype)
        target_blocks = _class_rows(target, per_class, num_classes, background)
        source_blocks = _class_rows(value, per_class, len(class_map.checkpoint_classes),
                                    background)  # fmt: skip
        agnostic_source = not background and value.shape[0] == per_class
        agnostic_target = not background and target.shape[0] == per_class
        if agnostic_target and source_blocks is not None:
            if mapped:
                new[key] = torch.stack([source_blocks[s] for _, s in mapped]).mean(dim=0)
            else:
                new[key] = target
        elif target_blocks is not None and agnostic_source:
            new[key] = torch.cat([value] * num_classes)
        elif target_blocks is not None and source_blocks is not None:
            for i, source in mapped:
                target_blocks[i] = source_blocks[source]
            if background:
                target_blocks[-1] = source_blocks[-1]
            new[key] = torch.cat(target_blocks)
        else:
            return logging.WARNING, (
                f"{key} has {value.shape[0]} rows, not those of the "
                f"{len(class_map.checkpoint_classes)} classes of {class_map.dataset} "
                f"({KEY}.DATASET) nor of the model's {num_classes}: the class-specific rows of "
                "the classifier, box regressor and mask predictor keep their initialisation"
            )
    state_dict.update(new)
    return logging.INFO, (
        f"class rows of {', '.join(sorted({k.rsplit('.', 1)[0] for k in new}))} from the classes "
        f"of {class_map.dataset} ({KEY}): {class_map.describe()}"
    )
