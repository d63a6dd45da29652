"""check_resume_config: a resumed run keeps the model, data and optimizer of its config.yaml;
the schedule, evaluation and execution may change. (train_net.py end to end:
tests/test_train_net.py::test_resume_with_a_changed_model_is_refused_before_anything_is_written.)
"""
import logging
import os

import pytest

from trackrcnn_d2.checkpoint import check_resume_config
from trackrcnn_d2.utils.cli import ConfigError, load_config

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIG = os.path.join(REPO, "configs", "demo_synthetic.yaml")


@pytest.fixture
def run(tmp_path):
    """An OUTPUT_DIR as detectron2 leaves it: config.yaml (its dump) and last_checkpoint."""
    cfg = load_config(CONFIG, ["OUTPUT_DIR", str(tmp_path)])
    (tmp_path / "config.yaml").write_text(cfg.dump())
    (tmp_path / "last_checkpoint").write_text("model_final.pth")
    return tmp_path


def _resume(run, *opts):
    check_resume_config(load_config(CONFIG, ["OUTPUT_DIR", str(run), *opts]))


@pytest.mark.parametrize(
    "opts",
    [
        [],
        ["SOLVER.MAX_ITER", "2000", "SOLVER.STEPS", "(1500,)", "SOLVER.CHECKPOINT_PERIOD", "100"],
        ["TEST.EVAL_PERIOD", "100", "DATASETS.TEST", "('kitti_mots_val',)"],
        ["TRACKER_HEADS.DETECTION_CONFIDENCE", "[0.5, 0.5]",
         "MODEL.ROI_HEADS.SCORE_THRESH_TEST", "0.1"],
        ["MODEL.DEVICE", "cuda", "DATALOADER.NUM_WORKERS", "4", "SEED", "3"],
        ["MODEL.WEIGHTS", "other.pth", "INPUT.MIN_SIZE_TEST", "256"],
    ],
)  # fmt: skip
def test_schedule_evaluation_and_execution_may_change(run, opts):
    _resume(run, *opts)


@pytest.mark.parametrize(
    "opts, count, named",
    [
        (["MODEL.FPN.OUT_CHANNELS", "64"], 1, "MODEL.FPN.OUT_CHANNELS (32 in the run, 64 now)"),
        (["MODEL.ROI_HEADS.NUM_CLASSES", "1", "DATASETS.MOTS.CLASSES", "['pedestrian']"], 2,
         "DATASETS.MOTS.CLASSES (['car', 'pedestrian'] in the run, ['pedestrian'] now); "
         "MODEL.ROI_HEADS.NUM_CLASSES (2 in the run, 1 now)"),
        # Restored from the checkpoint's optimizer and LR-scheduler state: would not take effect.
        (["SOLVER.BASE_LR", "0.01"], 1, "SOLVER.BASE_LR (0.001 in the run, 0.01 now)"),
        (["SOLVER.OPTIMIZER", "SGD"], 1, "SOLVER.OPTIMIZER ('ADAM' in the run, 'SGD' now)"),
        (["DATASETS.TRAIN", "('kitti_mots_train',)"], 1,
         "DATASETS.TRAIN (['synthetic_mots_train'] in the run, ['kitti_mots_train'] now)"),
        # The batch may change (e.g. more GPUs), the clip length is the data.
        (["INPUT.CLIP_LENGTH", "2", "SOLVER.IMS_PER_BATCH", "4"], 1,
         "INPUT.CLIP_LENGTH (4 in the run, 2 now)"),
    ],
)  # fmt: skip
def test_a_changed_model_data_or_optimizer_is_refused_naming_the_keys(run, opts, count, named):
    with pytest.raises(ConfigError) as refused:
        _resume(run, *opts)
    message = str(refused.value)
    assert message.startswith(
        f"--resume: {count} key(s) differ from the run's {run / 'config.yaml'}: {named}. "
    )
    assert "\n" not in message


def test_only_a_run_with_a_checkpoint_is_compared(run):
    os.remove(run / "last_checkpoint")  # nothing to resume: the run starts from MODEL.WEIGHTS
    _resume(run, "MODEL.FPN.OUT_CHANNELS", "64")


@pytest.mark.parametrize("content", [None, "", "MODEL: [unclosed\n"])
def test_without_a_readable_config_the_model_is_checked_against_the_checkpoint(
    run, caplog, content
):
    """config.yaml missing, emptied or cut: a warning, and the model of the config must fit the
    run's last checkpoint (before detectron2 would write a config.yaml of another model)."""
    from detectron2.modeling import build_model

    from trackrcnn_d2.checkpoint import MOTSCheckpointer
    from trackrcnn_d2.utils.cli import CheckpointError

    MOTSCheckpointer(build_model(load_config(CONFIG)), str(run)).save("model_final")
    if content is None:
        os.remove(run / "config.yaml")
    else:
        (run / "config.yaml").write_text(content)
    with caplog.at_level(logging.WARNING, logger="trackrcnn_d2.checkpoint.resume"):
        _resume(run, "SOLVER.MAX_ITER", "5000")
    assert f"cannot read {run / 'config.yaml'}" in caplog.text
    with pytest.raises(CheckpointError, match="model_final.pth does not fit the model"):
        _resume(run, "MODEL.FPN.OUT_CHANNELS", "64")
    assert sorted(os.listdir(run)) == sorted(
        ["last_checkpoint", "model_final.pth"] + ([] if content is None else ["config.yaml"])
    )


def test_keys_of_another_version_are_compared_where_both_have_them(run):
    """A config.yaml with a key this version does not have (renamed or removed) is read; a key
    that it lacks (added since) is compared with its default."""
    text = (run / "config.yaml").read_text()
    assert "    CONVLSTM_STACKING: per_layer_skip\n" in text
    text = text.replace("    CONVLSTM_STACKING: per_layer_skip\n", "    OLD_KEY: 1\n")
    (run / "config.yaml").write_text(text)
    _resume(run)
    with pytest.raises(ConfigError, match="MODEL.TEMPORAL.CONVLSTM_STACKING"):
        _resume(run, "MODEL.TEMPORAL.CONVLSTM_STACKING", "shared_skip")
