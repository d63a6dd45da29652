"""Fixtures of the data tests: one small synthetic MOTS set per test session."""
import itertools

import pytest

from trackrcnn_d2.data.synthetic import generate_synthetic_mots

# The size of the session's synthetic set; tests read it from the ``synthetic_spec`` fixture.
SPEC = {"sequences": 4, "frames": 12, "height": 64, "width": 128, "seed": 7}

_names = itertools.count()


@pytest.fixture(scope="session")
def synthetic_spec():
    """Arguments of ``generate_synthetic_mots`` that made ``synthetic_root``."""
    return dict(SPEC)


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory):
    """A synthetic set in the KITTI MOTS layout: 4 sequences (0000-0002 train, 0003 val)."""
    root = tmp_path_factory.mktemp("synthetic_mots")
    generate_synthetic_mots(str(root), **SPEC)
    return root


@pytest.fixture(scope="session")
def synthetic_prefix(synthetic_root):
    """Prefix of the registered ``<prefix>_train`` / ``<prefix>_val`` of ``synthetic_root``."""
    from trackrcnn_d2.data.builtin import register_synthetic_mots

    prefix = f"test_data_synthetic_{next(_names)}"
    register_synthetic_mots(prefix, str(synthetic_root))
    return prefix


@pytest.fixture
def unique_name():
    """A dataset name not registered yet."""
    return f"test_data_dataset_{next(_names)}"
