"""The evaluation's Hungarian algorithm is scipy's own, loaded without ``scipy.optimize``."""
import json
import os
import subprocess
import sys

import numpy as np
from helpers.mots_eval_cases import random_case

from trackrcnn_d2.data.mots_io import write_mots_txt
from trackrcnn_d2.evaluation.metrics import evaluate_mots
from trackrcnn_d2.evaluation.metrics.lsap import _load_compiled_solver

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_the_compiled_solver_is_scipys_and_breaks_ties_alike():
    from scipy.optimize import linear_sum_assignment

    solver = _load_compiled_solver()
    assert solver is not None and solver.__name__ == "linear_sum_assignment"
    rng = np.random.default_rng(0)
    for _ in range(300):
        rows, cols = rng.integers(1, 8, size=2)
        # Few distinct values: ties everywhere; TrackEval's -10000 below the threshold.
        cost = rng.choice([-1.0, -0.5, -0.5, 0.0, 10000.0], size=(rows, cols))
        for expected, got in zip(linear_sum_assignment(cost), solver(cost)):
            np.testing.assert_array_equal(got, expected)


def test_command_solves_ties_without_importing_scipy_optimize(tmp_path):
    # Tiny random cases have ties that the scores do not decide: the command solves those
    # frames with the Hungarian algorithm, and still never imports scipy.optimize.
    gt, results = random_case(np.random.default_rng(11), n_seq=2, n_frames=20, n_tracks=8)
    for name, data in (("gt", gt), ("results", results)):
        for sequence, frames in data.items():
            objects = [o for f in frames.values() for o in f]
            write_mots_txt(str(tmp_path / name / f"{sequence}.txt"), objects)
    out = tmp_path / "metrics.json"
    probe = (
        "import runpy, sys\n"
        "import trackrcnn_d2.evaluation.metrics.lsap as lsap\n"
        "calls = []\n"
        "solver = lsap._solver\n"
        "lsap._solver = lambda: calls.append(1) or solver()\n"
        f"sys.argv = ['x', {str(tmp_path / 'gt')!r}, {str(tmp_path / 'results')!r}, "
        f"'--json', {str(out)!r}]\n"
        "try:\n"
        "    runpy.run_module('trackrcnn_d2.evaluation', run_name='__main__')\n"
        "except SystemExit as e:\n"
        "    assert not e.code, e.code\n"
        "assert calls, 'no frame needed the Hungarian algorithm'\n"
        "assert 'scipy.optimize' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", probe], cwd=REPO, check=True, capture_output=True)
    from trackrcnn_d2.data.mots_io import read_mots_txt

    read = {
        name: {s: read_mots_txt(str(tmp_path / name / f"{s}.txt")) for s in gt}
        for name in ("gt", "results")
    }
    assert json.loads(out.read_text()) == evaluate_mots(read["gt"], read["results"])
