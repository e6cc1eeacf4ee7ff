#!/usr/bin/env bash
# Write the bad-input corpus (issue 7: zero-byte, truncated, decompression-bomb, odd-format and oversized
# pictures, NaN/inf strain, broken model cards and weights) into DIR, with DIR/manifest.json listing each file,
# what it is and the error family the CLI must give. trainer/tests/bad_inputs.rs runs the CLI over it.
# Usage: scripts/make-bad-inputs.sh DIR
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
dir=$(mkdir -p "$1" && cd "$1" && pwd)
cd "$(dirname "$0")/.."
source scripts/env.sh
cargo run --release -q -p glitchscope-trainer --example bad_inputs -- "$dir"
