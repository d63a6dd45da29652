"""argparse types of the scripts' numeric arguments, one per kind, in a module that imports
nothing else: the evaluator command parses its arguments with them without importing
:mod:`trackrcnn_d2.utils.cli` (logging, the output policy's tempfile and shutil), which a plain
evaluation does not need. :mod:`trackrcnn_d2.utils.cli` re-exports them."""
import argparse
import math

__all__ = ["whole_number", "positive_number", "probability"]


def whole_number(minimum: int):
    """An argparse type: a whole number >= ``minimum``, named in argparse's one-line error."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise argparse.ArgumentTypeError(f"expected a whole number >= {minimum}, got {text!r}")
        return value

    return parse


def positive_number(text: str) -> float:
    """An argparse type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


def probability(text: str) -> float:
    """An argparse type: a number from 0 to 1 (a score threshold)."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, got {text!r}")
    return value
