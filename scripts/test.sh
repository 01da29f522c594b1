#!/usr/bin/env bash
# The test command: sets up ONNX Runtime if needed, installs Debian's Chromium + ChromeDriver for
# the web page test when missing, then runs every test of the workspace.
# Tests that need ../shared/data or Chromium say "skipped" when it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
if [ ! -x /usr/bin/chromedriver ] || [ ! -x /usr/bin/chromium ]; then
  echo "test: installing chromium + chromium-driver (Debian) for the web page test"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  if ! { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null; }; then
    echo "test: could not install chromium; the web page test will be skipped"
  fi
fi
cargo test --workspace
