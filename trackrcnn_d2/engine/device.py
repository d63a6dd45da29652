"""One behaviour for ``MODEL.DEVICE cuda`` on a machine without a CUDA GPU (the default of the
KITTI MOTS and MOTSChallenge configs): a warning, and the CPU. Every script and example calls
:func:`available_device`."""
import logging

__all__ = ["available_device"]

logger = logging.getLogger(__name__)


def available_device(device: str, key: str = "MODEL.DEVICE") -> str:
    """``device`` (the value of ``key``: ``MODEL.DEVICE``, a LazyConfig's ``train.device``), or
    ``"cpu"`` with a warning naming ``key`` when it names CUDA and torch sees no CUDA GPU."""
    import torch

    if device.startswith("cuda") and not torch.cuda.is_available():
        logger.warning(
            f"{key} {device}, but torch sees no CUDA GPU: running on the CPU "
            f"({_setting(key, 'cpu')} says so and silences this warning)"
        )
        return "cpu"
    return device


def _setting(key: str, value: str) -> str:
    """How the user sets ``key``: ``KEY VALUE`` for yaml configs, ``key=value`` for LazyConfigs."""
    return f"{key} {value}" if key.isupper() else f"{key}={value}"
