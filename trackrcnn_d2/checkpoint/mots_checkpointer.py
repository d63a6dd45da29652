"""detectron2's checkpointer with messages that name the file: a missing, truncated or foreign
checkpoint raises :class:`~trackrcnn_d2.utils.cli.CheckpointError` (a user error) instead of
detectron2's ``AssertionError: Checkpoint ... not found!`` or torch's unpickling advice."""
import os
import urllib.error

from detectron2.checkpoint import DetectionCheckpointer

from trackrcnn_d2.utils.cli import CheckpointError

__all__ = ["MOTSCheckpointer"]


class MOTSCheckpointer(DetectionCheckpointer):
    """:class:`DetectionCheckpointer` (same arguments) raising :class:`CheckpointError`."""

    def load(self, path, *args, **kwargs):
        # URLs and detectron2:// paths are downloaded by detectron2's path manager.
        if path and "://" not in path and not os.path.isfile(path):
            raise CheckpointError(
                f"checkpoint {path} not found (MODEL.WEIGHTS, or with --resume the file named in "
                "OUTPUT_DIR/last_checkpoint): give an existing .pth/.pkl file or a URL; "
                'MODEL.WEIGHTS "" starts from random weights'
            )
        try:
            return super().load(path, *args, **kwargs)
        except urllib.error.URLError as e:  # a URL or detectron2:// path, downloaded first
            raise CheckpointError(
                f"cannot download {path} ({e.reason}); without internet access, download it "
                "elsewhere and give the file as MODEL.WEIGHTS"
            ) from None
        except RuntimeError as e:  # shapes that detectron2 does not skip (e.g. BatchNorm's)
            if "Error(s) in loading state_dict" not in str(e):
                raise
            detail = next((line.strip() for line in str(e).splitlines()[1:] if line.strip()), "")
            raise CheckpointError(
                f"{path} does not fit the model of this config ({detail[:160]}); give weights "
                "trained with the same config (MODEL.* keys)"
            ) from None

    def _load_file(self, filename):
        try:
            return super()._load_file(filename)
        except Exception as e:  # whatever fails while reading a file is the file's fault
            reason = str(e).split(". ")[0].splitlines()[0][:120] if str(e) else ""
            raise CheckpointError(
                f"{filename} cannot be read as a checkpoint (truncated, corrupt or not a model "
                f"file: {type(e).__name__} {reason}). Copy or download it again."
            ) from e
