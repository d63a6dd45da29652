#!/usr/bin/env bash
# Creates .venv and installs torch, detectron2, trackrcnn_d2 (editable) and the test tools.
# Idempotent: a stamp file records the inputs; when they are unchanged the script returns at once.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
VENV=.venv
STAMP=$VENV/.install-stamp
inputs_hash=$(cat setup.py tools/install.sh | sha256sum | cut -d' ' -f1)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$inputs_hash" ]; then
  exit 0
fi
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
# This machine's pip configuration names local indexes that lack most packages; pip warns
# about each one. sal-detectron2's metadata pins numpy<2, which its code does not need.
pip_quiet() {
  "$VENV/bin/python" -m pip --disable-pip-version-check -q "$@" 2>&1 | {
    grep -v -e "^WARNING: Location '.*' is ignored" -e "dependency resolver does not currently" \
      -e "sal-detectron2 0.7.2 requires" || true
  }
}
PIP=pip_quiet
echo "make install: setting up $VENV (first time: about 2 minutes)"
$PIP install --upgrade "pip>=24" "setuptools>=77,<81" wheel
$PIP install "torch==2.14.1" "torchvision==0.29.1"

if ! "$VENV/bin/python" -c "import detectron2" 2>/dev/null; then
  # detectron2 is not on PyPI under its own name. sal-detectron2 redistributes its Python code;
  # its only wheel is tagged cp310 although it is pure Python apart from an optional _C.
  wheel_dir=$(mktemp -d)
  trap 'rm -rf "$wheel_dir"' EXIT
  $PIP download --no-deps --only-binary=:all: --python-version 3.10 -d "$wheel_dir" "sal-detectron2==0.7.2"
  mv "$wheel_dir"/sal_detectron2-0.7.2-*.whl "$wheel_dir/sal_detectron2-0.7.2-py3-none-any.whl"
  $PIP install --no-deps "$wheel_dir/sal_detectron2-0.7.2-py3-none-any.whl"
  $PIP install "omegaconf>=2.1,<2.4" hydra-core yacs termcolor tabulate cloudpickle black packaging \
    matplotlib pycocotools Pillow fvcore "iopath<0.1.10"
fi

$PIP install -e ".[test]"
echo "$inputs_hash" > "$STAMP"
