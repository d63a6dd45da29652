"""What the scripts share: the config from a file and command-line overrides, the checks that
run before a script writes anything, and one way to end on a user's mistake.

Library code raises; the scripts (train_net.py, demo.py, ``python -m
trackrcnn_d2.data.synthetic``, datasets/prepare_mots.py) call :func:`exit_on_user_error`, which
turns an expected mistake (missing or bad data, config, weights) into one line naming the file
and what to do, and a non-zero exit. Anything else is a bug and keeps its traceback.

This module imports neither torch nor detectron2 at import time (the torch-free scripts use it).
"""
import argparse
import contextlib
import math
import os
import re
import sys
from typing import Sequence
from urllib.error import URLError

__all__ = [
    "UserError",
    "ConfigError",
    "OutputDirError",
    "CheckpointError",
    "USER_ERRORS",
    "exit_on_user_error",
    "user_error_message",
    "load_config",
    "merge_overrides",
    "refuse_to_mix_runs",
    "check_output_folder",
    "check_output_place",
    "whole_number",
    "positive_number",
    "probability",
]

# The exit status of a script stopped by a user's mistake (argparse's, for a bad argument).
USER_ERROR_EXIT_STATUS = 2


class UserError(Exception):
    """A mistake in the input that the user can fix; the message names the file and the fix."""


class ConfigError(UserError, ValueError):
    """A config file or command-line override that cannot be used."""


class OutputDirError(UserError):
    """An output folder that must not be written to (it holds another run's results)."""


class CheckpointError(UserError):
    """A checkpoint (MODEL.WEIGHTS, or the last one of a resumed run) that cannot be loaded."""


def _user_error_types():
    from trackrcnn_d2.data.mots_io import MOTSFormatError

    return (
        UserError,
        MOTSFormatError,
        URLError,  # a download (e.g. model zoo weights) without internet access
        FileNotFoundError,
        FileExistsError,
        NotADirectoryError,
        IsADirectoryError,
        PermissionError,
    )


USER_ERRORS = _user_error_types()


def _one_line(error: BaseException) -> str:
    message = str(error) if error.args else type(error).__name__
    if isinstance(error, URLError):
        return (
            f"download failed ({error.reason}); without internet access, download the file "
            "elsewhere and give its local path (e.g. MODEL.WEIGHTS /path/to/model.pkl)"
        )
    if isinstance(error, OSError) and error.filename is not None and error.strerror:
        message = f"{error.filename}: {error.strerror}"
    # A DataLoader worker's exception arrives with the worker's traceback in its message.
    if "Original Traceback" in message:
        last = re.search(rf"\n(?:[\w.]+\.)?{type(error).__name__}: (.*)\Z", message, re.DOTALL)
        if last:
            message = last.group(1)
    return message.strip()


def user_error_message(error: BaseException) -> str:
    """The one line that :func:`exit_on_user_error` prints for ``error`` (after the program's
    name), e.g. for a worker process to hand to the process that launched it."""
    return _one_line(error)


@contextlib.contextmanager
def exit_on_user_error(program: str):
    """Run the block; on one of :data:`USER_ERRORS` print ``program: error: <message>`` to
    stderr and exit with status 2 (no traceback). Other exceptions propagate."""
    try:
        yield
    except USER_ERRORS as e:
        print(f"{program}: error: {_one_line(e)}", file=sys.stderr, flush=True)
        raise SystemExit(USER_ERROR_EXIT_STATUS) from None


_TYPE_MISMATCH = re.compile(
    r"Type mismatch \(<class '(\w+)'> vs\. <class '(\w+)'>\) with values \((.*) vs\. (.*)\) "
    r"for config key: (\S+)",
    re.DOTALL,
)
_KEY_HELP = (
    "Valid keys are detectron2's (detectron2/config/defaults.py) and TrackR-CNN's "
    "(trackrcnn_d2/config.py)."
)


def _config_message(error: Exception, where: str) -> str:
    """One message for what yacs, detectron2 and yaml raise on a bad file or override."""
    text = str(error.args[0]) if error.args else repr(error)
    mismatch = _TYPE_MISMATCH.search(text)
    if mismatch:
        expected, _, default, value, key = mismatch.groups()
        return (
            f"{where}: {key} must be of type {expected} like its default {default}, got "
            f"{value!r} (lists and tuples are written [1, 2] or (1, 2) and quoted on the "
            "command line)"
        )
    if isinstance(error, FileNotFoundError):  # a _BASE_ file
        return f"{where}: _BASE_ file {error.filename} not found (relative to {where}'s folder)"
    if isinstance(error, KeyError) or "key" in text.lower():
        return f"{where}: {text}. {_KEY_HELP}"
    return f"{where}: {text}"


def load_config(config_file: str, opts: Sequence[str] = ()):
    """detectron2's defaults + TrackR-CNN's keys, then ``config_file``, then ``opts``
    (``KEY VALUE`` pairs); frozen.

    Raises :class:`ConfigError` naming the file or the override for a missing file, a yaml
    syntax error, a key that does not exist, a value of the wrong type and a missing
    ``_BASE_`` file (detectron2 and yacs raise KeyError, AssertionError, ValueError,
    FileNotFoundError or yaml errors for these)."""
    import yaml
    from detectron2.config import get_cfg

    from trackrcnn_d2.config import add_trackrcnn_config

    if not config_file:
        raise ConfigError(
            "no config file given: pass --config-file, e.g. configs/kitti_mots_r101.yaml"
        )
    if not os.path.isfile(config_file):
        what = "is a folder" if os.path.isdir(config_file) else "not found"
        raise ConfigError(f"config file {config_file} {what}; the shipped ones are in configs/")
    cfg = get_cfg()
    add_trackrcnn_config(cfg)
    bad_input = (KeyError, AssertionError, ValueError, TypeError, AttributeError, OSError)
    try:
        cfg.merge_from_file(config_file)
    except (*bad_input, yaml.YAMLError) as e:
        if isinstance(e, yaml.YAMLError):
            where = " ".join(str(e).split())
            raise ConfigError(f"{config_file} is not valid yaml: {where}") from None
        if isinstance(e, (TypeError, AttributeError)):
            raise ConfigError(
                f"{config_file} must be a yaml mapping of keys (KEY: value), as in configs/"
            ) from None
        raise ConfigError(_config_message(e, config_file)) from None
    merge_overrides(cfg, opts)
    cfg.freeze()
    return cfg


def merge_overrides(cfg, opts: Sequence[str], parser=None) -> None:
    """``cfg.merge_from_list(opts)`` (``KEY VALUE`` pairs from the command line); a pair that
    cannot be used (odd length, unknown key, wrong type) raises :class:`ConfigError` naming it,
    or, given an ``argparse`` ``parser``, ends with its usage line and the message (status 2)."""
    import yaml

    try:
        cfg.merge_from_list(list(opts))
    except (KeyError, AssertionError, ValueError, TypeError, AttributeError, OSError,
            yaml.YAMLError) as e:  # fmt: skip
        error = ConfigError(_config_message(e, "command line"))
        if parser is None:
            raise error from None
        parser.error(str(error))


def refuse_to_mix_runs(cfg, resume: bool) -> None:
    """Raise :class:`OutputDirError` when training from scratch would write into the
    OUTPUT_DIR of an earlier run. Call it before anything is written there (detectron2's
    ``default_setup`` writes config.yaml and log.txt)."""
    last_checkpoint = os.path.join(cfg.OUTPUT_DIR, "last_checkpoint")
    if not resume and os.path.exists(last_checkpoint):
        raise OutputDirError(
            f"{cfg.OUTPUT_DIR} already holds a training run ({last_checkpoint} exists). Pass "
            "--resume to continue it, or set OUTPUT_DIR to a new folder (or delete this one) "
            "to train from scratch."
        )


def check_output_folder(
    output: str, overwrite: bool, inputs: Sequence[str] = (), flag: str = "--overwrite"
) -> None:
    """Raise :class:`OutputDirError` for an output folder whose replacement would destroy
    something: an existing file or a folder that holds files (unless ``overwrite``; ``flag``
    names the option in the message), or a folder that is or holds one of ``inputs``.
    Writers then replace it as a whole (``file_io.replace_folder_atomically(output,
    replace_file=overwrite)``)."""
    if os.path.lexists(output) and (os.path.islink(output) or not os.path.isdir(output)):
        if not overwrite:
            raise OutputDirError(
                f"{output} is an existing file, not a folder; pass {flag} to replace it, or "
                "choose another folder"
            )
    elif os.path.isdir(output) and os.listdir(output) and not overwrite:
        raise OutputDirError(
            f"{output} already holds files; pass {flag} to replace it as a whole, or choose "
            "another folder"
        )
    check_output_place(output, inputs)


def check_output_place(output: str, inputs: Sequence[str] = ()) -> None:
    """Raise :class:`OutputDirError` when ``output`` cannot be made (its nearest existing
    parent is a file, or a folder this process cannot write to) or would replace one of
    ``inputs`` (it is one, or a folder that holds one)."""
    existing = os.path.dirname(os.path.abspath(output))
    while not os.path.lexists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise OutputDirError(f"{output}: cannot create a folder in {existing}, which is a file")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputDirError(f"{output}: cannot create a folder in {existing} (no permission)")
    real_output = os.path.realpath(output)
    for path in inputs:
        if os.path.commonpath([real_output, os.path.realpath(path)]) == real_output:
            raise OutputDirError(
                f"{output} would replace {path} or a folder that holds it; write to another folder"
            )


def whole_number(minimum: int):
    """An argparse type: a whole number >= ``minimum``, named in argparse's one-line error."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise argparse.ArgumentTypeError(f"expected a whole number >= {minimum}, got {text!r}")
        return value

    return parse


def positive_number(text: str) -> float:
    """An argparse type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


def probability(text: str) -> float:
    """An argparse type: a number from 0 to 1 (a score threshold)."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, got {text!r}")
    return value
