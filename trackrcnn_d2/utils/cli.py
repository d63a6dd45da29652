"""What train_net.py and demo.py share: the config from a file and command-line overrides."""
import os
from typing import Sequence

from detectron2.config import CfgNode, get_cfg

from trackrcnn_d2.config import add_trackrcnn_config

__all__ = ["load_config", "refuse_to_mix_runs"]


def load_config(config_file: str, opts: Sequence[str] = ()) -> CfgNode:
    """detectron2's defaults + TrackR-CNN's keys, then ``config_file``, then ``opts``
    (``KEY VALUE`` pairs); frozen. A key that does not exist stops the program with a message
    naming it (detectron2 raises KeyError or AssertionError, depending on where it is)."""
    cfg = get_cfg()
    add_trackrcnn_config(cfg)
    try:
        cfg.merge_from_file(config_file)
        cfg.merge_from_list(list(opts))
    except (KeyError, AssertionError) as e:
        message = e.args[0] if e.args else repr(e)
        raise SystemExit(
            f"Config error: {message} (in {config_file} or the command line). Valid keys are "
            "detectron2's (detectron2/config/defaults.py) and TrackR-CNN's "
            "(trackrcnn_d2/config.py)."
        ) from None
    cfg.freeze()
    return cfg


def refuse_to_mix_runs(cfg, resume):
    """Raise when training from scratch would write into the OUTPUT_DIR of an earlier run."""
    last_checkpoint = os.path.join(cfg.OUTPUT_DIR, "last_checkpoint")
    if not resume and os.path.exists(last_checkpoint):
        raise SystemExit(
            f"{cfg.OUTPUT_DIR} already holds a training run ({last_checkpoint} exists). Pass "
            "--resume to continue it, or set OUTPUT_DIR to a new folder (or delete this one) "
            "to train from scratch."
        )
