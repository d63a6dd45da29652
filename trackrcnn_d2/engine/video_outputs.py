"""demo.py's output folder: each video's outputs written atomically, a record of what each was
tracked with, and the rules for running again into a folder that holds results.

Layout of ``--output``: ``<name>.txt`` (the tracks, KITTI MOTS txt), the rendering
``<name>.mp4`` or ``frames/<name>/<frame:06d>.png``, and the hidden ``.demo-records/<name>.json``
that says what the video was tracked with (config, weights file, render and frame options, a
fingerprint of the input) and whether it is complete.

A video is written in ``.demo-work/<name>/`` and moved into place when it is done (rendering,
then tracks, then its record marked complete): a crash or a killed process loses only the video
it was tracking. Rules for a run into an existing folder:

- **No --overwrite**: allowed when every video asked for is either new there (none of its output
  files exists) or was tracked there, completely or not, with the same settings from the same
  input; complete ones are skipped, unfinished ones tracked again. Anything else is refused,
  naming the video and what differs. Other files and other videos' results stay untouched.
- **--overwrite**: everything is tracked again in ``.<output>.overwrite`` beside the output
  (kept for a rerun after a crash), which replaces the output as a whole once every video is
  done; until then the earlier output is left as it was.

One run at a time writes into a folder (a lock held by the launching process of machine 0).
"""
import contextlib
import fcntl
import json
import os
import shutil
import socket
from typing import Dict, List, Optional, Sequence

from trackrcnn_d2.utils.cli import OutputDirError, UserError, check_output_place
from trackrcnn_d2.utils.file_io import (
    atomic_write_text,
    remove_leftovers_beside,
    swap_folder_into_place,
)

__all__ = ["OutputPlan", "ResultsFolder", "demo_settings", "prepare_output"]

RECORDS = ".demo-records"
WORK = ".demo-work"
# Keys that do not change the tracks (a rerun on another device continues a run), and
# MODEL.WEIGHTS, whose file is compared instead.
_IGNORED_KEYS = ("MODEL.DEVICE", "OUTPUT_DIR", "MODEL.WEIGHTS")
_LAZY_IGNORED_KEYS = ("train.device", "train.output_dir", "train.init_checkpoint")


def demo_settings(cfg, render_kind: str, render_scale: float, start: int, max_frames) -> dict:
    """What decides a video's outputs besides its input: the config (every key but the
    device), the weights file (path, size, time), the rendering and the frame range."""
    config = {}

    def flatten(node, prefix):
        for key, value in node.items():
            if isinstance(value, dict):
                flatten(value, f"{prefix}{key}.")
            elif f"{prefix}{key}" not in _IGNORED_KEYS:
                config[f"{prefix}{key}"] = repr(value)

    if isinstance(cfg, dict):  # a yaml config (yacs)
        flatten(cfg, "")
        weights = cfg.MODEL.WEIGHTS
    else:  # a LazyConfig
        from trackrcnn_d2.engine.lazy_config import flat_config

        flat = flat_config(cfg).items()
        config = {key: repr(value) for key, value in flat if key not in _LAZY_IGNORED_KEYS}
        weights = cfg.train.init_checkpoint
    if os.path.isfile(weights):
        stat = os.stat(weights)
        weights = f"{os.path.abspath(weights)} ({stat.st_size} bytes, {stat.st_mtime_ns})"
    return {
        "config": config,
        "weights": weights,
        "--render": render_kind,
        "--render-scale": render_scale,
        "--start": start,
        "--max-frames": max_frames,
    }


def _differences(recorded: dict, settings: dict) -> str:
    keys = [k for k in settings if k != "config" and recorded.get(k) != settings[k]]
    names = ["MODEL.WEIGHTS (the file)" if k == "weights" else k for k in keys]
    old, new = recorded.get("config", {}), settings["config"]
    changed = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    names += changed[:3] + (["..."] if len(changed) > 3 else [])
    return ", ".join(names)


class ResultsFolder:
    """The folder a run writes its videos into (the output, or the overwrite folder)."""

    def __init__(self, path: str):
        self.path = path

    def _record_path(self, name: str) -> str:
        return os.path.join(self.path, RECORDS, f"{name}.json")

    def record(self, name: str) -> Optional[dict]:
        try:
            with open(self._record_path(name), encoding="utf-8") as f:
                return json.load(f)
        except FileNotFoundError:
            return None
        except (ValueError, UnicodeDecodeError):
            return {}  # an unreadable record: not this run's

    def output_files(self, name: str) -> List[str]:
        """The video's output files and folders that exist here (relative paths)."""
        candidates = [f"{name}.txt", f"{name}.mp4", os.path.join("frames", name)]
        return [c for c in candidates if os.path.lexists(os.path.join(self.path, c))]

    def conflict(self, name: str, signature: str, settings: dict) -> Optional[str]:
        """Why tracking video ``name`` here would replace what was not written for the same
        request (None when it would not)."""
        record = self.record(name)
        if record is None:
            existing = self.output_files(name)
            if existing:
                return f"{existing[0]} exists and was not written by demo.py for this input"
            return None
        if record.get("settings") != settings:
            differences = _differences(record.get("settings", {}), settings)
            return f"{name} was tracked with other settings ({differences})"
        if record.get("input") != signature:
            return f"{name}: its input changed since it was tracked"
        return None

    def is_complete(self, name: str, signature: str, settings: dict) -> bool:
        record = self.record(name)
        return bool(
            record
            and record.get("complete")
            and record.get("settings") == settings
            and record.get("input") == signature
            and all(os.path.lexists(os.path.join(self.path, o)) for o in record["outputs"])
        )

    def begin(self, name: str, signature: str, settings: dict, rank: int) -> str:
        """Mark video ``name`` as being tracked (by this process); returns the empty folder to
        write its outputs into."""
        work = os.path.join(self.path, WORK, name)
        shutil.rmtree(work, ignore_errors=True)
        os.makedirs(work)
        self._write_record(name, signature, settings, complete=False, rank=rank)
        return work

    def commit(self, name: str, signature: str, settings: dict, work: str, **stats) -> List[str]:
        """Move the outputs written in ``work`` into place (rendering, tracks), then mark the
        video complete. Returns the outputs' relative paths."""
        outputs = []
        rendered_video = os.path.join(work, f"{name}.mp4")
        rendered_frames = os.path.join(work, "frames")
        if os.path.exists(rendered_video):
            os.replace(rendered_video, os.path.join(self.path, f"{name}.mp4"))
            outputs.append(f"{name}.mp4")
        elif os.path.isdir(rendered_frames):
            os.makedirs(os.path.join(self.path, "frames"), exist_ok=True)
            swap_folder_into_place(rendered_frames, os.path.join(self.path, "frames", name))
            outputs.append(os.path.join("frames", name))
        os.replace(os.path.join(work, f"{name}.txt"), os.path.join(self.path, f"{name}.txt"))
        outputs.append(f"{name}.txt")
        self._write_record(name, signature, settings, complete=True, outputs=outputs, **stats)
        shutil.rmtree(work, ignore_errors=True)
        return outputs

    def abandon(self, work: str) -> None:
        """Remove an unfinished video's work folder (its record stays: tracked again later)."""
        shutil.rmtree(work, ignore_errors=True)

    def _write_record(self, name, signature, settings, complete, **fields) -> None:
        record = {
            "video": name,
            "complete": complete,
            "input": signature,
            "settings": settings,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            **fields,
        }
        atomic_write_text(self._record_path(name), json.dumps(record, indent=1) + "\n")

    def complete_videos(self) -> List[str]:
        folder = os.path.join(self.path, RECORDS)
        if not os.path.isdir(folder):
            return []
        names = [n[: -len(".json")] for n in os.listdir(folder) if n.endswith(".json")]
        return sorted(n for n in names if (self.record(n) or {}).get("complete"))


class OutputPlan:
    """Where a run writes (:func:`prepare_output`): ``folder``, the output itself or the
    overwrite folder beside it, which :meth:`finish` swaps into place. Use as a context
    manager around the run: it holds the folder's lock and, when the run fails, removes what
    it created that holds no complete video."""

    def __init__(self, output: str, folder: str, created: List[str], lock: bool):
        self.output, self.folder = output, folder
        self._created, self._lock_wanted, self._lock_file = created, lock, None
        self._made_records = False

    @property
    def replaces_output(self) -> bool:
        return self.folder != self.output

    def __enter__(self) -> "OutputPlan":
        records = os.path.join(self.folder, RECORDS)
        self._made_records = not os.path.isdir(records)
        os.makedirs(records, exist_ok=True)
        if self._lock_wanted:
            self._lock_file = _lock(self.folder)
        return self

    def __exit__(self, exc_type, exc, traceback) -> bool:
        if exc_type is not None:
            self._remove_if_nothing_complete()
        if self._lock_file is not None:
            self._lock_file.close()
        return False

    def finish(self) -> None:
        """After every video is complete: the overwrite folder takes the output's place (under
        the output's lock, so never while another run writes there)."""
        shutil.rmtree(os.path.join(self.folder, WORK), ignore_errors=True)
        if not self.replaces_output:
            return
        with contextlib.ExitStack() as stack:
            if os.path.isdir(os.path.join(self.output, RECORDS)):
                stack.enter_context(_lock(self.output))
            swap_folder_into_place(self.folder, self.output)

    def _remove_if_nothing_complete(self) -> None:
        shutil.rmtree(os.path.join(self.folder, WORK), ignore_errors=True)
        if not self._made_records or ResultsFolder(self.folder).complete_videos():
            return
        for name in (WORK, RECORDS):
            shutil.rmtree(os.path.join(self.folder, name), ignore_errors=True)
        for path in reversed(self._created):
            with contextlib.suppress(OSError):
                os.rmdir(path)  # only if empty: nothing of the user's is removed


def _lock(folder: str):
    """An exclusive lock on ``folder`` (its records' lock file), released when the file is
    closed or the process ends."""
    lock_file = open(os.path.join(folder, RECORDS, ".lock"), "a")
    try:
        fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock_file.close()
        raise OutputDirError(
            f"{folder}: another demo.py run is writing into this folder; wait for it to end, "
            "or choose another --output"
        ) from None
    return lock_file


def prepare_output(
    output: str,
    signatures: Dict[str, str],
    settings: dict,
    overwrite: bool,
    inputs: Sequence[str] = (),
    lock: bool = True,
) -> OutputPlan:
    """Check ``output`` for a run that tracks the videos of ``signatures`` (name -> input
    fingerprint) with ``settings``, following the rules above, before the model is loaded.
    Raises :class:`OutputDirError` naming what would be replaced."""
    if not output:
        raise OutputDirError("--output is empty; give a folder for the tracks")
    check_output_place(output, inputs)
    remove_leftovers_beside(output)
    is_folder = os.path.isdir(output) and not os.path.islink(output)
    if os.path.lexists(output) and not is_folder:
        if not overwrite:
            raise OutputDirError(
                f"{output} is an existing file, not a folder; pass --overwrite to replace it, "
                "or choose another folder"
            )
        return _overwrite_plan(output, signatures, settings, lock)
    if is_folder and os.listdir(output):
        if overwrite:
            return _overwrite_plan(output, signatures, settings, lock)
        if not os.path.isdir(os.path.join(output, RECORDS)):
            raise OutputDirError(
                f"{output} already holds files; pass --overwrite to replace it as a whole, or "
                "choose another folder"
            )
        results = ResultsFolder(output)
        for name, signature in signatures.items():
            problem = results.conflict(name, signature, settings)
            if problem:
                raise OutputDirError(
                    f"{output}: {problem}; pass --overwrite to track every video again and "
                    "replace the folder as a whole, or choose another folder"
                )
        return OutputPlan(output, output, [], lock)
    return OutputPlan(output, output, _missing_folders(output), lock)


def _overwrite_plan(output, signatures, settings, lock) -> OutputPlan:
    parent, name = os.path.split(os.path.abspath(output))
    folder = os.path.join(parent, f".{name}.overwrite")
    if os.path.isdir(folder):
        results = ResultsFolder(folder)
        if any(results.conflict(n, s, settings) for n, s in signatures.items()):
            shutil.rmtree(folder)  # an earlier --overwrite run's, for another request
    return OutputPlan(output, folder, _missing_folders(folder), lock)


def _missing_folders(path: str) -> List[str]:
    """The folders that creating ``path`` makes, outermost first."""
    missing = []
    path = os.path.abspath(path)
    while not os.path.lexists(path):
        missing.append(path)
        path = os.path.dirname(path)
    return list(reversed(missing))


def refuse_failed_videos(failures: Sequence[tuple], total: int) -> None:
    """Raise :class:`UserError` for videos that could not be tracked (``(name, message)``)."""
    if not failures:
        return
    if total == 1:
        raise UserError(failures[0][1])
    listed = "; ".join(f"{name}: {message}" for name, message in failures[:3])
    raise UserError(
        f"{len(failures)} of {total} videos could not be tracked ({listed}); the others are "
        "complete: fix or remove these and run the same command again"
    )
