"""train_net.py and demo.py with a LazyConfig: the yaml path's outputs and policies (--resume
after the config check, --eval-only beside a run, the output folder, strict weights, a mistake
as one line and status 2), on the shipped TrackR-CNN LazyConfig at reduced size
(tests/helpers/lazy_cases.py) and a tiny synthetic set."""
import json
import os
import uuid

import pytest
import torch
from detectron2.config import instantiate
from helpers.lazy_cases import make_confident, write_reduced_config

import demo
import train_net
from trackrcnn_d2.data import register_synthetic_mots
from trackrcnn_d2.data.synthetic import generate_synthetic_mots
from trackrcnn_d2.engine.lazy_config import load_lazy_config
from trackrcnn_d2.engine.train_net import run

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SHIPPED = os.path.join(REPO, "configs", "kitti_mots_R_50_FPN_LSJ.py")


@pytest.fixture(scope="module")
def setting(tmp_path_factory):
    """(root, reduced config, the overrides of its data and device) on a synthetic set."""
    folder = tmp_path_factory.mktemp("lazy_train_net")
    root = str(folder / "set")
    generate_synthetic_mots(root, 2, 4, 64, 128, seed=11)
    prefix = f"lazy_train_net_{uuid.uuid4().hex[:6]}"
    register_synthetic_mots(prefix, root)
    reduced = write_reduced_config(SHIPPED, folder / "reduced.py")
    data = [
        "train.device=cpu", "train.log_period=1", f"dataloader.train.dataset.names={prefix}_train",
        f"dataloader.test.dataset.names={prefix}_val",
    ]  # fmt: skip
    return root, reduced, data, prefix


def _train_net(reduced, *argv):
    return run(train_net.parse_args(["--config-file", reduced, *argv]))


def _exit_message(capsys, function, *argv):
    with pytest.raises(SystemExit) as exit_info:
        function(*argv)
    assert exit_info.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    return lines[-1]


def test_a_run_resumes_and_refuses_what_it_cannot_continue(setting, tmp_path, capsys):
    _, reduced, data, prefix = setting
    out = f"train.output_dir={tmp_path / 'run'}"
    results = _train_net(reduced, *data, out, "train.max_iter=1", 'train.init_checkpoint=""')
    assert set(results["mots"]) >= {"sMOTSA/car", "HOTA/pedestrian"}
    run_dir = tmp_path / "run"
    # The shipped config trains with AMP, which needs CUDA: one warning on the CPU.
    assert "automatic mixed precision needs CUDA" in (run_dir / "log.txt").read_text()
    assert (run_dir / "model_final.pth").is_file() and list(run_dir.glob("events.out.tfevents*"))
    assert (run_dir / "inference" / f"{prefix}_val" / "mots_metrics.json").is_file()

    # Training again into the run is refused; --resume continues it with a longer schedule.
    message = _exit_message(capsys, _train_net, reduced, *data, out, "train.max_iter=2")
    assert "already holds a training run" in message and "--resume" in message
    _train_net(reduced, *data, out, "train.max_iter=2", "--resume")
    records = [json.loads(line) for line in open(run_dir / "metrics.json")]
    # Each iteration logged once (the first run's evaluation record dropped), then the
    # evaluation after the last.
    assert [r["iteration"] for r in records if "total_loss" in r] == [0, 1]
    assert [r["iteration"] for r in records if "mots/sMOTSA/car" in r] == [2]
    assert torch.load(run_dir / "model_final.pth", weights_only=False)["iteration"] == 1
    # A changed optimizer cannot continue: the checkpoint's state would keep the old one.
    message = _exit_message(
        capsys, _train_net, reduced, *data, out, "train.max_iter=3", "optimizer.lr=0.1", "--resume"
    )
    assert "--resume: 1 key(s) differ" in message
    assert "optimizer.lr (5e-07 in the run, 0.1 now)" in message

    # --eval-only: strict weights, its config.yaml and log beside its results.
    config_before = (run_dir / "config.yaml").read_text()
    results = _train_net(
        reduced, *data, out, "--eval-only", f"train.init_checkpoint={run_dir / 'model_final.pth'}"
    )
    assert "mots" in results
    assert (run_dir / "inference" / "config.yaml").is_file()
    assert (run_dir / "config.yaml").read_text() == config_before


def test_mistakes_end_in_one_message(setting, tmp_path, capsys):
    _, reduced, data, _ = setting
    out = f"train.output_dir={tmp_path / 'run'}"
    cases = [
        (["train.max_iterr=1"], "train has no key 'max_iterr'"),
        (["--eval-only", 'train.init_checkpoint=""'],
         "--eval-only evaluates a trained model but train.init_checkpoint is empty"),
        (["train.init_checkpoint=missing.pth"], "train.init_checkpoint missing.pth not found"),
        (["dataloader.test.dataset.names=coco_2017_val"], "is not a MOTS dataset"),
        (["tracker.params.detection_confidence=[0.5,0.5,0.5]"],
         "tracker.params: detection_confidence has 3 values but there are 2 classes"),
        (["tracker.flow=pwc"], "tracker.flow: Unknown optical flow"),
        (["dataloader.train.total_batch_size=3"],
         "dataloader.train.total_batch_size (3) is the number of frames per iteration"),
        # Known only once the model is built: its look-ahead and its classes.
        (["dataloader.test.lookahead=0", 'train.init_checkpoint=""'],
         "dataloader.test.lookahead is 0 but the model's temporal layers look 1 frames ahead"),
        (["model.roi_heads.num_classes=3", 'train.init_checkpoint=""'],
         "model.roi_heads.num_classes is 3 but tracker.params.class_names has 2 classes"),
    ]  # fmt: skip
    for overrides, expected in cases:
        message = _exit_message(capsys, _train_net, reduced, *data, out, *overrides)
        assert message.startswith("train_net.py: error: ") and expected in message, overrides
    assert not (tmp_path / "run" / "last_checkpoint").exists()


def test_demo_tracks_a_video_with_a_lazy_config(setting, tmp_path, capsys):
    root, reduced, _, _ = setting
    model = instantiate(load_lazy_config(reduced).model)
    weights = tmp_path / "confident.pth"
    torch.save({"model": make_confident(model).state_dict()}, weights)
    frames = os.path.join(root, "training", "image_02", "0001")
    output = tmp_path / "video"
    demo.main([
        "--config-file", reduced, "--input", frames, "--output", str(output), "--render", "none",
        f"train.init_checkpoint={weights}", "train.device=cpu",
    ])  # fmt: skip
    lines = (output / "0001.txt").read_text().splitlines()
    assert lines and {int(line.split()[0]) for line in lines} == {0, 1, 2, 3}
    assert {int(line.split()[2]) for line in lines} == {1}  # the confident class: car
    # Weights of another model are refused, naming the file; so is an empty init_checkpoint.
    shipped_sized = tmp_path / "other.pth"
    torch.save({"model": {"backbone.bottom_up.stem.conv1.weight": torch.zeros(1)}}, shipped_sized)
    for override, expected in [
        (f"train.init_checkpoint={shipped_sized}", f"{shipped_sized} does not fit the model"),
        ('train.init_checkpoint=""', "train.init_checkpoint is empty"),
    ]:
        message = _exit_message(
            capsys, demo.main,
            ["--config-file", reduced, "--input", frames, "--output", str(tmp_path / "again"),
             override, "train.device=cpu"],
        )  # fmt: skip
        assert message.startswith("demo.py: error: ") and expected in message
