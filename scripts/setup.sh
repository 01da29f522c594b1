#!/usr/bin/env bash
# Installs what reid needs besides Rust: ONNX Runtime's shared library (from the `onnxruntime`
# PyPI wheel, into ./.venv, where the reid binary finds it by itself) and, on Debian, python3-venv.
# Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

ORT_VERSION=1.32.0

if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' >/dev/null 2>&1; then
  echo "setup: installing python3-venv (Debian)"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq python3-venv python3-pip >/dev/null
fi
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
if ! .venv/bin/python -c "import onnxruntime, sys; import numpy, PIL; sys.exit(onnxruntime.__version__ != '$ORT_VERSION')" 2>/dev/null; then
  echo "setup: installing onnxruntime==$ORT_VERSION into .venv"
  .venv/bin/pip install -q --disable-pip-version-check "onnxruntime==$ORT_VERSION" numpy pillow
fi
ls .venv/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so* >/dev/null
echo "setup: ONNX Runtime $ORT_VERSION ready in .venv"
