#!/usr/bin/env bash
# Catalogue-scale numbers (printed, not a test):
#  1. classification throughput of one node under Slurm: every real picture of ../shared/data/real, as one shard
#     using all cores and as one shard per core (a local one-node cluster, scripts/slurm-local.sh; needs root);
#  2. planning and merge time for 100,000 glitches (400,000 listed pictures; the shard results are copies of real
#     result rows with their own keys, so the merge reads and writes a catalogue of realistic size).
# Usage: scripts/bench-catalogue.sh [WORK_DIR]   (default: a temporary folder, removed at the end)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
cargo build --release -q -p glitchscope-trainer
bin="$CARGO_TARGET_DIR/release/glitchscope"
work="${1:-$(mktemp -d)}"
[ -n "${1:-}" ] || trap 'scripts/slurm-local.sh stop "$work/slurm" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
mkdir -p "$work"
cores=$(nproc)
echo "machine: $cores cores, $(awk '/model name/{$1=$2=$3="";print;exit}' /proc/cpuinfo | sed 's/^ *//')"

# 1. Throughput under Slurm.
real=../shared/data/real
if [ -d "$real" ] && scripts/slurm-local.sh start "$work/slurm" >/dev/null; then
  export SLURM_CONF="$work/slurm/slurm.conf"
  for layout in "1 $cores" "$cores 1"; do
    set -- $layout
    shards=$1; cpus=$2
    cat="$work/throughput-$shards"
    "$bin" catalogue sbatch "$real" --dir "$cat" --shards "$shards" --cpus-per-task "$cpus" >/dev/null
    glitches=$(python3 -c "import json;print(json.load(open('$cat/catalogue.json'))['glitches'])")
    start=$(date +%s.%N)
    sbatch --wait -Q "$cat/job.sbatch" >/dev/null
    # sbatch --wait polls every few seconds: the end is when the last shard result appeared.
    end=$(stat -c %.9Y "$cat"/shards/*.csv | sort -n | tail -1)
    "$bin" catalogue merge --dir "$cat" >/dev/null
    python3 -c "s=$end-$start; print(f'slurm, {$shards} shard(s) x {$cpus} cpu(s): {$glitches} glitches in {s:.1f} s = {$glitches/s:.1f} glitches/s per node (model load and scheduling included)')"
  done
  scripts/slurm-local.sh stop "$work/slurm"
else
  echo "slurm throughput: skipped (no ../shared/data/real, or no local Slurm cluster: see scripts/slurm-local.sh)"
fi

# 2. Planning and merging 100,000 glitches.
python3 - "$work/list.txt" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    for g in range(100_000):
        for d in ("0.5", "1.0", "2.0", "4.0"):
            f.write(f"/catalogue/O3/{g % 997:03d}/H1_G{g:07d}_spectrogram_{d}.png\n")
PY
start=$(date +%s.%N)
"$bin" catalogue sbatch --list "$work/list.txt" --dir "$work/big" --shards 100 >/dev/null
end=$(date +%s.%N)
python3 -c "print(f'plan: 400,000 listed pictures -> 100,000 glitches in 100 shards in {$end-$start:.2f} s')"
# One real result row (classify --out on a real glitch), copied under every key of each shard's range.
one="$work/one"
mkdir -p "$one"
cp ../shared/data/real/o1_cropped/Blip/$(ls ../shared/data/real/o1_cropped/Blip | head -1) "$one/" 2>/dev/null || true
if [ -z "$(ls "$one")" ]; then
  "$bin" synth --out "$one/synth" --per-class 1 --classes Blip >/dev/null 2>&1 || true
fi
"$bin" classify "$one" --out "$work/one.csv" >/dev/null
python3 - "$work/one.csv" "$work/big" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1])))
header, row = rows[0], rows[1]
total, shards = 100_000, 100
for i in range(shards):
    lo, hi = i * total // shards, (i + 1) * total // shards
    with open(f"{sys.argv[2]}/shards/shard-{i:05d}-of-{shards:05d}.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for g in range(lo, hi):
            r = list(row)
            r[0] = f"H1_G{g:07d}"
            w.writerow(r)
PY
start=$(date +%s.%N)
"$bin" catalogue merge --dir "$work/big" --out "$work/big/catalogue.csv"
end=$(date +%s.%N)
python3 -c "import os; print(f'merge: 100 shards, 100,000 rows, {os.path.getsize(\"$work/big/catalogue.csv\")/1e6:.0f} MB in {$end-$start:.2f} s (wall, process start included)')"
