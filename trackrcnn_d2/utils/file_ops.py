"""The file-system operations under the output policy (utils/file_io.py, which documents the
rules): temporary names and the leftovers of killed writers, the swap of a new file or folder
into place that refuses when the destination changed (Linux ``renameat2``, else a check and
``rename``), streams written in place, the test hook of the final commit. Pure python."""
import contextlib
import ctypes
import errno
import os
import re
import shutil
import stat
import sys
import time
import uuid
from typing import IO, List, Optional, Sequence, Tuple

# Tests only: "pause:FILE" makes the first final commit (of any process) create FILE and wait
# until it is removed (or the process killed; FILE.done then marks it passed), "errno:N" makes
# each final commit fail with errno N.
TEST_HOOK = "TRACKRCNN_D2_TEST_COMMIT_HOOK"


def identity(path: str) -> Optional[Tuple[int, ...]]:
    """What a commit compares with the start: None for nothing there."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    return (st.st_dev, st.st_ino, st.st_mode, st.st_size, st.st_mtime_ns)


def is_stream(path: str) -> bool:
    """A device, FIFO or socket, or a path through /proc/*/fd or /dev/fd (``/dev/stdout``):
    written in place."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        return True
    hop = os.path.abspath(path)
    for _ in range(40):
        if hop.startswith(("/proc/", "/dev/fd/")):
            return True
        if not os.path.islink(hop):
            return False
        hop = os.path.normpath(os.path.join(os.path.dirname(hop), os.readlink(hop)))
    return False


def open_stream(path: str, mode: str, encoding: Optional[str]) -> IO:
    """A stream opened for appending; a descriptor of this process (``/dev/stdout``,
    ``/dev/fd/N``) is shared, not reopened, so that what it prints stays in order."""
    match = re.fullmatch(r"/dev/(?:fd/(\d+)|(stdout)|(stderr))|/proc/self/fd/(\d+)", path)
    if match is None:
        return open(path, mode.replace("w", "a"), encoding=encoding)
    number, out, err, proc_number = match.groups()
    descriptor = 1 if out else 2 if err else int(number or proc_number)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError, ValueError, OSError):
            stream.flush()
    return os.fdopen(os.dup(descriptor), mode, encoding=encoding)


def makedirs(folder: str) -> List[str]:
    """Create ``folder`` and its missing parents; returns those made, deepest last."""
    made = []
    while not os.path.isdir(folder):
        made.append(folder)
        folder = os.path.dirname(folder)
    for folder in reversed(made):
        with contextlib.suppress(FileExistsError):
            os.mkdir(folder)
    return made[::-1]


def remove_made(made: Sequence[str]) -> None:
    for folder in reversed(made):
        with contextlib.suppress(OSError):
            os.rmdir(folder)  # only when still empty


def temporary_name(target: str) -> str:
    parent, name = os.path.split(target)
    return os.path.join(parent, f".{name[:120]}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")


def remove_leftovers(target: str, any_name: bool = False) -> None:
    """Remove the hidden files and folders that killed writers of ``target`` left beside it
    (``any_name``: those of every target in the folder ``target``)."""
    parent, name = (target, r".+") if any_name else os.path.split(target)
    name = name if any_name else re.escape(name[:120])
    pattern = re.compile(rf"\.{name}\.(?:tmp|new|old)-(\d+)-[0-9a-f]{{8}}")
    with contextlib.suppress(OSError):
        for entry in os.listdir(parent):
            match = pattern.fullmatch(entry)
            if match and not process_alive(int(match.group(1))):
                remove(os.path.join(parent, entry))


def fsync_folder(folder: str) -> None:
    """The folder's entries (a rename) on the disk."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)


_RENAME_NOREPLACE, _RENAME_EXCHANGE = 1, 2
_renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)


def _rename(source: str, destination: str, flags: int) -> bool:
    """Linux renameat2; False where the system or file system lacks it."""
    if _renameat2 is None:
        return False
    at_cwd = -100
    if _renameat2(at_cwd, os.fsencode(source), at_cwd, os.fsencode(destination), flags) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), destination)


class Changed(Exception):
    """The destination changed since the start (:func:`swap_in`)."""


def swap_in(new: str, target: str, expected) -> Optional[str]:
    """Put ``new`` at ``target`` if ``target`` is still what it was (``expected``, from
    :func:`identity`); returns where the replaced entry now is (to remove), or None. Raises
    :class:`Changed` (``new`` untouched) when ``target`` changed."""
    if expected is None or identity(target) is None:
        try:
            if _rename(new, target, _RENAME_NOREPLACE):
                return None
        except FileExistsError:
            raise Changed from None
        if os.path.lexists(target):
            raise Changed
        if os.path.isdir(new):
            os.rename(new, target)
        else:
            os.link(new, target)  # fails if something appeared meanwhile
            os.remove(new)
        return None
    if _rename(new, target, _RENAME_EXCHANGE):
        if identity(new) != expected:  # replaced in the instant before: give it back
            _rename(new, target, _RENAME_EXCHANGE)
            raise Changed
        return new
    if identity(target) != expected:
        raise Changed
    if not os.path.isdir(new):
        os.replace(new, target)
        return None
    old = temporary_name(target)
    os.rename(target, old)
    os.rename(new, target)
    return old


def keep_beside(new: str, target: str) -> str:
    """Move ``new`` to the first free visible name ``<name>-2``, ``<name>-3``, ... beside
    ``target``; returns it."""
    stem, extension = os.path.splitext(target)
    if os.path.isdir(new):
        stem, extension = target, ""
    for number in range(2, 10000):
        kept = f"{stem}-{number}{extension}"
        with contextlib.suppress(Changed, FileExistsError):
            swap_in(new, kept, None)
            return kept
    raise FileExistsError(errno.EEXIST, "no free name to keep this run's result beside it", target)


def commit_hook(path: str) -> None:
    hook = os.environ.get(TEST_HOOK, "")
    kind, _, value = hook.partition(":")
    if kind == "pause":  # the first commit only: until the test removes FILE (or kills us)
        if os.path.exists(value + ".done"):
            return
        with open(value, "w") as f:
            f.write(path)
        deadline = time.monotonic() + 600
        while os.path.exists(value) and time.monotonic() < deadline:
            time.sleep(0.05)
        open(value + ".done", "w").close()
    elif kind == "errno":
        raise OSError(int(value), os.strerror(int(value)), path)
