"""One behaviour for ``MODEL.DEVICE cuda`` on a machine without a CUDA GPU (the default of the
KITTI MOTS and MOTSChallenge configs): a warning, and the CPU. Every script and example calls
:func:`available_device`."""
import logging

__all__ = ["available_device"]

logger = logging.getLogger(__name__)


def available_device(device: str) -> str:
    """``device`` (a ``MODEL.DEVICE`` value), or ``"cpu"`` with a warning when it names CUDA and
    torch sees no CUDA GPU."""
    import torch

    if device.startswith("cuda") and not torch.cuda.is_available():
        logger.warning(
            f"MODEL.DEVICE {device}, but torch sees no CUDA GPU: running on the CPU "
            "(MODEL.DEVICE cpu says so and silences this warning)"
        )
        return "cpu"
    return device
