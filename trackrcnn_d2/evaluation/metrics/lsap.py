"""scipy's ``linear_sum_assignment``, the Hungarian algorithm of TrackEval, without importing
``scipy.optimize``.

``import scipy.optimize`` loads the whole package (linprog, minimize, ... and their docstrings):
0.3-0.45 s of CPU, a third of a whole evaluation command on realistic results, for one function.
That function lives in scipy's compiled module ``scipy/optimize/_lsap``, which needs neither the
package nor anything else of scipy: :func:`linear_sum_assignment` loads that module from its file
(0.2 ms), so the matchings are scipy's own, as in TrackEval, tie-breaking included. Where that is
not possible (another layout of scipy), or where ``scipy.optimize`` is imported anyway, it takes
``scipy.optimize.linear_sum_assignment``.
"""
import functools
import importlib.machinery
import importlib.util
import os
import sys
from typing import Callable

__all__ = ["linear_sum_assignment"]


def linear_sum_assignment(cost_matrix):
    """``scipy.optimize.linear_sum_assignment(cost_matrix)``: ``(row_ind, col_ind)``."""
    return _solver()(cost_matrix)


@functools.cache
def _solver() -> Callable:
    if "scipy.optimize" not in sys.modules:
        solver = _load_compiled_solver()
        if solver is not None:
            return solver
    from scipy.optimize import linear_sum_assignment as solver

    return solver


def _load_compiled_solver():
    """``linear_sum_assignment`` of the module ``scipy.optimize._lsap``, loaded from its file
    without its packages (and not registered in ``sys.modules``), or None."""
    try:
        scipy_spec = importlib.util.find_spec("scipy")
        if scipy_spec is None or not scipy_spec.submodule_search_locations:
            return None
        for folder in scipy_spec.submodule_search_locations:
            for suffix in importlib.machinery.EXTENSION_SUFFIXES:
                path = os.path.join(folder, "optimize", "_lsap" + suffix)
                if os.path.isfile(path):
                    spec = importlib.util.spec_from_file_location("scipy.optimize._lsap", path)
                    module = importlib.util.module_from_spec(spec)
                    spec.loader.exec_module(module)
                    return module.linear_sum_assignment
    except (ImportError, OSError, AttributeError):
        return None
    return None
