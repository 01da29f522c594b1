#!/usr/bin/env bash
# Sets up, builds reid, and evaluates the bundled ONNX model on the bundled sample, then writes
# its embeddings: results land in results/sample/ (results.json, CMC and matches PNGs, JSON).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release --bin reid
target/release/reid evaluate -e specs/sample.yaml -r results/sample
target/release/reid inference -e specs/sample.yaml -r results/sample
