"""The evaluator at dataset scale: ``python -m trackrcnn_d2.evaluation --workers N`` on a
synthetic set of a hundred-odd sequences (BDD100K MOTS has more than 150 validation videos of
about 200 frames at 720x1280), its speed-up over one process and its peak memory, which must
not grow with the number of sequences.

The set: ``--distinct`` synthetic sequences (moving, occluding cars and pedestrians at 720x1280,
``--frames`` frames each, results of a tracker with fragmented tracks, :mod:`eval_cases`)
repeated under new names up to each of ``--sequences`` (hard links: the same work per sequence
as distinct files, without the generation time). Each run is a fresh process; peak memory is
the largest resident set of the command process and of its largest worker (``ru_maxrss``). With
``--trackeval`` TrackEval's script (``USE_PARALLEL`` with as many cores as our workers) runs on
the same files, and every field of its JSON is checked against ours; with ``--before TREE`` the
evaluator of another checkout (e.g. the commit before streaming) runs beside ours.

    python benchmarks/bench_eval_scale.py [--sequences 40,160] [--workers 1,2] [--frames 100]
                                          [--trackeval] [--before TREE]
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench_eval import (  # noqa: E402
    TRACKEVAL_COMMAND,
    _assert_equal,
    compile_bytecode,
    tree_environment,
)
from eval_cases import RESULT_CASES, synthetic_kitti_val  # noqa: E402

from trackrcnn_d2.evaluation.reference import (  # noqa: E402
    convert_trackeval_output,
    trackeval_configs,
    write_trackeval_folders,
)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIZE = (720, 1280)
CLASSES = ("car", "pedestrian")
# A command run in a fresh process that prints, after its work, its own and its largest (reaped)
# child's peak resident set in KiB to stderr; BODY is ours or TrackEval's.
MEASURED = """
import json, resource, runpy, sys
BODY
peaks = [resource.getrusage(w).ru_maxrss for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
print("PEAKS " + json.dumps(peaks), file=sys.stderr)
"""
OURS = """
sys.argv = ["python -m trackrcnn_d2.evaluation"] + sys.argv[1:]
try:
    runpy.run_module("trackrcnn_d2.evaluation", run_name="__main__", alter_sys=True)
except SystemExit as e:
    assert not e.code, e.code
"""


def _replicate(root: str, distinct: int, n_sequences: int) -> str:
    """A folder ``<root>/n<N>`` with GT and results of N sequences, hard links to the distinct
    ones in turn."""
    target = os.path.join(root, f"n{n_sequences}")
    for part in ("gt", os.path.join("trackers", "ours", "data")):
        os.makedirs(os.path.join(target, part))
        for i in range(n_sequences):
            source = os.path.join(root, "distinct", part, f"{i % distinct:04d}.txt")
            os.link(source, os.path.join(target, part, f"{i:04d}.txt"))
    return target


def _run(command, env, times, cwd):
    """Runs ``command`` in ``cwd``; appends (wall s, CPU s of it and its children, peaks)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    completed = subprocess.run(command, env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True, check=True)  # fmt: skip
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    peaks = [json.loads(line[6:]) for line in completed.stderr.splitlines()
             if line.startswith("PEAKS ")]  # fmt: skip
    times.append((wall, cpu, peaks[0] if peaks else None))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sequences", default="40,160", help="comma-separated set sizes")
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    parser.add_argument("--distinct", type=int, default=8, help="distinct sequences generated")
    parser.add_argument("--frames", type=int, default=100, help="frames per sequence")
    parser.add_argument("--case", default="fragments", choices=list(RESULT_CASES))
    parser.add_argument("--repeat", type=int, default=1, help="runs per setting (best taken)")
    parser.add_argument("--trackeval", action="store_true", help="also time TrackEval")
    parser.add_argument("--before", help="a checkout whose evaluator runs beside ours")
    args = parser.parse_args(argv)
    sizes = [int(n) for n in args.sequences.split(",")]
    worker_counts = [int(w) for w in args.workers.split(",")]

    start = time.perf_counter()
    gt = synthetic_kitti_val(seed=5, lengths={f"{i:04d}": args.frames for i in
                                              range(args.distinct)}, size=SIZE)  # fmt: skip
    results = RESULT_CASES[args.case](gt)
    n_masks = sum(len(o) for f in results.values() for o in f.values())
    print(f"(generated {args.distinct} distinct sequences of {args.frames} frames at "
          f"{SIZE[0]}x{SIZE[1]}, {n_masks} result masks, in {time.perf_counter() - start:.0f} s)")
    trees = [("ours", REPO)] + ([("before", os.path.abspath(args.before))] if args.before else [])
    for _, tree in trees:
        compile_bytecode(tree)
    with tempfile.TemporaryDirectory() as root:
        write_trackeval_folders(os.path.join(root, "distinct"), gt, results, "kitti")
        for n_sequences in sizes:
            folder = _replicate(root, args.distinct, n_sequences)
            print(f"\n== {n_sequences} sequences, {n_sequences * args.frames} frames, "
                  f"{n_masks * n_sequences // args.distinct} result masks ({args.case}); "
                  f"best of {args.repeat}:")
            _compare(folder, n_sequences, trees, worker_counts, args)


def _compare(folder, n_sequences, trees, worker_counts, args):
    gt_folder = os.path.join(folder, "gt")
    results_folder = os.path.join(folder, "trackers", "ours", "data")
    rows, reports = [], {}
    for workers in worker_counts:
        for name, tree in trees:
            if name != "ours" and workers > 1:
                continue  # the checkout before has no workers
            out = os.path.join(folder, f"{name}-{workers}.json")
            command = [sys.executable, "-c", MEASURED.replace("BODY", OURS), gt_folder,
                       results_folder, "--json", out]  # fmt: skip
            if name == "ours":
                command += ["--workers", str(workers)]
            env = {**tree_environment(tree, folder), "OMP_NUM_THREADS": "1"}
            times = []
            for _ in range(args.repeat):
                _run(command, env, times, folder)
            rows.append((f"{name}, --workers {workers}", times))
            with open(out) as f:
                reports[f"{name}, --workers {workers}"] = json.load(f)
        if args.trackeval:
            seq_info = {f"{i:04d}": args.frames for i in range(n_sequences)}
            dataset, dataset_config, evaluator_config = trackeval_configs(
                folder, seq_info, CLASSES, "kitti"
            )
            evaluator_config.update(USE_PARALLEL=workers > 1, NUM_PARALLEL_CORES=workers)
            out = os.path.join(folder, f"trackeval-{workers}.json")
            configs = json.dumps([dataset, dataset_config, evaluator_config])
            command = [sys.executable, "-c", MEASURED.replace("BODY", TRACKEVAL_COMMAND),
                       configs, out]  # fmt: skip
            times = []
            for _ in range(args.repeat):
                _run(command, {**os.environ, "OMP_NUM_THREADS": "1"}, times, folder)
            rows.append((f"TrackEval, {workers} process(es)", times))
            with open(out) as f:
                theirs = convert_trackeval_output(json.load(f), CLASSES)
            _assert_equal(reports[f"ours, --workers {workers}"], theirs, CLASSES)
    first = next(iter(reports.values()))
    for label, report in reports.items():
        if report != first:
            raise AssertionError(f"{label}'s report differs from {next(iter(reports))}'s")
    print(f"   every report is the same{', and every field equals TrackEval' * args.trackeval}")
    reference_wall = min(t[0] for t in rows[0][1])
    for label, times in rows:
        wall, cpu = min(t[0] for t in times), min(t[1] for t in times)
        peaks = min(times, key=lambda t: t[0])[2]
        print(f"   {label:<28}{wall:7.2f} s wall{cpu:7.2f} s CPU   {reference_wall / wall:5.2f} x "
              f"{rows[0][0]}'s speed   peak RSS {peaks[0] / 1024:5.0f} MiB, largest child "
              f"{peaks[1] / 1024:5.0f} MiB")

if __name__ == "__main__":
    main()
