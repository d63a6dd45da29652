"""``python -m trackrcnn_d2.evaluation GT RESULTS --report DIR``: the page opens from disk (every
local link resolves, nothing is fetched), its numbers are the ``--json`` output, the error views
are written for the frames with errors, two runs side by side; and bad input ends in one line
with status 2."""
import json
import os
import re
import subprocess
import sys
import urllib.parse

import numpy as np
import pytest
from report_parsing import parse_page
from report_scene import FRAMES, SEQUENCE, scene, write_scene

from trackrcnn_d2.evaluation.__main__ import main
from trackrcnn_d2.evaluation.report.html import format_value


def _local_links_resolve(folder, page):
    for link in page.links:
        parts = urllib.parse.urlsplit(link)
        assert not parts.scheme and not parts.netloc, f"a link leaves the report: {link}"
        if parts.path:
            assert os.path.isfile(os.path.join(folder, urllib.parse.unquote(parts.path))), link
        if parts.fragment:
            assert parts.fragment in page.ids, link


@pytest.fixture
def folders(tmp_path):
    return write_scene(str(tmp_path))


def test_report_opens_from_disk_and_its_numbers_are_the_json(folders, tmp_path, capsys):
    gt, results, images = folders
    out, metrics = tmp_path / "report", tmp_path / "metrics.json"
    assert main([gt, results, "--report", str(out), "--images", images, "--json",
                 str(metrics)]) == 0  # fmt: skip
    assert "wrote the report" in capsys.readouterr().out
    report = json.loads(metrics.read_text())
    assert json.loads((out / "metrics.json").read_text()) == report
    text = (out / "index.html").read_text()
    page = parse_page(text)
    _local_links_resolve(str(out), page)
    assert "http://" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in text and "<script" not in text
    # The per-sequence counts line is the JSON's.
    for class_name in ("car", "pedestrian"):
        row = report["per_sequence"][SEQUENCE][class_name]
        line = " \u00b7 ".join(f"{f} {row[f]}" for f in ("TP", "FN", "FP", "IDS", "Frag"))
        assert f"<b>{class_name}</b>: {line}" in text
    # Every table cell is the JSON's number, printed as the command's table prints it.
    assert len(page.cells) == 2 * 2 * 19  # 2 classes x (1 sequence + combined) x 19 fields
    for cell in page.cells:
        row = report if cell["data-sequence"] == "COMBINED" else report["per_sequence"][
            cell["data-sequence"]]
        value = row[cell["data-class"]][cell["data-field"]]
        assert json.loads(cell["data-value"]) == value
        assert cell["text"] == format_value(cell["data-field"], value)
    # Error views of the frames with errors (all but none here: hypothesis 9 is in every frame).
    views = sorted(os.listdir(out / "frames" / SEQUENCE))
    assert views == [f"{f:06d}.png" for f in FRAMES]
    assert f'href="frames/{SEQUENCE}/000003.png"' in text
    for name in ("car_sequences.svg", "car_alpha.svg", "pedestrian_sequences.svg"):
        assert (out / "plots" / name).stat().st_size > 1000


def test_two_runs_side_by_side(folders, tmp_path):
    gt, results, images = folders
    # Run B tracks car 1001 with one hypothesis (no switch) but switches the pedestrian.
    gt_frames, frames = scene()
    for f, objects in frames[SEQUENCE].items():
        for k, o in enumerate(objects):
            if o.obj_id == 2:
                objects[k] = o._replace(obj_id=1)
            elif o.obj_id == 2005 and f >= 4:
                objects[k] = o._replace(obj_id=2006)
    run_b = write_scene(str(tmp_path / "b"), frames)[1]
    out = tmp_path / "report"
    assert main([gt, results, "--compare", run_b, "--report", str(out), "--images", images]) == 0
    text = (out / "index.html").read_text()
    _local_links_resolve(str(out), parse_page(text))
    report_b = json.loads((out / "compare" / "metrics.json").read_text())
    assert report_b["car"]["IDS"] == 0 and report_b["pedestrian"]["IDS"] == 1
    assert os.path.isfile(out / "compare" / "frames" / SEQUENCE / "000004.png")
    # The switches of one run only: car 1001 at frame 3 in A, pedestrian 2001 at frame 4 in B.
    # Each side links to its run's error view of the frame.
    assert ('<td>3</td><td class="name">car 1001</td><td><a href="frames/0000/000003.png">'
            '1 \u2192 2</a></td><td><a href="compare/frames/0000/000003.png">\u2014</a></td>'
            ) in text  # fmt: skip
    assert ('<td>4</td><td class="name">pedestrian 2001</td><td><a href="frames/0000/000004'
            '.png">\u2014</a></td><td><a href="compare/frames/0000/000004.png">2005 \u2192 2006'
            "</a></td>") in text  # fmt: skip
    # The differences B - A, from the two JSON files.
    report_a = json.loads((out / "metrics.json").read_text())
    deltas = re.findall(r'<td[^>]*data-class="(\w+)" data-delta-field="(\w+)" data-sequence='
                        r'"(\w+)" data-a="([^"]+)" data-b="([^"]+)"[^>]*>([^<]*)</td>', text)
    assert len(deltas) == 2 * 2 * 10  # 2 classes x (1 sequence + combined) x 10 fields
    for class_name, field, sequence, a, b, shown in deltas:
        row_a = report_a if sequence == "COMBINED" else report_a["per_sequence"][sequence]
        row_b = report_b if sequence == "COMBINED" else report_b["per_sequence"][sequence]
        assert json.loads(a) == row_a[class_name][field]
        assert json.loads(b) == row_b[class_name][field]
        delta = json.loads(b) - json.loads(a)
        number = f"{delta:+.1f}" if isinstance(delta, float) else f"{delta:+d}"
        assert shown.split()[0] == number
    assert 'title="IDS: 1 \u2192 0">-1 \u25bc</td>' in text
    # RESULTS_B as a positional argument is the same.
    out_positional = tmp_path / "report2"
    assert main([gt, results, run_b, "--report", str(out_positional)]) == 0
    assert json.loads((out_positional / "compare" / "metrics.json").read_text()) == report_b


def test_report_without_images_has_no_error_views(folders, tmp_path):
    gt, results, _ = folders
    out = tmp_path / "report"
    assert main([gt, results, "--report", str(out)]) == 0
    assert not (out / "frames").exists()
    _local_links_resolve(str(out), parse_page((out / "index.html").read_text()))


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--images", "{images}"], "--images is for the report: add --report DIR"),
        (["{results}"], "a second results folder is for the report: add --report DIR"),
        (["--views", "switches"], "--views is for the report: add --report DIR"),
        (["--workers", "2", "--report", "{out}"], "leave out --workers"),
        (["--report", ""], "--report is empty: give a folder"),
        (["--report", "{out}", "--images", " "], "--images is empty: give a folder"),
        (["{results}", "--compare", "{results}", "--report", "{out}"], "give the second"),
    ],
)
def test_report_options_that_do_not_go_together(folders, tmp_path, capsys, arguments, message):
    gt, results, images = folders
    names = {"images": images, "results": results, "out": str(tmp_path / "r")}
    with pytest.raises(SystemExit) as exit_info:
        main([gt, results] + [a.format(**names) for a in arguments])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def _fails(argv, capsys, message):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err, err
    assert "Traceback" not in err


def test_bad_report_inputs_end_in_one_line(folders, tmp_path, capsys):
    gt, results, images = folders
    out = tmp_path / "report"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    _fails([gt, results, "--report", str(out)], capsys, "already holds files; pass --overwrite")
    assert (out / "notes.txt").read_text() == "mine"  # refused, untouched
    _fails([gt, results, "--report", results, "--overwrite"], capsys, "would replace")
    _fails([gt, results, "--report", str(tmp_path / "r"), "--images", str(tmp_path / "none")],
           capsys, "no such folder")  # fmt: skip
    os.rename(os.path.join(images, SEQUENCE), os.path.join(images, "9999"))
    _fails([gt, results, "--report", str(tmp_path / "r"), "--images", images], capsys,
           "Image folder of sequence '0000' not found")  # fmt: skip
    assert not (tmp_path / "r").exists()
    # Images of other frames (another size than the masks).
    import cv2
    import numpy as np

    os.rename(os.path.join(images, "9999"), os.path.join(images, SEQUENCE))
    cv2.imwrite(os.path.join(images, SEQUENCE, "000003.png"), np.zeros((10, 10, 3), np.uint8))
    _fails([gt, results, "--report", str(tmp_path / "r"), "--images", images], capsys,
           "is 10x10 but the masks of sequence 0000 are 192x120")  # fmt: skip
    assert not (tmp_path / "r").exists()
    # --overwrite replaces a folder that holds files, as a whole.
    assert main([gt, results, "--report", str(out), "--overwrite"]) == 0
    assert not (out / "notes.txt").exists() and (out / "index.html").is_file()


def test_plain_command_loads_neither_the_report_nor_matplotlib(folders):
    gt, results, _ = folders
    code = (
        "import sys\nfrom trackrcnn_d2.evaluation.__main__ import main\n"
        f"main([{gt!r}, {results!r}])\n"
        "print(sorted(m for m in ('matplotlib', 'cv2', 'PIL', 'torch', "
        "'trackrcnn_d2.evaluation.report') if m in sys.modules))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip().splitlines()[-1] == "[]"


def test_the_report_imports_no_torch(folders, tmp_path):
    gt, results, images = folders
    code = (
        "import sys\nfrom trackrcnn_d2.evaluation.__main__ import main\n"
        f"main([{gt!r}, {results!r}, '--report', {str(tmp_path / 'r')!r}, '--images', "
        f"{images!r}])\nprint('torch' in sys.modules, 'detectron2' in sys.modules)"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip().splitlines()[-1] == "False False"


def test_sequence_names_with_spaces_and_an_empty_sequence(tmp_path, capsys):
    gt_folder, results_folder, images = write_scene(str(tmp_path))
    for folder in (gt_folder, results_folder):
        os.rename(os.path.join(folder, f"{SEQUENCE}.txt"), os.path.join(folder, "my seq#1.txt"))
    os.rename(os.path.join(images, SEQUENCE), os.path.join(images, "my seq#1"))
    open(os.path.join(gt_folder, "empty.txt"), "w").close()  # no GT, no results
    os.makedirs(os.path.join(images, "empty"))
    import cv2

    cv2.imwrite(os.path.join(images, "empty", "000000.png"), np.zeros((4, 4, 3), np.uint8))
    out = tmp_path / "report"
    assert main([gt_folder, results_folder, "--report", str(out), "--images", images]) == 0
    assert "warning: no results for sequence empty" in capsys.readouterr().err
    text = (out / "index.html").read_text()
    page = parse_page(text)
    _local_links_resolve(str(out), page)
    assert "frames/my%20seq%231/000003.png" in page.links
    assert len(page.ids) == len(set(page.ids))
