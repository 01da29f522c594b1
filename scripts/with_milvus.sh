#!/usr/bin/env bash
# Runs a command beside a real Milvus server: `scripts/with_milvus.sh CMD [ARGS…]`.
# Milvus standalone (the `milvus` PyPI package, into ./.venv) listens on every interface and
# cannot be bound to loopback, so the server and CMD run in private network and PID namespaces
# (root, `unshare`) that hold only loopback: nothing outside can reach the server, and every
# process in there ends with CMD. CMD gets REID_MILVUS=127.0.0.1:19530. Where namespaces are
# not available, CMD runs without Milvus (its Milvus tests say "skipped").
set -euo pipefail
cd "$(dirname "$0")/.."

MILVUS_VERSION=2.3.5

if [ "${1:-}" = "--inside" ]; then
  shift
  ip link set lo up
  data=$(mktemp -d /tmp/reid-milvus.XXXXXX)
  .venv/bin/milvus-server --data "$data" --proxy-port 19530 >"$data.log" 2>&1 &
  server=$!
  disown $server
  trap 'kill -9 $server 2>/dev/null; rm -rf "$data" "$data.log"' EXIT
  started=$SECONDS
  until .venv/bin/python -c 'import urllib.request as u; u.urlopen("http://127.0.0.1:9091/healthz", timeout=2)' 2>/dev/null; do
    if ! kill -0 $server 2>/dev/null || [ $((SECONDS - started)) -gt 120 ]; then
      echo "milvus: the server did not start; its log:" >&2
      tail -20 "$data.log" >&2
      exit 1
    fi
    sleep 1
  done
  echo "milvus: Milvus $MILVUS_VERSION up in $((SECONDS - started)) s (private network)"
  REID_MILVUS=127.0.0.1:19530 "$@"
  exit
fi

scripts/setup.sh >/dev/null
if ! .venv/bin/python -c "import importlib.metadata as m, sys; sys.exit(m.version('milvus') != '$MILVUS_VERSION')" 2>/dev/null; then
  echo "milvus: installing milvus==$MILVUS_VERSION (standalone server) into .venv"
  .venv/bin/pip install -q --disable-pip-version-check "milvus==$MILVUS_VERSION"
fi
if [ "$(id -u)" = 0 ] && unshare --net --pid --fork --mount-proc true 2>/dev/null; then
  exec unshare --net --pid --fork --mount-proc "$0" --inside "$@"
fi
echo "milvus: no private network namespace here (needs root and unshare); running without Milvus"
"$@"
