"""Shared fixtures of the evaluation tests."""
import uuid

import pytest


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
