#!/usr/bin/env python
"""Train and evaluate TrackR-CNN (Voigtlaender et al., CVPR 2019: Multi-Object Tracking and
Segmentation) with detectron2's DefaultTrainer (paper Sec. 6).

    python train_net.py --config-file configs/kitti_mots_r101.yaml                # train, evaluate
    python train_net.py --config-file configs/kitti_mots_r101.yaml --eval-only MODEL.WEIGHTS m.pth
    python train_net.py --config-file configs/kitti_mots_r101.yaml --resume        # continue
    python train_net.py --config-file configs/kitti_mots_r101.yaml --num-gpus 8 \\
        SOLVER.REFERENCE_WORLD_SIZE 1                                             # multi-GPU
    python train_net.py --config-file configs/demo_synthetic.yaml MODEL.DEVICE cpu  # no GPU

SOLVER.IMS_PER_BATCH is the number of frames per iteration over all GPUs (detectron2's rule),
a multiple of INPUT.CLIP_LENGTH x GPUs. The configs are set for one GPU; with
``SOLVER.REFERENCE_WORLD_SIZE 1`` detectron2 scales IMS_PER_BATCH, BASE_LR and the schedule
linearly to the number of GPUs (one clip per GPU for the shipped configs).

Training starts only in an OUTPUT_DIR without a previous run: with ``--resume`` it continues that
run; otherwise choose another OUTPUT_DIR (checkpoints of two runs are never mixed).
``--eval-only`` writes its config.yaml and log.txt to ``OUTPUT_DIR/inference/`` (a training
run's own stay untouched) and replaces ``OUTPUT_DIR/inference/<dataset>/`` as a whole.
"""
import json
import logging
import os
import weakref

from detectron2.engine import (
    AMPTrainer,
    DefaultTrainer,
    SimpleTrainer,
    TrainerBase,
    create_ddp_model,
    default_argument_parser,
    default_setup,
    launch,
)
from detectron2.evaluation import verify_results
from detectron2.utils import comm
from detectron2.utils.events import TensorboardXWriter
from detectron2.utils.logger import setup_logger

from trackrcnn_d2 import register_all
from trackrcnn_d2.checkpoint import MOTSCheckpointer
from trackrcnn_d2.data.build import (
    build_mots_test_loader,
    build_mots_train_loader,
    check_mots_datasets,
    clips_per_gpu,
)
from trackrcnn_d2.data.mots_io import mots_class_to_contiguous
from trackrcnn_d2.engine import has_association_head
from trackrcnn_d2.engine.precision import inference_precision, set_matmul_precision
from trackrcnn_d2.evaluation import MOTSEvaluator
from trackrcnn_d2.solver import build_optimizer
from trackrcnn_d2.structures.mask_rle import UnpastedMasksModel
from trackrcnn_d2.tracking import TrackerParams
from trackrcnn_d2.utils.cli import (
    USER_ERRORS,
    CheckpointError,
    ConfigError,
    exit_on_user_error,
    load_config,
    refuse_to_mix_runs,
)


class Trainer(DefaultTrainer):
    """DefaultTrainer on clips of adjacent frames, evaluated by tracking whole sequences."""

    def __init__(self, cfg):
        # DefaultTrainer.__init__ with two changes: the model is wrapped for distributed
        # training without device_ids on the CPU (detectron2 passes the local rank, which
        # DistributedDataParallel refuses for a CPU model), and the checkpointer names the file
        # of a checkpoint that cannot be loaded.
        TrainerBase.__init__(self)
        if not logging.getLogger("detectron2").isEnabledFor(logging.INFO):
            setup_logger()
        cfg = self.auto_scale_workers(cfg, comm.get_world_size())
        model = self.build_model(cfg)
        optimizer = self.build_optimizer(cfg, model)
        data_loader = self.build_train_loader(cfg)
        ddp_arguments = {"broadcast_buffers": False}
        if cfg.MODEL.DEVICE == "cpu":
            ddp_arguments["device_ids"] = None
        model = create_ddp_model(model, **ddp_arguments)
        self._trainer = (AMPTrainer if cfg.SOLVER.AMP.ENABLED else SimpleTrainer)(
            model, data_loader, optimizer
        )
        self.scheduler = self.build_lr_scheduler(cfg, optimizer)
        self.checkpointer = MOTSCheckpointer(model, cfg.OUTPUT_DIR, trainer=weakref.proxy(self))
        self.start_iter = 0
        self.max_iter = cfg.SOLVER.MAX_ITER
        self.cfg = cfg
        self.register_hooks(self.build_hooks())

    def build_writers(self):
        self._writers = super().build_writers()
        return self._writers

    def resume_or_load(self, resume=True):
        super().resume_or_load(resume=resume)
        if self.start_iter > 0 and comm.is_main_process():
            # A killed run may have logged iterations after its last checkpoint; they are
            # trained again now: drop them from metrics.json, and let TensorBoard hide them
            # (purge_step; the writer creates its file on the first write).
            drop_events_from(os.path.join(self.cfg.OUTPUT_DIR, "metrics.json"), self.start_iter)
            for writer in self._writers:
                if isinstance(writer, TensorboardXWriter):
                    writer._writer_args["purge_step"] = self.start_iter

    @classmethod
    def build_train_loader(cls, cfg):
        return build_mots_train_loader(cfg)

    @classmethod
    def build_test_loader(cls, cfg, dataset_name):
        # Frames of each sequence in order: the model keeps near-online state between calls.
        return build_mots_test_loader(cfg, dataset_name)

    @classmethod
    def build_evaluator(cls, cfg, dataset_name, output_folder=None):
        return MOTSEvaluator(cfg, dataset_name, output_dir=output_folder)

    @classmethod
    def build_optimizer(cls, cfg, model):
        return build_optimizer(cfg, model)

    @classmethod
    def test(cls, cfg, model, evaluators=None):
        # TEST.PRECISION: inference in bf16 autocast on CUDA when set. MOTSEvaluator (the
        # default) needs RLEs only: the masks are pasted into their boxes alone, not into images.
        if evaluators is None:
            model = UnpastedMasksModel(model)
        with inference_precision(cfg):
            return super().test(cfg, model, evaluators)


def drop_events_from(metrics_file: str, iteration: int) -> None:
    """Truncate detectron2's metrics.json (one json record per line) before the first record
    of ``iteration`` or later, or before a partly written last line. In place, because the
    trainer's JSONWriter already holds the file open for appending."""
    if not os.path.isfile(metrics_file):
        return
    offset = 0
    with open(metrics_file, "rb") as f:
        for line in f:
            try:
                if not line.endswith(b"\n") or json.loads(line)["iteration"] >= iteration:
                    break
            except (ValueError, KeyError, TypeError):
                break
            offset += len(line)
        else:
            return
    os.truncate(metrics_file, offset)


def parse_args(argv=None):
    parser = default_argument_parser(epilog=__doc__.split("\n\n", 1)[1])
    parser.description = __doc__.split("\n\n", 1)[0]
    args = parser.parse_args(argv)
    if not args.config_file:
        parser.error("--config-file is required, e.g. --config-file configs/kitti_mots_r101.yaml")
    return args


def check_inputs(cfg, args, world_size: int) -> None:
    """The checks of what the user gave, before anything is written or logged (so that a
    mistake is not buried under detectron2's environment and config dump)."""
    if os.path.exists(cfg.OUTPUT_DIR) and not os.path.isdir(cfg.OUTPUT_DIR):
        raise ConfigError(f"OUTPUT_DIR {cfg.OUTPUT_DIR} is a file; give a folder")
    try:
        mots_class_to_contiguous(cfg.DATASETS.MOTS.CLASSES)
    except ValueError as e:
        raise ConfigError(f"DATASETS.MOTS.CLASSES: {e}") from None
    if not args.eval_only:
        refuse_to_mix_runs(cfg, args.resume)
        check_mots_datasets(cfg.DATASETS.TRAIN, "DATASETS.TRAIN")
        scaled = DefaultTrainer.auto_scale_workers(cfg, world_size)
        clips_per_gpu(scaled.SOLVER.IMS_PER_BATCH, cfg.INPUT.CLIP_LENGTH, world_size)
    if args.eval_only and not cfg.DATASETS.TEST:
        raise ConfigError("--eval-only with an empty DATASETS.TEST: nothing to evaluate")
    check_mots_datasets(cfg.DATASETS.TEST, "DATASETS.TEST")
    resuming = args.resume and os.path.isfile(os.path.join(cfg.OUTPUT_DIR, "last_checkpoint"))
    weights = cfg.MODEL.WEIGHTS
    if args.eval_only and not resuming and not weights:
        raise CheckpointError(
            "--eval-only evaluates a trained model but MODEL.WEIGHTS is empty: give one, e.g. "
            "MODEL.WEIGHTS output/model_final.pth (or --resume for OUTPUT_DIR's last checkpoint)"
        )
    if not resuming and weights and "://" not in weights and not os.path.isfile(weights):
        what = "is a folder" if os.path.isdir(weights) else "not found"
        raise CheckpointError(
            f"MODEL.WEIGHTS {weights} {what}: give an existing .pth/.pkl file or a URL; "
            'MODEL.WEIGHTS "" starts from random weights'
        )


def setup(args):
    """The config (detectron2's defaults, TrackR-CNN's keys, the file, command-line overrides),
    checked, then detectron2's logging and config.yaml."""
    cfg = load_config(args.config_file, args.opts)
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
        return not (record.exc_info and isinstance(record.exc_info[1], USER_ERRORS))


def main(args):
    register_all()
    logging.getLogger("detectron2.engine.train_loop").addFilter(_UserErrorWithoutTraceback())
    cfg = setup(args)

    if args.eval_only:
        model = Trainer.build_model(cfg)
        # Before the weights are loaded (maybe downloaded): the tracker must fit the model.
        TrackerParams.from_config(cfg).check_association_head(has_association_head(model))
        MOTSCheckpointer(model, save_dir=cfg.OUTPUT_DIR).resume_or_load(
            cfg.MODEL.WEIGHTS, resume=args.resume
        )
        results = Trainer.test(cfg, model)
        if comm.is_main_process():
            verify_results(cfg, results)
        return results

    trainer = Trainer(cfg)
    trainer.resume_or_load(resume=args.resume)
    return trainer.train()


def run(args):
    """``main`` in each process, a user's mistake ending it with one message and status 2."""
    with exit_on_user_error("train_net.py"):
        return main(args)


if __name__ == "__main__":
    args = parse_args()
    # Checked here too, so that a mistake is told once, not by every process.
    with exit_on_user_error("train_net.py"):
        register_all()
        world_size = args.num_gpus * args.num_machines
        check_inputs(load_config(args.config_file, args.opts), args, world_size)
    try:
        launch(
            run,
            args.num_gpus,
            num_machines=args.num_machines,
            machine_rank=args.machine_rank,
            dist_url=args.dist_url,
            args=(args,),
        )
    except Exception as e:
        # A worker process that exited on a user's mistake has printed it already.
        if getattr(e, "exit_code", None) == 2:
            raise SystemExit(2) from None
        raise
