"""The config contract (DESIGN.md): every file under configs/ runs through train_net.py's own
code path at reduced size: one training iteration (two for a LazyConfig) and the evaluation
after it where the config trains, the evaluation alone (``--eval-only``) where it does not (the
COCO configs, whose DATASETS.TRAIN only names the model's classes). The yaml configs are reduced
by KEY VALUE overrides, the LazyConfigs (``.py``) by a file that loads them and narrows their
model (tests/helpers/lazy_cases.py) and by ``key=value`` overrides.

The size is reduced and the data replaced; everything else stays the config's own, the tracker
keys in particular: a narrow ResNet, 64 x 128 images, clips of two frames, a few proposals, and
a tiny synthetic set drawn with the config's classes (one per class list, generated once). The
model starts from weights whose classifier makes every proposal a confident detection of the
first class and whose mask head fills every box, so that the evaluation tracks real detections
with the config's thresholds. A new file under configs/ is covered without editing this test.
"""
import json
import os
import uuid

import pytest
import torch
from detectron2.config import instantiate
from detectron2.data import MetadataCatalog
from detectron2.modeling import build_model
from helpers.lazy_cases import make_confident, write_reduced_config

import train_net
from trackrcnn_d2.data import register_synthetic_mots
from trackrcnn_d2.data.mots_io import MOTS_CLASS_IDS
from trackrcnn_d2.data.synthetic import generate_synthetic_mots
from trackrcnn_d2.engine.config_contract import check_evaluation_setup
from trackrcnn_d2.engine.lazy_config import is_lazy_config, load_lazy_config
from trackrcnn_d2.engine.train_net import main
from trackrcnn_d2.utils.cli import load_config

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CONFIG_DIR = os.path.join(REPO, "configs")
CONFIG_FILES = sorted(
    os.path.relpath(os.path.join(folder, name), CONFIG_DIR)
    for folder, _, names in os.walk(CONFIG_DIR)
    for name in names
)
YAML_EXTENSIONS = (".yaml", ".yml")

# Reduced size: keys of every architecture (unused ones are harmless). Narrow bottleneck ResNet
# (res4: 128 channels, res5: 256), narrow FPN and heads, few proposals and detections.
REDUCED_SIZE = [
    "MODEL.DEVICE", "cpu",
    "MODEL.RESNETS.DEPTH", "50", "MODEL.RESNETS.NUM_GROUPS", "1",
    "MODEL.RESNETS.WIDTH_PER_GROUP", "8", "MODEL.RESNETS.RES2_OUT_CHANNELS", "32",
    "MODEL.RESNETS.STEM_OUT_CHANNELS", "16", "MODEL.RESNETS.RES5_DILATION", "1",
    "MODEL.FPN.OUT_CHANNELS", "32", "MODEL.ROI_BOX_HEAD.FC_DIM", "64",
    "MODEL.ROI_BOX_HEAD.CONV_DIM", "32", "MODEL.ROI_MASK_HEAD.CONV_DIM", "32",
    "MODEL.TEMPORAL.CONVLSTM_CHANNELS", "16",
    "MODEL.RPN.PRE_NMS_TOPK_TRAIN", "200", "MODEL.RPN.POST_NMS_TOPK_TRAIN", "32",
    "MODEL.RPN.PRE_NMS_TOPK_TEST", "200", "MODEL.RPN.POST_NMS_TOPK_TEST", "16",
    "MODEL.ROI_HEADS.BATCH_SIZE_PER_IMAGE", "16", "TEST.DETECTIONS_PER_IMAGE", "4",
    "INPUT.MIN_SIZE_TRAIN", "(64,)", "INPUT.MAX_SIZE_TRAIN", "128",
    "INPUT.MIN_SIZE_TEST", "64", "INPUT.MAX_SIZE_TEST", "128",
    "INPUT.CLIP_LENGTH", "2", "SOLVER.IMS_PER_BATCH", "2",
    "SOLVER.MAX_ITER", "1", "SOLVER.WARMUP_ITERS", "0", "SOLVER.STEPS", "()",
    "DATALOADER.NUM_WORKERS", "0",
]  # fmt: skip


@pytest.fixture(scope="session")
def synthetic_set(tmp_path_factory):
    """classes -> prefix of a registered tiny synthetic set drawn with these classes (one
    train and one val sequence of 4 frames, 64 x 128), generated once per class list."""
    prefixes = {}

    def prefix_for(classes):
        classes = tuple(classes)
        if classes not in prefixes:
            root = str(tmp_path_factory.mktemp("synthetic") / "set")
            generate_synthetic_mots(root, 2, 4, 64, 128, seed=5, classes=classes)
            prefixes[classes] = f"contract_{'_'.join(classes)}_{uuid.uuid4().hex[:6]}"
            register_synthetic_mots(prefixes[classes], root, class_names=classes)
        return prefixes[classes]

    return prefix_for


def _is_mots_dataset(name):
    return MetadataCatalog.get(name).get("evaluator_type") == "mots"


def _confident_weights(path, opts, target):
    """Weights of the reduced model in which every proposal is a detection of the first class
    with a score of about 1 and a mask that fills its box."""
    cfg = load_config(path, [*opts, "MODEL.WEIGHTS", ""])
    torch.save({"model": make_confident(build_model(cfg)).state_dict()}, target)
    return str(target)


def _run_train_net(argv):
    """``train_net.py ARGV`` in this process: its arguments, then its main."""
    return main(train_net.parse_args(argv))


@pytest.mark.parametrize("name", CONFIG_FILES)
def test_config_trains_and_evaluates_at_reduced_size(name, synthetic_set, tmp_path):
    path = os.path.join(CONFIG_DIR, name)
    if is_lazy_config(name):
        return _lazy_config_trains_and_evaluates(path, synthetic_set, tmp_path)
    assert name.endswith(YAML_EXTENSIONS), f"configs/{name}: not a config file (yaml or .py)"
    shipped = load_config(path)
    # The evaluation's needs, checked against the config's own (registered) datasets.
    check_evaluation_setup(shipped)
    classes = list(shipped.DATASETS.MOTS.CLASSES)
    prefix = synthetic_set(classes)
    # A training set that is not a MOTS dataset only names the model's classes.
    trains = all(_is_mots_dataset(dataset) for dataset in shipped.DATASETS.TRAIN)
    test_set = f"{prefix}_val"
    opts = [*REDUCED_SIZE, "OUTPUT_DIR", str(tmp_path / "run"), "DATASETS.TEST", f"('{test_set}',)"]
    if trains:
        opts += ["DATASETS.TRAIN", f"('{prefix}_train',)"]
    weights = _confident_weights(path, opts, tmp_path / "confident.pth")
    argv = ["--config-file", path, *([] if trains else ["--eval-only"])]
    _run_train_net([*argv, *opts, "MODEL.WEIGHTS", weights])

    _check_run(tmp_path / "run", test_set, classes, _first_class_id(shipped), trains)


def _lazy_config_trains_and_evaluates(path, synthetic_set, tmp_path):
    """A LazyConfig at reduced size (tests/lazy_cases.py: the shipped file loaded, its trunk,
    widths and sizes narrowed), its data given by detectron2's usual overrides: two training
    iterations and the evaluation after them, or ``--eval-only`` where its training set is
    not a MOTS dataset (the COCO model, whose training set only names its classes)."""
    reduced = write_reduced_config(path, tmp_path / "reduced.py")
    shipped = load_lazy_config(path)
    classes = list(shipped.tracker.params.class_names)
    prefix = synthetic_set(classes)
    train_sets = shipped.dataloader.train.dataset.names
    train_sets = [train_sets] if isinstance(train_sets, str) else list(train_sets)
    trains = all(_is_mots_dataset(dataset) for dataset in train_sets)
    test_set = f"{prefix}_val"
    opts = [
        "train.max_iter=2", "train.log_period=1", "train.device=cpu",
        f"train.output_dir={tmp_path / 'run'}",
        f"dataloader.test.dataset.names={test_set}",
    ]  # fmt: skip
    if trains:
        opts.append(f"dataloader.train.dataset.names={prefix}_train")
    model = instantiate(load_lazy_config(reduced, opts).model)
    weights = tmp_path / "confident.pth"
    torch.save({"model": make_confident(model).state_dict()}, weights)
    argv = ["--config-file", reduced, *([] if trains else ["--eval-only"])]
    _run_train_net([*argv, *opts, f"train.init_checkpoint={weights}"])

    class_map = shipped.tracker.class_map
    first = classes[0]
    if class_map is not None:
        model_classes = MetadataCatalog.get(train_sets[0]).thing_classes
        first = dict(map(tuple, class_map.pairs))[model_classes[0]]
    _check_run(tmp_path / "run", test_set, classes, MOTS_CLASS_IDS[first], trains)


def _check_run(run, test_set, classes, first_class_id, trains):
    """The evaluation's metrics and tracks (of the confident detections' class), and the
    training's log and final checkpoint."""
    inference = run / "inference" / test_set
    metrics = json.loads((inference / "mots_metrics.json").read_text())
    assert all("sMOTSA" in metrics[c] for c in classes)
    (sequence,) = MetadataCatalog.get(test_set).sequences
    tracks = (inference / f"{sequence}.txt").read_text().splitlines()
    assert tracks, "the confident detections were tracked"
    assert {int(line.split()[2]) for line in tracks} == {first_class_id}
    if trains:
        records = [json.loads(line) for line in (run / "metrics.json").read_text().splitlines()]
        assert records[0]["iteration"] == 0 and records[0]["total_loss"] >= 0
        assert (run / "model_final.pth").is_file()


def _first_class_id(cfg):
    """On-disk class id of the MOTS class of the model's class 0."""
    first = cfg.DATASETS.MOTS.CLASSES[0]
    if cfg.DATASETS.MOTS.CLASS_MAP:
        model_classes = MetadataCatalog.get(cfg.DATASETS.TRAIN[0]).thing_classes
        first = dict(map(tuple, cfg.DATASETS.MOTS.CLASS_MAP))[model_classes[0]]
    return MOTS_CLASS_IDS[first]


def test_the_contract_covers_every_kind_of_config():
    """The test above meets each shipped kind: a base, datasets, ablations, the COCO baseline
    (evaluation only) and a one-class config."""
    assert {"Base-TrackRCNN.yaml", "kitti_mots_r101.yaml", "mots_challenge_r101.yaml"} <= set(
        CONFIG_FILES
    )
    assert any(name.startswith("ablations/") for name in CONFIG_FILES)
    assert any(name.startswith("coco_") for name in CONFIG_FILES)
    # LazyConfigs: TrackR-CNN and the COCO model (evaluation only).
    assert {"kitti_mots_R_50_FPN_LSJ.py", "coco_mask_rcnn_R_101_FPN_400ep_LSJ_maskprop.py"} <= set(
        CONFIG_FILES
    )
