#!/usr/bin/env bash
# Run every test: native (unit, integration, ImageNet parity, preprocessing and Q-transform on real data),
# wasm in headless Chromium (WebGPU on SwiftShader and the CPU backend) and headless Firefox ESR, and the
# end-to-end browser tests.
# Tests that need ../shared/data skip with a message when it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

echo "== native tests (cargo test --release --workspace)"
cargo test --release --workspace --no-fail-fast

# The wasm tests run through cargo with wasm-bindgen's test runner (what `wasm-pack test` did, without
# wasm-pack). The runner picks the browser by the driver variable it finds first: GECKODRIVER before CHROMEDRIVER.
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
echo "== wasm tests in headless Chromium (cargo test --target wasm32-unknown-unknown, chromedriver)"
env -u GECKODRIVER CHROMEDRIVER="$CHROMEDRIVER" cargo test --release --target wasm32-unknown-unknown --test web

echo "== wasm tests in headless Firefox ESR (the same test binary, geckodriver)"
GECKODRIVER="$(command -v geckodriver)" cargo test --release --target wasm32-unknown-unknown --test web

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
