"""Fixtures of the tracking tests (the builders are in ``helpers.tracking``)."""
import pytest
from helpers.tracking import make_frame, tracker_config


@pytest.fixture
def frame_factory():
    return make_frame


@pytest.fixture
def tracker_cfg():
    return tracker_config
