"""The Identity metrics' assignment (no scipy at run time) reaches scipy's optimum."""
import numpy as np
from scipy.optimize import linear_sum_assignment

from trackrcnn_d2.evaluation.metrics.identity import max_assignment_value


def test_max_assignment_value_equals_scipys_optimum():
    rng = np.random.default_rng(0)
    for _ in range(500):
        rows, cols = rng.integers(1, 9, size=2)
        weights = rng.integers(0, 6, size=(rows, cols)) * (rng.random((rows, cols)) < 0.6)
        match_rows, match_cols = linear_sum_assignment(weights, maximize=True)
        assert max_assignment_value(weights) == weights[match_rows, match_cols].sum()
