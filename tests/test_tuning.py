"""Tracking perfect detections, the threshold search and tools/tune_tracker.py."""
import json
import os
import runpy
import subprocess
import sys

import numpy as np
import pytest
from helpers.tuning_cases import CLASSES, PERFECT, synthetic_sequence

from trackrcnn_d2.data import mots_io
from trackrcnn_d2.evaluation.metrics import MOTSGroundTruth, evaluate_mots
from trackrcnn_d2.tracking import (
    ASSOCIATION_MECHANISMS,
    TrackerParams,
    track_sequence,
    tracks_to_mots_objects,
    write_detection_cache,
)
from trackrcnn_d2.tuning import (
    ThresholdSearch,
    best_per_class,
    config_snippet,
    is_minimised,
    precompute_pair_scores,
    resolve_metric,
    run_trials,
    sample_settings,
)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def synthetic():
    sequences = {f"{i:04d}": synthetic_sequence(f"{i:04d}", i) for i in range(3)}
    gt = {name: seq[0] for name, seq in sequences.items()}
    images = {name: seq[1] for name, seq in sequences.items()}
    detections = {name: seq[2] for name, seq in sequences.items()}
    return gt, images, detections


def reappearances(gt, class_id):
    """Objects of a class that come back after at least one frame of absence (e.g. occluded)."""
    count = 0
    for frames in gt.values():
        seen, previous = set(), set()
        for frame in sorted(frames):
            present = {o.obj_id for o in frames[frame] if o.class_id == class_id}
            count += len((present - previous) & seen)
            seen |= present
            previous = present
    return count


@pytest.mark.parametrize("association", ["maskprop_assoc", "assoc"])
def test_perfect_detections_give_smotsa_100(synthetic, association):
    """Algorithm 1 re-identifies over the whole video; Table 5's "association head" row only
    matches adjacent frames, so there each comeback after a gap is an id switch."""
    gt, _, detections = synthetic
    params = PERFECT.replace(association=association)
    results = {
        name: tracks_to_mots_objects(track_sequence(frames, params))
        for name, frames in detections.items()
    }
    metrics = evaluate_mots(gt, results, CLASSES)
    for name in CLASSES:
        comebacks = reappearances(gt, mots_io.MOTS_CLASS_IDS[name])
        expected_ids = 0 if association == "maskprop_assoc" else comebacks
        assert metrics[name]["GT"] > 0
        assert metrics[name]["IDS"] == expected_ids
        assert metrics[name]["sMOTSA"] == pytest.approx(
            100.0 * (1 - expected_ids / metrics[name]["GT"])
        )
        assert metrics[name]["FP"] == metrics[name]["FN"] == 0


def test_threshold_search_finds_the_working_region(synthetic):
    gt, _, detections = synthetic
    params = PERFECT.replace(association="assoc")
    search = ThresholdSearch(detections, MOTSGroundTruth(gt), params)
    good = search.evaluate(0, {"detection_confidence": 0.5, "assoc_threshold": 0.5})
    too_strict = search.evaluate(0, {"detection_confidence": 0.5, "assoc_threshold": 0.0})
    assert good["sMOTSA"] == pytest.approx(100.0)
    # Every object starts a new track each frame: only the first frames count as correct.
    assert too_strict["IDS"] > 0 and too_strict["sMOTSA"] < good["sMOTSA"]

    settings = [{"detection_confidence": 0.5, "assoc_threshold": t} for t in (0.0, 0.5, 2.0)]
    tasks = [(c, s) for c in (0, 1) for s in settings]
    metrics = run_trials(search, tasks, workers=2, progress=False)
    assert metrics == run_trials(search, tasks, workers=1, progress=False)
    best = best_per_class([(c, s, m) for (c, s), m in zip(tasks, metrics)], "sMOTSA")
    assert best[0][0]["assoc_threshold"] == 0.5 and best[1][0]["assoc_threshold"] == 0.5
    snippet = config_snippet(params, best, "sMOTSA")
    assert "ASSOCIATION: assoc" in snippet
    assert "ASSOC_THRESHOLD: [0.5000, 0.5000]" in snippet
    assert "DETECTION_CONFIDENCE: [0.5000, 0.5000]" in snippet


def test_precomputed_pair_scores_give_the_same_tracks(synthetic):
    _, images, detections = synthetic
    from trackrcnn_d2.tracking import SequenceFlowProvider
    from trackrcnn_d2.tracking.flow import DISFlow

    frames = detections["0001"]
    provider = SequenceFlowProvider(DISFlow(), lambda f: images["0001"][f][:, :, ::-1])
    for association in ("maskprop_assoc", "bbox_iou"):
        params = PERFECT.replace(association=association, maskprop_threshold=(0.5,))
        direct = track_sequence(frames, params, provider)
        cached = track_sequence(
            frames, params, pair_scores=precompute_pair_scores(frames, params, provider)
        )
        assert {f: [o.obj_id for o in objs] for f, objs in direct.items()} == {
            f: [o.obj_id for o in objs] for f, objs in cached.items()
        }


def test_sampled_settings_stay_in_their_ranges():
    rng = np.random.default_rng(0)
    for association in ASSOCIATION_MECHANISMS:
        settings = sample_settings(association, 50, rng, {"detection_confidence": (0.6, 0.7)})
        assert len(settings) == 50
        assert all(0.6 <= s["detection_confidence"] <= 0.7 for s in settings)
    assert set(sample_settings("maskprop_assoc", 1, rng)[0]) == {
        "detection_confidence", "maskprop_threshold", "assoc_threshold"
    }


def test_tune_tracker_tool_end_to_end(synthetic, tmp_path):
    gt, images, detections = synthetic
    for name in ("0000", "0001"):
        write_detection_cache(str(tmp_path / "detections" / f"{name}.npz"), detections[name])
        mots_io.write_mots_txt(
            str(tmp_path / "gt" / f"{name}.txt"), [o for f in gt[name].values() for o in f]
        )
        folder = tmp_path / "images" / name
        folder.mkdir(parents=True)
        import cv2

        for frame, image in enumerate(images[name]):
            cv2.imwrite(str(folder / f"{frame:06d}.png"), image[:, :, ::-1])
    output = tmp_path / "best.yaml"
    command = [
        sys.executable, os.path.join(REPO, "tools", "tune_tracker.py"),
        "--config-file", os.path.join(REPO, "configs", "Base-TrackRCNN.yaml"),
        "--detections", str(tmp_path / "detections"),
        "--gt", str(tmp_path / "gt"),
        "--images", str(tmp_path / "images"),
        "--iterations", "3", "--workers", "2", "--no-progress",
        "--output", str(output),
        "TRACKER_HEADS.FLOW", "dis",
    ]
    run = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    assert run.returncode == 0, run.stderr
    assert "chosen car (smoothed):" in run.stdout and "chosen pedestrian (smoothed):" in run.stdout
    text = output.read_text()
    assert "TRACKER_HEADS:" in text and "MASKPROP_THRESHOLD: [" in text
    from detectron2.config import get_cfg

    from trackrcnn_d2 import add_trackrcnn_config

    cfg = get_cfg()
    add_trackrcnn_config(cfg)
    cfg.merge_from_file(str(output))  # a config on its own: _BASE_ is the tuned config
    base = text.split("_BASE_: ")[1].splitlines()[0].strip('"')
    assert not os.path.isabs(base)  # relative to the yaml's folder: no path of this machine
    assert os.path.samefile(tmp_path / base, os.path.join(REPO, "configs", "Base-TrackRCNN.yaml"))
    assert cfg.OUTPUT_DIR == str(tmp_path)  # an evaluation with it writes beside it
    assert cfg.TRACKER_HEADS.ASSOCIATION == "maskprop_assoc"
    assert cfg.MODEL.META_ARCHITECTURE == "TrackRCNN"
    best_car = [float(v) for v in text.split("DETECTION_CONFIDENCE: [")[1].split("]")[0].split(",")]
    assert list(cfg.TRACKER_HEADS.DETECTION_CONFIDENCE) == pytest.approx(best_car)
    trials = (tmp_path / "best_trials.jsonl").read_text().splitlines()
    assert len(trials) == 6


def test_metrics_are_named_case_insensitively_and_error_counts_minimised():
    assert resolve_metric("smotsa") == "sMOTSA" and resolve_metric("ids") == "IDS"
    with pytest.raises(ValueError, match="unknown metric 'MOTA'; choose one of sMOTSA"):
        resolve_metric("MOTA")
    assert is_minimised("IDS") and is_minimised("fp") and not is_minimised("HOTA")
    trials = [
        (0, {"t": 0.1}, {"IDS": 5, "sMOTSA": 90.0}),
        (0, {"t": 0.2}, {"IDS": 2, "sMOTSA": 80.0}),
    ]
    assert best_per_class(trials, "ids")[0][0] == {"t": 0.2}
    assert best_per_class(trials, "SMOTSA")[0][0] == {"t": 0.1}


def test_the_search_reports_what_the_evaluation_reports(synthetic):
    """Searched alone, evaluated together: with disjoint perfect detections both give 100."""
    gt, _, detections = synthetic
    search = ThresholdSearch(detections, MOTSGroundTruth(gt), PERFECT, metric="smotsa")
    assert search.metric == "sMOTSA"
    together = search.evaluate_together(PERFECT)
    expected = evaluate_mots(
        gt,
        {n: tracks_to_mots_objects(track_sequence(f, PERFECT)) for n, f in detections.items()},
        CLASSES,
    )
    for name in CLASSES:
        assert together[name]["sMOTSA"] == expected[name]["sMOTSA"] == 100.0


@pytest.fixture
def tool_inputs(synthetic, tmp_path):
    """The tool's inputs as an evaluation leaves them: ``OUTPUT_DIR/inference/tiny_train/
    detections`` of two sequences, and their ground truth."""
    gt, _, detections = synthetic
    inference = tmp_path / "output" / "inference" / "tiny_train"
    for name in ("0000", "0001"):
        write_detection_cache(str(inference / "detections" / f"{name}.npz"), detections[name])
        mots_io.write_mots_txt(
            str(tmp_path / "gt" / f"{name}.txt"), [o for f in gt[name].values() for o in f]
        )
    return tmp_path


def run_tool(tmp_path, *arguments):
    """``main`` of tools/tune_tracker.py, in this process (one worker, no images: no flow)."""
    main = runpy.run_path(os.path.join(REPO, "tools", "tune_tracker.py"))["main"]
    main([
        "--config-file", os.path.join(REPO, "configs", "Base-TrackRCNN.yaml"),
        "--detections", str(tmp_path / "output" / "inference" / "tiny_train" / "detections"),
        "--gt", str(tmp_path / "gt"),
        "--iterations", "3", "--workers", "1", "--no-progress",
        *arguments,
        "OUTPUT_DIR", str(tmp_path / "output"),
    ])


def test_the_tool_writes_outside_the_evaluation_folder_and_keeps_earlier_results(
    tool_inputs, capsys
):
    run_tool(tool_inputs, "--metric", "smotsa", "--classes", "car,pedestrian")
    printed = capsys.readouterr().out
    folder = tool_inputs / "output" / "tracker_search" / "tiny_train"
    config = folder / "tracker_thresholds.yaml"
    assert config.is_file() and (folder / "tracker_thresholds_trials.jsonl").is_file()
    assert "maximising sMOTSA" in printed and "chosen pedestrian (smoothed):" in printed
    assert "all classes together (as evaluated)" in printed
    assert "with all classes tracked together (as evaluated)" in config.read_text()

    config.write_text("# an earlier search\n")
    with pytest.raises(SystemExit) as exit_info:
        run_tool(tool_inputs)
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert error.startswith("tune_tracker.py: error: ") and error.count("\n") == 1
    assert "tracker_thresholds.yaml exists (an earlier search); pass --overwrite" in error
    assert config.read_text() == "# an earlier search\n"
    run_tool(tool_inputs, "--overwrite")
    assert "TRACKER_HEADS:" in config.read_text()


def test_the_tool_minimises_id_switches_for_the_given_classes(tool_inputs, capsys):
    output = tool_inputs / "ids.yaml"
    run_tool(tool_inputs, "--metric", "IDS", "--classes", "car", "--output", str(output))
    assert "minimising IDS" in capsys.readouterr().out
    trials = [
        json.loads(line)
        for line in (tool_inputs / "ids_trials.jsonl").read_text().splitlines()
    ]
    assert {t["class"] for t in trials} == {"car"}
    fewest = min(t["metrics"]["IDS"] for t in trials)
    assert f"# car: IDS {fewest:.2f} tracked alone" in output.read_text()


def test_the_tool_refuses_an_unknown_metric_before_any_work(tool_inputs, capsys):
    with pytest.raises(SystemExit) as exit_info:
        run_tool(tool_inputs, "--metric", "MOTA")
    assert exit_info.value.code == 2
    assert "unknown metric 'MOTA'" in capsys.readouterr().err
    assert not (tool_inputs / "output" / "tracker_search").exists()


@pytest.mark.parametrize(
    "name",
    sorted(
        n for n in os.listdir(os.path.join(REPO, "configs", "ablations"))
        if n.startswith("association_")
    ),
)
def test_table5_ablation_configs_build_tracker_params(name):
    from detectron2.config import get_cfg

    from trackrcnn_d2 import add_trackrcnn_config

    cfg = get_cfg()
    add_trackrcnn_config(cfg)
    cfg.merge_from_file(os.path.join(REPO, "configs", "ablations", name))
    params = TrackerParams.from_config(cfg)
    assert params.association in ASSOCIATION_MECHANISMS
    assert name.startswith(f"association_{params.association}")
