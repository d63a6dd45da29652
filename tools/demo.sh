#!/usr/bin/env bash
# `make demo`: the whole pipeline on the embedded synthetic dataset, on the CPU.
#   bash tools/demo.sh [DATA_DIR] [OUTPUT_DIR]     (defaults: datasets/synthetic_mots output/demo)
# 1. writes the synthetic dataset to DATA_DIR unless it is there already;
# 2. trains a small TrackR-CNN from scratch (configs/demo_synthetic.yaml) into OUTPUT_DIR;
# 3. evaluates it with `train_net.py --eval-only` (sMOTSA/HOTA table; tracks in
#    OUTPUT_DIR/inference/synthetic_mots_val/);
# 4. renders a tracked validation clip with demo.py into OUTPUT_DIR/clip/.
# An OUTPUT_DIR left by an earlier run is moved aside to OUTPUT_DIR.previous (replacing an older
# one), so that results of two runs are never mixed.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA_DIR=${1:-datasets/synthetic_mots}
OUTPUT_DIR=${2:-output/demo}
PYTHON=${PYTHON:-.venv/bin/python}
CONFIG=configs/demo_synthetic.yaml
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}

if [ "$(basename "$DATA_DIR")" != synthetic_mots ]; then
  echo "tools/demo.sh: DATA_DIR must be a folder named synthetic_mots (the built-in datasets" \
       "synthetic_mots_train/_val live at \$DETECTRON2_DATASETS/synthetic_mots); got $DATA_DIR" >&2
  exit 2
fi
export DETECTRON2_DATASETS
DETECTRON2_DATASETS=$(dirname "$DATA_DIR")
start=$(date +%s)
elapsed() { echo "$(( $(date +%s) - start ))s"; }

if [ ! -f "$DATA_DIR/evaluate_mots.seqmap.val" ]; then
  echo "== [$(elapsed)] writing the synthetic dataset to $DATA_DIR"
  "$PYTHON" -m trackrcnn_d2.data.synthetic "$DATA_DIR"
else
  echo "== [$(elapsed)] using the synthetic dataset in $DATA_DIR"
fi

if [ -e "$OUTPUT_DIR" ]; then
  echo "== moving the previous demo output $OUTPUT_DIR aside to $OUTPUT_DIR.previous"
  rm -rf "$OUTPUT_DIR.previous"
  mv "$OUTPUT_DIR" "$OUTPUT_DIR.previous"
fi

echo "== [$(elapsed)] training ($CONFIG) into $OUTPUT_DIR"
# DATASETS.TEST is emptied here so that evaluation runs once, below, through --eval-only.
"$PYTHON" train_net.py --config-file "$CONFIG" OUTPUT_DIR "$OUTPUT_DIR" DATASETS.TEST "()" \
  2>&1 | grep --line-buffered -E "eta:|Overall training speed|Error|error|Traceback" || true
if [ ! -f "$OUTPUT_DIR/model_final.pth" ]; then
  echo "tools/demo.sh: training did not finish; see $OUTPUT_DIR/log.txt" >&2
  exit 1
fi

echo "== [$(elapsed)] evaluating on synthetic_mots_val (train_net.py --eval-only)"
"$PYTHON" train_net.py --config-file "$CONFIG" --eval-only \
  MODEL.WEIGHTS "$OUTPUT_DIR/model_final.pth" OUTPUT_DIR "$OUTPUT_DIR/eval" \
  2>&1 | sed -n '/MOTS results/,/^$/p'

clip=$(head -n 1 "$DATA_DIR/evaluate_mots.seqmap.val" | cut -d' ' -f1)
echo "== [$(elapsed)] rendering validation sequence $clip into $OUTPUT_DIR/clip"
"$PYTHON" demo.py --config-file "$CONFIG" --input "$DATA_DIR/training/image_02/$clip" \
  --output "$OUTPUT_DIR/clip" MODEL.WEIGHTS "$OUTPUT_DIR/model_final.pth"

echo "== [$(elapsed)] done. Model: $OUTPUT_DIR/model_final.pth;" \
     "tracks: $OUTPUT_DIR/eval/inference/synthetic_mots_val/; clip: $OUTPUT_DIR/clip/"
