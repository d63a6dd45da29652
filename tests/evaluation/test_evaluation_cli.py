"""``python -m trackrcnn_d2.evaluation`` end to end on folders of MOTS txt files."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from helpers.mots_eval_cases import box, random_case

from trackrcnn_d2.data.mots_io import read_mots_txt, write_mots_txt
from trackrcnn_d2.evaluation.__main__ import main
from trackrcnn_d2.evaluation.metrics import evaluate_mots
from trackrcnn_d2.utils.file_io import atomic_write_text

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _write(folder, data, layout="kitti"):
    for sequence, frames in data.items():
        if layout == "kitti":
            path = os.path.join(folder, f"{sequence}.txt")
        else:
            path = os.path.join(folder, sequence, "gt", "gt.txt")
        write_mots_txt(path, [o for objects in frames.values() for o in objects])


@pytest.fixture
def kitti_folders(tmp_path):
    gt, results = random_case(np.random.default_rng(3), n_seq=2, n_frames=12)
    _write(tmp_path / "gt", gt)
    _write(tmp_path / "results", results)
    return tmp_path


def test_json_and_table(kitti_folders, capsys):
    out = kitti_folders / "out" / "metrics.json"
    folders = [str(kitti_folders / "gt"), str(kitti_folders / "results")]
    assert main(folders + ["--json", str(out)]) == 0
    printed = capsys.readouterr().out
    report = json.loads(out.read_text())
    # The JSON is evaluate_mots on the files as written (write_mots_txt sorts by id).
    gt = {s: read_mots_txt(str(kitti_folders / "gt" / f"{s}.txt")) for s in ("0000", "0001")}
    results = {s: read_mots_txt(str(kitti_folders / "results" / f"{s}.txt")) for s in gt}
    assert report == evaluate_mots(gt, results, ("car", "pedestrian"))
    assert set(report) == {"car", "pedestrian", "per_sequence"}
    assert set(report["per_sequence"]) == {"0000", "0001"}
    assert isinstance(report["car"]["IDS"], int) and isinstance(report["car"]["sMOTSA"], float)
    for text in ("car", "pedestrian", "sMOTSA", "HOTA", "IDF1", "0000", "0001", "COMBINED"):
        assert text in printed
    combined_row = [line for line in printed.splitlines() if line.startswith("COMBINED")][0]
    assert f"{report['car']['sMOTSA']:.1f}" in combined_row
    assert os.listdir(out.parent) == ["metrics.json"]  # written atomically, no temp file left


def test_motschallenge_layout_seqmap_and_default_classes(tmp_path, capsys):
    gt, results = random_case(np.random.default_rng(4), n_seq=2, n_frames=6, first_frame=1,
                              classes=(2,))
    _write(tmp_path / "gt", gt, layout="motschallenge")
    _write(tmp_path / "results", results)
    atomic_write_text(str(tmp_path / "seqmap"), "0001 empty 000001 000100\n")
    out = tmp_path / "m.json"
    argv = [str(tmp_path / "gt"), str(tmp_path / "results"), "--seqmap", str(tmp_path / "seqmap")]
    assert main(argv + ["--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert set(report) == {"pedestrian", "per_sequence"}  # only the class present
    assert set(report["per_sequence"]) == {"0001"}
    assert main(argv + ["--classes", "car,pedestrian", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["car"]["GT"] == 0


@pytest.mark.parametrize("workers", ["1", "2"])
def test_results_of_a_subset_give_one_warning_with_their_count(tmp_path, capsys, workers):
    """The demo's validation tracks against the whole synthetic ground truth: one warning that
    counts the sequences without results (not one per sequence) and names the seqmap."""
    gt, results = random_case(np.random.default_rng(4), n_seq=5, n_frames=3)
    _write(tmp_path / "gt", gt)
    _write(tmp_path / "results", {"0004": results["0004"]})
    folders = [str(tmp_path / "gt"), str(tmp_path / "results"), "--workers", workers]
    assert main(folders) == 0
    warned = [line for line in capsys.readouterr().err.splitlines() if "warning:" in line]
    assert warned == [
        "warning: no results for 4 of 5 sequences (0000, 0001, 0002, 0003): all their "
        "ground-truth masks count as missed; to evaluate only some sequences, give a seqmap "
        "(--seqmap FILE, or seqmap= of evaluate_mots_folders)"
    ]


def test_missing_result_file_warns_and_counts_all_missed(kitti_folders, capsys):
    os.remove(kitti_folders / "results" / "0001.txt")
    out = kitti_folders / "m.json"
    folders = [str(kitti_folders / "gt"), str(kitti_folders / "results")]
    assert main(folders + ["--json", str(out)]) == 0
    assert "warning: no results for sequence 0001" in capsys.readouterr().err
    sequence = json.loads(out.read_text())["per_sequence"]["0001"]
    assert sequence["car"]["TP"] == 0 and sequence["car"]["FN"] == sequence["car"]["GT"]


def _error(folders, capsys, *extra):
    assert main([str(folders / "gt"), str(folders / "results"), *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err
    return err


def test_errors_are_one_line_messages(kitti_folders, capsys):
    results = kitti_folders / "results"
    write_mots_txt(str(results / "7.txt"), [box(0, 1001, 0, 2, 0, 2)])
    assert "7.txt" in _error(kitti_folders, capsys)
    os.remove(results / "7.txt")

    lines = (results / "0000.txt").read_text().splitlines()
    (results / "0000.txt").write_text("\n".join(lines[:2] + ["3 1001 1 12 16"] + lines[2:]) + "\n")
    assert "0000.txt:3" in _error(kitti_folders, capsys)

    overlapping = [box(2, 1001, 0, 3, 0, 3, size=(12, 16)), box(2, 2001, 1, 4, 1, 4, size=(12, 16))]
    write_mots_txt(str(results / "0000.txt"), overlapping)
    assert "sequence 0000, frame 2: the masks of object 1001 and object 2001 overlap" in _error(
        kitti_folders, capsys
    )

    write_mots_txt(str(results / "0000.txt"), [box(2, 1001, 0, 3, 0, 3, size=(375, 1242))])
    assert "375x1242" in _error(kitti_folders, capsys)

    assert "does not exist" in _error(kitti_folders, capsys, "--seqmap", "/nonexistent")


def test_bad_classes_argument(kitti_folders):
    with pytest.raises(SystemExit) as exit_info:
        main([str(kitti_folders / "gt"), str(kitti_folders / "results"), "--classes", "truck"])
    assert exit_info.value.code == 2


def test_module_runs_as_a_command(kitti_folders):
    completed = subprocess.run(
        [sys.executable, "-m", "trackrcnn_d2.evaluation", str(kitti_folders / "gt"),
         str(kitti_folders / "results")],
        cwd=REPO, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "COMBINED" in completed.stdout


def test_standalone_evaluation_imports_neither_torch_nor_detectron2(kitti_folders):
    """Nor scipy, whose import alone takes longer than a small evaluation: the Hungarian
    algorithm is loaded only where a matching needs it, and without scipy.optimize
    (test_lsap.py); nor the atomic writer's modules (tempfile, shutil, logging), which only
    ``--json`` needs. Checked after importing the modules, then after the whole command as a
    user runs it (arguments parsed, folders evaluated, table printed), where an import inside
    a function shows too; argparse's help formatter imports shutil there."""
    code = (
        "import runpy, sys\n"
        "import trackrcnn_d2.evaluation.metrics, trackrcnn_d2.evaluation.__main__\n"
        "import trackrcnn_d2.evaluation as e; e.evaluate_mots\n"
        "unused = ['torch', 'detectron2', 'scipy', 'tempfile', 'shutil', 'logging']\n"
        "bad = [m for m in unused if m in sys.modules]\n"
        "assert not bad, ('imported by the modules', bad)\n"
        "try:\n"
        "    runpy.run_module('trackrcnn_d2.evaluation', run_name='__main__', alter_sys=True)\n"
        "except SystemExit as e:\n"
        "    assert not e.code, e.code\n"
        "unused.remove('shutil')\n"
        "bad = [m for m in unused if m in sys.modules]\n"
        "assert not bad, ('imported by the command', bad)\n"
    )
    folders = [str(kitti_folders / "gt"), str(kitti_folders / "results")]
    completed = subprocess.run([sys.executable, "-c", code, *folders], cwd=REPO,
                               capture_output=True, text=True)  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    assert "COMBINED" in completed.stdout


def test_command_starts_one_blas_thread_unless_told_otherwise():
    # The package itself imports no numpy, so that the command can limit OpenBLAS's thread pool
    # (of no use to the evaluation) before numpy starts it; a user's setting is kept, and a
    # process that has numpy already (a caller of main(), as these tests) is left alone.
    check = "import os; print(os.environ.get('OPENBLAS_NUM_THREADS'))"
    command = (
        "import sys, trackrcnn_d2.evaluation; assert 'numpy' not in sys.modules; "
        f"import trackrcnn_d2.evaluation.__main__; {check}"
    )
    in_a_caller = f"import numpy, trackrcnn_d2.evaluation.__main__; {check}"
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    for code, given, expected in (
        (command, None, "1"),
        (command, "3", "3"),
        (in_a_caller, None, "None"),
    ):
        run_env = env if given is None else {**env, "OPENBLAS_NUM_THREADS": given}
        completed = subprocess.run(
            [sys.executable, "-c", code], cwd=REPO, env=run_env, capture_output=True, text=True
        )
        assert completed.stdout.strip() == expected, completed.stderr


def test_mots_evaluator_is_loaded_lazily():
    import trackrcnn_d2.evaluation as evaluation

    assert "MOTSEvaluator" in evaluation.__all__
    from detectron2.evaluation import DatasetEvaluator

    assert issubclass(evaluation.MOTSEvaluator, DatasetEvaluator)
    with pytest.raises(AttributeError):
        evaluation.NoSuchThing  # noqa: B018


def test_json_that_would_replace_an_input_is_refused_before_any_work(kitti_folders, capsys):
    gt_file = kitti_folders / "gt" / "0000.txt"
    before = gt_file.read_text()
    err = _error(kitti_folders, capsys, "--json", str(gt_file))
    assert "would replace the input" in err and gt_file.read_text() == before
    assert "COMBINED" not in capsys.readouterr().out


def test_json_that_cannot_be_written_fails_before_the_table(kitti_folders, capsys):
    blocker = kitti_folders / "a_file"
    blocker.write_text("")
    err = _error(kitti_folders, capsys, "--json", str(blocker / "m.json"))
    assert "cannot create a file in" in err
    assert "is a folder" in _error(kitti_folders, capsys, "--json", str(kitti_folders))
    assert "COMBINED" not in capsys.readouterr().out


def test_path_of_the_wrong_type_is_named_as_such(kitti_folders, capsys):
    gt_file = str(kitti_folders / "gt" / "0000.txt")
    assert main([gt_file, str(kitti_folders / "results")]) == 2
    assert "is a file; expected a folder" in capsys.readouterr().err
    err = _error(kitti_folders, capsys, "--seqmap", str(kitti_folders / "gt"))
    assert "is a folder; expected a file" in err


@pytest.mark.parametrize("frame", [2**32, 10**20])
def test_huge_frame_numbers_are_refused_naming_the_line(kitti_folders, capsys, frame):
    path = kitti_folders / "results" / "0001.txt"
    line = path.read_text().splitlines()[0].split(" ", 1)[1]
    path.write_text(f"{frame} {line}\n")
    assert "0001.txt:1: frame must be in 0..4294967295" in _error(kitti_folders, capsys)


def test_json_files_are_readable_by_others(kitti_folders):
    out = kitti_folders / "m.json"
    old_umask = os.umask(0o022)
    try:
        assert main([str(kitti_folders / "gt"), str(kitti_folders / "results"),
                     "--json", str(out)]) == 0  # fmt: skip
    finally:
        os.umask(old_umask)
    assert out.stat().st_mode & 0o777 == 0o644


def test_ground_truth_of_unknown_classes_is_warned_about(kitti_folders, capsys):
    gt_file = kitti_folders / "gt" / "0000.txt"
    truck = box(50, 3001, 0, 2, 0, 2, class_id=3, size=(12, 16))  # a frame of its own
    mismatch = box(50, 2001, 4, 6, 4, 6, class_id=1, size=(12, 16))
    write_mots_txt(str(gt_file), read_mots_txt_objects(gt_file) + [truck, mismatch])
    assert main([str(kitti_folders / "gt"), str(kitti_folders / "results")]) == 0
    err = capsys.readouterr().err
    assert "unknown class id(s) [3]" in err and "obj_id(s) [2001]" in err


def read_mots_txt_objects(path):
    return [o for objects in read_mots_txt(str(path)).values() for o in objects]


@pytest.mark.parametrize("class_id", [7, -1])
def test_results_of_unknown_classes_are_warned_about_naming_file_and_line(
    kitti_folders, capsys, class_id
):
    result_file = kitti_folders / "results" / "0000.txt"
    lines = result_file.read_text().splitlines()
    fields = lines[2].split(" ")
    fields[2] = str(class_id)
    lines[2] = " ".join(fields)
    result_file.write_text("\n".join(lines) + "\n")
    assert main([str(kitti_folders / "gt"), str(kitti_folders / "results")]) == 0
    err = capsys.readouterr().err  # (the random case has a class 3 result in 0001.txt too)
    warnings = [line for line in err.splitlines() if line.startswith(f"warning: {result_file}")]
    assert len(warnings) == 1
    assert warnings[0].startswith(f"warning: {result_file}:3: unknown class id {class_id} ")
    assert "1 line(s) of unknown classes are not evaluated" in warnings[0]


def test_ground_truth_without_objects_is_warned_about_and_columns_stay_apart(
    kitti_folders, capsys
):
    gt_file = kitti_folders / "gt" / "0000.txt"
    for sequence in ("0000", "0001"):
        (kitti_folders / "gt" / f"{sequence}.txt").write_text("")
        (kitti_folders / "results" / f"{sequence}.txt").write_text("")
    # 1100 false positives and no GT: MOTSA = -1100 / max(1, 0) = -110000.0 % (TrackEval's rule),
    # 9 characters, one more than the table's 8.
    write_mots_txt(str(kitti_folders / "results" / "0000.txt"),
                   [box(f, 1001, 0, 2, 0, 2, size=(12, 16)) for f in range(1100)])  # fmt: skip
    assert main([str(kitti_folders / "gt"), str(kitti_folders / "results")]) == 0
    out, err = capsys.readouterr()
    assert f"warning: {gt_file}: the ground truth of sequence 0000 has no object" in err
    lines = out.splitlines()
    header, row = [line for line in lines if "sMOTSA" in line or line.startswith("0000")][:2]
    cells = row.split()
    assert cells[:2] == ["0000", "0.0"]  # per sequence: no GT, TrackEval's 0
    combined = [line for line in out.splitlines() if line.startswith("COMBINED")][0].split()
    assert len(combined) == len(header.split()) + 1  # every cell apart
    assert combined[1:3] == ["-110000.0", "-110000.0"]  # sMOTSA, MOTSA
    assert len(header) == len(row)  # the columns line up
