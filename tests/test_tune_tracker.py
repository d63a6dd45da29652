"""tools/tune_tracker.py as the README runs it: the detections that step 1 wrote for the config
by default, one message naming the folder and the command when they are missing, a tuned
config that is portable and evaluates beside itself, and a --help with the defaults."""
import os
import runpy
import shlex
import subprocess
import sys

import numpy as np
import pycocotools.mask as mask_utils
import pytest
from helpers.datasets import registered_synthetic_set

from trackrcnn_d2.data import mots_io
from trackrcnn_d2.tracking import FrameDetections, write_detection_cache

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOL = os.path.join(REPO, "tools", "tune_tracker.py")
CONFIG = os.path.join(REPO, "configs", "demo_synthetic.yaml")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """A tiny synthetic set registered as ``<prefix>_train`` / ``<prefix>_val``."""
    folder = tmp_path_factory.mktemp("tune")
    options = {"sequences": 4, "frames": 5, "height": 48, "width": 96, "seed": 2}
    return registered_synthetic_set(folder, "tune", **options)


def write_perfect_detections(root, folder, sequences):
    """The ground truth of ``sequences`` as cached detections (score 1), as step 1 writes them."""
    for sequence in sequences:
        gt = mots_io.read_mots_txt(str(root / "instances_txt" / f"{sequence}.txt"))
        frames = []
        for frame in range(5):
            objects = [o for o in gt.get(frame, []) if o.class_id in (1, 2)]
            boxes = mask_utils.toBbox([o.rle for o in objects]).reshape(-1, 4)
            boxes[:, 2:] += boxes[:, :2]
            frames.append(FrameDetections(
                sequence=sequence, frame_idx=frame, height=48, width=96, boxes=boxes,
                scores=np.ones(len(objects)), classes=[o.class_id - 1 for o in objects],
                masks=[o.rle for o in objects],
                association_vectors=np.eye(len(objects), 8, dtype=np.float32),
            ))  # fmt: skip
        write_detection_cache(os.path.join(folder, f"{sequence}.npz"), frames)


def run_tool(*argv):
    runpy.run_path(TOOL)["main"]([*argv, "--iterations", "3", "--workers", "1", "--no-progress"])


def _user_error(capsys, *argv):
    with pytest.raises(SystemExit) as stopped:
        run_tool(*argv)
    assert stopped.value.code == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert len(errors) == 1 and errors[0].startswith("tune_tracker.py: error: "), errors
    return errors[0]


def test_the_default_detections_are_those_step_1_wrote_for_the_config(dataset, tmp_path, capsys):
    root, prefix = dataset
    output_dir = tmp_path / "run"
    # Step 1 (train_net.py --eval-only ... DATASETS.TEST "('<train>',)") writes here.
    written = output_dir / "inference" / f"{prefix}_train" / "detections"
    write_perfect_detections(root, written, ["0000", "0001", "0002"])
    run_tool("--config-file", CONFIG, "DATASETS.TRAIN", f"('{prefix}_train',)",
             "OUTPUT_DIR", str(output_dir))  # fmt: skip
    printed = capsys.readouterr().out
    assert f"on 3 sequences of {written} " in printed
    tuned = output_dir / "tracker_search" / f"{prefix}_train" / "tracker_thresholds.yaml"
    assert tuned.is_file() and "sMOTSA 100.00" in tuned.read_text()  # perfect detections


def test_missing_detections_name_the_folder_and_the_command_that_writes_it(
    dataset, tmp_path, capsys
):
    root, prefix = dataset
    opts = ["DATASETS.TRAIN", f"('{prefix}_train',)", "OUTPUT_DIR", str(tmp_path / "run")]
    error = _user_error(capsys, "--config-file", CONFIG, *opts)
    folder = tmp_path / "run" / "inference" / f"{prefix}_train" / "detections"
    assert f"no detection cache of {prefix}_train in {folder}" in error
    assert "WRITE_DETECTION_CACHE" not in error  # on by default: no advice to turn it on
    command = shlex.split(error.split("writes it: ")[1].split(" (or give")[0])
    assert command[:6] == ["python", "train_net.py", "--config-file", CONFIG, "--eval-only",
                           "MODEL.WEIGHTS"]  # fmt: skip
    assert command[6] == str(tmp_path / "run" / "model_final.pth")
    assert command[7:] == ["DATASETS.TEST", f"('{prefix}_train',)", *opts]
    # The command is right: its evaluation folder is the one looked in.
    from trackrcnn_d2.utils.cli import load_config

    cfg = load_config(CONFIG, command[7:])
    assert os.path.join(cfg.OUTPUT_DIR, "inference", cfg.DATASETS.TEST[0], "detections") == str(
        folder
    )
    error = _user_error(capsys, "--config-file", CONFIG, *opts,
                        "TEST.MOTS.WRITE_DETECTION_CACHE", "False")  # fmt: skip
    assert error.endswith("TEST.MOTS.WRITE_DETECTION_CACHE True (or give another folder with "
                          "--detections)")  # fmt: skip


def test_a_missing_or_corrupt_cache_file_is_one_line_or_a_warning(dataset, tmp_path, capsys):
    root, prefix = dataset
    folder = tmp_path / "detections"
    write_perfect_detections(root, folder, ["0000", "0001"])  # not 0002 of the train split
    options = ["--config-file", CONFIG, "--detections", str(folder), "--output",
               str(tmp_path / "tuned.yaml"), "DATASETS.TRAIN", f"('{prefix}_train',)"]  # fmt: skip
    run_tool(*options)
    err = capsys.readouterr().err
    assert (f"tune_tracker.py: warning: {folder} has no detection cache of sequence(s) ['0002'] "
            f"of {prefix}_train: the search uses the 2 cached ones") in err  # fmt: skip
    (folder / "0001.npz").write_bytes((folder / "0001.npz").read_bytes()[:200])
    error = _user_error(capsys, *options, "--overwrite")
    assert error.startswith(f"tune_tracker.py: error: {folder / '0001.npz'}: cannot read as a "
                            "detection cache (it is an .npz archive that is truncated or corrupt)")
    assert "allow_pickle" not in error


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["DATASETS.TRAIN", "()"], "holds no MOTS dataset to tune on; name one with --dataset"),
        (["--dataset", "nope"], "--dataset: 'nope' is not a registered MOTS dataset; they are"),
        (["--iterations", "0"], "--iterations: expected a whole number >= 1, got '0'"),
        (["--cross-validate", "1"], "--cross-validate: expected a whole number >= 2"),
        (["--select", "first"], "--select: invalid choice: 'first'"),
        (["--detection-confidence-range", "0.9", "0.1"], "LOW 0.9 is above HIGH 0.1"),
        (["--detection-confidence-range", "0", "2"],
         "range: 2 is no value of TRACKER_HEADS.DETECTION_CONFIDENCE, which must be a finite "
         "number from 0 to 1"),
        (["--assoc-threshold-range", "-1", "2"], "range: -1 is no value of TRACKER_HEADS."),
        (["--maskprop-threshold-range", "nan", "0.5"], "range: nan is no value of"),
    ],
)
def test_argument_mistakes(dataset, tmp_path, capsys, arguments, message):
    error = _user_error(capsys, "--config-file", CONFIG, "OUTPUT_DIR", str(tmp_path), *arguments)
    assert message in error


def test_the_tuned_evaluation_writes_beside_the_thresholds(dataset, tmp_path, monkeypatch):
    """Step 3 (train_net.py --eval-only with the tuned config) writes to the tuned config's
    OUTPUT_DIR, not over the untuned evaluation's OUTPUT_DIR/inference/<dataset>/; and the
    config's _BASE_ is relative, so that the folder can be moved or shared."""
    root, prefix = dataset
    write_perfect_detections(root, tmp_path / "run" / "inference" / f"{prefix}_train" /
                             "detections", ["0000", "0001", "0002"])  # fmt: skip
    monkeypatch.chdir(REPO)  # the README's relative --config-file
    run_tool("--config-file", "configs/demo_synthetic.yaml", "--dataset", f"{prefix}_train",
             "OUTPUT_DIR", str(tmp_path / "run"))  # fmt: skip
    tuned = tmp_path / "run" / "tracker_search" / f"{prefix}_train" / "tracker_thresholds.yaml"
    text = tuned.read_text()
    base = text.split("_BASE_: ")[1].splitlines()[0].strip('"')
    assert base == os.path.relpath(CONFIG, tuned.parent) and not os.path.isabs(base)
    from trackrcnn_d2.utils.cli import load_config

    cfg = load_config(str(tuned), ["DATASETS.TEST", f"('{prefix}_val',)"])
    assert cfg.OUTPUT_DIR == str(tuned.parent)
    untuned = load_config(CONFIG, ["OUTPUT_DIR", str(tmp_path / "run")])
    assert cfg.OUTPUT_DIR != untuned.OUTPUT_DIR  # the evaluations write to different folders
    assert cfg.INPUT.CLIP_LENGTH == untuned.INPUT.CLIP_LENGTH  # the rest from _BASE_


def test_help_shows_the_defaults_without_loading_torch():
    code = (
        "import runpy, sys\n"
        f"sys.argv = ['tune_tracker.py', '--help']\n"
        "try:\n"
        f"    runpy.run_path({TOOL!r}, run_name='__main__')\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('torch' in sys.modules, 'detectron2' in sys.modules)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    out = " ".join(run.stdout.split())
    assert out.endswith("False False")
    assert "random trials per class (default: 250, the paper's)" in out
    assert "--workers N trials scored in parallel, one process each (default:" in out
    assert "OUTPUT_DIR/inference/<dataset>/detections" in out
