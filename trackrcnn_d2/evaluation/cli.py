"""Standalone MOTS evaluation, identical to TrackEval's KITTI MOTS / MOTSChallenge numbers::

    python -m trackrcnn_d2.evaluation GT RESULTS [--seqmap FILE] [--classes car,pedestrian]
                                                 [--json OUT.json] [--workers N]
    python -m trackrcnn_d2.evaluation GT RESULTS [RESULTS_B] --report DIR [--images IMAGE_ROOT]
                                                 [--compare RESULTS_B] [--overwrite]

GT: a folder of ``<seq>.txt`` (KITTI MOTS ``instances_txt``), of ``<seq>/<frame>.png`` (KITTI
MOTS ``instances``) or of ``<seq>/gt/gt.txt`` (MOTSChallenge). RESULTS: a folder of
``<seq>.txt``. The sequences are those of the seqmap, or else all of GT. Without ``--classes``,
the classes present in GT or results are evaluated (so MOTSChallenge gives pedestrians only); a
class named in ``--classes`` that has neither GT nor results is reported with TrackEval's values
for that case (zeros). Prints a per-sequence and combined table per class; ``--json`` writes
``evaluate_mots``'s dict (rates in percent, counts as integers) atomically. The sequences are
read and evaluated one at a time (memory does not grow with their number), by ``--workers``
processes in parallel (the same numbers). Exit status 2 with a one-line message on bad input.

``--report DIR`` also writes the evaluation report (:mod:`trackrcnn_d2.evaluation.report`):
``DIR/index.html`` with tables, charts and track timelines, error views of the frames with
``--images``, and a second run side by side with ``RESULTS_B`` (or ``--compare RESULTS_B``). A
``DIR`` that holds files is replaced only with ``--overwrite``; the tables printed and ``--json``
are the first run's. The report needs the matching of every sequence, so it evaluates all of
them in this process (without ``--workers``).
"""
import argparse
import json
import os
import shlex
import sys
import warnings
from typing import List, Optional, Sequence

from trackrcnn_d2.data.mots_io import MOTS_CLASS_IDS, MOTSFormatError
from trackrcnn_d2.utils.arguments import whole_number

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
    parser.add_argument(
        "results_b", metavar="RESULTS_B", nargs="?",
        help="a second results folder, shown beside the first in the report (as --compare)",
    )  # fmt: skip
    parser.add_argument("--seqmap", help="sequences to evaluate ('<seq> empty <first> <last>')")
    parser.add_argument(
        "--classes",
        type=_parse_classes,
        help="comma-separated classes (default: those present in GT or results)",
    )
    parser.add_argument("--json", metavar="OUT.json", help="write the results as JSON")
    parser.add_argument(
        "--workers",
        type=whole_number(1),
        default=1,
        metavar="N",
        help="processes evaluating the sequences in parallel (default 1: this one; not with "
        "--report)",
    )
    report = parser.add_argument_group("evaluation report")
    report.add_argument(
        "--report", metavar="DIR",
        help="write a report (DIR/index.html: tables, charts, track timelines, error views)",
    )  # fmt: skip
    report.add_argument(
        "--images", metavar="IMAGE_ROOT",
        help="the frames, <seq>/<frame:06d>.png or <seq>/img1/<frame:06d>.jpg: error views",
    )  # fmt: skip
    report.add_argument(
        "--compare", metavar="RESULTS_B", help="a second results folder, shown side by side"
    )
    report.add_argument(
        "--views", choices=("errors", "switches"),
        help="frames with an error view: every frame with an error (default), or only those "
        "with an identity switch or fragmentation",
    )  # fmt: skip
    report.add_argument(
        "--overwrite", action="store_true", help="replace a --report folder that holds files"
    )
    return parser


def _report_arguments(parser: argparse.ArgumentParser, args) -> Optional[str]:
    """The second results folder, after checking that the report options go together."""
    for option, value in (("--report", args.report), ("--images", args.images),
                          ("--compare", args.compare)):  # fmt: skip
        if value is not None and not value.strip():
            parser.error(f"{option} is empty: give a folder (an unset variable?)")
    if args.results_b and args.compare:
        parser.error("give the second results folder once: RESULTS_B or --compare RESULTS_B")
    second = args.results_b or args.compare
    if args.report is not None and args.workers > 1:
        parser.error("--report evaluates every sequence in this process (it needs their "
                     "matching): leave out --workers")
    if args.report is None:
        for given, option in ((second, "a second results folder"), (args.images, "--images"),
                              (args.views, "--views"), (args.overwrite, "--overwrite")):
            if given:
                parser.error(f"{option} is for the report: add --report DIR")
    return second


def check_json_target(path: str, inputs: Sequence[str]) -> None:
    """Refuse, before any work, a ``--json`` path that would replace an input (a ground-truth or
    result file, the seqmap); the output policy (utils/file_io.py) checks the rest."""
    target = os.path.realpath(path)
    for source in map(os.path.realpath, inputs):
        inside = target.startswith(source + os.sep) and target.endswith((".txt", ".png"))
        if target == source or inside:
            raise FileExistsError(
                f"--json {path} would replace the input {target}; choose another path"
            )


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    second = _report_arguments(parser, args)
    user_errors = (MOTSEvaluationError, MOTSFormatError, OSError)
    if args.report:  # the plain command starts faster without these imports
        from trackrcnn_d2.utils.cli import UserError

        user_errors += (UserError,)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        json_output = None
        try:
            inputs = [args.gt, args.results] + [p for p in (args.seqmap, second) if p]
            if args.json is not None:  # also "" (an unset variable): refused
                from trackrcnn_d2.utils.file_io import OutputFile  # only for --json

                check_json_target(args.json, inputs)
                json_output = OutputFile(args.json, what="--json")
            if args.report:
                report, written = _write_report(args, second, inputs, argv)
            else:
                report = evaluate_mots_folders(
                    args.gt, args.results, args.classes, args.seqmap, workers=args.workers
                )
        except user_errors as e:
            _print_warnings(caught)
            print(f"error: {_message(e)}", file=sys.stderr)
            return 2
    _print_warnings(caught)
    class_names = [name for name in report if name != "per_sequence"]
    print(format_mots_table(report, class_names))
    if json_output is not None:
        try:
            json_output.write(json.dumps(report, indent=2) + "\n")
        except OSError as e:
            print(f"error: cannot write {args.json} ({_message(e)})", file=sys.stderr)
            return 2
        print(f"wrote {args.json}")
    if args.report:
        views = f", {written.n_views} error views" if args.images else ""
        print(f"wrote the report {os.path.join(args.report, 'index.html')}{views}")
    return 0


def _write_report(args, second: Optional[str], inputs: List[str], argv):
    """Check the report's folder, then evaluate and write the report: ``(the first run's
    report, the written report)``."""
    from trackrcnn_d2.utils.cli import check_output_folder

    from .report import write_folder_report  # only for --report

    images = [args.images] if args.images else []
    check_output_folder(args.report, args.overwrite, inputs + images)
    words = sys.argv[1:] if argv is None else list(argv)
    command = "python -m trackrcnn_d2.evaluation " + " ".join(shlex.quote(w) for w in words)
    written, reports = write_folder_report(
        args.report, args.gt, [args.results] + ([second] if second else []), args.classes,
        args.seqmap, args.images, command, args.views or "errors",
    )  # fmt: skip
    return reports[0], written


def _message(error: Exception) -> str:
    if isinstance(error, OSError) and error.filename is not None and error.strerror:
        return f"{error.filename}: {error.strerror}"
    return str(error)


def _print_warnings(caught) -> None:
    for warning in caught:
        print(f"warning: {warning.message}", file=sys.stderr)
