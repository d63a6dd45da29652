"""Writing without ever leaving a half-written file or folder: :func:`atomic_open` /
:func:`atomic_write_text` for files, :class:`replace_folder_atomically` for output folders that
are replaced as a whole, so that files of two runs are never mixed. Pure python (no torch)."""
import contextlib
import logging
import os
import re
import shutil
import tempfile
import uuid
from typing import IO, Iterator

__all__ = [
    "IMAGE_EXTENSIONS",
    "atomic_open",
    "atomic_write_text",
    "remove_leftovers_beside",
    "replace_folder_atomically",
    "swap_folder_into_place",
]

logger = logging.getLogger(__name__)

# File name endings of the images of a frame folder (datasets, video input), lower case.
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp")


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


@contextlib.contextmanager
def atomic_open(
    path: str, mode: str = "w", encoding: str = "utf-8", fsync: bool = False
) -> Iterator[IO]:
    """Open a temporary file beside ``path`` for writing (``mode`` "w" or "wb"); when the block
    succeeds it takes the place of ``path`` (one rename: a reader sees the old or the new file,
    never a part), when it raises it is removed and ``path`` is left as it was. The file gets the
    usual permissions (0666 minus the umask, as ``open`` gives), not ``mkstemp``'s 0600. Creates
    the parent folders. With ``fsync`` the data are on the disk before the rename and the rename
    before the return, so that the new file also survives a crash of the machine (checkpoints)."""
    if mode not in ("w", "wb"):
        raise ValueError(f"mode must be 'w' or 'wb', got {mode!r}")
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp_path = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=os.path.basename(path))
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, mode, encoding=None if "b" in mode else encoding) as f:
            yield f
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp_path, path)
        if fsync:
            _fsync_folder(folder)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_path)
        raise


def atomic_write_text(path: str, text: str, encoding: str = "utf-8", fsync: bool = False) -> None:
    """Write ``text`` to ``path`` atomically (:func:`atomic_open`)."""
    with atomic_open(path, "w", encoding, fsync=fsync) as f:
        f.write(text)


class replace_folder_atomically:
    """Context manager: yields a new empty folder beside ``path`` to write into.

    When the block succeeds, the new folder takes the place of ``path`` (an earlier folder
    there is removed; two renames, so a reader sees the old or the new folder, never a mix).
    When it raises, the new folder is removed and ``path`` is left as it was.

    An existing *file* (or link) at ``path`` is replaced only with ``replace_file=True``;
    otherwise entering raises :class:`FileExistsError`. Entering also removes the hidden
    ``.NAME.new-PID-*`` / ``.NAME.old-PID-*`` folders that runs killed before their end
    (process PID no longer alive) left beside ``path``.
    """

    def __init__(self, path: str, replace_file: bool = False):
        self._path = os.path.abspath(path)
        self._replace_file = replace_file

    def __enter__(self) -> str:
        if os.path.lexists(self._path) and not self._replace_file:
            if os.path.islink(self._path) or not os.path.isdir(self._path):
                raise FileExistsError(
                    f"{self._path} exists and is not a folder; remove it or choose another "
                    "output folder"
                )
        remove_leftovers_beside(self._path)
        self._new = self._sibling("new")
        # Not tempfile.mkdtemp: its folder would be private (0700), unlike the rest of OUTPUT_DIR.
        os.makedirs(self._new)
        return self._new

    def __exit__(self, exc_type, exc, traceback) -> bool:
        if exc_type is not None:
            shutil.rmtree(self._new, ignore_errors=True)
            return False
        swap_folder_into_place(self._new, self._path)
        return False

    def _sibling(self, kind: str) -> str:
        parent, name = os.path.split(self._path)
        os.makedirs(parent, exist_ok=True)
        return os.path.join(parent, f".{name}.{kind}-{os.getpid()}-{uuid.uuid4().hex[:8]}")


def remove_leftovers_beside(path: str) -> None:
    """Remove the hidden ``.NAME.new-PID-*`` / ``.NAME.old-PID-*`` folders that runs killed
    while replacing ``path`` (process PID no longer alive) left beside it."""
    parent, name = os.path.split(os.path.abspath(path))
    if not os.path.isdir(parent):
        return
    pattern = re.compile(rf"\.{re.escape(name)}\.(?:new|old)-(\d+)-[0-9a-f]{{8}}")
    for entry in os.listdir(parent):
        match = pattern.fullmatch(entry)
        if match and not _process_alive(int(match.group(1))):
            logger.info(f"Removing {entry}, left in {parent} by an interrupted run")
            _remove(os.path.join(parent, entry))


def swap_folder_into_place(folder: str, path: str) -> None:
    """Put the finished ``folder`` in the place of ``path`` (a folder or file there is removed;
    two renames, so that a reader sees the old or the new one, never a mix). ``folder`` must be
    beside ``path`` (same file system)."""
    path = os.path.abspath(path)
    parent, name = os.path.split(path)
    old = None
    if os.path.lexists(path):
        old = os.path.join(parent, f".{name}.old-{os.getpid()}-{uuid.uuid4().hex[:8]}")
        os.replace(path, old)
        logger.info(f"Replacing the earlier contents of {path}")
    os.replace(folder, path)
    if old is not None:
        _remove(old)


def _fsync_folder(folder: str) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)
