"""The per-frame record of one evaluation's matching, arranged for the report: per sequence, each
GT track's frames with the hypothesis matched there (or a miss) and the identity switches and
fragmentations that CLEAR counted, and per frame the false positives and the hypotheses that the
ignore regions removed.

Everything is read from :func:`~trackrcnn_d2.evaluation.metrics.evaluate_mots_with_matching`'s
:class:`~trackrcnn_d2.evaluation.metrics.ClearMatches`, never matched again, so the marks of
the timelines and error views add up to the report's FN, FP, IDS and Frag.
"""

import functools
from collections import Counter
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Tuple

import numpy as np

from trackrcnn_d2.data.mots_io import MOTS_CLASS_IDS

__all__ = ["TrackLog", "FrameLog", "SequenceLog", "build_sequence_logs"]


@dataclass(frozen=True)
class TrackLog:
    """One GT track: per frame in which it has a mask (``frames``, increasing), the matched
    hypothesis id (``hypothesis``, -1 for a miss) and its IoU (``iou``), the old hypothesis id
    where an identity switch is counted (``switch_from``, -1 elsewhere) and whether a
    fragmentation is counted there (``fragment``)."""

    class_name: str
    gt_id: int
    frames: np.ndarray
    hypothesis: np.ndarray
    iou: np.ndarray
    switch_from: np.ndarray
    fragment: np.ndarray

    @property
    def misses(self) -> int:
        return int((self.hypothesis < 0).sum())

    @property
    def switches(self) -> int:
        return int((self.switch_from >= 0).sum())

    @property
    def fragmentations(self) -> int:
        return int(self.fragment.sum())


@dataclass
class FrameLog:
    """One frame: GT id -> (hypothesis id, IoU) of the matches, the missed GT ids, GT id ->
    (old, new hypothesis id) of the identity switches, the GT ids whose fragmentation is counted
    here, and the ``(class, hypothesis id)`` of the false positives and of the hypotheses removed
    by the ignore region."""

    matched: Dict[Tuple[str, int], Tuple[int, float]] = field(default_factory=dict)
    missed: List[Tuple[str, int]] = field(default_factory=list)
    switches: Dict[Tuple[str, int], Tuple[int, int]] = field(default_factory=dict)
    fragments: List[Tuple[str, int]] = field(default_factory=list)
    false_positives: List[Tuple[str, int]] = field(default_factory=list)
    ignored: List[Tuple[str, int]] = field(default_factory=list)

    @property
    def has_errors(self) -> bool:
        return bool(self.missed or self.switches or self.fragments or self.false_positives)

    def severity(self) -> Tuple[int, int]:
        """For picking a sequence's most telling frame: identity switches first, then the
        other errors."""
        return (len(self.switches), len(self.missed) + len(self.false_positives))


@dataclass
class SequenceLog:
    """The matching of one sequence. ``tracks``: by class, then first frame, then GT id;
    ``false_positives`` / ``ignored``: frame -> ``[(class, hypothesis id)]``; ``frames``: the
    first and last frame with a GT mask or a hypothesis of an evaluated class."""

    name: str
    class_names: Tuple[str, ...]
    tracks: List[TrackLog]
    false_positives: Dict[int, List[Tuple[str, int]]]
    ignored: Dict[int, List[Tuple[str, int]]]
    frames: Tuple[int, int]

    @functools.cached_property
    def by_frame(self) -> Dict[int, FrameLog]:
        """The same records per frame (frames with a GT mask or a hypothesis only)."""
        logs: Dict[int, FrameLog] = {}
        for track in self.tracks:
            key = (track.class_name, track.gt_id)
            for frame, hypothesis, iou, old, fragment in zip(
                track.frames.tolist(),
                track.hypothesis.tolist(),
                track.iou.tolist(),
                track.switch_from.tolist(),
                track.fragment.tolist(),
            ):
                log = logs.setdefault(frame, FrameLog())
                if hypothesis < 0:
                    log.missed.append(key)
                    continue
                log.matched[key] = (hypothesis, iou)
                if old >= 0:
                    log.switches[key] = (old, hypothesis)
                if fragment:
                    log.fragments.append(key)
        for frame, hypotheses in self.false_positives.items():
            logs.setdefault(frame, FrameLog()).false_positives.extend(hypotheses)
        for frame, hypotheses in self.ignored.items():
            logs.setdefault(frame, FrameLog()).ignored.extend(hypotheses)
        return dict(sorted(logs.items()))

    def error_frames(self) -> List[int]:
        """Frames with a miss, a false positive, an identity switch or a fragmentation."""
        return [frame for frame, log in self.by_frame.items() if log.has_errors]

    def counts(self, class_name: str) -> Dict[str, int]:
        """TP, FN, FP, IDS and Frag of one class, from the records (equal to the report's)."""
        tracks = [t for t in self.tracks if t.class_name == class_name]
        return {
            "TP": sum(len(t.frames) - t.misses for t in tracks),
            "FN": sum(t.misses for t in tracks),
            "FP": sum(c == class_name for fps in self.false_positives.values() for c, _ in fps),
            "IDS": sum(t.switches for t in tracks),
            "Frag": sum(t.fragmentations for t in tracks),
        }

    def persistent_false_positives(self) -> List[Tuple[str, int, int, int, int, int]]:
        """Hypothesis tracks by number of false positives: ``(class, id, FP frames, TP
        frames, first FP frame, last FP frame)``, most first."""
        fp = Counter(h for hypotheses in self.false_positives.values() for h in hypotheses)
        tp = Counter(
            (t.class_name, int(h)) for t in self.tracks for h in t.hypothesis[t.hypothesis >= 0]
        )
        first: Dict[Tuple[str, int], int] = {}
        last: Dict[Tuple[str, int], int] = {}
        for frame, hypotheses in sorted(self.false_positives.items()):
            for h in hypotheses:
                first.setdefault(h, frame)
                last[h] = frame
        return [
            (c, h, n, tp[(c, h)], first[(c, h)], last[(c, h)])
            for (c, h), n in sorted(fp.items(), key=lambda item: (-item[1], item[0]))
        ]


def build_sequence_logs(
    matching, results: Mapping[str, Mapping[int, list]]
) -> Dict[str, SequenceLog]:
    """The :class:`SequenceLog` of every evaluated sequence, from
    :func:`~trackrcnn_d2.evaluation.metrics.evaluate_mots_with_matching`'s result and the
    results it evaluated (for the hypotheses that the ignore regions removed)."""
    data, matches = matching.data, matching.matches
    class_names = matching.class_names
    sequences = matching.ground_truth.sequences
    gt, tracker = data.gt_dets, data.tracker_dets
    gt_sequence = data.frame_sequence[gt.frame]
    gt_frame = data.frame_number[gt.frame]

    hypothesis = np.full(len(gt), -1, dtype=np.int64)
    iou = np.zeros(len(gt))
    switch_from = np.full(len(gt), -1, dtype=np.int64)
    fragment = np.zeros(len(gt), dtype=bool)
    matched_ids = tracker.ids[matches.tracker]
    hypothesis[matches.gt] = matched_ids
    iou[matches.gt] = matches.sim
    # The old track of a switch is the one of the entry before (same GT track, ordered by frame).
    switch_index = np.flatnonzero(matches.is_switch)
    switch_from[matches.gt[switch_index]] = matched_ids[switch_index - 1]
    # Frag counts the run starts of a GT track after its first one.
    entry_track = data.gt_tracks.track[matches.gt]
    not_first = np.zeros(len(entry_track), dtype=bool)
    not_first[1:] = entry_track[1:] == entry_track[:-1]
    fragment[matches.gt[matches.is_run_start & not_first]] = True

    order = np.lexsort((gt_frame, data.gt_tracks.track))
    boundaries = np.flatnonzero(np.diff(data.gt_tracks.track[order])) + 1
    tracks: Dict[int, List[TrackLog]] = {s: [] for s in range(len(sequences))}
    for rows in np.split(order, boundaries) if len(order) else []:
        d = rows[0]
        tracks[int(gt_sequence[d])].append(
            TrackLog(
                class_names[gt.cls[d]],
                int(gt.ids[d]),
                gt_frame[rows],
                hypothesis[rows],
                iou[rows],
                switch_from[rows],
                fragment[rows],
            )
        )

    unmatched = np.ones(len(tracker), dtype=bool)
    unmatched[matches.tracker] = False
    tracker_sequence = data.frame_sequence[tracker.frame]
    tracker_frame = data.frame_number[tracker.frame]
    false_positives: Dict[int, Dict[int, list]] = {s: {} for s in range(len(sequences))}
    for d in np.flatnonzero(unmatched).tolist():
        frames = false_positives[int(tracker_sequence[d])]
        frames.setdefault(int(tracker_frame[d]), []).append(
            (class_names[tracker.cls[d]], int(tracker.ids[d]))
        )
    kept = set(zip(tracker_sequence.tolist(), tracker_frame.tolist(), tracker.ids.tolist()))
    class_of_id = {MOTS_CLASS_IDS[name]: name for name in class_names}

    logs = {}
    for s, sequence in enumerate(sequences):
        ignored: Dict[int, List[Tuple[str, int]]] = {}
        for frame, objects in sorted(results.get(sequence, {}).items()):
            removed = [
                (class_of_id[o.class_id], o.obj_id)
                for o in objects
                if o.class_id in class_of_id and (s, frame, o.obj_id) not in kept
            ]
            if removed:
                ignored[frame] = removed
        in_sequence = data.frame_number[data.frame_sequence == s]
        tracks[s].sort(key=lambda t: (class_names.index(t.class_name), t.frames[0], t.gt_id))
        logs[sequence] = SequenceLog(
            sequence,
            class_names,
            tracks[s],
            dict(sorted(false_positives[s].items())),
            ignored,
            (int(in_sequence.min()), int(in_sequence.max())) if len(in_sequence) else (0, 0),
        )
    return logs
