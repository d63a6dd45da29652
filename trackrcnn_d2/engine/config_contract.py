"""What the evaluation of a config needs, checked before its training starts.

``train_net.py`` trains for hours and then evaluates ``DATASETS.TEST`` with the tracker: a
tracker value that does not fit the classes, an unknown flow method or a test set without the
config's classes would only fail then. :func:`check_evaluation_setup` builds and checks all of
it first (the config contract of DESIGN.md; ``tests/test_config_contract.py`` runs every file
in configs/ through ``train_net.py``).
"""
from typing import Optional

import torch
from detectron2.data import MetadataCatalog

from trackrcnn_d2.data.mots_io import mots_class_to_contiguous
from trackrcnn_d2.engine.precision import INFERENCE_PRECISIONS
from trackrcnn_d2.engine.predictor import has_association_head
from trackrcnn_d2.evaluation.mots_evaluator import MOTSEvaluator
from trackrcnn_d2.tracking import TrackerParams
from trackrcnn_d2.tracking.class_map import class_map_from_config
from trackrcnn_d2.tracking.flow import check_optical_flow
from trackrcnn_d2.utils.cli import ConfigError

__all__ = ["check_evaluation_setup"]


def check_evaluation_setup(cfg, model: Optional[torch.nn.Module] = None) -> None:
    """Raise :class:`~trackrcnn_d2.utils.cli.ConfigError` (or FileNotFoundError for missing
    optical-flow weights) for what would stop the evaluation of ``cfg.DATASETS.TEST`` or the
    tracker:

    - ``DATASETS.MOTS.CLASSES`` are MOTS classes, and the model predicts them:
      ``MODEL.ROI_HEADS.NUM_CLASSES`` is their number, or ``DATASETS.MOTS.CLASS_MAP`` maps the
      model's classes to them;
    - every per-class ``TRACKER_HEADS`` key has one value per class (or one for all), and the
      mechanism, disjoint rule and optical flow (its weights too) exist;
    - ``TEST.PRECISION`` is known, ``TEST.CLIP_CHUNK`` not negative;
    - each test dataset is a MOTS dataset that annotates one of the classes at least, and its
      :class:`~trackrcnn_d2.evaluation.MOTSEvaluator` builds from ``cfg``;
    - with ``model``: it has an association head if the mechanism matches association vectors.

    Reads no image or annotation file (dataset metadata only; ``check_mots_datasets`` checks
    that the files are there).
    """
    classes = list(cfg.DATASETS.MOTS.CLASSES)
    try:
        mots_class_to_contiguous(classes)
    except ValueError as e:
        raise ConfigError(f"DATASETS.MOTS.CLASSES: {e}") from None
    if class_map_from_config(cfg) is None and cfg.MODEL.ROI_HEADS.NUM_CLASSES != len(classes):
        raise ConfigError(
            f"MODEL.ROI_HEADS.NUM_CLASSES is {cfg.MODEL.ROI_HEADS.NUM_CLASSES} but "
            f"DATASETS.MOTS.CLASSES has {len(classes)} classes {classes}: set NUM_CLASSES to "
            "their number, or map the model's classes with DATASETS.MOTS.CLASS_MAP"
        )
    params = TrackerParams.from_config(cfg)
    if params.uses_flow:
        try:
            check_optical_flow(cfg.TRACKER_HEADS.FLOW)
        except ValueError as e:
            raise ConfigError(f"TRACKER_HEADS.FLOW: {e}") from None
    if cfg.TEST.CLIP_CHUNK < 0:
        raise ConfigError(
            f"TEST.CLIP_CHUNK must be 0 (near-online) or more, got {cfg.TEST.CLIP_CHUNK}"
        )
    if cfg.TEST.PRECISION not in INFERENCE_PRECISIONS:
        raise ConfigError(
            f"TEST.PRECISION must be one of {INFERENCE_PRECISIONS}, got {cfg.TEST.PRECISION!r}"
        )
    for name in cfg.DATASETS.TEST:
        try:
            # What Trainer.build_evaluator builds; its threads start only when it gets frames.
            MOTSEvaluator(cfg, name, output_dir=cfg.OUTPUT_DIR, distributed=False)
        except ConfigError:
            raise
        except ValueError as e:
            raise ConfigError(f"DATASETS.TEST: {e}") from None
        annotated = list(MetadataCatalog.get(name).thing_classes)
        if not set(annotated) & set(classes):
            raise ConfigError(
                f"DATASETS.TEST: {name!r} annotates {annotated}, none of DATASETS.MOTS.CLASSES "
                f"{classes}: there would be nothing to evaluate"
            )
    if model is not None:
        params.check_association_head(has_association_head(model))
