"""The README's "Using the components in your own detectron2 project" is a tested recipe: its
code blocks are the files in examples/, quoted verbatim. Each runs here on a tiny synthetic MOTS
set (a narrow network on the CPU, given as the examples' trailing KEY VALUE overrides) to check
what it does, and each runs its documented offline command (its header comment) as written, in
a fresh process without a GPU or internet, on a small copy of the embedded synthetic set."""
import glob
import json
import os
import re
import runpy
import shlex
import subprocess
import sys

import pytest
from helpers.readme_cases import write_ground_truth_as_results

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
            "SOLVER.MAX_ITER", "1",
            "SOLVER.BASE_LR", "0.0001",
            *SMALL_MODEL,
        ],
        monkeypatch,
    )
    assert type(namespace["model"]).__name__ == "TrackRCNN"
    assert type(namespace["model"].roi_heads).__name__ == "TrackStandardROIHeads"
    trainer = namespace["trainer"]
    assert trainer.iter == 1  # SOLVER.MAX_ITER iterations done
    losses = trainer.storage.histories()
    assert "loss_assoc" in losses and "loss_mask" in losses


# The LazyConfig example at reduced cost on the tiny set: the shipped R50-FPN model itself, on
# clips of two 64 x 128 frames with few proposals, by detectron2's key=value overrides.
LAZY_SMALL_RUN = [
    "train.device=cpu", "train.max_iter=1", 'train.init_checkpoint=""',
    "dataloader.train.clip_length=2", "dataloader.train.total_batch_size=2",
    "dataloader.train.num_workers=0", "dataloader.test.num_workers=0",
    "dataloader.train.mapper.augmentations.0.target_height=64",
    "dataloader.train.mapper.augmentations.0.target_width=128",
    "dataloader.train.mapper.augmentations.1.crop_size=[64,128]",
    "dataloader.test.mapper.augmentations.0.short_edge_length=64",
    "dataloader.test.mapper.augmentations.0.max_size=128",
    "model.roi_heads.batch_size_per_image=8", "model.roi_heads.box_predictor.test_topk_per_image=4",
    "model.proposal_generator.pre_nms_topk=[200,200]",
    "model.proposal_generator.post_nms_topk=[32,16]",
]


def test_the_lazyconfig_is_trained_and_evaluated(tiny_set, tmp_path, monkeypatch, capsys):
    from trackrcnn_d2.data import mots_io
    from trackrcnn_d2.evaluation import evaluate_mots

    root, prefix = tiny_set
    namespace = run_example(
        "train_with_lazyconfig.py",
        [
            *LAZY_SMALL_RUN, f"train.output_dir={tmp_path}",
            f"dataloader.train.dataset.names={prefix}_train",
            f"dataloader.test.dataset.names={prefix}_val",
        ],
        monkeypatch,
    )  # fmt: skip
    model, trainer = namespace["model"], namespace["trainer"]
    assert type(model).__name__ == "TrackRCNN"
    assert type(model.backbone.frame_backbone).__name__ == "FPN"
    assert trainer.iter == 1 and "loss_assoc" in trainer.storage.histories()  # max_iter done
    # The printed figures are those of the tracks it wrote.
    folder = tmp_path / "inference" / f"{prefix}_val"
    written = {"0003": mots_io.read_mots_txt(str(folder / "0003.txt"))}
    ground_truth = mots_io.load_mots_ground_truth(str(root / "instances_txt"), ["0003"])
    expected = evaluate_mots(ground_truth, written, ["car", "pedestrian"])
    reported = namespace["results"]["mots"]
    assert reported["sMOTSA/car"] == pytest.approx(expected["car"]["sMOTSA"])
    assert "sMOTSA/pedestrian" in capsys.readouterr().out


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


class PerfectDetector:
    """Stands in for ``DefaultPredictor(cfg)`` in the tracking example: the ground truth of the
    val sequence (0003), frame after frame, as a detector's ``Instances`` (score 1), each with
    its ground-truth obj_id in ``gt_obj_id`` so that the test can check the tracks."""

    ground_truth = {}  # {frame: [MOTSObject]}, set by the test

    def __init__(self, cfg):
        self.frame = 0

    def __call__(self, image):
        import numpy as np
        import pycocotools.mask as mask_utils
        import torch
        from detectron2.structures import Boxes, Instances

        objects = [o for o in self.ground_truth.get(self.frame, []) if o.class_id in (1, 2)]
        self.frame += 1
        instances = Instances(image.shape[:2])
        boxes = mask_utils.toBbox([o.rle for o in objects]).reshape(-1, 4)
        boxes[:, 2:] += boxes[:, :2]
        instances.pred_boxes = Boxes(torch.tensor(boxes, dtype=torch.float32))
        instances.scores = torch.ones(len(objects))
        instances.pred_classes = torch.tensor([o.class_id - 1 for o in objects], dtype=torch.int64)
        masks = np.stack([mask_utils.decode(o.rle) for o in objects]) if objects else np.zeros(
            (0, *image.shape[:2]), np.uint8
        )
        instances.pred_masks = torch.from_numpy(masks.astype(bool))
        instances.gt_obj_id = torch.tensor([o.obj_id for o in objects], dtype=torch.int64)
        return {"instances": instances}


def test_the_tracker_runs_in_detectrons_tracking_api(tiny_set, monkeypatch, capsys):
    import detectron2.engine

    from trackrcnn_d2.data import mots_io
    from trackrcnn_d2.tracking.tracker_head import TrackRCNNTracker

    root, _ = tiny_set
    PerfectDetector.ground_truth = mots_io.read_mots_txt(str(root / "instances_txt" / "0003.txt"))
    monkeypatch.setattr(detectron2.engine, "DefaultPredictor", PerfectDetector)
    tracked_frames = []
    update = TrackRCNNTracker.update

    def recording_update(self, instances, image=None):
        tracked_frames.append(update(self, instances, image=image))
        return tracked_frames[-1]

    monkeypatch.setattr(TrackRCNNTracker, "update", recording_update)
    frames = root / "training" / "image_02" / "0003"
    run_example("track_with_detectron2_api.py", [str(frames), *SMALL_MODEL], monkeypatch)
    printed = capsys.readouterr().out.splitlines()
    assert len(tracked_frames) == len(printed) == len(list(frames.glob("*.png")))
    assert printed[0].startswith("000000.png IDs [")
    # Perfect detections: one ID per ground-truth object while it stays in view, never shared.
    object_of_id, id_in_previous_frame = {}, {}
    for tracked in tracked_frames:
        pairs = dict(zip(tracked.gt_obj_id.tolist(), tracked.ID))
        for gt_obj_id, track_id in pairs.items():
            assert object_of_id.setdefault(track_id, gt_obj_id) == gt_obj_id
            if gt_obj_id in id_in_previous_frame:
                assert id_in_previous_frame[gt_obj_id] == track_id
        id_in_previous_frame = pairs
    assert len(object_of_id) >= 2 and max(max(t.ID_period, default=0) for t in tracked_frames) > 1


def documented_command(name):
    """The offline command in the header comment of examples/<name> (continuation lines
    joined), as a list of arguments."""
    with open(example_path(name), encoding="utf-8") as f:
        header = "".join(line[1:] for line in f if line.startswith("#"))
    match = re.search(r"^ +(python examples/\S+(?:[^\n]*\\\n)*[^\n]*)$", header, flags=re.M)
    assert match, f"examples/{name} documents no offline command"
    return shlex.split(match.group(1).replace("\\\n", " "))


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """A working directory as after `make demo`: datasets/synthetic_mots (the embedded set's
    24 sequences and splits, 4 frames each at 64 x 128) and the demo's validation tracks (here:
    the ground truth) in output/demo/inference/synthetic_mots_val."""
    from trackrcnn_d2.data.synthetic import generate_synthetic_mots

    root = tmp_path_factory.mktemp("workspace")
    data = root / "datasets" / "synthetic_mots"
    splits = generate_synthetic_mots(str(data), sequences=24, frames=4, height=64, width=128)
    tracks = root / "output" / "demo" / "inference" / "synthetic_mots_val"
    tracks.mkdir(parents=True)
    write_ground_truth_as_results(data / "instances_txt", tracks)
    for sequence in splits["train"]:
        os.remove(tracks / f"{sequence}.txt")
    return root


def run_documented(name, workspace, *extra):
    """examples/<name>'s documented command, from ``workspace``, in a process that sees no GPU
    (CUDA_VISIBLE_DEVICES empty) and no proxy; ``extra`` overrides bound the work."""
    arguments = documented_command(name)
    environment = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    environment.update(CUDA_VISIBLE_DEVICES="", DETECTRON2_DATASETS="datasets")
    return subprocess.run(
        [sys.executable, os.path.join(REPO, arguments[1]), *arguments[2:], *extra],
        capture_output=True, text=True, cwd=workspace, env=environment,
    )


def test_every_example_documents_an_offline_command():
    for path in sorted(glob.glob(example_path("*.py"))):
        name = os.path.basename(path)
        assert documented_command(name)[:2] == ["python", f"examples/{name}"]


@pytest.mark.timeout(900)  # a training of a full-size R50-FPN: 60 s idle, 365 s at a load of 14
@pytest.mark.parametrize(
    "name, extra, expected",
    [
        ("load_shipped_config.py", [], ""),
        # Two iterations from scratch (clips of 4 frames here: the sequences are 4 frames long):
        # a NaN or inf loss would stop detectron2's trainer.
        ("train_own_mask_rcnn_as_trackrcnn.py",
         ["SOLVER.MAX_ITER", "2", "INPUT.CLIP_LENGTH", "4", "SOLVER.IMS_PER_BATCH", "4"], ""),
        ("evaluate_mask_rcnn_on_mots.py", ["TEST.DETECTIONS_PER_IMAGE", "5"],
         "synthetic_mots_val {'sMOTSA/car'"),
        ("track_with_detectron2_api.py", ["TEST.DETECTIONS_PER_IMAGE", "5"], "000003.png IDs"),
        ("evaluate_result_folders.py", [], "car: sMOTSA 100.0 HOTA 100.0 IDS 0"),
    ],
)  # fmt: skip
def test_the_documented_offline_command_runs(workspace, name, extra, expected):
    run = run_documented(name, workspace, *extra)
    assert run.returncode == 0, run.stderr[-3000:]
    assert expected in run.stdout
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize(
    "name, arguments, message",
    [
        ("load_shipped_config.py", ["MODEL.DEVICE"], "Override list has odd length"),
        ("load_shipped_config.py", ["MODEL.DEVICES", "cpu"], "Non-existent key: MODEL.DEVICES"),
        ("train_own_mask_rcnn_as_trackrcnn.py", ["MODEL.WEIGHTS", ""],
         "kitti_mots"),  # the default dataset, absent here
        ("evaluate_mask_rcnn_on_mots.py",
         ["DATASETS.TEST", "('synthetic_mots_val',)",
          "MODEL.WEIGHTS", "https://example.invalid/model_final.pkl"],
         "cannot download https://example.invalid/model_final.pkl"),
        ("track_with_detectron2_api.py",
         ["datasets/synthetic_mots/training/image_02/0018",
          "MODEL.WEIGHTS", "https://example.invalid/model_final.pkl"], "download failed"),
        ("track_with_detectron2_api.py", [], "the following arguments are required: FRAME_FOLDER"),
        ("track_with_detectron2_api.py", ["datasets"], "no .png frames in datasets"),
        ("evaluate_result_folders.py", ["datasets/synthetic_mots/instances_txt", "missing"],
         "missing"),
        ("evaluate_result_folders.py", [], "the following arguments are required: GT_FOLDER"),
    ],
)  # fmt: skip
def test_mistakes_end_in_one_line_without_a_traceback(workspace, name, arguments, message):
    environment = dict(os.environ, CUDA_VISIBLE_DEVICES="", DETECTRON2_DATASETS="datasets")
    run = subprocess.run(
        [sys.executable, example_path(name), *arguments],
        capture_output=True, text=True, cwd=workspace, env=environment,
    )
    assert run.returncode == 2, run.stderr[-3000:]
    errors = [line for line in run.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and message in errors[0], run.stderr[-3000:]
    assert "Traceback" not in run.stderr
