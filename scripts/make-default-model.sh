#!/usr/bin/env bash
# Re-create the default model in models/ (default.json + default.bpk + default.gsref) from scratch:
#   1. 60 synthetic glitches per class (seed 2026; generator v2, hence the folder name),
#   2. `glitchscope cv`: 2-fold cross-validation over every labelled real Gravity Spy glitch of the 22 O1 classes
#      in the training sources of ../shared/data/real (345 glitches), each fold trained on the synthetic data + the other fold's real glitches:
#      ImageNet EfficientNet-Lite0 with all layers fine-tuned at 88x104 on all four views (the recipe the
#      cross-validation chose over the last 4 blocks and the frozen backbone, docs/cross-validation.md; the
#      recipe grids of scripts/default-grid.json and fusion-grid.json were compared with the last 4 blocks);
#      then (--export) it is trained on everything, calibrated with the temperature fitted on its out-of-fold
#      predictions, and exported as fp16 with the CV metrics in the card,
#   3. the reference set models/default.gsref (every labelled real glitch of the 22 classes) for the unfamiliar
#      score, similarity search and the neighbour vote,
#   4. the neighbour vote (`glitchscope vote --write`): the head and each class's nearest real glitch vote
#      together, with two weights fitted on the real glitches of the sources the network is NOT trained on
#      (golden_gif, figure_crops, o1_full_plots_more: the field-guide GIFs and the published-figure panels, which
#      arrived after this network was made) and measured on them nested; see docs/neighbour-vote.md.
# The network trains on the four sources it was made with (TRAIN_SOURCES): a vote fitted on glitches the network
# had seen would trust the head too much.
# About 1 hour on 2 CPU cores; finished folds are kept in ~/.cache/glitchscope/cv/all-88 and not redone.
# Usage: scripts/make-default-model.sh [IMAGENET_PTH]
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
run="$work/cv/all-88"
train_sources="${TRAIN_SOURCES:-o1_cropped o1_full_plots o2_volunteer o3_l1_4s}"
held_out_sources="${HELD_OUT_SOURCES:-golden_gif figure_crops o1_full_plots_more}"
real_args=(); for s in $train_sources; do real_args+=(--real "$real/$s"); done
held_out=(); for s in $held_out_sources; do held_out+=("$real/$s"); done
"$bin" cv --data "$synth" "${real_args[@]}" --folds 2 --out "$run" --imagenet "$pth" --mode all --height 88 \
  --width 104 --epochs 5 --valid-fraction 0.1 --seed 1 --export
# The card names its weights file relative to itself: rename model.* to default.*.
python3 - "$run/final/model.json" models/default.json <<'PY'
import json, sys
card = json.load(open(sys.argv[1]))
card["name"] = "glitchscope-lite0-o1-default"
card["weights"]["file"] = "default.bpk"
card["training"]["reproduce"] = "scripts/make-default-model.sh"
json.dump(card, open(sys.argv[2], "w"), indent=2)
open(sys.argv[2], "a").write("\n")
PY
cp "$run/final/model.bpk" models/default.bpk
"$bin" classify --model models/default.json "$real/o1_full_plots/Blip/H1_0Sug0tqkoL_spectrogram_1.0.png"
# The reference set (unfamiliar score, similarity search) belongs to these weights: remake it and its card entry.
scripts/make-reference-set.sh "$real"
"$bin" vote --model models/default.json --held-out "${held_out[@]}" --report docs/neighbour-vote.md --errors docs/neighbour-vote-errors.png --write
echo "make-default-model.sh: wrote models/default.json, models/default.bpk and models/default.gsref"
