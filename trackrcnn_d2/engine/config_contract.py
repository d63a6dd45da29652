"""What the evaluation of a config needs, checked before its training starts.

``train_net.py`` trains for hours and then evaluates ``DATASETS.TEST`` with the tracker: a
tracker value that does not fit the classes, an unknown flow method or a test set without the
config's classes would only fail then. :func:`check_evaluation_setup` builds and checks all of
it first (the config contract of DESIGN.md; ``tests/test_config_contract.py`` runs every file
in configs/ through ``train_net.py``).
"""
from typing import Optional, Sequence

import torch
from detectron2.data import MetadataCatalog

from trackrcnn_d2.config_values import check_config_values
from trackrcnn_d2.data.mots_io import mots_class_to_contiguous
from trackrcnn_d2.engine.precision import INFERENCE_PRECISIONS
from trackrcnn_d2.engine.predictor import has_association_head
from trackrcnn_d2.evaluation.mots_evaluator import MOTSEvaluator
from trackrcnn_d2.tracking import TrackerParams
from trackrcnn_d2.tracking.class_map import class_map_from_config
from trackrcnn_d2.tracking.flow import check_optical_flow
from trackrcnn_d2.utils.cli import ConfigError

__all__ = [
    "check_evaluation_setup",
    "check_lazy_evaluation_setup",
    "check_lazy_tracker",
    "check_mots_classes",
    "check_test_set_classes",
]


def check_evaluation_setup(cfg, model: Optional[torch.nn.Module] = None) -> None:
    """Raise :class:`~trackrcnn_d2.utils.cli.ConfigError` (or FileNotFoundError for missing
    optical-flow weights) for what would stop the evaluation of ``cfg.DATASETS.TEST`` or the
    tracker:

    - ``DATASETS.MOTS.CLASSES`` are MOTS classes, and the model predicts them:
      ``MODEL.ROI_HEADS.NUM_CLASSES`` is their number, or ``DATASETS.MOTS.CLASS_MAP`` maps the
      model's classes to them;
    - every per-class ``TRACKER_HEADS`` key has one value per class (or one for all), and the
      mechanism, disjoint rule and optical flow (its weights too) exist;
    - every numeric value follows its rule (:func:`trackrcnn_d2.config_values.
      check_config_values`, as ``load_config`` checks: for a config built otherwise);
    - ``TEST.PRECISION`` is known;
    - each test dataset is a MOTS dataset that annotates one of the classes at least, and its
      :class:`~trackrcnn_d2.evaluation.MOTSEvaluator` builds from ``cfg``;
    - with ``model``: it has an association head if the mechanism matches association vectors.

    Reads no image or annotation file (dataset metadata only; ``check_mots_datasets`` checks
    that the files are there).
    """
    check_config_values(cfg)
    classes = list(cfg.DATASETS.MOTS.CLASSES)
    check_mots_classes(classes, "DATASETS.MOTS.CLASSES")
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
        check_test_set_classes(name, classes, "DATASETS.TEST", "DATASETS.MOTS.CLASSES")
    if model is not None:
        params.check_association_head(has_association_head(model))


def check_mots_classes(classes: Sequence[str], key: str) -> None:
    """ConfigError (naming ``key``) unless ``classes`` are MOTS classes."""
    try:
        mots_class_to_contiguous(list(classes))
    except ValueError as e:
        raise ConfigError(f"{key}: {e}") from None


def check_test_set_classes(name: str, classes: Sequence[str], key: str, classes_key: str) -> None:
    """ConfigError unless the test set ``name`` (the value of ``key``) annotates one of
    ``classes`` (``classes_key``) at least: there would be nothing to evaluate."""
    annotated = list(MetadataCatalog.get(name).thing_classes)
    if not set(annotated) & set(classes):
        raise ConfigError(
            f"{key}: {name!r} annotates {annotated}, none of {classes_key} {list(classes)}: "
            "there would be nothing to evaluate"
        )


def check_lazy_tracker(cfg, model: Optional[torch.nn.Module] = None):
    """What the tracker of a LazyConfig (``trackrcnn_d2.engine.lazy_config``) needs, each
    mistake named by its key: ``tracker.params`` builds and its classes are MOTS classes, the
    optical flow exists, ``tracker.class_map`` builds. With ``model``: it has an association
    head if the mechanism matches association vectors, and it predicts the tracker's classes
    (or ``tracker.class_map`` maps its classes). Returns the tracker's params and class map."""
    from trackrcnn_d2.engine.lazy_config import build_part

    params = build_part(cfg, "tracker.params")
    if not isinstance(params, TrackerParams):
        raise ConfigError(
            f"tracker.params builds a {type(params).__name__}, not the TrackerParams that the "
            "evaluator and demo.py track with"
        )
    check_mots_classes(params.class_names, "tracker.params.class_names")
    if params.uses_flow:
        try:
            check_optical_flow(cfg.tracker.flow)
        except ValueError as e:
            raise ConfigError(f"tracker.flow: {e}") from None
    class_map = build_part(cfg, "tracker.class_map")
    if model is None:
        return params, class_map
    try:
        params.check_association_head(has_association_head(model))
    except ConfigError as e:
        raise ConfigError(
            str(e).replace("TRACKER_HEADS.ASSOCIATION", "tracker.params.association")
        ) from None
    num_classes = getattr(getattr(model, "roi_heads", None), "num_classes", None)
    expected = len(params.class_names) if class_map is None else len(class_map)
    if num_classes is not None and num_classes != expected:
        raise ConfigError(
            f"model.roi_heads.num_classes is {num_classes} but "
            + (
                f"tracker.params.class_names has {expected} classes {list(params.class_names)}: "
                "set num_classes to their number, or map the model's classes with "
                "tracker.class_map"
                if class_map is None
                else f"tracker.class_map maps {expected} classes"
            )
        )
    return params, class_map


def check_lazy_evaluation_setup(cfg, model: Optional[torch.nn.Module] = None) -> None:
    """:func:`check_evaluation_setup` for a LazyConfig, each mistake named by its key: the
    tracker (:func:`check_lazy_tracker`), ``train.test_precision``, ``dataloader.evaluator``
    builds and its test set annotates one of the classes. With ``model`` also: the test loader
    gives it the look-ahead frames its temporal layers need, and the training clips have its
    clip length."""
    from omegaconf import OmegaConf

    from trackrcnn_d2.engine.lazy_config import build_part

    params, _ = check_lazy_tracker(cfg, model)
    precision = OmegaConf.select(cfg, "train.test_precision", default="fp32")
    if precision not in INFERENCE_PRECISIONS:
        raise ConfigError(
            f"train.test_precision must be one of {INFERENCE_PRECISIONS}, got {precision!r}"
        )
    evaluator = build_part(cfg, "dataloader.evaluator")
    if isinstance(evaluator, MOTSEvaluator):
        check_test_set_classes(
            evaluator._dataset_name,
            params.class_names,
            "dataloader.evaluator.dataset_name",
            "tracker.params.class_names",
        )
    if model is None:
        return
    lookahead = OmegaConf.select(cfg, "dataloader.test.lookahead")
    needed = getattr(model, "temporal_lookahead", 0)
    if lookahead is not None and lookahead < needed:
        raise ConfigError(
            f"dataloader.test.lookahead is {lookahead} but the model's temporal layers look "
            f"{needed} frames ahead: set dataloader.test.lookahead={needed} (with fewer frames "
            "every frame would be inferred as the end of its sequence)"
        )
    clip_length = OmegaConf.select(cfg, "dataloader.train.clip_length")
    model_clip = getattr(model, "clip_length", None)
    if clip_length is not None and model_clip is not None and clip_length != model_clip:
        raise ConfigError(
            f"dataloader.train.clip_length is {clip_length} but model.clip_length is "
            f"{model_clip}: the model must see the clips the loader makes"
        )
