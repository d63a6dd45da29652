"""The warnings that torch and detectron2 print on every command although nothing is wrong with
the user's work, silenced by their exact text (and nothing else: our own warnings, and any other
of torch's or detectron2's, stay visible).

The scripts (``train_net.py``, ``demo.py``, ``tools/*.py``) call
:func:`silence_known_upstream_warnings` before they import torch; the test suite filters the
same warnings in ``setup.cfg`` (``tests/utils/test_upstream_warnings.py`` keeps both lists
equal). This module imports neither torch nor detectron2.
"""
import logging
import warnings

__all__ = ["UPSTREAM_LOG_RECORDS", "UPSTREAM_WARNINGS", "silence_known_upstream_warnings"]

# (category, the message's start as a regular expression), as ``warnings.filterwarnings`` takes
# them.
UPSTREAM_WARNINGS = (
    # torch 2.14 deprecates torch.jit.script, which detectron2 applies to some of its functions
    # when they are imported.
    (FutureWarning, r"`torch\.jit\.script` is deprecated"),
    # torch 2.14 deprecates DistributedDataParallel's broadcast_buffers, which detectron2's
    # create_ddp_model passes (DefaultTrainer's broadcast_buffers=False).
    (FutureWarning, r"`broadcast_buffers` is deprecated"),
    # detectron2's model_zoo imports pkg_resources, which setuptools deprecates.
    (UserWarning, r"pkg_resources is deprecated as an API"),
    # detectron2's anchor generator calls torch.meshgrid without `indexing` (its "ij" default).
    # (". " for ": ", which pytest's filterwarnings cannot hold.)
    (
        UserWarning,
        r"torch\.meshgrid. in an upcoming release, it will be required to pass the indexing "
        r"argument",
    ),
    # detectron2's model_zoo imports pkg_resources, which setuptools deprecates (LazyConfig files
    # load detectron2's configs through model_zoo.get_config).
    (UserWarning, r"pkg_resources is deprecated as an API"),
)
# (logger, the message's start): torch's log records, not warnings.
UPSTREAM_LOG_RECORDS = (
    # detectron2 asks torch.fx.is_fx_tracing() whether a model is traced.
    ("torch.fx._symbolic_trace", "is_fx_tracing will return true for both"),
    # detectron2's environment dump (default_setup) imports torch.utils.cpp_extension, which
    # logs that a CPU-only torch found no CUDA runtime.
    ("torch.utils.cpp_extension", "No CUDA runtime is found, using CUDA_HOME"),
)


class _DropMessagesStartingWith(logging.Filter):
    def __init__(self, start: str):
        super().__init__()
        self.start = start

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.start)


def silence_known_upstream_warnings() -> None:
    """Filter :data:`UPSTREAM_WARNINGS` and :data:`UPSTREAM_LOG_RECORDS` in this process. Call it
    first thing in every process (a spawned process imports the script again, and so calls it
    too when the script calls it at import). Idempotent."""
    for category, message in UPSTREAM_WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=category)
    for name, start in UPSTREAM_LOG_RECORDS:
        logger = logging.getLogger(name)
        if not any(
            isinstance(f, _DropMessagesStartingWith) and f.start == start for f in logger.filters
        ):
            logger.addFilter(_DropMessagesStartingWith(start))

