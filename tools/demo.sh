#!/usr/bin/env bash
# `make demo`: the whole pipeline on the embedded synthetic dataset, on the GPU when there is one.
#   bash tools/demo.sh [DATA_DIR] [OUTPUT_DIR]     (defaults: datasets/synthetic_mots output/demo)
#   DEVICE=cpu bash tools/demo.sh (or `make demo DEVICE=cpu`) chooses the device (MODEL.DEVICE).
# 1. writes the synthetic dataset to DATA_DIR unless it is there already (same options);
# 2. trains a small TrackR-CNN from scratch (configs/demo_synthetic.yaml) into OUTPUT_DIR;
# 3. evaluates it with `train_net.py --eval-only` (prints the sMOTSA/HOTA table; tracks in
#    OUTPUT_DIR/inference/synthetic_mots_val/);
# 4. renders a tracked validation sequence with demo.py into OUTPUT_DIR/clip/.
# An OUTPUT_DIR left by an earlier run is moved aside to OUTPUT_DIR.previous (replacing an older
# one), so that results of two runs are never mixed. Full logs: OUTPUT_DIR/*.log.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA_DIR=${1:-datasets/synthetic_mots}
OUTPUT_DIR=${2:-output/demo}
PYTHON=${PYTHON:-.venv/bin/python}
CONFIG=configs/demo_synthetic.yaml
# The synthetic set the demo's figures are measured on (the generator records its options in
# DATA_DIR/README.md; a set written with other options is moved aside and rewritten).
SYNTHETIC_OPTIONS="--sequences 24 --frames 30 --height 128 --width 256 --seed 0"
# One thread: on 2 idle cores a second one saves about a third of the time, but on cores that
# other programs share, OpenMP threads waiting for each other make training several times
# slower. OMP_NUM_THREADS=2 make demo on an otherwise idle machine is faster.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
# CUDA when torch sees a GPU, unless DEVICE says otherwise.
DEVICE=${DEVICE:-$("$PYTHON" -c 'import torch; print("cuda" if torch.cuda.is_available() else "cpu")')}

if [ "$(basename "$DATA_DIR")" != synthetic_mots ]; then
  echo "tools/demo.sh: DATA_DIR must be a folder named synthetic_mots (the built-in datasets" \
       "synthetic_mots_train/_val live at \$DETECTRON2_DATASETS/synthetic_mots); got $DATA_DIR" >&2
  exit 2
fi
export DETECTRON2_DATASETS
DETECTRON2_DATASETS=$(dirname "$DATA_DIR")
start=$(date +%s)
stage() { echo "== [$(( $(date +%s) - start ))s] $*"; }

if grep -qF -- "$SYNTHETIC_OPTIONS\`" "$DATA_DIR/README.md" 2>/dev/null; then
  stage "using the synthetic dataset in $DATA_DIR"
else
  if [ -e "$DATA_DIR" ]; then
    stage "$DATA_DIR was not written with $SYNTHETIC_OPTIONS: moving it aside to $DATA_DIR.previous"
    rm -rf "$DATA_DIR.previous"
    mv "$DATA_DIR" "$DATA_DIR.previous"
  fi
  stage "writing the synthetic dataset to $DATA_DIR"
  # shellcheck disable=SC2086
  "$PYTHON" -m trackrcnn_d2.data.synthetic "$DATA_DIR" $SYNTHETIC_OPTIONS
fi

if [ -e "$OUTPUT_DIR" ]; then
  stage "moving the previous demo output $OUTPUT_DIR aside to $OUTPUT_DIR.previous"
  rm -rf "$OUTPUT_DIR.previous"
  mv "$OUTPUT_DIR" "$OUTPUT_DIR.previous"
fi
mkdir -p "$OUTPUT_DIR"

stage "training ($CONFIG, MODEL.DEVICE $DEVICE) into $OUTPUT_DIR"
# DATASETS.TEST is emptied here so that the evaluation runs once, below, through --eval-only.
"$PYTHON" train_net.py --config-file "$CONFIG" OUTPUT_DIR "$OUTPUT_DIR" DATASETS.TEST "()" \
  MODEL.DEVICE "$DEVICE" > "$OUTPUT_DIR/train.log" 2>&1 &
training=$!
# A line every 40 iterations, with a steady estimate of the time left (tools/training_progress.sh).
# shellcheck source=tools/training_progress.sh
source tools/training_progress.sh
tail -n +1 --pid=$training -f "$OUTPUT_DIR/train.log" \
  | training_progress "$(awk '$1 == "MAX_ITER:" { print $2 }' "$CONFIG")" || true
if ! wait $training; then
  echo "tools/demo.sh: training failed; see $OUTPUT_DIR/train.log" >&2
  tail -n 20 "$OUTPUT_DIR/train.log" >&2
  exit 1
fi

stage "evaluating on synthetic_mots_val (train_net.py --eval-only)"
if ! "$PYTHON" train_net.py --config-file "$CONFIG" --eval-only \
    MODEL.WEIGHTS "$OUTPUT_DIR/model_final.pth" OUTPUT_DIR "$OUTPUT_DIR" MODEL.DEVICE "$DEVICE" \
    > "$OUTPUT_DIR/eval.log" 2>&1; then
  echo "tools/demo.sh: evaluation failed; see $OUTPUT_DIR/eval.log" >&2
  tail -n 20 "$OUTPUT_DIR/eval.log" >&2
  exit 1
fi
# The evaluator's tables: its "MOTS results for" log record, up to the next record.
awk '/MOTS results for/ { shown = 1; sub(/^\[[^]]*\]: /, ""); print; next }
     /^\[/ { shown = 0 }
     shown' "$OUTPUT_DIR/eval.log"

clip=$(head -n 1 "$DATA_DIR/evaluate_mots.seqmap.val" | cut -d' ' -f1)
stage "rendering validation sequence $clip into $OUTPUT_DIR/clip"
"$PYTHON" demo.py --config-file "$CONFIG" --input "$DATA_DIR/training/image_02/$clip" \
  --output "$OUTPUT_DIR/clip" --render video --render-scale 3 \
  MODEL.WEIGHTS "$OUTPUT_DIR/model_final.pth" MODEL.DEVICE "$DEVICE" > "$OUTPUT_DIR/clip.log" 2>&1 \
  || { echo "tools/demo.sh: rendering failed; see $OUTPUT_DIR/clip.log" >&2; exit 1; }

stage "done. Model: $OUTPUT_DIR/model_final.pth; tracks and metrics:" \
  "$OUTPUT_DIR/inference/synthetic_mots_val/; tracked clip: $OUTPUT_DIR/clip/$clip.mp4"
