"""What the scripts share: the config from a file and command-line overrides, the checks that
run before a script writes anything, and one way to end on a user's mistake.

Library code raises; the scripts (train_net.py, demo.py, ``python -m
trackrcnn_d2.data.synthetic``, datasets/prepare_mots.py) call :func:`exit_on_user_error`, which
turns an expected mistake (missing or bad data, config, weights) into one line naming the file
and what to do, and a non-zero exit. Anything else is a bug and keeps its traceback.

This module imports neither torch nor detectron2 at import time (the torch-free scripts use it).
"""
import contextlib
import errno
import logging
import os
import re
import sys
from typing import Sequence
from urllib.error import URLError

from trackrcnn_d2.utils.arguments import positive_number, probability, whole_number
from trackrcnn_d2.utils.file_io import OutputError, check_output_folder, check_output_place

__all__ = [
    "UserError",
    "ConfigError",
    "OutputDirError",
    "CheckpointError",
    "USER_ERRORS",
    "is_user_error",
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


# An output that must not be written (the output policy's refusals, utils/file_io.py).
OutputDirError = OutputError


class CheckpointError(UserError):
    """A checkpoint (MODEL.WEIGHTS, or the last one of a resumed run) that cannot be loaded."""


def _user_error_types():
    from trackrcnn_d2.data.mots_io import MOTSFormatError

    return (
        UserError,
        OutputError,
        MOTSFormatError,
        URLError,  # a download (e.g. model zoo weights) without internet access
        FileNotFoundError,
        FileExistsError,
        NotADirectoryError,
        IsADirectoryError,
        PermissionError,
    )


USER_ERRORS = _user_error_types()

# What the user's machine says about a path (disk full, read-only, no permission, ...): also
# a user's matter, not a bug, when raised as a plain OSError.
ENVIRONMENT_ERRNOS = {
    errno.ENOENT, errno.EEXIST, errno.ENOTDIR, errno.EISDIR, errno.EACCES, errno.EPERM,
    errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.ENAMETOOLONG, errno.ELOOP,
    errno.EBUSY, errno.ETXTBSY, errno.EXDEV, errno.EMLINK, errno.ENXIO, errno.ENODEV, errno.EIO,
    errno.EMFILE, errno.ENFILE,
}  # fmt: skip
_ERRNO_ADVICE = {
    errno.ENOSPC: "free some space or write elsewhere",
    errno.EDQUOT: "free some space or write elsewhere",
    errno.EFBIG: "the file is larger than this system allows; write elsewhere",
    errno.EROFS: "the file system is read-only; write elsewhere",
    errno.EACCES: "choose a place you may write to",
}


def is_user_error(error: BaseException) -> bool:
    """One of :data:`USER_ERRORS`, or an OSError of the user's machine (a full disk, a
    read-only folder, ...): ended with one line by :func:`exit_on_user_error`."""
    return isinstance(error, USER_ERRORS) or (
        isinstance(error, OSError) and error.errno in ENVIRONMENT_ERRNOS
    )


def _one_line(error: BaseException) -> str:
    message = str(error) if error.args else type(error).__name__
    if isinstance(error, URLError):
        return (
            f"download failed ({error.reason}); without internet access, download the file "
            "elsewhere and give its local path (e.g. MODEL.WEIGHTS /path/to/model.pkl)"
        )
    if isinstance(error, OSError) and error.strerror:
        where = error.filename if error.filename2 is None else error.filename2
        message = error.strerror if where is None else f"{where}: {error.strerror}"
        if error.errno in _ERRNO_ADVICE:
            message += f" ({_ERRNO_ADVICE[error.errno]})"
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
    """Run the block; on a user's error (:func:`is_user_error`) print ``program: error:
    <message>`` to stderr and exit with status 2 (no traceback). Other exceptions propagate.

    In the block, a log file that cannot be written (a full disk) prints no traceback per
    message (``logging.raiseExceptions``, False as the logging docs advise for production): the
    run's own write that fails then ends it with one line, and the log files are closed."""
    raise_exceptions = logging.raiseExceptions
    logging.raiseExceptions = False
    try:
        yield
    except Exception as e:
        if not is_user_error(e):
            raise
        if isinstance(e, OSError) and e.errno in ENVIRONMENT_ERRNOS:
            _close_log_files()  # else their unwritable buffers are reported at exit
        print(f"{program}: error: {_one_line(e)}", file=sys.stderr, flush=True)
        raise SystemExit(USER_ERROR_EXIT_STATUS) from None
    finally:
        logging.raiseExceptions = raise_exceptions


def _close_log_files() -> None:
    """Log files (detectron2's log.txt) that a full disk stops: closed, their handlers then
    writing nowhere, so that neither logging nor the exit reports their lost buffers."""
    loggers = [logging.getLogger()] + list(logging.Logger.manager.loggerDict.values())
    for logger in loggers:
        for handler in getattr(logger, "handlers", []):
            stream = getattr(handler, "stream", None)
            name = getattr(stream, "name", None)
            if isinstance(name, str) and os.path.isabs(name):  # a log file, not "<stderr>"
                handler.stream = open(os.devnull, "w")
                with contextlib.suppress(OSError, ValueError):
                    stream.close()


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
    from trackrcnn_d2.config_values import numbers_as_written

    cfg = get_cfg()
    add_trackrcnn_config(cfg)
    bad_input = (KeyError, AssertionError, ValueError, TypeError, AttributeError, OSError)
    try:
        with numbers_as_written():
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
    merge_overrides(cfg, opts, config_file=config_file)
    cfg.freeze()
    return cfg


def merge_overrides(cfg, opts: Sequence[str], parser=None, config_file=None) -> None:
    """``cfg.merge_from_list(opts)`` (``KEY VALUE`` pairs from the command line), then every
    numeric value checked against its rule (:func:`trackrcnn_d2.config_values.
    check_config_values`: ranges, finiteness; an integer counts for a float key). A pair that
    cannot be used (odd length, unknown key, wrong type) or a value outside its rule raises
    :class:`ConfigError` naming the key, the value and where it came from (the command line, or
    ``config_file`` for the other keys), or, given an ``argparse`` ``parser``, ends with its
    usage line and the message (status 2)."""
    import yaml

    from trackrcnn_d2.config_values import check_config_values, numbers_as_written

    try:
        with numbers_as_written():
            cfg.merge_from_list(list(opts))
        check_config_values(cfg, list(opts)[0::2], config_file)
    except ConfigError as error:
        if parser is None:
            raise
        parser.error(str(error))
    except (KeyError, AssertionError, ValueError, TypeError, AttributeError, OSError,
            yaml.YAMLError) as e:  # fmt: skip
        error = ConfigError(_config_message(e, "command line"))
        if parser is None:
            raise error from None
        parser.error(str(error))


def refuse_to_mix_runs(output_dir: str, resume: bool) -> None:
    """Raise :class:`OutputError` when training from scratch would write into the
    ``output_dir`` (OUTPUT_DIR, a LazyConfig's train.output_dir) of an earlier run. Call it
    before anything is written there (detectron2's ``default_setup`` writes config.yaml and
    log.txt)."""
    last_checkpoint = os.path.join(output_dir, "last_checkpoint")
    if not resume and os.path.exists(last_checkpoint):
        raise OutputError(
            f"{output_dir} already holds a training run ({last_checkpoint} exists). Pass "
            "--resume to continue it, or choose a new output folder (or delete this one) "
            "to train from scratch."
        )
