"""What a test does when an optional part is missing: it skips on a developer's machine and
fails under ``CI=true``, where the real annotations (``../shared/data/motschallenge``) and the
TrackEval oracle are installed, so that a broken set-up cannot turn whole groups of tests into
skips unnoticed."""
import importlib
import os
from types import ModuleType

import pytest

__all__ = ["on_ci", "skip_or_fail_on_ci", "import_or_skip"]


def on_ci() -> bool:
    """True where the environment variable ``CI`` is true (GitHub Actions, GitLab CI and most
    other services set ``CI=true``)."""
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes", "on")


def skip_or_fail_on_ci(reason: str) -> None:
    """Skip the running test with ``reason``; under ``CI=true`` fail it instead."""
    if on_ci():
        pytest.fail(f"{reason}; CI=true, where this test must run, so it fails", pytrace=False)
    pytest.skip(reason)


def import_or_skip(name: str) -> ModuleType:
    """``pytest.importorskip(name)``, but failing under ``CI=true``. Call it in a fixture or a
    test, never at module level (one skip there hides every test of the module)."""
    try:
        return importlib.import_module(name)
    except ImportError as e:
        skip_or_fail_on_ci(f"{name} cannot be imported ({e})")
