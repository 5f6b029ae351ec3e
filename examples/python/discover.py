#!/usr/bin/env python3
"""Discover and call contactscore through gRPC server reflection: no .proto file, no stubs.

    pip install -r requirements.txt
    python3 discover.py --addr 127.0.0.1:50051 [--token TOKEN]

This is what grpcurl does (grpcurl.md beside this file has the equivalent commands): it lists the
services the server exposes, describes contactscore.v1.ContactScoring and one of its messages
from the descriptors the server sends, then builds a GetModelInfo request from those descriptors
alone and prints the answer as JSON.

Exit status: 0 on success, 1 if the server cannot be reached, the service is not listed, or the
call fails.
"""

import argparse
import os
import sys

import grpc
from google.protobuf import descriptor_pool, json_format, message_factory
from google.protobuf.descriptor_pb2 import FieldDescriptorProto
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

SERVICE = "contactscore.v1.ContactScoring"
TIMEOUT_SECONDS = 10.0


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--addr", default="127.0.0.1:50051", help="server host:port")
    p.add_argument(
        "--token",
        default=os.environ.get("CONTACTSCORE_TOKEN"),
        help="bearer token for the ContactScoring call (reflection itself needs none)",
    )
    return p.parse_args()


def signature(method):
    """`Rank(RankRequest) returns (RankResponse)`, with `stream` where the method streams."""
    arg = ("stream " if method.client_streaming else "") + method.input_type.full_name
    ret = ("stream " if method.server_streaming else "") + method.output_type.full_name
    return f"{method.name}({arg}) returns ({ret})"


def run(args):
    channel = grpc.insecure_channel(args.addr)
    try:
        grpc.channel_ready_future(channel).result(timeout=TIMEOUT_SECONDS)
    except grpc.FutureTimeoutError:
        print(f"error: cannot connect to {args.addr}", file=sys.stderr)
        return 1

    # The database asks the server's reflection service for whatever file or symbol the pool
    # needs, dependencies (google/protobuf/timestamp.proto) included.
    reflection = ProtoReflectionDescriptorDatabase(channel)
    services = reflection.get_services()
    print("services:")
    for name in services:
        print(f"  {name}")
    if SERVICE not in services:
        print(f"error: {SERVICE} is not listed", file=sys.stderr)
        return 1

    pool = descriptor_pool.DescriptorPool(reflection)
    service = pool.FindServiceByName(SERVICE)
    print(f"{SERVICE} (from {service.file.name}):")
    for method in service.methods:
        print(f"  rpc {signature(method)}")
    rank_request = pool.FindMessageTypeByName("contactscore.v1.RankRequest")
    print(f"{rank_request.full_name} fields:")
    for field in rank_request.fields:
        if field.message_type:
            kind = field.message_type.full_name
        else:
            kind = FieldDescriptorProto.Type.Name(field.type).removeprefix("TYPE_").lower()
        repeated = "repeated " if field.is_repeated else ""
        print(f"  {field.number:>2} {field.name}: {repeated}{kind}")

    # A call built from the reflected descriptors alone.
    method = service.methods_by_name["GetModelInfo"]
    request_class = message_factory.GetMessageClass(method.input_type)
    response_class = message_factory.GetMessageClass(method.output_type)
    call = channel.unary_unary(
        f"/{SERVICE}/{method.name}",
        request_serializer=request_class.SerializeToString,
        response_deserializer=response_class.FromString,
    )
    metadata = [("authorization", f"Bearer {args.token}")] if args.token else []
    # The request from JSON, as with `grpcurl -d '{}'`.
    request = json_format.Parse("{}", request_class())
    info = call(request, metadata=metadata, timeout=TIMEOUT_SECONDS)
    print(f"{method.name} ->")
    print(json_format.MessageToJson(info, indent=2))
    return 0


def main():
    args = parse_args()
    try:
        return run(args)
    except grpc.RpcError as e:
        print(f"error: {e.code().name}: {e.details()}", file=sys.stderr)
        return 1
    except KeyError as e:
        # The descriptor pool raises KeyError for a symbol the server does not describe.
        print(f"error: not found through reflection: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
