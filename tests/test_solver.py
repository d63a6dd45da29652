"""SOLVER.OPTIMIZER picks the paper's Adam or detectron2's SGD."""
import pytest
import torch
from detectron2.config import get_cfg

from trackrcnn_d2 import add_trackrcnn_config
from trackrcnn_d2.solver import build_optimizer


def _cfg(name=None):
    cfg = get_cfg()
    add_trackrcnn_config(cfg)
    if name is not None:
        cfg.SOLVER.OPTIMIZER = name
    cfg.SOLVER.BASE_LR = 5e-7
    return cfg


def test_default_is_the_papers_adam():
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    optimizer = build_optimizer(_cfg(), model)
    assert isinstance(optimizer, torch.optim.Adam)
    assert {group["lr"] for group in optimizer.param_groups} == {5e-7}
    assert sum(len(g["params"]) for g in optimizer.param_groups) == 4


def test_sgd_and_unknown_names():
    model = torch.nn.Linear(3, 2)
    assert isinstance(build_optimizer(_cfg("SGD"), model), torch.optim.SGD)
    with pytest.raises(ValueError, match="SOLVER.OPTIMIZER"):
        build_optimizer(_cfg("LAMB"), model)
