"""Faults injected into the package's writers (a disk that fills up while a file is written)."""
import contextlib
import errno
import os

__all__ = ["filling_atomic_open", "slowed_torch_save"]


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


def slowed_torch_save(marker) -> str:
    """Source lines for a subprocess script (which has imported torch and time): ``torch.save``
    writes half of each file, creates ``marker`` and pauses, so that the test can kill the
    process in the middle of a checkpoint's save."""
    return f"""real_save = torch.save
def slow_save(obj, f):  # half of the checkpoint, then a pause in which the test kills us
    real_save(obj, f)
    f.truncate(f.tell() // 2)
    f.flush()
    open({str(marker)!r}, "w").close()
    time.sleep(600)
torch.save = slow_save"""
