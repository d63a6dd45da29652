"""The timeline's marks are the metrics' own: per GT track they equal the misses, identity
switches and fragmentations known from the scene, and per sequence and class they add up to the
report's FN, IDS, Frag and FP."""
import numpy as np
import pytest
from helpers.mots_eval_cases import random_case
from report_parsing import timeline_marks
from report_scene import EXPECTED, EXPECTED_FP, SEQUENCE, scene

from trackrcnn_d2.evaluation.metrics import evaluate_mots_with_matching
from trackrcnn_d2.evaluation.report.matching_log import build_sequence_logs
from trackrcnn_d2.evaluation.report.timeline import timeline_svg

CLASSES = ("car", "pedestrian")


def _marks(gt, results):
    matching = evaluate_mots_with_matching(gt, results, CLASSES)
    logs = build_sequence_logs(matching, results)
    return matching.report, {s: timeline_marks(timeline_svg(log)) for s, log in logs.items()}


def test_marks_per_track_are_the_scenes_errors():
    gt, results = scene()
    report, marks = _marks(gt, results)
    rows, false_positives = marks[SEQUENCE]
    assert {key: (r["FN"], r["IDS"], r["Frag"]) for key, r in rows.items()} == EXPECTED
    assert all(r["stated"] == (r["FN"], r["IDS"], r["Frag"]) for r in rows.values())
    assert false_positives == EXPECTED_FP
    car = report["car"]
    assert (car["FN"], car["IDS"], car["Frag"], car["FP"]) == (4, 1, 1, 6)


def test_a_switch_is_labelled_with_the_old_and_new_hypothesis_and_links_to_its_frame():
    gt, results = scene()
    matching = evaluate_mots_with_matching(gt, results, CLASSES)
    log = build_sequence_logs(matching, results)[SEQUENCE]
    svg = timeline_svg(log, lambda frame: f"frames/{SEQUENCE}/{frame:06d}.png")
    assert "car 1001, frame 3: identity switch 1 \u2192 2" in svg
    assert f'<a href="frames/{SEQUENCE}/000003.png"><path class="ids"' in svg
    assert f'<a href="frames/{SEQUENCE}/000003.png"><rect class="frag"' in svg
    assert "car 1003, frames 1\u20133: missed (3 FN)" in svg
    # Without error views the marks carry no links.
    assert "<a " not in timeline_svg(log)


@pytest.mark.parametrize("seed", range(8))
def test_marks_add_up_to_the_report_on_random_cases(seed):
    gt, results = random_case(np.random.default_rng(seed), n_seq=2, n_frames=16)
    report, marks = _marks(gt, results)
    for sequence, (rows, false_positives) in marks.items():
        for class_name in CLASSES:
            expected = report["per_sequence"][sequence][class_name]
            of_class = [r for (c, _), r in rows.items() if c == class_name]
            for field in ("FN", "IDS", "Frag"):
                assert sum(r[field] for r in of_class) == expected[field], (sequence, field)
            assert false_positives.get(class_name, 0) == expected["FP"]
            assert len(of_class) == expected["MT"] + expected["PT"] + expected["ML"]
