#!/usr/bin/env bash
# Re-create models/default.gsref, the reference set shipped with the default model: embeddings (f16) of labelled
# example glitches with the unfamiliar-score calibration made on them (each scored with itself left out). The page
# uses it for the "Unfamiliar" column, for similarity search against known glitches and, where the card has a
# "neighbour_vote", for classification; the model card points to it with its optional "reference" field.
#
# Which glitches: every labelled real glitch of the card's classes in ../shared/data/real (all sources; the O3
# Fast_Scattering and the unlabeled ones are left out, so the unfamiliar score keeps seeing them as new). Only
# real glitches: the card's neighbour vote (`glitchscope vote`) takes each class's nearest real example as
# evidence, and a synthetic neighbour would vote with the generator's look instead. About 470 glitches, 1.2 MB.
# Rerun it after retraining the model (the embeddings belong to the weights), then `glitchscope vote --write`.
#
# The flag threshold of the unfamiliar score comes from CV_RUN, the `glitchscope cv` run of the model's recipe
# (default: the shipped one's, ~/.cache/glitchscope/cv/v3d-uv-rw16-c2-f3, when it is there): each fold's held-out
# glitches against the references that fold trained on, so that 5 % of known-class glitches the network never saw
# are flagged. Without a run the flag is the references' own 95th percentile, which flags more (9-16 % under the
# unseen benchmark's protocol D).
#
# Usage: scripts/make-reference-set.sh [REAL_DIR] [OUT] [CV_RUN]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
real="${1:-../shared/data/real}"
out="${2:-models/default.gsref}"
cv_run="${3:-$HOME/.cache/glitchscope/cv/v3d-uv-rw16-c2-f3}"
flag=()
if [ -f "$cv_run/fold-1/embeddings.json" ]; then
  flag=(--flag-from-cv "$cv_run")
else
  echo "make-reference-set.sh: no cv run at $cv_run: the flag is the references' own 95th percentile" >&2
fi
[ -d "$real" ] || { echo "make-reference-set.sh: $real is missing (the real Gravity Spy images)" >&2; exit 1; }
cargo build --release -p glitchscope-trainer
bin="$CARGO_TARGET_DIR/release/glitchscope"
# `glitchscope embed --label-from-folder` takes a glitch's class from its folder: lay the chosen files out as
# <tmp>/<Class>/<file> symbolic links (Gravity Spy file names are unique across the sources).
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 - "$real" "$tmp" models/default.json <<'PY'
import json, os, sys
real, tmp, card = sys.argv[1], sys.argv[2], sys.argv[3]
classes = set(json.load(open(card))["labels"])
n = 0
for source in sorted(os.listdir(real)):
    sdir = os.path.join(real, source)
    if not os.path.isdir(sdir):
        continue
    for cls in sorted(os.listdir(sdir)):
        cdir = os.path.join(sdir, cls)
        if cls not in classes or not os.path.isdir(cdir):
            continue
        os.makedirs(os.path.join(tmp, cls), exist_ok=True)
        for f in sorted(os.listdir(cdir)):
            link = os.path.join(tmp, cls, f)
            if os.path.exists(link):
                sys.exit(f"make-reference-set.sh: two files named {f} in class {cls}")
            os.symlink(os.path.abspath(os.path.join(cdir, f)), link)
            n += 1
print(f"make-reference-set.sh: {n} files", file=sys.stderr)
PY
"$bin" embed "$tmp" --model models/default.json --label-from-folder --out "$out" "${flag[@]}"
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
