"""The report's charts (matplotlib, imported only here, and only when a report is written):
per class, per-sequence bars of sMOTSA, HOTA and IDS, and TrackEval's curves of HOTA, DetA, AssA
and LocA against the localisation threshold alpha. Two runs are told apart by colour and hatch,
the curves by colour, line style and marker.

Figures are built without pyplot (no global state, no GUI backend) and saved as SVG with text as
paths, so they look the same in every browser.
"""

from typing import Dict, List, Sequence, Tuple

from .legend import RUN_STYLES

__all__ = ["sequence_bars", "alpha_curves", "save_svg", "BAR_FIELDS", "CURVE_STYLES"]

# Per-sequence bars: (field, axis label, value format).
BAR_FIELDS = (
    ("sMOTSA", "sMOTSA (%)", "{:.1f}"),
    ("HOTA", "HOTA (%)", "{:.1f}"),
    ("IDS", "IDS", "{:d}"),
)
# HOTA's curves against alpha: colour (Okabe & Ito), line style, marker.
CURVE_STYLES = {
    "HOTA": ("#0072B2", "-", "o"),
    "DetA": ("#D55E00", "--", "s"),
    "AssA": ("#009E73", "-.", "^"),
    "LocA": ("#CC79A7", ":", "D"),
}


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def sequence_bars(runs: Sequence[Tuple[str, dict]], class_name: str):
    """Per-sequence bars of :data:`BAR_FIELDS` for one class; ``runs``: ``(name, report)``
    with :func:`~trackrcnn_d2.evaluation.evaluate_mots`'s reports. Each bar is labelled with
    its value as the report's table prints it."""
    sequences = list(runs[0][1]["per_sequence"])
    n_runs = len(runs)
    panel_width = 0.32 * len(sequences) * n_runs + 1.1
    stacked = len(sequences) * n_runs > 8  # else few bars: the three charts side by side
    if not stacked:
        figure = _figure(max(6.0, 3 * panel_width), 3.0)
        axes = figure.subplots(1, len(BAR_FIELDS))
    else:
        figure = _figure(max(6.0, panel_width + 0.6), 2.3 * len(BAR_FIELDS))
        axes = figure.subplots(len(BAR_FIELDS), 1, sharex=True)
    bar_width = 0.8 / n_runs
    for ax, (field, axis_label, value_format) in zip(axes, BAR_FIELDS):
        for r, (name, report) in enumerate(runs):
            values = [report["per_sequence"][s][class_name][field] for s in sequences]
            positions = [i + (r - (n_runs - 1) / 2) * bar_width for i in range(len(sequences))]
            style = RUN_STYLES[r]
            bars = ax.bar(
                positions,
                values,
                bar_width,
                label=name,
                color=style["color"],
                hatch=style["hatch"],
                edgecolor="black",
                linewidth=0.5,
            )
            ax.bar_label(
                bars,
                labels=[value_format.format(v) for v in values],
                fontsize=7,
                padding=1,
                rotation=90 if len(sequences) * n_runs > 16 else 0,
            )
        ax.set_ylabel(axis_label)
        ax.set_title(field, fontsize=9)
        ax.axhline(0, color="black", linewidth=0.6)
        ax.margins(y=0.18)
        ax.grid(axis="y", linewidth=0.3)
    for ax in axes[-1:] if stacked else axes:
        ax.set_xticks(range(len(sequences)), sequences, rotation=45 if len(sequences) > 8 else 0)
        ax.set_xlabel("sequence")
    figure.suptitle(f"{class_name}: per sequence", fontsize=10)
    if n_runs > 1:
        axes[0].legend(fontsize=8, loc="upper right")
    return figure


def alpha_curves(
    runs: Sequence[Tuple[str, Dict[str, List[float]]]],
    alphas,
    class_name: str,
    means: Sequence[Dict[str, float]],
):
    """TrackEval's HOTA plot: HOTA, DetA, AssA and LocA (%) against alpha, one panel per run;
    ``runs``: ``(name, curves)`` (:meth:`~trackrcnn_d2.evaluation.metrics.MOTSMatching
    .alpha_curves`); ``means``: each run's reported values, shown in the legend."""
    figure = _figure(4.4 * len(runs), 3.2)
    axes = figure.subplots(1, len(runs), squeeze=False)[0]
    for ax, (name, curves), mean in zip(axes, runs, means):
        for field, (colour, line, marker) in CURVE_STYLES.items():
            ax.plot(
                alphas,
                curves[field],
                color=colour,
                linestyle=line,
                marker=marker,
                markersize=3.5,
                linewidth=1.4,
                label=f"{field} ({mean[field]:.1f})",
            )
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 100)
        ax.set_xlabel("localisation threshold \u03b1")
        ax.set_ylabel("score (%)")
        ax.set_title(f"{class_name}" + (f" \u2014 {name}" if len(runs) > 1 else ""))
        ax.grid(linewidth=0.3)
        ax.legend(fontsize=8, loc="lower left")
    return figure


def save_svg(figure, path: str) -> None:
    """Save a figure as SVG with its text as paths and without a date (same input, same file)."""
    import matplotlib

    from trackrcnn_d2.utils.file_io import atomic_open

    settings = {"svg.fonttype": "path", "svg.hashsalt": "trackrcnn_d2"}
    with matplotlib.rc_context(settings), atomic_open(path, "wb") as f:
        figure.savefig(f, format="svg", metadata={"Date": None})
