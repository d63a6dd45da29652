"""The output policy: every file and folder that trackrcnn_d2 writes for a user goes through here.

Two writers, each checked when it is made (before the work) and committed at the end:

* :class:`OutputFile` (:func:`atomic_open`, :func:`atomic_write_text` for "now"): a temporary
  file beside the target, renamed into its place when the block succeeds.
* :class:`OutputFolder`: a hidden folder beside the target, swapped into its place when the
  block succeeds (a reader sees the old or the new folder, never a mix).

The rules, the same for every script:

* An empty path (an unset ``$OUT``) is refused; it would name the current folder.
* Only a regular file or a folder is ever replaced, a folder holding files only with
  ``overwrite``; never the current or the home folder (or one holding them), a git checkout, a
  folder holding one of the inputs, a device, FIFO or socket.
* A symbolic link is followed: its target is replaced (a link to a file) or filled (a link to an
  empty folder); the link stays. Devices, FIFOs and ``/dev/stdout``-like paths given as a *file*
  are written in place, streamed (``--json /dev/stdout`` prints).
* The commit refuses when the destination changed since the writer was made (another run wrote
  it): nothing is replaced, the new result is kept beside under a visible name
  (:class:`OutputChangedError` names it).
* A failure leaves nothing behind: the temporary file or folder and the parent folders that the
  writer made are removed; the exception names the user's path, never a temporary one. Hidden
  leftovers of killed runs (``.NAME.tmp-PID-*``) are removed by the next writer of ``NAME``.

The operations themselves (temporary names, the swap, streams, the test hook of the final
commit, ``TRACKRCNN_D2_TEST_COMMIT_HOOK``) are in utils/file_ops.py. Pure python (no torch).
"""
import contextlib
import errno
import os
import shutil
import stat
from typing import IO, Iterator, List, Sequence

from trackrcnn_d2.utils import file_ops

__all__ = [
    "IMAGE_EXTENSIONS",
    "OutputError",
    "OutputChangedError",
    "check_output_path",
    "check_output_folder",
    "check_output_place",
    "check_run_folder",
    "run_folder",
    "OutputFile",
    "OutputFolder",
    "atomic_open",
    "atomic_write_text",
    "remove_interrupted_writes",
    "remove_leftovers_beside",
    "swap_folder_into_place",
    "replace_folder_atomically",
]

# File name endings of the images of a frame folder (datasets, video input), lower case.
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp")

# errnos of a write that the disk or the user's permissions stopped (messages name the output).
WRITE_FAULTS = {
    errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO,
}  # fmt: skip

class OutputError(OSError):
    """An output that the policy refuses to write; the message names the path and what to do
    (an OSError, so that code catching those catches it)."""


class OutputChangedError(OutputError):
    """The destination was changed by someone else while this run wrote its result."""


def check_output_path(path: str, what: str = "output") -> str:
    """``path`` if it can name an output; raises :class:`OutputError` for an empty one (an unset
    variable: it would name the current folder)."""
    if not isinstance(path, str) or not path.strip():
        raise OutputError(f"{what} is empty: give a path (an unset variable, e.g. $OUT?)")
    if "\0" in path:
        raise OutputError(f"{what} {path!r} holds a NUL character")
    return path


def _home() -> str:
    home = os.path.expanduser("~")
    return os.path.realpath(home) if home != "~" else ""


def _first_existing(folder: str) -> str:
    while not os.path.lexists(folder):
        folder = os.path.dirname(folder)
    return folder


def _check_parent(target: str, name: str, kind: str) -> None:
    """Refuse, before any work, a place where no ``kind`` ("file", "folder") can be made."""
    parent = _first_existing(os.path.dirname(target))
    if not os.path.isdir(parent):
        raise OutputError(f"{name}: cannot create a {kind} in {parent}, which is a file")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(
            f"{name}: cannot create a {kind} in {parent} (read-only, or no permission); choose "
            "another place"
        )


def _shown(kept: str, path: str) -> str:
    """``kept`` (beside the target of ``path``) as the user would name it."""
    if os.path.islink(path):
        return kept
    return os.path.join(os.path.dirname(path), os.path.basename(kept))


def _named(error: OSError, temporary: str, path: str) -> OSError:
    """``error`` naming ``path`` instead of ``temporary`` (or of nothing, for a write fault)."""
    name = error.filename
    if isinstance(name, str) and (name == temporary or name.startswith(temporary + os.sep)):
        renamed = path + name[len(temporary) :]
    elif name is None and error.errno in WRITE_FAULTS:
        renamed = path
    else:
        return error
    return OSError(error.errno, error.strerror, renamed)


_ACTIVE_FOLDERS: List[str] = []  # temporary folders being written


def _inside_active_folder(path: str) -> bool:
    """A file of a folder being written: committed with the folder, no leftovers beside it."""
    return any(path.startswith(folder + os.sep) for folder in _ACTIVE_FOLDERS)


class OutputFile:
    """One output file, checked now (an empty path, a folder, one of ``inputs``, an existing
    file unless ``overwrite``, a place where nothing can be written), written by :meth:`open`
    later. ``what`` names it in messages (``"--json"``); ``flag`` is the option that allows
    replacing an existing file."""

    def __init__(self, path: str, *, overwrite: bool = True, inputs: Sequence[str] = (),
                 what: str = "output", flag: str = "--overwrite"):  # fmt: skip
        self.path = check_output_path(path, what)
        for source in inputs:
            if os.path.realpath(source) == os.path.realpath(path):
                raise OutputError(f"{what} {path} would replace the input {source}")
        self._what = what
        self._stream = file_ops.is_stream(path)
        if self._stream:
            return
        self._target = os.path.realpath(path)  # a link to a file: its target is replaced
        if os.path.isdir(self._target):
            raise OutputError(f"{what} {path} is a folder; give a file name")
        if os.path.lexists(self._target) and not overwrite:
            raise OutputError(f"{what} {path} exists; pass {flag} to replace it")
        _check_parent(self._target, f"{what} {path}", "file")
        self._start = file_ops.identity(self._target)

    @contextlib.contextmanager
    def open(self, mode: str = "w", encoding: str = "utf-8", fsync: bool = False) -> Iterator[IO]:
        """A file to write (``mode`` "w" or "wb"): a temporary one beside the target that takes
        its place when the block succeeds, or the target itself for a stream. With ``fsync``
        the data are on the disk before the rename and the rename before the return, so that
        the new file also survives a crash of the machine (checkpoints). Raises
        :class:`OutputChangedError` when the target was changed since this object was made."""
        if mode not in ("w", "wb"):
            raise ValueError(f"mode must be 'w' or 'wb', got {mode!r}")
        text = None if "b" in mode else encoding
        if self._stream:
            try:
                with file_ops.open_stream(self.path, mode, text) as f:
                    yield f
            except OSError as e:  # /proc files, a FIFO without reader, /dev/full
                what = f"{self._what} {self.path}"
                raise OutputError(f"{what}: cannot write there ({e.strerror})") from None
            return
        made = file_ops.makedirs(os.path.dirname(self._target))
        if not _inside_active_folder(self._target):
            file_ops.remove_leftovers(self._target)
        temporary = file_ops.temporary_name(self._target)
        try:
            permissions = stat.S_IMODE(os.stat(self._target).st_mode)
        except OSError:
            permissions = 0o666  # less the umask, as open() gives
        try:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, permissions)
            if self._start is not None:
                os.fchmod(fd, permissions)
            with os.fdopen(fd, mode, encoding=text) as f:
                yield f
                f.flush()
                if fsync:
                    os.fsync(f.fileno())
            self._commit(temporary)
            if fsync:
                file_ops.fsync_folder(os.path.dirname(self._target))
        except BaseException as e:
            with contextlib.suppress(FileNotFoundError):
                os.remove(temporary)
            file_ops.remove_made(made)
            if isinstance(e, OSError):
                raise _named(e, temporary, self.path) from None
            raise

    def write(self, text: str, encoding: str = "utf-8") -> None:
        """Write ``text`` as the whole file (:meth:`open`)."""
        with self.open("w", encoding) as f:
            f.write(text)

    def _commit(self, temporary: str) -> None:
        if not _inside_active_folder(self._target):
            file_ops.commit_hook(self.path)
        try:
            old = file_ops.swap_in(temporary, self._target, self._start)
        except file_ops.Changed:
            kept = _shown(file_ops.keep_beside(temporary, self._target), self.path)
            raise OutputChangedError(
                f"{self._what} {self.path} was changed by another program while this run wrote "
                f"it; it was left as it is, and this run's result is in {kept}"
            ) from None
        if old is not None:
            file_ops.remove(old)


@contextlib.contextmanager
def atomic_open(path: str, mode: str = "w", encoding: str = "utf-8",
                fsync: bool = False) -> Iterator[IO]:  # fmt: skip
    """:meth:`OutputFile.open` of ``path`` (replaced if it exists), checked now."""
    with OutputFile(path).open(mode, encoding, fsync) as f:
        yield f


def atomic_write_text(path: str, text: str, encoding: str = "utf-8", fsync: bool = False) -> None:
    """Write ``text`` to ``path`` atomically (:func:`atomic_open`)."""
    with atomic_open(path, "w", encoding, fsync) as f:
        f.write(text)


def remove_interrupted_writes(folder: str) -> None:
    """Remove the temporary files and folders that writers killed in ``folder`` left there
    (each writer also removes those of its own target when it starts)."""
    file_ops.remove_leftovers(folder, any_name=True)


def check_output_folder(path: str, overwrite: bool, inputs: Sequence[str] = (),
                        flag: str = "--overwrite", what: str = "") -> None:  # fmt: skip
    """Raise :class:`OutputError` for an output folder that must not be replaced (module
    rules); ``flag`` names the option that allows replacing, ``what`` the path in messages."""
    name = f"{what} {path}".strip()
    check_output_path(path, what or "the output folder")
    target = os.path.realpath(path)
    if os.path.lexists(target) and not os.path.isdir(target):
        if not os.path.isfile(target):
            raise OutputError(f"{name} is a device, FIFO or socket, not a folder; choose a folder")
        if not overwrite:
            raise OutputError(
                f"{name} is an existing file, not a folder; pass {flag} to replace it, or "
                "choose another folder"
            )
    check_output_place(path, inputs, what)
    if os.path.isdir(target) and os.listdir(target) and not overwrite:
        raise OutputError(
            f"{name} already holds files; pass {flag} to replace it as a whole, or choose "
            "another folder"
        )


def check_output_place(path: str, inputs: Sequence[str] = (), what: str = "") -> None:
    """Raise :class:`OutputError` for a place where no output folder may be written: an empty
    path, the current or home folder (or one holding them), a git checkout, a folder that is
    or holds one of ``inputs``, a place where no folder can be made."""
    name = f"{what} {path}".strip()
    check_output_path(path, what or "the output folder")
    target = os.path.realpath(path)
    for kept, what_kept in ((os.getcwd(), "the current folder"), (_home(), "your home folder")):
        if kept and os.path.commonpath([target, kept]) == target:
            raise OutputError(f"{name} would replace {what_kept}; choose another folder")
    if os.path.lexists(os.path.join(target, ".git")):
        raise OutputError(f"{name} is a git checkout; choose another folder")
    for source in inputs:
        if os.path.commonpath([target, os.path.realpath(source)]) == target:
            raise OutputError(
                f"{name} would replace {source} or a folder that holds it; write to another folder"
            )
    _check_parent(target, name, "folder")


def check_run_folder(path: str, what: str = "OUTPUT_DIR") -> None:
    """Refuse a folder that a run adds its files to (detectron2's OUTPUT_DIR: logs, metrics,
    checkpoints; it is never replaced as a whole) where it cannot be: an empty path, a file, a
    place where it cannot be made or written."""
    name = f"{what} {check_output_path(path, what)}"
    target = os.path.realpath(path)
    if os.path.lexists(target) and not os.path.isdir(target):
        raise OutputError(f"{name} is a file; give a folder")
    if not os.path.isdir(target):
        _check_parent(target, name, "folder")
    elif not os.access(target, os.W_OK | os.X_OK):
        raise OutputError(f"{name}: cannot write in it (read-only, or no permission)")


@contextlib.contextmanager
def run_folder(path: str, what: str = "OUTPUT_DIR") -> Iterator[None]:
    """The block writes into a run's folder (:func:`check_run_folder`, checked now). A write
    that a full, read-only or forbidden disk stops without naming a file (files open already:
    logs, other libraries' files) names ``path``; when the block fails, the folders that it
    made are removed if they hold nothing but empty files (no empty output folder is left)."""
    check_run_folder(path, what)
    made = [f for f in (os.path.realpath(path), *_missing_parents(path)) if not os.path.lexists(f)]
    try:
        yield
    except BaseException as e:
        for folder in made:
            if os.path.isdir(folder) and _holds_nothing(folder):
                shutil.rmtree(folder, ignore_errors=True)
        if isinstance(e, OSError) and e.filename is None and e.errno in WRITE_FAULTS:
            raise OSError(e.errno, e.strerror, path) from None
        raise


def _missing_parents(path: str) -> List[str]:
    parents, folder = [], os.path.dirname(os.path.realpath(path))
    while not os.path.lexists(folder):
        parents.append(folder)
        folder = os.path.dirname(folder)
    return parents


def _holds_nothing(folder: str) -> bool:
    return all(
        os.path.getsize(os.path.join(root, name)) == 0
        for root, _, names in os.walk(folder)
        for name in names
    )


class OutputFolder:
    """Context manager: an output folder, checked now (:func:`check_output_folder`), written as
    a whole. Yields a new hidden folder beside the target to write into; when the block
    succeeds it takes the target's place (the replaced folder or file is removed), when it
    raises it is removed. Raises :class:`OutputChangedError` (the result kept beside) when the
    target was changed since this object was made."""

    def __init__(self, path: str, *, overwrite: bool = False, inputs: Sequence[str] = (),
                 what: str = "", flag: str = "--overwrite"):  # fmt: skip
        check_output_folder(path, overwrite, inputs, flag, what)
        self.path = path
        self._name = f"{what} {path}".strip()
        self._target = os.path.realpath(path)  # a link to a folder: the target is replaced
        self._start = file_ops.identity(self._target)

    def __enter__(self) -> str:
        self._made = file_ops.makedirs(os.path.dirname(self._target))
        file_ops.remove_leftovers(self._target)
        self._new = file_ops.temporary_name(self._target)
        try:
            os.mkdir(self._new)  # not mkdtemp: its folder would be private (0700)
        except OSError as e:
            file_ops.remove_made(self._made)
            raise _named(e, self._new, self.path) from None
        _ACTIVE_FOLDERS.append(self._new)
        return self._new

    def __exit__(self, exc_type, exc, traceback) -> bool:
        _ACTIVE_FOLDERS.remove(self._new)
        if exc is None:
            try:
                self._commit()
            except BaseException as e:
                self._discard()
                if isinstance(e, OSError):
                    raise _named(e, self._new, self.path) from None
                raise
            return False
        self._discard()
        if isinstance(exc, OSError):
            named = _named(exc, self._new, self.path)
            if named is not exc:
                raise named from None
        return False

    def _discard(self) -> None:
        file_ops.remove(self._new)
        file_ops.remove_made(self._made)

    def _commit(self) -> None:
        file_ops.commit_hook(self.path)
        try:
            old = file_ops.swap_in(self._new, self._target, self._start)
        except file_ops.Changed:
            kept = _shown(file_ops.keep_beside(self._new, self._target), self.path)
            raise OutputChangedError(
                f"{self._name} was changed by another program (another run?) while this run "
                f"wrote it; it was left as it is, and this run's result is in {kept}"
            ) from None
        if old is not None:
            file_ops.remove(old)


def remove_leftovers_beside(path: str) -> None:
    """Remove the hidden temporaries that writers killed while writing ``path`` left beside
    it (each writer of the policy does this when it starts)."""
    file_ops.remove_leftovers(os.path.realpath(path))


def swap_folder_into_place(folder: str, path: str) -> None:
    """Put the finished ``folder`` (beside ``path``, same file system) in the place of ``path``,
    removing what was there (a reader sees the old or the new one, never a mix), for writers
    that checked ``path`` themselves (:func:`check_output_folder`)."""
    check_output_place(path)  # never the current or home folder, a checkout, ...
    target = os.path.realpath(path)
    old = file_ops.swap_in(folder, target, file_ops.identity(target))
    if old is not None:
        file_ops.remove(old)


def replace_folder_atomically(path: str, replace_file: bool = False) -> OutputFolder:
    """:class:`OutputFolder` for callers that checked ``path`` already (the former API): an
    existing folder is replaced; a file only with ``replace_file``."""
    if os.path.lexists(path) and not os.path.isdir(path) and not replace_file:
        raise OutputError(f"{path} exists and is not a folder; remove it or choose another one")
    return OutputFolder(path, overwrite=True)
