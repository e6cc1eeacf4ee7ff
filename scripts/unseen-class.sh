#!/usr/bin/env bash
# The unseen-class test on synthetic data (issue #6, "Measure"): train without one class, then measure how well the
# discovery tools find it. The real-data half is trainer/tests/discovery_real.rs (O3 Fast_Scattering).
#   1. DATA minus CLASS as symbolic links (~/.cache/glitchscope/data/DATA_NAME-without-CLASS; DATA is never touched),
#   2. frozen-backbone transfer learning from ImageNet EfficientNet-Lite0 on it, seed 1, with 20 % of every class
#      held out for validation (early stopping) and another 20 % as a test part the run never looks at
#      (~/.cache/glitchscope/runs/unseen-CLASS). The card's head still has the 22 Gravity Spy outputs (the label
#      set is fixed); training simply never sees CLASS, so its output is never a target.
#   3. the unseen_class example (trainer/examples/unseen_class): runs the model on the run's validation and test
#      glitches and on every CLASS glitch of DATA, then with src/discovery: unfamiliar-score AUROC of CLASS vs the
#      known test glitches (k-NN score, k = 5, against the validation glitches as references, calibrated leave-one-
#      out, like the shipped reference set and `glitchscope cluster --reference`), the HDBSCAN cluster holding most
#      of CLASS (t-SNE map of the test glitches, as `glitchscope cluster`), and few-shot top-1 with 1, 5 and 10
#      examples (model probabilities combined with prototypes by combine_with_few_shot, mean over 20 random draws),
#      with known-class top-1 before and after adding the few-shot class.
#   4. a markdown table, printed and written to docs/unseen-class.md (OUT_MD).
# Why the test glitches are a held-out part of DATA and not a fresh `glitchscope synth --seed 7` set: fresh glitches
# must come from the generator that made DATA, and the synthetic generator changes over time (in Nov 2026 the
# working tree no longer reproduced synth-s2026-n60 for six classes, Paired_Doves among them); a held-out part
# measures novelty, not generator drift, whatever DATA is.
# About 15 minutes on 2 busy CPU cores: training (feature extraction of ~5,000 views) and the example's model run
# (~2,300 views; its outputs are cached in RUN/unseen-CLASS-scored.json, so a rerun of step 3 takes seconds).
# Extra options for the example go in UNSEEN_ARGS (e.g. "--reference-parts train,valid --draws 50").
# Usage: scripts/unseen-class.sh [CLASS [DATA [IMAGENET_PTH]]]
#   defaults: Paired_Doves, ~/.cache/glitchscope/data/synth-s2026-n60, ../shared/weights/efficientnet-lite0/...pth
#   env: OUT_MD (default docs/unseen-class.md; the CLASS section is replaced, other classes' sections kept),
#        SKIP_TRAIN=1 (reuse an existing run).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
class="${1:-Paired_Doves}"
data="${2:-$HOME/.cache/glitchscope/data/synth-s2026-n60}"
pth="${3:-../shared/weights/efficientnet-lite0/efficientnet-lite0-57934424.pth}"
out_md="${OUT_MD:-docs/unseen-class.md}"
work="$HOME/.cache/glitchscope"
data="$(cd "$data" && pwd)"
[ -d "$data/$class" ] || { echo "unseen-class.sh: $data has no class folder $class" >&2; exit 1; }
[ -f "$pth" ] || pth=$(scripts/fetch-weights.sh lite0)
train_dir="$work/data/$(basename "$data")-without-$class"
run="$work/runs/unseen-$class"

# 1. The training folder: every class of DATA except CLASS, as links to DATA's class folders.
rm -rf "$train_dir"
mkdir -p "$train_dir"
for dir in "$data"/*/; do
  name=$(basename "$dir")
  [ "$name" = "$class" ] || ln -s "${dir%/}" "$train_dir/$name"
done
echo "unseen-class.sh: $(ls "$train_dir" | wc -l) classes in $train_dir (without $class)"

cargo build --release -p glitchscope-trainer --bin glitchscope --example unseen_class
bin="$CARGO_TARGET_DIR/release/glitchscope"

# 2. Train without CLASS.
if [ "${SKIP_TRAIN:-0}" = 1 ] && [ -f "$run/model.json" ]; then
  echo "unseen-class.sh: reusing $run"
else
  "$bin" train --data "$train_dir" --out "$run" --overwrite --init imagenet --imagenet "$pth" \
    --mode frozen --height 176 --width 208 --epochs 60 --patience 12 --seed 1 --valid-fraction 0.2 --test-fraction 0.2
fi

# 3 + 4. Measure and write the table.
"$CARGO_TARGET_DIR/release/examples/unseen_class" --model "$run/model.json" --split "$run/split.csv" \
  --unseen "$data/$class" --md "$out_md" --command "scripts/unseen-class.sh${*:+ $*}" ${UNSEEN_ARGS:-}
