"""What ``train_net.py`` does with a LazyConfig (``configs/*.py``, detectron2's Python configs):
detectron2's ``tools/lazyconfig_train_net.py`` (``instantiate`` the config's model, data,
optimizer and LR multiplier, then SimpleTrainer or AMPTrainer with detectron2's hooks), with the
yaml path's outputs and checks: the MOTS evaluator's tables and tracks, metrics.json and
TensorBoard, atomic checkpoints (``MOTSCheckpointer``) that ``--resume`` continues after the
config is checked against the run's, strict loading of ``--eval-only`` weights, COCO's class rows
kept when fine-tuning (``train.init_checkpoint_classes``), the output-folder policy, the device
fallback, and what the evaluation needs checked before the first iteration.

    check_inputs   what the user gave, before anything is written or logged
    setup          config, device, checks, detectron2's logging and config.yaml (every process)
    main           train + evaluate, or --eval-only (one process; raises on a mistake)

``train_net.py`` runs these for a config file ending in ``.py`` (``trackrcnn_d2.engine.train_net``
dispatches), with ``key=value`` overrides (``train.max_iter=1000 train.device=cpu``).
"""
import copy
import logging
import os

import torch
from detectron2.engine import AMPTrainer, SimpleTrainer, default_setup, default_writers, hooks
from detectron2.evaluation import inference_on_dataset, print_csv_format
from detectron2.utils import comm
from detectron2.utils.logger import setup_logger
from omegaconf import OmegaConf

from trackrcnn_d2.checkpoint import MOTSCheckpointer, check_lazy_resume_config
from trackrcnn_d2.data.build import check_mots_datasets
from trackrcnn_d2.engine.config_contract import check_lazy_evaluation_setup
from trackrcnn_d2.engine.device import available_device
from trackrcnn_d2.engine.lazy_config import build_part, load_lazy_config, require_keys
from trackrcnn_d2.engine.precision import allow_tf32, autocast_for
from trackrcnn_d2.engine.train_net import check_weights
from trackrcnn_d2.engine.trainer import create_ddp_model_on, purge_events_after_resume
from trackrcnn_d2.evaluation.mots_evaluator import MOTSEvaluator
from trackrcnn_d2.structures.mask_rle import UnpastedMasksModel
from trackrcnn_d2.utils.cli import ConfigError, refuse_to_mix_runs
from trackrcnn_d2.utils.file_io import check_run_folder

__all__ = ["check_inputs", "setup", "main", "do_test", "do_train", "load_on_available_device"]

logger = logging.getLogger("detectron2")

# What every run needs, and what training needs besides.
NEEDED = ("model", "dataloader.test", "dataloader.evaluator", "tracker", "train.output_dir",
          "train.device", "train.init_checkpoint")  # fmt: skip
NEEDED_FOR_TRAINING = ("dataloader.train", "optimizer", "lr_multiplier", "train.max_iter")
WEIGHTS_KEY = "train.init_checkpoint"
# Whole numbers of the schedule (hydra reads train.max_iter=1e3 as a float).
def load_on_available_device(args):
    """The LazyConfig of ``args`` (file and ``key=value`` overrides). When ``train.device``
    names a CUDA device that this machine does not have, the CPU (:func:`available_device`
    warns), and ``train.device=cpu`` is added to ``args.opts``: the processes started with
    ``args`` warn no more."""
    cfg = load_lazy_config(args.config_file, args.opts)
    require_keys(cfg, ("train.device",), args.config_file, "train_net.py")
    device = available_device(str(cfg.train.device), key="train.device")
    if device != cfg.train.device:
        args.opts = [*args.opts, f"train.device={device}"]
        cfg.train.device = device
    return cfg


def check_inputs(cfg, args, world_size: int) -> None:
    """The checks of what the user gave, before anything is written or logged."""
    require_keys(cfg, NEEDED, args.config_file, "train_net.py")
    if not args.eval_only:
        require_keys(cfg, NEEDED_FOR_TRAINING, args.config_file, "training")
    output_dir = cfg.train.output_dir
    check_run_folder(output_dir, "train.output_dir")  # the output policy, utils/file_io.py
    if not args.eval_only:
        refuse_to_mix_runs(output_dir, args.resume)
        if args.resume:
            check_lazy_resume_config(
                cfg, output_dir, lambda: _check_model_fits_last_checkpoint(cfg)
            )
        build_part(cfg, "train.init_checkpoint_classes")  # names classes that exist
        train_sets = OmegaConf.select(cfg, "dataloader.train.dataset.names")
        if train_sets is not None:
            check_mots_datasets(train_sets, "dataloader.train.dataset.names")
        # The clips per process: refused here, not after the model is built.
        _check_batch(cfg, world_size)
    test_sets = OmegaConf.select(cfg, "dataloader.test.dataset.names")
    if test_sets is not None:
        check_mots_datasets(test_sets, "dataloader.test.dataset.names")
    check_lazy_evaluation_setup(cfg)
    keys = (WEIGHTS_KEY, "train.output_dir")
    check_weights(cfg.train.init_checkpoint, output_dir, args, keys=keys)


def _check_batch(cfg, world_size: int) -> None:
    from trackrcnn_d2.data.build import clips_per_gpu

    batch = OmegaConf.select(cfg, "dataloader.train.total_batch_size")
    clip_length = OmegaConf.select(cfg, "dataloader.train.clip_length")
    if batch is not None and clip_length is not None:
        keys = ("dataloader.train.total_batch_size", "dataloader.train.clip_length")
        clips_per_gpu(batch, clip_length, world_size, keys=keys)


def _check_model_fits_last_checkpoint(cfg) -> None:
    """The run's last checkpoint loads strictly into the model of ``cfg`` (built on the CPU)."""
    model = build_part(cfg, "model")
    checkpointer = MOTSCheckpointer(model, cfg.train.output_dir, weights_key=WEIGHTS_KEY)
    checkpointer.load(checkpointer.get_checkpoint_file(), checkpointables=[], strict=True)


def setup(args):
    """The config, checked, then detectron2's logging and config.yaml (``--eval-only``: in
    ``train.output_dir/inference/``, beside its results, never over a training run's)."""
    cfg = load_on_available_device(args)
    allow_tf32(OmegaConf.select(cfg, "train.allow_tf32", default=True))  # in every process
    check_inputs(cfg, args, comm.get_world_size())
    output_dir = cfg.train.output_dir
    log_dir = os.path.join(output_dir, "inference") if args.eval_only else output_dir
    log_cfg = copy.deepcopy(cfg)
    log_cfg.train.output_dir = log_dir
    default_setup(log_cfg, args)
    setup_logger(output=log_dir, distributed_rank=comm.get_rank(), name="trackrcnn_d2")
    return cfg


def build_model(cfg):
    """The config's model on ``train.device``."""
    model = build_part(cfg, "model")
    model.to(cfg.train.device)
    return model


def do_test(cfg, model):
    """Evaluate ``model`` on ``dataloader.test`` with ``dataloader.evaluator``; the results
    (``{"mots": {"sMOTSA/car": ...}}`` for the MOTS evaluator)."""
    evaluator = build_part(cfg, "dataloader.evaluator")
    if isinstance(evaluator, MOTSEvaluator):
        # It needs RLEs only: the masks are pasted into their boxes alone, not into images.
        model = UnpastedMasksModel(model)
    loader = build_part(cfg, "dataloader.test")
    precision = OmegaConf.select(cfg, "train.test_precision", default="fp32")
    with autocast_for(precision, cfg.train.device, key="train.test_precision"):
        results = inference_on_dataset(model, loader, evaluator)
    if comm.is_main_process() and results:
        logger.info(f"Evaluation results for {evaluator.__class__.__name__} in csv format:")
        print_csv_format(results)
    return results


def _trainer_class(cfg):
    if not cfg.train.amp.enabled:
        return SimpleTrainer
    if str(cfg.train.device).startswith("cuda"):
        return AMPTrainer
    logging.getLogger(__name__).warning(
        f"train.amp.enabled is True, but train.device is {cfg.train.device}: automatic mixed "
        "precision needs CUDA, training in float32 (train.amp.enabled=False says so and "
        "silences this warning)"
    )
    return SimpleTrainer


def do_train(args, cfg):
    """Train the config's model (``--resume``: from the last checkpoint of train.output_dir)
    with detectron2's hooks, and evaluate every ``train.eval_period`` iterations and at the
    end; returns the last evaluation's results."""
    model = build_model(cfg)
    logger.info(f"Model:\n{model}")
    check_lazy_evaluation_setup(cfg, model)
    if cfg.train.device == "cpu" and comm.get_world_size() > 1:
        if any(isinstance(m, torch.nn.SyncBatchNorm) for m in model.modules()):
            raise ConfigError(
                'the model has norm "SyncBN" (torch.nn.SyncBatchNorm), which synchronises CUDA '
                "tensors only: with train.device=cpu and several processes, set its norms to "
                '"naiveSyncBN", or train on CUDA or in one process'
            )
    cfg.optimizer.params.model = model
    optimizer = build_part(cfg, "optimizer")
    train_loader = build_part(cfg, "dataloader.train")
    model = create_ddp_model_on(model, cfg.train.device, **cfg.train.ddp)
    trainer = _trainer_class(cfg)(model, train_loader, optimizer)
    output_dir, max_iter = cfg.train.output_dir, cfg.train.max_iter
    checkpointer = MOTSCheckpointer(
        model,
        output_dir,
        class_map=build_part(cfg, "train.init_checkpoint_classes"),
        weights_key=WEIGHTS_KEY,
        trainer=trainer,
    )
    writers = default_writers(output_dir, max_iter) if comm.is_main_process() else []
    results = {}

    def test_and_keep():
        results.clear()
        results.update(do_test(cfg, model) or {})
        return results

    trainer.register_hooks(
        [
            hooks.IterationTimer(),
            hooks.LRScheduler(scheduler=build_part(cfg, "lr_multiplier")),
            hooks.PeriodicCheckpointer(checkpointer, **cfg.train.checkpointer)
            if comm.is_main_process()
            else None,
            hooks.EvalHook(cfg.train.eval_period, test_and_keep),
            hooks.PeriodicWriter(writers, period=cfg.train.get("log_period", 20))
            if comm.is_main_process()
            else None,
        ]
    )
    checkpointer.resume_or_load(cfg.train.init_checkpoint, resume=args.resume)
    # The checkpoint holds the iteration that finished; training goes on with the next.
    start_iter = trainer.iter + 1 if args.resume and checkpointer.has_checkpoint() else 0
    purge_events_after_resume(output_dir, start_iter, writers)
    trainer.train(start_iter, max_iter)
    return dict(results)


def main(args):
    """Train and evaluate, or evaluate only (``--eval-only``), the LazyConfig of ``args`` in
    this process; returns the evaluation's results. A user's mistake raises."""
    cfg = setup(args)
    if args.eval_only:
        model = build_model(cfg)
        # Before the weights are loaded (maybe downloaded): the tracker must fit the model.
        check_lazy_evaluation_setup(cfg, model)
        checkpointer = MOTSCheckpointer(
            model, save_dir=cfg.train.output_dir, weights_key=WEIGHTS_KEY
        )
        checkpointer.resume_or_load(
            cfg.train.init_checkpoint, resume=args.resume, strict=True
        )
        return do_test(cfg, model)
    return do_train(args, cfg)

