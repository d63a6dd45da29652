"""Shared pytest set-up: tests run on the CPU, deterministic, with few threads (CI has 2 cores)."""
import os

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "2")

import trackrcnn_d2  # noqa: E402

# Registration is explicit (as train_net.py and demo.py do it): the model components, the
# built-in datasets, the tracker head and the evaluator.
trackrcnn_d2.register_all()

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
