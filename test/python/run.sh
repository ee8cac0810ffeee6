#!/usr/bin/env bash
# Generates a Python client from proto/ with Debian's protoc and grpc_python_plugin, starts the server on free
# loopback ports, and runs the Python interop tests against both ports. Needs the Debian packages protobuf-compiler,
# protobuf-compiler-grpc, python3-grpcio and python3-protobuf (.ci/run installs them).
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=/usr/bin/python3
out=test/python/gen
rm -rf "$out" && mkdir -p "$out"
protoc -I proto -I node_modules/google-proto-files --python_out="$out" --grpc_out="$out" \
  --plugin=protoc-gen-grpc="$(command -v grpc_python_plugin)" proto/policy/v1/*.proto
protoc -I node_modules/google-proto-files --python_out="$out" \
  node_modules/google-proto-files/google/rpc/status.proto node_modules/google-proto-files/google/rpc/error_details.proto

tmp=$(mktemp -d)
log="$tmp/server.log"
node --import tsx src/main.ts --port 0 --grpc-port 0 --db "$tmp/policy.db" --log-level warn >"$log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 1 100); do grep -q "gRPC port" "$log" && break; sleep 0.1; done
main=$(sed -n 's/.*listening on http:\/\/\([^ ]*\) .*/\1/p' "$log" | head -1)
grpc_port=$(sed -n 's/.*gRPC port \([0-9]*\).*/\1/p' "$log" | head -1)
[ -n "$main" ] && [ -n "$grpc_port" ] || { cat "$log"; echo "server did not start" >&2; exit 1; }

status=0
for target in "$main" "127.0.0.1:$grpc_port"; do
  echo "== Python client against $target"
  PYTHONPATH="$out" POLICY_TARGET="$target" "$PY" test/python/interop_test.py || status=1
done
exit $status
