#!/usr/bin/env bash
# The test command: sets up ONNX Runtime if needed, installs what some tests drive when it is
# missing (Debian's ffmpeg for the video tests, chromium + chromium-driver for the web page
# test, tritonclient's Triton model-config schema for the export test), builds the tests,
# then runs every test of the workspace beside a real Milvus server in a loopback-only network
# (scripts/with_milvus.sh), and schemathesis against `reid serve`'s OpenAPI document with and
# without a token (scripts/schemathesis.sh). Tests whose data or tools are absent say "skipped"
# (under CI=true they fail).
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
# Triton's model-config schema (tritonclient's generated protobuf), for the export test.
if ! .venv/bin/python -c 'import tritonclient.grpc.model_config_pb2' 2>/dev/null; then
  echo "test: installing tritonclient[grpc] into .venv (Triton's model-config schema)"
  .venv/bin/pip install -q --disable-pip-version-check "tritonclient[grpc]==2.73.0"
fi
cargo test --workspace --no-run
scripts/with_milvus.sh cargo test --workspace --offline
scripts/schemathesis.sh target/debug/reid
