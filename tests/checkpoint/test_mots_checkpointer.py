"""MOTSCheckpointer: atomic saving (a failed or killed write leaves the previous checkpoint and
last_checkpoint as they were), strict loading for inference, one summary line for fine-tuning.

The model is the demo config's narrow TrackR-CNN (FPN, BatchNorm), built on the CPU.
"""
import errno
import logging
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from detectron2.modeling import build_model
from helpers.faults import filling_atomic_open, slowed_torch_save

from trackrcnn_d2.checkpoint import MOTSCheckpointer
from trackrcnn_d2.checkpoint import mots_checkpointer as checkpointer_module
from trackrcnn_d2.utils.cli import CheckpointError, load_config

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIG = os.path.join(REPO, "configs", "demo_synthetic.yaml")


def _loadable(model) -> int:
    """The tensors a checkpoint must give: not BatchNorm's batch counters (torch fills them in)
    nor pixel_mean/pixel_std (from the config; not saved by this detectron2)."""
    ignored = ("num_batches_tracked", "pixel_mean", "pixel_std")
    return len([key for key in model.state_dict() if not key.endswith(ignored)])


def _model(*opts):
    torch.manual_seed(0)
    return build_model(load_config(CONFIG, list(opts)))


@pytest.fixture
def records():
    """The records of the checkpointer's logger (fvcore's; detectron2's set-up may stop it from
    propagating to pytest's handler)."""
    collected = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = collected.append
    logger = logging.getLogger("fvcore.common.checkpoint")
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.INFO)
    yield collected
    logger.setLevel(old_level)
    logger.removeHandler(handler)


def _failing_writes(after_bytes: int, error=errno.ENOSPC):
    """The checkpointer's ``atomic_open``, its file failing with ``error`` after ``after_bytes``."""
    return filling_atomic_open(checkpointer_module.atomic_open, after_bytes, error)


def test_save_writes_the_file_then_names_it_in_last_checkpoint(tmp_path):
    model = _model()
    checkpointer = MOTSCheckpointer(model, str(tmp_path))
    checkpointer.save("model_0000004", iteration=4)
    assert sorted(os.listdir(tmp_path)) == ["last_checkpoint", "model_0000004.pth"]
    assert (tmp_path / "last_checkpoint").read_text() == "model_0000004.pth"
    saved = torch.load(tmp_path / "model_0000004.pth", weights_only=False)
    assert saved["iteration"] == 4
    for key, value in model.state_dict().items():
        assert torch.equal(saved["model"][key], value), key


@pytest.mark.parametrize("error", [errno.ENOSPC, errno.EROFS])
def test_a_failed_write_names_the_file_and_keeps_the_previous_checkpoint(
    tmp_path, monkeypatch, error
):
    checkpointer = MOTSCheckpointer(_model(), str(tmp_path))
    checkpointer.save("model_0000004", iteration=4)
    before = {name: (tmp_path / name).read_bytes() for name in os.listdir(tmp_path)}
    monkeypatch.setattr(checkpointer_module, "atomic_open", _failing_writes(100_000, error))
    with pytest.raises(CheckpointError) as refused:
        checkpointer.save("model_final", iteration=9)
    message = str(refused.value)
    assert message.startswith(f"cannot write the checkpoint {tmp_path / 'model_final.pth'}: ")
    assert os.strerror(error) in message and "\n" not in message
    assert f"the last complete checkpoint, {tmp_path / 'model_0000004.pth'}, is kept" in message
    # No partial file: the directory holds exactly what it held.
    assert {name: (tmp_path / name).read_bytes() for name in os.listdir(tmp_path)} == before


def test_a_failed_first_save_says_there_is_no_earlier_checkpoint(tmp_path, monkeypatch):
    monkeypatch.setattr(checkpointer_module, "atomic_open", _failing_writes(10))
    with pytest.raises(CheckpointError, match="there is no earlier checkpoint"):
        MOTSCheckpointer(_model(), str(tmp_path)).save("model_final")
    assert os.listdir(tmp_path) == []


def test_a_bug_in_saving_keeps_its_traceback(tmp_path):
    class Unsaveable:
        def state_dict(self):
            return {"lock": __import__("threading").Lock()}  # cannot be pickled

    checkpointer = MOTSCheckpointer(_model(), str(tmp_path), extra=Unsaveable())
    with pytest.raises(TypeError):
        checkpointer.save("model_final")
    assert os.listdir(tmp_path) == []


def test_a_kill_during_a_save_leaves_the_previous_checkpoint(tmp_path):
    """SIGTERM (Python's default: the process ends at once, as with SIGKILL, which
    tests/test_train_net.py sends to a resumed run) while the writer is in the middle of
    model_final.pth: model_0000004.pth and last_checkpoint stay as they were; the next save
    removes the killed one's temporary file."""
    marker = tmp_path / "writing"
    script = f"""
import sys, time, torch
sys.path.insert(0, {REPO!r})
from detectron2.modeling import build_model
import trackrcnn_d2
trackrcnn_d2.register_all()
from trackrcnn_d2.checkpoint import MOTSCheckpointer
from trackrcnn_d2.utils.cli import load_config
model = build_model(load_config({CONFIG!r}))
checkpointer = MOTSCheckpointer(model, {str(tmp_path / 'run')!r})
checkpointer.save("model_0000004", iteration=4)
{slowed_torch_save(marker)}
checkpointer.save("model_final", iteration=9)
"""
    process = subprocess.Popen([sys.executable, "-c", script], cwd=str(tmp_path))
    try:
        deadline = time.monotonic() + 300
        while not marker.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert marker.exists(), "the writer did not start"
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    finally:
        process.kill()
        process.wait()
    run = tmp_path / "run"
    leftovers = [name for name in os.listdir(run) if name.startswith(".")]
    assert len(leftovers) == 1 and leftovers[0].startswith(".model_final.pth.tmp-")
    assert sorted(set(os.listdir(run)) - set(leftovers)) == ["last_checkpoint", "model_0000004.pth"]
    assert (run / "last_checkpoint").read_text() == "model_0000004.pth"
    model = _model()
    extra = MOTSCheckpointer(model, str(run)).resume_or_load("", resume=True)
    assert extra["iteration"] == 4
    MOTSCheckpointer(model, str(run)).save("model_final", iteration=9)
    assert sorted(os.listdir(run)) == ["last_checkpoint", "model_0000004.pth", "model_final.pth"]


def test_strict_loading_refuses_weights_of_another_model(tmp_path):
    """The issue's cases: a file of another architecture (ResNet-18 keys only) and the right
    architecture at another width (MODEL.FPN.OUT_CHANNELS 64 on a 32-channel model)."""
    other = tmp_path / "resnet18.pth"
    torch.save({"model": {"stem.conv1.weight": torch.zeros(64, 3, 7, 7)}}, other)
    wider = tmp_path / "fpn64.pth"
    MOTSCheckpointer(_model("MODEL.FPN.OUT_CHANNELS", "64"), str(tmp_path)).save("fpn64")
    model = _model()
    total = _loadable(model)
    checkpointer = MOTSCheckpointer(model)
    with pytest.raises(CheckpointError) as refused:
        checkpointer.load(str(other), strict=True)
    message = str(refused.value)
    assert message.startswith(f"{other} does not fit the model of this config: {total} of the "
                              f"model's {total} tensors are not in it (")  # fmt: skip
    assert "; the file has 1 tensors that the model does not (stem.conv1.weight). " in message
    with pytest.raises(CheckpointError) as refused:
        checkpointer.load(str(wider), strict=True)
    message = str(refused.value)
    assert message.startswith(f"{wider} does not fit the model of this config: ")
    # The FPN's outputs and everything that reads them: 64 channels in the file, 32 here.
    assert "have other shapes (backbone." in message and "(64," in message
    assert "not in it" not in message and "\n" not in message
    # The same checkpointer loads again after a refusal (detectron2 asserts otherwise).
    good = tmp_path / "good.pth"
    MOTSCheckpointer(_model(), str(tmp_path)).save("good")
    checkpointer.load(str(good), strict=True)


def test_strict_loading_refuses_no_weights():
    with pytest.raises(CheckpointError, match="MODEL.WEIGHTS is empty"):
        MOTSCheckpointer(_model()).load("", strict=True)


def test_strict_loading_accepts_a_complete_file_with_extra_tensors(tmp_path, records):
    source = _model()
    state = dict(source.state_dict(), **{"unused_head.weight": torch.zeros(2)})
    path = tmp_path / "extra.pth"
    torch.save({"model": state}, path)
    model = _model("SEED", "1")
    torch.manual_seed(1)
    for parameter in model.parameters():
        torch.nn.init.normal_(parameter)
    MOTSCheckpointer(model).load(str(path), strict=True)
    for key, value in source.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key
    warnings = [r.getMessage() for r in records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and warnings[0].endswith(
        f"{path}: loaded {_loadable(model)} of the model's {_loadable(model)} tensors; unused "
        "tensors of the file: 1 (unused_head.* 1)"
    )


def test_lenient_loading_sums_up_what_was_not_loaded_in_one_line(tmp_path, records):
    """Fine-tuning from a file of another model: detectron2's behaviour (what fits is loaded),
    with one warning line instead of a warning per tensor."""
    path = tmp_path / "partial.pth"
    source = _model("MODEL.FPN.OUT_CHANNELS", "64")
    state = {
        key: value
        for key, value in source.state_dict().items()
        if key.startswith("backbone.frame_backbone.bottom_up.")
    }
    state["extra.weight"] = torch.zeros(1)
    torch.save({"model": state}, path)
    model = _model()
    MOTSCheckpointer(model).load(str(path))
    for key, value in state.items():
        if key in model.state_dict():
            assert torch.equal(model.state_dict()[key], value), key
    warnings = [r.getMessage() for r in records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, warnings
    total = _loadable(model)
    loaded = len([key for key in state if not key.endswith("num_batches_tracked")]) - 1
    assert warnings[0].startswith(f"{path}: loaded {loaded} of the model's {total} tensors; "
                                  f"not in the file: {total - loaded} (")  # fmt: skip
    assert warnings[0].endswith("keep their initialisation; unused tensors of the file: 1 "
                                "(extra.* 1)")  # fmt: skip


def test_resuming_loads_the_runs_checkpoint_strictly(tmp_path):
    """The run's own checkpoint must fit entirely: a run whose model changed is refused even
    where the config comparison cannot run (a run without config.yaml)."""
    MOTSCheckpointer(_model("MODEL.FPN.OUT_CHANNELS", "64"), str(tmp_path)).save("model_final")
    with pytest.raises(CheckpointError, match="model_final.pth does not fit the model"):
        MOTSCheckpointer(_model(), str(tmp_path)).resume_or_load("", resume=True)
