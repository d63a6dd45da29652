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


@pytest.mark.parametrize(
    "fields, accepted",
    [
        ("0 1001 1 10 1", True),  # a one-pixel-wide image
        ("0 1001 1 10 0", False),
        ("0 1001 1 0 12", False),
        ("0 0 1 10 12", True),  # obj_id 0 is read (the checks of ground truth refuse it)
        ("0 -1 1 10 12", False),
        (f"{mots_io.MAX_FRAME} 1001 1 10 12", True),
        (f"{mots_io.MAX_FRAME + 1} 1001 1 10 12", False),
        ("-1 1001 1 10 12", False),
    ],
)
def test_field_ranges_at_their_limits(tmp_path, fields, accepted):
    height, width = (int(v) for v in fields.split()[3:5])
    rle = _rle(np.zeros((max(height, 1), max(width, 1)), np.uint8))
    path = _write(tmp_path, [f"{fields} {rle['counts'].decode()}"])
    if accepted:
        assert len(mots_io.read_mots_txt(str(path), validate=False)) == 1
    else:
        with pytest.raises(MOTSFormatError, match=f"{path}:1: frame must be in 0..4294967295"):
            mots_io.read_mots_txt(str(path))


@pytest.mark.parametrize(
    "line, message",
    [("0 1001 1 10 1.5 abc", "the first five fields must be integers"),
     ("0 1001 1 0 12 abcé", "the RLE string is not ASCII")],  # fmt: skip
)
def test_each_malformed_field_is_named(tmp_path, line, message):
    path = _write(tmp_path, [line])
    with pytest.raises(MOTSFormatError, match=f"{path}:1: {message}"):
        mots_io.read_mots_txt(str(path))


def test_a_non_integer_field_message_quotes_the_five_integer_fields_only(tmp_path):
    path = _write(tmp_path, ["0 1001 1 10 1.5 abc"])
    with pytest.raises(MOTSFormatError) as error:
        mots_io.read_mots_txt(str(path))
    assert str(error.value).endswith("got ['0', '1001', '1', '10', '1.5']")


def test_ground_truth_errors_name_the_right_lines(tmp_path):
    lines = [
        _line(0, 1001, 1, _rle(_box_mask(10, 12, 0, 4, 0, 4))),
        _line(1, 1001, 1, _rle(_box_mask(10, 13, 0, 4, 0, 4))),
        _line(2, 1001, 1, _rle(_box_mask(10, 13, 0, 4, 0, 4))),
    ]
    path = _write(tmp_path, lines)
    with pytest.raises(MOTSFormatError, match=f"{path}:2: mask size \\(10, 13\\).* differs from "
                                              f"the size of {path}:1 \\(10, 12\\)"):  # fmt: skip
        mots_io.load_mots_ground_truth(str(tmp_path), ["0000"])
    with pytest.raises(MOTSFormatError, match=f"{path}:1: .* differs from the image size"):
        mots_io.load_mots_ground_truth(str(tmp_path), ["0000"], image_sizes={"0000": (10, 13)})
    duplicate = [lines[0], _line(0, 2001, 2, _rle(_box_mask(10, 12, 5, 6, 5, 6))),
                 _line(0, 1001, 1, _rle(_box_mask(10, 12, 6, 9, 6, 9)))]  # fmt: skip
    _write(tmp_path, duplicate)
    with pytest.raises(MOTSFormatError, match=f"{path}:3: obj_id 1001 appears more than once in "
                                              f"frame 0 \\(first at {path}:1\\)"):  # fmt: skip
        mots_io.load_mots_ground_truth(str(tmp_path), ["0000"])


def test_class_of_an_object_id():
    assert [mots_io.obj_id_to_class_id(i) for i in (1001, 1999, 2000, 2999, 10000)] == [
        1, 1, 2, 2, 10,
    ]  # fmt: skip
    assert mots_io.mots_class_to_contiguous(["pedestrian", "car"]) == {2: 0, 1: 1}
    with pytest.raises(ValueError, match=r"Unknown MOTS class name\(s\) \['dog'\]"):
        mots_io.mots_class_to_contiguous(["car", "dog"])


def test_id_maps_of_objects_refuse_overlaps_and_other_sizes():
    first = MOTSObject(2, 1001, 1, _rle(_box_mask(10, 12, 0, 4, 0, 4)))
    touching = MOTSObject(2, 2001, 2, _rle(_box_mask(10, 12, 3, 6, 3, 6)))  # one pixel shared
    with pytest.raises(MOTSFormatError, match="frame 2: masks of objects 1001 and 2001 overlap"):
        mots_io.objects_to_id_map([first, touching], 10, 12)
    other_size = r"object 1001 has size \(10, 12\), expected \(9, 12\)"
    with pytest.raises(MOTSFormatError, match=other_size):
        mots_io.objects_to_id_map([first], 9, 12)


def test_seqmaps_of_both_layouts(tmp_path):
    kitti = tmp_path / "kitti.seqmap"
    kitti.write_text("0002 empty 000000 000232\n\n0006 empty 000000 000269\n")
    assert mots_io.read_seqmap(str(kitti)) == {"0002": (0, 232), "0006": (0, 269)}
    mot = tmp_path / "mot.seqmap"
    mot.write_text("name\nMOTS20-02\nMOTS20-05\n")
    assert mots_io.read_seqmap(str(mot)) == {"MOTS20-02": None, "MOTS20-05": None}
    named = tmp_path / "named.seqmap"
    named.write_text("MOTS20-02\nname\n")  # "name" only heads the first line
    assert mots_io.read_seqmap(str(named)) == {"MOTS20-02": None, "name": None}
    bad = tmp_path / "bad.seqmap"
    bad.write_text("0002 empty 0\n")
    with pytest.raises(MOTSFormatError, match="bad.seqmap:1: expected"):
        mots_io.read_seqmap(str(bad))


@pytest.mark.parametrize(
    "content, problem",
    [
        ("0002 empty 000000 000232\n".encode("utf-16"), "byte 0 is 0xff"),  # Notepad's "Unicode"
        (bytes(range(256)), "byte 128 is 0x80"),
    ],
    ids=["utf-16", "binary"],
)
def test_a_seqmap_that_is_not_utf8_text_is_named(tmp_path, content, problem):
    seqmap = tmp_path / "odd.seqmap"
    seqmap.write_bytes(content)
    with pytest.raises(MOTSFormatError) as error:
        mots_io.read_seqmap(str(seqmap))
    assert str(error.value).startswith(f"{seqmap}: not a seqmap (not UTF-8 text: {problem})")
    assert "\n" not in str(error.value)


def test_a_seqmap_with_a_byte_order_mark_or_a_reversed_range(tmp_path):
    marked = tmp_path / "bom.seqmap"
    marked.write_bytes("0002 empty 000000 000232\n".encode("utf-8-sig"))
    assert mots_io.read_seqmap(str(marked)) == {"0002": (0, 232)}
    for line in ("0002 empty 000232 000000", "0002 empty -1 5"):
        reversed_range = tmp_path / "reversed.seqmap"
        reversed_range.write_text(line + "\n")
        with pytest.raises(MOTSFormatError, match=r"reversed.seqmap:1: .*\(0 <= first <= last\)"):
            mots_io.read_seqmap(str(reversed_range))


def test_an_unknown_annotation_format_is_refused(tmp_path):
    with pytest.raises(ValueError, match="annotation_format must be one of"):
        mots_io.find_sequence_annotations(str(tmp_path), "0000", "json")


def test_a_file_with_windows_line_ends_reads_as_its_unix_twin(tmp_path):
    """The same two objects written with "\\r\\n" and with "\\n" line ends: the same objects,
    no "\\r" left in an RLE string."""
    objects = [
        MOTSObject(0, 2001, 2, _rle(_box_mask(10, 12, 0, 5, 0, 4))),
        MOTSObject(1, 1002, 1, _rle(_box_mask(10, 12, 5, 10, 6, 12))),
    ]
    lines = [_line(o.frame, o.obj_id, o.class_id, o.rle) for o in objects]
    windows, unix = tmp_path / "windows.txt", tmp_path / "unix.txt"
    windows.write_bytes("".join(line + "\r\n" for line in lines).encode())
    unix.write_bytes("".join(line + "\n" for line in lines).encode())
    frames = mots_io.read_mots_txt(str(windows))
    assert frames == mots_io.read_mots_txt(str(unix)) == {0: objects[:1], 1: objects[1:]}


@pytest.mark.parametrize("blank", ["", "     ", "\t     ", " \t \t \r", "\x0b \x0b \x0b \r \r "])
def test_lines_of_white_space_only_are_skipped_whatever_their_spaces(tmp_path, blank):
    """A line of nothing but white space holds no object, as an empty line: skipped, also when
    its spaces cut it into six fields (five spaces) and its first field is a tab."""
    objects = [
        MOTSObject(0, 2001, 2, _rle(_box_mask(10, 12, 0, 5, 0, 4))),
        MOTSObject(1, 1002, 1, _rle(_box_mask(10, 12, 5, 10, 6, 12))),
    ]
    lines = [_line(o.frame, o.obj_id, o.class_id, o.rle) for o in objects]
    path = tmp_path / "blank.txt"
    path.write_bytes((lines[0] + "\n" + blank + "\n" + lines[1] + "\n").encode())
    assert mots_io.read_mots_txt(str(path)) == {0: objects[:1], 1: objects[1:]}
