"""The report page: one static ``index.html`` (no script, nothing fetched) with, per class, the
metrics table and the charts; for two runs the differences and the identity switches made by one
run only; the legend; per sequence the track timelines, the tracks never found and the most
persistent false positives, linked to the error views.

Every number of a table cell is the report's (``metrics.json``, the ``--json`` output), printed
as the command's table prints it (rates with one decimal, counts as integers); the cell's
``data-value`` and tooltip hold the exact value.
"""

import html
import json
import urllib.parse
from typing import Dict, List, Optional, Sequence, Tuple

from ..metrics import PERCENT_FIELDS
from ..table import TABLE_FIELDS
from .compare import DELTA_FIELDS, LOWER_IS_BETTER, switch_differences
from .legend import ERROR_STYLES, hex_colour, track_colour
from .timeline import timeline_svg

__all__ = ["report_page", "format_value"]

# The identity switches of one run only, listed per sequence up to this many.
MAX_SWITCH_ROWS = 200
MAX_FALSE_POSITIVE_ROWS = 10

_STYLE = """
body{font-family:"DejaVu Sans",Arial,sans-serif;margin:1.5em auto;max-width:1400px;color:#222;
padding:0 1em}
h1{font-size:1.6em}h2{border-bottom:2px solid #0072B2;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;font-size:.82em;margin:.6em 0}
th,td{border:1px solid #ccc;padding:2px 6px;text-align:right}th{background:#f1f1f1}
td.name,th.name{text-align:left}tr.combined td{font-weight:bold;background:#f7f7f7}
td.better{background:#d6ebf7}td.worse{background:#fbe3cf}
img.chart{max-width:100%;border:1px solid #eee;margin:.4em .4em 0 0;vertical-align:top}
code{background:#f4f4f4;padding:1px 4px;word-break:break-all}
nav a{margin-right:.8em}.counts{font-size:.9em}.note{color:#555;font-size:.88em}
svg.timeline{border:1px solid #eee;margin:.3em 0}svg.swatch{vertical-align:middle}
details{margin:.4em 0}summary{cursor:pointer}
"""


def format_value(field: str, value) -> str:
    """A report value as the command's table prints it."""
    return f"{value:.1f}" if field in PERCENT_FIELDS else f"{int(value):d}"


def _e(text) -> str:
    return html.escape(str(text))


def _url(path: str) -> str:
    """A relative link to a file of the report (names may hold spaces or other characters)."""
    return _e(urllib.parse.quote(path))


def _anchor(sequences: Sequence[str], sequence: str) -> str:
    """The id of a sequence's section (sequence names may hold characters ids cannot)."""
    return f"seq-{list(sequences).index(sequence)}"


def _cell(field: str, value, sequence: str, class_name: str) -> str:
    exact = json.dumps(value)
    return (
        f'<td data-class="{_e(class_name)}" data-sequence="{_e(sequence)}" data-field="{field}" '
        f'data-value="{exact}" title="{field} = {exact}">{format_value(field, value)}</td>'
    )


def _metrics_table(report: dict, class_name: str) -> str:
    header = "".join(f"<th>{f}</th>" for f in TABLE_FIELDS)
    rows = [
        (sequence, per_class[class_name], "")
        for sequence, per_class in report["per_sequence"].items()
    ] + [("COMBINED", report[class_name], ' class="combined"')]
    lines = []
    for name, values, attributes in rows:
        if name == "COMBINED":
            label = name
        else:
            label = f'<a href="#{_anchor(report["per_sequence"], name)}">{_e(name)}</a>'
        cells = "".join(_cell(f, values[f], name, class_name) for f in TABLE_FIELDS)
        lines.append(f'<tr{attributes}><td class="name">{label}</td>{cells}</tr>')
    return (
        f'<table class="metrics" data-class="{_e(class_name)}"><tr><th class="name">'
        f"sequence</th>{header}</tr>{''.join(lines)}</table>"
    )


def _delta_table(report_a: dict, report_b: dict, class_name: str) -> str:
    header = "".join(f"<th>{f}</th>" for f in DELTA_FIELDS)
    rows = [
        (s, report_a["per_sequence"][s][class_name], report_b["per_sequence"][s][class_name])
        for s in report_a["per_sequence"]
    ]
    rows.append(("COMBINED", report_a[class_name], report_b[class_name]))
    lines = []
    for name, a, b in rows:
        cells = []
        for field in DELTA_FIELDS:
            delta = b[field] - a[field]
            improved = delta < 0 if field in LOWER_IS_BETTER else delta > 0
            css = "" if delta == 0 else (' class="better"' if improved else ' class="worse"')
            arrow = "" if delta == 0 else (" \u25b2" if delta > 0 else " \u25bc")
            text = (f"{delta:+.1f}" if field in PERCENT_FIELDS else f"{int(delta):+d}") + arrow
            cells.append(
                f'<td{css} data-class="{_e(class_name)}" data-delta-field="{field}" '
                f'data-sequence="{_e(name)}" '
                f'data-a="{json.dumps(a[field])}" data-b="{json.dumps(b[field])}" '
                f'title="{field}: {format_value(field, a[field])} \u2192 '
                f'{format_value(field, b[field])}">{text}</td>'
            )
        attributes = ' class="combined"' if name == "COMBINED" else ""
        lines.append(f'<tr{attributes}><td class="name">{_e(name)}</td>{"".join(cells)}</tr>')
    return (
        f'<table class="deltas" data-class="{_e(class_name)}"><tr><th class="name">'
        f"sequence</th>{header}</tr>{''.join(lines)}</table>"
    )


def _switch(switch) -> str:
    return "\u2014" if switch is None else f"{switch[0]} \u2192 {switch[1]}"


def _frame_link(views: Dict[int, str], frame: int, text: str) -> str:
    path = views.get(frame)
    return _e(text) if path is None else f'<a href="{_url(path)}">{_e(text)}</a>'


def _switch_differences(runs, sequence: str) -> str:
    run_a, run_b = runs
    rows = switch_differences(run_a.logs[sequence], run_b.logs[sequence])
    if not rows:
        return '<p class="note">Both runs make the same identity switches.</p>'
    views_a, views_b = run_a.views.get(sequence, {}), run_b.views.get(sequence, {})
    lines = [
        f'<tr><td>{frame}</td><td class="name">{_e(c)} {gt_id}</td>'
        f"<td>{_frame_link(views_a, frame, _switch(a))}</td>"
        f"<td>{_frame_link(views_b, frame, _switch(b))}</td></tr>"
        for frame, c, gt_id, a, b in rows[:MAX_SWITCH_ROWS]
    ]
    more = len(rows) - MAX_SWITCH_ROWS
    note = f'<p class="note">and {more} more</p>' if more > 0 else ""
    return (
        f'<table class="switches"><tr><th>frame</th><th class="name">GT track</th>'
        f"<th>A: {_e(run_a.name)}</th><th>B: {_e(run_b.name)}</th></tr>{''.join(lines)}"
        f"</table>{note}"
    )


def _swatch(kind: str) -> str:
    """A small picture of how ``kind`` is drawn (see ERROR_STYLES)."""
    colour = hex_colour(ERROR_STYLES[kind].colour)
    fill = hex_colour(track_colour(3))
    shapes = {
        "tp": f'<rect x="2" y="2" width="30" height="14" fill="{fill}" stroke="#fff" '
        'stroke-width="1.5"/>',
        "fp": f'<rect x="2" y="2" width="30" height="14" fill="{fill}" stroke="{colour}" '
        'stroke-width="2.5" stroke-dasharray="4 3"/>',
        "fn": f'<pattern id="sw-fn" width="5" height="5" patternUnits="userSpaceOnUse">'
        f'<path d="M0 5L5 0M0 0L5 5" stroke="{colour}" stroke-width="1"/></pattern>'
        f'<rect x="2" y="2" width="30" height="14" fill="url(#sw-fn)" stroke="{colour}" '
        'stroke-width="2"/>',
        "ids": f'<rect x="2" y="2" width="30" height="14" fill="{fill}" stroke="{colour}" '
        f'stroke-width="3"/><path d="M36 2L46 2L41 10Z" fill="{colour}" stroke="#000" '
        'stroke-width="0.7"/>',
        "frag": f'<rect x="16" y="0" width="2" height="18" fill="{colour}"/>',
        "ignore": f'<pattern id="sw-ig" width="6" height="6" patternUnits="userSpaceOnUse">'
        f'<path d="M0 0L6 6" stroke="{colour}" stroke-width="1"/></pattern>'
        '<rect x="2" y="2" width="30" height="14" fill="url(#sw-ig)"/>',
        "ignored": f'<rect x="2" y="2" width="30" height="14" fill="none" stroke="{colour}" '
        'stroke-width="1.5" stroke-dasharray="1 2"/>',
    }
    return f'<svg class="swatch" width="48" height="18">{shapes[kind]}</svg>'


def _legend() -> str:
    rows = "".join(
        f'<tr><td class="name">{_swatch(kind)}</td><td class="name">{_e(style.label)}</td>'
        f'<td class="name">{_e(style.mark)}</td><td class="name">{_e(style.meaning)}</td></tr>'
        for kind, style in ERROR_STYLES.items()
    )
    return (
        '<section id="legend"><h2>Legend</h2><table><tr><th class="name">mark</th>'
        '<th class="name">label on the frames</th><th class="name">drawn as</th>'
        f'<th class="name">meaning</th></tr>{rows}</table><p class="note">Timelines: one row per '
        "GT track, each frame coloured by the hypothesis matched there (its id in the tooltip), "
        "hatched where the track is missed, nothing where the track has no mask; the last row "
        "of each class shows the false positives per frame. Marks link to their frame's error "
        "view where images were given. Colours are colour-blind safe; every kind also has its "
        "own shape or hatch and label.</p></section>"
    )


def _counts_line(run, sequence: str) -> str:
    log = run.logs[sequence]
    parts = []
    for class_name in log.class_names:
        counts = log.counts(class_name)
        parts.append(
            f"<b>{_e(class_name)}</b>: "
            + " \u00b7 ".join(f"{name} {value}" for name, value in counts.items())
        )
    return f'<p class="counts">{" | ".join(parts)}</p>'


def _never_found(run, sequence: str) -> str:
    tracks = [t for t in run.logs[sequence].tracks if t.misses == len(t.frames)]
    if not tracks:
        return ""
    items = ", ".join(f"{_e(t.class_name)} {t.gt_id} ({len(t.frames)} frames)" for t in tracks)
    return (
        f"<details><summary>Never found: {len(tracks)} GT track(s)</summary>"
        f'<p class="note">{items}</p></details>'
    )


def _persistent_false_positives(run, sequence: str) -> str:
    rows = run.logs[sequence].persistent_false_positives()
    if not rows:
        return ""
    views = run.views.get(sequence, {})
    lines = "".join(
        f'<tr><td class="name">{_e(c)} {h}</td><td>{n_fp}</td><td>{n_tp}</td>'
        f"<td>{_frame_link(views, first, str(first))}</td><td>{_frame_link(views, last, str(last))}"
        "</td></tr>"
        for c, h, n_fp, n_tp, first, last in rows[:MAX_FALSE_POSITIVE_ROWS]
    )
    return (
        f"<details><summary>Most persistent false positives ({min(len(rows), 10)} of "
        f"{len(rows)} hypothesis tracks with false positives)</summary><table><tr>"
        '<th class="name">hypothesis</th><th>FP frames</th><th>TP frames</th><th>first FP</th>'
        f"<th>last FP</th></tr>{lines}</table></details>"
    )


def _sequence_section(runs, sequence: str) -> str:
    sequences = runs[0].matching.ground_truth.sequences
    anchor = _anchor(sequences, sequence)
    parts = [f'<section id="{anchor}"><h3>{_e(sequence)}</h3>']
    for index, run in enumerate(runs):
        if len(runs) > 1:
            parts.append(f"<h4>{'AB'[index]}: {_e(run.name)}</h4>")
        parts.append(_counts_line(run, sequence))
        views = run.views.get(sequence, {})
        if views:
            log = run.logs[sequence]
            telling = max(views, key=lambda f: log.by_frame[f].severity())
            parts.append(
                f'<p class="note">{len(views)} error views (frames with errors, in '
                f"{_e(views[telling].rsplit('/', 1)[0])}/); the most telling: "
                f"{_frame_link(views, telling, f'frame {telling}')}</p>"
            )
        links = {frame: urllib.parse.quote(path) for frame, path in views.items()}
        parts.append(timeline_svg(run.logs[sequence], links.get, f"tl{index}-{anchor}"))
        parts.append(_never_found(run, sequence) + _persistent_false_positives(run, sequence))
    if len(runs) > 1:
        parts.append("<h4>Identity switches in one run only</h4>")
        parts.append(_switch_differences(runs, sequence))
    return "".join(parts) + "</section>"


def report_page(
    runs: Sequence,
    charts: Dict[str, Tuple[str, str]],
    command: Optional[str] = None,
    gt_source: Optional[str] = None,
) -> str:
    """The page of one or two :class:`~.writer.ReportRun` (with their ``views`` written);
    ``charts``: per class the paths of its bar chart and its alpha curves."""
    first = runs[0]
    class_names = first.matching.class_names
    sequences = first.matching.ground_truth.sequences
    nav = [f'<a href="#class-{_e(c)}">{_e(c)}</a>' for c in class_names]
    nav += ['<a href="#legend">legend</a>', '<a href="#sequences">sequences</a>']
    head = ["<h1>MOTS evaluation report</h1>"]
    if gt_source:
        head.append(f"<p>Ground truth: <code>{_e(gt_source)}</code></p>")
    for index, run in enumerate(runs):
        label = f"{'AB'[index]}: " if len(runs) > 1 else ""
        source = f" (<code>{_e(run.source)}</code>)" if run.source else ""
        metrics = "metrics.json" if index == 0 else "compare/metrics.json"
        head.append(
            f"<p>Results {label}<b>{_e(run.name)}</b>{source}: all numbers in "
            f'<a href="{metrics}">{metrics}</a></p>'
        )
    if command:
        head.append(f"<p>Made by <code>{_e(command)}</code></p>")
    head.append(f"<nav>{''.join(nav)}</nav>")
    body: List[str] = []
    for class_name in class_names:
        body.append(f'<section id="class-{_e(class_name)}"><h2>{_e(class_name)}</h2>')
        for index, run in enumerate(runs):
            if len(runs) > 1:
                body.append(f"<h3>{'AB'[index]}: {_e(run.name)}</h3>")
            body.append(_metrics_table(run.matching.report, class_name))
        if len(runs) > 1:
            body.append("<h3>B \u2212 A</h3>")
            body.append(_delta_table(runs[0].matching.report, runs[1].matching.report, class_name))
        bars, curves = charts[class_name]
        body.append(
            f'<img class="chart" src="{_url(bars)}" alt="{_e(class_name)}: sMOTSA, HOTA and IDS '
            f'per sequence"><img class="chart" src="{_url(curves)}" alt="{_e(class_name)}: HOTA, '
            'DetA, AssA and LocA against alpha"></section>'
        )
    body.append(_legend())
    body.append('<section id="sequences"><h2>Sequences</h2><p>')
    body.append(
        " ".join(f'<a href="#{_anchor(sequences, s)}">{_e(s)}</a>' for s in sequences) + "</p>"
    )
    body.extend(_sequence_section(runs, sequence) for sequence in sequences)
    body.append("</section>")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        "<title>MOTS evaluation report</title>"
        f"<style>{_STYLE}</style></head><body>{''.join(head + body)}</body></html>\n"
    )
