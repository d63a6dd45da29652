"""check_evaluation_setup: what the evaluation after training needs is refused before training,
one mistake at a time, each naming its key; train_net.py refuses before it writes anything."""
import os

import pytest
import torch

from trackrcnn_d2.engine.config_contract import check_evaluation_setup
from trackrcnn_d2.engine.train_net import run
from trackrcnn_d2.utils.cli import ConfigError, load_config

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KITTI = os.path.join(REPO, "configs", "kitti_mots_r101.yaml")
MOTS_CHALLENGE = os.path.join(REPO, "configs", "mots_challenge_r101.yaml")
COCO = os.path.join(REPO, "configs", "coco_mask_rcnn_R_50_FPN_maskprop.yaml")
ONE_CLASS = ["DATASETS.MOTS.CLASSES", "['pedestrian']", "MODEL.ROI_HEADS.NUM_CLASSES", "1"]


@pytest.mark.parametrize("config", [KITTI, MOTS_CHALLENGE, COCO])
def test_shipped_configs_pass(config):
    check_evaluation_setup(load_config(config))


@pytest.mark.parametrize(
    "config, opts, message",
    [
        # The scenario: one class, the two values of the defaults.
        (KITTI, ONE_CLASS, "TRACKER_HEADS.DETECTION_CONFIDENCE has 2 values but there are 1"),
        (KITTI, [*ONE_CLASS, "TRACKER_HEADS.DETECTION_CONFIDENCE", "[0.9]"],
         "TRACKER_HEADS.MASKPROP_THRESHOLD has 2 values"),
        (MOTS_CHALLENGE, ["TRACKER_HEADS.KEEP_ALIVE", "[4, 6]"], "TRACKER_HEADS.KEEP_ALIVE has 2"),
        (KITTI, ["DATASETS.MOTS.CLASSES", "['truck']"], "DATASETS.MOTS.CLASSES: Unknown MOTS"),
        (KITTI, ["MODEL.ROI_HEADS.NUM_CLASSES", "3"], "MODEL.ROI_HEADS.NUM_CLASSES is 3 but"),
        (KITTI, ["TRACKER_HEADS.ASSOCIATION", "hungarian"], "TRACKER_HEADS: Unknown association"),
        (KITTI, ["TRACKER_HEADS.DISJOINT", "top"], "TRACKER_HEADS: Unknown disjoint"),
        (KITTI, ["TRACKER_HEADS.FLOW", "pwc"], "TRACKER_HEADS.FLOW: Unknown optical flow"),
        (KITTI, ["TEST.PRECISION", "fp16"], "TEST.PRECISION must be one of"),
        (KITTI, ["DATASETS.TEST", "('coco_2017_val',)"], "DATASETS.TEST: Dataset 'coco_2017_val'"),
        # A car model on MOTSChallenge, which annotates pedestrians only.
        (MOTS_CHALLENGE, ["DATASETS.MOTS.CLASSES", "['car']"],
         "'mots_challenge_val_0002' annotates ['pedestrian'], none of DATASETS.MOTS.CLASSES"),
        (COCO, ["DATASETS.MOTS.CLASS_MAP", "[['person', 'cyclist']]"], "CLASS_MAP: 'cyclist'"),
    ],
)  # fmt: skip
def test_mistakes_are_named_by_their_key(config, opts, message):
    with pytest.raises(ConfigError) as error:
        check_evaluation_setup(load_config(config, opts))
    assert message in str(error.value)


def test_a_config_built_without_load_config_has_its_values_checked_too():
    cfg = load_config(KITTI).clone()
    cfg.defrost()
    cfg.TEST.CLIP_CHUNK = -5  # as a script that builds its config itself may set it
    with pytest.raises(ConfigError, match="TEST.CLIP_CHUNK must be a whole number >= 0, got -5"):
        check_evaluation_setup(cfg)


def test_a_class_missing_from_the_test_set_is_allowed_when_another_is_annotated():
    # KITTI's two classes evaluated on MOTSChallenge: pedestrians only (the loader warns).
    check_evaluation_setup(load_config(KITTI, ["DATASETS.TEST", "('mots_challenge_val_0002',)"]))


def test_raft_without_its_weights_is_refused_before_training(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    with pytest.raises(FileNotFoundError, match="RAFT small weights not found"):
        check_evaluation_setup(load_config(KITTI, ["TRACKER_HEADS.FLOW", "raft_small"]))
    # Without flow in the mechanism the weights are not needed.
    opts = ["TRACKER_HEADS.FLOW", "raft_small", "TRACKER_HEADS.ASSOCIATION", "assoc"]
    check_evaluation_setup(load_config(KITTI, opts))


def test_a_model_without_association_head_is_refused_for_mechanisms_that_need_one():
    cfg = load_config(COCO, ["TRACKER_HEADS.ASSOCIATION", "maskprop_assoc"])
    model = torch.nn.Sequential(torch.nn.Linear(2, 2))
    with pytest.raises(ConfigError, match="has no association head"):
        check_evaluation_setup(cfg, model)
    check_evaluation_setup(load_config(COCO), model)


def test_train_net_refuses_before_anything_is_written(tmp_path, capsys):
    """The issue's scenario: the MOTSChallenge config trained 11,320 iterations and then failed
    at its final evaluation. Now the command ends at once, one line, status 2."""
    import train_net

    output = tmp_path / "out"
    argv = ["--config-file", KITTI, *ONE_CLASS, "OUTPUT_DIR", str(output), "DATASETS.TRAIN", "()"]
    argv += ["DATASETS.TEST", "()", "MODEL.DEVICE", "cpu"]
    with pytest.raises(SystemExit) as exit_info:
        run(train_net.parse_args(argv))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "train_net.py: error: TRACKER_HEADS.DETECTION_CONFIDENCE has 2 values" in err
    assert not output.exists()
