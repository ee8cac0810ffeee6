#!/usr/bin/env bash
# The Python SDK's tests (pytest, Debian's python3-pytest) against a real server on free loopback ports: generates the
# gRPC code from proto/, starts the server, runs tests/. Its last line is "python-sdk: N passed, N failed, N skipped".
set -euo pipefail
cd "$(dirname "$0")"
PY=/usr/bin/python3
bash generate.sh

tmp=$(mktemp -d)
log="$tmp/server.log"
(cd ../.. && exec node --import tsx src/main.ts --port 0 --grpc-port 0 --db "$tmp/policy.db" --log-level warn) >"$log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 1 200); do grep -q "gRPC port" "$log" && break; sleep 0.1; done
grpc_port=$(sed -n 's/.*gRPC port \([0-9]*\).*/\1/p' "$log" | head -1)
[ -n "$grpc_port" ] || { cat "$log"; echo "server did not start" >&2; echo "python-sdk: 0 passed, 1 failed, 0 skipped"; exit 1; }

POLICY_TARGET="127.0.0.1:$grpc_port" "$PY" -m pytest -q -p no:cacheprovider tests
