"""TrackR-CNN (Voigtlaender et al., CVPR 2019) as a Detectron2 extension.

Importing ``trackrcnn_d2`` registers its components in detectron2's registries and catalogs:
the ``TemporalBackbone`` backbone, the ``TrackStandardROIHeads``/``TrackRes5ROIHeads`` ROI heads,
the ``TrackRCNN`` meta-architecture, the ``TrackRCNNTracker`` tracker head and the built-in
KITTI MOTS / MOTSChallenge datasets.

The pure-Python parts (``trackrcnn_d2.data.mots_io``, ``trackrcnn_d2.evaluation.metrics`` and
``python -m trackrcnn_d2.evaluation``) import neither torch nor detectron2, so that they start
fast. Registration therefore happens when detectron2 is in use: at once if detectron2 is already
imported, otherwise the moment it is first imported.
"""
import importlib
import importlib.abc
import importlib.util
import sys

__version__ = "0.1.0"

_COMPONENT_MODULES = (
    "trackrcnn_d2.config",
    "trackrcnn_d2.data.builtin",
    "trackrcnn_d2.modeling",
    "trackrcnn_d2.tracking.tracker_head",
    "trackrcnn_d2.evaluation.mots_evaluator",
)
_LAZY_ATTRIBUTES = {
    "add_trackrcnn_config": "trackrcnn_d2.config",
}


def register_all():
    """Import every module that registers a component. Idempotent."""
    try:
        for name in _COMPONENT_MODULES:
            importlib.import_module(name)
    except ImportError as e:
        if e.name and e.name.split(".")[0] in ("detectron2", "torch"):
            raise ImportError(
                f"trackrcnn_d2 needs {e.name.split('.')[0]}, which is not installed. Run "
                "`make install` (it creates .venv with torch and detectron2), or see the README "
                "section 'Installing detectron2' for an official source build."
            ) from e
        raise


class _RegisterAfterDetectron2Import(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Meta-path hook: lets detectron2 import normally, then registers our components."""

    def find_spec(self, fullname, path, target=None):
        if fullname != "detectron2":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is not None:
            self._loader = spec.loader
            spec.loader = self
        return spec

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        sys.modules[module.__name__] = module
        register_all()


def __getattr__(name):
    if name in _LAZY_ATTRIBUTES:
        return getattr(importlib.import_module(_LAZY_ATTRIBUTES[name]), name)
    raise AttributeError(f"module 'trackrcnn_d2' has no attribute {name!r}")


if "detectron2" in sys.modules:
    register_all()
else:
    sys.meta_path.insert(0, _RegisterAfterDetectron2Import())
