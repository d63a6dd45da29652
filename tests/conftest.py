"""Shared pytest set-up: tests run on the CPU, deterministic, with few threads (CI has 2 cores).

Helpers shared by several test folders live in the ``helpers`` package (tests/helpers/), never
here: ``from conftest import ...`` finds whichever conftest was imported first.
"""
import logging
import os
import sys

import pytest
from helpers.environment import skip_or_fail_on_ci

os.environ.setdefault("OMP_NUM_THREADS", "2")

import trackrcnn_d2  # noqa: E402

# Registration is explicit (as train_net.py and demo.py do it): the model components, the
# built-in datasets, the tracker head and the evaluator.
trackrcnn_d2.register_all()

import setuptools  # noqa: E402,F401  see _global_state_restored
from detectron2.utils.logger import setup_logger  # noqa: E402

MOTSCHALLENGE_ROOT = os.path.join(
    os.path.dirname(__file__), "..", "..", "shared", "data", "motschallenge"
)


@pytest.fixture(scope="session")
def motschallenge_root():
    """The real MOTSChallenge training annotations beside the checkout
    (``../shared/data/motschallenge``); skip when absent, fail under CI=true."""
    root = os.path.abspath(MOTSCHALLENGE_ROOT)
    if not os.path.isdir(os.path.join(root, "instances_txt")):
        skip_or_fail_on_ci(f"real MOTSChallenge annotations not found at {root}")
    return root


@pytest.fixture(autouse=True)
def _global_state_restored():
    """Every test ends with the sys.path, working directory and torch thread count it started
    with: a test that changes them must restore them (monkeypatch, a fixture), or it fails here,
    since later tests would otherwise depend on the order they run in. (setuptools, which
    detectron2's environment report imports, appends its _vendor folder to sys.path when first
    imported: it is imported above, before any test.)"""
    torch = sys.modules.get("torch")
    before = (list(sys.path), os.getcwd(), torch.get_num_threads() if torch else None)
    yield
    torch = sys.modules.get("torch")
    after = (list(sys.path), os.getcwd(), torch.get_num_threads() if torch else None)
    if after == before:
        return
    sys.path[:] = before[0]
    os.chdir(before[1])
    if before[2] is not None:
        torch.set_num_threads(before[2])
    changed = [name for name, b, a in zip(("sys.path", "cwd", "torch threads"), before, after)
               if a != b]
    pytest.fail(f"the test changed {', '.join(changed)} and did not restore it", pytrace=False)


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
