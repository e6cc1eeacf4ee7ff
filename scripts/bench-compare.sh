#!/usr/bin/env bash
# Benchmarks against onnxruntime-web and PyTorch (issue #7): a command, not a test. Writes docs/bench-compare.md
# and prints it. Steps (every figure in the report comes from one of them):
#   1. the default model's tensors + one reference glitch -> .npy      (trainer/examples/bench_native export)
#   2. PyTorch GlitchNet on those weights: logits parity, ONNX export  (bench/export_onnx.py)
#   3. native CPU: our inference and training step vs PyTorch's        (bench_native time, bench/bench_torch.py)
#   4. browser: ours vs onnxruntime-web, CPU/wasm and WebGPU, batch 1 and 16 (bench/bench-ort-web.mjs)
#   5. sizes (wasm, weights fp32/fp16, ORT's files) and the report      (bench/report.py)
#
# Sets up what it needs: a Python venv outside the repository ($BENCH_VENV, default
# ~/.cache/glitchscope/bench-venv, pinned by bench/requirements.txt), bench/node_modules (npm ci), the example
# and the wasm package (built when www/pkg lacks classifyTensor). Knobs (environment):
#   BENCH_BATCH=16 BENCH_RUNS=10 BENCH_TRAIN_RUNS=5        native batch (glitches) and timed runs
#   BENCH_WEB_BATCHES=1,16 BENCH_BACKENDS=cpu,webgpu        browser batches and backends
#   BENCH_THREADS=N                                         browser CPU: ours with N workers (the page's pool), ORT N threads
#   BENCH_RUNS_CPU=5 BENCH_RUNS_WEBGPU=1 BENCH_ORT_THREADS=1 browser timed runs (WebGPU is SwiftShader here:
#                                                         ~0.2-0.5 min per glitch, so batch 16 takes minutes per run)
#   BENCH_OUT=docs/bench-compare.md                         report path
# On this 2-core machine the CPU numbers move with other processes: the script first waits for a quiet machine
# (1-minute load below 0.5, at most 5 minutes), the report gives the load average before and after and says
# when it was busy at the start.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
source scripts/env.sh
die() { echo "bench-compare.sh: $*" >&2; exit 1; }
say() { echo "[bench-compare] $*" >&2; }

# Wait (up to 5 minutes) for the 1-minute load to fall below 0.5, so that what ran just before (a build, the
# previous benchmark) is not measured with us: on 2 cores the load decays for minutes after heavy work.
for _ in $(seq 60); do
  awk -v l="$(cut -d' ' -f1 /proc/loadavg)" 'BEGIN { exit !(l < 0.5) }' && break
  sleep 5
done
started=$(date +%s)
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
BATCH="${BENCH_BATCH:-16}"
RUNS="${BENCH_RUNS:-10}"
TRAIN_RUNS="${BENCH_TRAIN_RUNS:-5}"
WEB_BATCHES="${BENCH_WEB_BATCHES:-1,16}"
BACKENDS="${BENCH_BACKENDS:-cpu,webgpu}"
OUT="${BENCH_OUT:-$repo/docs/bench-compare.md}"
VENV="${BENCH_VENV:-$HOME/.cache/glitchscope/bench-venv}"
WORK="$HOME/.cache/glitchscope/bench-compare"
rm -rf "$WORK" && mkdir -p "$WORK"

# --- setup
command -v node >/dev/null || die "node not found"
[ -d tests/e2e/node_modules/playwright-core ] || (say "npm ci in tests/e2e" && cd tests/e2e && npm ci --no-audit --no-fund >&2)
req_sum="$(sha256sum bench/requirements.txt | cut -c1-16)"
if [ "$(cat "$VENV/.requirements" 2>/dev/null)" != "$req_sum" ]; then
  say "Python venv $VENV (bench/requirements.txt; torch is a large download the first time)"
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet -r bench/requirements.txt >&2
  echo "$req_sum" > "$VENV/.requirements"
fi
PY="$VENV/bin/python"
export PYTHONDONTWRITEBYTECODE=1
if [ ! -d bench/node_modules/onnxruntime-web ]; then
  say "npm ci in bench/ (onnxruntime-web)"
  (cd bench && npm ci --no-audit --no-fund >&2)
fi
say "building the bench_native example"
cargo build --release -p glitchscope-trainer --example bench_native >&2
BENCH_NATIVE="$CARGO_TARGET_DIR/release/examples/bench_native"
if ! grep -q classifyTensor www/pkg/glitchscope.js 2>/dev/null; then
  say "www/pkg is missing or older than GlitchClassifier.classifyTensor: scripts/build-web.sh"
  scripts/build-web.sh >&2
fi

# --- 1. reference glitch: the first real one with all four views, else a synthetic Blip
views=()
real="$repo/../shared/data/real/o1_full_plots/Blip"
if [ -d "$real" ]; then
  first="$(ls "$real" | grep -m1 '_spectrogram_0.5.png$' | sed 's/_spectrogram_0.5.png$//')"
  views=("$real/${first}"_spectrogram_{0.5,1.0,2.0,4.0}.png)
  reference="real Gravity Spy Blip $first"
fi
if [ ${#views[@]} -ne 4 ] || [ ! -f "${views[3]}" ]; then
  say "real images absent at $real: a synthetic Blip (glitchscope synth)"
  cargo build --release -p glitchscope-trainer >&2
  "$CARGO_TARGET_DIR/release/glitchscope" synth --out "$WORK/synth" --per-class 1 --seed 1 --classes Blip >&2
  views=($(find "$WORK/synth" -name '*_spectrogram_*.png' | sort | head -4))
  reference="synthetic Blip (glitchscope synth --seed 1)"
fi
say "1. exporting the default model and $reference"
"$BENCH_NATIVE" export "$WORK/export" models/default.json "${views[@]}" >&2

# --- 2. same network, ONNX
say "2. PyTorch parity and ONNX export"
"$PY" bench/export_onnx.py "$WORK/export" "$WORK/onnx" --batch "$WEB_BATCHES" > "$WORK/parity.json"
cat "$WORK/parity.json" >&2

# The input size of the default model card, for every runtime.
read -r HEIGHT WIDTH < <(python3 -c "import json; i = json.load(open('models/default.json'))['input']; print(i['height'], i['width'])")

# --- 3. native
say "3. native: ours (batch $BATCH, $RUNS runs, $TRAIN_RUNS training steps)"
"$BENCH_NATIVE" time models/default.json --batch "$BATCH" --runs "$RUNS" --train-runs "$TRAIN_RUNS" > "$WORK/native-ours.json"
say "3. native: PyTorch"
"$PY" bench/bench_torch.py "$WORK/export/weights" --batch "$BATCH" --runs "$RUNS" --train-runs "$TRAIN_RUNS" --threads 2 \
  --height "$HEIGHT" --width "$WIDTH" \
  > "$WORK/native-torch.json"

# --- 4. browser
say "4. browser: ours vs onnxruntime-web ($BACKENDS, batches $WEB_BATCHES)"
node bench/bench-ort-web.mjs --onnx "$WORK/onnx" --batches "$WEB_BATCHES" --backends "$BACKENDS" \
  --runs-cpu "${BENCH_RUNS_CPU:-5}" --runs-webgpu "${BENCH_RUNS_WEBGPU:-1}" --ort-threads "${BENCH_ORT_THREADS:-1}" \
  ${BENCH_THREADS:+--threads "$BENCH_THREADS"} \
  --out "$WORK/web.json" > /dev/null

# --- 5. sizes and report
python3 - "$WORK" "$repo" <<'PY'
import gzip, json, os, sys
work, repo = sys.argv[1], sys.argv[2]
ort = os.path.join(repo, "bench", "node_modules", "onnxruntime-web", "dist")
files = [
    ("our wasm", os.path.join(repo, "www", "pkg", "glitchscope_bg.wasm")),
    ("our JS glue", os.path.join(repo, "www", "pkg", "glitchscope.js")),
    ("weights fp16 (shipped)", os.path.join(repo, "models", "default.bpk")),
    ("weights fp32 (same model, f32 Burnpack)", os.path.join(work, "export", "weights-f32.bpk")),
    ("ORT wasm (JSEP build: wasm + WebGPU EPs)", os.path.join(ort, "ort-wasm-simd-threaded.jsep.wasm")),
    ("ORT JS (ort.webgpu.min.mjs)", os.path.join(ort, "ort.webgpu.min.mjs")),
    ("ONNX model (fp32)", os.path.join(work, "onnx", sorted(f for f in os.listdir(os.path.join(work, "onnx")))[0])),
]
out = []
for what, path in files:
    data = open(path, "rb").read()
    shown = os.path.relpath(path, repo) if path.startswith(repo) else path.replace(os.path.expanduser("~"), "~")
    out.append({"what": what, "file": shown, "raw": len(data), "gzip": len(gzip.compress(data, 9))})
json.dump({"files": out}, open(os.path.join(work, "sizes.json"), "w"))
PY
load_after="$(cut -d' ' -f1-3 /proc/loadavg)"
# Busy = something else was running when we started. The load after is mostly our own benchmark (two
# threads on two cores read about 2), so it is reported but not judged.
busy=false
awk -v a="${load_before%% *}" 'BEGIN { exit !(a > 1.0) }' && busy=true
chromium="$(/usr/bin/chromium --version 2>/dev/null || echo unknown)"
ort_web="$(node -p "require('./bench/node_modules/onnxruntime-web/package.json').version")"
cpu="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
python3 - "$WORK/meta.json" <<PY
import json, sys
json.dump({
    "date": "$(date -u +%Y-%m-%dT%H:%M:%SZ)", "duration_s": $(( $(date +%s) - started )),
    "command": "scripts/bench-compare.sh", "cpu": "$cpu", "cores": $(nproc),
    "load_before": "$load_before", "load_after": "$load_after", "busy": $([ $busy = true ] && echo True || echo False),
    "chromium": "$chromium", "ort_web": "$ort_web", "height": $HEIGHT, "width": $WIDTH, "reference": "$reference",
}, open(sys.argv[1], "w"))
PY
mkdir -p "$(dirname "$OUT")"
python3 bench/report.py "$WORK" "$OUT"
say "wrote $OUT (work files in $WORK); took $(( $(date +%s) - started )) s"
