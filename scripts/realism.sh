#!/usr/bin/env bash
# Realism of the synthetic generator, class by class: how far its glitches are from the real Gravity Spy ones.
#   1. the ImageNet EfficientNet-Lite0 backbone as a card (`glitchscope init`, untrained head: only its pooled
#      features are used),
#   2. the glitch embeddings (mean of the views' pooled features) of the synthetic set and of every real glitch in
#      ../shared/data/real (`glitchscope embed --label-from-folder`),
#   3. the sim-to-real evaluation of a model trained on the synthetic set alone (scripts/sim-to-real.sh, ~10 min;
#      reused when RUN_DIR/sim-to-real.json exists),
#   4. `glitchscope realism`: Fréchet distance, nearest-neighbour ratio and real-vs-synthetic AUROC per class, with
#      the sim-to-real recall (realism.md, realism.json in OUT). BASELINE=path/realism.json prints an earlier
#      generator's numbers beside these.
# About 15 minutes on 2 CPU cores from nothing, 4 with the sim-to-real run kept.
# Usage: scripts/realism.sh [SYNTH_DIR [OUT [RUN_DIR]]]
#   defaults: ~/.cache/glitchscope/data/synth-v3d-s2026-n60 (made with this generator, --format mixed --real-noise, when missing), ~/.cache/glitchscope/realism/<name of SYNTH_DIR>,
#             ~/.cache/glitchscope/runs/sim-to-real-<name of SYNTH_DIR>
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
work="$HOME/.cache/glitchscope"
synth="${1:-$work/data/synth-v3d-s2026-n60}"
name=$(basename "$synth")
out="${2:-$work/realism/$name}"
run="${3:-$work/runs/sim-to-real-$name}"
pth=../shared/weights/efficientnet-lite0/efficientnet-lite0-57934424.pth
[ -f "$pth" ] || pth=$(scripts/fetch-weights.sh lite0)
real=../shared/data/real
[ -d "$real" ] || { echo "realism.sh: $real is missing (the real Gravity Spy images)" >&2; exit 1; }
cargo build --release -p glitchscope-trainer
bin="$CARGO_TARGET_DIR/release/glitchscope"
noise=../shared/data/strain/o3_glitches_deepextractor/glitch_dict_example.npz
[ -f "$synth/synth.json" ] || "$bin" synth --out "$synth" --per-class 60 --seed 2026 --format mixed --real-noise "$noise"
mkdir -p "$out"
card="$work/realism/imagenet-lite0.json"
[ -f "$card" ] || "$bin" init --imagenet "$pth" --out "$card"
[ -f "$out/synthetic.csv" ] || "$bin" embed "$synth" --model "$card" --label-from-folder --out "$out/synthetic.csv"
real_csv="$work/realism/real.csv"
[ -f "$real_csv" ] || "$bin" embed "$real" --model "$card" --label-from-folder --out "$real_csv"
[ -f "$run/sim-to-real.json" ] || scripts/sim-to-real.sh "$synth" "$run" "$pth"
"$bin" realism --synthetic "$out/synthetic.csv" --real "$real_csv" --sim-to-real "$run/sim-to-real.json" \
  --out "$out" ${BASELINE:+--baseline "$BASELINE"}
