"""The report's colours and marks, in one place: the timeline, the error views, the charts and
the page's legend all read them, so that a colour means the same thing everywhere.

Colours are colour-blind safe (Okabe & Ito's palette for the kinds of error, Paul Tol's "muted"
and "bright" palettes for hypothesis tracks), and every kind of error also has its own shape or
hatch and a text label, so that nothing is told by colour alone.
"""

from dataclasses import dataclass
from typing import Dict, Tuple

__all__ = [
    "ErrorStyle",
    "ERROR_STYLES",
    "TRACK_COLOURS",
    "RUN_STYLES",
    "track_colour",
    "hex_colour",
]

RGB = Tuple[int, int, int]


@dataclass(frozen=True)
class ErrorStyle:
    """How one kind of match or error is drawn: ``colour`` (RGB), ``mark`` (the shape or hatch
    that tells it apart without colour), ``label`` (the text written next to it) and
    ``meaning``."""

    colour: RGB
    mark: str
    label: str
    meaning: str


ERROR_STYLES: Dict[str, ErrorStyle] = {
    "tp": ErrorStyle(
        (255, 255, 255),
        "filled in its track colour, GT outlined in white",
        "<id> <IoU>",
        "true positive: a hypothesis matched to a GT mask (IoU >= 0.5); it adds its IoU to "
        "sMOTSA's soft TP",
    ),
    "fp": ErrorStyle(
        (213, 94, 0),  # vermillion
        "filled in its track colour, dashed outline",
        "FP <id>",
        "false positive: a hypothesis matched to no GT mask (and not inside an ignore region)",
    ),
    "fn": ErrorStyle(
        (230, 159, 0),  # orange
        "cross-hatched GT mask, solid outline; hatched cells in the timeline",
        "FN <gt id>",
        "miss (false negative): a GT mask matched to no hypothesis",
    ),
    "ids": ErrorStyle(
        (204, 121, 167),  # reddish purple
        "thick outline and a label box; a downward triangle in the timeline",
        "IDS <old> \u2192 <new>",
        "identity switch: the GT track is matched to another hypothesis track than at its "
        "last match",
    ),
    "frag": ErrorStyle(
        (0, 0, 0),
        "a vertical bar at the start of the run in the timeline",
        "Frag",
        "fragmentation: the GT track is matched again after a frame in which it was not",
    ),
    "ignore": ErrorStyle(
        (153, 153, 153),  # grey
        "diagonal grey hatch",
        "",
        "ignore region: hypotheses mostly inside it and matched to nothing are not counted",
    ),
    "ignored": ErrorStyle(
        (153, 153, 153),
        "dotted grey outline, not filled",
        "",
        "hypothesis removed by the ignore region (counted neither as TP nor as FP)",
    ),
}

# Hypothesis track colours: Tol's muted palette, its purple (close to the identity switches'
# colour) replaced by Okabe & Ito's blue.
TRACK_COLOURS: Tuple[RGB, ...] = (
    (51, 34, 136),
    (136, 204, 238),
    (68, 170, 153),
    (17, 119, 51),
    (153, 153, 51),
    (221, 204, 119),
    (204, 102, 119),
    (136, 34, 85),
    (0, 114, 178),
)

# The two runs of a comparison in the charts: colour and hatch.
RUN_STYLES = (
    {"color": "#0072B2", "hatch": ""},
    {"color": "#E69F00", "hatch": "///"},
)


def track_colour(obj_id: int) -> RGB:
    """Colour of a hypothesis track, fixed per id: consecutive ids get far-apart entries."""
    return TRACK_COLOURS[(obj_id * 7 + obj_id // 1000) % len(TRACK_COLOURS)]


def hex_colour(colour: RGB) -> str:
    return "#{:02x}{:02x}{:02x}".format(*colour)
