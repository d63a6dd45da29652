#!/usr/bin/env python
"""Train and evaluate TrackR-CNN with detectron2's DefaultTrainer (paper Sec. 6).

    python train_net.py --config-file configs/kitti_mots_r101.yaml                # train, evaluate
    python train_net.py --config-file configs/kitti_mots_r101.yaml --eval-only MODEL.WEIGHTS m.pth
    python train_net.py --config-file configs/kitti_mots_r101.yaml --num-gpus 8    # multi-GPU
    python train_net.py --config-file configs/kitti_mots_r101.yaml --resume        # continue

Training starts only in an OUTPUT_DIR without a previous run: with ``--resume`` it continues that
run; otherwise choose another OUTPUT_DIR (checkpoints of two runs are never mixed). Evaluation
replaces ``OUTPUT_DIR/inference/<dataset>/`` as a whole.
"""
from detectron2.checkpoint import DetectionCheckpointer
from detectron2.engine import DefaultTrainer, default_argument_parser, default_setup, launch
from detectron2.evaluation import verify_results
from detectron2.utils import comm
from detectron2.utils.logger import setup_logger

from trackrcnn_d2.data import build_mots_test_loader, build_mots_train_loader
from trackrcnn_d2.evaluation import MOTSEvaluator
from trackrcnn_d2.solver import build_optimizer
from trackrcnn_d2.utils.cli import load_config, refuse_to_mix_runs


class Trainer(DefaultTrainer):
    """DefaultTrainer on clips of adjacent frames, evaluated by tracking whole sequences."""

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


def setup(args):
    """The config: detectron2's defaults, TrackR-CNN's keys, the file, command-line overrides."""
    cfg = load_config(args.config_file, args.opts)
    default_setup(cfg, args)
    # The evaluator's table and other messages of this package.
    setup_logger(output=cfg.OUTPUT_DIR, distributed_rank=comm.get_rank(), name="trackrcnn_d2")
    return cfg


def main(args):
    cfg = setup(args)

    if args.eval_only:
        model = Trainer.build_model(cfg)
        DetectionCheckpointer(model, save_dir=cfg.OUTPUT_DIR).resume_or_load(
            cfg.MODEL.WEIGHTS, resume=args.resume
        )
        results = Trainer.test(cfg, model)
        if comm.is_main_process():
            verify_results(cfg, results)
        return results

    refuse_to_mix_runs(cfg, args.resume)
    trainer = Trainer(cfg)
    trainer.resume_or_load(resume=args.resume)
    return trainer.train()


if __name__ == "__main__":
    args = default_argument_parser().parse_args()
    launch(
        main,
        args.num_gpus,
        num_machines=args.num_machines,
        machine_rank=args.machine_rank,
        dist_url=args.dist_url,
        args=(args,),
    )
