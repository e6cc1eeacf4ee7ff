#!/usr/bin/env bash
# Sim-to-real: how well a model trained on synthetic glitches alone classifies the real Gravity Spy images.
# The protocol behind the README's sim-to-real table:
#   1. 60 synthetic glitches per class, seed 2026, in the picture kinds of the real images (`--format mixed`) and
#      half of them in real O3 noise (`--real-noise`) (`glitchscope synth`; skipped when SYNTH_DIR already holds a
#      data set, so an older generator's set can be re-measured as it is),
#   2. frozen-backbone transfer learning from ImageNet EfficientNet-Lite0 on those alone (20 % of the synthetic
#      set held out for early stopping), seed 1, with 30 % of the training glitches shown as one view of unknown
#      duration (`--unknown-view 0.3`: 184 of the 345 real glitches are O2 subjects, one picture each);
#      TRAIN_ARGS replaces that option (TRAIN_ARGS="" gives the protocol before 2026-12-03 c),
#   3. `glitchscope eval` on every labelled real glitch of ../shared/data/real, printed overall, per source and
#      per class; the full JSON goes to RUN_DIR/sim-to-real.json.
# About 10 minutes on 2 CPU cores (feature extraction dominates).
# Usage: [TRAIN_ARGS="--unknown-view 0.3"] scripts/sim-to-real.sh [SYNTH_DIR [RUN_DIR [IMAGENET_PTH]]]
#   defaults: ~/.cache/glitchscope/data/synth-v3d-s2026-n60, ~/.cache/glitchscope/runs/sim-to-real-synth-v3d-s2026-n60
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
work="$HOME/.cache/glitchscope"
synth="${1:-$work/data/synth-v3d-s2026-n60}"
run="${2:-$work/runs/sim-to-real-synth-v3d-s2026-n60}"
pth="${3:-../shared/weights/efficientnet-lite0/efficientnet-lite0-57934424.pth}"
[ -f "$pth" ] || pth=$(scripts/fetch-weights.sh lite0)
real=../shared/data/real
[ -d "$real" ] || { echo "sim-to-real.sh: $real is missing (the real Gravity Spy images)" >&2; exit 1; }
noise=../shared/data/strain/o3_glitches_deepextractor/glitch_dict_example.npz
cargo build --release -p glitchscope-trainer
bin="$CARGO_TARGET_DIR/release/glitchscope"
if [ -f "$synth/synth.json" ]; then
  echo "sim-to-real.sh: using the existing synthetic set $synth"
else
  "$bin" synth --out "$synth" --per-class 60 --seed 2026 --format mixed --real-noise "$noise"
fi
"$bin" train --data "$synth" --out "$run" --overwrite --init imagenet --imagenet "$pth" \
  --mode frozen --height 176 --width 208 --epochs 60 --patience 12 --seed 1 ${TRAIN_ARGS---unknown-view 0.3}
"$bin" eval --model "$run/model.json" --data "$real" --json > "$run/sim-to-real.json"
python3 - "$run/sim-to-real.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"sim-to-real ({r['model']}, {r['n']} real glitches)")
print(f"{'real source':<16} {'glitches':>8} {'top-1':>7} {'top-5':>7}")
for name, s in sorted(r["per_source"].items()):
    print(f"{name:<16} {s['n']:>8} {s['top1']:>6.1f}% {s['top5']:>6.1f}%")
print(f"{'all':<16} {r['n']:>8} {r['top1']:>6.1f}% {r['top5']:>6.1f}%")
print(f"\n{'class':<22} {'support':>7} {'predicted':>9} {'recall':>7}")
for name, c in sorted(r["per_class"].items()):
    if c["support"] or c["predicted"]:
        print(f"{name:<22} {c['support']:>7} {c['predicted']:>9} {c['recall']:>6.1f}%")
PY
