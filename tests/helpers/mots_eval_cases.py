"""Small MOTS inputs for the evaluation tests: masks from boxes and random GT / result sets."""
from typing import Dict, List

import numpy as np

from trackrcnn_d2.data.mots_io import MOTSObject, id_map_to_objects
from trackrcnn_d2.utils.rle import encode_mask

HEIGHT, WIDTH = 10, 12


def box(frame: int, obj_id: int, y0: int, y1: int, x0: int, x1: int, class_id=None,
        size=(HEIGHT, WIDTH)) -> MOTSObject:
    """A rectangular mask ``[y0, y1) x [x0, x1)``; class from the obj_id unless given."""
    mask = np.zeros(size, dtype=np.uint8)
    mask[y0:y1, x0:x1] = 1
    class_id = obj_id // 1000 if class_id is None else class_id
    return MOTSObject(frame, obj_id, class_id, encode_mask(mask))


def frames(*objects: MOTSObject) -> Dict[int, List[MOTSObject]]:
    """``{frame: [objects]}`` in the given order."""
    out: Dict[int, List[MOTSObject]] = {}
    for obj in objects:
        out.setdefault(obj.frame, []).append(obj)
    return out


def random_case(rng, n_seq=2, n_frames=8, h=12, w=16, n_tracks=5, first_frame=0,
                classes=(1, 2)):
    """Random GT (moving boxes, gaps, ignore regions) and results (shifted / grown masks,
    misses, id switches, false positives, objects of an unevaluated class), each frame an id
    map so that masks are disjoint; objects in random order within a frame. Tiny images make
    IoUs of exactly 0.5 and ties in the matchings frequent."""
    gt, results = {}, {}
    for s in range(n_seq):
        sequence = f"{s:04d}"
        tracks = [int(rng.choice(classes)) * 1000 + k + 1 for k in range(n_tracks)]
        hypothesis = {t: t for t in tracks}
        next_id = 500
        gt_frames, result_frames = {}, {}
        frame = first_frame
        for _ in range(n_frames):
            frame += int(rng.choice([1, 1, 1, 2, 5]))  # sometimes skip frames
            g = np.zeros((h, w), np.uint16)
            r = np.zeros((h, w), np.uint16)
            if rng.random() < 0.1:
                continue
            for t in tracks:
                if rng.random() < 0.3:
                    continue
                y, x = rng.integers(0, h - 2), rng.integers(0, w - 2)
                hh, ww = rng.integers(1, 6), rng.integers(1, 6)
                g[y : y + hh, x : x + ww] = t
                if rng.random() < 0.2:
                    continue  # missed
                if rng.random() < 0.1:  # id switch
                    hypothesis[t] = t // 1000 * 1000 + next_id
                    next_id += 1
                dy, dx = rng.integers(-1, 2), rng.integers(-1, 2)
                ey, ex = rng.integers(0, 2), rng.integers(0, 2)
                r[max(0, y + dy) : max(0, y + dy + hh + ey),
                  max(0, x + dx) : max(0, x + dx + ww + ex)] = hypothesis[t]  # fmt: skip
            if rng.random() < 0.5:  # ignore region on free pixels
                y, x = rng.integers(0, h - 3), rng.integers(0, w - 3)
                patch = g[y : y + 3, x : x + 4]
                patch[patch == 0] = 10000
            for _ in range(int(rng.integers(0, 3))):  # false positives
                y, x = rng.integers(0, h - 2), rng.integers(0, w - 2)
                class_id = int(rng.choice(classes))
                r[y : y + rng.integers(1, 4), x : x + rng.integers(1, 4)] = (
                    class_id * 1000 + 900 + int(rng.integers(0, 5))
                )
            if rng.random() < 0.1:  # an object of a class that is not evaluated
                r[0, 0] = 3001
            gt_objects = id_map_to_objects(g, frame)
            result_objects = id_map_to_objects(r, frame)
            rng.shuffle(gt_objects)
            rng.shuffle(result_objects)
            if gt_objects:
                gt_frames[frame] = gt_objects
            if result_objects:
                result_frames[frame] = result_objects
        gt[sequence] = gt_frames
        results[sequence] = result_frames
    return gt, results


def assert_reports_equal(ours, reference, class_names, rel=1e-9):
    """Every field of TrackEval's report (combined and per sequence) equals ours: counts
    exactly, rates to round-off."""
    for class_name in class_names:
        pairs = [(ours[class_name], reference[class_name], "combined")]
        pairs += [
            (ours["per_sequence"][s][class_name], reference["per_sequence"][s][class_name], s)
            for s in reference["per_sequence"]
        ]
        for mine, theirs, where in pairs:
            for field, value in theirs.items():
                if isinstance(value, int):
                    assert mine[field] == value, (class_name, where, field, mine[field], value)
                else:
                    assert abs(mine[field] - value) <= rel * max(1.0, abs(value)), (
                        class_name, where, field, mine[field], value,
                    )
