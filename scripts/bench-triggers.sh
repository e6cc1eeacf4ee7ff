#!/usr/bin/env bash
# Benchmark (not a test): triggers per second of `glitchscope classify --strain --triggers` on a GWOSC-layout HDF5
# file (written by h5py, gzip-chunked like GWOSC's), against gwpy 4.1's q_transform per trigger on the same file.
# Usage: scripts/bench-triggers.sh [RATE=4096] [SECONDS=512] [TRIGGERS=32]. Needs the h5py venv of setup.sh and a
# gwpy venv ($GWPY_VENV, default ~/.cache/glitchscope/gwpy-venv: python3 -m venv ...; pip install gwpy==4.1.0).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
rate="${1:-4096}"; seconds="${2:-512}"; n="${3:-32}"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
H5PY="$HOME/.cache/glitchscope/h5py-venv/bin/python"
GWPY="${GWPY_VENV:-$HOME/.cache/glitchscope/gwpy-venv}/bin/python"
# Triggers evenly spaced, 40 s from the ends; a loud burst at each.
glitches=(); : > "$work/gps.txt"
for i in $(seq 0 $((n - 1))); do
  t=$((40 + i * (seconds - 80) / (n > 1 ? n - 1 : 1)))
  glitches+=(--glitch "$t"); echo $((1126259400 + t)) >> "$work/gps.txt"
done
"$H5PY" tests/fixtures/make_gwosc_h5.py "$work/strain.hdf5" --rate "$rate" --duration "$seconds" "${glitches[@]}"
echo "file: $seconds s at $rate Hz, $(du -h "$work/strain.hdf5" | cut -f1), $n triggers; $(nproc) cores"
cargo build --release -p glitchscope-trainer -q
bin="$CARGO_TARGET_DIR/release/glitchscope"
"$bin" classify --strain "$work/strain.hdf5" --triggers "$work/gps.txt" --out "$work/cat.csv" 2>&1 | grep "triggers/s"
RAYON_NUM_THREADS=1 "$bin" classify --strain "$work/strain.hdf5" --triggers "$work/gps.txt" --out "$work/cat.csv" 2>&1 \
  | grep "triggers/s" | sed 's/^/1 thread: /'
"$GWPY" bench/gwpy_triggers.py "$work/strain.hdf5" "$work/gps.txt"
