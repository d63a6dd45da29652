"""demo.py over several processes (gloo on the CPU): whole videos per process, the same tracks
as one process byte for byte, a per-process summary, and a killed process losing only the
video it was tracking (the same command then tracks only the unfinished ones).

Four short synthetic videos (two MPEG-4 files, two frame folders, 4 to 10 frames of 64 x 128)
and the demo config's model with random weights, as in tests/test_demo.py.
"""
import json
import os
import re
import signal
import subprocess
import sys
import time

import cv2
import pytest
from helpers.demo_cases import CONFIG, OPTS, save_random_weights

import demo
from trackrcnn_d2.data.synthetic import render_sequence

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# name -> frames: videos (.mp4) and frame folders, of different lengths.
VIDEOS = {"a_road": 10, "b_yard": 4, "c_gate": 8, "d_lane": 6}


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    return save_random_weights(tmp_path_factory.mktemp("model"))


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """A folder of the four inputs."""
    folder = tmp_path_factory.mktemp("inputs")
    for seed, (name, count) in enumerate(VIDEOS.items()):
        frames, _ = render_sequence(seed, count, 64, 128, seed=seed)
        if seed % 2 == 0:
            writer = cv2.VideoWriter(
                str(folder / f"{name}.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 5.0, (128, 64)
            )
            for frame in frames:
                writer.write(frame[:, :, ::-1])
            writer.release()
        else:
            (folder / name).mkdir()
            for i, frame in enumerate(frames):
                cv2.imwrite(str(folder / name / f"{i:06d}.png"), frame[:, :, ::-1])
    return str(folder)


def _arguments(inputs, output, weights, *flags):
    return [
        "--config-file", CONFIG, "--input", inputs, "--output", str(output), *flags,
        *OPTS, "MODEL.WEIGHTS", weights,
    ]  # fmt: skip


@pytest.fixture(scope="module")
def one_process(inputs, weights, tmp_path_factory):
    """The tracks of one process (this one): name -> bytes of its txt."""
    output = tmp_path_factory.mktemp("one") / "out"
    demo.main(_arguments(inputs, output, weights))
    return {name: (output / f"{name}.txt").read_bytes() for name in VIDEOS}


def _demo_process(inputs, output, weights, *flags):
    environment = dict(os.environ, PYTHONPATH=REPO, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    return subprocess.Popen(
        [sys.executable, os.path.join(REPO, "demo.py"),
         *_arguments(inputs, output, weights, *flags)],
        env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip


def _session(session_id):
    found = subprocess.run(["pgrep", "-a", "-s", str(session_id)], capture_output=True)
    return found.stdout.decode()


def test_two_processes_give_the_tracks_of_one(inputs, weights, one_process, tmp_path):
    output = tmp_path / "out"
    run = _demo_process(inputs, output, weights, "--num-gpus", "2")
    log, _ = run.communicate(timeout=900)
    assert run.returncode == 0, log[-4000:]
    for name in VIDEOS:
        assert (output / f"{name}.txt").read_bytes() == one_process[name], name
    assert sorted(os.listdir(output / "frames")) == ["b_yard", "d_lane"]
    assert all((output / f"{name}.mp4").is_file() for name in ("a_road", "c_gate"))
    # Whole videos per process, the longest first, each to the process with fewer frames so
    # far: 10 + 4 frames on one process, 8 + 6 on the other.
    records = [json.loads((output / ".demo-records" / f"{n}.json").read_text()) for n in VIDEOS]
    by_rank = {}
    for record in records:
        assert record["complete"] and record["frames"] == VIDEOS[record["video"]]
        by_rank.setdefault(record["rank"], set()).add(record["video"])
    assert sorted(by_rank.values(), key=sorted) == [{"a_road", "b_yard"}, {"c_gate", "d_lane"}]
    # The summary: videos and frames per rank and in all.
    summary = log[log.index("Tracked 4 video(s), 28 frames") :]
    for row in (r"\s+0\s+2\s+14\s", r"\s+1\s+2\s+14\s", r"\s+all\s+4\s+28\s"):
        assert re.search(row, summary), summary


def test_a_killed_process_loses_only_its_unfinished_video(inputs, weights, one_process, tmp_path):
    """SIGKILL the process that is tracking a video once another video is complete: the run
    stops (every process ends), the complete videos are kept, and the same command again (here
    in one process) tracks only the videos that were not complete, giving the same tracks."""
    output = tmp_path / "out"
    records = output / ".demo-records"
    run = _demo_process(inputs, output, weights, "--num-gpus", "2")
    victim = None
    try:
        deadline = time.monotonic() + 900
        while victim is None:
            assert run.poll() is None, run.stdout.read()[-4000:]
            assert time.monotonic() < deadline
            states = {}
            for name in os.listdir(records) if records.is_dir() else []:
                try:
                    record = json.loads((records / name).read_text())
                except (ValueError, FileNotFoundError):
                    continue
                states[record.get("video")] = record
            if any(r.get("complete") for r in states.values()):
                unfinished = [r for r in states.values() if not r.get("complete")]
                if unfinished:
                    victim = unfinished[0]
                    os.kill(victim["pid"], signal.SIGKILL)
            time.sleep(0.02)
        log, _ = run.communicate(timeout=300)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
    assert run.returncode == 2, log[-4000:]
    assert f"demo.py: error: the process of rank {victim['rank']} (pid {victim['pid']}) was " \
        "killed by SIGKILL" in log
    complete = {
        name[: -len(".json")]
        for name in os.listdir(records)
        if name.endswith(".json") and json.loads((records / name).read_text())["complete"]
    }
    assert victim["video"] not in complete and complete
    assert not (output / f"{victim['video']}.txt").exists()
    stamps = {name: os.stat(output / f"{name}.txt").st_mtime_ns for name in complete}
    # No process of the run is left (the multiprocessing resource tracker ends on its own).
    deadline = time.monotonic() + 60
    while _session(run.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _session(run.pid) == ""

    demo.main(_arguments(inputs, output, weights))
    for name in VIDEOS:
        assert (output / f"{name}.txt").read_bytes() == one_process[name], name
    assert {name: os.stat(output / f"{name}.txt").st_mtime_ns for name in complete} == stamps
    assert not (output / ".demo-work").exists()
