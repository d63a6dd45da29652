"""MOTS data: txt/png I/O, datasets and their registration, clip sampling and mapping.

``mots_io`` and ``synthetic`` are pure python (numpy, pycocotools, PIL). Everything else needs
detectron2, so it is imported on first access to one of the names below
(``from trackrcnn_d2.data import build_mots_train_loader``). The built-in datasets are
registered by ``import trackrcnn_d2.data.builtin`` (or ``trackrcnn_d2.register_all()``).
"""
import importlib

_LAZY_ATTRIBUTES = {
    "MOTSMetadata": "builtin",
    "register_mots_dataset": "builtin",
    "register_kitti_mots": "builtin",
    "register_mots_challenge": "builtin",
    "load_mots_dataset_dicts": "datasets",
    "select_mots_classes": "datasets",
    "register_synthetic_mots": "builtin",
    "ClipTrainingSampler": "samplers",
    "SequenceInferenceSampler": "samplers",
    "MOTSClipDatasetMapper": "dataset_mapper",
    "MOTSTestDatasetMapper": "dataset_mapper",
    "build_mots_train_loader": "build",
    "build_mots_test_loader": "build",
    "get_mots_dataset_dicts": "build",
    "check_mots_datasets": "build",
}


def __getattr__(name):
    if name in _LAZY_ATTRIBUTES:
        module = importlib.import_module(f"trackrcnn_d2.data.{_LAZY_ATTRIBUTES[name]}")
        return getattr(module, name)
    raise AttributeError(f"module 'trackrcnn_d2.data' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_LAZY_ATTRIBUTES))
