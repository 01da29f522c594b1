#!/usr/bin/env bash
# The test command: sets up ONNX Runtime if needed, then runs every test of the workspace.
# Tests that need ../shared/data say "skipped" when it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo test --workspace
