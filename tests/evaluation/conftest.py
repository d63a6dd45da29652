"""Shared fixtures of the evaluation tests."""
import contextlib
import io
import uuid

import pytest
from helpers.environment import import_or_skip


@pytest.fixture(scope="session")
def synthetic_mots_set(tmp_path_factory):
    """Factory: generate a tiny synthetic MOTS set (64 x 128) and register its splits under a
    fresh name; returns ``(root, "<name>_val")`` (val = the last sequence of the seqmap)."""
    from trackrcnn_d2.data import register_synthetic_mots
    from trackrcnn_d2.data.synthetic import generate_synthetic_mots

    def make(prefix: str, sequences: int, frames: int, seed: int):
        root = str(tmp_path_factory.mktemp("synthetic_mots"))
        generate_synthetic_mots(
            root, sequences=sequences, frames=frames, height=64, width=128, seed=seed
        )
        name = f"{prefix}_{uuid.uuid4().hex[:6]}"
        register_synthetic_mots(name, root)
        return root, f"{name}_val"

    return make


@pytest.fixture
def trackeval_report(tmp_path):
    """``report(gt, results, class_names, flavour)``: TrackEval's evaluation (the oracle) in the
    layout of ``evaluate_mots``, run in this test's tmp_path; the test is skipped where TrackEval
    is not installed, and fails under CI=true."""
    import_or_skip("trackeval")
    from trackrcnn_d2.evaluation.reference import run_trackeval

    def report(gt, results, class_names, flavour):
        with contextlib.redirect_stdout(io.StringIO()):
            return run_trackeval(gt, results, class_names, flavour, workdir=str(tmp_path))

    return report
