"""``--resume`` continues a run: the model, the training data and the optimizer that its
checkpoints hold must be those of its ``OUTPUT_DIR/config.yaml``. Only the schedule, the
evaluation and where the run executes may change (:data:`RESUMABLE_CHANGES`); anything else is
refused before a file is written, naming the keys (detectron2 would crash in the first step, or
silently keep the checkpoint's optimizer settings, after rewriting config.yaml)."""
import fnmatch
import logging
import os
from typing import Any, Callable, Dict, List

from trackrcnn_d2.utils.cli import ConfigError

__all__ = [
    "LAZY_RESUMABLE_CHANGES",
    "RESUMABLE_CHANGES",
    "check_lazy_resume_config",
    "check_resume_config",
]

logger = logging.getLogger(__name__)

# Keys (fnmatch patterns) whose values may differ from the run's config.yaml on --resume.
RESUMABLE_CHANGES = (
    # The schedule ahead. Not the optimizer and its hyper-parameters (BASE_LR, MOMENTUM,
    # WEIGHT_DECAY*, BIAS_LR_FACTOR): the checkpoint's optimizer and LR-scheduler state
    # restores them, so a new value would not take effect; nor SOLVER.AMP (its scaler state).
    "SOLVER.MAX_ITER",
    "SOLVER.STEPS",
    "SOLVER.GAMMA",
    "SOLVER.LR_SCHEDULER_NAME",
    "SOLVER.WARMUP_*",
    "SOLVER.BASE_LR_END",
    "SOLVER.NUM_DECAYS",
    "SOLVER.RESCALE_INTERVAL",
    "SOLVER.CHECKPOINT_PERIOD",
    "SOLVER.IMS_PER_BATCH",
    "SOLVER.REFERENCE_WORLD_SIZE",
    "SOLVER.CLIP_GRADIENTS.*",
    # Evaluation and tracking: test-time keys of the model and the input, the test sets.
    "TEST.*",
    "TRACKER_HEADS.*",
    "DATASETS.TEST",
    "MODEL.*_TEST",
    "INPUT.*_TEST",
    # Where and how the run executes. MODEL.WEIGHTS (and how its classes map) is read only
    # when a run starts.
    "OUTPUT_DIR",
    "MODEL.WEIGHTS",
    "MODEL.WEIGHTS_CLASSES.*",
    "MODEL.DEVICE",
    "MODEL.ALLOW_TF32",
    "DATALOADER.NUM_WORKERS",
    "SEED",
    "CUDNN_BENCHMARK",
    "VIS_PERIOD",
)


# The same for a LazyConfig (trackrcnn_d2.engine.lazy_config: detectron2's layout). The model
# keys of inference alone are the box predictor's test_* arguments (the RPN's pre/post-NMS counts
# are one (train, test) pair there).
LAZY_RESUMABLE_CHANGES = (
    "train.max_iter",
    "train.checkpointer.*",
    "train.eval_period",
    "train.log_period",
    "lr_multiplier.*",
    "dataloader.train.total_batch_size",
    "dataloader.train.num_workers",
    "dataloader.train.seed",
    "dataloader.test.*",
    "dataloader.evaluator.*",
    "tracker.*",
    "model.roi_heads.box_predictor.test_*",
    "train.output_dir",
    "train.init_checkpoint",
    "train.init_checkpoint_classes.*",
    "train.device",
    "train.seed",
    "train.cudnn_benchmark",
    "train.test_precision",
    "train.allow_tf32",
)


def _resumable(key: str, patterns=RESUMABLE_CHANGES) -> bool:
    return any(fnmatch.fnmatchcase(key, pattern) for pattern in patterns)


def _plain(value: Any) -> Any:
    """Tuples as lists, at any depth (yacs keeps what the yaml or the default had)."""
    return [_plain(v) for v in value] if isinstance(value, (list, tuple)) else value


def _flat(node, prefix: str = "") -> Dict[str, Any]:
    """{"MODEL.FPN.OUT_CHANNELS": 32, ...} of a config."""
    items = {}
    for key, value in node.items():
        if isinstance(value, dict):
            items.update(_flat(value, f"{prefix}{key}."))
        else:
            items[f"{prefix}{key}"] = _plain(value)
    return items


def _run_config(path: str):
    """The config.yaml of a run on this package's defaults (keys that this version no longer
    has are kept, as new keys, and compared with nothing)."""
    from detectron2.config import get_cfg

    from trackrcnn_d2.config import add_trackrcnn_config

    cfg = get_cfg()
    add_trackrcnn_config(cfg)
    cfg.set_new_allowed(True)
    cfg.merge_from_file(path)
    return cfg


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def check_resume_config(cfg) -> None:
    """Raise :class:`ConfigError` when ``cfg`` (given with ``--resume``) differs from the
    config.yaml of the run in its OUTPUT_DIR in a key outside :data:`RESUMABLE_CHANGES`.
    Without a run to resume (no ``last_checkpoint``) there is nothing to compare. For a run
    without a readable config.yaml (a warning), the model of ``cfg`` is loaded strictly from the
    run's last checkpoint instead: :class:`CheckpointError` when it does not fit, here, before
    detectron2 writes a config.yaml of another model."""
    _check_against_run(
        cfg.OUTPUT_DIR,
        lambda path: _flat(_run_config(path)),
        _flat(cfg),
        RESUMABLE_CHANGES,
        _YAML_RESUMABLE,
        lambda: _check_model_fits_last_checkpoint(cfg),
    )


def check_lazy_resume_config(cfg, output_dir: str, check_model_fits: Callable[[], None]) -> None:
    """:func:`check_resume_config` for a LazyConfig ``cfg`` that trains into ``output_dir``
    (its ``train.output_dir``): the keys outside :data:`LAZY_RESUMABLE_CHANGES` must be those
    of the run's config.yaml (as detectron2's LazyConfig.save wrote it). Without a readable
    config.yaml, ``check_model_fits()`` loads the run's last checkpoint into the model of
    ``cfg`` strictly instead."""
    from detectron2.config import LazyConfig

    from trackrcnn_d2.engine.lazy_config import flat_config

    _check_against_run(
        output_dir,
        lambda path: flat_config(LazyConfig.load(path)),
        flat_config(cfg),
        LAZY_RESUMABLE_CHANGES,
        _LAZY_RESUMABLE,
        check_model_fits,
    )


def _check_against_run(output_dir: str, read_run_config: Callable[[str], Dict[str, Any]],
                       now: Dict[str, Any], patterns, what_may_change: str,
                       check_model_fits: Callable[[], None]) -> None:  # fmt: skip
    if not os.path.isfile(os.path.join(output_dir, "last_checkpoint")):
        return
    run_config = os.path.join(output_dir, "config.yaml")
    try:
        if not os.path.isfile(run_config):
            raise FileNotFoundError("not found")
        before = read_run_config(run_config)
    except Exception as e:  # missing, unreadable, not yaml, values of another version's types
        logger.warning(
            f"--resume: cannot read {run_config} ({str(e).splitlines()[0][:120]}): the model is "
            "checked against the run's last checkpoint instead, the other keys not at all"
        )
        check_model_fits()
        return
    changed: List[str] = [
        f"{key} ({_shown(before[key])} in the run, {_shown(value)} now)"
        for key, value in sorted(now.items())
        if key in before and before[key] != value and not _resumable(key, patterns)
    ]
    if changed:
        shown = "; ".join(changed[:5]) + ("; ..." if len(changed) > 5 else "")
        raise ConfigError(
            f"--resume: {len(changed)} key(s) differ from the run's {run_config}: {shown}. A "
            "resumed run keeps the model, training data and optimizer that its checkpoints "
            f"hold; {what_may_change}"
        )


_YAML_RESUMABLE = (
    "only the schedule (SOLVER.MAX_ITER, STEPS, CHECKPOINT_PERIOD, ...), evaluation (TEST.*, "
    "TRACKER_HEADS.*, DATASETS.TEST) and execution (MODEL.DEVICE, DATALOADER.NUM_WORKERS, "
    "OUTPUT_DIR) may change. Undo these changes, or train from scratch into another OUTPUT_DIR "
    "(MODEL.WEIGHTS <a checkpoint of this run> starts from its weights)"
)
_LAZY_RESUMABLE = (
    "only the schedule (train.max_iter, train.checkpointer, lr_multiplier, ...), evaluation "
    "(dataloader.test, dataloader.evaluator, tracker) and execution (train.device, "
    "dataloader.train.num_workers, train.output_dir) may change. Undo these changes, or train "
    "from scratch into another train.output_dir (train.init_checkpoint=<a checkpoint of this "
    "run> starts from its weights)"
)


def _check_model_fits_last_checkpoint(cfg) -> None:
    """Load the last checkpoint of the run in ``cfg.OUTPUT_DIR`` strictly into the model of
    ``cfg``, built on the CPU (:class:`CheckpointError` when it does not fit)."""
    from detectron2.modeling import build_model

    from .mots_checkpointer import MOTSCheckpointer

    cfg = cfg.clone()
    cfg.defrost()
    cfg.MODEL.DEVICE = "cpu"
    checkpointer = MOTSCheckpointer(build_model(cfg), cfg.OUTPUT_DIR)
    checkpointer.load(checkpointer.get_checkpoint_file(), checkpointables=[], strict=True)
