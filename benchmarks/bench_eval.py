"""Speed of ``trackrcnn_d2.evaluation`` against TrackEval, side by side on the same files.

Ground truth (``--data``):

* ``kitti``: a KITTI-MOTS-val-sized synthetic set (the 9 val sequences' lengths, 2,981 frames,
  375x1242, about 11k car / pedestrian masks moving smoothly and occluding each other, plus
  ignore regions), evaluated with TrackEval's ``KittiMOTS``;
* ``motschallenge``: the real MOTSChallenge train annotations (26,894 pedestrian masks at
  1080x1920 / 480x640) when ``/work/shared/data/motschallenge`` (or ``--motschallenge``) exists,
  evaluated with TrackEval's ``MOTSChallenge``; the whole commands run on its first ``--frames``
  frames per sequence (default 300, 0 for all).

Result sets (``--cases``, :mod:`eval_cases`): ``perturbed`` (the GT perturbed mask by mask),
``low-score`` (a detector kept down to a low score: many hypotheses overlapping each object),
``id-switches`` (frequent new, swapped and taken-over ids), ``fragments`` (long tracks broken
by gaps, false tracks beside the objects). Every hypothesis set is disjoint, as MOTS requires.

For each (data, case): the whole commands, each a fresh process (interpreter start and imports
included, the package's bytecode compiled beforehand as an installation has it), alternated so
that load from other processes hits both alike (the load average is printed at each case's
start and end), best of ``--repeat``:
``python -m trackrcnn_d2.evaluation GT RESULTS`` against a TrackEval script doing the same
(``Evaluator.evaluate`` with CLEAR, HOTA and Identity, results printed); then both once more
writing JSON, and every field (combined and per sequence) is checked to agree. With
``--in-process CASES`` (default: perturbed) also, in one process: ``evaluate_mots_folders``
against TrackEval's ``Evaluator.evaluate``, and a repeated ``evaluate_mots`` with a prepared
``MOTSGroundTruth`` and ``validate=False`` (the tracker's threshold search); with
``--motmetrics`` motmetrics' IDF1 on the same matches.

    python benchmarks/bench_eval.py [--data kitti,motschallenge] [--cases low-score,...]
                                    [--repeat N] [--frames N] [--in-process CASES] [--motmetrics]
                                    [--before TREE]
"""
import argparse
import compileall
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

from eval_cases import (  # noqa: E402
    MOTSCHALLENGE,
    RESULT_CASES,
    first_frames,
    real_motschallenge,
    synthetic_kitti_val,
)

from trackrcnn_d2.evaluation.files import (  # noqa: E402
    evaluate_mots_folders,
    load_gt_folder,
    load_results_folder,
)
from trackrcnn_d2.evaluation.metrics import MOTSGroundTruth, evaluate_mots  # noqa: E402
from trackrcnn_d2.evaluation.reference import (  # noqa: E402
    convert_trackeval_output,
    evaluate_trackeval_folders,
    trackeval_configs,
    write_trackeval_folders,
)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = {  # --data name: (TrackEval flavour, classes)
    "kitti": ("kitti", ("car", "pedestrian")),
    "motschallenge": ("motschallenge", ("pedestrian",)),
}


def _assert_equal(ours, theirs, class_names):
    """Every field of TrackEval's report equals ours (combined and per sequence); returns the
    largest absolute difference."""
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


def _best(times):
    return [min(t[i] for t in times) for i in (0, 1)]


def run_in_process(gt, results, flavour, class_names, repeat, with_motmetrics):
    """Files to metrics in one process: ours against TrackEval's ``Evaluator.evaluate``, and the
    repeated call with a prepared ground truth."""
    with tempfile.TemporaryDirectory() as root:
        seq_info = write_trackeval_folders(root, gt, results, flavour)
        gt_folder = os.path.join(root, "gt")
        results_folder = os.path.join(root, "trackers", "ours", "data")
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
    print(f"   in one process, every field equal to TrackEval (largest abs. difference "
          f"{worst:.2e}); best of {repeat}:{'wall s':>9}{'CPU s':>9}")
    trackeval_wall, trackeval_cpu = _best(trackeval_times)
    rows = [
        ("TrackEval (files -> metrics)", trackeval_times),
        ("ours (files -> metrics)", ours_times),
        ("ours, prepared GT, validate=False", repeated_times),
    ]
    for label, times in rows:
        wall, cpu = _best(times)
        print(f"   {label:<54}{wall:9.2f}{cpu:9.2f}   speed-up {trackeval_wall / wall:5.1f} x "
              f"wall, {trackeval_cpu / cpu:5.1f} x CPU")
    if with_motmetrics:
        class_id = 1 if class_names[0] == "car" else 2
        motmetrics_time, summary = _time_motmetrics(gt, results, class_names[0], class_id)
        idf1 = 100 * float(summary["idf1"]["OVERALL"])
        print(f"   motmetrics, IDF1 of {class_names[0]} alone, IoUs given: "
              f"{motmetrics_time:.2f} s wall (IDF1 {idf1:.2f}, counting the hypotheses in ignore "
              f"regions, which TrackEval removes; ours {ours[class_names[0]]['IDF1']:.2f})")


# A TrackEval command equivalent to ours: evaluate the folders, print the results, and write them
# as JSON where argv[2] names a file. Its configs come from the parent as JSON
# (trackeval_configs), so that it imports nothing of ours.
TRACKEVAL_COMMAND = """
import json, sys, trackeval
dataset_name, dataset_config, evaluator_config = json.loads(sys.argv[1])
evaluator_config["PRINT_RESULTS"] = True
dataset = getattr(trackeval.datasets, dataset_name)(dataset_config)
output, _ = trackeval.Evaluator(evaluator_config).evaluate([dataset], [
    trackeval.metrics.CLEAR({"PRINT_CONFIG": False}), trackeval.metrics.HOTA(),
    trackeval.metrics.Identity({"PRINT_CONFIG": False})])
if len(sys.argv) > 2:
    res = output[dataset.get_name()]["ours"]
    with open(sys.argv[2], "w") as f:
        json.dump({seq: {cls: {metric: {field: getattr(value, "tolist", lambda: value)()
                                        for field, value in fields.items()}
                               for metric, fields in metrics.items()}
                         for cls, metrics in classes.items()}
                   for seq, classes in res.items()}, f)
"""


def tree_environment(tree: str, cwd: str) -> dict:
    """The environment in which a command run in ``cwd`` imports ``trackrcnn_d2`` from
    ``tree``, checked: ``python -m`` and ``python -c`` put the current folder ahead of
    PYTHONPATH, so a command run in a checkout would import that checkout's package whatever
    PYTHONPATH says. The commands therefore run in ``cwd``, a folder without the package."""
    tree = os.path.abspath(tree)
    env = {**os.environ, "PYTHONPATH": tree}
    found = subprocess.run(
        [sys.executable, "-c", "import trackrcnn_d2; print(trackrcnn_d2.__file__)"],
        env=env, cwd=cwd, capture_output=True, text=True, check=True,
    ).stdout.strip()
    if not found.startswith(os.path.join(tree, "")):
        raise RuntimeError(f"the commands meant for {tree} import {found}")
    return env


def _time_command(command, times, env, cwd) -> None:
    """Appends (wall seconds, CPU seconds of the child) of running ``command`` in ``cwd``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=env, cwd=cwd)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    times.append((wall, cpu))


def run_whole_commands(gt, results, flavour, class_names, repeat, before=None):
    """Our command against a TrackEval script, each a fresh process printing its table, on the
    same folders, and with ``before`` (a checkout) its evaluator too, in turn; then each once
    more writing JSON, checked to agree on every field. Returns the best (wall, CPU) of ours,
    TrackEval's and the checkout's (None without one)."""
    with tempfile.TemporaryDirectory() as root:
        seq_info = write_trackeval_folders(root, gt, results, flavour)
        ours = [sys.executable, "-m", "trackrcnn_d2.evaluation", os.path.join(root, "gt"),
                os.path.join(root, "trackers", "ours", "data"), "--classes", ",".join(class_names)]
        configs = trackeval_configs(root, seq_info, class_names, flavour)
        theirs = [sys.executable, "-c", TRACKEVAL_COMMAND, json.dumps(configs)]
        commands = {"ours": (ours, tree_environment(REPO, root)), "TrackEval": (theirs, None)}
        if before:
            commands["before"] = (ours, tree_environment(before, root))
        times = {name: [] for name in commands}
        for _ in range(repeat):
            for name, (command, env) in commands.items():
                _time_command(command, times[name], env, root)
        reports = {}
        for name, (command, env) in commands.items():
            path = os.path.join(root, f"{name}.json")
            _time_command(command + (["--json", path] if command is ours else [path]), [], env,
                          root)
            with open(path) as f:
                reports[name] = json.load(f)
    reference = convert_trackeval_output(reports.pop("TrackEval"), class_names)
    worst = max(_assert_equal(report, reference, class_names) for report in reports.values())
    print(f"   whole commands: every field equal to TrackEval (largest abs. difference "
          f"{worst:.2e})")
    return _best(times["ours"]), _best(times["TrackEval"]), (
        _best(times["before"]) if before else None
    )


def compile_bytecode(tree: str) -> None:
    """Bytecode of the package under ``tree``, as an installation (``make install``, pip) has it,
    so that the commands do not compile the modules at every start."""
    compileall.compile_dir(os.path.join(tree, "trackrcnn_d2"), quiet=1)


def _describe(name, gt, results):
    n_gt = sum(o.class_id != 10 for f in gt.values() for objs in f.values() for o in objs)
    n_res = sum(len(objs) for f in results.values() for objs in f.values())
    n_frames = sum(len(f) for f in gt.values())
    print(f"\n== {name}: {len(gt)} sequences, {n_frames} annotated frames, {n_gt} GT masks, "
          f"{n_res} result masks")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="kitti,motschallenge",
                        help="comma-separated ground truths: kitti, motschallenge")
    parser.add_argument("--cases", default=",".join(RESULT_CASES),
                        help=f"comma-separated result sets: {', '.join(RESULT_CASES)}")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per side (best taken)")
    parser.add_argument("--frames", type=int, default=300,
                        help="frames per MOTSChallenge sequence of the whole commands (0: all)")
    parser.add_argument("--in-process", default="perturbed",
                        help="cases also timed in one process on all frames ('' for none)")
    parser.add_argument("--motmetrics", action="store_true", help="also time motmetrics' IDF1")
    parser.add_argument("--motschallenge", default=MOTSCHALLENGE, help="real annotations root")
    parser.add_argument("--before", metavar="TREE",
                        help="a checkout (e.g. of an earlier commit) whose evaluator command is "
                        "timed in the same rounds")
    args = parser.parse_args(argv)
    cases = [c for c in args.cases.split(",") if c]
    in_process = [c for c in args.in_process.split(",") if c]
    for name in cases + in_process:
        if name not in RESULT_CASES:
            parser.error(f"unknown case {name!r}; choose from {', '.join(RESULT_CASES)}")

    for tree in [REPO, args.before]:
        if tree:
            compile_bytecode(tree)
    summary = []
    for data in [d for d in args.data.split(",") if d]:
        flavour, class_names = DATA[data]
        if data == "kitti":
            start = time.perf_counter()
            full_gt = synthetic_kitti_val()
            print(f"(generated the KITTI-val-sized ground truth in "
                  f"{time.perf_counter() - start:.1f} s)")
            command_gt = full_gt
        else:
            full_gt = real_motschallenge(args.motschallenge)
            if full_gt is None:
                print(f"\n(no MOTSChallenge annotations at {args.motschallenge}: skipped)")
                continue
            command_gt = first_frames(full_gt, args.frames)
        for case in cases:
            results = RESULT_CASES[case](command_gt)
            frames = f", first {args.frames} frames" if command_gt is not full_gt else ""
            name = f"{data}{frames}, {case}"
            _describe(name, command_gt, results)
            load = [os.getloadavg()[0]]
            (ours_wall, ours_cpu), (te_wall, te_cpu), before = run_whole_commands(
                command_gt, results, flavour, class_names, args.repeat, args.before
            )
            load.append(os.getloadavg()[0])
            print(f"   load average (1 min) {load[0]:.1f} when the case began, {load[1]:.1f} "
                  f"when it ended ({os.cpu_count()} cores)")
            print(f"   whole command, best of {args.repeat}: TrackEval {te_wall:.2f} s wall "
                  f"({te_cpu:.2f} s CPU), python -m trackrcnn_d2.evaluation {ours_wall:.2f} s "
                  f"wall ({ours_cpu:.2f} s CPU): {te_wall / ours_wall:.1f} x wall, "
                  f"{te_cpu / ours_cpu:.1f} x CPU")
            if before:
                print(f"   the same command of {args.before}: {before[0]:.2f} s wall "
                      f"({before[1]:.2f} s CPU): {te_wall / before[0]:.1f} x wall, "
                      f"{te_cpu / before[1]:.1f} x CPU")
            summary.append((name, te_wall / ours_wall, te_cpu / ours_cpu,
                            before and te_wall / before[0], before and te_cpu / before[1], load))
            if case in in_process:
                if command_gt is not full_gt:
                    results = RESULT_CASES[case](full_gt)
                    _describe(f"{data}, all frames, {case}", full_gt, results)
                start_load = os.getloadavg()[0]
                run_in_process(full_gt, results, flavour, class_names, args.repeat,
                               args.motmetrics)
                print(f"   load average (1 min) {start_load:.1f} when it began, "
                      f"{os.getloadavg()[0]:.1f} when it ended")
    if summary:
        print(f"\nwhole command, TrackEval's time / ours (best of {args.repeat}):")
        for name, wall, cpu, before_wall, before_cpu, load in summary:
            earlier = (f"   ({args.before}: {before_wall:.1f} x wall, {before_cpu:.1f} x CPU)"
                       if args.before else "")  # fmt: skip
            print(f"   {name:<52} {wall:5.1f} x wall, {cpu:5.1f} x CPU   load "
                  f"{min(load):.1f}-{max(load):.1f}{earlier}")
        print(f"   smallest: {min(s[1] for s in summary):.1f} x wall, "
              f"{min(s[2] for s in summary):.1f} x CPU")

if __name__ == "__main__":
    main()
