"""A tiny scene whose errors are known by construction, for the report tests.

Image 120 x 192 (coordinates below in units of 3 pixels), frames 0..5 (KITTI numbering), an
ignore region at the bottom right:

* car 1001 (frames 0-5, moving right): hypothesis 1 in frames 0-2, hypothesis 2 in frames 3-5:
  one identity switch (1 -> 2) at frame 3;
* car 1002 (frames 0-5): hypothesis 3 in every frame but 2: one miss (frame 2), matched again
  at frame 3: one fragmentation;
* car 1003 (frames 1-3): never found: three misses;
* hypothesis 9 (car, frames 0-5) where there is no object: six false positives;
* hypothesis 8 (car, frame 1) inside the ignore region: removed, counted as nothing;
* pedestrian 2001 (frames 0-5) tracked by hypothesis 2005, cut to 3/4 in frame 4 (IoU 0.75).
"""
import os

import numpy as np
from helpers.mots_eval_cases import box

from trackrcnn_d2.data.mots_io import write_mots_txt

UNIT = 3
SIZE = (40 * UNIT, 64 * UNIT)
FRAMES = range(6)
SEQUENCE = "0000"
# Per GT track: (FN, IDS, Frag), known from the construction above.
EXPECTED = {("car", 1001): (0, 1, 0), ("car", 1002): (1, 0, 1), ("car", 1003): (3, 0, 0),
            ("pedestrian", 2001): (0, 0, 0)}  # fmt: skip
EXPECTED_FP = {"car": 6, "pedestrian": 0}
IMAGE_GREY = 90


def _box(frame, obj_id, y0, y1, x0, x1, class_id=None):
    """A box given in units of 3 pixels."""
    y0, y1, x0, x1 = (UNIT * v for v in (y0, y1, x0, x1))
    return box(frame, obj_id, y0, y1, x0, x1, class_id=class_id, size=SIZE)


def scene():
    """``(gt, results)`` of the scene, ``{sequence: {frame: [MOTSObject]}}``."""
    gt, results = {}, {}
    for f in FRAMES:
        objects = [_box(f, 1001, 2, 12, 2 + f, 12 + f), _box(f, 1002, 2, 12, 30, 40),
                   _box(f, 2001, 20, 36, 30, 36), _box(f, 10000, 30, 40, 44, 64, class_id=10)]
        if 1 <= f <= 3:
            objects.append(_box(f, 1003, 20, 30, 2, 12))
        gt[f] = objects
        hypotheses = [_box(f, 1 if f < 3 else 2, 2, 12, 2 + f, 12 + f, class_id=1),
                      _box(f, 9, 14, 18, 50, 60, class_id=1),
                      _box(f, 2005, 20, 32 if f == 4 else 36, 30, 36, class_id=2)]
        if f != 2:
            hypotheses.append(_box(f, 3, 2, 12, 30, 40, class_id=1))
        if f == 1:
            hypotheses.append(_box(f, 8, 32, 38, 46, 54, class_id=1))
        results[f] = hypotheses
    return {SEQUENCE: gt}, {SEQUENCE: results}


def write_scene(root, results=None):
    """GT (``root/gt/<seq>.txt``), results (``root/results/<seq>.txt``) and images
    (``root/images/<seq>/<frame:06d>.png``, uniform grey) of the scene; returns the three
    folders."""
    import cv2

    gt, scene_results = scene()
    results = scene_results if results is None else results
    folders = [os.path.join(root, name) for name in ("gt", "results", "images")]
    for folder, data in zip(folders, (gt, results)):
        for sequence, frames in data.items():
            write_mots_txt(os.path.join(folder, f"{sequence}.txt"),
                           [o for f in sorted(frames) for o in frames[f]])  # fmt: skip
    os.makedirs(os.path.join(folders[2], SEQUENCE))
    for f in FRAMES:
        image = np.full((*SIZE, 3), IMAGE_GREY, np.uint8)
        cv2.imwrite(os.path.join(folders[2], SEQUENCE, f"{f:06d}.png"), image)
    return folders
