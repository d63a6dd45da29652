"""Numeric precision of the model on CUDA: TF32 (``MODEL.ALLOW_TF32``) and bf16 autocast at
inference (``TEST.PRECISION``). The predictor, ``train_net.py`` and the benchmarks call these.

TF32 runs float32 convolutions and matrix products on tensor cores with a 10-bit mantissa
(inputs rounded, sums in float32): on Ampere and later GPUs several times faster than IEEE
float32, with relative errors of about 1e-3 per product. bf16 autocast runs the convolutions
and linear layers in bfloat16 (8-bit mantissa), the rest in float32; boxes, scores and masks
move by small amounts, so a few detections near a threshold can change. On the CPU neither
setting changes anything (TF32 is a CUDA feature; bf16 autocast is applied on CUDA only).
"""
import contextlib

import torch

__all__ = [
    "INFERENCE_PRECISIONS",
    "allow_tf32",
    "autocast_for",
    "inference_precision",
    "set_matmul_precision",
]

INFERENCE_PRECISIONS = ("fp32", "bf16")


def allow_tf32(allow: bool) -> None:
    """TF32 for float32 convolutions (cuDNN) and matrix products (cuBLAS) when ``allow``, IEEE
    float32 otherwise. Process-wide (torch's flags)."""
    torch.backends.cudnn.allow_tf32 = bool(allow)
    torch.set_float32_matmul_precision("high" if allow else "highest")


def set_matmul_precision(cfg) -> None:
    """:func:`allow_tf32` of ``cfg.MODEL.ALLOW_TF32``."""
    allow_tf32(cfg.MODEL.ALLOW_TF32)


def autocast_for(precision: str, device, key: str = "TEST.PRECISION"):
    """Context for the model's inference on ``device``: bf16 autocast on CUDA when
    ``precision`` is ``"bf16"``; nothing for ``"fp32"`` or on other devices. ``key`` names the
    setting in the error for an unknown ``precision``."""
    if precision not in INFERENCE_PRECISIONS:
        raise ValueError(f"{key} must be one of {INFERENCE_PRECISIONS}, got {precision!r}")
    if precision == "bf16" and torch.device(device).type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def inference_precision(cfg):
    """:func:`autocast_for` of ``cfg.TEST.PRECISION`` on ``cfg.MODEL.DEVICE``."""
    return autocast_for(cfg.TEST.PRECISION, cfg.MODEL.DEVICE)
