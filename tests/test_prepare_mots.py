"""datasets/prepare_mots.py: every image checked, output folders swapped in whole, and each
mistake ends in one line naming the file (exit status 2, no traceback)."""
import importlib.util
import os
import shutil

import pytest

from trackrcnn_d2.data import mots_io
from trackrcnn_d2.data.synthetic import generate_synthetic_mots

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_spec = importlib.util.spec_from_file_location(
    "prepare_mots", os.path.join(REPO, "datasets", "prepare_mots.py")
)
prepare_mots = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(prepare_mots)


@pytest.fixture
def dataset(tmp_path):
    root = tmp_path / "kitti_mots"
    generate_synthetic_mots(str(root), sequences=3, frames=4, height=32, width=64)
    return root


def _fails(capsys, *argv):
    """Run the script's main; assert exit status 2 and one error line, and return it (stderr
    may also hold log messages of handlers that other tests of this process set up)."""
    with pytest.raises(SystemExit) as exit_info:
        prepare_mots.main([str(a) for a in argv])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("prepare_mots.py: error: ")]
    assert len(errors) == 1 and "Traceback (most recent call last)" not in err.split(errors[0])[1]
    return errors[0]


def _tree(root):
    return sorted(
        os.path.relpath(os.path.join(folder, name), root)
        for folder, _, names in os.walk(root)
        for name in names
    )


def test_check_prints_every_sequence(dataset, capsys):
    prepare_mots.main(["check", str(dataset)])
    rows = [line.split() for line in capsys.readouterr().out.splitlines()[2:]]
    assert [(row[0], row[1], row[-1]) for row in rows] == [
        (seq, "4", "32x64") for seq in ("0000", "0001", "0002")
    ]


def test_check_decodes_every_image(dataset, capsys):
    """The issue's scenario: a png truncated in the middle of a sequence passed the check,
    which opened only the first image."""
    middle = dataset / "training" / "image_02" / "0001" / "000002.png"
    middle.write_bytes(middle.read_bytes()[:200])
    assert f"{middle}: cannot read this image" in _fails(capsys, "check", dataset)


def test_check_finds_a_frame_of_another_size(dataset, capsys):
    """What a killed in-place regeneration left: frames of two sizes in one sequence."""
    other = dataset.parent / "other"
    generate_synthetic_mots(str(other), sequences=2, frames=4, height=48, width=64)
    last = os.path.join("training", "image_02", "0000", "000003.png")
    shutil.copy(other / last, dataset / last)
    assert f"{dataset / last}: 48x64 pixels, but" in _fails(capsys, "check", dataset)


def test_wrong_or_empty_folders(tmp_path, capsys):
    assert "neither training/image_02/" in _fails(capsys, "check", tmp_path)
    (tmp_path / "empty").mkdir()
    err = _fails(capsys, "txt2png", tmp_path / "empty", tmp_path / "png")
    assert f"{tmp_path / 'empty'}: no annotations (<seq>.txt files) found" in err
    assert not (tmp_path / "png").exists()


def test_txt2png_and_back_give_the_same_annotations(dataset, tmp_path):
    prepare_mots.main(["txt2png", str(dataset / "instances_txt"), str(tmp_path / "png")])
    prepare_mots.main(["png2txt", str(tmp_path / "png"), str(tmp_path / "txt")])
    for seq in ("0000", "0001", "0002"):
        assert mots_io.read_mots_txt(str(tmp_path / "txt" / f"{seq}.txt")) == mots_io.read_mots_txt(
            str(dataset / "instances_txt" / f"{seq}.txt")
        )


def test_a_failed_conversion_writes_nothing(dataset, tmp_path, capsys):
    """A bad line in the last sequence used to leave the first sequences converted."""
    bad = dataset / "instances_txt" / "0002.txt"
    bad.write_text(bad.read_text() + "3 2001 2 32 64 not-an-rle\n")
    err = _fails(capsys, "txt2png", dataset / "instances_txt", tmp_path / "png")
    assert str(bad) in err
    assert sorted(os.listdir(tmp_path)) == ["kitti_mots"]


def test_output_folders_are_refused_or_replaced_whole(dataset, tmp_path, capsys):
    out = tmp_path / "txt"
    out.mkdir()
    (out / "9999.txt").write_text("stale")
    source = dataset / "instances"
    assert "--overwrite" in _fails(capsys, "png2txt", source, out)
    assert (out / "9999.txt").read_text() == "stale"
    prepare_mots.main(["png2txt", str(source), str(out), "--overwrite"])
    assert _tree(out) == ["0000.txt", "0001.txt", "0002.txt"]
    assert "would replace" in _fails(capsys, "png2txt", source, source, "--overwrite")
    assert "would replace" in _fails(capsys, "png2txt", source, dataset, "--overwrite")
    assert len(os.listdir(source)) == 3


def test_link_motschallenge(dataset, tmp_path, capsys):
    release = tmp_path / "release"
    annotations = dataset / "instances_txt" / "0000.txt"
    for number in ("0002", "0005", "0009", "0011"):
        shutil.copytree(dataset / "training" / "image_02" / "0000", release / "images" / number)
        os.makedirs(release / "instances_txt", exist_ok=True)
        shutil.copy(annotations, release / "instances_txt" / f"{number}.txt")
    os.remove(release / "instances_txt" / "0011.txt")
    out = tmp_path / "mots_challenge"
    assert "0011.txt not found: is" in _fails(capsys, "link-motschallenge", release, out)
    assert not (out / "train").exists()
    shutil.copy(dataset / "instances_txt" / "0000.txt", release / "instances_txt" / "0011.txt")
    prepare_mots.main(["link-motschallenge", str(release), str(out)])
    sequences = ["MOTS20-02", "MOTS20-05", "MOTS20-09", "MOTS20-11"]
    assert sorted(os.listdir(out / "train")) == sequences
    link = out / "train" / "MOTS20-05" / "img1"
    assert os.path.realpath(link) == str(release / "images" / "0005")
    capsys.readouterr()
    prepare_mots.main(["check", str(out)])
    assert "MOTS20-11" in capsys.readouterr().out
