"""Standalone MOTS evaluation, identical to TrackEval's KITTI MOTS / MOTSChallenge numbers::

    python -m trackrcnn_d2.evaluation GT RESULTS [--seqmap FILE] [--classes car,pedestrian]
                                                 [--json OUT.json]

GT: a folder of ``<seq>.txt`` (KITTI MOTS ``instances_txt``) or of ``<seq>/gt/gt.txt``
(MOTSChallenge). RESULTS: a folder of ``<seq>.txt``. The sequences are those of the seqmap, or
else all of GT. Without ``--classes``, the classes present in GT or results are evaluated (so
MOTSChallenge gives pedestrians only); a class named in ``--classes`` that has neither GT nor
results is reported with TrackEval's values for that case (zeros). Prints a per-sequence and
combined table per class; ``--json`` writes ``evaluate_mots``'s dict (rates in percent, counts as
integers) atomically. Exit status 2 with a one-line message on bad input.
"""
import argparse
import json
import sys
import warnings
from typing import Dict, List, Optional, Sequence

from trackrcnn_d2.data.mots_io import MOTS_CLASS_IDS, MOTSFormatError, atomic_write_text

from .files import find_gt_files, load_gt_folder, load_results_folder
from .metrics import MOTSEvaluationError, MOTSGroundTruth, evaluate_mots

# Columns of the printed table: (field, header, format).
TABLE_COLUMNS = (
    ("sMOTSA", "sMOTSA", "{:.1f}"),
    ("MOTSA", "MOTSA", "{:.1f}"),
    ("MOTSP", "MOTSP", "{:.1f}"),
    ("IDS", "IDS", "{:d}"),
    ("TP", "TP", "{:d}"),
    ("FP", "FP", "{:d}"),
    ("FN", "FN", "{:d}"),
    ("GT", "GT", "{:d}"),
    ("HOTA", "HOTA", "{:.1f}"),
    ("DetA", "DetA", "{:.1f}"),
    ("AssA", "AssA", "{:.1f}"),
    ("LocA", "LocA", "{:.1f}"),
    ("IDF1", "IDF1", "{:.1f}"),
    ("IDP", "IDP", "{:.1f}"),
    ("IDR", "IDR", "{:.1f}"),
    ("MT", "MT", "{:d}"),
    ("PT", "PT", "{:d}"),
    ("ML", "ML", "{:d}"),
    ("Frag", "Frag", "{:d}"),
)


def format_table(report: Dict, class_names: Sequence[str]) -> str:
    """Readable table per class: one row per sequence, then the combined row."""
    sequences = list(report["per_sequence"])
    name_width = max([len("COMBINED")] + [len(s) for s in sequences])
    header = f"{'':<{name_width}}" + "".join(f"{h:>8}" for _, h, _ in TABLE_COLUMNS)
    lines = []
    for class_name in class_names:
        lines.append(f"{class_name}")
        lines.append(header)
        rows = [(s, report["per_sequence"][s][class_name]) for s in sequences]
        rows.append(("COMBINED", report[class_name]))
        for name, values in rows:
            cells = "".join(f"{fmt.format(values[field]):>8}" for field, _, fmt in TABLE_COLUMNS)
            lines.append(f"{name:<{name_width}}" + cells)
        lines.append("")
    return "\n".join(lines)


def _present_classes(*datasets) -> List[str]:
    present = {
        o.class_id
        for data in datasets
        for frames in data.values()
        for objects in frames.values()
        for o in objects
    }
    return [name for name, class_id in MOTS_CLASS_IDS.items() if class_id in present]


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
    parser.add_argument("gt", metavar="GT", help="folder of <seq>.txt or <seq>/gt/gt.txt")
    parser.add_argument("results", metavar="RESULTS", help="folder of <seq>.txt result files")
    parser.add_argument("--seqmap", help="sequences to evaluate ('<seq> empty <first> <last>')")
    parser.add_argument(
        "--classes",
        type=_parse_classes,
        help="comma-separated classes (default: those present in GT or results)",
    )
    parser.add_argument("--json", metavar="OUT.json", help="write the results as JSON")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            gt, frame_ranges = load_gt_folder(args.gt, args.seqmap)
            results = load_results_folder(args.results, list(gt), list(find_gt_files(args.gt)))
            class_names = args.classes or _present_classes(gt, results) or list(MOTS_CLASS_IDS)
            report = evaluate_mots(MOTSGroundTruth(gt, frame_ranges), results, class_names)
        except (MOTSEvaluationError, MOTSFormatError, FileNotFoundError) as e:
            _print_warnings(caught)
            print(f"error: {e}", file=sys.stderr)
            return 2
    _print_warnings(caught)
    print(format_table(report, class_names))
    if args.json:
        atomic_write_text(args.json, json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


def _print_warnings(caught) -> None:
    for warning in caught:
        print(f"warning: {warning.message}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
