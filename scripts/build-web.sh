#!/usr/bin/env bash
# Build the browser package: src/web.rs compiled to wasm (cargo, wasm32-unknown-unknown) and bound to JavaScript
# by wasm-bindgen into www/pkg/glitchscope.js (+ _bg.wasm). www/pkg is git-ignored. Models are not copied:
# scripts/serve.py serves the repository's models/ at /models/.
#
# Needs: rustup target wasm32-unknown-unknown and wasm-bindgen-cli at the version in Cargo.lock on PATH
# (scripts/setup.sh installs both). wasm-pack is not used: it only ran these two steps, and installing it from
# source cost 2.5 of a cold CI run's minutes (issue 13). Uses the shared release target dir, where the wasm
# tests (scripts/test.sh) have already built the same library, so this build only links.
# Extra arguments go to cargo build (e.g. --features ...).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

die() { echo "build-web.sh: $*" >&2; exit 1; }

# The project's shared build settings (PATH, one target dir for every build), when present.
if [ -f scripts/env.sh ]; then
  # shellcheck source=/dev/null
  source scripts/env.sh
fi
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/glitchscope/target}"

if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  die "the wasm32-unknown-unknown target is missing; add it with: rustup target add wasm32-unknown-unknown"
fi
locked="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)"
command -v wasm-bindgen >/dev/null \
  || die "wasm-bindgen not found; install it with: cargo install wasm-bindgen-cli --version $locked (or scripts/setup.sh)"
wasm-bindgen --version | grep -q " $locked\$" \
  || die "wasm-bindgen on PATH is '$(wasm-bindgen --version)', Cargo.lock wants $locked: cargo install wasm-bindgen-cli --version $locked --force"

echo "build-web.sh: cargo build --release --target wasm32-unknown-unknown --lib (target dir $CARGO_TARGET_DIR)" >&2
cargo build --release --target wasm32-unknown-unknown --lib -p glitchscope "$@"
wasm="$CARGO_TARGET_DIR/wasm32-unknown-unknown/release/glitchscope.wasm"
test -f "$wasm" || die "cargo finished but $wasm is missing"
mkdir -p www/pkg
wasm-bindgen --target web --out-dir www/pkg --out-name glitchscope "$wasm"
test -f www/pkg/glitchscope.js || die "wasm-bindgen finished but www/pkg/glitchscope.js is missing"

# Drop the wasm's `name` and `producers` custom sections: debug names only (panic messages keep their text;
# browser stack traces then show wasm-function[N]). On the 2026-11-26 build: 33.4 -> 27.4 MB raw, 5.45 -> 4.39 MB
# gzip -9 (node tests/e2e/bench-web.mjs reports both). Custom sections never affect execution, so the code is
# copied byte for byte; `wasm-opt --strip-debug` (binaryen 108) gives the same size but re-encodes the code, and
# `wasm-opt -Oz` (17.4 MB raw, but 4.46 MB gzip: no smaller to download) takes ~150 CPU-s and 1 GB.
# GLITCHSCOPE_KEEP_WASM_NAMES=1 keeps the names (readable stack traces while debugging).
if [ "${GLITCHSCOPE_KEEP_WASM_NAMES:-0}" != 1 ]; then
  python3 - www/pkg/glitchscope_bg.wasm <<'PY' || die "stripping the wasm's debug names failed"
import sys
path = sys.argv[1]
data = open(path, "rb").read()
assert data[:8] == b"\0asm\1\0\0\0", "not a wasm module"

def leb(at):
    value = shift = 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, at

out, at, dropped = [data[:8]], 8, 0
while at < len(data):
    size, body = leb(at + 1)
    end = body + size
    if data[at] == 0:  # custom section: its name comes first
        name_len, name_at = leb(body)
        if data[name_at:name_at + name_len] in (b"name", b"producers"):
            dropped += end - at
            at = end
            continue
    out.append(data[at:end])
    at = end
open(path, "wb").write(b"".join(out))
print(f"build-web.sh: dropped {dropped} bytes of debug names from {path}", file=sys.stderr)
PY
fi
ls -l www/pkg/glitchscope.js www/pkg/glitchscope_bg.wasm >&2
