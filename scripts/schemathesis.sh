#!/usr/bin/env bash
# Checks `reid serve` against its own OpenAPI document as a client would: schemathesis (PyPI,
# pinned, into ./.venv) runs every check it has (examples from the schema, boundary values,
# invalid data, missing and wrong auth, wrong methods, stateful enrol → get → delete chains)
# against a server without a token and one with a token, each on 127.0.0.1 with an empty
# temporary gallery. Base64 image fields get real PNG crops (a schemathesis hook) so that valid
# requests reach the model. `scripts/schemathesis.sh [REID_BINARY]` (default target/debug/reid);
# SCHEMATHESIS_EXAMPLES sets the test cases per operation (default 100). One summary line per
# run; the full report of a run with any finding or warning, and a non-zero exit.
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
bin=${1:-target/debug/reid}
examples=${SCHEMATHESIS_EXAMPLES:-100}
[ -x "$bin" ] || { echo "schemathesis: no reid binary at $bin (cargo build --bin reid)" >&2; exit 1; }

scripts/setup.sh >/dev/null
if ! .venv/bin/python -c "import importlib.metadata as m, sys; sys.exit(m.version('schemathesis') != '$SCHEMATHESIS_VERSION')" 2>/dev/null; then
  echo "schemathesis: installing schemathesis==$SCHEMATHESIS_VERSION into .venv"
  .venv/bin/pip install -q --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

root=$PWD
work=$(mktemp -d /tmp/reid-schemathesis.XXXXXX)
server=""
trap '[ -z "$server" ] || kill "$server" 2>/dev/null; rm -rf "$work"' EXIT

# `format: byte` values (the document's ImageB64) as base64 PNGs of 1–64 × 1–64 random pixels,
# some as data: URLs. Standard library only.
cat >"$work/hooks.py" <<'EOF'
import base64
import random
import struct
import zlib

import schemathesis
from hypothesis import strategies as st


def png(width, height, seed):
    rng = random.Random(seed)
    rows = b"".join(b"\x00" + rng.randbytes(width * 3) for _ in range(height))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


@st.composite
def images(draw):
    data = png(draw(st.integers(1, 64)), draw(st.integers(1, 64)), draw(st.integers(0, 2**32)))
    return draw(st.sampled_from(["", "data:image/png;base64,"])) + base64.b64encode(data).decode()


schemathesis.openapi.format("byte", images())
EOF

# run NAME [TOKEN]: serves an empty gallery (with TOKEN if given), runs schemathesis against it
# and prints one line.
run() {
  local name=$1 token=${2:-} dir addr="" rc=0 summary cases
  local flags=() auth=()
  [ -z "$token" ] || { flags=(--token "$token"); auth=(--header "Authorization: Bearer $token"); }
  dir=$(mktemp -d "$work/run.XXXXXX")
  "$bin" serve -e specs/sample.yaml --store "$dir/store" --addr 127.0.0.1:0 "${flags[@]}" \
    >"$dir/server.log" 2>&1 &
  server=$!
  local started=$SECONDS
  until addr=$(grep -o -m1 'http://127\.0\.0\.1:[0-9]*' "$dir/server.log"); do
    if ! kill -0 "$server" 2>/dev/null || [ $((SECONDS - started)) -gt 60 ]; then
      echo "schemathesis ($name): reid serve did not start; its log:" >&2
      tail -20 "$dir/server.log" >&2
      kill "$server" 2>/dev/null
      server=""
      return 1
    fi
    sleep 0.2
  done
  # From its own folder: schemathesis keeps caches (.hypothesis, .schemathesis) in the working
  # directory, and earlier failures there would be replayed.
  (cd "$dir" && SCHEMATHESIS_HOOKS="$work/hooks.py" "$root/.venv/bin/schemathesis" run \
    "$addr/openapi.json" --checks all --max-examples "$examples" --generation-database none \
    --no-color "${auth[@]}") >"$dir/report.txt" 2>&1 || rc=$?
  local alive=1
  kill "$server" 2>/dev/null || alive=0
  wait "$server" 2>/dev/null || true
  server=""
  summary=$(sed -n 's/^=\{3,\} \(.*\) =\{3,\}$/\1/p' "$dir/report.txt" | tail -1)
  cases=$(grep -A1 '^Test cases:' "$dir/report.txt" | tail -1 | sed 's/^ *//')
  echo "schemathesis ($name): ${summary:-no summary (exit $rc)}; test cases: ${cases:-?}"
  [ "$alive" = 1 ] || echo "schemathesis ($name): reid serve exited during the run" >&2
  if [ "$rc" != 0 ] || [ "$alive" != 1 ] || [[ "$summary" != "No issues found"* ]]; then
    cat "$dir/report.txt" >&2
    echo "schemathesis ($name): the end of reid serve's log:" >&2
    tail -20 "$dir/server.log" >&2
    return 1
  fi
}

status=0
run "no token" || status=1
run "token" "schemathesis-$RANDOM$RANDOM" || status=1
exit $status
