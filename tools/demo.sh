#!/usr/bin/env bash
# `make demo`: what of the pipeline exists so far, on the embedded synthetic dataset.
set -euo pipefail
echo "make demo: the end-to-end demo (issue 7) is not built yet; nothing is trained." >&2
exit 1
