"""Fine-tuning from a COCO checkpoint keeps COCO's car and person (issue 20, item 4).

The checkpoint is COCO-shaped: the model's own tensors, but random class-specific predictors of
detectron2's COCO Mask R-CNN shapes (80 classes; the classifier has 81 rows, background last;
the box regressor 4 rows per class; the mask predictor one channel per class). detectron2's
COCO contiguous ids: person 0, car 2. Both ROI heads of the shipped configs: C4 (Res5ROIHeads,
configs/kitti_mots_r101.yaml, narrowed) and FPN (StandardROIHeads, configs/demo_synthetic.yaml).
"""
import logging
import os
import pickle
import re

import pytest
import torch
from detectron2.modeling import build_model

from trackrcnn_d2.checkpoint import MOTSCheckpointer, WeightsClassMap
from trackrcnn_d2.utils.cli import ConfigError, load_config

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PERSON, CAR, COCO_CLASSES = 0, 2, 80
HEADS = {
    "c4": ("kitti_mots_r101.yaml", [
        "MODEL.RESNETS.DEPTH", "50", "MODEL.RESNETS.WIDTH_PER_GROUP", "4",
        "MODEL.RESNETS.STEM_OUT_CHANNELS", "16", "MODEL.RESNETS.RES2_OUT_CHANNELS", "32",
        "MODEL.ASSOCIATION_HEAD.EMBEDDING_DIM", "8",
    ]),
    "fpn": ("demo_synthetic.yaml", []),
}  # fmt: skip
BOX = "roi_heads.box_predictor.bbox_pred"
CLS = "roi_heads.box_predictor.cls_score"
MASK = "roi_heads.mask_head.predictor"


def _cfg(heads, *opts):
    config, narrow = HEADS[heads]
    return load_config(
        os.path.join(REPO, "configs", config),
        narrow + ["MODEL.DEVICE", "cpu", "MODEL.WEIGHTS", "", *opts],
    )


def _coco_checkpoint(model, path, agnostic=False):
    """The model's state with random COCO-shaped predictors, saved as a .pth, or for a .pkl
    path in the model zoo's format (numpy arrays with "__author__"); returns that state."""
    generator = torch.Generator().manual_seed(0)
    state = {key: value.clone() for key, value in model.state_dict().items()}
    rows = {CLS: COCO_CLASSES + 1, BOX: 4 if agnostic else 4 * COCO_CLASSES,
            MASK: 1 if agnostic else COCO_CLASSES}  # fmt: skip
    for key, value in list(state.items()):
        module = key.rsplit(".", 1)[0]
        if module in rows:
            shape = (rows[module], *value.shape[1:])
            state[key] = torch.randn(shape, generator=generator)
    if str(path).endswith(".pkl"):
        with open(path, "wb") as f:
            pickle.dump({"model": {k: v.numpy() for k, v in state.items()}, "__author__": "zoo"}, f)
    else:
        torch.save({"model": state}, path)
    return state


def _load(cfg, path, records):
    model = build_model(cfg)
    initial = {key: value.clone() for key, value in model.state_dict().items()}
    checkpointer = MOTSCheckpointer(model, class_map=WeightsClassMap.from_config(cfg))
    handler = logging.Handler(logging.INFO)
    handler.emit = records.append
    checkpointer.logger.addHandler(handler)
    old_level = checkpointer.logger.level
    checkpointer.logger.setLevel(logging.INFO)
    try:
        checkpointer.load(str(path))
    finally:
        checkpointer.logger.removeHandler(handler)
        checkpointer.logger.setLevel(old_level)
    return model.state_dict(), initial


@pytest.mark.parametrize("file_format", ["pth", "pkl"])
@pytest.mark.parametrize("heads", sorted(HEADS))
def test_class_specific_rows_come_from_cocos_car_person_and_background(
    heads, file_format, tmp_path
):
    cfg = _cfg(heads)
    assert list(cfg.DATASETS.MOTS.CLASSES) == ["car", "pedestrian"]
    path = tmp_path / f"coco.{file_format}"
    coco = _coco_checkpoint(build_model(cfg), path)
    records = []
    loaded, _ = _load(cfg, path, records)
    for name in ("weight", "bias"):
        cls, box, mask = (f"{CLS}.{name}", f"{BOX}.{name}", f"{MASK}.{name}")
        assert loaded[cls].shape[0] == 3
        assert torch.equal(loaded[cls][0], coco[cls][CAR])
        assert torch.equal(loaded[cls][1], coco[cls][PERSON])
        assert torch.equal(loaded[cls][2], coco[cls][COCO_CLASSES])  # background, last
        assert torch.equal(loaded[box][0:4], coco[box][4 * CAR : 4 * CAR + 4])
        assert torch.equal(loaded[box][4:8], coco[box][4 * PERSON : 4 * PERSON + 4])
        assert torch.equal(loaded[mask][0], coco[mask][CAR])
        assert torch.equal(loaded[mask][1], coco[mask][PERSON])
    # Every other tensor is the checkpoint's (detectron2's loading, unchanged).
    for key, value in coco.items():
        if not key.startswith((CLS, BOX, MASK)):
            assert torch.equal(loaded[key], value), key
    lines = [r.getMessage() for r in records]
    rows = [line for line in lines if "class rows" in line]
    assert len(rows) == 1
    assert rows[0].endswith("car <- car (2), pedestrian <- person (0), background <- "
                            "background (80)")  # fmt: skip
    assert all(r.levelno < logging.WARNING for r in records), lines


@pytest.mark.parametrize("heads", sorted(HEADS))
def test_class_agnostic_heads(heads, tmp_path):
    """A class-agnostic model gets the mean of COCO car's and person's rows (the one shared
    regressor and mask of the classes it trains); a class-agnostic checkpoint gives its rows to
    every class of a class-specific model."""
    agnostic = _cfg(heads, "MODEL.ROI_BOX_HEAD.CLS_AGNOSTIC_BBOX_REG", "True",
                    "MODEL.ROI_MASK_HEAD.CLS_AGNOSTIC_MASK", "True")  # fmt: skip
    path = tmp_path / "coco.pth"
    coco = _coco_checkpoint(build_model(_cfg(heads)), path)
    loaded, _ = _load(agnostic, path, [])
    for name in ("weight", "bias"):
        box, mask = f"{BOX}.{name}", f"{MASK}.{name}"
        car_box, person_box = coco[box][4 * CAR : 4 * CAR + 4], coco[box][0:4]
        torch.testing.assert_close(loaded[box], (car_box + person_box) / 2)
        torch.testing.assert_close(loaded[mask][0], (coco[mask][CAR] + coco[mask][PERSON]) / 2)
        assert torch.equal(loaded[f"{CLS}.{name}"][1], coco[f"{CLS}.{name}"][PERSON])

    agnostic_coco = _coco_checkpoint(build_model(agnostic), tmp_path / "agnostic.pth", True)
    loaded, _ = _load(_cfg(heads), tmp_path / "agnostic.pth", [])
    for name in ("weight", "bias"):
        box, mask = f"{BOX}.{name}", f"{MASK}.{name}"
        assert torch.equal(loaded[box], torch.cat([agnostic_coco[box]] * 2))
        assert torch.equal(loaded[mask], torch.cat([agnostic_coco[mask]] * 2))


def test_pedestrians_only_take_the_person_rows(tmp_path):
    """configs/mots_challenge_r101.yaml: one class; the map's car pair is skipped."""
    cfg = load_config(
        os.path.join(REPO, "configs", "mots_challenge_r101.yaml"),
        HEADS["c4"][1] + ["MODEL.DEVICE", "cpu", "MODEL.WEIGHTS", ""],
    )
    path = tmp_path / "coco.pth"
    coco = _coco_checkpoint(build_model(cfg), path)
    records = []
    loaded, _ = _load(cfg, path, records)
    weight = f"{CLS}.weight"
    assert torch.equal(loaded[weight], coco[weight][[PERSON, COCO_CLASSES]])
    assert torch.equal(loaded[f"{BOX}.weight"], coco[f"{BOX}.weight"][0:4])
    assert torch.equal(loaded[f"{MASK}.weight"], coco[f"{MASK}.weight"][[PERSON]])
    assert any(r.getMessage().endswith("pedestrian <- person (0), background <- background (80)")
               for r in records)  # fmt: skip


def test_a_checkpoint_of_other_classes_falls_back_to_detectron2_with_a_warning(tmp_path):
    """A checkpoint with 5 classes (not COCO's 80): its predictors are skipped, as detectron2
    does, and the rows keep the model's initialisation."""
    cfg = _cfg("fpn")
    model = build_model(cfg)
    state = {key: value.clone() for key, value in model.state_dict().items()}
    for module, rows in ((CLS, 6), (BOX, 20), (MASK, 5)):
        for name in ("weight", "bias"):
            key = f"{module}.{name}"
            state[key] = torch.randn(rows, *state[key].shape[1:])
    torch.save({"model": state}, tmp_path / "five.pth")
    records = []
    loaded, initial = _load(cfg, tmp_path / "five.pth", records)
    for module in (CLS, BOX, MASK):
        assert torch.equal(loaded[f"{module}.weight"], initial[f"{module}.weight"])
    warnings = [r.getMessage() for r in records if r.levelno >= logging.WARNING]
    assert any("not those of the 80 classes of coco_2017_train" in w for w in warnings), warnings


def test_an_empty_map_is_detectron2s_behaviour(tmp_path):
    cfg = _cfg("fpn", "MODEL.WEIGHTS_CLASSES.MAP", "[]")
    assert WeightsClassMap.from_config(cfg) is None
    path = tmp_path / "coco.pth"
    _coco_checkpoint(build_model(cfg), path)
    loaded, initial = _load(cfg, path, [])
    assert torch.equal(loaded[f"{CLS}.weight"], initial[f"{CLS}.weight"])


def test_the_trained_models_own_checkpoint_is_loaded_as_it_is(tmp_path):
    """Nothing to map when the predictors have the model's shapes (resuming, fine-tuning a
    MOTS model)."""
    cfg = _cfg("fpn")
    source = build_model(cfg)
    torch.save({"model": source.state_dict()}, tmp_path / "own.pth")
    records = []
    loaded, _ = _load(cfg, tmp_path / "own.pth", records)
    assert torch.equal(loaded[f"{CLS}.weight"], source.state_dict()[f"{CLS}.weight"])
    assert not any("class rows" in r.getMessage() for r in records)


@pytest.mark.parametrize(
    "value, message",
    [
        ("[['car', 'car'], ['persn', 'pedestrian']]",
         "'persn' is not one of coco_2017_train's 80 classes"),
        ("[['person', 'pedestrain']]", "'pedestrain' is not a MOTS class"),
        ("[['person', 'pedestrian'], ['bicycle', 'pedestrian']]", "'pedestrian' is mapped twice"),
        ("[['person']]", "is not a [checkpoint class, MOTS class] pair"),
    ],
)
def test_bad_maps_name_the_key(value, message):
    with pytest.raises(ConfigError, match=rf"MODEL.WEIGHTS_CLASSES.MAP: .*{re.escape(message)}"):
        WeightsClassMap.from_config(_cfg("fpn", "MODEL.WEIGHTS_CLASSES.MAP", value))
    with pytest.raises(ConfigError, match="MODEL.WEIGHTS_CLASSES.DATASET: 'nowhere'"):
        WeightsClassMap.from_config(_cfg("fpn", "MODEL.WEIGHTS_CLASSES.DATASET", "nowhere"))
