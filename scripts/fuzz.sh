#!/usr/bin/env bash
# Fuzz the parsers that untrusted bytes reach (issue 7): libFuzzer targets in fuzz/ for image preprocessing,
# model cards, Burnpack weights and strain (.txt / .npy). Each target runs SECONDS (default 600), then its
# corpus is minimised into fuzz/corpus/TARGET (committed). A crash stops the script with exit 1 and leaves the
# input in fuzz/artifacts/TARGET/ (replay: BINARY fuzz/artifacts/TARGET/crash-...).
#
# Usage: scripts/fuzz.sh [TARGET|all] [SECONDS]       TARGET: preprocess, card, weights, strain
#
# Stable toolchain, no cargo-fuzz needed: `cargo build --release` with fuzz/rustc-wrapper.sh adding libFuzzer's
# coverage flags to our crate and the parsers only (full instrumentation, as `cargo fuzz run`, rebuilds Burn
# for 20+ minutes; that works too: `cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run -s none TARGET`).
# Builds go to $GLITCHSCOPE_FUZZ_TARGET_DIR (default ~/.cache/glitchscope/fuzz-target); FUZZ_NICE=N runs
# the build and the fuzzers under `nice -n N` on a shared machine.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
export CARGO_TARGET_DIR="${GLITCHSCOPE_FUZZ_TARGET_DIR:-$HOME/.cache/glitchscope/fuzz-target}"
all=(preprocess card weights strain)
which="${1:-all}"
seconds="${2:-600}"
if [ "$which" = all ]; then targets=("${all[@]}"); else targets=("$which"); fi
for t in "${targets[@]}"; do
    [[ " ${all[*]} " == *" $t "* ]] || { echo "unknown target $t (expected: ${all[*]} or all)" >&2; exit 2; }
done
run=(nice -n "${FUZZ_NICE:-0}")

# Longest input per target: enough for the seeds (the Burnpack header of the shipped model is 19 KiB), small
# enough to keep every execution fast and the committed corpus small.
declare -A max_len=([preprocess]=8192 [card]=8192 [weights]=32768 [strain]=4096)

[ -d fuzz/seeds ] || python3 fuzz/make-seeds.py
echo "== building the fuzz targets (release, coverage on our code and the parsers) into $CARGO_TARGET_DIR"
(cd fuzz && RUSTC_WRAPPER="$PWD/rustc-wrapper.sh" "${run[@]}" cargo build --release --bins)

for t in "${targets[@]}"; do
    bin="$CARGO_TARGET_DIR/release/$t"
    work="$CARGO_TARGET_DIR/corpus/$t" # grows during the run; only its minimised form is kept in the repo
    mkdir -p "$work" "fuzz/corpus/$t" "fuzz/artifacts/$t"
    echo "== $t: ${seconds} s"
    "${run[@]}" "$bin" "$work" "fuzz/corpus/$t" "fuzz/seeds/$t" \
        -max_total_time="$seconds" -max_len="${max_len[$t]}" -timeout=30 -rss_limit_mb=2048 \
        -artifact_prefix="fuzz/artifacts/$t/" -print_final_stats=1 2>&1 | tee "$CARGO_TARGET_DIR/fuzz-$t.log" \
        | grep -E '^#[0-9]+.*(DONE|INITED)|^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb|new_units_added)|ERROR|panicked|SUMMARY|Test unit written'
    status=${PIPESTATUS[0]}
    if [ "$status" -ne 0 ]; then
        echo "!! $t failed (exit $status): see $CARGO_TARGET_DIR/fuzz-$t.log and fuzz/artifacts/$t/" >&2
        exit 1
    fi
    # Minimise (what `cargo fuzz cmin` does): the smallest set of inputs with the same edge coverage. Edges only
    # (-use_counters=0): hit-count buckets would keep thousands of near-duplicates in the committed corpus.
    fresh="$CARGO_TARGET_DIR/corpus/$t.min"
    rm -rf "$fresh" && mkdir -p "$fresh"
    "${run[@]}" "$bin" -merge=1 -use_counters=0 -max_len="${max_len[$t]}" "$fresh" "fuzz/corpus/$t" "$work" "fuzz/seeds/$t" \
        > "$CARGO_TARGET_DIR/cmin-$t.log" 2>&1
    rm -rf "fuzz/corpus/$t" && mv "$fresh" "fuzz/corpus/$t"
    echo "== $t: minimised corpus $(ls "fuzz/corpus/$t" | wc -l) files, $(du -sh --apparent-size "fuzz/corpus/$t" | cut -f1)"
done
