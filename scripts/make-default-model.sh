#!/usr/bin/env bash
# Re-create the default model in models/ (default.json + default.bpk) from scratch:
#   1. 60 synthetic glitches per class (seed 2026; generator v2, hence the folder name),
#   2. frozen-backbone transfer learning from ImageNet EfficientNet-Lite0 on those plus the real Gravity Spy
#      images of ../shared/data/real (20 % of every class held out for validation; the card reports on it),
#   3. export fp16 weights + model card into models/,
#   4. the reference set models/default.gsref for the unfamiliar score and similarity search (make-reference-set.sh).
# About 10 minutes on 2 CPU cores. Usage: scripts/make-default-model.sh [IMAGENET_PTH]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
pth="${1:-../shared/weights/efficientnet-lite0/efficientnet-lite0-57934424.pth}"
[ -f "$pth" ] || pth=$(scripts/fetch-weights.sh lite0)
real=../shared/data/real
[ -d "$real" ] || { echo "make-default-model.sh: $real is missing (the real Gravity Spy images)" >&2; exit 1; }
work="$HOME/.cache/glitchscope"
cargo build --release -p glitchscope-trainer
bin="$CARGO_TARGET_DIR/release/glitchscope"
synth="$work/data/synth-v2-s2026-n60"
[ -f "$synth/synth.json" ] || "$bin" synth --out "$synth" --per-class 60 --seed 2026
run="$work/runs/default"
"$bin" train --data "$synth" --data "$real" --out "$run" --overwrite --init imagenet --imagenet "$pth" \
  --mode frozen --epochs 60 --patience 12 --seed 1
# The card names its weights file relative to itself: rename model.* to default.*.
python3 - "$run/model.json" models/default.json <<'PY'
import json, sys
card = json.load(open(sys.argv[1]))
card["name"] = "glitchscope-lite0-o1-default"
card["weights"]["file"] = "default.bpk"
card["training"]["reproduce"] = "scripts/make-default-model.sh"
json.dump(card, open(sys.argv[2], "w"), indent=2)
open(sys.argv[2], "a").write("\n")
PY
cp "$run/model.bpk" models/default.bpk
"$bin" classify --model models/default.json "$real/o1_full_plots/Blip/H1_0Sug0tqkoL_spectrogram_1.0.png"
# The reference set (unfamiliar score, similarity search) belongs to these weights: remake it and its card entry.
scripts/make-reference-set.sh "$run/split.csv"
echo "make-default-model.sh: wrote models/default.json, models/default.bpk and models/default.gsref"
