"""evaluate_mots equals TrackEval (run in-process on temporary files) on random inputs, for the
KittiMOTS and MOTSChallenge dataset classes and the CLEAR, HOTA and Identity metrics; and its
IDF1 family equals motmetrics'."""
import os

import numpy as np
import pytest
from helpers.environment import import_or_skip
from helpers.mots_eval_cases import assert_reports_equal, random_case

from trackrcnn_d2.data.mots_io import read_mots_txt
from trackrcnn_d2.evaluation.metrics import MOTSGroundTruth, evaluate_mots
from trackrcnn_d2.utils.rle import decode_mask, encode_mask


def _random_case(seed, flavour):
    rng = np.random.default_rng(seed)
    kitti = flavour == "kitti"
    return random_case(
        rng,
        n_seq=int(rng.integers(1, 3)),
        n_frames=int(rng.integers(1, 30)),  # crosses the 4-frame chunks of the IoU calls
        h=int(rng.integers(6, 14)),
        w=int(rng.integers(6, 16)),
        n_tracks=int(rng.integers(1, 10)),
        first_frame=0 if kitti else 1,
        classes=(1, 2) if kitti else (2,),
    )


@pytest.mark.parametrize("seed", range(40))
def test_kitti_mots_random(seed, trackeval_report):
    gt, results = _random_case(seed, "kitti")
    class_names = ("car", "pedestrian")
    ours = evaluate_mots(gt, results, class_names)
    assert_reports_equal(ours, trackeval_report(gt, results, class_names, "kitti"),
                         class_names)


@pytest.mark.parametrize("seed", range(100, 125))
def test_motschallenge_random(seed, trackeval_report):
    gt, results = _random_case(seed, "motschallenge")
    ours = evaluate_mots(gt, results, ("pedestrian",))
    reference = trackeval_report(gt, results, ("pedestrian",), "motschallenge")
    assert_reports_equal(ours, reference, ("pedestrian",))


@pytest.mark.parametrize("seed", range(6))
def test_several_ignore_regions_per_frame(seed, trackeval_report):
    # TrackEval merges a frame's ignore regions, which may overlap each other: each region of
    # the random cases becomes two overlapping ones (the whole and the whole less its top row).
    gt, results = _random_case(seed, "kitti")
    n_split = 0
    for frames in gt.values():
        for frame, objects in frames.items():
            extra = []
            for o in objects:
                if o.class_id == 10:
                    part = decode_mask(o.rle)
                    part[np.flatnonzero(part.any(axis=1))[0]] = 0
                    if part.any():
                        extra.append(o._replace(rle=encode_mask(part)))
            n_split += len(extra)
            frames[frame] = objects + extra
    assert n_split > 0
    class_names = ("car", "pedestrian")
    ours = evaluate_mots(gt, results, class_names)
    assert_reports_equal(ours, trackeval_report(gt, results, class_names, "kitti"),
                         class_names)


def test_random_cases_exercise_the_hard_paths():
    """The random cases above include ties and conflicts that need the Hungarian algorithm,
    sequences without results, ignore-region removals and id switches."""
    reports = []
    for seed in range(40):
        gt, results = _random_case(seed, "kitti")
        reports.append(evaluate_mots(gt, results))
    cars = [r["car"] for r in reports]
    assert sum(r["IDS"] for r in cars) > 10
    assert sum(r["Frag"] for r in cars) > 10
    assert any(r["TP"] and r["FP"] and r["FN"] for r in cars)


def test_results_in_file_order_break_ties_like_trackeval(trackeval_report):
    """Two hypotheses with IoU exactly 0.5 to the same GT mask: which one is matched depends on
    their order, in the file for TrackEval and in the list for evaluate_mots."""
    from helpers.mots_eval_cases import box, frames

    gt = {"0000": frames(box(0, 1001, 0, 2, 0, 2), box(1, 1001, 0, 2, 0, 2))}
    for first, second in ((1, 2), (2, 1)):
        results = {"0000": frames(
            box(0, first, 0, 2, 0, 1, class_id=1), box(0, second, 0, 2, 1, 2, class_id=1),
            box(1, 2, 0, 2, 0, 2, class_id=1),
        )}  # fmt: skip
        ours = evaluate_mots(gt, results, ("car",))
        assert_reports_equal(ours, trackeval_report(gt, results, ("car",), "kitti"), ("car",))
        assert ours["car"]["IDS"] == (1 if first == 1 else 0)


def test_idf1_family_equals_motmetrics():
    motmetrics = import_or_skip("motmetrics")
    import pycocotools.mask as mask_utils

    for seed in range(5):
        gt, results = _random_case(seed, "kitti")
        accumulator = motmetrics.MOTAccumulator()
        frame_index = 0
        for sequence_index, (sequence, gt_frames) in enumerate(gt.items()):
            result_frames = results.get(sequence, {})
            for frame in sorted(set(gt_frames) | set(result_frames)):
                g = [o for o in gt_frames.get(frame, ()) if o.class_id == 1]
                t = [o for o in result_frames.get(frame, ()) if o.class_id == 1]
                ious = np.zeros((len(g), len(t)))
                if g and t:
                    ious = np.asarray(mask_utils.iou([o.rle for o in g], [o.rle for o in t],
                                                     [0] * len(t)))
                # Ignore-region removal aside, no hypothesis is dropped; keep ids per sequence.
                accumulator.update(
                    [sequence_index * 100000 + o.obj_id for o in g],
                    [sequence_index * 100000 + o.obj_id for o in t],
                    np.where(ious >= 0.5, 1 - ious, np.nan),
                    frameid=frame_index,
                )
                frame_index += 1
        summary = motmetrics.metrics.create().compute(
            accumulator, metrics=["idtp", "idfn", "idfp", "idf1"]
        )
        # motmetrics sees every hypothesis (evaluate_mots drops those in ignore regions) and all
        # sequences as one (the optimum is the sum of the per-sequence ones: ids differ).
        gt_without_ignore = {s: {f: [o for o in objs if o.class_id != 10] for f, objs in fr.items()}
                             for s, fr in gt.items()}  # fmt: skip
        ours = evaluate_mots(gt_without_ignore, results, ("car",))["car"]
        assert ours["IDTP"] == int(summary["idtp"].iloc[0])
        assert ours["IDFN"] == int(summary["idfn"].iloc[0])
        assert ours["IDFP"] == int(summary["idfp"].iloc[0])
        assert ours["IDF1"] == pytest.approx(100 * float(summary["idf1"].iloc[0]))


def _perturbed(gt, rng):
    """Results from real GT: masks cut to part of their box, dropped, split, id switches."""
    import pycocotools.mask as mask_utils

    from trackrcnn_d2.data.mots_io import MOTSObject

    results = {}
    for sequence, frames in gt.items():
        out = {}
        for frame, objects in frames.items():
            kept = []
            for obj in objects:
                if obj.class_id == 10 or rng.random() < 0.1:
                    continue
                x, y, w, h = mask_utils.toBbox(obj.rle)
                height, width = obj.rle["size"]
                cut = int(x + w * rng.uniform(0.3, 1.0))
                keep = mask_utils.frPyObjects(np.array([[0, 0, cut, height]], float), height, width)
                rle = mask_utils.merge([obj.rle, keep[0]], intersect=True)
                obj_id = obj.obj_id + (500 if rng.random() < 0.05 else 0)
                kept.append(MOTSObject(frame, obj_id, obj.class_id, rle))
            if kept:
                out[frame] = kept
        results[sequence] = out
    return results


def test_real_motschallenge_annotations(motschallenge_root, trackeval_report):
    rng = np.random.default_rng(0)
    gt = {}
    for sequence in ("0005", "0009"):  # 480x640 and 1080x1920; the first 40 frames
        frames = read_mots_txt(os.path.join(motschallenge_root, "instances_txt", sequence + ".txt"))
        gt[sequence] = {f: objs for f, objs in frames.items() if f <= 40}
    results = _perturbed(gt, rng)
    ours = evaluate_mots(MOTSGroundTruth(gt), results, ("pedestrian",))
    reference = trackeval_report(gt, results, ("pedestrian",), "motschallenge")
    assert_reports_equal(ours, reference, ("pedestrian",))
    r = ours["pedestrian"]
    assert r["TP"] > 100 and r["FP"] > 0 and r["FN"] > 0 and r["IDS"] > 0
