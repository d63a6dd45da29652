"""The one printed form of :func:`~.metrics.evaluate_mots`'s report, for the standalone command
and the detectron2 evaluator."""
from typing import Mapping, Sequence

from .metrics import PERCENT_FIELDS

__all__ = ["TABLE_FIELDS", "format_mots_table"]

# Columns of the table: rates in percent with one decimal, counts as integers.
TABLE_FIELDS = (
    "sMOTSA", "MOTSA", "MOTSP", "IDS", "TP", "FP", "FN", "GT",
    "HOTA", "DetA", "AssA", "LocA", "IDF1", "IDP", "IDR", "MT", "PT", "ML", "Frag",
)  # fmt: skip


def _cells(values: Mapping[str, object]) -> str:
    return "".join(
        f"{values[f]:>8.1f}" if f in PERCENT_FIELDS else f"{values[f]:>8d}" for f in TABLE_FIELDS
    )


def format_mots_table(
    report: Mapping, class_names: Sequence[str], per_sequence: bool = True
) -> str:
    """Per class a block with one row per sequence and the combined row (``per_sequence``), or
    one block with the combined row of each class."""
    if per_sequence:
        blocks = [
            (name, [(s, report["per_sequence"][s][name]) for s in report["per_sequence"]]
             + [("COMBINED", report[name])])
            for name in class_names
        ]  # fmt: skip
    else:
        blocks = [("", [(name, report[name]) for name in class_names])]
    width = max(len(label) for _, rows in blocks for label, _ in rows)
    header = " " * width + "".join(f"{field:>8}" for field in TABLE_FIELDS)
    lines = []
    for title, rows in blocks:
        lines += ([title] if title else []) + [header]
        lines += [f"{label:<{width}}" + _cells(values) for label, values in rows] + [""]
    return "\n".join(lines)
