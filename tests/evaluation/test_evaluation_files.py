"""Folder loading for the standalone evaluation: seqmaps, GT layouts, RLE size checks."""
import numpy as np
import pytest
from mots_eval_cases import box

from trackrcnn_d2.data.mots_io import (
    MOTSFormatError,
    format_mots_line,
    rle_counts_total,
    rle_counts_totals,
    write_mots_txt,
)
from trackrcnn_d2.evaluation.files import (
    find_gt_files,
    load_gt_folder,
    load_results_folder,
    read_mots_file,
    read_seqmap,
)


def test_seqmap_formats(tmp_path):
    kitti = tmp_path / "kitti.seqmap"
    kitti.write_text("0002 empty 000000 000232\n\n0006 empty 000000 000269\n")
    assert read_seqmap(str(kitti)) == {"0002": (0, 232), "0006": (0, 269)}
    motchallenge = tmp_path / "MOTS-train.txt"
    motchallenge.write_text("name\nMOTS20-02\nMOTS20-05\n")
    assert read_seqmap(str(motchallenge)) == {"MOTS20-02": None, "MOTS20-05": None}
    bad = tmp_path / "bad.seqmap"
    bad.write_text("0002 empty zero\n")
    with pytest.raises(MOTSFormatError, match="bad.seqmap:1"):
        read_seqmap(str(bad))


def test_gt_layouts_and_seqmap_selection(tmp_path):
    write_mots_txt(str(tmp_path / "kitti" / "0001.txt"), [box(0, 1001, 0, 2, 0, 2)])
    write_mots_txt(str(tmp_path / "kitti" / "0000.txt"), [box(0, 1001, 0, 2, 0, 2)])
    mots_gt = tmp_path / "mots" / "MOTS20-02" / "gt" / "gt.txt"
    write_mots_txt(str(mots_gt), [box(1, 2001, 0, 2, 0, 2)])
    assert list(find_gt_files(str(tmp_path / "kitti"))) == ["0000", "0001"]
    assert list(find_gt_files(str(tmp_path / "mots"))) == ["MOTS20-02"]
    (tmp_path / "seqmap").write_text("0001 empty 000000 000010\n")
    gt, ranges = load_gt_folder(str(tmp_path / "kitti"), str(tmp_path / "seqmap"))
    assert list(gt) == ["0001"] and ranges == {"0001": (0, 10)}
    (tmp_path / "seqmap").write_text("0003 empty 000000 000010\n")
    with pytest.raises(FileNotFoundError, match=r"\['0003'\]"):
        load_gt_folder(str(tmp_path / "kitti"), str(tmp_path / "seqmap"))
    with pytest.raises(FileNotFoundError, match="neither"):
        find_gt_files(str(tmp_path))


def test_results_of_other_known_sequences_are_ignored(tmp_path):
    write_mots_txt(str(tmp_path / "0000.txt"), [box(0, 1, 0, 2, 0, 2, class_id=1)])
    write_mots_txt(str(tmp_path / "0001.txt"), [box(0, 1, 0, 2, 0, 2, class_id=1)])
    results = load_results_folder(str(tmp_path), ["0001", "0002"], ["0000", "0001", "0002"])
    assert list(results) == ["0001"]  # 0000 not evaluated, 0002 missing


def test_corrupted_rle_is_reported_with_its_line(tmp_path):
    rng = np.random.default_rng(1)
    good = box(0, 1001, 0, 3, 0, 3)
    corrupted = []
    for _ in range(200):  # truncated, extended, foreign characters: no crash, always caught
        counts = bytearray(good.rle["counts"])
        position = int(rng.integers(0, len(counts)))
        counts[position] = int(rng.integers(33, 127))
        corrupted.append(bytes(counts))
    totals = rle_counts_totals(corrupted)
    for counts, total in zip(corrupted, totals):
        try:
            reference = rle_counts_total(counts)
        except ValueError:
            reference = None
        assert (total == 120) == (reference == 120)
    path = tmp_path / "0000.txt"
    line = format_mots_line(good)
    path.write_text(f"{line}\n{line.replace('1001', '1002', 1)[:-2]}\n")
    with pytest.raises(MOTSFormatError, match="0000.txt:2"):
        read_mots_file(str(path))
