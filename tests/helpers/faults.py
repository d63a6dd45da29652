"""Faults injected into the package's writers (a disk that fills up while a file is written)."""
import contextlib
import errno
import os

__all__ = ["filling_atomic_open"]


def filling_atomic_open(real_atomic_open, after_bytes: int, error: int = errno.ENOSPC):
    """A stand-in for ``atomic_open``: the real one (``real_atomic_open``), whose file raises
    ``OSError(error)`` once more than ``after_bytes`` have been written (a disk that fills up)."""

    class FillingFile:
        def __init__(self, f):
            self._f, self._written = f, 0

        def write(self, data):
            self._written += len(data)
            if self._written > after_bytes:
                raise OSError(error, os.strerror(error))
            return self._f.write(data)

        def __getattr__(self, name):
            return getattr(self._f, name)

    @contextlib.contextmanager
    def atomic_open(path, *args, **kwargs):
        with real_atomic_open(path, *args, **kwargs) as f:
            yield FillingFile(f)

    return atomic_open
