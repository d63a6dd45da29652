"""The package contract: light imports, registration, config keys."""
import subprocess
import sys


def _run(code):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)


def test_pure_python_modules_do_not_import_torch():
    out = _run(
        "import sys, trackrcnn_d2, trackrcnn_d2.data.mots_io\n"
        "print('torch' in sys.modules, 'detectron2' in sys.modules)"
    )
    assert out.stdout.split() == ["False", "False"]


def test_import_registers_components_whichever_is_imported_first():
    check = (
        "from detectron2.modeling import BACKBONE_REGISTRY, META_ARCH_REGISTRY\n"
        "from detectron2.modeling import ROI_HEADS_REGISTRY\n"
        "from detectron2.tracking import TRACKER_HEADS_REGISTRY\n"
        "from detectron2.data import DatasetCatalog\n"
        "assert 'TrackRCNN' in META_ARCH_REGISTRY\n"
        "assert 'build_temporal_backbone' in BACKBONE_REGISTRY\n"
        "assert 'TrackStandardROIHeads' in ROI_HEADS_REGISTRY\n"
        "assert 'TrackRes5ROIHeads' in ROI_HEADS_REGISTRY\n"
        "assert 'TrackRCNNTracker' in TRACKER_HEADS_REGISTRY\n"
        "assert 'kitti_mots_val' in DatasetCatalog.list()\n"
        "print('ok')\n"
    )
    assert _run("import trackrcnn_d2\n" + check).stdout.strip() == "ok"
    assert _run("import detectron2.config\nimport trackrcnn_d2\n" + check).stdout.strip() == "ok"


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
