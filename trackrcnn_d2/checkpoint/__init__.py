"""Checkpoints of TrackR-CNN runs (as detectron2's ``detectron2/checkpoint/``): the checkpointer
(atomic saving, strict loading for inference, one summary line for fine-tuning), the COCO class
rows kept when fine-tuning, and the check that a resumed run trains the model it started."""
from .class_rows import WeightsClassMap, transfer_class_rows
from .mots_checkpointer import MOTSCheckpointer
from .resume import (
    LAZY_RESUMABLE_CHANGES,
    RESUMABLE_CHANGES,
    check_lazy_resume_config,
    check_resume_config,
)

__all__ = [
    "MOTSCheckpointer",
    "WeightsClassMap",
    "transfer_class_rows",
    "check_resume_config",
    "check_lazy_resume_config",
    "LAZY_RESUMABLE_CHANGES",
    "RESUMABLE_CHANGES",
]
