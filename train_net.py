#!/usr/bin/env python
"""Train and evaluate TrackR-CNN (Voigtlaender et al., CVPR 2019: Multi-Object Tracking and
Segmentation) with detectron2's DefaultTrainer (paper Sec. 6).

    python train_net.py --config-file configs/kitti_mots_r101.yaml                # train, evaluate
    python train_net.py --config-file configs/kitti_mots_r101.yaml --eval-only MODEL.WEIGHTS m.pth
    python train_net.py --config-file configs/kitti_mots_r101.yaml --resume        # continue
    python train_net.py --config-file configs/kitti_mots_r101.yaml --num-gpus 8 \\
        SOLVER.REFERENCE_WORLD_SIZE 1                                             # multi-GPU
    python train_net.py --config-file configs/demo_synthetic.yaml MODEL.DEVICE cpu  # no GPU
    python train_net.py --config-file configs/kitti_mots_R_50_FPN_LSJ.py train.max_iter=1000

A config file ending in .py is a detectron2 LazyConfig: its overrides are key=value
(train.device=cpu, train.output_dir=..., dataloader.train.dataset.names=...), with the same
flags and outputs.

SOLVER.IMS_PER_BATCH is the number of frames per iteration over all GPUs (detectron2's rule),
a multiple of INPUT.CLIP_LENGTH x GPUs. The configs are set for one GPU; with
``SOLVER.REFERENCE_WORLD_SIZE 1`` detectron2 scales IMS_PER_BATCH, BASE_LR and the schedule
linearly to the number of GPUs (one clip per GPU for the shipped configs).

Training starts only in an OUTPUT_DIR without a previous run: with ``--resume`` it continues that
run; otherwise choose another OUTPUT_DIR (checkpoints of two runs are never mixed).
``--eval-only`` writes its config.yaml and log.txt to ``OUTPUT_DIR/inference/`` (a training
run's own stay untouched) and replaces ``OUTPUT_DIR/inference/<dataset>/`` as a whole.
Flags may come before or after the KEY VALUE overrides. MODEL.DEVICE cuda on a machine without
a CUDA GPU runs on the CPU, with a warning.
"""
# Arguments first: --help and a mistyped flag answer without loading torch and detectron2.
from trackrcnn_d2.engine.arguments import default_argument_parser
from trackrcnn_d2.utils.upstream_warnings import silence_known_upstream_warnings

# At import, so that the processes that detectron2's launch spawns (they import this script
# again) print torch's and detectron2's known deprecation notices no more than this one.
silence_known_upstream_warnings()


def parse_args(argv=None):
    """detectron2's arguments (``--config-file``, ``--resume``, ``--eval-only``, ``--num-gpus``,
    ``--num-machines``, ``--machine-rank``, ``--dist-url``) and the ``KEY VALUE`` config
    overrides; the flags may also follow the overrides."""
    parser = default_argument_parser(
        prog="train_net.py",
        description=__doc__.split("\n\n", 1)[0],
        epilog=__doc__.split("\n\n", 1)[1],
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    args = parse_args()
    # The trainer and the set-up (trackrcnn_d2/engine/trainer.py, train_net.py there): the
    # input checked once, then detectron2's launch runs them in each process.
    from trackrcnn_d2.engine.train_net import launch_from_args

    launch_from_args(args)
