#!/usr/bin/env bash
# Profile of one inference pass, operation by operation, natively and in the browser (issue 13): a command, not a
# test. Writes docs/profile.md (bench/profile_report.py) from
#   - bench_native profile at batch 1 and 16 glitches (Burn flex, rayon on every core),
#   - bench/bench-ort-web.mjs --profile in headless Chromium (flex in wasm, one thread), batch 1 and 16,
# each with Burn's own operations (--unfused) and with the fused CPU kernels (src/model/efficientnet/fused.rs).
# Knobs: PROFILE_RUNS=5 (timed passes after one warm-up), PROFILE_OUT=docs/profile.md.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
source scripts/env.sh
RUNS="${PROFILE_RUNS:-5}"
OUT="${PROFILE_OUT:-$repo/docs/profile.md}"
WORK="$HOME/.cache/glitchscope/profile"
mkdir -p "$WORK"
say() { echo "[profile] $*" >&2; }

# As bench-compare.sh: wait (up to 5 minutes) for the 1-minute load to fall below 0.5 before measuring.
for _ in $(seq 60); do
  awk -v l="$(cut -d' ' -f1 /proc/loadavg)" 'BEGIN { exit !(l < 0.5) }' && break
  sleep 5
done
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
cargo build --release -p glitchscope-trainer --example bench_native >&2
scripts/build-web.sh >&2
[ -d tests/e2e/node_modules/playwright-core ] || (cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error >&2)
BENCH_NATIVE="$CARGO_TARGET_DIR/release/examples/bench_native"
for b in 1 16; do
  say "native, batch $b"
  "$BENCH_NATIVE" profile models/default.json --batch "$b" --runs "$RUNS" --unfused > "$WORK/native-unfused-$b.json"
  "$BENCH_NATIVE" profile models/default.json --batch "$b" --runs "$RUNS" > "$WORK/native-fused-$b.json"
done
say "headless Chromium, batch 1 and 16"
node bench/bench-ort-web.mjs --profile --unfused --batches 1,16 --runs-cpu "$RUNS" --out "$WORK/web-unfused.json" > /dev/null
node bench/bench-ort-web.mjs --profile --batches 1,16 --runs-cpu "$RUNS" --out "$WORK/web-fused.json" > /dev/null
python3 bench/profile_report.py \
  --run "native Burn ops, batch 1=$WORK/native-unfused-1.json" --run "native fused, batch 1=$WORK/native-fused-1.json" \
  --run "native Burn ops, batch 16=$WORK/native-unfused-16.json" --run "native fused, batch 16=$WORK/native-fused-16.json" \
  --run "wasm Burn ops=$WORK/web-unfused.json" --run "wasm fused=$WORK/web-fused.json" --out "$OUT" \
  --meta "Date=$(date -u +%Y-%m-%dT%H:%M:%SZ)" --meta "Command=\`scripts/profile.sh\`" \
  --meta "CPU=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) logical cores" \
  --meta "Chromium=$(chromium --version 2>/dev/null || echo unknown)" \
  --meta "Load average before / after=$load_before / $(cut -d' ' -f1-3 /proc/loadavg)"
