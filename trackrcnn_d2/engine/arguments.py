"""The command line of ``train_net.py``: detectron2's ``default_argument_parser`` (the same flags,
defaults and help), without importing torch or detectron2, so that ``--help`` and a mistyped
flag answer at once; and with ``--resume`` (or any flag) accepted after the ``KEY VALUE``
config overrides, where detectron2's parser would take it for an override.
"""
import argparse
import os
import sys
from typing import Optional

__all__ = ["MOTSArgumentParser", "config_file_argument", "default_argument_parser"]


class MOTSArgumentParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose ``parse_args`` lets flags and positional arguments mix
    (``parse_intermixed_args``): ``KEY VALUE --resume KEY VALUE`` parses as the user meant.
    Values that start with ``-`` stay overrides when they are numbers (``SOLVER.BASE_LR -1``).
    A missing ``--config-file`` is named with an example."""

    def parse_args(self, args=None, namespace=None):
        parsed = self.parse_intermixed_args(args, namespace)
        if not getattr(parsed, "config_file", True):
            self.error("--config-file is required, e.g. --config-file configs/kitti_mots_r101.yaml")
        return parsed


def config_file_argument(text: str) -> str:
    """``--config-file``'s type: an existing file (named in argparse's one-line error otherwise)."""
    if not os.path.isfile(text):
        what = "is a folder" if os.path.isdir(text) else "not found"
        raise argparse.ArgumentTypeError(
            f"config file {text} {what}; the shipped ones are in configs/"
        )
    return text


def default_port() -> int:
    """detectron2's default ``--dist-url`` port: fixed per user, so that a port left occupied by
    orphan processes of an earlier run shows up as such."""
    return 2**15 + 2**14 + hash(os.getuid() if sys.platform != "win32" else 1) % 2**14


def default_argument_parser(
    prog: Optional[str] = None, description: Optional[str] = None, epilog: Optional[str] = None
) -> MOTSArgumentParser:
    """detectron2's ``default_argument_parser`` (``detectron2.engine.defaults``):
    ``--config-file`` (required here, and checked to exist before anything is loaded),
    ``--resume``, ``--eval-only``, ``--num-gpus``, ``--num-machines``, ``--machine-rank``,
    ``--dist-url`` and the trailing ``opts``, with flags accepted anywhere among the ``opts``."""
    parser = MOTSArgumentParser(
        prog=prog,
        description=description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--config-file", default=None, metavar="FILE", type=config_file_argument,
        help="path to config file, e.g. configs/kitti_mots_r101.yaml",
    )  # fmt: skip
    parser.add_argument(
        "--resume",
        action="store_true",
        help="resume from the last checkpoint of OUTPUT_DIR (its last_checkpoint file); see "
        "detectron2's DefaultTrainer.resume_or_load()",
    )
    parser.add_argument("--eval-only", action="store_true", help="perform evaluation only")
    parser.add_argument(
        "--num-gpus", type=int, default=1,
        help="number of gpus *per machine* (default: %(default)s); with MODEL.DEVICE cpu, the "
        "number of processes",
    )  # fmt: skip
    parser.add_argument(
        "--num-machines", type=int, default=1,
        help="total number of machines (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--machine-rank", type=int, default=0,
        help="the rank of this machine (unique per machine; default: %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--dist-url",
        default=f"tcp://127.0.0.1:{default_port()}",
        help="initialization URL for pytorch distributed backend. See "
        "https://pytorch.org/docs/stable/distributed.html for details (default: %(default)s; "
        "'auto': a free port on this machine)",
    )
    parser.add_argument(
        "opts",
        nargs="*",
        default=[],
        metavar="KEY VALUE",
        help="config overrides: space-separated PATH.KEY VALUE pairs (e.g. MODEL.WEIGHTS m.pth "
        "SOLVER.BASE_LR 0.001); the flags above may come before, between or after them",
    )
    return parser
