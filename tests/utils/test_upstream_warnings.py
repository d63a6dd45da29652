"""Exactly the known upstream warnings are silenced, at the entry points and in the test suite."""
import configparser
import logging
import os
import subprocess
import sys
import warnings

from trackrcnn_d2.utils.upstream_warnings import (
    UPSTREAM_LOG_RECORDS,
    UPSTREAM_WARNINGS,
    silence_known_upstream_warnings,
)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# The texts that torch 2.14 and detectron2 print, as they print them.
UPSTREAM_TEXTS = {
    FutureWarning: [
        "`torch.jit.script` is deprecated. Please switch to `torch.compile` or `torch.export`.",
        "`broadcast_buffers` is deprecated. Use `forward_sync_buffers` instead.",
    ],
    UserWarning: [
        "torch.meshgrid: in an upcoming release, it will be required to pass the indexing "
        "argument. (Triggered internally at TensorShape.cpp:4221.)",
        "pkg_resources is deprecated as an API. See https://setuptools.pypa.io/en/latest/"
        "pkg_resources.html. The pkg_resources package is slated for removal as early as "
        "2025-11-30. Refrain from using this package or pin to Setuptools<81.",
    ],
}


def _shown(category, message):
    with warnings.catch_warnings(record=True) as caught:
        warnings.resetwarnings()
        warnings.simplefilter("always")
        silence_known_upstream_warnings()
        warnings.warn(message, category, stacklevel=1)
    return [str(w.message) for w in caught]


def test_the_upstream_warnings_are_silenced_and_nothing_else():
    for category, messages in UPSTREAM_TEXTS.items():
        for message in messages:
            assert _shown(category, message) == []
    # Ours, and upstream ones of another category or text, stay visible.
    assert _shown(UserWarning, "`torch.jit.script` is deprecated") != []
    assert _shown(FutureWarning, "trackrcnn_d2: a deprecated key") != []
    assert _shown(FutureWarning, "`torch.jit.trace` is deprecated") != []


def test_torchs_log_records_are_dropped_by_text(caplog):
    silence_known_upstream_warnings()
    silence_known_upstream_warnings()  # idempotent: one filter per logger
    caplog.set_level(logging.WARNING)
    for name, start in UPSTREAM_LOG_RECORDS:
        logger = logging.getLogger(name)
        assert len(logger.filters) == 1
        logger.warning(start + " (the rest of torch's message)")
        logger.warning("another warning of the same module")
    assert [r.getMessage() for r in caplog.records] == ["another warning of the same module"] * 2


def test_the_test_suite_filters_the_same_warnings():
    parser = configparser.ConfigParser()
    parser.read(os.path.join(REPO, "setup.cfg"))
    lines = [line for line in parser["tool:pytest"]["filterwarnings"].splitlines() if line]
    ignored = {tuple(line.split(":")[1:3]) for line in lines if line.startswith("ignore:")}
    for category, message in UPSTREAM_WARNINGS:
        assert (message, category.__name__) in ignored


def test_a_script_prints_none_of_them():
    """What every command did (detectron2's model code imported, its environment dump, which
    imports torch.utils.cpp_extension, anchors, an fx-tracing check) prints nothing; without
    the filters it prints each of the notices."""
    code = (
        "import runpy, sys\n"
        f"sys.path.insert(0, {REPO!r})\n"
        "from trackrcnn_d2.utils.upstream_warnings import silence_known_upstream_warnings\n"
        "silence_known_upstream_warnings()\n"
        "import trackrcnn_d2; trackrcnn_d2.register_all()\n"
        "from detectron2.utils.collect_env import collect_env_info; collect_env_info()\n"
        "import torch\n"
        "torch.meshgrid(torch.arange(2), torch.arange(2))\n"
        "torch.fx._symbolic_trace.is_fx_tracing()\n"
    )
    run = subprocess.run(
        [sys.executable, "-W", "default", "-c", code], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""
