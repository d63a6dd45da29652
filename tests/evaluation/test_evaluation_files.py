"""Folder loading for the standalone evaluation: GT layouts, seqmaps, RLE size checks, and the
folder-level call."""
import numpy as np
import pytest
from helpers.mots_eval_cases import box, random_case

from trackrcnn_d2.data.mots_io import (
    MOTSFormatError,
    format_mots_line,
    objects_to_id_map,
    write_mots_png,
    write_mots_txt,
)
from trackrcnn_d2.evaluation import evaluate_mots, evaluate_mots_folders
from trackrcnn_d2.evaluation.files import (
    gt_sequences,
    load_gt_folder,
    load_results_folder,
    read_mots_file,
)
from trackrcnn_d2.utils.rle import rle_counts_total, rle_counts_totals


def test_gt_layouts_and_seqmap_selection(tmp_path):
    write_mots_txt(str(tmp_path / "kitti" / "0001.txt"), [box(0, 1001, 0, 2, 0, 2)])
    write_mots_txt(str(tmp_path / "kitti" / "0000.txt"), [box(0, 1001, 0, 2, 0, 2)])
    mots_gt = tmp_path / "mots" / "MOTS20-02" / "gt" / "gt.txt"
    write_mots_txt(str(mots_gt), [box(1, 2001, 0, 2, 0, 2)])
    assert gt_sequences(str(tmp_path / "kitti")) == ["0000", "0001"]
    assert gt_sequences(str(tmp_path / "mots")) == ["MOTS20-02"]
    (tmp_path / "seqmap").write_text("0001 empty 000000 000010\n")
    gt, ranges = load_gt_folder(str(tmp_path / "kitti"), str(tmp_path / "seqmap"))
    assert list(gt) == ["0001"] and ranges == {"0001": (0, 10)}
    (tmp_path / "seqmap").write_text("0003 empty 000000 000010\n")
    with pytest.raises(FileNotFoundError, match=r"\['0003'\]"):
        load_gt_folder(str(tmp_path / "kitti"), str(tmp_path / "seqmap"))
    with pytest.raises(FileNotFoundError, match="ground-truth folder .*empty does not exist"):
        gt_sequences(str(tmp_path / "kitti" / "empty"))
    (tmp_path / "kitti" / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="neither"):
        gt_sequences(str(tmp_path / "kitti" / "empty"))
    with pytest.raises(NotADirectoryError, match="0000.txt is a file; expected a folder"):
        load_gt_folder(str(tmp_path / "kitti" / "0000.txt"))
    with pytest.raises(IsADirectoryError, match="is a folder; expected a file"):
        load_gt_folder(str(tmp_path / "kitti"), str(tmp_path / "kitti"))


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
    totals = rle_counts_totals([{"size": [1, 1], "counts": c} for c in corrupted])
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


def test_folder_call_names_the_line_of_a_bad_rle_string(tmp_path):
    # The folder call reads without checking the strings (the evaluation checks them once and
    # reuses their areas); a bad one is still reported with its file and line.
    good = box(0, 1001, 0, 3, 0, 3)
    line = format_mots_line(good)
    short = line.replace("1001", "1002", 1)[:-2]  # a string that covers too few pixels
    (tmp_path / "gt").mkdir()
    (tmp_path / "results").mkdir()
    (tmp_path / "gt" / "0000.txt").write_text(f"{line}\n")
    (tmp_path / "results" / "0000.txt").write_text(f"{line}\n{short}\n")
    with pytest.raises(MOTSFormatError, match=r"results.0000.txt:2: the RLE covers"):
        evaluate_mots_folders(str(tmp_path / "gt"), str(tmp_path / "results"))
    (tmp_path / "gt" / "0000.txt").write_text(f"{line}\n{short}\n")
    with pytest.raises(MOTSFormatError, match=r"gt.0000.txt:2: the RLE covers"):
        evaluate_mots_folders(str(tmp_path / "gt"), str(tmp_path / "results"))


def _write_sequences(folder, data):
    for sequence, frames in data.items():
        write_mots_txt(str(folder / f"{sequence}.txt"), [o for f in frames.values() for o in f])


def test_folder_call_equals_evaluate_mots_and_reads_png_ground_truth(tmp_path):
    gt, results = random_case(np.random.default_rng(5), n_seq=2, n_frames=5, classes=(2,))
    _write_sequences(tmp_path / "txt", gt)
    _write_sequences(tmp_path / "results", results)
    for sequence, frames in gt.items():
        for frame, objects in frames.items():
            id_map = objects_to_id_map(objects, *objects[0].rle["size"])
            write_mots_png(str(tmp_path / "png" / sequence / f"{frame:06d}.png"), id_map)
    read_gt, _ = load_gt_folder(str(tmp_path / "txt"))
    read_results = load_results_folder(str(tmp_path / "results"), list(gt), list(gt))
    expected = evaluate_mots(read_gt, read_results, ["pedestrian"])  # the classes present
    assert evaluate_mots_folders(str(tmp_path / "txt"), str(tmp_path / "results")) == expected
    from_png = evaluate_mots_folders(str(tmp_path / "png"), str(tmp_path / "results"))
    assert from_png["pedestrian"] == expected["pedestrian"]
    both = evaluate_mots_folders(
        str(tmp_path / "txt"), str(tmp_path / "results"), classes=["car", "pedestrian"]
    )
    assert both["car"]["GT"] == 0 and both["pedestrian"] == expected["pedestrian"]


def test_evaluate_mots_on_folder_names_says_what_to_call(tmp_path):
    with pytest.raises(TypeError, match=r"dict .*evaluate_mots_folders\(gt_folder, res_folder\)"):
        evaluate_mots(str(tmp_path), str(tmp_path))
