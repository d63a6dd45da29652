"""MODEL.DEVICE cuda on a machine without a CUDA GPU: a warning and the CPU, for every script."""
import logging

import pytest
import torch

from trackrcnn_d2.engine.device import available_device

no_gpu = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")


@pytest.fixture
def device_warnings():
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = logging.getLogger("trackrcnn_d2.engine.device")
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


@no_gpu
@pytest.mark.parametrize("device", ["cuda", "cuda:1"])
def test_cuda_without_a_gpu_is_the_cpu_with_a_warning(device, device_warnings):
    assert available_device(device) == "cpu"
    (record,) = device_warnings
    assert record.levelno == logging.WARNING
    assert f"MODEL.DEVICE {device}, but torch sees no CUDA GPU: running on the CPU" in (
        record.getMessage()
    )


def test_other_devices_are_kept_silently(device_warnings):
    assert available_device("cpu") == "cpu"
    assert device_warnings == []

