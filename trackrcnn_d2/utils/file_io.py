"""Output folders that are replaced as a whole, so that files of two runs are never mixed."""
import logging
import os
import shutil
import uuid

__all__ = ["replace_folder_atomically"]

logger = logging.getLogger(__name__)


class replace_folder_atomically:
    """Context manager: yields a new empty folder beside ``path`` to write into.

    When the block succeeds, the new folder takes the place of ``path`` (an earlier folder
    there is removed; two renames, so a reader sees the old or the new folder, never a mix).
    When it raises, the new folder is removed and ``path`` is left as it was.
    """

    def __init__(self, path: str):
        self._path = os.path.abspath(path)

    def __enter__(self) -> str:
        self._new = self._sibling("new")
        # Not tempfile.mkdtemp: its folder would be private (0700), unlike the rest of OUTPUT_DIR.
        os.makedirs(self._new)
        return self._new

    def __exit__(self, exc_type, exc, traceback) -> bool:
        if exc_type is not None:
            shutil.rmtree(self._new, ignore_errors=True)
            return False
        old = None
        if os.path.lexists(self._path):
            old = self._sibling("old")
            os.replace(self._path, old)
            logger.info(f"Replacing the earlier contents of {self._path}")
        os.replace(self._new, self._path)
        if old is not None:
            if os.path.isdir(old) and not os.path.islink(old):
                shutil.rmtree(old)
            else:
                os.remove(old)
        return False

    def _sibling(self, kind: str) -> str:
        parent, name = os.path.split(self._path)
        os.makedirs(parent, exist_ok=True)
        return os.path.join(parent, f".{name}.{kind}-{os.getpid()}-{uuid.uuid4().hex[:8]}")
