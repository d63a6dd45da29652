"""The charts show the report's numbers: bar heights and labels are the per-sequence values,
the curves are HOTA's values per alpha, the legend's numbers the reported means; two runs are
told apart by colour and hatch, the curves by colour, line style and marker."""
import numpy as np
import pytest
from helpers.mots_eval_cases import random_case

from trackrcnn_d2.evaluation.metrics import HOTA_ALPHAS, evaluate_mots_with_matching
from trackrcnn_d2.evaluation.report import plots


@pytest.fixture(scope="module")
def matchings():
    gt, results = random_case(np.random.default_rng(7), n_seq=3, n_frames=10)
    _, other = random_case(np.random.default_rng(8), n_seq=3, n_frames=10)
    return [evaluate_mots_with_matching(gt, r, ("car", "pedestrian")) for r in (results, other)]


def test_bars_are_the_per_sequence_values(matchings):
    runs = [("A", matchings[0].report), ("B", matchings[1].report)]
    figure = plots.sequence_bars(runs, "car")
    sequences = list(matchings[0].report["per_sequence"])
    for ax, (field, _, value_format) in zip(figure.axes, plots.BAR_FIELDS):
        containers = ax.containers
        assert len(containers) == 2
        for (_, report), bars in zip(runs, containers):
            expected = [report["per_sequence"][s]["car"][field] for s in sequences]
            assert [p.get_height() for p in bars.patches] == pytest.approx(expected)
            centres = [p.get_x() + p.get_width() / 2 for p in bars.patches]
            texts = [t.get_text() for t in ax.texts if t.xy[0] in centres]
            assert sorted(texts) == sorted(value_format.format(v) for v in expected)
        hatches = {bars.patches[0].get_hatch() or "" for bars in containers}
        assert len(hatches) == 2  # the runs differ by hatch, not only by colour


def test_curves_are_hotas_values_per_alpha_and_the_legend_the_report(matchings):
    matching = matchings[0]
    curves = matching.alpha_curves("pedestrian")
    figure = plots.alpha_curves([("A", curves)], HOTA_ALPHAS, "pedestrian",
                                [matching.report["pedestrian"]])  # fmt: skip
    (ax,) = figure.axes
    lines = ax.get_lines()
    assert [line.get_label().split()[0] for line in lines] == list(plots.CURVE_STYLES)
    for line in lines:
        field = line.get_label().split()[0]
        assert line.get_xdata() == pytest.approx(HOTA_ALPHAS)
        assert line.get_ydata() == pytest.approx(curves[field])
        assert line.get_label() == f"{field} ({matching.report['pedestrian'][field]:.1f})"
    styles = {(line.get_linestyle(), line.get_marker()) for line in lines}
    assert len(styles) == len(lines)  # told apart without colour


def test_svg_is_written_atomically_with_text_as_paths(matchings, tmp_path):
    figure = plots.sequence_bars([("A", matchings[0].report)], "car")
    path = tmp_path / "bars.svg"
    plots.save_svg(figure, str(path))
    text = path.read_text()
    assert text.startswith("<?xml") and "<text" not in text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bars.svg"]
