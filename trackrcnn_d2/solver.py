"""The optimizer of the paper's training set-up (Sec. 6: Adam) beside detectron2's SGD."""
import torch
from detectron2.solver import build_optimizer as build_sgd_optimizer
from detectron2.solver import get_default_optimizer_params
from detectron2.solver.build import maybe_add_gradient_clipping

from trackrcnn_d2.utils.cli import ConfigError

__all__ = ["build_optimizer"]

OPTIMIZERS = ("SGD", "ADAM")


def build_optimizer(cfg, model: torch.nn.Module) -> torch.optim.Optimizer:
    """SGD (detectron2's) or Adam (the paper's), per ``SOLVER.OPTIMIZER``; both take detectron2's
    per-parameter learning rates and weight decays and its gradient clipping."""
    name = cfg.SOLVER.OPTIMIZER.upper()
    if name == "SGD":
        return build_sgd_optimizer(cfg, model)
    if name not in OPTIMIZERS:
        raise ConfigError(f"SOLVER.OPTIMIZER must be one of {', '.join(OPTIMIZERS)}, got {name!r}")
    params = get_default_optimizer_params(
        model,
        base_lr=cfg.SOLVER.BASE_LR,
        weight_decay_norm=cfg.SOLVER.WEIGHT_DECAY_NORM,
        bias_lr_factor=cfg.SOLVER.BIAS_LR_FACTOR,
        weight_decay_bias=cfg.SOLVER.WEIGHT_DECAY_BIAS,
    )
    return maybe_add_gradient_clipping(
        cfg, torch.optim.Adam(params, lr=cfg.SOLVER.BASE_LR, weight_decay=cfg.SOLVER.WEIGHT_DECAY)
    )
