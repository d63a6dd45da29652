"""What ``train_net.py`` does once its arguments are parsed (``trackrcnn_d2.engine.arguments``):
check the user's input once, start the processes (detectron2's ``launch``, with the checks and
threads of :mod:`trackrcnn_d2.engine.launch`), and in each of them
set up the config and logging, then train and evaluate, or evaluate only (``--eval-only``).

    check_inputs   what the user gave, before anything is written or logged
    setup          config, device, checks, detectron2's logging and config.yaml (every process)
    main           train + evaluate, or --eval-only (one process; raises on a mistake); a
                   LazyConfig (configs/*.py) goes to :mod:`.lazy_train_net`
    run            main, a user's mistake ending it with one message and status 2
    launch_from_args   the command: checks once, then ``run`` in each process
"""
import logging
import os
from typing import Tuple

from detectron2.config import CfgNode
from detectron2.engine import DefaultTrainer, default_setup
from detectron2.evaluation import verify_results
from detectron2.utils import comm
from detectron2.utils.logger import setup_logger

from trackrcnn_d2 import register_all
from trackrcnn_d2.checkpoint import MOTSCheckpointer, WeightsClassMap, check_resume_config
from trackrcnn_d2.data.build import check_mots_datasets, clips_per_gpu
from trackrcnn_d2.engine.config_contract import check_evaluation_setup
from trackrcnn_d2.engine.device import available_device
from trackrcnn_d2.engine.launch import launch
from trackrcnn_d2.engine.lazy_config import is_lazy_config, tracker_uses_flow
from trackrcnn_d2.engine.precision import set_matmul_precision
from trackrcnn_d2.engine.trainer import Trainer
from trackrcnn_d2.tracking import TrackerParams
from trackrcnn_d2.utils.cli import (
    CheckpointError,
    ConfigError,
    exit_on_user_error,
    is_user_error,
    load_config,
    refuse_to_mix_runs,
)
from trackrcnn_d2.utils.file_io import check_run_folder, run_folder

__all__ = ["check_inputs", "setup", "main", "run", "launch_from_args"]

PROGRAM = "train_net.py"


def check_inputs(cfg, args, world_size: int) -> None:
    """The checks of what the user gave, before anything is written or logged (so that a
    mistake is not buried under detectron2's environment and config dump)."""
    check_run_folder(cfg.OUTPUT_DIR, "OUTPUT_DIR")  # the output policy, utils/file_io.py
    if not args.eval_only:
        refuse_to_mix_runs(cfg.OUTPUT_DIR, args.resume)
        if args.resume:
            check_resume_config(cfg)
        WeightsClassMap.from_config(cfg)  # MODEL.WEIGHTS_CLASSES names classes that exist
        check_mots_datasets(cfg.DATASETS.TRAIN, "DATASETS.TRAIN")
        scaled = DefaultTrainer.auto_scale_workers(cfg, world_size)
        clips_per_gpu(scaled.SOLVER.IMS_PER_BATCH, cfg.INPUT.CLIP_LENGTH, world_size)
    if args.eval_only and not cfg.DATASETS.TEST:
        raise ConfigError("--eval-only with an empty DATASETS.TEST: nothing to evaluate")
    check_mots_datasets(cfg.DATASETS.TEST, "DATASETS.TEST")
    # Classes, tracker and evaluator: what the evaluation after training needs, checked now.
    check_evaluation_setup(cfg)
    check_weights(cfg.MODEL.WEIGHTS, cfg.OUTPUT_DIR, args)


def check_weights(weights: str, output_dir: str, args, keys=("MODEL.WEIGHTS", "OUTPUT_DIR")):
    """CheckpointError for ``--eval-only`` without weights (unless ``--resume`` finds the last
    checkpoint of ``output_dir``), or for a weights file that is not there. ``keys`` name the
    weights and the output folder (a LazyConfig's train.init_checkpoint, train.output_dir)."""
    weights_key, output_key = keys
    setting = f"{weights_key} " if weights_key.isupper() else f"{weights_key}="
    resuming = args.resume and os.path.isfile(os.path.join(output_dir, "last_checkpoint"))
    if args.eval_only and not resuming and not weights:
        raise CheckpointError(
            f"--eval-only evaluates a trained model but {weights_key} is empty: give one, e.g. "
            f"{setting}output/model_final.pth (or --resume for {output_key}'s last checkpoint)"
        )
    if not resuming and weights and "://" not in weights and not os.path.isfile(weights):
        what = "is a folder" if os.path.isdir(weights) else "not found"
        raise CheckpointError(
            f"{weights_key} {weights} {what}: give an existing .pth/.pkl file or a URL; "
            f'{setting}"" starts from random weights'
        )


def load_config_on_available_device(args):
    """The config of ``args`` (file and overrides). When it names a CUDA device that this
    machine does not have, the CPU (:func:`available_device` warns), and ``MODEL.DEVICE cpu``
    is added to ``args.opts``: the processes started with ``args`` warn no more."""
    cfg = load_config(args.config_file, args.opts)
    device = available_device(cfg.MODEL.DEVICE)
    if device == cfg.MODEL.DEVICE:
        return cfg
    args.opts = [*args.opts, "MODEL.DEVICE", device]
    return load_config(args.config_file, args.opts)


def setup(args):
    """The config (detectron2's defaults, TrackR-CNN's keys, the file, command-line overrides),
    checked, then detectron2's logging and config.yaml."""
    cfg = load_config_on_available_device(args)
    set_matmul_precision(cfg)  # MODEL.ALLOW_TF32, in every process
    check_inputs(cfg, args, comm.get_world_size())
    # --eval-only logs beside its results, never over a training run's config.yaml and log.txt.
    log_dir = os.path.join(cfg.OUTPUT_DIR, "inference") if args.eval_only else cfg.OUTPUT_DIR
    log_cfg = cfg.clone()
    log_cfg.defrost()
    log_cfg.OUTPUT_DIR = log_dir
    default_setup(log_cfg, args)
    # The evaluator's table and other messages of this package.
    setup_logger(output=log_dir, distributed_rank=comm.get_rank(), name="trackrcnn_d2")
    return cfg


class _UserErrorWithoutTraceback(logging.Filter):
    """detectron2's training loop logs every exception with its traceback before raising it;
    a user's mistake is printed once, as one line, by the script."""

    def filter(self, record):
        return not (record.exc_info and is_user_error(record.exc_info[1]))


def main(args):
    """Train and evaluate, or evaluate only (``--eval-only``), in this process; returns the
    evaluation's results. A user's mistake raises (``is_user_error``). A LazyConfig (``.py``)
    runs through :mod:`.lazy_train_net`."""
    register_all()
    train_loop_logger = logging.getLogger("detectron2.engine.train_loop")
    if not any(isinstance(f, _UserErrorWithoutTraceback) for f in train_loop_logger.filters):
        train_loop_logger.addFilter(_UserErrorWithoutTraceback())
    if is_lazy_config(args.config_file):
        from trackrcnn_d2.engine import lazy_train_net

        return lazy_train_net.main(args)
    cfg = setup(args)

    if args.eval_only:
        model = Trainer.build_model(cfg)
        # Before the weights are loaded (maybe downloaded): the tracker must fit the model.
        check_evaluation_setup(cfg, model)
        MOTSCheckpointer(model, save_dir=cfg.OUTPUT_DIR).resume_or_load(
            cfg.MODEL.WEIGHTS, resume=args.resume, strict=True
        )
        results = Trainer.test(cfg, model)
        if comm.is_main_process():
            verify_results(cfg, results)
        return results

    trainer = Trainer(cfg)
    check_evaluation_setup(cfg, trainer.model)
    trainer.resume_or_load(resume=args.resume)
    return trainer.train()


def output_folder(cfg) -> Tuple[str, str]:
    """The run's folder and the key that names it: ``OUTPUT_DIR``, or a LazyConfig's
    ``train.output_dir``."""
    if isinstance(cfg, CfgNode):
        return cfg.OUTPUT_DIR, "OUTPUT_DIR"
    return cfg.train.output_dir, "train.output_dir"


def run(args):
    """``main`` in this process, a user's mistake ending it with one message and status 2."""
    with exit_on_user_error(PROGRAM):
        if is_lazy_config(args.config_file):
            from trackrcnn_d2.engine.lazy_config import load_lazy_config

            cfg = load_lazy_config(args.config_file, args.opts)
        else:
            cfg = load_config(args.config_file, args.opts)
        # The output policy (utils/file_io.py) for detectron2's own writers (log, metrics).
        with run_folder(*output_folder(cfg)):
            return main(args)


def launch_from_args(args) -> None:
    """The command ``train_net.py ARGS``: the user's input checked and the device chosen once
    (not by every process), then ``main`` in ``args.num_gpus`` processes on each machine; a
    user's mistake, in this process or in any of them, ends it with one message and status 2."""
    with exit_on_user_error(PROGRAM):
        register_all()
        world_size = args.num_gpus * args.num_machines
        if is_lazy_config(args.config_file):
            from trackrcnn_d2.engine import lazy_train_net

            cfg = lazy_train_net.load_on_available_device(args)
            lazy_train_net.check_inputs(cfg, args, world_size)
            uses_flow = tracker_uses_flow(cfg)
        else:
            cfg = load_config_on_available_device(args)
            check_inputs(cfg, args, world_size)
            uses_flow = TrackerParams.from_config(cfg).uses_flow
        if world_size > 1:
            # This process's messages (the launch, waiting for the other machines); the
            # processes set up their own logging.
            setup_logger(name="trackrcnn_d2.engine.launch")
        with run_folder(*output_folder(cfg)):
            launch(
                main,
                args.num_gpus,
                num_machines=args.num_machines,
                machine_rank=args.machine_rank,
                dist_url=args.dist_url,
                args=(args,),
                rendezvous_timeout=args.dist_timeout,
                # --eval-only tracks with optical flow on a thread beside the model.
                flow_worker=args.eval_only and uses_flow,
            )
