"""The command line of ``train_net.py``: detectron2's ``default_argument_parser`` (the same flags
and help; ``--dist-url`` defaults to ``auto``, and ``--dist-timeout`` bounds the rendezvous:
:mod:`trackrcnn_d2.engine.launch`), without importing torch or detectron2, so that ``--help``
and a mistyped flag answer at once; and with ``--resume`` (or any flag) accepted after the
``KEY VALUE`` config overrides, where detectron2's parser would take it for an override.
"""
import argparse
import os
from typing import Optional

from trackrcnn_d2.engine.launch import LAUNCH_EPILOG, add_launch_arguments

__all__ = ["MOTSArgumentParser", "config_file_argument", "default_argument_parser"]


class MOTSArgumentParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose ``parse_args`` lets flags and positional arguments mix
    (``parse_intermixed_args``): ``KEY VALUE --resume KEY VALUE`` parses as the user meant.
    Values that start with ``-`` stay overrides when they are numbers (``SOLVER.BASE_LR -1``).
    A missing ``--config-file`` is named with an example."""

    @classmethod
    def from_docstring(cls, prog: str, doc: str) -> "MOTSArgumentParser":
        """A script's parser: its docstring's first paragraph as the description, the rest as
        the epilog, both as written."""
        return cls(
            prog=prog,
            description=doc.split("\n\n", 1)[0],
            epilog=doc.split("\n\n", 1)[1] if "\n\n" in doc else None,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

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


def default_argument_parser(
    prog: Optional[str] = None, description: Optional[str] = None, epilog: Optional[str] = None
) -> MOTSArgumentParser:
    """detectron2's ``default_argument_parser`` (``detectron2.engine.defaults``):
    ``--config-file`` (required here, and checked to exist before anything is loaded),
    ``--resume``, ``--eval-only``, ``--num-gpus``, ``--num-machines``, ``--machine-rank``,
    ``--dist-url``, ``--dist-timeout`` and the trailing ``opts``, with flags accepted anywhere
    among the ``opts``; the epilog ends with the multi-machine commands."""
    parser = MOTSArgumentParser(
        prog=prog,
        description=description,
        epilog=f"{epilog}\n\n{LAUNCH_EPILOG}" if epilog else LAUNCH_EPILOG,
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
    # --num-gpus, --num-machines, --machine-rank, --dist-url (default: auto, a free port) and
    # --dist-timeout, checked before any process starts.
    add_launch_arguments(parser)
    parser.add_argument(
        "opts",
        nargs="*",
        default=[],
        metavar="KEY VALUE",
        help="config overrides: space-separated PATH.KEY VALUE pairs (e.g. MODEL.WEIGHTS m.pth "
        "SOLVER.BASE_LR 0.001), or key=value for a LazyConfig (.py: train.max_iter=1000); the "
        "flags above may come before, between or after them",
    )
    return parser
