"""The COCO Mask R-CNN + maskprop configs: they load from any working directory, their model is
detectron2's model-zoo COCO Mask R-CNN key for key, and their class map keeps person and car."""
import os
import warnings

import pytest

from trackrcnn_d2.tracking.class_map import class_map_from_config
from trackrcnn_d2.utils.cli import load_config

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ZOO = {
    "R_50": ("mask_rcnn_R_50_FPN_3x", "137849600/model_final_f10217.pkl"),
    "R_101": ("mask_rcnn_R_101_FPN_3x", "138205316/model_final_a3ec72.pkl"),
}


def _config_path(depth):
    return os.path.join(REPO, "configs", f"coco_mask_rcnn_{depth}_FPN_maskprop.yaml")


def _zoo_config(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # model_zoo imports the deprecated pkg_resources
        from detectron2 import model_zoo

        return model_zoo.get_config(f"COCO-InstanceSegmentation/{name}.yaml", trained=True)


@pytest.mark.parametrize("depth", sorted(ZOO))
def test_config_loads_from_any_directory_with_the_zoo_checkpoint(depth, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # _BASE_ of the R_101 file is relative to the configs folder
    cfg = load_config(_config_path(depth))
    name, checkpoint = ZOO[depth]
    assert cfg.MODEL.WEIGHTS == f"detectron2://COCO-InstanceSegmentation/{name}/{checkpoint}"
    assert cfg.MODEL.META_ARCHITECTURE == "GeneralizedRCNN"
    assert cfg.MODEL.ROI_HEADS.NUM_CLASSES == 80
    assert cfg.TRACKER_HEADS.ASSOCIATION == "maskprop"
    assert cfg.DATASETS.MOTS.CLASSES == ["car", "pedestrian"]


def _flat(node, prefix=""):
    """{"MODEL.RPN.IN_FEATURES": value, ...} of a config node."""
    items = {}
    for key, value in node.items():
        if isinstance(value, dict):
            items.update(_flat(value, f"{prefix}{key}."))
        else:
            items[f"{prefix}{key}"] = value
    return items


@pytest.mark.parametrize("depth", sorted(ZOO))
def test_model_and_test_input_keys_are_the_zoo_models(depth):
    ours = _flat(load_config(_config_path(depth)))
    name, checkpoint = ZOO[depth]
    zoo = _flat(_zoo_config(name))
    assert zoo["MODEL.WEIGHTS"].endswith(f"/{name}/{checkpoint}")
    # Every detectron2 key of the trained model (TrackR-CNN's keys are not in the zoo's);
    # ours keeps only confident detections and runs wherever MODEL.DEVICE says.
    differing = {
        key
        for key in zoo
        if key.startswith("MODEL.") and zoo[key] != ours[key]
    }
    assert differing == {"MODEL.WEIGHTS", "MODEL.ROI_HEADS.SCORE_THRESH_TEST"}
    for key in ("MIN_SIZE_TEST", "MAX_SIZE_TEST", "FORMAT"):
        assert zoo[f"INPUT.{key}"] == ours[f"INPUT.{key}"], key


def test_class_map_keeps_person_as_pedestrian_and_car():
    cfg = load_config(_config_path("R_50"))
    table = class_map_from_config(cfg)
    assert len(table) == 80
    # COCO's contiguous ids (detectron2's thing_classes): 0 person, 1 bicycle, 2 car, 7 truck.
    pedestrian = cfg.DATASETS.MOTS.CLASSES.index("pedestrian")
    car = cfg.DATASETS.MOTS.CLASSES.index("car")
    assert table[0] == pedestrian and table[2] == car
    assert (table >= 0).sum() == 2
    assert table[1] == table[7] == -1


def test_train_net_eval_only_refuses_association_before_loading_weights(tmp_path, capsys):
    """A plain Mask R-CNN asked for association vectors stops before its weights are loaded
    (here a URL that would fail to download) and before any frame is evaluated."""
    import uuid

    import train_net
    from trackrcnn_d2.data import register_synthetic_mots
    from trackrcnn_d2.data.synthetic import generate_synthetic_mots
    from trackrcnn_d2.engine.train_net import run

    root = str(tmp_path / "synthetic_mots")
    generate_synthetic_mots(root, sequences=4, frames=2, height=64, width=128, seed=0)
    prefix = f"coco_eval_{uuid.uuid4().hex[:6]}"
    register_synthetic_mots(prefix, root)
    args = train_net.parse_args(
        ["--config-file", _config_path("R_50"), "--eval-only",
         "MODEL.WEIGHTS", "https://example.invalid/model_final.pkl", "MODEL.DEVICE", "cpu",
         "DATASETS.TEST", f"('{prefix}_val',)", "OUTPUT_DIR", str(tmp_path / "out"),
         "TRACKER_HEADS.ASSOCIATION", "maskprop_assoc"]
    )  # fmt: skip
    with pytest.raises(SystemExit) as stopped:
        run(args)
    assert stopped.value.code == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert len(errors) == 1 and "TRACKER_HEADS.ASSOCIATION 'maskprop_assoc'" in errors[0]
