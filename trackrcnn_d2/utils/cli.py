"""What train_net.py and demo.py share: the config from a file and command-line overrides."""
from typing import Sequence

from detectron2.config import CfgNode, get_cfg

from trackrcnn_d2.config import add_trackrcnn_config

__all__ = ["load_config"]


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
