"""demo.py on short synthetic clips: tracks in KITTI MOTS txt, rendered frames or video, bad input.

The model is the demo config's at 64 x 128 pixels with random weights saved as a checkpoint:
with every score threshold at 0 it reports detections, which is what the plumbing needs.
"""
import os
import sys

import cv2
import numpy as np
import pytest
import torch
from detectron2.checkpoint import DetectionCheckpointer
from detectron2.modeling import build_model

from trackrcnn_d2.data import mots_io
from trackrcnn_d2.data.synthetic import render_sequence
from trackrcnn_d2.utils.cli import load_config

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
import demo  # noqa: E402

CONFIG = os.path.join(REPO, "configs", "demo_synthetic.yaml")
NUM_FRAMES = 5
OPTS = [
    "INPUT.MIN_SIZE_TEST", "64", "INPUT.MAX_SIZE_TEST", "128",
    "MODEL.ROI_HEADS.SCORE_THRESH_TEST", "0.0", "TEST.DETECTIONS_PER_IMAGE", "4",
    "TRACKER_HEADS.DETECTION_CONFIDENCE", "[0.0, 0.0]",
]  # fmt: skip


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    folder = tmp_path_factory.mktemp("model")
    torch.manual_seed(0)
    model = build_model(load_config(CONFIG, OPTS))
    DetectionCheckpointer(model, save_dir=str(folder)).save("random")
    return str(folder / "random.pth")


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


def _demo(input_path, output, weights, *flags):
    demo.main(
        ["--config-file", CONFIG, "--input", input_path, "--output", str(output), *flags,
         *OPTS, "MODEL.WEIGHTS", weights]
    )  # fmt: skip


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
        masks = np.stack([mots_io.decode_mask(o.rle) for o in objects])
        assert masks.sum(axis=0).max() <= 1
    return tracks


def test_video_gives_tracks_and_a_rendered_video(video, weights, tmp_path):
    output = tmp_path / "out"
    _demo(video, output, weights)
    assert sorted(os.listdir(output)) == ["street.mp4", "street.txt"]
    _check_tracks(output / "street.txt", range(NUM_FRAMES))
    rendered = cv2.VideoCapture(str(output / "street.mp4"))
    count = 0
    while rendered.read()[0]:
        count += 1
    assert count == NUM_FRAMES


def test_frame_folder_keeps_frame_numbers_and_renders_png_frames(frame_folder, weights, tmp_path):
    output = tmp_path / "out"
    _demo(frame_folder, output, weights, "--render-scale", "2")
    frame_numbers = range(1, NUM_FRAMES + 1)
    tracks = _check_tracks(output / "0042.txt", frame_numbers)
    rendered = sorted(os.listdir(output / "frames"))
    assert rendered == [f"{i:06d}.png" for i in frame_numbers]
    frame, objects = next(iter(tracks.items()))
    original = cv2.imread(os.path.join(frame_folder, f"{frame:06d}.png"))
    drawn = cv2.imread(str(output / "frames" / f"{frame:06d}.png"))
    assert drawn.shape == (128, 256, 3)
    drawn = cv2.resize(drawn, (128, 64), interpolation=cv2.INTER_AREA)
    mask = mots_io.decode_mask(objects[0].rle).astype(bool)
    assert np.abs(drawn[mask].astype(int) - original[mask].astype(int)).mean() > 10


def test_existing_output_is_refused_unless_overwrite(frame_folder, weights, tmp_path):
    output = tmp_path / "out"
    output.mkdir()
    (output / "old.txt").write_text("an earlier result\n")
    with pytest.raises(SystemExit, match="--overwrite"):
        _demo(frame_folder, output, weights)
    assert os.listdir(output) == ["old.txt"]
    _demo(frame_folder, output, weights, "--overwrite", "--render", "none")
    assert os.listdir(output) == ["0042.txt"]


def test_unreadable_video_is_reported(weights, tmp_path):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"this is not a video")
    with pytest.raises(SystemExit, match="broken.mp4: cannot open this video"):
        _demo(str(broken), tmp_path / "out", weights)
    with pytest.raises(SystemExit, match="no such folder of frames or video file"):
        _demo(str(tmp_path / "missing.mp4"), tmp_path / "out", weights)
    assert not (tmp_path / "out").exists()


def test_missing_weights_are_reported(frame_folder, tmp_path):
    with pytest.raises(SystemExit, match="MODEL.WEIGHTS is empty"):
        demo.main(["--config-file", CONFIG, "--input", frame_folder, "--output", str(tmp_path)])
