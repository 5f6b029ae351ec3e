#!/usr/bin/env python3
"""contactscore from Python: the calls a dialer makes around one contact attempt.

    pip install -r requirements.txt
    ./generate.sh                                   # stubs into ./gen (gitignored)
    python3 client.py --addr 127.0.0.1:50051 [--token TOKEN]

What it does, in order:
  1. checks grpc.health.v1 for contactscore.v1.ContactScoring (SERVING once a model is loaded);
  2. GetModelInfo: the model version being served and its out-of-time metrics;
  3. Rank: a new lead with phone numbers written three ways and an email address; prints the
     suggestions (normalised contact, channel, hourly slot, probability, reasons) and the
     blocked list (what the contact rules exclude, why, until when);
  4. RecordOutcome: reports that an attempt on the top suggestion found it invalid (a
     disconnected number or a bounced email);
  5. Rank again, and prints what changed: that contact point and channel is now blocked;
  6. ForgetPerson, so the demo leaves nothing behind on the server.

Exit status: 0 on success; 1 if the server cannot be reached, is not serving, or a call fails
(the gRPC status code and message go to stderr; a bad request's message starts with the field,
e.g. "contacts[0].contact: ...").

--token sends `authorization: Bearer <token>` metadata on every ContactScoring call (the server's
[auth] setting; health and reflection stay open). This example speaks plain-text gRPC; against a
server with [tls], use grpc.secure_channel(addr, grpc.ssl_channel_credentials(ca_pem)) instead.
"""

import argparse
import os
import sys
import uuid
from datetime import timezone

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from grpc_health.v1 import health_pb2, health_pb2_grpc

SERVICE = "contactscore.v1.ContactScoring"
# Per-call deadline: Rank answers in milliseconds; this only bounds a stuck network.
TIMEOUT_SECONDS = 10.0
HERE = os.path.dirname(os.path.abspath(__file__))


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--addr", default="127.0.0.1:50051", help="server host:port")
    p.add_argument(
        "--token",
        default=os.environ.get("CONTACTSCORE_TOKEN"),
        help="bearer token (default: $CONTACTSCORE_TOKEN; none = no authorization header)",
    )
    p.add_argument(
        "--stubs",
        default=os.path.join(HERE, "gen"),
        help="directory generate.sh wrote the stubs to (default: gen/ beside this file)",
    )
    p.add_argument(
        "--person-id",
        default=f"example-lead-{uuid.uuid4().hex[:8]}",
        help="the lead's id (default: a fresh one, so every run starts from nothing)",
    )
    return p.parse_args()


def import_stubs(directory):
    """Import the generated modules from `directory` (see generate.sh)."""
    sys.path.insert(0, directory)
    try:
        from contactscore.v1 import contactscore_pb2, contactscore_pb2_grpc
    except ImportError as e:
        sys.exit(f"error: no generated stubs in {directory} ({e}); run ./generate.sh first")
    return contactscore_pb2, contactscore_pb2_grpc


def when(ts):
    """A protobuf Timestamp as a short UTC string."""
    return ts.ToDatetime(tzinfo=timezone.utc).strftime("%a %Y-%m-%d %H:%MZ")


def lead_request(pb, person_id):
    """The lead as a dialer would send it: contact points as they were typed into the CRM.

    The server normalises phone numbers to E.164 (national numbers use the model's default
    region, here Brazil) and lower-cases emails; suggestions come back in normalised form.
    """
    return pb.RankRequest(
        person_id=person_id,
        contacts=[
            # International, formatted; only these two channels may be used on it.
            pb.ContactPoint(contact="+55 (11) 98765-4321", channels=["voice", "whatsapp"]),
            # National format; no channels = voice, sms and whatsapp for a phone.
            pb.ContactPoint(contact="(11) 91234-5678"),
            # Digits only, with the country code.
            pb.ContactPoint(contact="5511955554444", channels=["sms"]),
            # Email: any case, surrounding spaces ignored.
            pb.ContactPoint(contact="  Ana.Souza@Example.COM "),
        ],
        # Used for calling windows and caps when a contact point carries no zone of its own.
        timezone="America/Sao_Paulo",
        # as_of unset = now. 72 hours always spans a weekday calling window.
        horizon_hours=72,
        max_suggestions=10,
    )


def print_ranking(title, r):
    print(f"{title}: model {r.model_version}, {len(r.suggestions)} suggestions")
    for i, s in enumerate(r.suggestions, 1):
        print(
            f"  {i:>2}. {s.contact:<22} {s.channel:<9} {when(s.slot_start)}"
            f"  p={s.probability:.3f}  {', '.join(s.reasons)}"
        )
    print(f"  blocked: {len(r.blocked)}")
    for b in r.blocked:
        until = when(b.until) if b.HasField("until") else "indefinitely"
        print(f"      {b.contact:<22} {b.channel:<9} {b.reason} until {until}")


def print_changes(before, after):
    """Per (contact, channel): probability before -> after, or why it is now blocked."""
    old = {(s.contact, s.channel): s.probability for s in before.suggestions}
    new = {(s.contact, s.channel): s.probability for s in after.suggestions}
    blocked = {(b.contact, b.channel): b for b in after.blocked}
    print("changes:")
    for key, p in old.items():
        contact, channel = key
        if key in new:
            print(f"  {contact:<22} {channel:<9} p {p:.3f} -> {new[key]:.3f}")
        elif key in blocked:
            b = blocked[key]
            until = when(b.until) if b.HasField("until") else "indefinitely"
            print(f"  {contact:<22} {channel:<9} now blocked: {b.reason} until {until}")
        else:
            print(f"  {contact:<22} {channel:<9} no longer among the top suggestions")


def run(args, pb, pb_grpc):
    channel = grpc.insecure_channel(args.addr)
    try:
        grpc.channel_ready_future(channel).result(timeout=TIMEOUT_SECONDS)
    except grpc.FutureTimeoutError:
        print(f"error: cannot connect to {args.addr}", file=sys.stderr)
        return 1
    # Every ContactScoring call carries the token, when there is one.
    metadata = [("authorization", f"Bearer {args.token}")] if args.token else []

    # 1. Health: SERVING once a model is loaded (NOT_SERVING while there is none).
    health = health_pb2_grpc.HealthStub(channel)
    status = health.Check(health_pb2.HealthCheckRequest(service=SERVICE), timeout=TIMEOUT_SECONDS)
    status_name = health_pb2.HealthCheckResponse.ServingStatus.Name(status.status)
    print(f"health {SERVICE}: {status_name}")
    if status.status != health_pb2.HealthCheckResponse.SERVING:
        print("error: the server has no model loaded yet", file=sys.stderr)
        return 1

    stub = pb_grpc.ContactScoringStub(channel)

    # 2. Which model answers.
    info = stub.GetModelInfo(pb.GetModelInfoRequest(), metadata=metadata, timeout=TIMEOUT_SECONDS)
    print(
        f"model {info.version}: family {info.family}, target {info.target}, trained on "
        f"{when(info.trained_from)} .. {when(info.trained_to)}, "
        f"out-of-time AUC {info.metrics.auc:.3f} (baseline {info.baseline_metrics.auc:.3f}), "
        f"{info.live_outcomes} live outcomes"
    )

    # 3. Rank the lead.
    request = lead_request(pb, args.person_id)
    before = stub.Rank(request, metadata=metadata, timeout=TIMEOUT_SECONDS)
    print_ranking(f"rank {args.person_id}", before)
    if not before.suggestions:
        print("error: nothing to suggest for the lead", file=sys.stderr)
        return 1

    # 4. The dialer tried the top suggestion just now: the number is disconnected (or the email
    # bounced). attempt_id makes the report idempotent: sending it again changes nothing.
    top = before.suggestions[0]
    attempted_at = Timestamp()
    attempted_at.GetCurrentTime()
    outcome = pb.Outcome(
        attempt_id=f"{args.person_id}-attempt-1",
        person_id=args.person_id,
        contact=top.contact,
        channel=top.channel,
        attempted_at=attempted_at,
        outcome="invalid",
        campaign="python-example",
    )
    ack = stub.RecordOutcome(
        pb.RecordOutcomeRequest(outcome=outcome), metadata=metadata, timeout=TIMEOUT_SECONDS
    )
    print(f"recorded invalid on {top.contact} {top.channel}: recorded={ack.recorded}")

    # 5. Rank again: the rules now block that contact point on that channel for a while.
    after = stub.Rank(request, metadata=metadata, timeout=TIMEOUT_SECONDS)
    print_ranking("rank again", after)
    print_changes(before, after)

    # 6. Erase the demo lead (the same call serves LGPD/GDPR erasure requests).
    gone = stub.ForgetPerson(
        pb.ForgetPersonRequest(person_id=args.person_id), metadata=metadata, timeout=TIMEOUT_SECONDS
    )
    print(f"forgot {args.person_id}: existed={gone.existed}")
    return 0


def main():
    args = parse_args()
    pb, pb_grpc = import_stubs(args.stubs)
    try:
        return run(args, pb, pb_grpc)
    except grpc.RpcError as e:
        # e.code() is a grpc.StatusCode: UNAUTHENTICATED (token), INVALID_ARGUMENT (the message
        # names the field), UNAVAILABLE (no model, or the server went away), NOT_FOUND, ...
        print(f"error: {e.code().name}: {e.details()}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
