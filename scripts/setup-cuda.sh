#!/usr/bin/env bash
# Install the LLVM that Burn 0.22.1's CUDA backend links, without the internet beyond PyPI and crates.io, and print
# the environment a `--features cuda` build needs. Idempotent. Used by scripts/build-cuda.sh.
#
# Why: cubecl-cuda 0.11.3 always links cubecl-llvm, whose build dependency tracel-llvm-bundler 23.1.0-4 downloads an
# LLVM 23.1 bundle from GitHub at build time (no offline setting; it ignores LLVM_SYS_*_PREFIX). It skips the download
# when `$XDG_DATA_HOME/tracel/tracel-llvm-23.1.0-4/.tracel-llvm-installed` exists, and then only runs that
# directory's `bin/llvm-config --link-static ...`. The MLC project publishes LLVM 23.1.1 with NVPTX as static
# libraries + headers + an llvm-config on PyPI (two wheels, pinned here by hash); we install them outside the
# repository and point the bundler's directory at them. Nothing is patched or stubbed.
# Facts and the measurement behind them: ../shared/docs/toolchain.md, "CUDA offline"; docs/cuda.md.
set -euo pipefail
cd "$(dirname "$0")/.."

# What this route was checked against. If Cargo.lock moves to another bundler, the directory name and the LLVM it
# expects change too: stop here rather than build against the wrong LLVM or fall back to a download.
BUNDLER_VERSION="23.1.0-4"
BUNDLE_DIR_NAME="tracel/tracel-llvm-23.1.0-4"
MARKER=".tracel-llvm-installed"
WHEELS=(
  "mlc-llvm-static==23.1.1.post0 --hash=sha256:dcfec888abfaa418be77d41af585805f31463584cf9c90582992c00f392c1ac5"
  "mlc-llvm-static-extra-targets==23.1.1.post0 --hash=sha256:c36e834d9a4e9cf9759f27fece65711ece7a2fc2b5a96dbb15d66f5e9e787929"
)
ROOT="${GLITCHSCOPE_LLVM_DIR:-$HOME/.cache/glitchscope/llvm-23.1.1}"

fail() { echo "setup-cuda: $*" >&2; exit 1; }

locked=$(awk '/^name = "tracel-llvm-bundler"$/{getline; gsub(/^version = "|"$/, ""); print; exit}' Cargo.lock)
[ "$locked" = "$BUNDLER_VERSION" ] || fail "Cargo.lock has tracel-llvm-bundler ${locked:-none}, this script knows \
$BUNDLER_VERSION only: check the new bundler's directory name and LLVM version, then update BUNDLER_VERSION, \
BUNDLE_DIR_NAME and the wheels here."

# The bundler's own constants must give the directory we fill (cargo fetch puts its source in the registry).
cargo fetch --locked >/dev/null 2>&1 || cargo fetch >/dev/null
src=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/"tracel-llvm-bundler-$BUNDLER_VERSION" 2>/dev/null | head -1)
[ -n "$src" ] || fail "tracel-llvm-bundler $BUNDLER_VERSION source not found after cargo fetch"
constant() { sed -n "s/.*const $1: &str = \"\\([^\"]*\\)\".*/\\1/p" "$src/src/config.rs" | head -1; }
expected="$(constant TRACEL_LLVM_CACHE_DIRECTORY_NAME)/$(constant TRACEL_LLVM_CACHE_PREFIX)-$(constant TRACEL_LLVM_VERSION)-$(constant TRACEL_LLVM_RELEASE_NUMBER)"
[ "$expected" = "$BUNDLE_DIR_NAME" ] || fail "the bundler now looks in '$expected', not '$BUNDLE_DIR_NAME' ($src/src/config.rs)"
grep -q "\"$MARKER\"" "$src/src/config.rs" || fail "the bundler's install marker is no longer $MARKER ($src/src/config.rs)"

pkg="$ROOT/pkg"
if [ ! -x "$pkg/mlc_llvm_static/static/bin/llvm-config" ]; then
  echo "setup-cuda: pip install the LLVM 23.1.1 static wheels into $pkg (92 MB)"
  rm -rf "$pkg"
  req=$(mktemp)
  printf '%s\n' "${WHEELS[@]}" >"$req"
  python3 -m pip install --quiet --no-deps --require-hashes --target "$pkg" -r "$req"
  rm -f "$req"
fi
llvm="$pkg/mlc_llvm_static/static"
[ -x "$llvm/bin/llvm-config" ] || fail "no llvm-config in $llvm/bin after the install"
"$llvm/bin/llvm-config" --targets-built | grep -qw NVPTX || fail "$llvm has no NVPTX target (extra-targets wheel missing?)"

bundle="$ROOT/xdg/$BUNDLE_DIR_NAME"
mkdir -p "$(dirname "$bundle")"
[ "$(readlink "$bundle" 2>/dev/null)" = "$llvm" ] || ln -sfn "$llvm" "$bundle"
# Created once, never touched again: the bundler's build script reruns (and Burn's CUDA stack rebuilds, ~20
# minutes) whenever the marker's mtime changes.
[ -f "$bundle/$MARKER" ] || touch "$bundle/$MARKER"
echo "setup-cuda: LLVM $("$llvm/bin/llvm-config" --version) with NVPTX at $bundle"
echo "setup-cuda: build with  XDG_DATA_HOME=$ROOT/xdg cargo build --release -p glitchscope-trainer --features cuda"
