"""demo.py on short synthetic clips: tracks in KITTI MOTS txt, rendered frames or video, the
COCO Mask R-CNN + maskprop config, and every kind of bad input ending in one message.

Two models with random weights saved as checkpoints, at 64 x 128 pixels: the demo config's
TrackR-CNN and the COCO config's plain Mask R-CNN (80 classes). With the score thresholds at 0
they report detections, which is what the plumbing needs.
"""
import os
import subprocess

import cv2
import numpy as np
import pytest
import torch
from detectron2.checkpoint import DetectionCheckpointer
from detectron2.modeling import build_model
from helpers.demo_cases import CONFIG, OPTS, save_random_weights

import demo
from trackrcnn_d2.data import mots_io
from trackrcnn_d2.data.synthetic import render_sequence
from trackrcnn_d2.utils.cli import load_config
from trackrcnn_d2.utils.rle import decode_mask

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

COCO_CONFIG = os.path.join(REPO, "configs", "coco_mask_rcnn_R_50_FPN_maskprop.yaml")
NUM_FRAMES = 5
COCO_OPTS = OPTS + [
    "MODEL.RPN.PRE_NMS_TOPK_TEST", "100", "MODEL.RPN.POST_NMS_TOPK_TEST", "20",
    "TEST.DETECTIONS_PER_IMAGE", "20",
]  # fmt: skip
# COCO's contiguous ids (detectron2's thing_classes order).
PERSON, CAR, DOG = 0, 2, 16


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    return save_random_weights(tmp_path_factory.mktemp("model"))


@pytest.fixture(scope="module")
def coco_weights(tmp_path_factory):
    """A random COCO-shaped Mask R-CNN (R50-FPN, 80 classes) whose detections are persons, cars
    and dogs: the dogs are what the class map must drop."""
    folder = tmp_path_factory.mktemp("coco_model")
    torch.manual_seed(0)
    model = build_model(load_config(COCO_CONFIG, COCO_OPTS + ["MODEL.DEVICE", "cpu"]))
    with torch.no_grad():
        # Zero-initialised residual branches: FrozenBN with random convolutions would grow the
        # activations by orders of magnitude per block (slow denormal arithmetic, saturated
        # scores).
        for name, module in model.named_modules():
            if name.endswith("conv3.norm"):
                module.weight.zero_()
        # Scores dominated by three classes, the boxes' features deciding between them.
        classifier = model.roi_heads.box_predictor.cls_score
        classifier.weight.mul_(0.1)
        classifier.bias[[PERSON, CAR]] += 6.0
        classifier.bias[DOG] += 5.0
        # Masks filling their boxes (random ones have a few pixels, below MIN_MASK_AREA).
        masks = model.roi_heads.mask_head.predictor
        masks.weight.mul_(0.01)
        masks.bias += 4.0
    DetectionCheckpointer(model, save_dir=str(folder)).save("coco_random")
    return str(folder / "coco_random.pth")


@pytest.fixture(scope="module")
def images():
    """Five RGB frames of a synthetic sequence (64 x 128)."""
    frames, _ = render_sequence(0, NUM_FRAMES, 64, 128, seed=5)
    return frames


@pytest.fixture(scope="module")
def video(images, tmp_path_factory):
    path = str(tmp_path_factory.mktemp("video") / "street.mp4")
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"mp4v"), 5.0, (128, 64))
    for image in images:
        writer.write(image[:, :, ::-1])
    writer.release()
    return path


@pytest.fixture(scope="module")
def frame_folder(images, tmp_path_factory):
    """The frames as KITTI-style numbered PNG files, starting at 000001."""
    folder = tmp_path_factory.mktemp("frames") / "0042"
    folder.mkdir()
    for i, image in enumerate(images, start=1):
        cv2.imwrite(str(folder / f"{i:06d}.png"), image[:, :, ::-1])
    return str(folder)


def _demo(input_path, output, weights, *flags, config=CONFIG, opts=OPTS):
    """demo.py on ``input_path`` (a path, or a list of them)."""
    inputs = [input_path] if isinstance(input_path, str) else list(input_path)
    demo.main(
        ["--config-file", config, "--input", *inputs, "--output", str(output), *flags,
         *opts, "MODEL.WEIGHTS", weights]
    )  # fmt: skip


def _refused(capsys, run, *args, **kwargs) -> str:
    """Run ``run``; it must stop with exit status 2 and one message, no traceback (after the
    progress bar when the mistake shows while tracking). Returns the message."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as stopped:
        run(*args, **kwargs)
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    message = err.rstrip("\n").split("\n")[-1]
    assert message.startswith("demo.py: error: "), err
    return message


def _check_tracks(txt_path, frame_numbers):
    tracks = mots_io.read_mots_txt(str(txt_path))
    assert tracks, "no tracks written"
    assert set(tracks) <= set(frame_numbers)
    for objects in tracks.values():
        assert all(o.class_id in (mots_io.CAR, mots_io.PEDESTRIAN) for o in objects)
        assert all(o.obj_id // 1000 == o.class_id for o in objects)
        assert all(o.rle["size"] == [64, 128] for o in objects)
        assert len({o.obj_id for o in objects}) == len(objects)
        # MOTS requires disjoint masks (paper Sec. 4).
        masks = np.stack([decode_mask(o.rle) for o in objects])
        assert masks.sum(axis=0).max() <= 1
    return tracks


def _visible(folder):
    """The output folder's entries but the hidden ones (demo.py's records of each video)."""
    return sorted(n for n in os.listdir(folder) if not n.startswith("."))


def _count_video_frames(path):
    rendered = cv2.VideoCapture(str(path))
    count = 0
    while rendered.read()[0]:
        count += 1
    return count


def test_video_gives_tracks_and_a_rendered_video(video, weights, tmp_path):
    output = tmp_path / "out"
    _demo(video, output, weights)
    assert _visible(output) == ["street.mp4", "street.txt"]
    _check_tracks(output / "street.txt", range(NUM_FRAMES))
    assert _count_video_frames(output / "street.mp4") == NUM_FRAMES


def test_frame_folder_keeps_frame_numbers_and_renders_png_frames(frame_folder, weights, tmp_path):
    output = tmp_path / "out"
    _demo(frame_folder, output, weights, "--render-scale", "2")
    frame_numbers = range(1, NUM_FRAMES + 1)
    tracks = _check_tracks(output / "0042.txt", frame_numbers)
    rendered = sorted(os.listdir(output / "frames" / "0042"))
    assert rendered == [f"{i:06d}.png" for i in frame_numbers]
    frame, objects = next(iter(tracks.items()))
    original = cv2.imread(os.path.join(frame_folder, f"{frame:06d}.png"))
    drawn = cv2.imread(str(output / "frames" / "0042" / f"{frame:06d}.png"))
    assert drawn.shape == (128, 256, 3)
    drawn = cv2.resize(drawn, (128, 64), interpolation=cv2.INTER_AREA)
    mask = decode_mask(objects[0].rle).astype(bool)
    assert np.abs(drawn[mask].astype(int) - original[mask].astype(int)).mean() > 10


def test_coco_mask_rcnn_tracks_a_video_part_as_pedestrians_and_cars(
    video, coco_weights, tmp_path, capsys
):
    """The README's command with the COCO config, on frames 1-3 of the video (--start 1
    --max-frames 3): the frames keep their numbers in the video, the masks are tracked by mask
    propagation, and only persons and cars come out (as MOTS pedestrians and cars)."""
    output = tmp_path / "out"
    _demo(video, output, coco_weights, "--start", "1", "--max-frames", "3",
          config=COCO_CONFIG, opts=COCO_OPTS)  # fmt: skip
    tracks = _check_tracks(output / "street.txt", range(1, 4))
    assert set(tracks) == {1, 2, 3}
    # COCO person (0) and car (2) became MOTS pedestrian (2) and car (1), not car and nothing.
    assert {o.class_id for objects in tracks.values() for o in objects} == {1, 2}
    assert _count_video_frames(output / "street.mp4") == 3
    assert "frames/s" in capsys.readouterr().err  # the progress bar's speed


def test_association_without_an_association_head_is_refused_at_start(
    video, coco_weights, tmp_path, capsys
):
    for mechanism in ("maskprop_assoc", "assoc"):
        err = _refused(
            capsys, _demo, video, tmp_path / "out", coco_weights, config=COCO_CONFIG,
            opts=COCO_OPTS + ["TRACKER_HEADS.ASSOCIATION", mechanism],
        )  # fmt: skip
        assert f"TRACKER_HEADS.ASSOCIATION {mechanism!r}" in err
        assert "no association head" in err
        assert not (tmp_path / "out").exists()


def test_existing_output_is_refused_unless_overwrite(frame_folder, weights, tmp_path, capsys):
    output = tmp_path / "out"
    output.mkdir()
    (output / "old.txt").write_text("an earlier result\n")
    assert "--overwrite" in _refused(capsys, _demo, frame_folder, output, weights)
    assert os.listdir(output) == ["old.txt"]
    _demo(frame_folder, output, weights, "--overwrite", "--render", "none", "--max-frames", "1")
    assert _visible(output) == ["0042.txt"]


def test_output_that_is_a_file_is_refused_unless_overwrite(frame_folder, weights, tmp_path, capsys):
    """Issue 12, worst case 1: the file was deleted and replaced by a folder, with exit 0."""
    output = tmp_path / "o8"
    output.write_text("not a folder\n")
    assert "is an existing file" in _refused(capsys, _demo, frame_folder, output, weights)
    assert output.read_text() == "not a folder\n"
    _demo(frame_folder, output, weights, "--overwrite", "--render", "none", "--max-frames", "1")
    assert _visible(output) == ["0042.txt"]


def test_output_holding_the_input_is_refused_even_with_overwrite(
    frame_folder, weights, capsys
):
    parent = os.path.dirname(frame_folder)
    for output in (frame_folder, parent):
        err = _refused(capsys, _demo, frame_folder, output, weights, "--overwrite")
        assert "would replace" in err
    assert len(os.listdir(frame_folder)) == NUM_FRAMES


def test_bad_inputs_end_in_one_message(
    frame_folder, video, weights, coco_weights, tmp_path, capsys
):
    out = tmp_path / "out"
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"this is not a video")
    corrupt_weights = tmp_path / "model.pth"
    corrupt_weights.write_bytes(b"PK\x03\x04 truncated")
    bad_png = tmp_path / "bad_frames"
    bad_png.mkdir()
    with open(os.path.join(frame_folder, "000001.png"), "rb") as good:
        (bad_png / "000000.png").write_bytes(good.read())
    (bad_png / "000001.png").write_bytes(b"\x89PNG truncated")
    mixed = tmp_path / "mixed_frames"
    mixed.mkdir()
    first = cv2.imread(os.path.join(frame_folder, "000001.png"))
    cv2.imwrite(str(mixed / "000000.png"), first)
    cv2.imwrite(str(mixed / "000001.png"), first)
    cv2.imwrite(str(mixed / "000002.png"), cv2.resize(first, (96, 48)))
    cases = [
        ((str(broken), out, weights), "broken.mp4: cannot open this video"),
        ((str(tmp_path / "missing.mp4"), out, weights), "no such video, folder of frames or list"),
        ((str(bad_png), out, weights), "000001.png: cannot read this image"),
        ((str(mixed), out, weights), "000002.png: frame 2 is 96 x 48 pixels, but the first"),
        ((frame_folder, out, str(tmp_path / "missing.pth")), "missing.pth not found"),
        ((frame_folder, out, str(tmp_path)), f"checkpoint {tmp_path} is a folder (MODEL.WEIGHTS"),
        ((frame_folder, out, str(corrupt_weights)), "model.pth cannot be read as a checkpoint"),
        ((frame_folder, out, ""), "MODEL.WEIGHTS is empty"),
        ((frame_folder, out, coco_weights), "coco_random.pth does not fit the model"),
        ((video, out, weights, "--start", "5"), "--start 5: "),
        ((frame_folder, tmp_path / "broken.mp4" / "out", weights), "cannot create a folder in"),
    ]
    for args, message in cases:
        assert message in _refused(capsys, _demo, *args), message
        assert not out.exists()
    for config, message in [
        (str(tmp_path / "missing.yaml"), "missing.yaml not found"),
        (str(broken), "broken.mp4"),
    ]:
        assert message in _refused(capsys, _demo, frame_folder, out, weights, config=config)
    for flag, message in [
        (["--start", "-1"], "argument --start: expected a whole number >= 0"),
        (["--max-frames", "0"], "argument --max-frames: expected a whole number >= 1"),
        (["--render-scale", "0"], "argument --render-scale: expected a number > 0"),
    ]:
        assert message in _refused(capsys, _demo, frame_folder, out, weights, *flag)
    for override, message in [
        (["TRACKER_HEADS.MIN_SCORE", "nan"], "TRACKER_HEADS.MIN_SCORE must be a finite number "
         "from 0 to 1, got nan"),
        (["TRACKER_HEADS.KEEP_ALIVE", "[4, -1]"], "every value of TRACKER_HEADS.KEEP_ALIVE must "
         "be a whole number >= 0, got -1 in [4, -1]"),
    ]:
        err = _refused(capsys, _demo, frame_folder, out, weights, opts=OPTS + override)
        assert err == f"demo.py: error: command line: {message}"
        assert not out.exists()
    opts = OPTS + ["TRACKER_HEADS.ASSOCIATION", "hungarian"]
    assert "Unknown association mechanism" in _refused(
        capsys, _demo, frame_folder, out, weights, opts=opts
    )
    # The right architecture at another width: random layers, once tracked without a word.
    opts = OPTS + ["MODEL.FPN.OUT_CHANNELS", "64"]
    err = _refused(capsys, _demo, frame_folder, out, weights, opts=opts)
    assert f"{weights} does not fit the model of this config: " in err
    assert "have other shapes (backbone.frame_backbone.fpn_lateral2.weight" in err
    assert not out.exists()


def test_a_video_ending_before_its_stated_length_is_an_error(weights, tmp_path, capsys):
    """Issue 12, worst case 5: the frames that could be read were tracked and reported as
    success."""
    whole = tmp_path / "whole.avi"
    # MJPG in AVI: the header states the frame count, so a cut file still opens.
    writer = cv2.VideoWriter(str(whole), cv2.VideoWriter_fourcc(*"MJPG"), 5.0, (128, 64))
    for i in range(10):
        writer.write(np.full((64, 128, 3), 20 * i, np.uint8))
    writer.release()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(whole.read_bytes()[: int(whole.stat().st_size * 0.8)])
    err = _refused(capsys, _demo, str(cut), tmp_path / "out", weights, "--render", "none")
    assert "cut.avi: the video ends after frame" in err and "states 10 frames" in err
    assert not (tmp_path / "out").exists()


def test_leftovers_of_killed_runs_are_removed(frame_folder, weights, tmp_path):
    """A run killed by SIGKILL while replacing --output leaves its hidden folder beside it; the
    next run removes it (the process that wrote it is gone), not those of a run still going."""
    finished = subprocess.Popen(["true"])
    finished.wait()
    dead = tmp_path / f".out.new-{finished.pid}-0123abcd"
    alive = tmp_path / f".out.new-{os.getpid()}-4567cdef"
    for leftover in (dead, alive):
        leftover.mkdir()
        (leftover / "0042.txt").write_text("partial\n")
    _demo(frame_folder, tmp_path / "out", weights, "--render", "none", "--max-frames", "1")
    assert sorted(os.listdir(tmp_path)) == [alive.name, "out"]


def test_flags_may_follow_the_config_overrides():
    args = demo.build_parser().parse_intermixed_args(
        ["--config-file", "c.yaml", "--input", "v.mp4", "--output", "out",
         "MODEL.WEIGHTS", "m.pth", "--start", "3", "TEST.DETECTIONS_PER_IMAGE", "5", "--overwrite"]
    )  # fmt: skip
    assert (args.start, args.overwrite) == (3, True)
    assert args.opts == ["MODEL.WEIGHTS", "m.pth", "TEST.DETECTIONS_PER_IMAGE", "5"]


def test_detectron2_demo_habits_are_understood(frame_folder):
    """detectron2's demo: --video-input, --opts KEY VALUE ... and --confidence-threshold; and a
    shell-expanded glob (--input dir/*.png) before the overrides."""
    frames = sorted(os.path.join(frame_folder, name) for name in os.listdir(frame_folder))
    args = demo.parse_args(
        ["--config-file", "c.yaml", "--video-input", "v.mp4", "--output", "out",
         "--confidence-threshold", "0.6", "--opts", "MODEL.WEIGHTS", "m.pth", "--start", "1"]
    )  # fmt: skip
    assert (args.input, args.confidence_threshold, args.start) == (["v.mp4"], 0.6, 1)
    assert args.opts == ["MODEL.WEIGHTS", "m.pth"]
    args = demo.parse_args(
        ["--config-file", "c.yaml", "--input", *frames, "MODEL.WEIGHTS", "m.pth", "--output", "o"]
    )  # fmt: skip
    assert args.input == frames and args.opts == ["MODEL.WEIGHTS", "m.pth"]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--output", "o"], "the following arguments are required: --input"),
        (["--input", "v.mp4", "--output", "o", "--confidence-threshold", "1.5"],
         "--confidence-threshold: expected a number from 0 to 1, got '1.5'"),
    ],
)  # fmt: skip
def test_detectron2_demo_argument_mistakes(argv, message, capsys):
    with pytest.raises(SystemExit) as stopped:
        demo.parse_args(["--config-file", "c.yaml", *argv])
    assert stopped.value.code == 2
    assert message in capsys.readouterr().err


def test_confidence_threshold_is_the_trackers_gamma_for_every_class(weights):
    from trackrcnn_d2.engine.video_demo import setup_config

    opts = [*OPTS, "MODEL.WEIGHTS", weights, "MODEL.ROI_HEADS.SCORE_THRESH_TEST", "0.5"]
    cfg = setup_config(CONFIG, opts, confidence_threshold=0.3)
    assert list(cfg.TRACKER_HEADS.DETECTION_CONFIDENCE) == [0.3, 0.3]
    assert cfg.MODEL.ROI_HEADS.SCORE_THRESH_TEST == 0.3  # lowered to reach the tracker
    cfg = setup_config(CONFIG, [*OPTS, "MODEL.WEIGHTS", weights], confidence_threshold=0.9)
    assert cfg.MODEL.ROI_HEADS.SCORE_THRESH_TEST == 0.0  # never raised


def test_several_inputs_then_the_overrides_and_the_launch_flags(capsys):
    args = demo.parse_args(
        ["--config-file", "c.yaml", "--input", "a.mp4", "b.mp4", "MODEL.WEIGHTS", "m.pth",
         "--output", "out", "--num-gpus", "2", "--dist-timeout", "30"]
    )  # fmt: skip
    assert args.input == ["a.mp4", "b.mp4"] and args.opts == ["MODEL.WEIGHTS", "m.pth"]
    assert (args.num_gpus, args.dist_url, args.dist_timeout) == (2, "auto", 30.0)
    for argv, message in [
        (["--num-machines", "2", "--overwrite"], "--overwrite works on one machine"),
        (["--num-gpus", "0"], "argument --num-gpus: expected a whole number >= 1"),
    ]:
        with pytest.raises(SystemExit) as stopped:
            demo.parse_args(["--config-file", "c.yaml", "--input", "a.mp4", "--output", "o", *argv])
        assert stopped.value.code == 2 and message in capsys.readouterr().err


def _records(output):
    return sorted(os.listdir(output / ".demo-records"))


def _stamp(path):
    stat = os.stat(path)
    return stat.st_ino, stat.st_mtime_ns


def test_many_inputs_and_a_rerun_tracks_only_what_is_not_complete(
    video, frame_folder, weights, tmp_path, capsys
):
    """A video and a frame folder into one output; the same command again tracks nothing; with
    one video's tracks deleted, only that one (same tracks as before); a new video added to the
    command is tracked beside the others, which stay untouched."""
    output = tmp_path / "out"
    _demo([video, frame_folder], output, weights)
    assert _visible(output) == sorted(["0042.txt", "frames", "street.mp4", "street.txt"])
    assert sorted(os.listdir(output / "frames")) == ["0042"]
    tracks = {name: (output / name).read_bytes() for name in ("street.txt", "0042.txt")}
    stamps = {name: _stamp(output / name) for name in _visible(output)}
    capsys.readouterr()
    _demo([video, frame_folder], output, weights)
    assert {name: _stamp(output / name) for name in _visible(output)} == stamps
    assert "Tracked 0 video(s), 0 frames" in capsys.readouterr().out
    (output / "street.txt").unlink()
    _demo([video, frame_folder], output, weights)
    assert (output / "street.txt").read_bytes() == tracks["street.txt"]
    assert _stamp(output / "0042.txt") == stamps["0042.txt"]
    assert _stamp(output / "frames") == stamps["frames"]
    other = str(tmp_path / "0043")
    os.symlink(frame_folder, other)
    _demo([video, frame_folder, other], output, weights)
    assert (output / "0043.txt").read_bytes() == tracks["0042.txt"]
    assert _stamp(output / "0042.txt") == stamps["0042.txt"]
    assert _records(output) == [".lock", "0042.json", "0043.json", "street.json"]


def test_a_rerun_with_other_settings_or_input_is_refused_unless_overwrite(
    frame_folder, weights, tmp_path, capsys
):
    """Nothing tracked with other settings is replaced without --overwrite; with it, everything
    is tracked again and replaces the folder as a whole."""
    output = tmp_path / "out"
    _demo(frame_folder, output, weights, "--max-frames", "2", "--render", "none")
    before = (output / "0042.txt").read_bytes()
    for flags, opts, message in [
        (["--max-frames", "3"], OPTS, "0042 was tracked with other settings (--max-frames)"),
        (["--max-frames", "2"], OPTS[:-2] + ["TRACKER_HEADS.DETECTION_CONFIDENCE", "[0.1, 0.1]"],
         "other settings (TRACKER_HEADS.DETECTION_CONFIDENCE)"),
        (["--max-frames", "2", "--render", "png"], OPTS, "other settings (--render)"),
    ]:  # fmt: skip
        flags += [] if "--render" in flags else ["--render", "none"]
        err = _refused(capsys, _demo, frame_folder, output, weights, *flags, opts=opts)
        assert message in err and "pass --overwrite" in err
        assert (output / "0042.txt").read_bytes() == before
    _demo(frame_folder, output, weights, "--max-frames", "3", "--render", "none", "--overwrite")
    assert {int(line.split()[0]) for line in (output / "0042.txt").read_text().splitlines()} == {
        1, 2, 3
    }
    assert sorted(os.listdir(tmp_path)) == ["out"]  # the overwrite folder took its place


def test_an_input_that_changed_is_not_taken_for_the_one_tracked(weights, images, tmp_path, capsys):
    folder = tmp_path / "frames" / "0007"
    folder.mkdir(parents=True)
    for i, image in enumerate(images[:3]):
        cv2.imwrite(str(folder / f"{i:06d}.png"), image[:, :, ::-1])
    output = tmp_path / "out"
    _demo(str(folder), output, weights, "--render", "none")
    cv2.imwrite(str(folder / "000002.png"), images[4][:, :, ::-1])
    os.utime(folder / "000002.png", ns=(1, 1))
    err = _refused(capsys, _demo, str(folder), output, weights, "--render", "none")
    assert "0007: its input changed since it was tracked" in err


def test_files_demo_did_not_write_are_never_replaced(
    video, frame_folder, weights, tmp_path, capsys
):
    output = tmp_path / "out"
    _demo(video, output, weights, "--render", "none")
    (output / "0042.txt").write_text("the user's own file\n")
    err = _refused(capsys, _demo, frame_folder, output, weights, "--render", "none")
    assert "0042.txt exists and was not written by demo.py for this input" in err
    assert (output / "0042.txt").read_text() == "the user's own file\n"


def test_a_failed_video_leaves_the_others_complete_and_an_overwrite_leaves_the_old_output(
    video, weights, tmp_path, capsys
):
    """A video that ends early fails alone (one message naming it, status 2); the others are
    complete, and the same command again tracks only the failed one. With --overwrite, a run
    that fails leaves the earlier output as it was."""
    whole = tmp_path / "inputs" / "whole.avi"
    whole.parent.mkdir()
    writer = cv2.VideoWriter(str(whole), cv2.VideoWriter_fourcc(*"MJPG"), 5.0, (128, 64))
    for i in range(10):
        writer.write(np.full((64, 128, 3), 20 * i, np.uint8))
    writer.release()
    cut = tmp_path / "inputs" / "cut.avi"
    cut.write_bytes(whole.read_bytes()[: int(whole.stat().st_size * 0.8)])
    whole.unlink()
    output = tmp_path / "out"
    err = _refused(capsys, _demo, [video, str(cut)], output, weights, "--render", "none")
    assert "1 of 2 videos could not be tracked (cut: " in err and "states 10 frames" in err
    assert _visible(output) == ["street.txt"]
    street = _stamp(output / "street.txt")
    _refused(capsys, _demo, [video, str(cut)], output, weights, "--render", "none")
    assert _stamp(output / "street.txt") == street
    _refused(capsys, _demo, [video, str(cut)], output, weights, "--render", "none", "--overwrite")
    assert _stamp(output / "street.txt") == street and _visible(output) == ["street.txt"]


def test_one_run_at_a_time_writes_into_a_folder(frame_folder, weights, tmp_path, capsys):
    import fcntl

    output = tmp_path / "out"
    (output / ".demo-records").mkdir(parents=True)
    with open(output / ".demo-records" / ".lock", "a") as other_run:
        fcntl.flock(other_run, fcntl.LOCK_EX)
        err = _refused(capsys, _demo, frame_folder, output, weights, "--render", "none")
    assert "another demo.py run is writing into this folder" in err
