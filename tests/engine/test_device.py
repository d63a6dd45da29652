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


@no_gpu
def test_a_lazyconfigs_device_is_named_by_its_key(device_warnings):
    assert available_device("cuda", key="train.device") == "cpu"
    (record,) = device_warnings
    assert record.getMessage() == (
        "train.device cuda, but torch sees no CUDA GPU: running on the CPU "
        "(train.device=cpu says so and silences this warning)"
    )


def test_other_devices_are_kept_silently(device_warnings):
    assert available_device("cpu") == "cpu"
    assert device_warnings == []



def test_every_script_that_builds_a_model_chooses_the_device_alike():
    """The scripts (train_net.py's logic, demo.py's, tools/) and the examples: each one that
    builds a model from a config goes through available_device, so that MODEL.DEVICE cuda
    without a GPU is one warning and the CPU everywhere (tests/test_readme.py runs the examples
    without a GPU; tests/test_train_net.py and tests/test_demo.py the scripts)."""
    import glob
    import os
    import re

    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    scripts = ["train_net.py", "demo.py", "trackrcnn_d2/engine/train_net.py",
               "trackrcnn_d2/engine/video_demo.py"]  # fmt: skip
    scripts += glob.glob("tools/*.py", root_dir=repo) + glob.glob("examples/*.py", root_dir=repo)
    builders = re.compile(r"\b(build_model|DefaultPredictor|VideoTrackingPredictor|Trainer)\(")
    missing, building = [], []
    for script in scripts:
        with open(os.path.join(repo, script), encoding="utf-8") as f:
            text = f.read()
        if builders.search(text):
            building.append(script)
            if "available_device" not in text:
                missing.append(script)
    assert not missing, f"these build a model without available_device: {missing}"
    assert len(building) >= 5  # the two entry points' logic and the examples with models
