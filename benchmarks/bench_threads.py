#!/usr/bin/env python
"""Threads per process, side by side under the same background load: each workload run with
every process on torch's default threads (OMP_NUM_THREADS = the cores, what each process had
before ``trackrcnn_d2.engine.launch`` sized them) and with ours (OMP_NUM_THREADS unset: cores /
processes, one core left to the optical-flow thread), and the ratio.

    python benchmarks/bench_threads.py [--workloads train,eval,demo] [--load 1]
        [--processes 2] [--iterations 30] [--frames 30] [--repeat 1]

Workloads, on a synthetic set made here (``generate_synthetic_mots``: 4 sequences of
``--frames`` frames at 128 x 256, 3 for training, 1 for validation) with the demo config's model
(configs/demo_synthetic.yaml, the model ``make demo`` trains), on the CPU:

- ``train``: ``train_net.py --num-gpus P MODEL.DEVICE cpu`` for ``--iterations`` iterations;
  detectron2's "Overall training speed" (s/iteration; lower is better);
- ``eval``: ``train_net.py --eval-only`` in one process with a random-weight checkpoint (score
  threshold 0, 10 detections per frame, so that every frame has work for the tracker);
  detectron2's "Total inference time" over the validation frames (frames/s);
- ``demo``: ``demo.py`` in one process on the 4 sequences' frame folders with that checkpoint;
  the summary's frames/s.

Background load: ``--load`` processes spinning on the CPU, as other users' work on a shared
machine (the issue's setting). Each workload runs the two settings alternately ``--repeat``
times; the figures are the medians. Process start-up is not counted (each figure is the
script's own measure of its loop).
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = os.path.join(REPO, "configs", "demo_synthetic.yaml")
SPIN = "while True: pass"
# Every frame has the same work for the detector's heads and the tracker.
DETECTIONS = [
    "MODEL.ROI_HEADS.SCORE_THRESH_TEST", "0.0", "TEST.DETECTIONS_PER_IMAGE", "10",
    "TRACKER_HEADS.DETECTION_CONFIDENCE", "[0.0, 0.0]",
]  # fmt: skip


def _cores() -> int:
    return len(os.sched_getaffinity(0))


def prepare(folder: str, frames: int) -> str:
    """The synthetic set under ``folder/synthetic_mots`` and a random-weight checkpoint."""
    sys.path.insert(0, REPO)
    import torch
    from detectron2.checkpoint import DetectionCheckpointer
    from detectron2.modeling import build_model

    import trackrcnn_d2
    from trackrcnn_d2.data.synthetic import generate_synthetic_mots
    from trackrcnn_d2.utils.cli import load_config

    trackrcnn_d2.register_all()
    generate_synthetic_mots(
        os.path.join(folder, "synthetic_mots"), sequences=4, frames=frames, height=128,
        width=256, seed=1,
    )  # fmt: skip
    torch.manual_seed(0)
    model = build_model(load_config(CONFIG, DETECTIONS))
    DetectionCheckpointer(model, save_dir=folder).save("random")
    return os.path.join(folder, "random.pth")


def commands(workload: str, folder: str, weights: str, args) -> list:
    python = [sys.executable]
    if workload == "train":
        return python + [
            os.path.join(REPO, "train_net.py"), "--config-file", CONFIG,
            "--num-gpus", str(args.processes), "MODEL.DEVICE", "cpu", "DATASETS.TEST", "()",
            "SOLVER.MAX_ITER", str(args.iterations), "SOLVER.WARMUP_ITERS", "0",
            "SOLVER.IMS_PER_BATCH", str(4 * args.processes), "OUTPUT_DIR",
            os.path.join(folder, "run"),
        ]  # fmt: skip
    if workload == "eval":
        return python + [
            os.path.join(REPO, "train_net.py"), "--config-file", CONFIG, "--eval-only",
            "MODEL.WEIGHTS", weights, "OUTPUT_DIR", os.path.join(folder, "run"), *DETECTIONS,
        ]  # fmt: skip
    frame_folders = os.path.join(folder, "synthetic_mots", "training", "image_02")
    return python + [
        os.path.join(REPO, "demo.py"), "--config-file", CONFIG, "--input", frame_folders,
        "--output", os.path.join(folder, "run"), "--render", "none", "MODEL.WEIGHTS", weights,
        *DETECTIONS,
    ]  # fmt: skip


def measure(workload: str, log: str) -> float:
    """The workload's own figure from its log: s/iteration, or frames/s."""
    if workload == "train":
        found = re.search(r"Overall training speed: \d+ iterations in \S+ \(([\d.]+) s / it\)", log)
    elif workload == "eval":
        found = re.search(r"Total inference time: \S+ \(([\d.]+) s / iter per device", log)
    else:
        found = re.search(r"Tracked \d+ video\(s\), \d+ frames in \S+ s \(([\d.]+) frames/s\)", log)
    if not found:
        raise RuntimeError(f"{workload}: no figure in its log:\n{log[-3000:]}")
    value = float(found.group(1))
    return 1.0 / value if workload == "eval" else value


def run(workload: str, setting: str, folder: str, weights: str, args) -> float:
    environment = dict(os.environ, DETECTRON2_DATASETS=folder, PYTHONWARNINGS="ignore")
    environment["PYTHONPATH"] = REPO + os.pathsep + environment.get("PYTHONPATH", "")
    environment.pop("OMP_NUM_THREADS", None)
    if setting == "torch default":
        environment["OMP_NUM_THREADS"] = str(_cores())
    subprocess.run(["rm", "-rf", os.path.join(folder, "run")], check=True)
    done = subprocess.run(
        commands(workload, folder, weights, args), env=environment, capture_output=True,
        text=True,
    )  # fmt: skip
    if done.returncode != 0:
        log = done.stdout[-2000:] + done.stderr[-3000:]
        raise RuntimeError(f"{workload} ({setting}) failed:\n{log}")
    return measure(workload, done.stdout + done.stderr)


def main():
    sys.path.insert(0, REPO)
    from trackrcnn_d2.utils.upstream_warnings import silence_known_upstream_warnings

    silence_known_upstream_warnings()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workloads", default="train,eval,demo")
    parser.add_argument("--load", type=int, default=1, help="background processes spinning")
    parser.add_argument("--processes", type=int, default=2, help="train_net.py --num-gpus")
    parser.add_argument("--iterations", type=int, default=30)
    parser.add_argument("--frames", type=int, default=30, help="frames per sequence")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    workloads = args.workloads.split(",")
    with tempfile.TemporaryDirectory() as folder:
        weights = prepare(folder, args.frames)
        load = [subprocess.Popen([sys.executable, "-c", SPIN]) for _ in range(args.load)]
        try:
            figures = {}
            for workload in workloads:
                for _ in range(args.repeat):
                    for setting in ("torch default", "ours"):
                        value = run(workload, setting, folder, weights, args)
                        figures.setdefault((workload, setting), []).append(value)
        finally:
            for process in load:
                process.kill()
                process.wait()
    units = {"train": "s/iteration", "eval": "frames/s", "demo": "frames/s"}
    print(
        f"{_cores()} cores, {args.load} background process(es) spinning; train: "
        f"{args.processes} processes; eval, demo: 1 process (median of {args.repeat})"
    )
    print("| workload | unit | torch default threads | ours | ours vs default |")
    print("|---|---|---|---|---|")
    for workload in workloads:
        default = statistics.median(figures[(workload, "torch default")])
        ours = statistics.median(figures[(workload, "ours")])
        ratio = default / ours if workload == "train" else ours / default
        print(f"| {workload} | {units[workload]} | {default:.3g} | {ours:.3g} | {ratio:.2f}x |")


if __name__ == "__main__":
    main()
