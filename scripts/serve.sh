#!/usr/bin/env bash
# Serve the GlitchScope page on http://127.0.0.1:PORT/ (default 8000): www/ at /, models/ at /models/, and
# ../shared/data/real at /samples/ when it exists (see scripts/serve.py).
# Builds the wasm package first (scripts/build-web.sh) only when www/pkg is missing or older than the Rust sources.
#
# Usage: scripts/serve.sh [PORT]
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
port="${1:-8000}"
case "$port" in
  ''|*[!0-9]*) echo "serve.sh: PORT must be a number, got '$port'" >&2; exit 2 ;;
esac

pkg="$repo/www/pkg/glitchscope_bg.wasm"
needs_build=no
if [ ! -f "$pkg" ] || [ ! -f "$repo/www/pkg/glitchscope.js" ]; then
  needs_build=yes
elif [ -n "$(find "$repo/src" "$repo/Cargo.toml" "$repo/Cargo.lock" -newer "$pkg" -print -quit 2>/dev/null)" ]; then
  needs_build=yes
fi
if [ "$needs_build" = yes ]; then
  echo "serve.sh: www/pkg is missing or older than src/; building it (scripts/build-web.sh)" >&2
  "$repo/scripts/build-web.sh"
fi

if [ ! -f "$repo/models/default.json" ]; then
  echo "serve.sh: warning: models/default.json is missing; the page will say it cannot load the model" >&2
fi

exec python3 "$repo/scripts/serve.py" --port "$port" --repo "$repo"
