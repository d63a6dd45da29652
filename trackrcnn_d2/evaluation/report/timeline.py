"""Track timelines: per sequence an SVG with one row per GT track over its frames, each frame
coloured by the hypothesis matched there, misses hatched, identity switches (triangles) and
fragmentations (bars) marked, and per class a row of false positives per frame.

Written as SVG text (not through matplotlib): every mark carries a tooltip (``<title>``) and a
link to its frame's error view, which a browser follows from disk without any script. The marks
come from :mod:`.matching_log`, i.e. from the metrics' own matching; each row also states its
counts (``data-fn``, ``data-ids``, ``data-frag``), which the tests compare with the metrics.
"""

import html
from typing import Callable, List, Optional

import numpy as np

from .legend import ERROR_STYLES, hex_colour, track_colour
from .matching_log import SequenceLog, TrackLog

__all__ = ["timeline_svg"]

PLOT_WIDTH = 1000.0
LABEL_WIDTH = 96.0
COUNTS_WIDTH = 150.0
ROW_PITCH = 14.0
BAR_TOP, BAR_HEIGHT = 4.0, 8.0
AXIS_HEIGHT = 22.0

FrameLink = Callable[[int], Optional[str]]


def _nice_step(span: int, max_ticks: int = 12) -> int:
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000):
        if span / step <= max_ticks:
            return step
    return 10000


class _Canvas:
    def __init__(self, log: SequenceLog, frame_link: FrameLink, prefix: str):
        self.first, self.last = log.frames
        self.per_frame = PLOT_WIDTH / max(1, self.last - self.first + 1)
        self.link = frame_link
        self.prefix = prefix
        self.parts: List[str] = []

    def x(self, frame) -> float:
        return LABEL_WIDTH + (frame - self.first) * self.per_frame

    def mark(self, tag: str, attributes: str, title: str, frame: Optional[int]) -> None:
        """An element with its tooltip, linked to the error view of ``frame`` if it has one."""
        element = f"<{tag} {attributes}><title>{html.escape(title)}</title></{tag}>"
        href = None if frame is None else self.link(frame)
        if href is not None:
            element = f'<a href="{html.escape(href)}">{element}</a>'
        self.parts.append(element)

    def counts(self, y: float, text: str) -> None:
        self.parts.append(f'<text x="{LABEL_WIDTH + PLOT_WIDTH + 6}" y="{y}">{text}</text></g>')

    def track_row(self, track: TrackLog, y: float) -> None:
        fn, ids, frag = track.misses, track.switches, track.fragmentations
        label = f"{track.class_name} {track.gt_id}"
        self.parts.append(
            f'<g class="track" data-class="{track.class_name}" data-gt="{track.gt_id}" '
            f'data-fn="{fn}" data-ids="{ids}" data-frag="{frag}">'
            f'<text x="{LABEL_WIDTH - 4}" y="{y + BAR_TOP + BAR_HEIGHT - 1}" '
            f'text-anchor="end">{html.escape(label)}</text>'
        )
        frames, hypothesis = track.frames, track.hypothesis
        # Runs of consecutive frames matched to the same hypothesis, or missed.
        breaks = np.flatnonzero((np.diff(frames) != 1) | (np.diff(hypothesis) != 0)) + 1
        starts = np.concatenate([[0], breaks]).tolist()
        ends = np.concatenate([breaks, [len(frames)]]).tolist()
        for start, end in zip(starts, ends):
            first, last = int(frames[start]), int(frames[end - 1])
            span = f"frame {first}" if first == last else f"frames {first}\u2013{last}"
            box = (f'x="{self.x(first):.2f}" y="{y + BAR_TOP}" '
                   f'width="{(last - first + 1) * self.per_frame:.2f}" height="{BAR_HEIGHT}"')
            h = int(hypothesis[start])
            if h < 0:
                self.mark("rect", f'class="fn" data-fn="{end - start}" {box} '
                          f'fill="url(#{self.prefix}-fn)"',
                          f"{label}, {span}: missed ({end - start} FN)", first)
            else:
                iou = float(track.iou[start:end].mean())
                self.mark("rect", f'class="tp" {box} fill="{hex_colour(track_colour(h))}"',
                          f"{label}, {span}: hypothesis {h} (mean IoU {iou:.2f})", None)
        black = hex_colour(ERROR_STYLES["frag"].colour)
        for frame in track.frames[track.fragment].tolist():
            self.mark("rect", f'class="frag" x="{self.x(frame) - 0.9:.2f}" y="{y + 1}" '
                      f'width="1.8" height="{ROW_PITCH - 2}" fill="{black}"',
                      f"{label}, frame {frame}: fragmentation (matched again after a frame in "
                      "which it was not)", frame)
        switched = track.switch_from >= 0
        for frame, old, new in zip(track.frames[switched].tolist(),
                                   track.switch_from[switched].tolist(),
                                   track.hypothesis[switched].tolist()):
            x = self.x(frame)
            self.mark("path", f'class="ids" d="M{x - 4:.2f} {y}L{x + 4:.2f} {y}L{x:.2f} '
                      f'{y + 7}Z" fill="{hex_colour(ERROR_STYLES["ids"].colour)}" stroke="#000" '
                      'stroke-width="0.7"',
                      f"{label}, frame {frame}: identity switch {old} \u2192 {new}", frame)
        self.counts(y + BAR_TOP + BAR_HEIGHT - 1, f"FN {fn} \u00b7 IDS {ids} \u00b7 Frag {frag}")

    def false_positive_row(self, log: SequenceLog, class_name: str, y: float) -> None:
        """Per frame a bar as high as its number of false positives of the class."""
        per_frame = {
            frame: [h for c, h in hypotheses if c == class_name]
            for frame, hypotheses in log.false_positives.items()
        }
        per_frame = {frame: ids for frame, ids in per_frame.items() if ids}
        total = sum(len(ids) for ids in per_frame.values())
        most = max((len(ids) for ids in per_frame.values()), default=1)
        self.parts.append(
            f'<g class="fp" data-class="{class_name}" data-fp="{total}">'
            f'<text x="{LABEL_WIDTH - 4}" y="{y + ROW_PITCH - 2}" text-anchor="end">'
            f"{class_name} FP</text>"
        )
        colour = hex_colour(ERROR_STYLES["fp"].colour)
        for frame, ids in per_frame.items():
            height = (ROW_PITCH - 1) * len(ids) / most
            self.mark("rect", f'x="{self.x(frame):.2f}" y="{y + ROW_PITCH - height:.2f}" '
                      f'width="{max(self.per_frame, 1.0):.2f}" height="{height:.2f}" '
                      f'fill="{colour}" data-fp="{len(ids)}"',
                      f"frame {frame}: {len(ids)} false positive(s), hypotheses "
                      + ", ".join(map(str, sorted(ids))), frame)
        self.counts(y + ROW_PITCH - 2, f"FP {total}")

    def axis(self, height: float) -> None:
        step = _nice_step(self.last - self.first + 1)
        for frame in range((self.first + step - 1) // step * step, self.last + 1, step):
            x = self.x(frame)
            self.parts.append(
                f'<line x1="{x:.2f}" y1="{AXIS_HEIGHT - 4}" x2="{x:.2f}" y2="{height}" '
                'stroke="#ddd" stroke-width="0.5"/>'
                f'<text x="{x:.2f}" y="{AXIS_HEIGHT - 8}" text-anchor="middle">{frame}</text>'
            )
        self.parts.append(
            f'<text x="{LABEL_WIDTH - 4}" y="{AXIS_HEIGHT - 8}" text-anchor="end">frame</text>'
        )


def timeline_svg(
    log: SequenceLog, frame_link: FrameLink = lambda frame: None, prefix: str = "timeline"
) -> str:
    """The timeline of one sequence as an SVG element (to put inline in a page).
    ``frame_link(frame)``: the link of a frame's error view, or None where there is none;
    ``prefix``: makes the ids of the SVG's patterns unique in the page."""
    canvas = _Canvas(log, frame_link, prefix)
    y = AXIS_HEIGHT
    for class_name in log.class_names:
        tracks = [t for t in log.tracks if t.class_name == class_name]
        has_fp = any(c == class_name for fps in log.false_positives.values() for c, _ in fps)
        if not tracks and not has_fp:
            continue
        for track in tracks:
            canvas.track_row(track, y)
            y += ROW_PITCH
        canvas.false_positive_row(log, class_name, y)
        y += ROW_PITCH * 1.5
    body = canvas.parts
    canvas.parts = []
    canvas.axis(y)
    width = LABEL_WIDTH + PLOT_WIDTH + COUNTS_WIDTH
    fn = hex_colour(ERROR_STYLES["fn"].colour)
    return (
        f'<svg class="timeline" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {y}" '
        f'width="100%" font-family="DejaVu Sans, Arial, sans-serif" font-size="9">'
        f'<defs><pattern id="{prefix}-fn" width="4" height="4" patternUnits="userSpaceOnUse">'
        f'<rect width="4" height="4" fill="#fbe3b3"/><path d="M0 4L4 0M-1 1L1 -1M3 5L5 3" '
        f'stroke="{fn}" stroke-width="1.4"/></pattern></defs>'
        + "".join(canvas.parts + body)
        + "</svg>"
    )
