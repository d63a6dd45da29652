#!/usr/bin/env bash
# The progress of a detectron2 training from its log, for tools/demo.sh (sourced there):
#   tail -f OUTPUT_DIR/train.log | training_progress MAX_ITER [EVERY]
# prints a line every EVERY iterations (default 40; detectron2 logs every 20) with the loss, the
# time since the log began and the time left at the mean speed since the first logged
# iteration. detectron2's own "eta" comes from the median of recent iterations and jumps when
# other programs share the cores. Times come from the log lines' own time stamps.
training_progress() {
  local max_iter=$1 every=${2:-40} began="" first_iter="" first_time="" previous=0 day=0
  local line t iter loss elapsed left
  while IFS= read -r line; do
    # [MM/DD HH:MM:SS name]: ... iter: N  total_loss: X ...
    [[ $line =~ ^\[[0-9]+/[0-9]+\ ([0-9]+):([0-9]+):([0-9]+)\  ]] || continue
    t=$((10#${BASH_REMATCH[1]} * 3600 + 10#${BASH_REMATCH[2]} * 60 + 10#${BASH_REMATCH[3]}))
    if (( t < previous )); then day=$((day + 86400)); fi  # past midnight
    previous=$t t=$((t + day))
    [ -n "$began" ] || began=$t
    [[ $line =~ \ iter:\ ([0-9]+)\ +total_loss:\ ([0-9.]+) ]] || continue
    iter=${BASH_REMATCH[1]} loss=${BASH_REMATCH[2]}
    if [ -z "$first_iter" ]; then first_iter=$iter first_time=$t; continue; fi
    (( (iter + 1) % every == 0 )) || continue
    elapsed=$((t - began))
    left=$(( (t - first_time) * (max_iter - iter - 1) / (iter - first_iter) ))
    printf '  iteration %d/%d  total_loss %s  %d:%02d elapsed, about %d:%02d left\n' \
      $((iter + 1)) "$max_iter" "$loss" $((elapsed / 60)) $((elapsed % 60)) \
      $((left / 60)) $((left % 60))
  done
}
