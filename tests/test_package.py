"""The package contract: light imports, registration, config keys."""
import subprocess
import sys


def _run(code):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)


def test_pure_python_modules_do_not_import_torch():
    out = _run(
        "import sys, trackrcnn_d2, trackrcnn_d2.data.mots_io, trackrcnn_d2.evaluation\n"
        "import trackrcnn_d2.tuning, trackrcnn_d2.engine.arguments\n"
        "import trackrcnn_d2.utils.upstream_warnings\n"
        "print('torch' in sys.modules, 'detectron2' in sys.modules)"
    )
    assert out.stdout.split() == ["False", "False"]


REGISTERED = (
    "from detectron2.modeling import BACKBONE_REGISTRY, META_ARCH_REGISTRY\n"
    "from detectron2.modeling import ROI_HEADS_REGISTRY\n"
    "from detectron2.tracking import TRACKER_HEADS_REGISTRY\n"
    "from detectron2.data import DatasetCatalog\n"
    "print('TrackRCNN' in META_ARCH_REGISTRY,\n"
    "      'build_temporal_backbone' in BACKBONE_REGISTRY,\n"
    "      'TrackStandardROIHeads' in ROI_HEADS_REGISTRY,\n"
    "      'TrackRes5ROIHeads' in ROI_HEADS_REGISTRY,\n"
    "      'TrackRCNNTracker' in TRACKER_HEADS_REGISTRY,\n"
    "      'kitti_mots_val' in DatasetCatalog.list())\n"
)


def test_register_all_registers_every_component():
    out = _run("import trackrcnn_d2\ntrackrcnn_d2.register_all()\n" + REGISTERED)
    assert out.stdout.split() == ["True"] * 6


def test_import_modeling_registers_the_model_components():
    out = _run("import trackrcnn_d2.modeling\n" + REGISTERED)
    assert out.stdout.split() == ["True"] * 4 + ["False", "False"]


def test_importing_detectron2_registers_nothing_by_itself():
    """No import hook: importing trackrcnn_d2, then detectron2, pulls in none of our components."""
    out = _run(
        "import sys, trackrcnn_d2\n" + REGISTERED + "print('trackrcnn_d2.modeling' in sys.modules)"
    )
    assert out.stdout.split() == ["False"] * 7


def test_register_all_explains_a_missing_detectron2():
    """With detectron2 made unimportable, register_all names it and says how to install it."""
    out = _run(
        "import sys\nsys.modules['detectron2'] = None\nimport trackrcnn_d2\n"
        "try:\n    trackrcnn_d2.register_all()\n"
        "except trackrcnn_d2.MissingDependencyError as e:\n    print(e)\n"
    )
    assert "needs detectron2" in out.stdout and "make install" in out.stdout


def test_config_defaults_are_the_papers():
    from detectron2.config import get_cfg

    from trackrcnn_d2 import add_trackrcnn_config

    cfg = get_cfg()
    add_trackrcnn_config(cfg)
    assert cfg.INPUT.CLIP_LENGTH == 8
    assert cfg.MODEL.TEMPORAL.TYPE == "conv3d"
    assert cfg.MODEL.TEMPORAL.NUM_LAYERS == 1
    assert cfg.MODEL.ASSOCIATION_HEAD.EMBEDDING_DIM == 128
    assert cfg.MODEL.ASSOCIATION_HEAD.MARGIN == 0.2
    assert cfg.MODEL.ASSOCIATION_HEAD.LOSS == "batch_hard"
    assert list(cfg.DATASETS.MOTS.CLASSES) == ["car", "pedestrian"]


def test_every_config_key_has_a_comment():
    """add_trackrcnn_config documents each key on the line above it."""
    import inspect

    from trackrcnn_d2 import config

    lines = inspect.getsource(config.add_trackrcnn_config).splitlines()
    for previous, line in zip(lines, lines[1:]):
        stripped = line.strip()
        if stripped.startswith("_C.") and "= CN()" not in stripped and "=" in stripped:
            assert previous.strip().startswith("#"), f"config key without a comment: {stripped}"
