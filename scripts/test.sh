#!/usr/bin/env bash
# The test command: sets up ONNX Runtime if needed, installs what some tests drive when it is
# missing (Debian's ffmpeg for the video tests, chromium + chromium-driver for the web page
# test), builds the tests, then runs every test of the workspace beside a real Milvus server in
# a loopback-only network (scripts/with_milvus.sh). Tests whose data or tools are absent say
# "skipped".
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
missing=()
command -v ffmpeg >/dev/null || missing+=(ffmpeg)
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/bin/chromedriver ] || missing+=(chromium-driver)
if [ ${#missing[@]} -gt 0 ]; then
  echo "test: installing ${missing[*]} (Debian) for the video and web page tests"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  if ! { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null; }; then
    echo "test: could not install ${missing[*]}; the tests that need them will be skipped"
  fi
fi
cargo test --workspace --no-run
scripts/with_milvus.sh cargo test --workspace --offline
