"""Distributed training on the CPU (gloo, two processes) and resumption after a kill, on a tiny
synthetic set with the demo's small model (seconds per iteration): the plumbing, not accuracy."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch.utils.tensorboard import SummaryWriter

from trackrcnn_d2.data.synthetic import generate_synthetic_mots

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIG = os.path.join(REPO, "configs", "demo_synthetic.yaml")
TINY = [
    "INPUT.MIN_SIZE_TRAIN", "(64,)", "INPUT.MAX_SIZE_TRAIN", "128",
    "INPUT.MIN_SIZE_TEST", "64", "INPUT.MAX_SIZE_TEST", "128",
    "SOLVER.WARMUP_ITERS", "0", "SOLVER.STEPS", "()", "SEED", "3",
    "MODEL.ROI_HEADS.SCORE_THRESH_TEST", "0.0", "TRACKER_HEADS.DETECTION_CONFIDENCE", "[0.0, 0.0]",
    "TEST.DETECTIONS_PER_IMAGE", "5",
]  # fmt: skip


@pytest.fixture(scope="module")
def datasets_root(tmp_path_factory):
    """$DETECTRON2_DATASETS with synthetic_mots/: 8 sequences of 10 frames (6 train, 2 val)."""
    root = tmp_path_factory.mktemp("datasets")
    generate_synthetic_mots(
        str(root / "synthetic_mots"), sequences=8, frames=10, height=64, width=128, seed=2
    )
    return root


def _environment(datasets_root):
    return dict(os.environ, DETECTRON2_DATASETS=str(datasets_root), OMP_NUM_THREADS="1")


@pytest.mark.timeout(900)  # two processes; the subprocess timeout (600 s) says more
def test_two_process_cpu_training_with_the_kitti_clip_settings(datasets_root, tmp_path):
    """`train_net.py --num-gpus 2 MODEL.DEVICE cpu` with the KITTI config's clips (8 frames,
    IMS_PER_BATCH 8) and the README's scaling (SOLVER.REFERENCE_WORLD_SIZE 1): one clip per
    rank, different clips on the two ranks, identical weights after each step (gradients
    averaged), and the final evaluation tracks every val sequence exactly once."""
    output_dir = tmp_path / "run"
    opts = [
        *TINY, "OUTPUT_DIR", str(output_dir), "MODEL.DEVICE", "cpu",
        "INPUT.CLIP_LENGTH", "8", "SOLVER.IMS_PER_BATCH", "8", "SOLVER.REFERENCE_WORLD_SIZE", "1",
        "SOLVER.MAX_ITER", "4", "SOLVER.CHECKPOINT_PERIOD", "100",
    ]  # fmt: skip
    run = subprocess.run(
        [
            sys.executable, os.path.join(REPO, "tests", "engine", "distributed_worker.py"),
            str(tmp_path), "--config-file", CONFIG, "--num-gpus", "2", "--dist-url", "auto", *opts,
        ],
        env=_environment(datasets_root), capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-4000:]
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=False) for r in (0, 1)]
    # MAX_ITER 4 at a reference world size of 1 is 2 iterations on 2 GPUs.
    assert [len(rank["batches"]) >= 2 for rank in ranks] == [True, True]
    for step in range(2):
        clips = [rank["batches"][step] for rank in ranks]
        assert [len(clip) for clip in clips] == [8, 8]
        assert set(clips[0]).isdisjoint(clips[1])
    for name, value in ranks[0]["final"].items():
        assert torch.equal(value, ranks[1]["final"][name]), name
    assert any(
        not torch.equal(value, ranks[0]["initial"][name])
        for name, value in ranks[0]["final"].items()
    )
    inference = output_dir / "inference" / "synthetic_mots_val"
    seqmap = datasets_root / "synthetic_mots" / "evaluate_mots.seqmap.val"
    sequences = [line.split()[0] for line in seqmap.read_text().splitlines()]
    assert sorted(p.stem for p in inference.glob("*.txt")) == sorted(sequences) == ["0006", "0007"]
    for sequence in sequences:
        lines = (inference / f"{sequence}.txt").read_text().splitlines()
        keys = [tuple(line.split()[:2]) for line in lines]  # (frame, obj_id)
        assert lines and len(keys) == len(set(keys))
        assert {int(frame) for frame, _ in keys} <= set(range(10))
    assert json.loads((inference / "mots_metrics.json").read_text())


def _records(metrics_file):
    return [json.loads(line) for line in metrics_file.read_text().splitlines()]


@pytest.mark.timeout(900)  # two training runs; the subprocess timeout says more
def test_resume_after_a_kill_continues_from_the_last_checkpoint(datasets_root, tmp_path):
    """SIGKILL a run once it has logged (checkpoints every 15 iterations, metrics.json every
    20), restart it with --resume for 10 more iterations: it continues from the last checkpoint,
    whichever it is when the kill lands, and metrics.json and TensorBoard have every logged
    iteration exactly once: what the killed run logged up to that checkpoint, then the resumed
    run's (every 20th and the last)."""
    output_dir = tmp_path / "run"

    def command(*flags, max_iter, checkpoint_period):
        return [
            sys.executable, os.path.join(REPO, "train_net.py"), "--config-file", CONFIG, *flags,
            *TINY, "OUTPUT_DIR", str(output_dir), "DATASETS.TEST", "()",
            "INPUT.CLIP_LENGTH", "2", "SOLVER.IMS_PER_BATCH", "2",
            "SOLVER.MAX_ITER", str(max_iter), "SOLVER.CHECKPOINT_PERIOD", str(checkpoint_period),
        ]  # fmt: skip

    environment = _environment(datasets_root)
    killed = subprocess.Popen(
        command(max_iter=1000, checkpoint_period=15),
        env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    metrics_file = output_dir / "metrics.json"
    try:
        deadline = time.monotonic() + 300
        while killed.poll() is None and not (
            metrics_file.exists() and metrics_file.read_bytes().endswith(b"\n")
        ):
            assert time.monotonic() < deadline, "nothing logged"
            time.sleep(0.1)
    finally:
        killed.send_signal(signal.SIGKILL)
        killed.wait()
    logged = [r["iteration"] for r in _records(metrics_file)]
    checkpoint = output_dir / (output_dir / "last_checkpoint").read_text().strip()
    last = torch.load(checkpoint, map_location="cpu", weights_only=False)["iteration"]
    # Iteration 19 was logged, so checkpoint 14 (or a later one) had been written.
    assert logged and all((i + 1) % 20 == 0 for i in logged)
    assert last >= 14 and (last + 1) % 15 == 0
    # A killed run whose TensorBoard file was flushed after its last checkpoint (the writer
    # flushes every 2 minutes).
    with SummaryWriter(str(output_dir)) as flushed:
        flushed.add_scalar("total_loss", 99.0, last + 5)
    resumed = subprocess.run(
        command("--resume", max_iter=last + 11, checkpoint_period=1000),
        env=environment, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr[-4000:]
    assert f"Loading from {checkpoint}" in resumed.stderr + resumed.stdout
    again = [i for i in range(last + 1, last + 11) if (i + 1) % 20 == 0 or i == last + 10]
    assert [r["iteration"] for r in _records(metrics_file)] == [
        i for i in logged if i <= last
    ] + again
    final = torch.load(output_dir / "model_final.pth", map_location="cpu", weights_only=False)
    assert final["iteration"] == last + 10
    tensorboard = EventAccumulator(str(output_dir))
    tensorboard.Reload()
    losses = [event for event in tensorboard.Scalars("total_loss") if event.step > last]
    assert [event.step for event in losses] == again
    assert all(event.value != 99.0 for event in losses)
