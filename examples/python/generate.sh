#!/usr/bin/env bash
# Generate the Python gRPC stubs for contactscore.v1 from the repository's proto file.
#
#   ./generate.sh            # into examples/python/gen/ (gitignored)
#   ./generate.sh OUT_DIR    # anywhere else
#
# Writes OUT_DIR/contactscore/v1/contactscore_pb2.py (messages), contactscore_pb2.pyi (types for
# editors) and contactscore_pb2_grpc.py (the ContactScoringStub client). Put OUT_DIR on
# sys.path (client.py --stubs OUT_DIR does) and import `contactscore.v1.contactscore_pb2`.
# google/protobuf/timestamp.proto comes with grpcio-tools. Needs: pip install -r requirements.txt
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
proto_root="$here/../../proto"
out="${1:-$here/gen}"
mkdir -p "$out"
"${PYTHON:-python3}" -m grpc_tools.protoc \
    --proto_path="$proto_root" \
    --python_out="$out" \
    --pyi_out="$out" \
    --grpc_python_out="$out" \
    contactscore/v1/contactscore.proto
echo "stubs written to $out"
