"""MOTS txt/png I/O: RLE size checks of files, ground-truth checks with clear errors, round
trips."""
import numpy as np
import pytest

from trackrcnn_d2.data import mots_io
from trackrcnn_d2.data.mots_io import MOTSFormatError, MOTSObject
from trackrcnn_d2.utils.rle import encode_mask


def _rle(mask):
    return encode_mask(np.asarray(mask, dtype=np.uint8))


def _box_mask(height, width, y0, y1, x0, x1):
    mask = np.zeros((height, width), dtype=np.uint8)
    mask[y0:y1, x0:x1] = 1
    return mask


def _line(frame, obj_id, class_id, rle):
    height, width = rle["size"]
    return f"{frame} {obj_id} {class_id} {height} {width} {rle['counts'].decode()}"


def _write(folder, lines, name="0000.txt"):
    path = folder / name
    path.write_text("".join(line + "\n" for line in lines))
    return path


def test_txt_round_trip(tmp_path):
    objects = [
        MOTSObject(3, 2001, 2, _rle(_box_mask(10, 12, 0, 5, 0, 4))),
        MOTSObject(0, 1002, 1, _rle(_box_mask(10, 12, 5, 10, 6, 12))),
        MOTSObject(0, 10000, 10, _rle(_box_mask(10, 12, 0, 2, 6, 12))),
    ]
    path = str(tmp_path / "0000.txt")
    mots_io.write_mots_txt(path, objects)
    frames = mots_io.read_mots_txt(path)
    assert sorted(frames) == [0, 3]
    assert [o.obj_id for o in frames[0]] == [1002, 10000]
    assert frames[3] == [objects[0]]


@pytest.mark.parametrize(
    "line, message",
    [
        ("0 1001 1 10 12", "expected 6 space-separated fields"),
        ("0 1001 car 10 12 abc", "must be integers"),
        ("0 1001 1 -10 12 abc", "height, width > 0"),
        ("0 1001 1 10 12 ab!c", "invalid RLE string"),
    ],
)
def test_malformed_line_names_file_and_line(tmp_path, line, message):
    good = _line(0, 2001, 2, _rle(_box_mask(10, 12, 0, 5, 0, 4)))
    path = _write(tmp_path, [good, line])
    with pytest.raises(MOTSFormatError, match=message) as error:
        mots_io.read_mots_txt(str(path))
    assert f"{path}:2:" in str(error.value)


def test_rle_size_disagreeing_with_its_header(tmp_path):
    rle = _rle(_box_mask(10, 12, 0, 5, 0, 4))
    bad = f"0 1001 1 10 13 {rle['counts'].decode()}"  # header 10x13, RLE 10x12
    path = _write(tmp_path, [bad])
    with pytest.raises(MOTSFormatError, match=r"0000.txt:1: the RLE covers 120 pixels .* 10x13"):
        mots_io.read_mots_txt(str(path))
    # Without validation the reader trusts the header; the ground-truth loader always checks.
    assert len(mots_io.read_mots_txt(str(path), validate=False)[0]) == 1
    with pytest.raises(MOTSFormatError, match="covers 120 pixels"):
        mots_io.load_mots_ground_truth(str(tmp_path), ["0000"])


def test_rle_size_disagreeing_with_the_image(tmp_path):
    _write(tmp_path, [_line(0, 1001, 1, _rle(_box_mask(10, 12, 0, 5, 0, 4)))])
    with pytest.raises(MOTSFormatError, match=r"0000.txt:1: mask size \(10, 12\) .* \(20, 12\)"):
        mots_io.load_mots_ground_truth(str(tmp_path), ["0000"], image_sizes={"0000": (20, 12)})
    _write(
        tmp_path,
        [
            _line(0, 1001, 1, _rle(_box_mask(10, 12, 0, 5, 0, 4))),
            _line(1, 1001, 1, _rle(_box_mask(11, 12, 0, 5, 0, 4))),
        ],
    )
    with pytest.raises(MOTSFormatError, match=r"0000.txt:2: mask size \(11, 12\)"):
        mots_io.load_mots_ground_truth(str(tmp_path), ["0000"])


@pytest.mark.parametrize(
    "obj_id, class_id, message",
    [
        (3001, 3, "unknown class id 3"),
        (2001, 1, "does not match class id 1"),
        (10001, 10, "does not match class id 10"),
    ],
)
def test_unknown_or_inconsistent_class(tmp_path, obj_id, class_id, message):
    first = _line(0, 1001, 1, _rle(_box_mask(10, 12, 6, 9, 0, 4)))
    _write(tmp_path, [first, _line(0, obj_id, class_id, _rle(_box_mask(10, 12, 0, 5, 0, 4)))])
    with pytest.raises(MOTSFormatError, match=f"0000.txt:2: .*{message}"):
        mots_io.load_mots_ground_truth(str(tmp_path), ["0000"])


def test_overlapping_masks_name_both_objects(tmp_path):
    lines = [
        _line(4, 1001, 1, _rle(_box_mask(10, 12, 0, 4, 0, 4))),
        _line(5, 1001, 1, _rle(_box_mask(10, 12, 0, 4, 0, 4))),
        _line(5, 2003, 2, _rle(_box_mask(10, 12, 6, 9, 6, 9))),
        _line(5, 2004, 2, _rle(_box_mask(10, 12, 3, 6, 3, 6))),
    ]
    path = _write(tmp_path, lines)
    with pytest.raises(MOTSFormatError, match="overlap in frame 5") as error:
        mots_io.load_mots_ground_truth(str(tmp_path), ["0000"])
    assert f"{path}:2" in str(error.value) and f"{path}:4" in str(error.value)
    assert "1001" in str(error.value) and "2004" in str(error.value)
    # Touching but disjoint masks are fine.
    _write(tmp_path, lines[:3] + [_line(5, 2004, 2, _rle(_box_mask(10, 12, 4, 6, 3, 6)))])
    assert len(mots_io.load_mots_ground_truth(str(tmp_path), ["0000"])["0000"][5]) == 3


def test_a_frame_with_exactly_two_overlapping_masks_is_refused(tmp_path):
    lines = [
        _line(0, 1001, 1, _rle(_box_mask(10, 12, 0, 4, 0, 4))),
        _line(0, 2001, 2, _rle(_box_mask(10, 12, 3, 6, 3, 6))),
    ]
    _write(tmp_path, lines)
    with pytest.raises(MOTSFormatError, match="1001 and 2001 overlap in frame 0"):
        mots_io.load_mots_ground_truth(str(tmp_path), ["0000"])


def test_duplicate_obj_id_in_a_frame(tmp_path):
    _write(
        tmp_path,
        [
            _line(0, 1001, 1, _rle(_box_mask(10, 12, 0, 4, 0, 4))),
            _line(0, 1001, 1, _rle(_box_mask(10, 12, 6, 9, 6, 9))),
        ],
    )
    with pytest.raises(MOTSFormatError, match="0000.txt:2: obj_id 1001 appears more than once"):
        mots_io.load_mots_ground_truth(str(tmp_path), ["0000"])


def test_png_ground_truth_with_unknown_class(tmp_path):
    id_map = np.zeros((8, 9), dtype=np.uint16)
    id_map[:2, :2] = 2001
    id_map[4:, 4:] = 4002
    mots_io.write_mots_png(str(tmp_path / "0000" / "000000.png"), id_map)
    with pytest.raises(MOTSFormatError, match=r"000000.png: unknown class id 4"):
        mots_io.load_mots_ground_truth(str(tmp_path), ["0000"], annotation_format="png")


def test_txt_png_round_trip(tmp_path):
    id_map = np.zeros((8, 9), dtype=np.uint16)
    id_map[:2, :2] = 2001
    id_map[4:, 4:] = 1002
    id_map[7, 0] = 10000
    objects = mots_io.id_map_to_objects(id_map, frame=3)
    mots_io.write_mots_txt(str(tmp_path / "txt" / "0000.txt"), objects)
    mots_io.write_mots_png(str(tmp_path / "png" / "0000" / "000003.png"), id_map)
    from_txt = mots_io.load_mots_ground_truth(str(tmp_path / "txt"), ["0000"])
    from_png = mots_io.load_mots_ground_truth(str(tmp_path / "png"), ["0000"])
    assert from_txt == from_png == {"0000": {3: objects}}
    np.testing.assert_array_equal(mots_io.objects_to_id_map(objects, 8, 9), id_map)


def test_layouts_are_detected(tmp_path):
    rle = _rle(_box_mask(10, 12, 0, 4, 0, 4))
    _write(tmp_path, [_line(1, 2001, 2, rle)])
    (tmp_path / "MOTS20-02" / "gt").mkdir(parents=True)
    _write(tmp_path / "MOTS20-02" / "gt", [_line(1, 2001, 2, rle)], name="gt.txt")
    assert mots_io.find_sequence_annotations(str(tmp_path), "0000") == (
        str(tmp_path / "0000.txt"),
        "txt",
    )
    assert mots_io.find_sequence_annotations(str(tmp_path), "MOTS20-02")[0].endswith("gt.txt")
    with pytest.raises(FileNotFoundError, match="looked for .*0005.txt"):
        mots_io.find_sequence_annotations(str(tmp_path), "0005")
    # A MOTS20 sequence folder without gt/gt.txt is not taken for a png annotation folder.
    (tmp_path / "MOTS20-05" / "img1").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match=r"MOTS20-05/gt/gt.txt, .*MOTS20-05/\*.png"):
        mots_io.find_sequence_annotations(str(tmp_path), "MOTS20-05")
    assert mots_io.sequence_names(str(tmp_path)) == ["0000"]
    assert mots_io.sequence_names(str(tmp_path / "MOTS20-02" / "..")) == ["0000"]
    (tmp_path / "0000.txt").unlink()
    assert mots_io.sequence_names(str(tmp_path)) == ["MOTS20-02"]


def test_real_motschallenge_annotations(motschallenge_root):
    """The four MOTSChallenge sequences (paper Table 1: 2,862 frames), read and fully checked."""
    import os

    sequences = ["0002", "0005", "0009", "0011"]
    ground_truth = mots_io.load_mots_ground_truth(
        os.path.join(motschallenge_root, "instances_txt"), sequences
    )
    lengths = {seq: (min(frames), max(frames)) for seq, frames in ground_truth.items()}
    assert lengths == {"0002": (1, 600), "0005": (1, 837), "0009": (1, 525), "0011": (1, 900)}
    sizes = {
        seq: {tuple(o.rle["size"]) for objects in frames.values() for o in objects}
        for seq, frames in ground_truth.items()
    }
    assert sizes["0005"] == {(480, 640)} and sizes["0002"] == {(1080, 1920)}
    classes = {o.class_id for frames in ground_truth.values() for f in frames.values() for o in f}
    assert classes == {mots_io.PEDESTRIAN, mots_io.IGNORE}
    # The reader agrees line by line with a plain split of the file.
    path = os.path.join(motschallenge_root, "instances_txt", "0005.txt")
    with open(path) as f:
        lines = [line.split() for line in f if line.strip()]
    objects = [o for frame in ground_truth["0005"].values() for o in frame]
    assert len(objects) == len(lines)
    assert [(o.frame, o.obj_id, o.rle["counts"].decode()) for o in objects] == [
        (int(fields[0]), int(fields[1]), fields[5]) for fields in lines
    ]
