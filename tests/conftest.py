"""Shared pytest set-up: tests run on the CPU, deterministic, with few threads (CI has 2 cores)."""
import logging
import os

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "2")

import trackrcnn_d2  # noqa: E402

# Registration is explicit (as train_net.py and demo.py do it): the model components, the
# built-in datasets, the tracker head and the evaluator.
trackrcnn_d2.register_all()

from detectron2.utils.logger import setup_logger  # noqa: E402

MOTSCHALLENGE_ROOT = os.path.join(
    os.path.dirname(__file__), "..", "..", "shared", "data", "motschallenge"
)


@pytest.fixture(scope="session")
def motschallenge_root():
    """The real MOTSChallenge training annotations beside the checkout; skip when absent."""
    root = os.path.abspath(MOTSCHALLENGE_ROOT)
    if not os.path.isdir(os.path.join(root, "instances_txt")):
        pytest.skip(f"real MOTSChallenge annotations not found at {root}")
    return root


@pytest.fixture(autouse=True)
def _log_handlers_of_this_test_only():
    """Scripts run in-process (train_net.py, demo.py) call detectron2's setup_logger, which binds
    its handlers to the sys.stdout of that moment (pytest's capture, closed after the test) and
    caches them: each test ends with the handlers it started with, so no later test's stderr
    gets a "--- Logging error ---" from a closed stream."""
    loggers = [logging.getLogger()] + [
        logger
        for logger in logging.Logger.manager.loggerDict.values()
        if isinstance(logger, logging.Logger)
    ]
    handlers = {logger: list(logger.handlers) for logger in loggers}
    yield
    for logger in [logging.getLogger()] + list(logging.Logger.manager.loggerDict.values()):
        if isinstance(logger, logging.Logger):
            logger.handlers = handlers.get(logger, [])
    setup_logger.cache_clear()
