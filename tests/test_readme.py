"""The README's "Using the components in your own detectron2 project" is a tested recipe: its
code blocks are the files in examples/, quoted verbatim, and each runs here on a tiny synthetic
MOTS set (a narrow network on the CPU, given as the examples' trailing KEY VALUE overrides)."""
import glob
import json
import os
import re
import runpy
import sys

import pytest
from readme_cases import write_ground_truth_as_results

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECTION = "## Using the components in your own detectron2 project"
# The examples' models, made small enough to run in seconds on a CPU (64 x 128 frames, a narrow
# ResNet-50 with BatchNorm, since nothing is pre-trained), and no weights to download.
SMALL_MODEL = [
    "MODEL.DEVICE", "cpu",
    "MODEL.WEIGHTS", "",
    "MODEL.RESNETS.NORM", "BN",
    "MODEL.RESNETS.STEM_OUT_CHANNELS", "16",
    "MODEL.RESNETS.WIDTH_PER_GROUP", "8",
    "MODEL.RESNETS.RES2_OUT_CHANNELS", "32",
    "MODEL.FPN.OUT_CHANNELS", "16",
    "MODEL.RPN.POST_NMS_TOPK_TRAIN", "64",
    "MODEL.RPN.POST_NMS_TOPK_TEST", "32",
    "MODEL.ROI_HEADS.BATCH_SIZE_PER_IMAGE", "32",
    "MODEL.ROI_BOX_HEAD.FC_DIM", "32",
    "MODEL.ROI_MASK_HEAD.CONV_DIM", "16",
    "TEST.DETECTIONS_PER_IMAGE", "8",
    "INPUT.MIN_SIZE_TRAIN", "(64,)",
    "INPUT.MAX_SIZE_TRAIN", "128",
    "INPUT.MIN_SIZE_TEST", "64",
    "INPUT.MAX_SIZE_TEST", "128",
    "DATALOADER.NUM_WORKERS", "0",
]


def example_path(name):
    return os.path.join(REPO, "examples", name)


def readme_section_blocks():
    """The python code blocks of the README's reuse section."""
    with open(os.path.join(REPO, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    assert SECTION in readme
    section = readme.split(SECTION, 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def test_the_readme_quotes_every_example_and_nothing_else():
    examples = {}
    for path in sorted(glob.glob(example_path("*.py"))):
        with open(path, encoding="utf-8") as f:
            examples[os.path.basename(path)] = f.read()
    blocks = readme_section_blocks()
    for name, text in examples.items():
        assert text in blocks, f"README.md does not quote examples/{name} verbatim"
    assert len(blocks) == len(examples), "a README snippet that is not an example is not tested"


@pytest.fixture(scope="module")
def tiny_set(tmp_path_factory):
    """``(root, prefix)``: a synthetic MOTS set (3 train, 1 val sequence of 8 frames at 64 x 128)
    registered as ``<prefix>_train`` / ``<prefix>_val``."""
    import trackrcnn_d2
    from trackrcnn_d2.data.builtin import register_synthetic_mots
    from trackrcnn_d2.data.synthetic import generate_synthetic_mots

    trackrcnn_d2.register_all()
    root = tmp_path_factory.mktemp("readme_synthetic")
    generate_synthetic_mots(str(root), sequences=4, frames=8, height=64, width=128, seed=7)
    register_synthetic_mots("test_readme_synthetic", str(root))
    return root, "test_readme_synthetic"


def run_example(name, arguments, monkeypatch):
    """Run examples/<name> as ``python examples/<name> ARGUMENTS``; its global namespace."""
    monkeypatch.setattr(sys, "argv", [example_path(name), *arguments])
    return runpy.run_path(example_path(name), run_name="__main__")


def test_a_shipped_config_builds_from_another_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace = run_example("load_shipped_config.py", ["MODEL.DEVICE", "cpu"], monkeypatch)
    model = namespace["model"]
    assert type(model).__name__ == "TrackRCNN"
    assert namespace["cfg"].MODEL.RESNETS.DEPTH == 101


def test_a_mask_rcnn_config_turned_into_trackrcnn_trains(tiny_set, monkeypatch):
    _, prefix = tiny_set
    namespace = run_example(
        "train_own_mask_rcnn_as_trackrcnn.py",
        [
            "DATASETS.TRAIN", f"('{prefix}_train',)",
            "INPUT.CLIP_LENGTH", "2",
            "SOLVER.IMS_PER_BATCH", "2",
            "SOLVER.MAX_ITER", "2",
            "SOLVER.BASE_LR", "0.0001",
            *SMALL_MODEL,
        ],
        monkeypatch,
    )
    assert type(namespace["model"]).__name__ == "TrackRCNN"
    assert type(namespace["model"].roi_heads).__name__ == "TrackStandardROIHeads"
    trainer = namespace["trainer"]
    assert trainer.iter == 2  # SOLVER.MAX_ITER iterations done
    losses = trainer.storage.histories()
    assert "loss_assoc" in losses and "loss_mask" in losses


def test_a_plain_mask_rcnn_is_evaluated_by_the_mots_evaluator(tiny_set, tmp_path, monkeypatch):
    from trackrcnn_d2.data import mots_io
    from trackrcnn_d2.evaluation import evaluate_mots

    root, prefix = tiny_set
    namespace = run_example(
        "evaluate_mask_rcnn_on_mots.py",
        ["DATASETS.TEST", f"('{prefix}_val',)", "OUTPUT_DIR", str(tmp_path), *SMALL_MODEL],
        monkeypatch,
    )
    assert type(namespace["model"]).__name__ == "GeneralizedRCNN"
    folder = tmp_path / "inference" / f"{prefix}_val"
    assert (folder / "0003.txt").is_file()
    # The figures it reports are those of the tracks it wrote.
    written = {"0003": mots_io.read_mots_txt(str(folder / "0003.txt"))}
    ground_truth = mots_io.load_mots_ground_truth(str(root / "instances_txt"), ["0003"])
    expected = evaluate_mots(ground_truth, written, ["car", "pedestrian"])
    reported = namespace["results"]["mots"]
    for name in ("car", "pedestrian"):
        assert reported[f"sMOTSA/{name}"] == pytest.approx(expected[name]["sMOTSA"])
        assert reported[f"IDS/{name}"] == expected[name]["IDS"]
    assert json.loads((folder / "mots_metrics.json").read_text())["car"]["GT"] > 0


def test_result_folders_are_evaluated_from_python(tiny_set, tmp_path, monkeypatch, capsys):
    root, _ = tiny_set
    write_ground_truth_as_results(root / "instances_txt", tmp_path)
    namespace = run_example(
        "evaluate_result_folders.py", [str(root / "instances_txt"), str(tmp_path)], monkeypatch
    )
    metrics = namespace["metrics"]
    assert set(metrics["per_sequence"]) == {"0000", "0001", "0002", "0003"}
    printed = capsys.readouterr().out.splitlines()
    for name in ("car", "pedestrian"):
        assert metrics[name]["GT"] > 0 and metrics[name]["sMOTSA"] == 100.0
        assert f"{name}: sMOTSA 100.0 HOTA 100.0 IDS 0" in printed
