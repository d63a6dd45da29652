"""The embedded synthetic MOTS set: layout, determinism, MOTS ground-truth rules."""
import filecmp
import os

import numpy as np
import pytest
from PIL import Image

from trackrcnn_d2.data import mots_io
from trackrcnn_d2.data.synthetic import (
    generate_synthetic_mots,
    main,
    render_sequence,
    synthetic_split,
)
from trackrcnn_d2.utils.cli import OutputDirError

SEQUENCES = 4
FRAMES = 12
HEIGHT = 64
WIDTH = 128


@pytest.fixture(autouse=True)
def _same_spec(synthetic_spec):
    assert synthetic_spec == {
        "sequences": SEQUENCES, "frames": FRAMES, "height": HEIGHT, "width": WIDTH, "seed": 7
    }


def _sequences(root):
    return [f"{i:04d}" for i in range(SEQUENCES)]


def test_layout_and_seqmaps(synthetic_root):
    for seq in _sequences(synthetic_root):
        images = sorted(os.listdir(synthetic_root / "training" / "image_02" / seq))
        assert images == [f"{f:06d}.png" for f in range(FRAMES)]
        assert sorted(os.listdir(synthetic_root / "instances" / seq)) == images
        assert (synthetic_root / "instances_txt" / f"{seq}.txt").is_file()
        with Image.open(synthetic_root / "training" / "image_02" / seq / images[0]) as image:
            assert image.size == (WIDTH, HEIGHT) and image.mode == "RGB"
    seqmap = (synthetic_root / "evaluate_mots.seqmap.val").read_text().split()
    assert seqmap == ["0003", "empty", "000000", f"{FRAMES - 1:06d}"]
    assert mots_io.sequence_names("", str(synthetic_root / "evaluate_mots.seqmap.train")) == [
        "0000",
        "0001",
        "0002",
    ]


def test_split_rule():
    assert synthetic_split(8) == (
        ["0000", "0001", "0002", "0003", "0004", "0005"],
        ["0006", "0007"],
    )
    assert synthetic_split(2) == (["0000"], ["0001"])
    with pytest.raises(ValueError, match="at least 2"):
        synthetic_split(1)


def test_ground_truth_follows_the_mots_rules(synthetic_root):
    # check=True: valid classes, one size, no duplicate ids, no overlapping masks.
    ground_truth = mots_io.load_mots_ground_truth(
        str(synthetic_root / "instances_txt"),
        _sequences(synthetic_root),
        image_sizes={s: (HEIGHT, WIDTH) for s in _sequences(synthetic_root)},
    )
    classes = set()
    for frames in ground_truth.values():
        assert sorted(frames) == list(range(FRAMES))  # every frame shows an object
        for objects in frames.values():
            classes |= {obj.class_id for obj in objects}
            assert sum(o.obj_id != mots_io.IGNORE_OBJ_ID for o in objects) <= 5
    assert classes == {mots_io.CAR, mots_io.PEDESTRIAN, mots_io.IGNORE}


def test_objects_enter_leave_and_occlude_each_other():
    frames = 60
    entering, leaving, occluded = 0, 0, 0
    for seq_index in range(2):
        _, id_maps = render_sequence(seq_index, frames, HEIGHT, WIDTH, seed=7)
        seen = {}
        for frame, id_map in enumerate(id_maps):
            for obj_id in np.unique(id_map):
                if 0 < obj_id < mots_io.IGNORE_OBJ_ID:
                    seen.setdefault(int(obj_id), []).append(frame)
        entering += sum(frames_seen[0] > 0 for frames_seen in seen.values())
        leaving += sum(frames_seen[-1] < frames - 1 for frames_seen in seen.values())
        # An object that is annotated, then not, then again was hidden behind another.
        occluded += sum(
            len(frames_seen) < frames_seen[-1] - frames_seen[0] + 1 for frames_seen in seen.values()
        )
    assert entering > 0 and leaving > 0 and occluded > 0


def test_txt_and_png_annotations_agree(synthetic_root):
    sequences = _sequences(synthetic_root)
    from_txt = mots_io.load_mots_ground_truth(str(synthetic_root / "instances_txt"), sequences)
    from_png = mots_io.load_mots_ground_truth(str(synthetic_root / "instances"), sequences)
    assert from_txt == from_png
    objects = from_txt["0001"][5]
    id_map = np.asarray(Image.open(synthetic_root / "instances" / "0001" / "000005.png"))
    np.testing.assert_array_equal(mots_io.objects_to_id_map(objects, HEIGHT, WIDTH), id_map)


def test_objects_are_drawn_where_their_masks_are(synthetic_root):
    """Object pixels differ from the static background: the masks match the image."""
    folder = synthetic_root / "training" / "image_02" / "0000"
    first = np.asarray(Image.open(folder / "000000.png")).astype(np.int32)
    last = np.asarray(Image.open(folder / f"{FRAMES - 1:06d}.png")).astype(np.int32)
    ids_first = np.asarray(Image.open(synthetic_root / "instances" / "0000" / "000000.png"))
    ids_last = np.asarray(
        Image.open(synthetic_root / "instances" / "0000" / f"{FRAMES - 1:06d}.png")
    )
    static = (ids_first == 0) & (ids_last == 0)
    moving = (ids_first > 0) & (ids_first < mots_io.IGNORE_OBJ_ID) & (ids_last == 0)
    assert moving.any()
    change = np.abs(first - last).sum(axis=2)
    # Background: only sensor noise; where an object left, its colour left too.
    assert np.median(change[static]) < 15
    assert np.median(change[moving]) > 30


def test_deterministic_for_a_seed(synthetic_root, tmp_path):
    generate_synthetic_mots(
        str(tmp_path / "again"), sequences=SEQUENCES, frames=FRAMES, height=HEIGHT, width=WIDTH,
        seed=7,
    )
    generate_synthetic_mots(
        str(tmp_path / "other"), sequences=SEQUENCES, frames=FRAMES, height=HEIGHT, width=WIDTH,
        seed=8,
    )
    for seq in _sequences(synthetic_root):
        txt = os.path.join("instances_txt", f"{seq}.txt")
        image = os.path.join("training", "image_02", seq, "000003.png")
        for name in (txt, image):
            assert filecmp.cmp(synthetic_root / name, tmp_path / "again" / name, shallow=False)
        assert not filecmp.cmp(synthetic_root / txt, tmp_path / "other" / txt, shallow=False)


def test_command_line(tmp_path, capsys):
    main([str(tmp_path), "--sequences", "2", "--frames", "3", "--height", "48", "--width", "96"])
    assert "train: 0000; val: 0001" in capsys.readouterr().out
    ground_truth = mots_io.load_mots_ground_truth(str(tmp_path / "instances_txt"), ["0000"])
    assert {o.rle["size"][0] for objects in ground_truth["0000"].values() for o in objects} == {48}


def _classes_in(root, sequences):
    ground_truth = mots_io.load_mots_ground_truth(str(root / "instances_txt"), sequences)
    return {o.class_id for frames in ground_truth.values() for os_ in frames.values() for o in os_}


def test_classes_option_draws_the_given_classes_only(tmp_path):
    """``--classes pedestrian``: a MOTSChallenge-like set (pedestrians only), which registers
    and loads with those class names; the default draws both classes."""
    from trackrcnn_d2.data.build import get_mots_dataset_dicts
    from trackrcnn_d2.data.builtin import register_synthetic_mots

    size = ["--sequences", "3", "--frames", "8", "--height", "48", "--width", "96"]
    main([str(tmp_path / "peds"), *size, "--classes", "pedestrian"])
    classes = _classes_in(tmp_path / "peds", ["0000", "0001", "0002"])
    assert mots_io.PEDESTRIAN in classes and mots_io.CAR not in classes
    assert "--classes pedestrian" in (tmp_path / "peds" / "README.md").read_text()
    both = generate_synthetic_mots(str(tmp_path / "both"), 3, 8, 48, 96)
    assert {mots_io.CAR, mots_io.PEDESTRIAN} <= _classes_in(tmp_path / "both", both["all"])
    prefix = f"test_synthetic_peds_{tmp_path.name}"
    register_synthetic_mots(prefix, str(tmp_path / "peds"), "", ["pedestrian"])
    frames = get_mots_dataset_dicts([f"{prefix}_train"], ["pedestrian"])
    assert {a["category_id"] for f in frames for a in f["annotations"]} == {0}
    with pytest.raises(ValueError, match="distinct names of"):
        generate_synthetic_mots(str(tmp_path / "bad"), classes=("truck",))


def _tiny(out_dir, **kwargs):
    spec = {"sequences": 3, "frames": 3, "height": 32, "width": 48, **kwargs}
    return generate_synthetic_mots(str(out_dir), **spec)


def _files(root):
    return sorted(
        os.path.relpath(os.path.join(folder, name), root)
        for folder, _, names in os.walk(root)
        for name in names
    )


def test_a_folder_with_files_is_refused_unless_overwrite(tmp_path):
    out = tmp_path / "set"
    _tiny(out)
    before = {name: (out / name).read_bytes() for name in _files(out)}
    with pytest.raises(OutputDirError, match="--overwrite"):
        _tiny(out, seed=3)
    assert {name: (out / name).read_bytes() for name in _files(out)} == before
    with pytest.raises(OutputDirError, match="is an existing file, not a folder"):
        _tiny(out / "README.md")
    with pytest.raises(OutputDirError, match="folder in .*README.md, which is a file"):
        _tiny(out / "README.md" / "set", overwrite=True)
    assert {name: (out / name).read_bytes() for name in _files(out)} == before


def test_a_smaller_regeneration_leaves_no_stale_sequence_or_frame(tmp_path):
    """The issue's scenario: regenerating with fewer sequences and frames in place left the
    old ones, which `prepare_mots.py check` accepted and the loader trained on."""
    out = tmp_path / "set"
    _tiny(out, sequences=4, frames=4)
    _tiny(out, sequences=2, frames=2, overwrite=True)
    fresh = tmp_path / "fresh"
    _tiny(fresh, sequences=2, frames=2)
    assert _files(out) == _files(fresh)
    assert sorted(os.listdir(tmp_path)) == ["fresh", "set"]


def test_a_killed_regeneration_leaves_the_earlier_set(tmp_path, monkeypatch):
    """Killed in the middle (here: an exception after the first sequence), the earlier set
    stays as it was: no mix of image sizes, no half-written folder beside it."""
    import trackrcnn_d2.data.synthetic as synthetic

    out = tmp_path / "set"
    _tiny(out)
    before = {name: (out / name).read_bytes() for name in _files(out)}
    render = synthetic.render_sequence

    def render_then_die(seq_index, *args):
        if seq_index == 1:
            raise KeyboardInterrupt
        return render(seq_index, *args)

    monkeypatch.setattr(synthetic, "render_sequence", render_then_die)
    with pytest.raises(KeyboardInterrupt):
        _tiny(out, height=64, width=64, overwrite=True)
    assert {name: (out / name).read_bytes() for name in _files(out)} == before
    assert os.listdir(tmp_path) == ["set"]


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--sequences", "1"], "--sequences: must be at least 2, got 1"),
        (["--frames", "zero"], "--frames: 'zero' is not an integer"),
        (["--height", "16"], "--height: must be at least 32"),
        (["--seed", "-1"], "--seed: must be at least 0"),
        (["--classes", "pedestrian,truck"], "--classes: classes must be distinct names of"),
        (["--classes", "car,car"], "--classes: classes must be distinct names of"),
    ],
)
def test_command_line_bad_arguments_end_in_one_message(tmp_path, capsys, arguments, message):
    with pytest.raises(SystemExit) as exit_info:
        main([str(tmp_path / "out"), *arguments])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_command_line_refuses_a_folder_with_files_and_a_file(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    for target in (tmp_path, tmp_path / "notes.txt"):
        with pytest.raises(SystemExit) as exit_info:
            main([str(target), "--sequences", "2", "--frames", "1"])
        assert exit_info.value.code == 2
        err = capsys.readouterr().err
        prefix = "python -m trackrcnn_d2.data.synthetic: error: "
        assert len([line for line in err.splitlines() if line.startswith(prefix)]) == 1
        assert "Traceback (most recent call last)" not in err
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_command_line_help_explains_and_shows_defaults(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "KITTI MOTS layout" in text
    assert "number of sequences (default: 12)" in text
    assert "--overwrite" in text
