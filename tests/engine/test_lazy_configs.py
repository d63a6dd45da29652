"""detectron2's LazyConfig: every component builds with LazyCall from explicit arguments (no
config read inside), the shipped LazyConfigs instantiate as shipped, the R50-FPN LazyConfig and
its yaml twin build the same network, and overrides that cannot apply are named.

(tests/test_every_config.py runs each shipped LazyConfig through train_net.py at reduced size.)
"""
import os
import uuid

import detectron2.data.transforms as T
import numpy as np
import pytest
import torch
from detectron2 import model_zoo as detectron2_zoo
from detectron2.config import LazyCall as L
from detectron2.config import instantiate
from detectron2.data import MetadataCatalog
from detectron2.evaluation import inference_on_dataset
from detectron2.modeling import GeneralizedRCNN, build_model
from detectron2.tracking import BaseTracker
from detectron2.utils.events import EventStorage
from fvcore.common.param_scheduler import ParamScheduler
from helpers.lazy_cases import narrow_model

from trackrcnn_d2.checkpoint import WeightsClassMap
from trackrcnn_d2.data import register_synthetic_mots
from trackrcnn_d2.data.build import (
    build_mots_test_loader,
    build_mots_train_loader,
    get_mots_dataset_dicts,
)
from trackrcnn_d2.data.dataset_mapper import MOTSClipDatasetMapper, MOTSTestDatasetMapper
from trackrcnn_d2.data.synthetic import generate_synthetic_mots
from trackrcnn_d2.engine import VideoTrackingPredictor
from trackrcnn_d2.engine.lazy_config import load_lazy_config
from trackrcnn_d2.evaluation import MOTSEvaluator
from trackrcnn_d2.modeling import (
    AssociationHead,
    IgnoreRegionRPN,
    TemporalBackbone,
    TrackRCNN,
    TrackRes5ROIHeads,
    TrackStandardROIHeads,
)
from trackrcnn_d2.modeling.backbone.temporal_backbone import build_temporal_layer_stacks
from trackrcnn_d2.tracking import TrackerParams
from trackrcnn_d2.tracking.tracker_head import TrackRCNNTracker
from trackrcnn_d2.utils.cli import ConfigError, load_config

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIG_DIR = os.path.join(REPO, "configs")
LAZY_CONFIGS = sorted(
    os.path.relpath(os.path.join(folder, name), CONFIG_DIR)
    for folder, _, names in os.walk(CONFIG_DIR)
    for name in names
    if name.endswith(".py")
)
# The detectron2 zoo file each shipped LazyConfig is built on, whose trained weights it names.
ZOO_BASES = {
    "kitti_mots_R_50_FPN_LSJ.py": "new_baselines/mask_rcnn_R_50_FPN_400ep_LSJ.py",
    "coco_mask_rcnn_R_101_FPN_400ep_LSJ_maskprop.py": (
        "new_baselines/mask_rcnn_R_101_FPN_400ep_LSJ.py"
    ),
}


@pytest.fixture(scope="module")
def tiny_set(tmp_path_factory):
    """Prefix of a registered synthetic set: one train and one val sequence of 8 frames (the
    shipped configs' clip length)."""
    root = str(tmp_path_factory.mktemp("lazy_synthetic") / "set")
    generate_synthetic_mots(root, 2, 8, 64, 128, seed=3)
    prefix = f"lazy_configs_{uuid.uuid4().hex[:6]}"
    register_synthetic_mots(prefix, root)
    return prefix


def _track_rcnn(features):
    """A tiny TrackR-CNN from LazyCall nodes alone: detectron2's own Mask R-CNN model file
    (FPN or C4), its targets replaced by TrackR-CNN's components, each given all it needs as
    an argument."""
    name = {"fpn": "common/models/mask_rcnn_fpn.py", "c4": "common/models/mask_rcnn_c4.py"}
    model = detectron2_zoo.get_config(name[features]).model
    for norm_owner in (model.backbone.get("bottom_up", model.backbone),):
        norm_owner.stem.norm = norm_owner.stages.norm = "BN"
    narrow_model(model)
    model._target_ = TrackRCNN
    model.clip_length = 2
    channels = {"fpn": {"p3": 32, "p4": 32}, "c4": {"res4": 128}}[features]
    model.backbone = L(TemporalBackbone)(
        frame_backbone=model.backbone,
        temporal_layers=L(build_temporal_layer_stacks)(
            layer_type="conv3d", num_layers=1, feature_channels=channels, conv3d_relu=False
        ),
    )
    model.proposal_generator._target_ = IgnoreRegionRPN
    model.proposal_generator.ignore_region_overlap = 0.7
    heads = model.roi_heads
    heads._target_ = TrackStandardROIHeads if features == "fpn" else TrackRes5ROIHeads
    heads.num_classes = 2
    heads.association_head = L(AssociationHead)(
        in_channels=64 if features == "fpn" else "${..res5.out_channels}",
        embedding_dim=8,
        clip_length="${...clip_length}",
    )
    return model


@pytest.mark.parametrize("features", ["fpn", "c4"])
def test_every_component_builds_from_explicit_arguments(features, tiny_set, tmp_path):
    """TrackR-CNN, its temporal backbone and layers, ROI heads, association head and RPN, the
    MOTS loaders, MOTSEvaluator and the tracker, each a LazyCall without a config: the model
    trains on a clip and is evaluated, and the tracker and the video predictor track."""
    classes = ["car", "pedestrian"]
    model = instantiate(_track_rcnn(features))
    assert isinstance(model, TrackRCNN) and isinstance(model.backbone, TemporalBackbone)
    assert isinstance(model.proposal_generator, IgnoreRegionRPN)
    assert isinstance(model.roi_heads.association_head, AssociationHead)
    assert model.backbone.temporal_lookahead == 1

    resize = L(T.ResizeShortestEdge)(short_edge_length=64, max_size=128)
    train_loader = instantiate(
        L(build_mots_train_loader)(
            dataset=L(get_mots_dataset_dicts)(names=f"{tiny_set}_train", classes=classes),
            mapper=L(MOTSClipDatasetMapper)(
                augmentations=[resize], image_format="BGR", ignore_masks=True
            ),
            clip_length=2,
            total_batch_size=2,
            seed=0,
        )
    )
    clip = next(iter(train_loader))
    assert len(clip) == 2 and clip[0]["sequence"] == clip[1]["sequence"]
    model.train()
    with EventStorage():
        losses = model(clip)
    assert {"loss_assoc", "loss_mask", "loss_rpn_cls"} <= set(losses)
    assert all(torch.isfinite(value) for value in losses.values())

    params = instantiate(L(TrackerParams)(class_names=classes, association="maskprop"))
    mapper = L(MOTSTestDatasetMapper)(augmentations=[resize], image_format="BGR")
    test_loader = instantiate(
        L(build_mots_test_loader)(
            dataset=L(get_mots_dataset_dicts)(names=f"{tiny_set}_val", classes=classes),
            mapper=mapper,
            lookahead=1,
        )
    )
    evaluator = instantiate(
        L(MOTSEvaluator)(
            dataset_name=f"{tiny_set}_val",
            tracker_params=params,
            output_dir=str(tmp_path / "evaluation"),
            flow="none",
            distributed=False,
        )
    )
    model.eval()
    results = inference_on_dataset(model, test_loader, evaluator)
    assert set(results["mots"]) >= {"sMOTSA/car", "HOTA/pedestrian"}
    (sequence,) = MetadataCatalog.get(f"{tiny_set}_val").sequences
    assert (tmp_path / "evaluation" / f"{sequence}.txt").is_file()

    # The tracker of detectron2's tracking API, and the video predictor, on the model's frames.
    tracker = instantiate(L(TrackRCNNTracker)(params=params, flow="none"))
    assert isinstance(tracker, BaseTracker)
    predictor = instantiate(
        L(VideoTrackingPredictor)(
            model=model, tracker_params=params, mapper=mapper, flow="none", precision="fp32"
        )
    )
    frames = [(i, np.full((64, 128, 3), 40 * i, np.uint8)) for i in range(3)]
    tracked = list(predictor(frames, sequence="video"))
    assert [frame_idx for frame_idx, _, _ in tracked] == [0, 1, 2]
    with torch.no_grad():
        instances = model([{**test_loader.dataset[0]}])[0]["instances"]
    assert len(tracker.update(instances.to("cpu"))) <= len(instances)


def _with_synthetic_data(cfg, prefix):
    """The shipped config with its data replaced by the synthetic set, read in this process."""
    if "clip_length" in cfg.dataloader.train:
        cfg.dataloader.train.dataset.names = f"{prefix}_train"
    cfg.dataloader.test.dataset.names = f"{prefix}_val"
    cfg.dataloader.train.num_workers = cfg.dataloader.test.num_workers = 0
    return cfg


@pytest.mark.parametrize("name", LAZY_CONFIGS)
def test_each_shipped_lazy_config_instantiates(name, tiny_set, tmp_path):
    cfg = _with_synthetic_data(load_lazy_config(os.path.join(CONFIG_DIR, name)), tiny_set)
    cfg.train.output_dir = str(tmp_path)
    model = instantiate(cfg.model)
    assert isinstance(model, GeneralizedRCNN)
    cfg.optimizer.params.model = model
    assert isinstance(instantiate(cfg.optimizer), torch.optim.Optimizer)
    assert isinstance(instantiate(cfg.lr_multiplier), ParamScheduler)
    params = instantiate(cfg.tracker.params)
    assert isinstance(params, TrackerParams)
    evaluator = instantiate(cfg.dataloader.evaluator)
    assert isinstance(evaluator, MOTSEvaluator)
    assert evaluator._output_dir == os.path.join(str(tmp_path), "inference", f"{tiny_set}_val")
    assert len(instantiate(cfg.dataloader.test).dataset) == 8
    if isinstance(model, TrackRCNN):
        assert model.roi_heads.num_classes == len(params.class_names)
        assert model.clip_length == cfg.dataloader.train.clip_length
        assert model.backbone.temporal_lookahead == cfg.dataloader.test.lookahead
        assert len(next(iter(instantiate(cfg.dataloader.train)))) == 8  # one clip of 8 frames
        class_map = instantiate(cfg.train.init_checkpoint_classes)
        assert isinstance(class_map, WeightsClassMap)
        assert [class_map.checkpoint_classes[s] for s in class_map.sources] == ["car", "person"]
    else:  # a COCO model: its classes mapped to the MOTS classes
        class_map = instantiate(cfg.tracker.class_map)
        assert len(class_map) == model.roi_heads.num_classes == 80
    if name in ZOO_BASES:  # the real zoo weights of the file it is built on
        assert cfg.train.init_checkpoint == detectron2_zoo.get_checkpoint_url(ZOO_BASES[name])


def _modules_and_shapes(model):
    modules = [(name, type(module).__name__) for name, module in model.named_modules()]
    shapes = {name: tuple(tensor.shape) for name, tensor in model.state_dict().items()}
    return modules, shapes


def test_the_r50_fpn_lazy_config_and_its_yaml_twin_build_the_same_network():
    shipped = load_lazy_config(os.path.join(CONFIG_DIR, "kitti_mots_R_50_FPN_LSJ.py"))
    lazy = instantiate(shipped.model)
    cfg = load_config(
        os.path.join(CONFIG_DIR, "kitti_mots_R_50_FPN_LSJ.yaml"),
        ["MODEL.DEVICE", "cpu", "MODEL.WEIGHTS", ""],
    )
    yaml = build_model(cfg)
    lazy_modules, lazy_shapes = _modules_and_shapes(lazy)
    yaml_modules, yaml_shapes = _modules_and_shapes(yaml)
    assert lazy_modules == yaml_modules
    assert lazy_shapes == yaml_shapes
    assert len(lazy_shapes) > 400
    assert "backbone.temporal_layers.p3.layers.0.conv.weight" in lazy_shapes
    # The same input normalisation: the zoo weights expect it.
    assert torch.equal(lazy.pixel_mean, yaml.pixel_mean)
    assert torch.equal(lazy.pixel_std, yaml.pixel_std)
    assert lazy.clip_length == yaml.clip_length == 8
    # Both start from the same zoo weights.
    yaml_cfg = load_config(os.path.join(CONFIG_DIR, "kitti_mots_R_50_FPN_LSJ.yaml"))
    assert yaml_cfg.MODEL.WEIGHTS == shipped.train.init_checkpoint


KITTI = os.path.join(CONFIG_DIR, "kitti_mots_R_50_FPN_LSJ.py")


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["train.max_iterr=2"], "train.max_iterr=2: train has no key 'max_iterr'"),
        (["trian.max_iter=2"], "the config has no key 'trian'"),
        (["model.roi_heads.num_clases=3"],
         "TrackStandardROIHeads (model.roi_heads) takes no argument 'num_clases'"),
        (["tracker.params.detection_confidnce=[0.5]"],
         "TrackerParams (tracker.params) takes no argument 'detection_confidnce'"),
        (["MODEL.DEVICE", "cpu"], "overrides of a LazyConfig are key=value"),
        (["train.max_iter=[1"], "train.max_iter=[1: "),
        (["train.output_dir.x=1"], "train.output_dir.x=1: "),
    ],
)  # fmt: skip
def test_an_override_that_cannot_apply_is_named(overrides, message):
    with pytest.raises(ConfigError) as error:
        load_lazy_config(KITTI, overrides)
    assert message in str(error.value)


def test_the_usual_overrides_apply():
    cfg = load_lazy_config(
        KITTI,
        [
            "train.max_iter=10", "train.device=cpu", "train.output_dir=/tmp/somewhere",
            "dataloader.train.dataset.names=a", "dataloader.test.dataset.names=b",
            "train.seed=3", "dataloader.train.clip_length=4",
        ],
    )  # fmt: skip
    assert (cfg.train.max_iter, cfg.train.device, cfg.train.seed) == (10, "cpu", 3)
    assert cfg.dataloader.evaluator.dataset_name == "b"
    assert cfg.dataloader.evaluator.output_dir == "/tmp/somewhere/inference/b"
    # One clip length for the loader, the model and the association loss.
    assert cfg.model.clip_length == cfg.model.roi_heads.association_head.clip_length == 4


def test_a_config_file_with_a_mistake_is_named_with_its_line(tmp_path):
    path = tmp_path / "mine.py"
    path.write_text("from detectron2 import model_zoo\n\nmodel = model_zoo.get_config('nope.py')\n")
    with pytest.raises(ConfigError, match=rf"{path}, line 3: cannot load this LazyConfig"):
        load_lazy_config(str(path))
    path.write_text("model = dict(\n")
    with pytest.raises(ConfigError, match=rf"{path}, line 1: cannot load this LazyConfig"):
        load_lazy_config(str(path))
