"""detectron2's checkpointer for TrackR-CNN runs.

Saving is atomic: each file is written beside its target, flushed to the disk and renamed, and
``last_checkpoint`` names it only afterwards, so that a kill at any moment leaves the previous
checkpoint loadable and ``--resume`` continues from it. A failed write (no space left, a
read-only folder) is a :class:`~trackrcnn_d2.utils.cli.CheckpointError` naming the file, with
nothing half-written left behind.

Loading names the file in every failure (a missing, truncated or foreign checkpoint) instead of
detectron2's ``AssertionError`` or torch's unpickling advice, and comes in two kinds:
``load(path)`` is detectron2's lenient loading for fine-tuning (tensors that the file lacks or
has in another shape keep their initialisation; one log line sums them up), ``load(path,
strict=True)`` is for inference and resumption, where such tensors would silently give
garbage: they are a :class:`CheckpointError`.
"""
import logging
import os
import urllib.error
from collections import Counter
from typing import Iterable, List, Optional, Tuple

import torch
from detectron2.checkpoint import DetectionCheckpointer

# detectron2's own filter for its "not found in the checkpoint" warning: a parameter shared
# under two names counts as loaded when one of them was.
from fvcore.common.checkpoint import _filter_reused_missing_keys

from trackrcnn_d2.utils.cli import CheckpointError
from trackrcnn_d2.utils.file_io import atomic_open, atomic_write_text, remove_interrupted_writes

from .class_rows import WeightsClassMap, transfer_class_rows

__all__ = ["MOTSCheckpointer"]


class MOTSCheckpointer(DetectionCheckpointer):
    """:class:`DetectionCheckpointer` (same arguments) with atomic saving, loading errors
    that name the file, and :meth:`load`'s ``strict`` for inference.

    Args:
        class_map: for fine-tuning from a checkpoint trained on other classes (a COCO Mask
            R-CNN), which of its classes initialise the rows of the model's classes in the
            classifier, box regressor and mask predictor (:class:`WeightsClassMap`,
            ``WeightsClassMap.from_config(cfg)``); None: detectron2's behaviour (those rows keep
            their initialisation).
        weights_key: the setting that names the weights, in messages ("MODEL.WEIGHTS"; a
            LazyConfig's "train.init_checkpoint").
    """

    def __init__(self, model, save_dir="", *, class_map: Optional[WeightsClassMap] = None,
                 weights_key: str = "MODEL.WEIGHTS", **kwargs):  # fmt: skip
        super().__init__(model, save_dir, **kwargs)
        self.class_map = class_map
        self.weights_key = weights_key
        self._loading: Optional[Tuple[str, bool]] = None  # (path, strict) while loading
        self._leftovers_removed = False

    # ------------------------------------------------------------------------------------ #
    # Loading
    # ------------------------------------------------------------------------------------ #
    def load(self, path: str, checkpointables: Optional[List[str]] = None, *,
             strict: bool = False):  # fmt: skip
        """detectron2's ``load``. ``strict``: every tensor of the model must be in the file with
        its shape, else :class:`CheckpointError` naming the file, how many tensors are missing
        or have other shapes, and the first of them (the model is then partly loaded: do not
        use it); an empty ``path`` is refused too. Tensors of the file that the model does not
        have are one warning. Without ``strict`` (fine-tuning), tensors that do not fit keep
        their initialisation and one line sums them up; with a ``class_map`` the rows of the
        checkpoint's classes are moved to the model's classes first."""
        if strict and not path:
            raise CheckpointError(
                f"no weights given ({self.weights_key} is empty): inference needs a trained "
                f"model, e.g. {self._setting('output/model_final.pth')}"
            )
        # URLs and detectron2:// paths are downloaded by detectron2's path manager.
        if path and "://" not in path and not os.path.isfile(path):
            random_weights = self._setting('""')
            what = "is a folder" if os.path.isdir(path) else "not found"
            raise CheckpointError(
                f"checkpoint {path} {what} ({self.weights_key}, or with --resume the file "
                "named in the output folder's last_checkpoint): give an existing .pth/.pkl file "
                f"or a URL; {random_weights} starts from random weights"
            )
        self._loading = (path, strict)
        try:
            return super().load(path, checkpointables)
        except urllib.error.URLError as e:  # a URL or detectron2:// path, downloaded first
            raise CheckpointError(
                f"cannot download {path} ({e.reason}); without internet access, download it "
                f"elsewhere and give the file as {self.weights_key}"
            ) from None
        except RuntimeError as e:  # shapes that detectron2 does not skip (e.g. BatchNorm's)
            if "Error(s) in loading state_dict" not in str(e):
                raise
            detail = next((line.strip() for line in str(e).splitlines()[1:] if line.strip()), "")
            raise CheckpointError(
                f"{path} does not fit the model of this config ({detail[:160]}); give weights "
                "trained with the same config (MODEL.* keys)"
            ) from None
        finally:
            # detectron2's load asserts that no earlier load is under way (one that raised).
            self._loading = self._parsed_url_during_load = None

    def _setting(self, value: str) -> str:
        """``MODEL.WEIGHTS value`` (yaml) or ``train.init_checkpoint=value`` (LazyConfig)."""
        separator = " " if self.weights_key.isupper() else "="
        return f"{self.weights_key}{separator}{value}"

    def resume_or_load(self, path: str, *, resume: bool = True, strict: bool = False):
        """fvcore's ``resume_or_load``: the run's last checkpoint (always strictly: it was saved
        from this model) when ``resume`` and there is one, else ``path`` (``strict`` as for
        :meth:`load`) without the other checkpointables."""
        if resume and self.has_checkpoint():
            return self.load(self.get_checkpoint_file(), strict=True)
        return self.load(path, checkpointables=[], strict=strict)

    def _load_model(self, checkpoint):
        path, strict = self._loading or ("", False)
        if self.class_map is not None and not strict:
            transferred = transfer_class_rows(self.model, checkpoint["model"], self.class_map)
            if transferred is not None:
                level, message = transferred
                self.logger.log(level, f"{path}: {message}")
        return super()._load_model(checkpoint)

    def _load_file(self, filename):
        try:
            return super()._load_file(filename)
        except Exception as e:  # whatever fails while reading a file is the file's fault
            reason = str(e).split(". ")[0].splitlines()[0][:120] if str(e) else ""
            raise CheckpointError(
                f"{filename} cannot be read as a checkpoint (truncated, corrupt or not a model "
                f"file: {type(e).__name__} {reason}). Copy or download it again."
            ) from e

    def _log_incompatible_keys(self, incompatible) -> None:
        # Instead of detectron2's warning per tensor (~150 lines for a foreign file): one line,
        # or the refusal of a strict load.
        path, strict = self._loading or ("", False)
        reshaped = incompatible.incorrect_shapes
        # fvcore leaves the reshaped tensors out of the loading: they are "missing" too.
        missing = sorted(
            set(_filter_reused_missing_keys(self.model, incompatible.missing_keys))
            - {key for key, _, _ in reshaped}
        )
        unused = sorted(incompatible.unexpected_keys)
        total = _loadable_count(self.model)
        if strict and (missing or reshaped):
            raise CheckpointError(_unfit_message(path, total, missing, reshaped, unused))
        loaded = total - len(missing) - len(reshaped)
        parts = [f"{path}: loaded {loaded} of the model's {total} tensors"]
        if missing:
            parts.append(f"not in the file: {len(missing)} ({_groups(missing)})")
        if reshaped:
            parts.append(f"other shapes: {len(reshaped)} ({_groups(k for k, _, _ in reshaped)})")
        if missing or reshaped:
            parts[-1] += ": these keep their initialisation"
        if unused:
            parts.append(f"unused tensors of the file: {len(unused)} ({_groups(unused)})")
        level = logging.WARNING if len(parts) > 1 else logging.INFO
        self.logger.log(level, "; ".join(parts))

    # ------------------------------------------------------------------------------------ #
    # Saving
    # ------------------------------------------------------------------------------------ #
    def save(self, name: str, **kwargs) -> None:
        """fvcore's ``save`` (``<save_dir>/<name>.pth``, then ``last_checkpoint``), atomic and
        on the disk before ``last_checkpoint`` names it. A failed write raises
        :class:`CheckpointError` and leaves the previous files as they were."""
        if not self.save_dir or not self.save_to_disk:
            return
        data = {"model": self.model.state_dict()}
        for key, obj in self.checkpointables.items():
            data[key] = obj.state_dict()
        data.update(kwargs)
        basename = f"{name}.pth"
        save_file = os.path.join(self.save_dir, basename)
        self._remove_leftovers()
        self.logger.info(f"Saving checkpoint to {save_file}")
        try:
            with atomic_open(save_file, "wb", fsync=True) as f:
                torch.save(data, f)
        except (OSError, RuntimeError) as e:  # torch.save reports a failed write as RuntimeError
            cause = _os_error(e)
            if cause is None:  # not the file system's: a bug
                raise
            raise self._write_error(save_file, cause) from None
        self.tag_last_checkpoint(basename)

    def tag_last_checkpoint(self, last_filename_basename: str) -> None:
        path = os.path.join(self.save_dir, "last_checkpoint")
        try:
            atomic_write_text(path, last_filename_basename, fsync=True)
        except OSError as e:
            raise self._write_error(path, e) from None

    def _write_error(self, path: str, cause: OSError) -> CheckpointError:
        last = self.get_checkpoint_file() if self.has_checkpoint() else ""
        kept = (
            f"the last complete checkpoint, {last}, is kept and --resume continues from it"
            if last and os.path.isfile(last)
            else "there is no earlier checkpoint"
        )
        return CheckpointError(
            f"cannot write the checkpoint {path}: {cause.strerror or cause}. Nothing "
            f"half-written is left; {kept}. Free space in {self.save_dir} or make it writable "
            "(or choose another OUTPUT_DIR), then run again with --resume"
        )

    def _remove_leftovers(self) -> None:
        """Remove the temporary files of saves that a kill interrupted (SIGKILL leaves them);
        once, before the first save (one training run writes an OUTPUT_DIR at a time)."""
        if not self._leftovers_removed:
            self._leftovers_removed = True
            remove_interrupted_writes(self.save_dir)  # the output policy's temporaries


def _loadable_count(model: torch.nn.Module) -> int:
    """The tensors of the model that a checkpoint must give: its state dict but BatchNorm's
    batch counters (torch fills in a missing one) and detectron2's pixel_mean/pixel_std (set
    from the config)."""
    return sum(
        1
        for key in model.state_dict()
        if not key.endswith("num_batches_tracked") and key not in ("pixel_mean", "pixel_std")
    )


def _os_error(error: BaseException) -> Optional[OSError]:
    """The OSError behind ``error`` (itself, or what it was raised from or during)."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, OSError):
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None


def _groups(keys: Iterable[str], shown: int = 4) -> str:
    """``roi_heads.association_head.* 26, backbone.temporal_layers.* 4`` for tensor names: counts
    per module (the names' first two parts, without the tensor's own name), most first."""
    keys = list(keys)
    counts = Counter(".".join(key.split(".")[: min(2, key.count("."))]) or key for key in keys)
    text = ", ".join(
        f"{module}{'.*' if module not in keys else ''} {count}"
        for module, count in counts.most_common(shown)
    )
    return text + (", ..." if len(counts) > shown else "")


def _unfit_message(path: str, total: int, missing: List[str], reshaped, unused: List[str]) -> str:
    parts = []
    if missing:
        first = ", ".join(missing[:3])
        parts.append(f"{len(missing)} of the model's {total} tensors are not in it ({first}"
                     f"{', ...' if len(missing) > 3 else ''})")  # fmt: skip
    if reshaped:
        first = "; ".join(
            f"{key} {tuple(in_file)} in the file, {tuple(in_model)} in the model"
            for key, in_file, in_model in reshaped[:2]
        )
        parts.append(f"{len(reshaped)} have other shapes ({first}"
                     f"{'; ...' if len(reshaped) > 2 else ''})")  # fmt: skip
    if missing and unused:  # names that say which model the file is of
        parts[-1] += (f"; the file has {len(unused)} tensors that the model does not "
                      f"({', '.join(unused[:2])}{', ...' if len(unused) > 2 else ''})")  # fmt: skip
    return (
        f"{path} does not fit the model of this config: {' and '.join(parts)}. Give the weights "
        "trained with this config, or the config they were trained with (its MODEL.* keys)"
    )
