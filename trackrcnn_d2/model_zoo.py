"""The shipped configs by name, from any working directory (like ``detectron2.model_zoo``).

    cfg.merge_from_file(trackrcnn_d2.model_zoo.get_config_file("kitti_mots_r101.yaml"))

Names are paths relative to the repository's ``configs/`` folder ("kitti_mots_r101.yaml",
"ablations/temporal_none.yaml"; the LazyConfigs "kitti_mots_R_50_FPN_LSJ.py", ...). A normal
install (``pip install .``) ships that folder as the package data ``trackrcnn_d2/configs``
(``setup.py`` copies it at build time); an editable install or a source checkout reads it where
it is, beside the package. Imports neither torch nor detectron2.
"""
import os
from typing import List

__all__ = ["get_config_file", "list_config_files"]

# yaml configs and LazyConfigs (Python), as detectron2's model zoo has them.
CONFIG_EXTENSIONS = (".yaml", ".py")
_PACKAGE = os.path.dirname(os.path.abspath(__file__))
# The installed copy first: beside an installed package, "../configs" is site-packages/configs,
# which may belong to someone else.
_CONFIG_ROOTS = (
    os.path.join(_PACKAGE, "configs"),
    os.path.join(os.path.dirname(_PACKAGE), "configs"),
)


def _config_root() -> str:
    for root in _CONFIG_ROOTS:
        if os.path.isfile(os.path.join(root, "Base-TrackRCNN.yaml")):
            return root
    raise FileNotFoundError(
        f"trackrcnn_d2's configs are in none of {list(_CONFIG_ROOTS)}: reinstall the package "
        "(`pip install .` ships them) or run from a checkout of the repository"
    )


def list_config_files() -> List[str]:
    """Names of every shipped config, sorted ("Base-TrackRCNN.yaml", "ablations/...", ...)."""
    root = _config_root()
    names = []
    for folder, _, files in os.walk(root):
        relative = os.path.relpath(folder, root)
        names += [
            os.path.normpath(os.path.join(relative, f)).replace(os.sep, "/")
            for f in files
            if f.endswith(CONFIG_EXTENSIONS)
        ]
    return sorted(names)


def get_config_file(name: str) -> str:
    """Absolute path of the shipped config ``name`` (relative to ``configs/``, e.g.
    "kitti_mots_r101.yaml"); its ``_BASE_`` files (a LazyConfig's relative imports) resolve
    beside it."""
    path = os.path.join(_config_root(), *name.split("/"))
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"{name!r} is not a trackrcnn_d2 config; the shipped ones are: "
            + ", ".join(list_config_files())
        )
    return path
