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


def _cell(values: Mapping[str, object], field: str) -> str:
    value = values[field]
    return f"{value:.1f}" if field in PERCENT_FIELDS else f"{value:d}"


def format_mots_table(
    report: Mapping, class_names: Sequence[str], per_sequence: bool = True
) -> str:
    """Per class a block with one row per sequence and the combined row (``per_sequence``), or
    one block with the combined row of each class. Columns are 8 characters wide, wider where a
    cell needs it (e.g. sMOTSA -9100.0 for a sequence with 91 false positives and no ground
    truth), so that neighbouring cells never touch."""
    if per_sequence:
        blocks = [
            (name, [(s, report["per_sequence"][s][name]) for s in report["per_sequence"]]
             + [("COMBINED", report[name])])
            for name in class_names
        ]  # fmt: skip
    else:
        blocks = [("", [(name, report[name]) for name in class_names])]
    width = max(len(label) for _, rows in blocks for label, _ in rows)
    cells = [[_cell(values, f) for f in TABLE_FIELDS] for _, rows in blocks for _, values in rows]
    widths = [
        max(8, len(field) + 1, *(len(row[i]) + 1 for row in cells))
        for i, field in enumerate(TABLE_FIELDS)
    ]
    header = " " * width + "".join(f"{f:>{w}}" for f, w in zip(TABLE_FIELDS, widths))
    lines, row_cells = [], iter(cells)
    for title, rows in blocks:
        lines += ([title] if title else []) + [header]
        for label, _ in rows:
            row = "".join(f"{c:>{w}}" for c, w in zip(next(row_cells), widths))
            lines.append(f"{label:<{width}}" + row)
        lines.append("")
    return "\n".join(lines)
