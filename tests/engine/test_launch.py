"""Launching processes: --dist-url checked before any process starts, a rendezvous that cannot
complete ends within --dist-timeout with one line, no process outlives a failure or Ctrl-C, a
worker's mistake reaches the user once, and threads per process fit the cores."""
import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest

from trackrcnn_d2.engine.launch import LaunchError, check_dist_url, plan_threads

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.parametrize(
    "dist_url, machines, rank, message",
    [
        ("nonsense", 1, 0, "expected tcp://HOST:PORT"),
        ("http://127.0.0.1:80", 1, 0, "expected tcp://HOST:PORT"),
        ("tcp://127.0.0.1", 1, 0, "expected tcp://HOST:PORT"),
        ("tcp://:1234", 1, 0, "expected tcp://HOST:PORT"),
        ("tcp://256.1.1.1:1234", 2, 1, "the host 256.1.1.1 does not resolve"),
        ("tcp://no-such-host.invalid:1234", 2, 1, "does not resolve"),
        ("tcp://127.0.0.1:99999", 1, 0, "the port must be a number from 1 to 65535"),
        ("tcp://127.0.0.1:http", 1, 0, "the port must be a number from 1 to 65535"),
        ("tcp://192.0.2.1:1234", 2, 0, "192.0.2.1 is not an address of this machine"),
        ("auto", 2, 0, "--dist-url auto works on one machine only"),
        ("tcp://127.0.0.1:1234", 2, 2, "--machine-rank 2: expected 0 .. 1"),
        ("file:///no/such/folder/rendezvous", 1, 0, "/no/such/folder is not a folder"),
    ],
)
def test_a_bad_dist_url_is_named_before_any_process_starts(dist_url, machines, rank, message):
    with pytest.raises(LaunchError, match=message):
        check_dist_url(dist_url, machines, rank)


def test_a_port_in_use_on_machine_0_is_named():
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        port = listening.getsockname()[1]
        with pytest.raises(LaunchError, match=f"port {port} is in use.*or --dist-url auto"):
            check_dist_url(f"tcp://127.0.0.1:{port}")
        # Another machine only connects there.
        assert check_dist_url(f"tcp://localhost:{port}", 2, 1) == f"tcp://localhost:{port}"


def test_good_dist_urls_pass(tmp_path):
    auto = check_dist_url("auto")
    assert auto.startswith("tcp://127.0.0.1:") and 0 < int(auto.rsplit(":", 1)[1]) < 65536
    assert check_dist_url(None).startswith("tcp://127.0.0.1:")
    url = f"file://{tmp_path}/rendezvous"
    assert check_dist_url(url, 2, 0) == url


def test_threads_per_process_fit_the_cores_and_the_users_setting_wins():
    # As torchrun: the cores divided by the processes of the machine, at least one.
    assert plan_threads(2, environ={}, cores=2)[:2] == (1, 1)
    assert plan_threads(4, environ={}, cores=16)[:2] == (4, 4)
    assert plan_threads(3, environ={}, cores=2)[:2] == (1, 1)
    # The optical-flow thread beside the model gets a core of the process's share.
    assert plan_threads(1, flow_worker=True, environ={}, cores=8)[:2] == (7, 1)
    assert plan_threads(2, flow_worker=True, environ={}, cores=2)[:2] == (1, 1)
    # A user's OMP_NUM_THREADS is never overridden.
    mine = plan_threads(2, flow_worker=True, environ={"OMP_NUM_THREADS": "3"}, cores=16)
    assert mine.torch is None and mine.opencv is None and "OMP_NUM_THREADS=3" in mine.why


# A launcher whose processes run ``print`` (or load a missing config file), in a session of its
# own, so that every process it started can be found afterwards.
LAUNCHER = """
import logging
import sys
from trackrcnn_d2.engine.launch import launch
from trackrcnn_d2.utils.cli import exit_on_user_error, load_config
if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    nprocs, machines, rank, url, timeout, task = sys.argv[1:]
    function, args = {
        "print": (print, ("ran",)),
        "load_config": (load_config, ("missing.yaml",)),
        "threads": (exec, ("import cv2, os, torch; os.write(1, f'threads "
                           "{torch.get_num_threads()} {cv2.getNumThreads()}\\\\n'.encode())",)),
    }[task]
    with exit_on_user_error("launcher"):
        launch(function, int(nprocs), num_machines=int(machines), machine_rank=int(rank),
               dist_url=url, args=args, rendezvous_timeout=float(timeout))
"""


def _launcher(tmp_path, *arguments, omp_num_threads="1"):
    script = tmp_path / "launcher.py"
    script.write_text(LAUNCHER)
    environment = dict(os.environ, PYTHONPATH=REPO, PYTHONWARNINGS="ignore")
    environment.pop("OMP_NUM_THREADS", None)
    if omp_num_threads is not None:
        environment["OMP_NUM_THREADS"] = omp_num_threads
    return subprocess.Popen(
        [sys.executable, str(script), *map(str, arguments)], env=environment,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip


def _processes_of_session(session_id):
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == session_id and fields[0] != "Z":  # field 6: the session
            found.append(int(pid))
    return found


def _leftover_processes(session_id):
    """The processes of the session still running a while after its leader ended (the
    multiprocessing resource tracker ends on its own once it reads the leader's end)."""
    deadline = time.monotonic() + 60
    while _processes_of_session(session_id) and time.monotonic() < deadline:
        time.sleep(0.2)
    leftovers = []
    for pid in _processes_of_session(session_id):
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            leftovers.append(f.read().replace(b"\0", b" ").decode())
    return leftovers


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize(
    "machine_rank, message",
    [
        (0, "machine 0 waited for the other 1 machine(s); start them with the same --dist-url"),
        (1, "machine 0 is not reachable there, or not all machines started"),
    ],
)
def test_a_rendezvous_that_cannot_complete_ends_in_time_without_leftover_processes(
    tmp_path, machine_rank, message
):
    """Machine 0 alone, or machine 1 without machine 0: the rendezvous ends after
    --dist-timeout (2 s here, counted once this machine's processes have started), with one
    line and status 2, and no process of the run is left."""
    url = f"tcp://127.0.0.1:{_free_port()}"
    launcher = _launcher(tmp_path, 1, 2, machine_rank, url, 2, "print")
    out, err = launcher.communicate(timeout=600)
    assert launcher.returncode == 2, err
    assert "Traceback" not in err and "ran" not in out
    last = err.strip().splitlines()[-1]
    assert last.startswith("launcher: error: the processes did not meet at " + url), err
    assert "within 2 s (--dist-timeout)" in last and message in last
    if machine_rank == 0:
        assert "Machine 0: waiting up to 2 s (--dist-timeout)" in err  # says that it waits
    assert _leftover_processes(launcher.pid) == []


def test_ctrl_c_of_the_launcher_stops_every_process(tmp_path):
    url = f"tcp://127.0.0.1:{_free_port()}"
    launcher = _launcher(tmp_path, 2, 2, 0, url, 600, "print")
    try:
        deadline = time.monotonic() + 600
        while len(_processes_of_session(launcher.pid)) < 3:  # the launcher and its 2 workers
            assert launcher.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        launcher.send_signal(signal.SIGINT)  # to the launcher only, not its process group
        launcher.communicate(timeout=120)
    finally:
        if launcher.poll() is None:
            os.killpg(launcher.pid, signal.SIGKILL)
    assert launcher.returncode != 0
    assert _leftover_processes(launcher.pid) == []


def test_a_workers_mistake_is_told_once(tmp_path):
    launcher = _launcher(tmp_path, 2, 1, 0, "auto", 600, "load_config")
    out, err = launcher.communicate(timeout=600)
    assert launcher.returncode == 2
    lines = [line for line in err.splitlines() if "error" in line.lower()]
    assert lines == ["launcher: error: config file missing.yaml not found; the shipped ones are "
                     "in configs/"], err  # fmt: skip
    assert _leftover_processes(launcher.pid) == []


def test_each_process_gets_its_share_of_the_cores_unless_omp_num_threads_is_set(tmp_path):
    """2 processes: cores / 2 threads each (torch and OpenCV); with the user's OMP_NUM_THREADS
    (here: all cores, torch's own default), that."""
    cores = len(os.sched_getaffinity(0))
    if cores < 2:
        pytest.skip("one core: every setting gives one thread")
    for omp_num_threads, expected in [(None, cores // 2), (str(cores), cores)]:
        launcher = _launcher(tmp_path, 2, 1, 0, "auto", 600, "threads",
                             omp_num_threads=omp_num_threads)  # fmt: skip
        out, err = launcher.communicate(timeout=600)
        assert launcher.returncode == 0, err
        reported = re.findall(r"threads (\d+) (\d+)", out)
        assert len(reported) == 2, out
        assert {int(torch_threads) for torch_threads, _ in reported} == {expected}
        if omp_num_threads is None:
            assert {int(opencv_threads) for _, opencv_threads in reported} == {expected}
            assert f"threads per process: {expected} ({cores} cores / 2 process(es))" in err
