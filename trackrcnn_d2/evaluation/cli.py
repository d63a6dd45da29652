"""Standalone MOTS evaluation, identical to TrackEval's KITTI MOTS / MOTSChallenge numbers::

    python -m trackrcnn_d2.evaluation GT RESULTS [--seqmap FILE] [--classes car,pedestrian]
                                                 [--json OUT.json] [--workers N]

GT: a folder of ``<seq>.txt`` (KITTI MOTS ``instances_txt``), of ``<seq>/<frame>.png`` (KITTI
MOTS ``instances``) or of ``<seq>/gt/gt.txt`` (MOTSChallenge). RESULTS: a folder of
``<seq>.txt``. The sequences are those of the seqmap, or else all of GT. Without ``--classes``,
the classes present in GT or results are evaluated (so MOTSChallenge gives pedestrians only); a
class named in ``--classes`` that has neither GT nor results is reported with TrackEval's values
for that case (zeros). Prints a per-sequence and combined table per class; ``--json`` writes
``evaluate_mots``'s dict (rates in percent, counts as integers) atomically. The sequences are
read and evaluated one at a time (memory does not grow with their number), by ``--workers``
processes in parallel (the same numbers). Exit status 2 with a one-line message on bad input.
"""
import argparse
import json
import os
import sys
import warnings
from typing import List, Optional, Sequence

from trackrcnn_d2.data.mots_io import MOTS_CLASS_IDS, MOTSFormatError

from .files import evaluate_mots_folders
from .metrics import MOTSEvaluationError
from .table import format_mots_table


def _parse_classes(text: str) -> List[str]:
    names = [c.strip() for c in text.split(",") if c.strip()]
    unknown = [c for c in names if c not in MOTS_CLASS_IDS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown class(es) {unknown}; choose from {', '.join(MOTS_CLASS_IDS)}"
        )
    return names


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m trackrcnn_d2.evaluation",
        description="MOTS evaluation (sMOTSA, MOTSA, MOTSP, IDS, HOTA, IDF1, ...), identical to "
        "TrackEval's KITTI MOTS / MOTSChallenge evaluation.",
    )
    parser.add_argument(
        "gt", metavar="GT", help="folder of <seq>.txt, <seq>/<frame>.png or <seq>/gt/gt.txt"
    )
    parser.add_argument("results", metavar="RESULTS", help="folder of <seq>.txt result files")
    parser.add_argument("--seqmap", help="sequences to evaluate ('<seq> empty <first> <last>')")
    parser.add_argument(
        "--classes",
        type=_parse_classes,
        help="comma-separated classes (default: those present in GT or results)",
    )
    parser.add_argument("--json", metavar="OUT.json", help="write the results as JSON")
    parser.add_argument(
        "--workers",
        type=_positive_int,
        default=1,
        metavar="N",
        help="processes evaluating the sequences in parallel (default 1: this one)",
    )
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def check_json_target(path: str, inputs: Sequence[str]) -> None:
    """Refuse, before any work, a ``--json`` path that would replace an input (a ground-truth or
    result file, the seqmap) or that cannot be written."""
    target = os.path.realpath(path)
    for source in map(os.path.realpath, inputs):
        inside = target.startswith(source + os.sep) and target.endswith((".txt", ".png"))
        if target == source or inside:
            raise FileExistsError(
                f"--json {path} would replace the input {target}; choose another path"
            )
    if os.path.isdir(target):
        raise IsADirectoryError(f"--json {path} is a folder; give a file name")
    folder = os.path.dirname(target)
    while not os.path.exists(folder):  # the writer creates the missing folders
        folder = os.path.dirname(folder)
    if not os.path.isdir(folder) or not os.access(folder, os.W_OK | os.X_OK):
        raise PermissionError(f"--json {path}: cannot write into {folder}")


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if args.json:
                inputs = [args.gt, args.results] + ([args.seqmap] if args.seqmap else [])
                check_json_target(args.json, inputs)
            report = evaluate_mots_folders(
                args.gt, args.results, args.classes, args.seqmap, workers=args.workers
            )
        except (MOTSEvaluationError, MOTSFormatError, OSError) as e:
            _print_warnings(caught)
            print(f"error: {e}", file=sys.stderr)
            return 2
    _print_warnings(caught)
    class_names = [name for name in report if name != "per_sequence"]
    print(format_mots_table(report, class_names))
    if args.json:
        from trackrcnn_d2.utils.file_io import atomic_write_text  # only for --json

        try:
            atomic_write_text(args.json, json.dumps(report, indent=2) + "\n")
        except OSError as e:
            print(f"error: cannot write {args.json} ({e})", file=sys.stderr)
            return 2
        print(f"wrote {args.json}")
    return 0


def _print_warnings(caught) -> None:
    for warning in caught:
        print(f"warning: {warning.message}", file=sys.stderr)
