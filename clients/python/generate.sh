#!/usr/bin/env bash
# Generates the Python code the SDK is built on from proto/ (Debian's protoc and grpc_python_plugin) into
# policy_client/_gen/: the policy.v1 messages and stubs, and google.rpc's Status and error details (read from the
# repository's node_modules/google-proto-files, as the server's own generation does). Generated, never edited.
set -euo pipefail
cd "$(dirname "$0")"
root=../..
out=policy_client/_gen
for tool in protoc grpc_python_plugin; do
  command -v "$tool" >/dev/null || { echo "generate.sh: $tool is missing: apt-get install protobuf-compiler protobuf-compiler-grpc" >&2; exit 1; }
done
[ -d "$root/node_modules/google-proto-files/google/rpc" ] ||
  { echo "generate.sh: $root/node_modules/google-proto-files is missing: run npm ci in the repository first" >&2; exit 1; }
rm -rf "$out" && mkdir -p "$out"
protoc -I "$root/proto" -I "$root/node_modules/google-proto-files" --python_out="$out" --grpc_out="$out" \
  --plugin=protoc-gen-grpc="$(command -v grpc_python_plugin)" "$root"/proto/policy/v1/*.proto
protoc -I "$root/node_modules/google-proto-files" --python_out="$out" \
  "$root/node_modules/google-proto-files/google/rpc/status.proto" \
  "$root/node_modules/google-proto-files/google/rpc/error_details.proto"
