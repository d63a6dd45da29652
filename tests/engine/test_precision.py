"""MODEL.ALLOW_TF32 and TEST.PRECISION are honoured (torch's flags; the autocast context)."""
import contextlib

import pytest
import torch
from detectron2.config import get_cfg

from trackrcnn_d2.config import add_trackrcnn_config
from trackrcnn_d2.engine.precision import inference_precision, set_matmul_precision
from trackrcnn_d2.structures.mask_rle import UnpastedMasksModel


@pytest.fixture
def cfg():
    cfg = get_cfg()
    add_trackrcnn_config(cfg)
    return cfg


@pytest.fixture
def restore_flags():
    cudnn, matmul = torch.backends.cudnn.allow_tf32, torch.get_float32_matmul_precision()
    yield
    torch.backends.cudnn.allow_tf32 = cudnn
    torch.set_float32_matmul_precision(matmul)


def test_defaults(cfg):
    assert cfg.MODEL.ALLOW_TF32 is True
    assert cfg.TEST.PRECISION == "fp32"


@pytest.mark.parametrize("allow", [True, False])
def test_tf32_switch_sets_torch_flags(cfg, restore_flags, allow):
    torch.backends.cudnn.allow_tf32 = not allow
    torch.set_float32_matmul_precision("highest" if allow else "high")
    cfg.MODEL.ALLOW_TF32 = allow
    set_matmul_precision(cfg)
    assert torch.backends.cudnn.allow_tf32 is allow
    assert torch.backends.cuda.matmul.allow_tf32 is allow
    assert torch.get_float32_matmul_precision() == ("high" if allow else "highest")


def test_bf16_autocast_on_cuda(cfg):
    cfg.MODEL.DEVICE = "cuda"
    cfg.TEST.PRECISION = "bf16"
    context = inference_precision(cfg)
    assert isinstance(context, torch.autocast)
    assert context.device == "cuda" and context.fast_dtype == torch.bfloat16


@pytest.mark.parametrize("device,precision", [("cuda", "fp32"), ("cpu", "bf16"), ("cpu", "fp32")])
def test_no_autocast_for_fp32_or_off_cuda(cfg, device, precision):
    cfg.MODEL.DEVICE = device
    cfg.TEST.PRECISION = precision
    assert isinstance(inference_precision(cfg), contextlib.nullcontext)


def test_unknown_precision_is_refused(cfg):
    cfg.TEST.PRECISION = "fp16"
    with pytest.raises(ValueError, match="TEST.PRECISION"):
        inference_precision(cfg)


def test_train_net_applies_both_keys(monkeypatch, tmp_path, restore_flags):
    """train_net.py: MODEL.ALLOW_TF32 at set-up (every process), TEST.PRECISION around test()."""
    import os

    from detectron2.engine import DefaultTrainer

    import train_net
    from trackrcnn_d2.engine import trainer
    from trackrcnn_d2.engine.train_net import setup

    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

    config = os.path.join(repo, "configs", "demo_synthetic.yaml")
    opts = ["OUTPUT_DIR", str(tmp_path), "MODEL.ALLOW_TF32", "False"]
    opts += ["DATASETS.TRAIN", "()", "DATASETS.TEST", "()"]
    args = train_net.parse_args(["--config-file", config, *opts])
    torch.backends.cudnn.allow_tf32 = True
    cfg = setup(args)
    assert torch.backends.cudnn.allow_tf32 is False

    entered = []

    @contextlib.contextmanager
    def recording_precision(cfg):
        entered.append(cfg.TEST.PRECISION)
        yield

    monkeypatch.setattr(trainer, "inference_precision", recording_precision)
    models = []

    def recording_test(cls, cfg, model, evaluators=None):
        models.append(model)
        return entered

    monkeypatch.setattr(DefaultTrainer, "test", classmethod(recording_test))
    model = torch.nn.Linear(1, 1)
    assert trainer.Trainer.test(cfg, model) == ["fp32"]
    # MOTSEvaluator (built by default) gets the masks unpasted; given evaluators the outputs
    # as the model gives them.
    assert isinstance(models[0], UnpastedMasksModel) and models[0].model is model
    trainer.Trainer.test(cfg, model, evaluators=[])
    assert models[1] is model
