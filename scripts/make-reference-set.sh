#!/usr/bin/env bash
# Re-create models/default.gsref, the reference set shipped with the default model: embeddings (f16) of labelled
# example glitches with the unfamiliar-score calibration made on them (each scored with itself left out). The page
# uses it for the "Unfamiliar" column and for similarity search against known glitches; the model card points to it
# with its optional "reference" field.
#
# Which glitches: from the default run's split (~/.cache/glitchscope/cv/all-88/final/split.csv, written by
# scripts/make-default-model.sh) every validation glitch (synthetic and real) plus the real training glitches, so
# the set holds every real example we have but no synthetic glitch the head was trained on. About 480 glitches,
# 1.2 MB. Rerun it after retraining the default model (the embeddings belong to the weights).
#
# Usage: scripts/make-reference-set.sh [SPLIT_CSV] [OUT]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
split="${1:-$HOME/.cache/glitchscope/cv/all-88/final/split.csv}"
out="${2:-models/default.gsref}"
[ -f "$split" ] || { echo "make-reference-set.sh: $split is missing (run scripts/make-default-model.sh)" >&2; exit 1; }
cargo build --release -p glitchscope-trainer
bin="$CARGO_TARGET_DIR/release/glitchscope"
# `glitchscope embed --label-from-folder` takes a glitch's class from its folder: lay the chosen files out as
# <tmp>/<Class>/<file> symbolic links.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 - "$split" "$tmp" <<'PY'
import csv, os, sys
split, tmp = sys.argv[1], sys.argv[2]
n = 0
for row in csv.DictReader(open(split)):
    if row["part"] != "valid" and row["source"].startswith("synth"):
        continue
    folder = os.path.join(tmp, row["class"])
    os.makedirs(folder, exist_ok=True)
    for f in row["files"].split(";"):
        f = os.path.abspath(f) if os.path.exists(f) else f
        if not os.path.exists(f):
            sys.exit(f"make-reference-set.sh: {f} (listed in {split}) is missing")
        os.symlink(f, os.path.join(folder, os.path.basename(f)))
    n += 1
print(f"make-reference-set.sh: {n} glitches", file=sys.stderr)
PY
"$bin" embed "$tmp" --model models/default.json --label-from-folder --out "$out"
# Point the card at the set (optional field "reference": file relative to the card, size and sha256).
python3 - models/default.json "$out" <<'PY'
import hashlib, json, os, sys
card_path, ref = sys.argv[1], sys.argv[2]
card = json.load(open(card_path))
data = open(ref, "rb").read()
card["reference"] = {
    "file": os.path.relpath(ref, os.path.dirname(card_path)),
    "sha256": hashlib.sha256(data).hexdigest(),
    "bytes": len(data),
    "reproduce": "scripts/make-reference-set.sh",
}
json.dump(card, open(card_path, "w"), indent=2)
open(card_path, "a").write("\n")
PY
echo "make-reference-set.sh: wrote $out ($(stat -c %s "$out") bytes) and its entry in models/default.json"
