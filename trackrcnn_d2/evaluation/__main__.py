"""``python -m trackrcnn_d2.evaluation GT RESULTS``: the standalone evaluation command
(:mod:`trackrcnn_d2.evaluation.cli`)."""
import os
import sys

if "numpy" not in sys.modules:
    # The evaluation does no linear algebra, but OpenBLAS, loaded with numpy (and scipy), starts
    # a pool of threads that spin for a while: with one thread the command takes about 0.1 s less
    # CPU time, and less wall time on a busy machine. A user's own setting is kept.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from trackrcnn_d2.evaluation.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
