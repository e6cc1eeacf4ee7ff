#!/usr/bin/env bash
# RUSTC_WRAPPER for scripts/fuzz.sh: libFuzzer coverage instrumentation (what cargo-fuzz puts in RUSTFLAGS)
# for the crates that parse untrusted bytes, and nothing else, so Burn is not rebuilt with coverage.
# Cargo calls it as `rustc-wrapper.sh RUSTC ARGS...`.
rustc="$1"; shift
crate=""
prev=""
for arg in "$@"; do
    if [[ "$prev" == "--crate-name" ]]; then crate="$arg"; fi
    prev="$arg"
done
case "$crate" in
    glitchscope|glitchscope_fuzz|preprocess|card|weights|strain|image|png|gif|zune_jpeg|npyz|burn_store)
        exec "$rustc" "$@" \
            -Cpasses=sancov-module \
            -Cllvm-args=-sanitizer-coverage-level=4 \
            -Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
            -Cllvm-args=-sanitizer-coverage-pc-table \
            -Cllvm-args=-sanitizer-coverage-trace-compares \
            --cfg fuzzing ;;
    *) exec "$rustc" "$@" ;;
esac
