#!/usr/bin/env bash
# The paper's transfer-learning experiment (George, Shen & Huerta 2018): ImageNet initialisation against
# training from scratch with 10, 50 and all labelled glitches per class, and a frozen backbone against the last
# blocks against all layers fine-tuned. Every run has the same data, split (seed 1), epochs, batch, optimiser and
# learning-rate schedule: only initialisation, trained layers and the per-class limit change. The validation part
# is the same in every run (the limit applies to the training part only). Writes the runs under RUNS and the
# markdown table docs/tl-experiment.md (scripts/tl-table.py, which reads the runs' model cards and histories).
#
#   scripts/tl-experiment.sh SYNTH_DIR REAL_DIR IMAGENET_PTH RUNS
# Environment: BIN (glitchscope binary; default: build it), DEVICE (cpu | vulkan | cuda; default cpu),
#   EPOCHS (default 10), JOBS (runs at once; default 1), DEADLINE_S (stop runs still going after this many
#   seconds; the table then reports them from their history as incomplete; default none), TABLE (output file),
#   FORCE (rerun runs that already finished; by default they are kept), EXTRA (more `glitchscope train` flags for every run, e.g. "--views 1.0 --height 88 --width 104").
# All-layer training is slow on a CPU (hours for the full table on 2 cores): use a GPU (see README, "GPU").
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 4 ] || { sed -n 2,14p "$0" >&2; exit 2; }
synth=$1 real=$2 pth=$3 runs=$4
device=${DEVICE:-cpu} epochs=${EPOCHS:-10} jobs=${JOBS:-1} table=${TABLE:-docs/tl-experiment.md}
if [ -z "${BIN:-}" ]; then
  source scripts/env.sh
  features=""
  [ "$device" = cpu ] || features="--features $device"
  cargo build --release -p glitchscope-trainer $features
  BIN="$CARGO_TARGET_DIR/release/glitchscope"
fi
mkdir -p "$runs"

# name | flags
# Cheapest first, so that a deadline cuts the expensive runs.
experiments=(
  "imagenet-all-10|--init imagenet --mode all --per-class-limit 10"
  "scratch-all-10|--init scratch --mode all --per-class-limit 10"
  "imagenet-frozen-full|--init imagenet --mode frozen"
  "imagenet-last3-full|--init imagenet --mode last-3"
  "imagenet-all-50|--init imagenet --mode all --per-class-limit 50"
  "scratch-all-50|--init scratch --mode all --per-class-limit 50"
  "imagenet-all-full|--init imagenet --mode all"
  "scratch-all-full|--init scratch --mode all"
)

run_one() {
  local name=$1 flags=$2
  # A finished run (its model card exported) is kept: rerunning the command completes an interrupted table.
  if [ -z "${FORCE:-}" ] && [ -f "$runs/$name/model.json" ]; then
    echo "tl-experiment: $name already done (FORCE=1 reruns it)"
    return
  fi
  # shellcheck disable=SC2086
  "$BIN" train --data "$synth" --data "$real" --out "$runs/$name" --overwrite --imagenet "$pth" $flags \
    --height 176 --width 208 --epochs "$epochs" --patience 0 --seed 1 --device "$device" ${EXTRA:-} >"$runs/$name.log" 2>&1 \
    && echo "tl-experiment: $name done" || echo "tl-experiment: $name failed or stopped (see $runs/$name.log)"
}

start=$(date +%s)
pids=()
for e in "${experiments[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
  run_one "${e%%|*}" "${e#*|}" &
  pids+=($!)
done
if [ -n "${DEADLINE_S:-}" ]; then
  while [ "$(jobs -rp | wc -l)" -gt 0 ] && [ $(( $(date +%s) - start )) -lt "$DEADLINE_S" ]; do sleep 2; done
  pkill -f "$BIN train" 2>/dev/null || true
fi
wait || true
echo "tl-experiment: $(( $(date +%s) - start )) s for ${#experiments[@]} runs on $device, $jobs at once"
python3 scripts/tl-table.py --epochs "$epochs" --device "$device" --jobs "$jobs" --extra "${EXTRA:-}" \
  $(for e in "${experiments[@]}"; do echo "$runs/${e%%|*}"; done) | tee "$table"
