"""train_net.py end to end on a tiny synthetic set: train, --eval-only, --resume, bad input.

The model is the demo's (configs/demo_synthetic.yaml) at 64 x 128 pixels, trained for a few
iterations: the tests check the plumbing (files, logs, resumption, gathered evaluation), not
accuracy; the demo (`make demo`) shows accuracy.
"""
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid

import pytest
import torch
from helpers.faults import filling_atomic_open, slowed_torch_save

import train_net
from trackrcnn_d2.data import register_synthetic_mots
from trackrcnn_d2.data.synthetic import generate_synthetic_mots
from trackrcnn_d2.engine.train_net import launch_from_args, main, run, setup
from trackrcnn_d2.engine.trainer import Trainer
from trackrcnn_d2.utils.cli import ConfigError, OutputDirError, load_config

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CONFIG = os.path.join(REPO, "configs", "demo_synthetic.yaml")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    # Named as the built-in dataset expects it under $DETECTRON2_DATASETS (for subprocesses).
    root = str(tmp_path_factory.mktemp("datasets") / "synthetic_mots")
    generate_synthetic_mots(root, sequences=8, frames=6, height=64, width=128, seed=1)
    prefix = f"train_net_test_{uuid.uuid4().hex[:6]}"
    register_synthetic_mots(prefix, root)
    return root, prefix


def _opts(dataset, output_dir, max_iter=3):
    root, prefix = dataset
    return [
        "OUTPUT_DIR", str(output_dir),
        "DATASETS.TRAIN", f"('{prefix}_train',)",
        "DATASETS.TEST", f"('{prefix}_val',)",
        "INPUT.MIN_SIZE_TRAIN", "(64,)", "INPUT.MAX_SIZE_TRAIN", "128",
        "INPUT.MIN_SIZE_TEST", "64", "INPUT.MAX_SIZE_TEST", "128",
        "INPUT.CLIP_LENGTH", "2", "SOLVER.IMS_PER_BATCH", "2",
        "SOLVER.MAX_ITER", str(max_iter), "SOLVER.STEPS", "()", "SOLVER.WARMUP_ITERS", "0",
        # An untrained model's scores are about 1/3: let every detection start a track.
        "MODEL.ROI_HEADS.SCORE_THRESH_TEST", "0.0",
        "TRACKER_HEADS.DETECTION_CONFIDENCE", "[0.0, 0.0]",
        "TEST.DETECTIONS_PER_IMAGE", "5",
    ]  # fmt: skip


def _main(*argv):
    return main(train_net.parse_args(["--config-file", CONFIG, *argv]))


def _run_expecting_user_error(capsys, *argv):
    """``train_net.py ARGV`` in this process: exit status 2 and one error line, returned
    (stderr also holds detectron2's log here; test_missing_dataset_folder_says_where_it_looked
    checks a whole stderr)."""
    with pytest.raises(SystemExit) as exit_info:
        run(train_net.parse_args(list(argv)))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("train_net.py: error: ")]
    assert len(errors) == 1, err[-3000:]
    return errors[0]


@pytest.fixture(scope="module")
def trained(dataset, tmp_path_factory):
    """Train 3 iterations (checkpoint after each) and evaluate at the end, as
    `python train_net.py --config-file ...` does."""
    output_dir = tmp_path_factory.mktemp("run")
    _main(*_opts(dataset, output_dir), "SOLVER.CHECKPOINT_PERIOD", "1")
    return output_dir


def test_training_logs_losses_and_evaluates_at_the_end(trained, dataset):
    output_dir = trained
    _, prefix = dataset
    assert (output_dir / "model_final.pth").is_file()
    records = [json.loads(line) for line in (output_dir / "metrics.json").read_text().splitlines()]
    losses = [r for r in records if "loss_assoc" in r]
    assert losses and {"loss_cls", "loss_mask", "loss_rpn_cls"} <= set(losses[-1])
    assert any(name.startswith("events.out.tfevents") for name in os.listdir(output_dir))
    evaluations = [r for r in records if "mots/sMOTSA/car" in r]  # EvalHook -> EventStorage
    assert evaluations and {"mots/HOTA/pedestrian", "mots/IDF1/car"} <= set(evaluations[-1])
    assert (output_dir / "inference" / f"{prefix}_val" / "mots_metrics.json").is_file()


def test_eval_only_writes_tracks_that_the_standalone_command_scores_alike(
    trained, dataset, tmp_path
):
    output_dir = trained
    root, prefix = dataset
    weights = str(output_dir / "model_final.pth")
    results = _main("--eval-only", *_opts(dataset, tmp_path), "MODEL.WEIGHTS", weights)
    inference = tmp_path / "inference" / f"{prefix}_val"
    sequences = [line.split()[0] for line in open(os.path.join(root, "evaluate_mots.seqmap.val"))]
    for sequence in sequences:
        lines = (inference / f"{sequence}.txt").read_text().splitlines()
        assert lines and all(len(line.split()) == 6 for line in lines)
        assert (inference / "detections" / f"{sequence}.npz").is_file()
    standalone = subprocess.run(
        [
            sys.executable, "-m", "trackrcnn_d2.evaluation", os.path.join(root, "instances_txt"),
            str(inference), "--seqmap", os.path.join(root, "evaluate_mots.seqmap.val"),
            "--classes", "car,pedestrian", "--json", str(tmp_path / "standalone.json"),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    assert standalone.returncode == 0
    report = json.loads((tmp_path / "standalone.json").read_text())
    for class_name in ("car", "pedestrian"):
        for metric in ("sMOTSA", "MOTSA", "MOTSP", "HOTA", "IDF1", "IDS"):
            assert results["mots"][f"{metric}/{class_name}"] == report[class_name][metric]


def test_resume_continues_from_the_last_checkpoint(trained, dataset, tmp_path):
    # On a copy: the other tests read the trained run as training left it (in any order).
    output_dir = tmp_path / "run"
    shutil.copytree(trained, output_dir)
    final = torch.load(output_dir / "model_final.pth", map_location="cpu", weights_only=False)
    assert final["iteration"] == 2
    opts = [*_opts(dataset, output_dir, max_iter=5), "DATASETS.TEST", "()"]
    cfg = setup(train_net.parse_args(["--config-file", CONFIG, "--resume", *opts]))
    trainer = Trainer(cfg)
    trainer.resume_or_load(resume=True)
    assert trainer.start_iter == 3
    resumed = trainer.model.state_dict()
    for key, value in final["model"].items():
        assert torch.equal(resumed[key], value), key
    trainer.train()
    assert trainer.iter == 5
    assert torch.load(output_dir / "model_final.pth", weights_only=False)["iteration"] == 4


def test_a_refused_training_run_leaves_the_earlier_run_untouched(trained, dataset, capsys):
    """The issue's scenario: the refusal came after detectron2 had rewritten the earlier run's
    config.yaml and appended to its log.txt."""
    output_dir = trained
    before = {name: (output_dir / name).read_bytes() for name in ("config.yaml", "log.txt")}
    with pytest.raises(OutputDirError, match="--resume"):
        _main(*_opts(dataset, output_dir), "SOLVER.BASE_LR", "0.5")
    err = _run_expecting_user_error(
        capsys, "--config-file", CONFIG, *_opts(dataset, output_dir), "SOLVER.BASE_LR", "0.5"
    )
    assert "already holds a training run" in err
    assert {name: (output_dir / name).read_bytes() for name in before} == before


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")
def test_cuda_without_a_gpu_evaluates_on_the_cpu_with_one_warning(trained, dataset, tmp_path):
    """The KITTI configs' MODEL.DEVICE cuda on a machine without a GPU: the command warns once
    (not in every process) and runs on the CPU, as demo.py does, instead of torch's "Found no
    NVIDIA driver" traceback."""
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logging.getLogger("trackrcnn_d2.engine.device").addHandler(handler)
    weights = str(trained / "model_final.pth")
    args = train_net.parse_args(
        ["--config-file", CONFIG, "--eval-only", *_opts(dataset, tmp_path), "MODEL.DEVICE", "cuda",
         "MODEL.WEIGHTS", weights]
    )  # fmt: skip
    try:
        launch_from_args(args)
    finally:
        logging.getLogger("trackrcnn_d2.engine.device").removeHandler(handler)
    warned = [r.getMessage().split(":")[0] for r in records]
    assert warned == ["MODEL.DEVICE cuda, but torch sees no CUDA GPU"]
    assert args.opts[-2:] == ["MODEL.DEVICE", "cpu"]  # what the processes get
    assert "DEVICE: cpu" in (tmp_path / "inference" / "config.yaml").read_text()
    assert (tmp_path / "inference" / f"{dataset[1]}_val" / "mots_metrics.json").is_file()


def test_eval_only_keeps_the_training_runs_config(trained, dataset):
    output_dir = trained
    config = (output_dir / "config.yaml").read_bytes()
    weights = str(output_dir / "model_final.pth")
    _main("--eval-only", *_opts(dataset, output_dir), "MODEL.WEIGHTS", weights, "SEED", "123")
    assert (output_dir / "config.yaml").read_bytes() == config
    assert "SEED: 123" in (output_dir / "inference" / "config.yaml").read_text()


@pytest.mark.parametrize(
    "optimizer, expected", [("ADAM", torch.optim.Adam), ("SGD", torch.optim.SGD)]
)
def test_build_optimizer_honours_solver_optimizer(optimizer, expected):
    cfg = load_config(CONFIG, ["SOLVER.OPTIMIZER", optimizer])
    model = torch.nn.Linear(2, 2)
    assert isinstance(Trainer.build_optimizer(cfg, model), expected)


def test_unknown_config_key_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="Non-existent key: MODEL.NO_SUCH_KEY"):
        load_config(CONFIG, ["MODEL.NO_SUCH_KEY", "1"])
    config_file = tmp_path / "typo.yaml"
    config_file.write_text(f"_BASE_: {CONFIG}\nSOLVER:\n  OPTIMISER: ADAM\n")
    with pytest.raises(ConfigError, match="Non-existent config key: SOLVER.OPTIMISER"):
        load_config(str(config_file))


@pytest.mark.parametrize(
    "text, opts, message",
    [
        ("SOLVER:\n  MAX_ITER: [1\n", [], r"bad.yaml is not valid yaml: .* line 3"),
        ("SOLVER:\n  MAX_ITER: abc\n", [], r"bad.yaml: SOLVER.MAX_ITER must be of type int"),
        ("_BASE_: missing_base.yaml\n", [], r"_BASE_ file .*missing_base.yaml not found"),
        ("- 1\n- 2\n", [], r"bad.yaml must be a yaml mapping"),
        ("", [], r"bad.yaml must be a yaml mapping"),
        ("", ["SOLVER.MAX_ITER", "abc"], r"command line: SOLVER.MAX_ITER must be of type int"),
        ("", ["SOLVER.MAX_ITER"], r"command line: Override list has odd length"),
        ("", ["INPUT.MIN_SIZE_TRAIN", "5"], r"INPUT.MIN_SIZE_TRAIN must be of type tuple"),
    ],
)
def test_config_mistakes_name_the_file_or_the_override(tmp_path, text, opts, message):
    config_file = tmp_path / "bad.yaml"
    if opts:
        text = f"_BASE_: {CONFIG}\n"
    config_file.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(str(config_file), opts)


def test_config_file_is_required_and_must_exist(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        train_net.parse_args([])
    assert exit_info.value.code == 2
    assert "--config-file is required" in capsys.readouterr().err
    for path, message in ((tmp_path / "none.yaml", "not found"), (tmp_path, "is a folder")):
        err = _run_expecting_user_error(capsys, "--config-file", str(path))
        assert f"config file {path} {message}" in err


def test_help_describes_the_project(capsys):
    with pytest.raises(SystemExit):
        train_net.parse_args(["--help"])
    out = capsys.readouterr().out
    assert "Train and evaluate TrackR-CNN" in out
    assert "SOLVER.REFERENCE_WORLD_SIZE 1" in out and "MODEL.DEVICE cpu" in out


@pytest.mark.parametrize(
    "datasets, message",
    [
        (["DATASETS.TRAIN", "('no_such_set',)"], "DATASETS.TRAIN: dataset 'no_such_set' is not"),
        (["DATASETS.TEST", "('coco_2017_val',)"], "'coco_2017_val' is not a MOTS dataset"),
    ],
)
def test_unknown_dataset_names_the_key(dataset, tmp_path, capsys, datasets, message):
    opts = _opts(dataset, tmp_path / "out") + datasets
    err = _run_expecting_user_error(capsys, "--config-file", CONFIG, *opts)
    assert message in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "opts, message",
    [
        (["OUTPUT_DIR", "{file}"], "OUTPUT_DIR {file} is a file"),
        (["DATASETS.MOTS.CLASSES", "['truck']"], "DATASETS.MOTS.CLASSES: Unknown MOTS class"),
        (["INPUT.CLIP_LENGTH", "0"], "INPUT.CLIP_LENGTH must be a whole number >= 1, got 0"),
        (["SOLVER.IMS_PER_BATCH", "3"], "must be a multiple of INPUT.CLIP_LENGTH (2)"),
        (["SOLVER.OPTIMIZER", "adamw"], "SOLVER.OPTIMIZER must be one of SGD, ADAM"),
        (["MODEL.WEIGHTS_CLASSES.MAP", "[['persn', 'pedestrian']]"],
         "MODEL.WEIGHTS_CLASSES.MAP: 'persn' is not one of coco_2017_train's 80 classes"),
    ],
)
def test_bad_config_values_name_the_key(dataset, tmp_path, capsys, opts, message):
    file = tmp_path / "a_file"
    file.write_text("")
    opts = [o.format(file=file) for o in opts]
    err = _run_expecting_user_error(
        capsys, "--config-file", CONFIG, *_opts(dataset, tmp_path / "out"), *opts
    )
    assert message.format(file=file) in err


@pytest.mark.parametrize(
    "opts, message",
    [
        (["SOLVER.BASE_LR", "nan"], "command line: SOLVER.BASE_LR must be a finite number > 0, "
         "got nan"),
        (["SOLVER.MAX_ITER", "-3"], "command line: SOLVER.MAX_ITER must be a whole number >= 0, "
         "got -3"),
        (["MODEL.ROI_HEADS.SCORE_THRESH_TEST", "1.5"], "command line: MODEL.ROI_HEADS."
         "SCORE_THRESH_TEST must be a finite number from 0 to 1, got 1.5"),
        (["TRACKER_HEADS.KEEP_ALIVE", "[4, -1]"], "command line: every value of TRACKER_HEADS."
         "KEEP_ALIVE must be a whole number >= 0, got -1 in [4, -1]"),
    ],
)  # fmt: skip
def test_values_outside_their_rule_end_in_one_line_and_write_nothing(
    dataset, tmp_path, capsys, opts, message
):
    out = tmp_path / "out"
    err = _run_expecting_user_error(
        capsys, "--config-file", CONFIG, *_opts(dataset, out), *opts
    )
    assert err == f"train_net.py: error: {message}"
    assert not out.exists()
    # A file's value is named with the file.
    config_file = tmp_path / "bad.yaml"
    config_file.write_text(f"_BASE_: {CONFIG}\nSOLVER:\n  BASE_LR: -0.1\n")
    err = _run_expecting_user_error(capsys, "--config-file", str(config_file), *_opts(dataset, out))
    assert err == (f"train_net.py: error: {config_file}: SOLVER.BASE_LR must be a finite number > "
                   "0, got -0.1")  # fmt: skip
    assert not out.exists()


def test_missing_and_corrupt_weights_name_the_file(dataset, tmp_path, capsys):
    good = tmp_path / "good.pth"
    torch.save({"model": {}}, good)
    (tmp_path / "truncated.pth").write_bytes(good.read_bytes()[:40])
    (tmp_path / "text.pkl").write_text("not a model")
    err = _run_expecting_user_error(
        capsys, "--config-file", CONFIG, "--eval-only", *_opts(dataset, tmp_path / "out"),
        "MODEL.WEIGHTS", str(good), "DATASETS.TEST", "()",
    )  # fmt: skip
    assert "empty DATASETS.TEST: nothing to evaluate" in err
    cases = [
        ("", "--eval-only evaluates a trained model but MODEL.WEIGHTS is empty"),
        ("missing.pth", "MODEL.WEIGHTS {} not found"),
        ("truncated.pth", "{} cannot be read as a checkpoint"),
        ("text.pkl", "{} cannot be read as a checkpoint"),
    ]
    for name, message in cases:
        weights = str(tmp_path / name) if name else ""
        opts = [*_opts(dataset, tmp_path / "out"), "MODEL.WEIGHTS", weights]
        err = _run_expecting_user_error(capsys, "--config-file", CONFIG, "--eval-only", *opts)
        assert message.format(tmp_path / name) in err
        assert "weights_only" not in err and "Checkpoint" not in err


def test_resume_with_a_missing_last_checkpoint_names_it(trained, dataset, tmp_path, capsys):
    output_dir = tmp_path / "copy"
    output_dir.mkdir()
    (output_dir / "last_checkpoint").write_text("model_0000009.pth")
    err = _run_expecting_user_error(
        capsys, "--config-file", CONFIG, "--resume", *_opts(dataset, output_dir)
    )
    assert f"checkpoint {output_dir / 'model_0000009.pth'} not found" in err


def test_eval_only_refuses_weights_that_do_not_fit_the_model(trained, dataset, tmp_path, capsys):
    """The issue's cases, which ran with random layers and exited 0 after ~150 warning lines: a
    checkpoint of another architecture, and the right one on a config of another width."""
    other = tmp_path / "resnet18.pth"
    torch.save({"model": {"stem.conv1.weight": torch.zeros(64, 3, 7, 7)}}, other)
    weights = str(trained / "model_final.pth")
    cases = [
        ([str(other)], re.escape(f"{other} does not fit the model of this config: ")),
        # The FPN's first layer reads res2 (64 channels) and writes 32 channels in the file.
        ([weights, "MODEL.FPN.OUT_CHANNELS", "64"],
         re.escape(f"{weights} does not fit the model of this config: ") + r"\d+ have other "
         r"shapes \(backbone.frame_backbone.fpn_lateral2.weight \(32, 64, 1, 1\) in the file, "
         r"\(64, 64, 1, 1\) in the model;"),
    ]  # fmt: skip
    for overrides, pattern in cases:
        opts = [*_opts(dataset, tmp_path / "out"), "MODEL.WEIGHTS", *overrides]
        err = _run_expecting_user_error(capsys, "--config-file", CONFIG, "--eval-only", *opts)
        assert re.search(pattern, err), err
        assert not (tmp_path / "out" / "inference" / f"{dataset[1]}_val").exists()


def test_resume_with_a_changed_model_is_refused_before_anything_is_written(
    trained, dataset, capsys
):
    """The issue's case: --resume with another MODEL.FPN.OUT_CHANNELS crashed in the first step,
    after detectron2 had rewritten config.yaml with the new model."""
    output_dir = trained
    before = {name: (output_dir / name).read_bytes() for name in os.listdir(output_dir)
              if (output_dir / name).is_file()}  # fmt: skip
    err = _run_expecting_user_error(
        capsys, "--config-file", CONFIG, "--resume", *_opts(dataset, output_dir, max_iter=6),
        "MODEL.FPN.OUT_CHANNELS", "64",
    )  # fmt: skip
    run_config = output_dir / "config.yaml"
    assert err.startswith(
        f"train_net.py: error: --resume: 1 key(s) differ from the run's {run_config}: "
        "MODEL.FPN.OUT_CHANNELS (32 in the run, 64 now). "
    )
    after = {name: (output_dir / name).read_bytes() for name in os.listdir(output_dir)
             if (output_dir / name).is_file()}  # fmt: skip
    assert after == before


def _copy_of_the_run(trained, tmp_path):
    """A copy of the trained run (other tests continue the original)."""
    run = tmp_path / "run"
    shutil.copytree(trained, run, ignore=shutil.ignore_patterns("inference", "events.out.*"))
    last = torch.load(run / "model_final.pth", map_location="cpu", weights_only=False)
    return run, last["iteration"]


def test_a_kill_while_a_resumed_run_saves_leaves_the_last_checkpoint_and_resume_continues(
    trained, dataset, tmp_path
):
    """The issue's case: SIGKILL while a resumed run wrote model_final.pth left a 0-byte file
    that last_checkpoint named, and the run could never resume. The resumed run here is killed
    while its writer (slowed down) is in the middle of model_final.pth."""
    run, iteration = _copy_of_the_run(trained, tmp_path)
    final_before = (run / "model_final.pth").read_bytes()
    root, prefix = dataset
    marker = tmp_path / "writing"
    opts = [*_opts(dataset, run, max_iter=iteration + 3), "DATASETS.TEST", "()",
            "SOLVER.CHECKPOINT_PERIOD", "1000"]  # fmt: skip
    script = f"""
import sys, time, torch
sys.path.insert(0, {REPO!r})
import train_net
from trackrcnn_d2.data import register_synthetic_mots
from trackrcnn_d2.engine.train_net import main
register_synthetic_mots({prefix!r}, {root!r})
{slowed_torch_save(marker)}
main(train_net.parse_args({["--config-file", CONFIG, "--resume", *opts]!r}))
"""
    process = subprocess.Popen([sys.executable, "-c", script], cwd=str(tmp_path),
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    try:
        deadline = time.monotonic() + 600
        while not marker.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert marker.exists(), process.stderr.read().decode()[-3000:]
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.communicate()
    assert (run / "last_checkpoint").read_text() == "model_final.pth"
    assert (run / "model_final.pth").read_bytes() == final_before
    assert [name for name in os.listdir(run) if ".tmp-" in name]  # killed mid-write

    _main("--resume", *opts)
    final = torch.load(run / "model_final.pth", map_location="cpu", weights_only=False)
    assert final["iteration"] == iteration + 2
    assert not [name for name in os.listdir(run) if ".tmp-" in name]


def test_fine_tuning_from_a_coco_checkpoint_keeps_cocos_car_and_person(dataset, tmp_path):
    """train_net's fine-tuning load (MODEL.WEIGHTS, not --resume) takes the classifier, box and
    mask rows of car and pedestrian from a COCO-shaped checkpoint's car (2) and person (0)
    (tests/checkpoint/test_class_rows.py checks the rows; here the trainer's wiring)."""
    cfg = load_config(CONFIG)
    model = Trainer.build_model(cfg)
    state = model.state_dict()
    rows = {"cls_score": 81, "bbox_pred": 320}
    for key in list(state):
        module = key.split(".")[-2]
        if key.startswith("roi_heads.box_predictor.") and module in rows:
            state[key] = torch.randn(rows[module], *state[key].shape[1:])
        elif key.startswith("roi_heads.mask_head.predictor."):
            state[key] = torch.randn(80, *state[key].shape[1:])
    torch.save({"model": state}, tmp_path / "coco.pth")
    output_dir = tmp_path / "run"
    _main(*_opts(dataset, output_dir, max_iter=1), "DATASETS.TEST", "()",
          "MODEL.WEIGHTS", str(tmp_path / "coco.pth"))  # fmt: skip
    log = (output_dir / "log.txt").read_text()
    assert "car <- car (2), pedestrian <- person (0), background <- background (80)" in log
    assert "other shapes" not in log  # every COCO-shaped tensor was mapped, none skipped


def test_a_full_disk_while_saving_is_one_line_and_leaves_no_partial_file(
    trained, dataset, tmp_path, capsys, monkeypatch
):
    """No space left (injected: the writes of the checkpoint fail after 1 MB, as on a full
    disk): one line naming the file, exit 2, the previous checkpoint kept as it was."""
    from trackrcnn_d2.checkpoint import mots_checkpointer

    run, iteration = _copy_of_the_run(trained, tmp_path)
    before = {name: (run / name).read_bytes() for name in ("model_final.pth", "last_checkpoint")}
    # The writes of the checkpoint fail after 1 MB.
    filling = filling_atomic_open(mots_checkpointer.atomic_open, 1 << 20)
    monkeypatch.setattr(mots_checkpointer, "atomic_open", filling)
    opts = [*_opts(dataset, run, max_iter=iteration + 2), "DATASETS.TEST", "()",
            "SOLVER.CHECKPOINT_PERIOD", "1"]  # fmt: skip
    err = _run_expecting_user_error(capsys, "--config-file", CONFIG, "--resume", *opts)
    final = run / f"model_{iteration + 1:07d}.pth"
    assert err.startswith(
        f"train_net.py: error: cannot write the checkpoint {final}: No space left on device. "
        f"Nothing half-written is left; the last complete checkpoint, {run / 'model_final.pth'}, "
        "is kept and --resume continues from it."
    )
    assert not final.exists() and not [n for n in os.listdir(run) if ".tmp-" in n]
    assert {name: (run / name).read_bytes() for name in before} == before


def test_a_truncated_image_stops_training_naming_the_file(tmp_path, capsys):
    """The issue's scenario: `OSError: image file is truncated`, no file named."""
    root = tmp_path / "set"
    generate_synthetic_mots(str(root), sequences=2, frames=3, height=64, width=128)
    truncated = root / "training" / "image_02" / "0000" / "000001.png"
    truncated.write_bytes(truncated.read_bytes()[:300])
    prefix = f"truncated_{uuid.uuid4().hex[:6]}"
    register_synthetic_mots(prefix, str(root))
    opts = _opts((str(root), prefix), tmp_path / "out") + ["DATASETS.TEST", "()"]
    err = _run_expecting_user_error(capsys, "--config-file", CONFIG, *opts)
    assert f"{truncated}: cannot read this image (image file is truncated" in err
    assert not (tmp_path / "out" / "last_checkpoint").exists()


def test_missing_dataset_folder_says_where_it_looked(tmp_path):
    """The built-in datasets live under $DETECTRON2_DATASETS; a missing one names the place,
    in one line (once, not by each of the processes), not under detectron2's environment and
    config dump."""
    environment = dict(os.environ, DETECTRON2_DATASETS=str(tmp_path / "nowhere"))
    run = subprocess.run(
        [
            sys.executable, os.path.join(REPO, "train_net.py"), "--config-file", CONFIG,
            "--num-gpus", "2", "OUTPUT_DIR", str(tmp_path / "out"),
        ],
        env=environment, capture_output=True, text=True, cwd=str(tmp_path),
    )  # fmt: skip
    assert run.returncode == 2
    assert str(tmp_path / "nowhere" / "synthetic_mots") in run.stderr
    assert "DETECTRON2_DATASETS" in run.stderr
    errors = [line for line in run.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1 and errors[0].startswith("train_net.py: error: ")
    assert "Traceback" not in run.stderr and "Environment info" not in run.stderr + run.stdout
    assert not (tmp_path / "out").exists()


@pytest.mark.timeout(900)  # two processes, 20 s on an idle machine
def test_eval_only_with_two_processes_gathers_every_sequence(trained, dataset, tmp_path):
    """`--num-gpus 2` on the CPU (gloo): each process infers whole sequences, the main process
    tracks and evaluates all of them, as one process does."""
    output_dir = trained
    root, prefix = dataset
    weights = str(output_dir / "model_final.pth")
    _main("--eval-only", *_opts(dataset, tmp_path / "single"), "MODEL.WEIGHTS", weights)
    opts = _opts(dataset, tmp_path / "multi")
    opts[opts.index("DATASETS.TEST") + 1] = "('synthetic_mots_val',)"
    run = subprocess.run(
        [
            sys.executable, os.path.join(REPO, "train_net.py"), "--config-file", CONFIG,
            "--eval-only", "--num-gpus", "2", "--dist-url", "auto", *opts, "MODEL.WEIGHTS", weights,
        ],
        env=dict(os.environ, DETECTRON2_DATASETS=os.path.dirname(root)),
        capture_output=True, text=True,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    single = tmp_path / "single" / "inference" / f"{prefix}_val"
    multi = tmp_path / "multi" / "inference" / "synthetic_mots_val"
    sequences = [line.split()[0] for line in open(os.path.join(root, "evaluate_mots.seqmap.val"))]
    assert len(sequences) == 2
    for sequence in sequences:
        assert (multi / f"{sequence}.txt").read_text() == (single / f"{sequence}.txt").read_text()
    assert json.loads((multi / "mots_metrics.json").read_text()) == json.loads(
        (single / "mots_metrics.json").read_text()
    )
