"""TrackR-CNN's trainer: detectron2's DefaultTrainer on clips of adjacent frames, evaluated by
tracking whole sequences (paper Sec. 6). ``train_net.py`` runs it (:mod:`.train_net`)."""
import json
import logging
import os
import weakref

from detectron2.engine import (
    AMPTrainer,
    DefaultTrainer,
    SimpleTrainer,
    TrainerBase,
    create_ddp_model,
)
from detectron2.utils import comm
from detectron2.utils.events import TensorboardXWriter
from detectron2.utils.logger import setup_logger

from trackrcnn_d2.checkpoint import MOTSCheckpointer, WeightsClassMap
from trackrcnn_d2.data.build import build_mots_test_loader, build_mots_train_loader
from trackrcnn_d2.engine.precision import inference_precision
from trackrcnn_d2.evaluation import MOTSEvaluator
from trackrcnn_d2.solver import build_optimizer
from trackrcnn_d2.structures.mask_rle import UnpastedMasksModel

__all__ = ["Trainer", "create_ddp_model_on", "drop_events_from", "purge_events_after_resume"]


class Trainer(DefaultTrainer):
    """DefaultTrainer on clips of adjacent frames, evaluated by tracking whole sequences."""

    def __init__(self, cfg):
        # DefaultTrainer.__init__ with two changes: the model is wrapped for distributed
        # training without device_ids on the CPU (detectron2 passes the local rank, which
        # DistributedDataParallel refuses for a CPU model), and the checkpointer is ours (atomic
        # saves, errors naming the file, COCO's class rows kept when fine-tuning).
        TrainerBase.__init__(self)
        if not logging.getLogger("detectron2").isEnabledFor(logging.INFO):
            setup_logger()
        cfg = self.auto_scale_workers(cfg, comm.get_world_size())
        model = self.build_model(cfg)
        optimizer = self.build_optimizer(cfg, model)
        data_loader = self.build_train_loader(cfg)
        model = create_ddp_model_on(model, cfg.MODEL.DEVICE, broadcast_buffers=False)
        self._trainer = (AMPTrainer if cfg.SOLVER.AMP.ENABLED else SimpleTrainer)(
            model, data_loader, optimizer
        )
        self.scheduler = self.build_lr_scheduler(cfg, optimizer)
        self.checkpointer = MOTSCheckpointer(
            model,
            cfg.OUTPUT_DIR,
            class_map=WeightsClassMap.from_config(cfg),
            trainer=weakref.proxy(self),
        )
        self.start_iter = 0
        self.max_iter = cfg.SOLVER.MAX_ITER
        self.cfg = cfg
        self.register_hooks(self.build_hooks())

    def build_writers(self):
        self._writers = super().build_writers()
        return self._writers

    def resume_or_load(self, resume=True):
        super().resume_or_load(resume=resume)
        # Writers exist in the main process only (DefaultTrainer.build_hooks).
        writers = getattr(self, "_writers", [])
        purge_events_after_resume(self.cfg.OUTPUT_DIR, self.start_iter, writers)

    @classmethod
    def build_train_loader(cls, cfg):
        return build_mots_train_loader(cfg)

    @classmethod
    def build_test_loader(cls, cfg, dataset_name):
        # Frames of each sequence in order: the model keeps near-online state between calls.
        return build_mots_test_loader(cfg, dataset_name)

    @classmethod
    def build_evaluator(cls, cfg, dataset_name, output_folder=None):
        return MOTSEvaluator(cfg, dataset_name, output_dir=output_folder)

    @classmethod
    def build_optimizer(cls, cfg, model):
        return build_optimizer(cfg, model)

    @classmethod
    def test(cls, cfg, model, evaluators=None):
        # TEST.PRECISION: inference in bf16 autocast on CUDA when set. MOTSEvaluator (the
        # default) needs RLEs only: the masks are pasted into their boxes alone, not into images.
        if evaluators is None:
            model = UnpastedMasksModel(model)
        with inference_precision(cfg):
            return super().test(cfg, model, evaluators)


def create_ddp_model_on(model, device: str, **kwargs):
    """detectron2's ``create_ddp_model`` (``kwargs`` for DistributedDataParallel), without
    ``device_ids`` for a model on the CPU: detectron2 passes the local rank, which
    DistributedDataParallel refuses for a CPU model."""
    if str(device) == "cpu":
        kwargs["device_ids"] = None
    return create_ddp_model(model, **kwargs)


def purge_events_after_resume(output_dir: str, start_iter: int, writers) -> None:
    """A killed run may have logged iterations after its last checkpoint; a run resumed at
    ``start_iter`` trains them again: drop them from metrics.json, and let TensorBoard hide them
    (purge_step; the writer creates its file on the first write). Main process only."""
    if start_iter <= 0 or not comm.is_main_process():
        return
    drop_events_from(os.path.join(output_dir, "metrics.json"), start_iter)
    for writer in writers:
        if isinstance(writer, TensorboardXWriter):
            writer._writer_args["purge_step"] = start_iter


def drop_events_from(metrics_file: str, iteration: int) -> None:
    """Truncate detectron2's metrics.json (one json record per line) before the first record
    of ``iteration`` or later, or before a partly written last line. In place, because the
    trainer's JSONWriter already holds the file open for appending."""
    if not os.path.isfile(metrics_file):
        return
    offset = 0
    with open(metrics_file, "rb") as f:
        for line in f:
            try:
                if not line.endswith(b"\n") or json.loads(line)["iteration"] >= iteration:
                    break
            except (ValueError, KeyError, TypeError):
                break
            offset += len(line)
        else:
            return
    os.truncate(metrics_file, offset)
