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

__all__ = ["INFERENCE_PRECISIONS", "inference_precision", "set_matmul_precision"]

INFERENCE_PRECISIONS = ("fp32", "bf16")


def set_matmul_precision(cfg) -> None:
    """TF32 for float32 convolutions (cuDNN) and matrix products (cuBLAS) when
    ``cfg.MODEL.ALLOW_TF32``, IEEE float32 otherwise. Process-wide (torch's flags)."""
    allow = bool(cfg.MODEL.ALLOW_TF32)
    torch.backends.cudnn.allow_tf32 = allow
    torch.set_float32_matmul_precision("high" if allow else "highest")


def inference_precision(cfg):
    """Context for the model's inference: bf16 autocast on CUDA when ``cfg.TEST.PRECISION`` is
    ``"bf16"``; nothing for ``"fp32"`` or on other devices."""
    precision = cfg.TEST.PRECISION
    if precision not in INFERENCE_PRECISIONS:
        raise ValueError(
            f"TEST.PRECISION must be one of {INFERENCE_PRECISIONS}, got {precision!r}"
        )
    if precision == "bf16" and torch.device(cfg.MODEL.DEVICE).type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()
