#!/usr/bin/env bash
# Build the `glitchscope` CLI with the CUDA backend (NVIDIA GPUs), offline apart from PyPI and crates.io.
# Output: $GLITCHSCOPE_CUDA_TARGET_DIR/release/glitchscope (default ~/.cache/glitchscope/target-cuda: its own
# folder, so the CPU build cache is untouched). About 25 minutes cold on 2 cores. It runs on a machine with an NVIDIA driver
# (libcuda.so.1) and the CUDA toolkit's NVRTC and libdevice (CUDA_PATH, or /usr/local/cuda); elsewhere
# `--device cuda` stops with a clear "not usable on this machine" error.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
scripts/setup-cuda.sh
ROOT="${GLITCHSCOPE_LLVM_DIR:-$HOME/.cache/glitchscope/llvm-23.1.1}"
export CARGO_TARGET_DIR="${GLITCHSCOPE_CUDA_TARGET_DIR:-$HOME/.cache/glitchscope/target-cuda}"
XDG_DATA_HOME="$ROOT/xdg" cargo build --release --locked -p glitchscope-trainer --features cuda "$@"
echo "build-cuda: $CARGO_TARGET_DIR/release/glitchscope"
