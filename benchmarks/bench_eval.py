"""Speed of ``trackrcnn_d2.evaluation`` against TrackEval, side by side on the same files.

Inputs:

* ``kitti-val-synthetic``: a KITTI-MOTS-val-sized ground truth (the 9 val sequences' lengths,
  2,981 frames, 375x1242, about 11k car / pedestrian masks moving smoothly and occluding each
  other, plus ignore regions), evaluated with TrackEval's ``KittiMOTS``;
* ``motschallenge-real``: the real MOTSChallenge train annotations (26,894 pedestrian masks at
  1080x1920 / 480x640) when ``/work/shared/data/motschallenge`` (or ``--motschallenge``) exists,
  evaluated with TrackEval's ``MOTSChallenge``.

Results are the GT perturbed: dropped masks, masks cut to part of their box, masks split in two
hypotheses, too small masks (FP + FN), false positives inside ignore regions and elsewhere, id
switches, id swaps between tracks. The perturbations work on the RLEs (intersections with
boxes), so the hypotheses stay disjoint.

Both sides are timed including file reading, single-process: ours = ``evaluate_mots_folders``
(what ``python -m trackrcnn_d2.evaluation`` does);
TrackEval = ``Evaluator.evaluate`` with CLEAR, HOTA and Identity. Also timed: a repeated call
with a prepared ``MOTSGroundTruth`` and ``validate=False`` (the tracker's threshold search), and,
with ``--motmetrics``, motmetrics' IDF1 on the same matches. Every number is checked to agree.

Whole commands: ``python -m trackrcnn_d2.evaluation GT RESULTS`` against a TrackEval script doing
the same (``Evaluator.evaluate``, the three metrics, the table printed), each a fresh process
(interpreter start and imports included), on the KITTI-sized case and on the real MOTSChallenge
annotations cut to their first 300 frames per sequence (``--frames``).

    python benchmarks/bench_eval.py [--repeat N] [--motmetrics] [--only kitti|motschallenge]
                                    [--frames N]
"""
import argparse
import contextlib
import io
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np
import pycocotools.mask as mask_utils

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from trackrcnn_d2.data.mots_io import MOTSObject  # noqa: E402
from trackrcnn_d2.evaluation.files import (  # noqa: E402
    evaluate_mots_folders,
    load_gt_folder,
    load_results_folder,
)
from trackrcnn_d2.evaluation.metrics import MOTSGroundTruth, evaluate_mots  # noqa: E402
from trackrcnn_d2.evaluation.reference import (  # noqa: E402
    evaluate_trackeval_folders,
    trackeval_configs,
    write_trackeval_folders,
)

KITTI_VAL_LENGTHS = {  # KITTI MOTS val sequences and their numbers of frames
    "0002": 233, "0006": 270, "0007": 800, "0008": 390, "0010": 294,
    "0013": 340, "0014": 106, "0016": 209, "0018": 339,
}  # fmt: skip
KITTI_SIZE = (375, 1242)
MOTSCHALLENGE = "/work/shared/data/motschallenge"


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


def synthetic_kitti_val(seed: int = 0):
    """KITTI-MOTS-val-sized GT: elliptic cars and pedestrians moving with constant velocity,
    nearer objects (lower bottom edge) occluding farther ones, and ignore boxes."""
    rng = np.random.default_rng(seed)
    height, width = KITTI_SIZE
    gt = {}
    for sequence, length in KITTI_VAL_LENGTHS.items():
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


def perturbed_results(gt, seed: int = 1):
    """Realistic results: the GT perturbed on RLEs, hypotheses disjoint by construction."""
    rng = np.random.default_rng(seed)
    results = {}
    for sequence, frames in gt.items():
        hypothesis_id = {}
        next_id = 1
        out = {}
        for frame in sorted(frames):
            objects = []
            for obj in frames[frame]:
                if obj.class_id == 10:
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


def real_motschallenge(root: str):
    return load_gt_folder(os.path.join(root, "instances_txt"))[0]


def _assert_equal(ours, theirs, class_names):
    worst = 0.0
    for c in class_names:
        pairs = [(ours[c], theirs[c])]
        pairs += [(ours["per_sequence"][s][c], theirs["per_sequence"][s][c]) for s in theirs[
            "per_sequence"
        ]]
        for a, b in pairs:
            for field, value in b.items():
                if not math.isclose(a[field], value, rel_tol=1e-9, abs_tol=1e-9):
                    raise AssertionError(f"{c} {field}: ours {a[field]} != TrackEval {value}")
                worst = max(worst, abs(a[field] - value))
    return worst


def _time_motmetrics(gt, results, class_name, class_id):
    """motmetrics' IDF1 path for one class: accumulate IoU distance matrices per frame, then
    compute idf1. IoUs are computed outside the timed part."""
    import motmetrics

    frames = []
    for sequence, gt_frames in gt.items():
        res_frames = results.get(sequence, {})
        for frame in sorted(set(gt_frames) | set(res_frames)):
            g = [o for o in gt_frames.get(frame, ()) if o.class_id == class_id]
            t = [o for o in res_frames.get(frame, ()) if o.class_id == class_id]
            ious = (
                mask_utils.iou([o.rle for o in g], [o.rle for o in t], [0] * len(t))
                if g and t
                else np.zeros((len(g), len(t)))
            )
            distances = np.where(np.asarray(ious) >= 0.5, 1 - np.asarray(ious), np.nan)
            frames.append((sequence, [o.obj_id for o in g], [o.obj_id for o in t], distances))
    start = time.perf_counter()
    accumulators = {}
    for sequence, g, t, distances in frames:
        accumulator = accumulators.setdefault(sequence, motmetrics.MOTAccumulator(auto_id=True))
        accumulator.update(g, t, distances.reshape(len(g), len(t)))
    handler = motmetrics.metrics.create()
    summary = handler.compute_many(
        list(accumulators.values()), metrics=["idf1"], names=list(accumulators),
        generate_overall=True,
    )
    return time.perf_counter() - start, summary


class _Timer:
    """Appends (wall seconds, process CPU seconds) of the block to ``times``."""

    def __init__(self, times):
        self.times = times

    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def __exit__(self, *exc):
        self.times.append((time.perf_counter() - self.wall, time.process_time() - self.cpu))


def run_case(name, gt, results, flavour, class_names, repeat, with_motmetrics):
    n_gt = sum(o.class_id != 10 for f in gt.values() for objs in f.values() for o in objs)
    n_res = sum(len(objs) for f in results.values() for objs in f.values())
    n_frames = sum(len(f) for f in gt.values())
    print(f"\n== {name}: {len(gt)} sequences, {n_frames} annotated frames, {n_gt} GT masks, "
          f"{n_res} result masks ({flavour})")
    with tempfile.TemporaryDirectory() as root:
        seq_info = write_trackeval_folders(root, gt, results, flavour)
        gt_folder = os.path.join(root, "gt")
        results_folder = os.path.join(root, "trackers", "ours", "data")

        # Alternate the two sides so that load from other processes hits both alike.
        ours_times, trackeval_times = [], []
        for _ in range(repeat):
            with _Timer(ours_times):
                ours = evaluate_mots_folders(gt_folder, results_folder, class_names)
            with _Timer(trackeval_times), contextlib.redirect_stdout(io.StringIO()):
                theirs = evaluate_trackeval_folders(root, seq_info, class_names, flavour)
        gt_read, _ = load_gt_folder(gt_folder)
        results_read = load_results_folder(results_folder, list(gt_read), list(gt_read))
        prepared = MOTSGroundTruth(gt_read)
        repeated_times = []
        for _ in range(repeat):
            with _Timer(repeated_times):
                evaluate_mots(prepared, results_read, class_names, validate=False)

    worst = _assert_equal(ours, theirs, class_names)
    for c in class_names:
        r = ours[c]
        print(f"   {c:<10} sMOTSA {r['sMOTSA']:.2f}  MOTSA {r['MOTSA']:.2f}  MOTSP "
              f"{r['MOTSP']:.2f}  IDS {r['IDS']}  HOTA {r['HOTA']:.2f}  IDF1 {r['IDF1']:.2f}")
    print(f"   all fields equal to TrackEval (largest abs. difference {worst:.2e})")
    print(f"   {'best of ' + str(repeat):<40}{'wall s':>9}{'CPU s':>9}")
    trackeval_wall, trackeval_cpu = (min(t[i] for t in trackeval_times) for i in (0, 1))
    rows = [
        ("TrackEval (files -> metrics)", trackeval_times),
        ("ours (files -> metrics)", ours_times),
        ("ours, prepared GT, validate=False", repeated_times),
    ]
    for label, times in rows:
        wall, cpu = (min(t[i] for t in times) for i in (0, 1))
        print(f"   {label:<40}{wall:9.2f}{cpu:9.2f}   speed-up {trackeval_wall / wall:5.1f} x "
              f"wall, {trackeval_cpu / cpu:5.1f} x CPU")
    if with_motmetrics:
        class_id = 1 if class_names[0] == "car" else 2
        motmetrics_time, summary = _time_motmetrics(gt, results, class_names[0], class_id)
        idf1 = 100 * float(summary["idf1"]["OVERALL"])
        print(f"   motmetrics, IDF1 of {class_names[0]} alone, IoUs given: "
              f"{motmetrics_time:.2f} s wall (IDF1 {idf1:.2f}, counting the hypotheses in ignore "
              f"regions, which TrackEval removes; ours {ours[class_names[0]]['IDF1']:.2f})")


# A TrackEval command equivalent to ours: evaluate the folders, print the results. Its configs
# come from the parent as JSON (trackeval_configs), so that it imports nothing of ours.
TRACKEVAL_COMMAND = """
import json, sys, trackeval
dataset_name, dataset_config, evaluator_config = json.loads(sys.argv[1])
evaluator_config["PRINT_RESULTS"] = True
dataset = getattr(trackeval.datasets, dataset_name)(dataset_config)
trackeval.Evaluator(evaluator_config).evaluate([dataset], [
    trackeval.metrics.CLEAR({"PRINT_CONFIG": False}), trackeval.metrics.HOTA(),
    trackeval.metrics.Identity({"PRINT_CONFIG": False})])
"""


def _time_command(command, times) -> None:
    """Appends (wall seconds, CPU seconds of the child) of running ``command``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    times.append((wall, cpu))


def run_whole_commands(name, gt, results, flavour, class_names, repeat):
    """Our CLI against a TrackEval script, each a fresh process, on the same folders."""
    with tempfile.TemporaryDirectory() as root:
        seq_info = write_trackeval_folders(root, gt, results, flavour)
        ours = [sys.executable, "-m", "trackrcnn_d2.evaluation", os.path.join(root, "gt"),
                os.path.join(root, "trackers", "ours", "data"), "--classes", ",".join(class_names)]
        configs = trackeval_configs(root, seq_info, class_names, flavour)
        theirs = [sys.executable, "-c", TRACKEVAL_COMMAND, json.dumps(configs)]
        ours_times, trackeval_times = [], []
        for _ in range(repeat):
            _time_command(ours, ours_times)
            _time_command(theirs, trackeval_times)
    (ours_wall, ours_cpu), (te_wall, te_cpu) = (
        [min(t[i] for t in times) for i in (0, 1)] for times in (ours_times, trackeval_times)
    )
    print(f"   whole command, {name}, best of {repeat}: TrackEval {te_wall:.2f} s wall "
          f"({te_cpu:.2f} s CPU), python -m trackrcnn_d2.evaluation {ours_wall:.2f} s wall "
          f"({ours_cpu:.2f} s CPU): {te_wall / ours_wall:.1f} x wall, "
          f"{te_cpu / ours_cpu:.1f} x CPU")


def first_frames(data, n_frames: int):
    """The first ``n_frames`` frames (by number) of every sequence."""
    cut = {}
    for sequence, frames in data.items():
        kept = sorted(frames)[:n_frames]
        cut[sequence] = {f: frames[f] for f in kept}
    return cut


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per side (best taken)")
    parser.add_argument("--motmetrics", action="store_true", help="also time motmetrics' IDF1")
    parser.add_argument("--only", choices=["kitti", "motschallenge"])
    parser.add_argument("--motschallenge", default=MOTSCHALLENGE, help="real annotations root")
    parser.add_argument("--frames", type=int, default=300,
                        help="frames per sequence of the real case's whole-command comparison")
    args = parser.parse_args(argv)

    if args.only in (None, "kitti"):
        start = time.perf_counter()
        gt = synthetic_kitti_val()
        results = perturbed_results(gt)
        print(f"(generated the KITTI-val-sized data in {time.perf_counter() - start:.1f} s)")
        run_case("kitti-val-synthetic", gt, results, "kitti", ("car", "pedestrian"),
                 args.repeat, args.motmetrics)
        run_whole_commands("kitti-val-synthetic", gt, results, "kitti", ("car", "pedestrian"),
                           args.repeat)
    if args.only in (None, "motschallenge"):
        if os.path.isdir(os.path.join(args.motschallenge, "instances_txt")):
            gt = real_motschallenge(args.motschallenge)
            results = perturbed_results(gt)
            run_case("motschallenge-real", gt, results, "motschallenge", ("pedestrian",),
                     args.repeat, args.motmetrics)
            gt = first_frames(gt, args.frames)
            results = perturbed_results(gt)
            run_whole_commands(f"motschallenge-real, first {args.frames} frames per sequence",
                               gt, results, "motschallenge", ("pedestrian",), args.repeat)
        else:
            print(f"\n(no MOTSChallenge annotations at {args.motschallenge}: skipped)")


if __name__ == "__main__":
    main()
