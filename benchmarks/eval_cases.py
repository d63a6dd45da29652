"""Inputs of the evaluator benchmarks (``bench_eval.py``, ``bench_eval_scale.py``).

Ground truth: a KITTI-MOTS-val-sized synthetic set (:func:`synthetic_kitti_val`) or the real
MOTSChallenge train annotations (:func:`real_motschallenge`).

Result sets (``RESULT_CASES``), each a function ``(gt, seed) -> results``:

* ``perturbed``: the GT perturbed mask by mask (dropped, cut to part of the box, split in two,
  too small, false positives in ignore regions, rare id switches and swaps);
* ``low-score``: what a tracker fed by a detector kept down to a low score outputs: besides each
  object's detection, short-lived hypotheses of shifted and cut copies of the objects near them
  (two to three per object at any time, each its own track), and false positives elsewhere;
* ``id-switches``: good masks whose ids change often: new ids, ids swapped between objects
  that occlude each other, ids of ended tracks taken over by others;
* ``fragments``: long tracks broken by gaps of missed frames, resumed under the same or a new
  id, masks near the 0.5 IoU threshold, and false tracks beside the objects.

As a tracker's output, the hypotheses of a frame are made disjoint by score (each pixel goes to
the highest-scoring mask, :func:`disjoint_by_score`), so that they are valid MOTS results. All
work on RLEs (shifts of run lengths, intersections with boxes), never on whole images.
"""
import os
from typing import Dict, List, Optional, Tuple

import numpy as np
import pycocotools.mask as mask_utils

from trackrcnn_d2.data.mots_io import MOTSObject
from trackrcnn_d2.evaluation.files import load_gt_folder
from trackrcnn_d2.utils.rle import rle_difference, rle_from_runs, rle_runs

KITTI_VAL_LENGTHS = {  # KITTI MOTS val sequences and their numbers of frames
    "0002": 233, "0006": 270, "0007": 800, "0008": 390, "0010": 294,
    "0013": 340, "0014": 106, "0016": 209, "0018": 339,
}  # fmt: skip
KITTI_SIZE = (375, 1242)
MOTSCHALLENGE = "/work/shared/data/motschallenge"
IGNORE_CLASS = 10
# Hypotheses smaller than this (pixels) after the overlaps are resolved are dropped, as a
# tracker drops empty masks.
MIN_AREA = 20


def _rle_from_crop(crop: np.ndarray, top: int, left: int, height: int, width: int) -> dict:
    """Compressed RLE of a full-image mask that is zero outside ``crop`` placed at (top, left),
    without materialising the full image (column-major run lengths of the crop's pixels)."""
    xs, ys = np.nonzero(crop.T)
    linear = (xs + left) * height + (ys + top)
    starts = np.flatnonzero(np.diff(linear, prepend=-2) != 1)
    run_begin = linear[starts]
    run_end = np.append(linear[starts[1:] - 1], linear[-1]) + 1
    gaps = run_begin - np.concatenate([[0], run_end[:-1]])
    counts = np.stack([gaps, run_end - run_begin], axis=1).ravel().tolist()
    counts.append(height * width - int(run_end[-1]))
    return mask_utils.frPyObjects({"size": [height, width], "counts": counts}, height, width)


def synthetic_kitti_val(
    seed: int = 0,
    lengths: Optional[Dict[str, int]] = None,
    size: Tuple[int, int] = KITTI_SIZE,
):
    """KITTI-MOTS-val-sized GT: elliptic cars and pedestrians moving with constant velocity,
    nearer objects (lower bottom edge) occluding farther ones, and ignore boxes. ``lengths``:
    ``{sequence: number of frames}`` (default: KITTI MOTS val's); ``size``: (height, width)."""
    rng = np.random.default_rng(seed)
    height, width = size
    gt = {}
    for sequence, length in (lengths or KITTI_VAL_LENGTHS).items():
        tracks = []
        for instance in range(int(length * 0.05) + 6):
            is_car = rng.random() < 0.7
            h = rng.uniform(40, 140) if is_car else rng.uniform(50, 160)
            w = h * (rng.uniform(1.2, 2.2) if is_car else rng.uniform(0.3, 0.45))
            tracks.append(
                {
                    "obj_id": (1000 if is_car else 2000) + instance + 1,
                    "birth": int(rng.integers(-40, length)),
                    "life": int(rng.integers(20, 140)),
                    "x": rng.uniform(0, width), "y": rng.uniform(height * 0.35, height * 0.85),
                    "vx": rng.normal(0, 4 if is_car else 1.5), "vy": rng.normal(0, 0.5),
                    "h": h, "w": w,
                }  # fmt: skip
            )
        ignore_boxes = [
            (rng.uniform(0, width - 200), rng.uniform(100, 250), rng.uniform(60, 200), 60)
            for _ in range(int(rng.integers(0, 3)))
        ]
        frames = {}
        for frame in range(length):
            id_map = np.zeros((height, width), dtype=np.uint16)
            for x, y, w, h in ignore_boxes:
                id_map[int(y) : int(y + h), int(x) : int(x + w)] = 10000
            visible = []
            for t in tracks:
                age = frame - t["birth"]
                if 0 <= age < t["life"]:
                    cx, cy = t["x"] + t["vx"] * age, t["y"] + t["vy"] * age
                    visible.append((cy + t["h"] / 2, cx, cy, t))
            boxes = {}
            for _, cx, cy, t in sorted(visible, key=lambda v: v[0]):  # far to near
                top, bottom = max(0, int(cy - t["h"] / 2)), min(height, int(cy + t["h"] / 2))
                left, right = max(0, int(cx - t["w"] / 2)), min(width, int(cx + t["w"] / 2))
                if bottom - top < 3 or right - left < 3:
                    continue
                yy, xx = np.mgrid[top:bottom, left:right]
                inside = ((yy - cy) / (t["h"] / 2)) ** 2 + ((xx - cx) / (t["w"] / 2)) ** 2 <= 1
                id_map[top:bottom, left:right][inside] = t["obj_id"]
                boxes[t["obj_id"]] = (top, bottom, left, right)
            objects = []
            for obj_id, (top, bottom, left, right) in sorted(boxes.items()):
                crop = id_map[top:bottom, left:right] == obj_id
                if crop.sum() >= 20:
                    rle = _rle_from_crop(crop, top, left, height, width)
                    objects.append(MOTSObject(frame, obj_id, obj_id // 1000, rle))
            if (id_map == 10000).any():
                ignore = _rle_from_crop(id_map == 10000, 0, 0, height, width)
                objects.append(MOTSObject(frame, 10000, 10, ignore))
            if objects:
                frames[frame] = objects
        gt[sequence] = frames
    return gt


def real_motschallenge(root: str = MOTSCHALLENGE):
    """The real MOTSChallenge train annotations, or None where they are absent."""
    if not os.path.isdir(os.path.join(root, "instances_txt")):
        return None
    return load_gt_folder(os.path.join(root, "instances_txt"))[0]


def first_frames(data, n_frames: int):
    """The first ``n_frames`` frames (by number) of every sequence (all for 0)."""
    if not n_frames:
        return data
    return {s: {f: frames[f] for f in sorted(frames)[:n_frames]} for s, frames in data.items()}


def _box_rle(box, height, width) -> dict:
    x, y, w, h = box
    return mask_utils.frPyObjects(np.array([[x, y, w, h]], dtype=np.float64), height, width)[0]


def _cut(rle, keep_fraction, rng) -> dict:
    """The part of the mask inside its box cut on one side to ``keep_fraction`` of its extent."""
    height, width = rle["size"]
    x, y, w, h = mask_utils.toBbox(rle)
    side = rng.integers(4)
    if side == 0:
        box = (x, y, w * keep_fraction, h)
    elif side == 1:
        box = (x + w * (1 - keep_fraction), y, w * keep_fraction, h)
    elif side == 2:
        box = (x, y, w, h * keep_fraction)
    else:
        box = (x, y + h * (1 - keep_fraction), w, h * keep_fraction)
    return mask_utils.merge([rle, _box_rle(box, height, width)], intersect=True)


def _shift(rle: dict, dy: int, dx: int) -> Optional[dict]:
    """The mask moved by (dy, dx) pixels, or None if it would leave the image: a shift of the
    column-major run lengths by ``dx * height + dy`` (no pixel wraps round a column, since the
    box stays inside the image)."""
    height, width = rle["size"]
    x, y, w, h = mask_utils.toBbox(rle)
    if w == 0 or x + dx < 0 or x + w + dx > width or y + dy < 0 or y + h + dy > height:
        return None
    runs = rle_runs(rle)
    if len(runs) % 2 == 0:  # ends with foreground: a last run of 0 background pixels
        runs = np.append(runs, 0)
    runs = runs.copy()
    shift = dx * height + dy
    runs[0] += shift
    runs[-1] -= shift
    return rle_from_runs(runs, height, width)


def _moved(rle: dict, fy: float, fx: float, rng) -> Optional[dict]:
    """The mask moved by fractions (fy, fx) of its box's height and width, +-1 pixel jitter."""
    _, _, w, h = mask_utils.toBbox(rle)
    dy = int(round(fy * h)) + int(rng.integers(-1, 2))
    dx = int(round(fx * w)) + int(rng.integers(-1, 2))
    return _shift(rle, dy, dx)


def disjoint_by_score(candidates: List[Tuple[float, int, int, dict]], frame: int):
    """MOTS objects of ``(score, obj_id, class_id, rle)`` candidates: each pixel goes to the
    highest-scoring mask covering it (as trackers make their masks disjoint), masks left smaller
    than :data:`MIN_AREA` and repeated ids (the lower-scoring one) dropped."""
    objects, boxes, seen = [], [], set()
    for _, obj_id, class_id, rle in sorted(candidates, key=lambda c: -c[0]):
        if obj_id in seen:
            continue
        box = mask_utils.toBbox(rle).tolist()
        if boxes:  # only the kept masks whose boxes meet this one's can take pixels from it
            near = np.flatnonzero(np.asarray(mask_utils.iou([box], boxes, [0] * len(boxes))) > 0)
            if len(near):
                taken = [objects[i].rle for i in near.tolist()]
                occupied = taken[0] if len(taken) == 1 else mask_utils.merge(taken, False)
                rle = rle_difference(rle, occupied)
                box = mask_utils.toBbox(rle).tolist()
        if mask_utils.area(rle) < MIN_AREA:
            continue
        seen.add(obj_id)
        objects.append(MOTSObject(frame, obj_id, class_id, rle))
        boxes.append(box)
    return objects


def _regular(objects):
    return [o for o in objects if o.class_id != IGNORE_CLASS]


def perturbed_results(gt, seed: int = 1):
    """The GT perturbed mask by mask, hypotheses disjoint by construction."""
    rng = np.random.default_rng(seed)
    results = {}
    for sequence, frames in gt.items():
        hypothesis_id = {}
        next_id = 1
        out = {}
        for frame in sorted(frames):
            objects = []
            for obj in frames[frame]:
                if obj.class_id == IGNORE_CLASS:
                    if rng.random() < 0.3:  # FP inside an ignore region (removed by the eval)
                        objects.append((1900 + next_id % 50, 1, _cut(obj.rle, 0.3, rng)))
                    continue
                if obj.obj_id not in hypothesis_id or rng.random() < 0.004:  # new id: IDS
                    hypothesis_id[obj.obj_id] = obj.class_id * 1000 + next_id % 900
                    next_id += 1
                hyp = hypothesis_id[obj.obj_id]
                draw = rng.random()
                if draw < 0.08:
                    continue  # missed
                if draw < 0.11:  # too small: FP + FN
                    objects.append((hyp, obj.class_id, _cut(obj.rle, 0.3, rng)))
                elif draw < 0.16:  # split in two hypotheses
                    x, y, w, h = mask_utils.toBbox(obj.rle)
                    height, width = obj.rle["size"]
                    cut = int(x + w * rng.uniform(0.2, 0.8))  # integer: the halves are disjoint
                    left = _box_rle((0, 0, cut, height), height, width)
                    right = _box_rle((cut, 0, width - cut, height), height, width)
                    objects.append((hyp, obj.class_id, mask_utils.merge([obj.rle, left], True)))
                    split = obj.class_id * 1000 + 950 + next_id % 49
                    next_id += 1
                    objects.append((split, obj.class_id, mask_utils.merge([obj.rle, right], True)))
                else:
                    objects.append((hyp, obj.class_id, _cut(obj.rle, rng.uniform(0.7, 1.0), rng)))
            if rng.random() < 0.01 and len(hypothesis_id) >= 2:  # swap two tracks' ids
                a, b = rng.choice(list(hypothesis_id), 2, replace=False)
                hypothesis_id[a], hypothesis_id[b] = hypothesis_id[b], hypothesis_id[a]
            unique = {}
            for obj_id, class_id, rle in objects:
                if mask_utils.area(rle) > 0:
                    unique.setdefault(obj_id, (class_id, rle))
            if unique:
                out[frame] = [MOTSObject(frame, i, c, r) for i, (c, r) in unique.items()]
        results[sequence] = out
    return results


class _Ids:
    """Hypothesis ids per class: ``class_id * 1000 + n`` with n counting up from 1 and wrapping
    before 1000, so that the class stays ``obj_id // 1000`` (ids are reused after a while, as
    trackers with a bounded id range do)."""

    def __init__(self):
        self.next = {}

    def new(self, class_id: int) -> int:
        n = self.next.get(class_id, 0)
        self.next[class_id] = (n + 1) % 999
        return class_id * 1000 + n + 1


def low_score_results(gt, seed: int = 2):
    """A tracker fed by a detector kept down to a low score: each object's detection (missed 10 %
    of the time), plus short-lived tracks of low-scoring hypotheses near each object (shifted
    and cut copies, 2-3 per object at any time, living about 8 frames) and false positives
    elsewhere (copies of other objects moved far), disjoint by score."""
    rng = np.random.default_rng(seed)
    results = {}
    for sequence, frames in gt.items():
        ids = _Ids()
        main_id: Dict[int, int] = {}
        ghosts: Dict[int, list] = {}  # GT id -> [hyp id, fy, fx, keep, frames left]
        out = {}
        for frame in sorted(frames):
            objects = _regular(frames[frame])
            candidates = []
            for obj in objects:
                if obj.obj_id not in main_id or rng.random() < 0.01:
                    main_id[obj.obj_id] = ids.new(obj.class_id)
                if rng.random() < 0.9:
                    rle = _moved(_cut(obj.rle, rng.uniform(0.7, 1.0), rng), 0, 0, rng)
                    if rle is not None:
                        candidates.append((rng.uniform(0.5, 1.0), main_id[obj.obj_id],
                                           obj.class_id, rle))
                alive = [g for g in ghosts.get(obj.obj_id, []) if g[4] > 0]
                if rng.random() < 0.3:
                    alive.append([ids.new(obj.class_id), rng.uniform(-0.7, 0.7),
                                  rng.uniform(-0.7, 0.7), rng.uniform(0.4, 1.0),
                                  int(rng.geometric(1 / 8))])
                for ghost in alive:
                    ghost[4] -= 1
                    rle = _moved(_cut(obj.rle, ghost[3], rng), ghost[1], ghost[2], rng)
                    if rle is not None:
                        candidates.append((rng.uniform(0.05, 0.5), ghost[0], obj.class_id, rle))
                ghosts[obj.obj_id] = alive
            for _ in range(int(rng.poisson(1.0)) if objects else 0):
                obj = objects[int(rng.integers(len(objects)))]
                rle = _moved(obj.rle, rng.uniform(-3, 3), rng.uniform(-3, 3), rng)
                if rle is not None:
                    candidates.append((rng.uniform(0.05, 0.3), ids.new(obj.class_id),
                                       obj.class_id, rle))
            kept = disjoint_by_score(candidates, frame)
            if kept:
                out[frame] = kept
        results[sequence] = out
    return results


def id_switch_results(gt, seed: int = 3):
    """Good masks (cut to 75-100 % of their box, missed 8 % of the time) under unstable ids: each
    frame an object's hypothesis gets a new id with probability 0.03, two objects whose boxes
    overlap swap ids with probability 0.2, and a new id is, half of the time, that of a track
    that ended (taken over by another object)."""
    rng = np.random.default_rng(seed)
    results = {}
    for sequence, frames in gt.items():
        ids = _Ids()
        hypothesis_id: Dict[int, int] = {}
        ended: List[int] = []
        out = {}
        previous = set()
        for frame in sorted(frames):
            objects = _regular(frames[frame])
            present = {o.obj_id for o in objects}
            ended.extend(hypothesis_id.pop(i) for i in previous - present if i in hypothesis_id)
            previous = present
            for obj in objects:
                if obj.obj_id not in hypothesis_id or rng.random() < 0.03:
                    if ended and rng.random() < 0.5:
                        hypothesis_id[obj.obj_id] = ended.pop(int(rng.integers(len(ended))))
                    else:
                        hypothesis_id[obj.obj_id] = ids.new(obj.class_id)
            boxes = mask_utils.toBbox([o.rle for o in objects]) if objects else np.zeros((0, 4))
            overlap = np.asarray(mask_utils.iou(boxes.tolist(), boxes.tolist(), [0] * len(boxes)))
            for a, b in zip(*np.nonzero(np.triu(overlap > 0, k=1))):
                first, second = objects[a], objects[b]
                if first.class_id == second.class_id and rng.random() < 0.2:
                    hypothesis_id[first.obj_id], hypothesis_id[second.obj_id] = (
                        hypothesis_id[second.obj_id], hypothesis_id[first.obj_id],
                    )
            candidates = [
                (rng.random(), hypothesis_id[o.obj_id], o.class_id,
                 _cut(o.rle, rng.uniform(0.75, 1.0), rng))
                for o in objects
                if rng.random() >= 0.08
            ]  # fmt: skip
            kept = disjoint_by_score(candidates, frame)
            if kept:
                out[frame] = kept
        results[sequence] = out
    return results


def fragment_results(gt, seed: int = 4):
    """Long tracks with fragments: each object is tracked in runs (about 25 frames) broken by
    gaps of missed frames (about 5), after which its track resumes under the same id half of
    the time and under a new one otherwise; masks cut to 45-100 % of their box (so some fall
    below IoU 0.5); and false tracks (about 20 frames) beside the objects, partly on them."""
    rng = np.random.default_rng(seed)
    results = {}
    for sequence, frames in gt.items():
        ids = _Ids()
        state: Dict[int, list] = {}  # GT id -> [hyp id, tracked?, frames left in the run]
        false_tracks: Dict[int, list] = {}  # GT id -> [[hyp id, fy, fx, frames left]]
        out = {}
        for frame in sorted(frames):
            objects = _regular(frames[frame])
            candidates = []
            for obj in objects:
                track = state.get(obj.obj_id)
                if track is None:
                    track = state[obj.obj_id] = [ids.new(obj.class_id), True,
                                                 int(rng.geometric(1 / 25))]
                if track[2] <= 0:
                    track[1] = not track[1]
                    track[2] = int(rng.geometric(1 / 25 if track[1] else 1 / 5))
                    if track[1] and rng.random() < 0.5:
                        track[0] = ids.new(obj.class_id)  # resumed as a new track
                track[2] -= 1
                if track[1]:
                    candidates.append((rng.uniform(0.5, 1.0), track[0], obj.class_id,
                                       _cut(obj.rle, rng.uniform(0.45, 1.0), rng)))
                alive = [t for t in false_tracks.get(obj.obj_id, []) if t[3] > 0]
                if rng.random() < 0.03:
                    alive.append([ids.new(obj.class_id), rng.uniform(-1, 1),
                                  rng.choice([-1, 1]) * rng.uniform(0.5, 1.0),
                                  int(rng.geometric(1 / 20))])
                for false in alive:
                    false[3] -= 1
                    rle = _moved(obj.rle, false[1] * 0.3, false[2], rng)
                    if rle is not None:
                        candidates.append((rng.uniform(0.1, 0.6), false[0], obj.class_id, rle))
                false_tracks[obj.obj_id] = alive
            kept = disjoint_by_score(candidates, frame)
            if kept:
                out[frame] = kept
        results[sequence] = out
    return results


RESULT_CASES = {
    "perturbed": perturbed_results,
    "low-score": low_score_results,
    "id-switches": id_switch_results,
    "fragments": fragment_results,
}
