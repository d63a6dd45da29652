"""Starting the processes of a run: detectron2's ``launch`` with its flags checked before any
process starts, a rendezvous that fails within a bounded time, no process left behind, and
threads per process that fit the cores (train_net.py and demo.py).

- ``--dist-url``: ``tcp://HOST:PORT`` (machine 0's address), ``file:///shared/file``,
  ``env://`` or ``auto`` (a free port on this machine; one machine only, the default). The
  scheme, the host (it must resolve; on machine 0 it must be this machine) and the port (free on
  machine 0) are checked first: a mistake is one :class:`LaunchError`, no traceback.
- **Rendezvous**: when every process of this machine has started, the processes of all machines
  must meet within ``--dist-timeout`` seconds (default 60); otherwise every process is stopped
  and :class:`LaunchError` says what was waited for. Machine 0 says that it waits for the others.
- **No orphans**: a process that fails, Ctrl-C or ``kill`` of the launching process stop all
  processes of this machine (a worker also stops if the launching process dies).
- **Threads** (as torchrun): each process gets cores / processes threads (one less when an
  optical-flow thread runs beside the model), unless the user set ``OMP_NUM_THREADS``.

This module imports torch only when processes are launched (the scripts parse their arguments
first).
"""
import argparse
import contextlib
import errno
import ipaddress
import logging
import os
import signal
import socket
import threading
import time
import urllib.parse
from datetime import timedelta
from typing import Callable, NamedTuple, Optional, Sequence

from trackrcnn_d2.utils.cli import (
    USER_ERRORS,
    UserError,
    positive_number,
    user_error_message,
    whole_number,
)

__all__ = [
    "DEFAULT_RENDEZVOUS_TIMEOUT",
    "LAUNCH_EPILOG",
    "LaunchError",
    "ThreadPlan",
    "add_launch_arguments",
    "apply_threads",
    "check_dist_url",
    "launch",
    "plan_threads",
]

logger = logging.getLogger(__name__)

# Seconds the processes of all machines have to meet once this machine's have started.
DEFAULT_RENDEZVOUS_TIMEOUT = 60.0
# How long an operation between processes may take once they met (detectron2's default).
DEFAULT_COLLECTIVE_TIMEOUT = timedelta(minutes=30)
# A worker stopped by a user's mistake exits with this status (argparse's).
_USER_ERROR_STATUS = 2

LAUNCH_EPILOG = """\
Several GPUs and machines (detectron2's launch; one process per GPU, or per CPU share):
  one machine, 4 processes:   --num-gpus 4
  two machines (run both; machine 0's address and a free port, the same on each):
    machine 0:  --num-gpus 8 --num-machines 2 --machine-rank 0 --dist-url tcp://10.0.0.1:29500
    machine 1:  --num-gpus 8 --num-machines 2 --machine-rank 1 --dist-url tcp://10.0.0.1:29500
  The machines must meet within --dist-timeout seconds of each other's start (default 60).
  Threads per process: cores / processes, unless OMP_NUM_THREADS is set."""


class LaunchError(UserError):
    """Processes that cannot be launched or cannot meet: a bad ``--dist-url``, ranks, or a
    rendezvous that did not complete in time; the message says what to change."""


def add_launch_arguments(parser: argparse.ArgumentParser) -> None:
    """detectron2's launch flags (``--num-gpus``, ``--num-machines``, ``--machine-rank``,
    ``--dist-url``, here defaulting to ``auto``) and ``--dist-timeout``."""
    parser.add_argument(
        "--num-gpus", type=whole_number(1), default=1, metavar="N",
        help="processes per machine: one per GPU (on the CPU, with MODEL.DEVICE cpu, each gets "
        "a share of the cores)",
    )  # fmt: skip
    parser.add_argument(
        "--num-machines", type=whole_number(1), default=1, metavar="N",
        help="number of machines (see below)",
    )  # fmt: skip
    parser.add_argument(
        "--machine-rank", type=whole_number(0), default=0, metavar="R",
        help="this machine's rank, 0 .. --num-machines - 1 (machine 0 hosts the rendezvous)",
    )  # fmt: skip
    parser.add_argument(
        "--dist-url", default="auto", metavar="URL",
        help="where the processes meet: tcp://HOST:PORT (machine 0's address and a free port), "
        "file:///shared/file, env://, or auto (a free port on this machine; the default, for "
        "one machine)",
    )  # fmt: skip
    parser.add_argument(
        "--dist-timeout", type=positive_number, default=DEFAULT_RENDEZVOUS_TIMEOUT,
        metavar="SECONDS",
        help="how long the processes of all machines may take to meet once this machine's have "
        "started (default: %(default)g)",
    )  # fmt: skip


# ---------------------------------------------------------------------------------------------
# --dist-url


def _find_free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _port_in_use(port: int) -> Optional[str]:
    """Why machine 0 could not listen on ``port`` (None when it can), as the rendezvous store
    does: on every interface, reusing an address in TIME_WAIT."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("", port))
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                return "is in use (another run, or another program)"
            return f"cannot be listened on ({e.strerror})"
    return None


def _is_this_machine(address: str) -> bool:
    if ipaddress.ip_address(address).is_loopback:
        return True
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((address, 0))
        except OSError:
            return False
    return True


def check_dist_url(dist_url: Optional[str], num_machines: int = 1, machine_rank: int = 0) -> str:
    """The URL the processes meet at, checked before any process starts: ``auto`` (or None)
    becomes ``tcp://127.0.0.1:<free port>`` (one machine only). Raises :class:`LaunchError`
    naming the flag and what to give instead."""
    if not 0 <= machine_rank < num_machines:
        raise LaunchError(
            f"--machine-rank {machine_rank}: expected 0 .. {num_machines - 1} "
            f"(--num-machines {num_machines})"
        )
    usage = (
        "expected tcp://HOST:PORT (machine 0's address and a free port, e.g. "
        "tcp://127.0.0.1:29500 on one machine), file:///shared/file, env:// or auto"
    )
    if dist_url in (None, "", "auto"):
        if num_machines > 1:
            raise LaunchError(
                f"--dist-url auto works on one machine only; with --num-machines {num_machines} "
                "give machine 0's address and a free port, the same on every machine, e.g. "
                "--dist-url tcp://10.0.0.1:29500"
            )
        return f"tcp://127.0.0.1:{_find_free_port()}"
    parsed = urllib.parse.urlsplit(dist_url)
    if parsed.scheme == "file":
        folder = os.path.dirname(parsed.path) or "/"
        if not parsed.path or not os.path.isdir(folder) or not os.access(folder, os.W_OK):
            raise LaunchError(
                f"--dist-url {dist_url}: {folder} is not a folder this process can write to "
                "(file:// needs a writable, shared path)"
            )
        return dist_url
    if parsed.scheme == "env":
        missing = [v for v in ("MASTER_ADDR", "MASTER_PORT") if not os.environ.get(v)]
        if missing:
            raise LaunchError(f"--dist-url env:// needs {' and '.join(missing)} to be set")
        host, port_text = os.environ["MASTER_ADDR"], os.environ["MASTER_PORT"]
        where = f"--dist-url env:// (MASTER_ADDR {host}, MASTER_PORT {port_text})"
    elif parsed.scheme == "tcp":
        host, port_text = parsed.hostname, parsed.netloc.rpartition(":")[2]
        where = f"--dist-url {dist_url}"
        if not host or ":" not in parsed.netloc:
            raise LaunchError(f"{where}: {usage}")
    else:
        raise LaunchError(f"--dist-url {dist_url}: {usage}")
    port = int(port_text) if port_text.isdigit() else 0
    if not 0 < port < 65536:
        raise LaunchError(f"{where}: the port must be a number from 1 to 65535")
    try:
        address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][4][0]
    except (socket.gaierror, UnicodeError):
        raise LaunchError(
            f"{where}: the host {host} does not resolve to an address; give machine 0's address "
            "or host name (127.0.0.1 on one machine)"
        ) from None
    if machine_rank == 0:
        if not _is_this_machine(address):
            raise LaunchError(
                f"{where}: {host} is not an address of this machine, but machine 0 (this one: "
                "--machine-rank 0) listens there; give this machine's address"
            )
        problem = _port_in_use(port)
        if problem:
            raise LaunchError(
                f"{where}: port {port} {problem}; choose another port"
                + (" or --dist-url auto" if num_machines == 1 else "")
            )
    return dist_url


# ---------------------------------------------------------------------------------------------
# Threads


class ThreadPlan(NamedTuple):
    """Threads of each process: ``torch`` (intra-op, OpenMP) and ``opencv`` (OpenCV's pool);
    None leaves the library's own setting (the user's ``OMP_NUM_THREADS``). ``why`` says how
    they were chosen."""

    torch: Optional[int]
    opencv: Optional[int]
    why: str


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def plan_threads(
    processes_per_machine: int,
    flow_worker: bool = False,
    environ=None,
    cores: Optional[int] = None,
) -> ThreadPlan:
    """As torchrun: the cores this process may use, divided by the processes of this machine;
    with ``flow_worker`` (tracking with optical flow on a thread beside the model) one of them
    is left to that thread, which runs OpenCV on one thread. A user's ``OMP_NUM_THREADS`` is
    never overridden."""
    environ = os.environ if environ is None else environ
    if environ.get("OMP_NUM_THREADS"):
        return ThreadPlan(None, None, f"OMP_NUM_THREADS={environ['OMP_NUM_THREADS']} (yours)")
    cores = cores or _cores()
    share = max(1, cores // processes_per_machine)
    why = f"{cores} cores / {processes_per_machine} process(es)"
    if flow_worker and share > 1:
        return ThreadPlan(share - 1, 1, f"{why}, one core left to the optical-flow thread")
    return ThreadPlan(share, 1 if flow_worker else share, why)


def apply_threads(plan: ThreadPlan) -> None:
    """Set this process's thread counts (torch, OpenCV) to ``plan``."""
    import cv2
    import torch

    if plan.torch is not None:
        torch.set_num_threads(plan.torch)
    if plan.opencv is not None:
        cv2.setNumThreads(plan.opencv)


# ---------------------------------------------------------------------------------------------
# Launch


def launch(
    main_func: Callable,
    num_gpus_per_machine: int,
    num_machines: int = 1,
    machine_rank: int = 0,
    dist_url: Optional[str] = None,
    args: Sequence = (),
    rendezvous_timeout: float = DEFAULT_RENDEZVOUS_TIMEOUT,
    timeout: timedelta = DEFAULT_COLLECTIVE_TIMEOUT,
    flow_worker: bool = False,
) -> None:
    """Run ``main_func(*args)`` in ``num_gpus_per_machine`` processes on each of
    ``num_machines`` machines (detectron2's ``launch``: the process group, the local group,
    one GPU per process), or in this process when there is one in all.

    Raises :class:`LaunchError` for a bad ``dist_url`` or ranks (before any process starts)
    and when the processes of all machines do not meet within ``rendezvous_timeout`` seconds
    of this machine's being ready; :class:`UserError` with a worker's message when a worker
    stopped on a user's mistake; ``SystemExit`` with a worker's status when it exited so. Every
    process of this machine has ended when it returns or raises, also on KeyboardInterrupt.
    """
    if num_gpus_per_machine < 1 or num_machines < 1:
        raise LaunchError(
            f"--num-gpus {num_gpus_per_machine} --num-machines {num_machines}: expected >= 1"
        )
    plan = plan_threads(num_gpus_per_machine, flow_worker)
    world_size = num_gpus_per_machine * num_machines
    if world_size == 1:
        apply_threads(plan)
        main_func(*args)
        return
    dist_url = check_dist_url(dist_url, num_machines, machine_rank)
    import torch

    if torch.cuda.is_available() and num_gpus_per_machine > torch.cuda.device_count():
        raise LaunchError(
            f"--num-gpus {num_gpus_per_machine}, but this machine has "
            f"{torch.cuda.device_count()} GPU(s)"
        )
    logger.info(
        f"Launching {num_gpus_per_machine} process(es) on machine {machine_rank} of "
        f"{num_machines}, meeting at {dist_url}; threads per process: "
        + (f"{plan.torch} ({plan.why})" if plan.torch else plan.why)
    )
    _Launcher(num_gpus_per_machine, num_machines, machine_rank, dist_url, plan).run(
        main_func, args, rendezvous_timeout, timeout
    )


class _Launcher:
    """The processes of this machine, their rendezvous watched from a thread."""

    def __init__(self, nprocs, num_machines, machine_rank, dist_url, plan):
        import torch.multiprocessing as mp

        self.nprocs, self.num_machines, self.machine_rank = nprocs, num_machines, machine_rank
        self.dist_url, self.plan = dist_url, plan
        self._mp = mp
        context = mp.get_context("spawn")
        self.arrived = context.Value("i", 0)  # processes that reached the rendezvous
        self.met = context.Value("i", 0)  # processes past it
        self.messages = context.SimpleQueue()  # a worker's one-line user error
        self.timed_out: Optional[str] = None
        self._stop = threading.Event()

    def run(self, main_func, args, rendezvous_timeout, timeout):
        from torch.multiprocessing.spawn import ProcessException

        worker_args = (
            main_func, args, self.nprocs * self.num_machines, self.nprocs, self.machine_rank,
            self.dist_url, timeout, self.plan, os.getpid(), self.arrived, self.met, self.messages,
        )  # fmt: skip
        context = None
        try:
            with _sigterm_as_keyboard_interrupt():
                with _threads_for_children(self.plan):
                    context = self._mp.start_processes(
                        _worker, args=worker_args, nprocs=self.nprocs, join=False, daemon=False
                    )
                watchdog = threading.Thread(
                    target=self._watch, args=(context, rendezvous_timeout), daemon=True
                )
                watchdog.start()
                while not context.join():
                    pass
        except ProcessException as e:
            self._raise_for(e)
        finally:
            self._stop.set()
            if context is not None:
                _stop_processes(context.processes)

    def _watch(self, context, rendezvous_timeout: float) -> None:
        while self.arrived.value < self.nprocs:
            if self._stop.wait(0.1):
                return
        if self.num_machines > 1:
            logger.info(
                f"Machine {self.machine_rank}: waiting up to {rendezvous_timeout:g} s "
                f"(--dist-timeout) for the processes of all {self.num_machines} machines at "
                f"{self.dist_url}"
                + (
                    "; start the other machines with the same --dist-url and --num-machines, "
                    f"and --machine-rank 1 .. {self.num_machines - 1}"
                    if self.machine_rank == 0
                    else ""
                )
            )
        deadline = time.monotonic() + rendezvous_timeout
        while self.met.value < self.nprocs:
            if self._stop.wait(0.1):
                return
            if time.monotonic() > deadline:
                self.timed_out = self._timeout_message(rendezvous_timeout)
                for process in context.processes:
                    if process.is_alive():
                        process.kill()
                return
        if self.num_machines > 1:
            logger.info(f"Machine {self.machine_rank}: all {self.num_machines} machines joined")

    def _timeout_message(self, seconds: float) -> str:
        head = (
            f"the processes did not meet at {self.dist_url} within {seconds:g} s "
            "(--dist-timeout)"
        )
        if self.num_machines == 1:
            return f"{head}; a firewall or a network setting may block connections on this machine"
        if self.machine_rank == 0:
            return (
                f"{head}: machine 0 waited for the other {self.num_machines - 1} machine(s); start "
                "them with the same --dist-url and --num-machines, and --machine-rank 1 .. "
                f"{self.num_machines - 1} (or raise --dist-timeout)"
            )
        return (
            f"{head}: machine 0 is not reachable there, or not all machines started; start "
            "machine 0 (--machine-rank 0) with the same --dist-url, check its address, port "
            "and firewall (or raise --dist-timeout)"
        )

    def _raise_for(self, error) -> None:
        if self.timed_out:
            raise LaunchError(self.timed_out) from None
        exit_code = getattr(error, "exit_code", None)
        if exit_code == _USER_ERROR_STATUS:
            if not self.messages.empty():
                raise UserError(self.messages.get()) from None
            raise SystemExit(_USER_ERROR_STATUS) from None
        if exit_code is None:  # an exception: a bug, with the process's traceback
            raise error
        rank = self.machine_rank * self.nprocs + error.error_index
        how = (
            f"was killed by {error.signal_name}" if exit_code < 0 else f"exited with {exit_code}"
        )
        raise LaunchError(
            f"the process of rank {rank} (pid {error.error_pid}) {how}; the other processes "
            "were stopped"
        ) from None


def _worker(
    local_rank, main_func, args, world_size, nprocs, machine_rank, dist_url, timeout, plan,
    launcher_pid, arrived, met, messages,
):  # fmt: skip
    """One process: stop with the launching process, threads, the process group (as detectron2's
    ``launch`` makes it), then ``main_func``; a user's mistake goes to the launcher as one line
    and exit status 2."""
    # torch sets PR_SET_PDEATHSIG for its workers; a launcher that died before that is seen here.
    if os.getppid() != launcher_pid:
        os._exit(1)
    apply_threads(plan)
    with arrived.get_lock():
        arrived.value += 1
    with _sigterm_as_keyboard_interrupt():
        try:
            _join_process_group(local_rank, world_size, nprocs, machine_rank, dist_url, timeout)
        except Exception as e:
            messages.put(f"the processes could not meet at {dist_url}: {e}")
            raise SystemExit(_USER_ERROR_STATUS) from None
        with met.get_lock():
            met.value += 1
        try:
            main_func(*args)
        except USER_ERRORS as e:
            messages.put(user_error_message(e))
            raise SystemExit(_USER_ERROR_STATUS) from None
        except KeyboardInterrupt:  # SIGTERM from the launcher, after another process failed
            raise SystemExit(128 + signal.SIGTERM) from None


def _join_process_group(local_rank, world_size, nprocs, machine_rank, dist_url, timeout):
    """detectron2's ``_distributed_worker`` up to ``main_func``: the global process group (NCCL
    on GPUs, gloo on CPUs), the group of this machine, this process's GPU, a barrier. (Not
    imported from ``detectron2.engine``, which would double each process's start-up.)"""
    import torch
    import torch.distributed as dist
    from detectron2.utils import comm

    has_gpu = torch.cuda.is_available()
    dist.init_process_group(
        backend="NCCL" if has_gpu else "GLOO",
        init_method=dist_url,
        world_size=world_size,
        rank=machine_rank * nprocs + local_rank,
        timeout=timeout,
    )
    comm.create_local_process_group(nprocs)
    if has_gpu:
        torch.cuda.set_device(local_rank)
    comm.synchronize()


def _stop_processes(processes, grace_seconds: float = 10.0) -> None:
    """SIGTERM to the processes still running (they clean up), SIGKILL after ``grace_seconds``."""
    alive = [p for p in processes if p.is_alive()]
    for process in alive:
        process.terminate()
    deadline = time.monotonic() + grace_seconds
    for process in alive:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            process.kill()
            process.join()


@contextlib.contextmanager
def _threads_for_children(plan: ThreadPlan):
    """OMP_NUM_THREADS of the plan in the environment the workers start with (their OpenMP,
    MKL and DataLoader workers read it), this process's own left as it was."""
    if plan.torch is None:
        yield
        return
    previous = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = str(plan.torch)
    try:
        yield
    finally:
        if previous is None:
            del os.environ["OMP_NUM_THREADS"]
        else:
            os.environ["OMP_NUM_THREADS"] = previous


@contextlib.contextmanager
def _sigterm_as_keyboard_interrupt():
    """``kill`` stops the block as Ctrl-C does (so that cleanup runs), unless the program
    handles SIGTERM itself; only in the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGTERM)
    if previous is not signal.SIG_DFL:
        yield
        return
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _raise_keyboard_interrupt(signum, frame):
    raise KeyboardInterrupt
