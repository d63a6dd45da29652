"""Every entry point under the file-system faults of issue 19, and two demo.py runs into one
folder.

Each entry point (train_net.py, demo.py, the generator, prepare_mots.py, the evaluator,
tune_tracker.py) runs with an empty output path, a read-only destination, a full destination
and a kill during its final write. The first three must end in one line naming the output and
exit status 2 with nothing written; the kill must leave the earlier output whole. A sentinel
file beside the target must stay untouched in every case.

The read-only and the full destinations are small tmpfs mounts where this machine allows
mounting (root); elsewhere a read-only folder is a folder without write permission, and a full
disk is injected at the final commit (``TRACKRCNN_D2_TEST_COMMIT_HOOK``, utils/file_io.py), as
is the pause at which the kill happens.
"""
import contextlib
import errno
import importlib
import os
import runpy
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from typing import Callable, List

import pytest
import torch
from detectron2.checkpoint import DetectionCheckpointer
from detectron2.modeling import build_model

from trackrcnn_d2.data import mots_io, register_synthetic_mots
from trackrcnn_d2.data.synthetic import generate_synthetic_mots
from trackrcnn_d2.tracking import FrameDetections, write_detection_cache
from trackrcnn_d2.utils.cli import load_config
from trackrcnn_d2.utils.file_io import OutputFolder

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = os.path.join(REPO, "configs", "demo_synthetic.yaml")
SENTINEL = "sentinel.txt"
# The tiny model of tests/test_demo.py and tests/test_train_net.py.
MODEL_OPTS = [
    "INPUT.MIN_SIZE_TEST", "32", "INPUT.MAX_SIZE_TEST", "64", "MODEL.DEVICE", "cpu",
    "MODEL.ROI_HEADS.SCORE_THRESH_TEST", "0.0", "TEST.DETECTIONS_PER_IMAGE", "2",
    "TRACKER_HEADS.DETECTION_CONFIDENCE", "[0.0, 0.0]", "TRACKER_HEADS.FLOW", "none",
]  # fmt: skip


def _can_mount() -> bool:
    if os.geteuid() != 0:
        return False
    folder = f"/tmp/mount-probe-{uuid.uuid4().hex[:8]}"
    os.mkdir(folder)
    try:
        mounted = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", folder], capture_output=True
        ).returncode == 0
        if mounted:
            subprocess.run(["umount", folder], check=True)
        return mounted
    finally:
        os.rmdir(folder)


CAN_MOUNT = _can_mount()


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """What the entry points read: a synthetic set (KITTI MOTS layout, 2 sequences of 3 frames
    of 32x64), a random tiny model, the set's val frames, detection caches of its GT."""
    root = tmp_path_factory.mktemp("inputs")
    dataset = root / "synthetic_mots"
    generate_synthetic_mots(str(dataset), sequences=2, frames=3, height=32, width=64)
    prefix = f"faults_{uuid.uuid4().hex[:6]}"
    register_synthetic_mots(prefix, str(dataset))
    torch.manual_seed(0)
    model = build_model(load_config(CONFIG, MODEL_OPTS))
    DetectionCheckpointer(model, save_dir=str(root)).save("random")
    detections = root / "detections"
    for sequence in ("0000", "0001"):
        frames = mots_io.load_mots_ground_truth(str(dataset / "instances_txt"), [sequence])
        cached = []
        for frame in range(3):
            objects = [o for o in frames[sequence].get(frame, []) if o.class_id in (1, 2)]
            cached.append(FrameDetections(
                sequence=sequence, frame_idx=frame, height=32, width=64,
                boxes=[[0, 0, 8, 8]] * len(objects), scores=[1.0] * len(objects),
                classes=[o.class_id - 1 for o in objects], masks=[o.rle for o in objects],
            ))  # fmt: skip
        write_detection_cache(str(detections / f"{sequence}.npz"), cached)
    return {
        "root": str(root),
        "dataset": str(dataset),
        "prefix": prefix,
        "weights": str(root / "random.pth"),
        "frames": str(dataset / "training" / "image_02" / "0001"),
        "detections": str(detections),
    }


@dataclass
class EntryPoint:
    """A script, its command line for an output path, and how its output looks."""

    script: List[str]  # the command line after the python executable, up to the arguments
    main: str  # "module:function" or "file.py:function", run in this process (train_net:
    # train_net.py's parse_args, then the module's function)
    prefix: str  # what its one error line starts with
    arguments: Callable[[dict, str, bool], List[str]]  # (inputs, output, in_process) -> argv
    output_is_folder: bool

    def command(self, inputs, output):
        return [sys.executable, *self.script, *self.arguments(inputs, output, False)]

    def run_in_process(self, inputs, output, overwrite=True) -> int:
        where, function = self.main.split(":")
        search_path = list(sys.path)  # datasets/prepare_mots.py puts the repository first
        try:
            if where.endswith(".py"):
                namespace = runpy.run_path(os.path.join(REPO, where))
            else:
                namespace = vars(importlib.import_module(where))
        finally:
            sys.path[:] = search_path
        argv = self.arguments(inputs, output, True)
        if not overwrite:
            argv.remove("--overwrite")
        if self.script == ["train_net.py"]:
            argv = runpy.run_path(os.path.join(REPO, "train_net.py"))["parse_args"](argv)
            sys.path[:] = search_path
        try:
            code = namespace[function](argv)
        except SystemExit as e:
            return e.code
        return code if isinstance(code, int) else 0


def _train_net_arguments(inputs, output, in_process):
    dataset = f"{inputs['prefix']}_val" if in_process else "synthetic_mots_val"
    return ["--config-file", CONFIG, "--eval-only", *MODEL_OPTS, "MODEL.WEIGHTS", inputs["weights"],
            "DATASETS.TEST", f"('{dataset}',)", "OUTPUT_DIR", output]  # fmt: skip


ENTRY_POINTS = {
    "train_net": EntryPoint(
        ["train_net.py"],
        "trackrcnn_d2.engine.train_net:run",
        "train_net.py: error: ",
        _train_net_arguments,
        True,
    ),
    "demo": EntryPoint(
        ["demo.py"],
        "demo.py:main",
        "demo.py: error: ",
        lambda i, output, _: ["--config-file", CONFIG, "--input", i["frames"], "--output", output,
                              "--overwrite", *MODEL_OPTS, "MODEL.WEIGHTS", i["weights"]],
        True,
    ),  # fmt: skip
    "generator": EntryPoint(
        ["-m", "trackrcnn_d2.data.synthetic"],
        "trackrcnn_d2.data.synthetic:main",
        "python -m trackrcnn_d2.data.synthetic: error: ",
        lambda i, output, _: [output, "--sequences", "2", "--frames", "2", "--height", "32",
                              "--width", "32", "--overwrite"],
        True,
    ),  # fmt: skip
    "prepare_mots": EntryPoint(
        ["datasets/prepare_mots.py"],
        "datasets/prepare_mots.py:main",
        "prepare_mots.py: error: ",
        lambda i, output, _: ["txt2png", os.path.join(i["dataset"], "instances_txt"), output,
                              "--overwrite"],
        True,
    ),  # fmt: skip
    "evaluator": EntryPoint(
        ["-m", "trackrcnn_d2.evaluation"],
        "trackrcnn_d2.evaluation.cli:main",
        "error: ",
        lambda i, output, _: [os.path.join(i["dataset"], "instances_txt"),
                              os.path.join(i["dataset"], "instances_txt"), "--json", output],
        False,
    ),  # fmt: skip
    "tune_tracker": EntryPoint(
        ["tools/tune_tracker.py"],
        "tools/tune_tracker.py:main",
        "tune_tracker.py: error: ",
        lambda i, output, _: ["--config-file", CONFIG, "--detections", i["detections"], "--gt",
                              os.path.join(i["dataset"], "instances_txt"), "--iterations", "2",
                              "--workers", "1", "--no-progress", "--output", output,
                              "--overwrite", "TRACKER_HEADS.FLOW", "none"],
        False,
    ),  # fmt: skip
}
FAULTS = ["empty path", "read-only", "full", "killed at the final write"]


def _env(inputs, **extra):
    return {
        **os.environ, "PYTHONPATH": REPO, "OMP_NUM_THREADS": "1",
        "DETECTRON2_DATASETS": inputs["root"], **extra,
    }  # fmt: skip


def _one_error_line(entry, err: str) -> str:
    errors = [line for line in err.splitlines() if line.startswith(entry.prefix)]
    assert len(errors) == 1 and "Traceback" not in err, err[-3000:]
    return errors[0]


def _write_old_output(output: str, entry: EntryPoint) -> None:
    if entry.output_is_folder:
        with OutputFolder(output) as folder:
            with open(os.path.join(folder, "old.txt"), "w") as f:
                f.write("an earlier result\n")
    else:
        with open(output, "w") as f:
            f.write("an earlier result\n")


def _old_output_is_whole(output: str, entry: EntryPoint) -> bool:
    path = os.path.join(output, "old.txt") if entry.output_is_folder else output
    with open(path) as f:
        return f.read() == "an earlier result\n"


@contextlib.contextmanager
def _destination(tmp_path, fault):
    """The folder to write into, holding the sentinel; (folder, hook): a read-only or full one
    (mounted, or else a test hook that fails the commit)."""
    folder = tmp_path / "destination"
    folder.mkdir()
    hook = None
    mounted = CAN_MOUNT and fault in ("read-only", "full")
    if mounted:
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder)], check=True)
    try:
        (folder / SENTINEL).write_text("untouched\n")
        if fault == "read-only":
            if mounted:
                subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
            elif os.geteuid() != 0:
                folder.chmod(0o555)
            else:
                hook = f"errno:{errno.EROFS}"
        elif fault == "full":
            if mounted:
                with contextlib.suppress(OSError), open(folder / "filler", "wb") as filler:
                    while True:
                        filler.write(b"\0" * 4096)
                        filler.flush()
            else:
                hook = f"errno:{errno.ENOSPC}"
        yield folder, hook
    finally:
        if mounted:  # lazily: an in-process run's log file may still be open there
            subprocess.run(["umount", "--lazy", str(folder)], check=True)
        folder.chmod(0o755)


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("name", ENTRY_POINTS)
def test_entry_point_under_a_file_system_fault(name, fault, inputs, tmp_path, monkeypatch, capfd):
    entry = ENTRY_POINTS[name]
    with _destination(tmp_path, fault) as (folder, hook):
        output = str(folder / ("out" if entry.output_is_folder else "out.json"))
        before = sorted(os.listdir(folder))
        if fault == "empty path":
            monkeypatch.chdir(folder)  # what "" would name
            output = ""
        if fault == "killed at the final write":
            _write_old_output(output, entry)
            before = sorted(os.listdir(folder))
            signal_file = tmp_path / "committing"
            env = _env(inputs, TRACKRCNN_D2_TEST_COMMIT_HOOK=f"pause:{signal_file}")
            process = subprocess.Popen(
                entry.command(inputs, output), cwd=REPO, env=env,
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            )  # fmt: skip
            deadline = time.monotonic() + 300
            while not signal_file.exists() and process.poll() is None:
                assert time.monotonic() < deadline, "the run never reached its final write"
                time.sleep(0.1)
            assert signal_file.exists(), process.communicate()[1][-3000:]
            process.send_signal(signal.SIGKILL)
            process.communicate()
            assert _old_output_is_whole(output, entry)
            # The killed run's hidden temporary is left (the next writer removes it).
            after = [n for n in os.listdir(folder) if not n.startswith(".")]
            assert sorted(after) == before
        else:
            if hook is not None:
                monkeypatch.setenv("TRACKRCNN_D2_TEST_COMMIT_HOOK", hook)
            capfd.readouterr()
            code = entry.run_in_process(inputs, output)
            line = _one_error_line(entry, capfd.readouterr().err)
            assert code == 2
            if fault == "empty path":
                assert "is empty" in line
            else:
                assert output in line
                assert ("read-only" if fault == "read-only" else "No space left") in line
            assert sorted(os.listdir(folder)) == before, "something was left behind"
        assert (folder / SENTINEL).read_text() == "untouched\n"


def test_two_demo_runs_into_one_folder_lose_no_result(inputs, tmp_path):
    """Both start on an empty --output; while the first one writes there, the second one is
    refused (one line, exit 2) and the first one's result is complete."""
    output = tmp_path / "out"
    (tmp_path / "signals").mkdir()
    signal_file = tmp_path / "signals" / "committing"
    command = ENTRY_POINTS["demo"].command(inputs, str(output))
    command.remove("--overwrite")
    # The first run waits at its first write until the second one (in this process) ended.
    first = subprocess.Popen(
        command, cwd=REPO, env=_env(inputs, TRACKRCNN_D2_TEST_COMMIT_HOOK=f"pause:{signal_file}"),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 300
    while not signal_file.exists() and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert signal_file.exists(), first.communicate()[1][-3000:]
    second = subprocess.run(command, cwd=REPO, env=_env(inputs), capture_output=True, text=True)
    assert second.returncode == 2
    line = _one_error_line(ENTRY_POINTS["demo"], second.stderr)
    assert "another demo.py run is writing into this folder" in line
    signal_file.unlink()  # ends the first run's pause
    err = first.communicate(timeout=300)[1]
    assert first.returncode == 0, err[-3000:]
    assert sorted(n for n in os.listdir(output) if not n.startswith(".")) == ["0001.txt", "frames"]
    assert (output / "0001.txt").read_text().count("\n") > 0
    assert sorted(os.listdir(tmp_path)) == ["out", "signals"]
