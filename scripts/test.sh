#!/usr/bin/env bash
# Run every test: native (unit, integration, ImageNet parity, preprocessing and Q-transform on real data),
# wasm in headless Chromium (WebGPU on SwiftShader and the CPU backend) and headless Firefox ESR, and the
# end-to-end browser tests.
# A test that needs something outside the code (../shared, a browser, a built binary) and does not find it skips
# with its reason, and the list of skips is printed at the end (a user's clone has no ../shared, and passes).
# Under CI (CI=true), where ../shared is beside the clone and setup installs every tool, a skip fails instead.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

# tests/support/skip.rs and tests/e2e/helpers.mjs append one line per skip here.
GLITCHSCOPE_SKIP_LOG="$(mktemp -t glitchscope-skips.XXXXXX)"
export GLITCHSCOPE_SKIP_LOG
print_skips() {
  local rc=$?
  if [ -s "$GLITCHSCOPE_SKIP_LOG" ]; then
    echo "== skipped: $(wc -l < "$GLITCHSCOPE_SKIP_LOG") (these passed without checking what they are for)"
    sort "$GLITCHSCOPE_SKIP_LOG" | sed 's/^/  /'
  else
    echo "== skipped: none"
  fi
  rm -f "$GLITCHSCOPE_SKIP_LOG"
  exit "$rc"
}
trap print_skips EXIT

if [ "${CI:-}" = true ] || [ "${CI:-}" = 1 ]; then
  for need in ../shared/data/real ../shared/data/qtransform-reference ../shared/weights; do
    [ -d "$need" ] || { echo "CI=true: $need is missing beside the clone; the tests that need it would only skip" >&2; exit 1; }
  done
fi

echo "== native tests (cargo test --release --workspace)"
cargo test --release --workspace --no-fail-fast

# The wasm tests as a Rust/wasm developer runs them: wasm-pack builds every test target of the library for wasm32
# (its unit tests run in the browser as wasm_bindgen_tests, tests/web.rs adds WebGPU vs CPU) and runs them through
# wasm-bindgen's test runner. GECKODRIVER, when set, would make the runner pick Firefox, so it is unset for Chromium.
echo "== wasm tests in headless Chromium (wasm-pack test --headless --chrome --release)"
env -u GECKODRIVER wasm-pack test --headless --chrome --release

echo "== wasm tests in headless Firefox ESR (wasm-pack test --headless --firefox --release)"
wasm-pack test --headless --firefox --release

echo "== end-to-end browser tests (playwright-core + Debian chromium; selenium-webdriver + Firefox ESR)"
scripts/build-web.sh
[ -d tests/e2e/node_modules/playwright-core ] || (cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error)
(cd tests/e2e && npm test)

# The CUDA build links offline with scripts/build-cuda.sh (LLVM from PyPI wheels; see the README), but a cold one
# takes about 25 minutes on 2 cores, more than CI has left, and a GPU is needed to run it. So CI type-checks all
# of our code on that path: DOCS_RS=1 makes the LLVM bundler skip its download, which is enough for `check` (not
# for linking). Own target dir, so that the changed environment of build scripts never invalidates the main
# build cache. About 4 CPU-minutes cold.
echo "== CUDA backend compile check (DOCS_RS=1 cargo check --features cuda)"
CARGO_TARGET_DIR="$HOME/.cache/glitchscope/target-cuda-check" DOCS_RS=1 \
  cargo check --release -p glitchscope-trainer --features cuda
