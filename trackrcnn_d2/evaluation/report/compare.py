"""Two runs side by side: per-sequence differences of the metrics, and the identity switches
that one run makes and the other does not (same GT track, same frame)."""

from typing import Dict, List, Optional, Tuple

from .matching_log import SequenceLog

__all__ = ["DELTA_FIELDS", "LOWER_IS_BETTER", "switch_events", "switch_differences"]

# Fields of the difference table; for those in LOWER_IS_BETTER a decrease is an improvement.
DELTA_FIELDS = ("sMOTSA", "MOTSA", "HOTA", "DetA", "AssA", "IDF1", "IDS", "FP", "FN", "Frag")
LOWER_IS_BETTER = frozenset({"IDS", "FP", "FN", "Frag"})

Switch = Tuple[int, int]  # (old hypothesis id, new hypothesis id)


def switch_events(log: SequenceLog) -> Dict[Tuple[str, int, int], Switch]:
    """``{(class, GT id, frame): (old, new)}`` of the identity switches counted in a sequence."""
    return {
        (track.class_name, track.gt_id, frame): (old, new)
        for track in log.tracks
        for frame, old, new in zip(
            track.frames.tolist(), track.switch_from.tolist(), track.hypothesis.tolist()
        )
        if old >= 0
    }


def switch_differences(
    log_a: SequenceLog, log_b: SequenceLog
) -> List[Tuple[int, str, int, Optional[Switch], Optional[Switch]]]:
    """The identity switches of one run that the other does not make at the same frame of the
    same GT track: ``(frame, class, GT id, switch in A or None, switch in B or None)``, by
    frame."""
    a, b = switch_events(log_a), switch_events(log_b)
    keys = sorted(set(a) ^ set(b), key=lambda k: (k[2], k[0], k[1]))
    return [
        (frame, c, gt_id, a.get((c, gt_id, frame)), b.get((c, gt_id, frame)))
        for c, gt_id, frame in keys
    ]
