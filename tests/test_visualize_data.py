"""tools/visualize_data.py: a registered MOTS dataset drawn frame by frame, each annotated mask
in its track's colour, ignore regions in grey."""
import os
import runpy

import cv2
import numpy as np
import pytest
from helpers.datasets import registered_synthetic_set

from trackrcnn_d2.utils.visualizer import draw_dataset_frame

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    folder = tmp_path_factory.mktemp("look")
    options = {"sequences": 4, "frames": 3, "height": 64, "width": 128, "seed": 5}
    return registered_synthetic_set(folder, "look", **options)


def run_tool(*argv):
    main = runpy.run_path(os.path.join(REPO, "tools", "visualize_data.py"))["main"]
    main(list(argv))


def test_every_frame_is_drawn_with_its_annotations(dataset, tmp_path, capsys):
    """Each frame of each sequence, as draw_dataset_frame draws it (tests/utils/test_visualizer.py
    checks the colours), under the sequence's name."""
    from detectron2.data import DatasetCatalog

    _, prefix = dataset
    run_tool("--dataset", f"{prefix}_train", "--output", str(tmp_path / "out"))
    sequences = ["0000", "0001", "0002"]  # the train split of 4 sequences
    assert sorted(os.listdir(tmp_path / "out")) == sequences
    printed = capsys.readouterr().out
    for sequence in sequences:
        assert f"{sequence}: 3 frames -> {tmp_path / 'out' / sequence / 'frames'}" in printed
    dataset_dicts = DatasetCatalog.get(f"{prefix}_train")
    assert len(dataset_dicts) == 9 and sum(len(d["annotations"]) for d in dataset_dicts) > 9
    for dataset_dict in dataset_dicts:
        folder = tmp_path / "out" / dataset_dict["sequence"] / "frames"
        rendering = cv2.imread(str(folder / f"{dataset_dict['frame_idx']:06d}.png"))
        expected = draw_dataset_frame(dataset_dict, cv2.imread(dataset_dict["file_name"]))
        assert np.array_equal(rendering, expected)


def test_a_video_of_chosen_sequences_and_frames(dataset, tmp_path, capsys):
    _, prefix = dataset
    output = tmp_path / "out"
    run_tool("--dataset", f"{prefix}_train", "--sequences", "0001", "--max-frames", "2",
             "--render", "video", "--scale", "2", "--output", str(output))  # fmt: skip
    assert os.listdir(output) == ["0001.mp4"]
    video = cv2.VideoCapture(str(output / "0001.mp4"))
    frames = []
    while True:
        ok, frame = video.read()
        if not ok:
            break
        frames.append(frame)
    assert len(frames) == 2 and frames[0].shape == (128, 256, 3)


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--dataset", "no_such_set"], "--dataset: dataset 'no_such_set' is not registered"),
        (["--dataset", "coco_2017_val"], "'coco_2017_val' is not a MOTS dataset"),
        (["--dataset", "{prefix}_val", "--sequences", "0000"], "--sequences: 0000 not in"),
        (["--dataset", "{prefix}_val", "--max-frames", "0"], "expected a whole number >= 1"),
        (["--dataset", "{prefix}_val", "--render", "gif"], "invalid choice: 'gif'"),
        (["--output", "{existing}"], "already holds files; pass --overwrite"),
    ],
)
def test_mistakes_are_told_in_one_line_before_anything_is_written(
    dataset, tmp_path, capsys, arguments, message
):
    _, prefix = dataset
    existing = tmp_path / "existing"
    existing.mkdir()
    (existing / "keep.txt").write_text("mine")
    defaults = {"--dataset": f"{prefix}_val", "--output": str(tmp_path / "out")}
    given = [a.format(prefix=prefix, existing=existing) for a in arguments]
    for flag, value in defaults.items():
        if flag not in given:
            given += [flag, value]
    with pytest.raises(SystemExit) as stopped:
        run_tool(*given)
    assert stopped.value.code == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert len(errors) == 1 and errors[0].startswith("visualize_data.py: error: ")
    assert message in errors[0]
    assert not (tmp_path / "out").exists()
    assert (existing / "keep.txt").read_text() == "mine"
