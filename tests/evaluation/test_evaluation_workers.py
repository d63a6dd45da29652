"""The folder evaluation reads and evaluates one sequence at a time, in this process or in
``--workers N`` processes: every field, warning and error message is the same for any N."""
import json
import weakref

import numpy as np
import pytest
from helpers.mots_eval_cases import box, random_case

from trackrcnn_d2.data.mots_io import format_mots_line, read_mots_txt, write_mots_txt
from trackrcnn_d2.evaluation import evaluate_mots, evaluate_mots_folders, files
from trackrcnn_d2.evaluation.cli import main
from trackrcnn_d2.utils.file_io import atomic_write_text


def _write(folder, data):
    for sequence, frames in data.items():
        write_mots_txt(str(folder / f"{sequence}.txt"), [o for f in frames.values() for o in f])


@pytest.fixture
def folders(tmp_path):
    gt, results = random_case(np.random.default_rng(7), n_seq=5, n_frames=10, n_tracks=6)
    _write(tmp_path / "gt", gt)
    _write(tmp_path / "results", results)
    return tmp_path


def test_workers_give_every_field_of_one_process(folders, capsys):
    (folders / "results" / "0003.txt").unlink()  # counted as missed, with a warning
    atomic_write_text(
        str(folders / "seqmap"),
        "0000 empty 000000 000100\n0002 empty 000000 000100\n0003 empty 000000 000100\n"
        "0004 empty 000000 000100\n",
    )
    gt, results = (folders / "gt"), (folders / "results")
    listed = str(folders / "seqmap")
    for classes, seqmap, workers in ((["car"], listed, 2), (["pedestrian", "car"], None, 8),
                                     (None, listed, 3), (None, None, 2)):  # fmt: skip
        with pytest.warns(UserWarning, match="no results for sequence 0003"):
            one = evaluate_mots_folders(str(gt), str(results), classes, seqmap)
        with pytest.warns(UserWarning, match="no results for sequence 0003"):
            assert evaluate_mots_folders(str(gt), str(results), classes, seqmap, workers) == one
    # One sequence at a time equals all at once (evaluate_mots on the whole dicts).
    read = {name: {s: read_mots_txt(str(folders / name / f"{s}.txt")) for s in one["per_sequence"]
                   if (folders / name / f"{s}.txt").exists()}
            for name in ("gt", "results")}  # fmt: skip
    with pytest.warns(UserWarning):
        assert one == evaluate_mots(read["gt"], read["results"], ["pedestrian", "car"])

    outputs = []
    for workers in ("1", "2"):
        out = folders / f"w{workers}.json"
        assert main([str(gt), str(results), "--workers", workers, "--json", str(out)]) == 0
        printed = capsys.readouterr()
        outputs.append((json.loads(out.read_text()), printed.out.replace(workers + ".json", ""),
                        printed.err))  # fmt: skip
    assert outputs[0] == outputs[1]
    assert "warning: no results for sequence 0003" in outputs[0][2]


def _error(folders, capsys, workers):
    argv = [str(folders / "gt"), str(folders / "results"), "--workers", str(workers)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


def test_errors_and_warnings_are_the_same_with_workers(folders, capsys):
    results = folders / "results"
    (results / "0001.txt").unlink()
    good = format_mots_line(box(0, 1001, 0, 3, 0, 3, size=(12, 16)))
    short = good.replace("1001", "1002", 1)[:-2]  # covers too few pixels
    (results / "0002.txt").write_text(f"{good}\n{short}\n")
    overlapping = [box(2, 1001, 0, 3, 0, 3, size=(12, 16)), box(2, 2001, 1, 4, 1, 4, size=(12, 16))]
    write_mots_txt(str(results / "0003.txt"), overlapping)
    # The first bad sequence in sequence order is reported, after the warnings of the sequences
    # before it and of its own.
    errors = [_error(folders, capsys, workers) for workers in (1, 2, 4)]
    assert errors[0] == errors[1] == errors[2]
    assert errors[0].splitlines() == [
        "warning: no results for sequence 0001: all its ground-truth masks count as missed",
        f"error: {results / '0002.txt'}:2: the RLE covers 27 pixels but the header says 12x16 = "
        "192; the mask does not belong to this image size",
    ]
    (results / "0002.txt").write_text(f"{good}\n")
    errors = [_error(folders, capsys, workers) for workers in (1, 2)]
    assert errors[0] == errors[1]
    assert "sequence 0003, frame 2: the masks of object 1001 and object 2001 overlap" in errors[0]
    lines = (folders / "gt" / "0002.txt").read_text().splitlines()
    (folders / "gt" / "0002.txt").write_text("\n".join(lines[:1] + ["3 1001 1"] + lines[1:]))
    errors = [_error(folders, capsys, workers) for workers in (1, 2)]
    assert errors[0] == errors[1] and f"{folders / 'gt' / '0002.txt'}:2: expected 6" in errors[0]


def test_workers_must_be_a_positive_integer(folders, capsys):
    with pytest.raises(ValueError, match="workers must be a positive integer"):
        evaluate_mots_folders(str(folders / "gt"), str(folders / "results"), workers=0)
    with pytest.raises(SystemExit):
        main([str(folders / "gt"), str(folders / "results"), "--workers", "0"])
    assert "expected a whole number >= 1, got '0'" in capsys.readouterr().err


class _Frames(dict):
    """A dict that a weak reference can follow."""


def test_one_sequence_is_held_at_a_time(folders, monkeypatch):
    # Each sequence's frames are freed before the next sequence is read, so that memory does not
    # grow with the number of sequences.
    read = files.read_mots_file
    earlier, alive_at_read = [], []

    def spy(path, check_rles=True):
        frames = _Frames(read(path, check_rles))
        alive_at_read.append(sum(ref() is not None for ref in earlier))
        earlier.append(weakref.ref(frames))
        return frames

    monkeypatch.setattr(files, "read_mots_file", spy)
    evaluate_mots_folders(str(folders / "gt"), str(folders / "results"))
    assert len(earlier) == 10  # GT and results of 5 sequences
    assert alive_at_read == [0, 1] * 5  # at a sequence's results, only its own GT is held


def _dying_worker(job):
    """A worker that dies (as killed by the out-of-memory killer) on sequence 0002."""
    import os

    if job.sequence == "0002":
        os._exit(3)
    return _evaluate_sequence(job)


_evaluate_sequence = files.evaluate_sequence


def test_a_dying_worker_is_an_error_not_a_hang(folders, monkeypatch):
    from concurrent.futures.process import BrokenProcessPool

    monkeypatch.setattr(files, "evaluate_sequence", _dying_worker)
    with pytest.raises(BrokenProcessPool):
        evaluate_mots_folders(str(folders / "gt"), str(folders / "results"), workers=2)
