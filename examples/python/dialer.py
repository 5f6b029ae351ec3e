#!/usr/bin/env python3
"""contactscore from Python: a dialer that plans its day with PlanCampaign and follows the plan.

    pip install -r requirements.txt
    ./generate.sh                                   # stubs into ./gen (gitignored)
    python3 dialer.py --addr 127.0.0.1:50051 --list list.csv --per-hour 40 [--hours 12]
        [--window-start 2026-04-07T11:00:00Z] [--attempts-per-person 2] [--simulate SEED]
        [--no-wait] [--token TOKEN]

What it does (docs/SERVER.md, "A dialer following the plan"):
  1. reads the day's list: a CSV with the contacts file's columns (person_id; contact, channels
     as "voice;sms", timezone optional; other columns ignored), one row per contact point, as
     `contactscore-trainer plan --list` reads it;
  2. PlanCampaign: the list, the window (--hours whole hours from --window-start, default the
     next whole UTC hour) and one capacity line per hour (--per-hour attempts shared by every
     channel); prints the plan's summary: assignments, unplanned persons by reason, expected
     engaged persons and the proven upper bound;
  3. hour by hour (waiting for each slot's start unless --no-wait), loads the slot's assignments
     into the hopper; a retry (attempt_index >= 1) is loaded only if the person's earlier
     attempts did not engage;
  4. dials each loaded attempt (`dial` below is where a real dialer's integration goes) and
     reports its outcome with RecordOutcome, idempotent on attempt_id.

Without --simulate nothing is dialed: the hopper is printed (a dry run) and nothing reported.
With --simulate SEED, `dial` draws each outcome with the plan's probability (seeded, so a run is
repeatable): "right_party" when engaged, "no_answer" otherwise; those are reported for real, so
the server's state, caps and cool-downs move exactly as with a real dialer's reports.

Exit status: 0 on success; 1 if the list cannot be read, the server cannot be reached or a call
fails (the gRPC status code and message go to stderr; a bad request's message names the field,
e.g. "persons[3].contacts[0].contact: ...").
"""

import argparse
import csv
import os
import random
import sys
import time
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

# PlanCampaign for a large list takes seconds and its answer can exceed gRPC's default 4 MiB.
PLAN_TIMEOUT_SECONDS = 120.0
TIMEOUT_SECONDS = 10.0
MAX_MESSAGE_BYTES = 64 << 20
HERE = os.path.dirname(os.path.abspath(__file__))
ENGAGED = "right_party"
NOT_ENGAGED = "no_answer"


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
    p.add_argument("--list", required=True, help="the day's list (CSV, the contacts file's columns)")
    p.add_argument(
        "--window-start",
        help="first hourly slot, a whole UTC hour (RFC 3339; default: the next whole hour)",
    )
    p.add_argument("--hours", type=int, default=12, help="hourly slots in the window (default 12)")
    p.add_argument(
        "--per-hour", type=int, required=True, help="attempts the floor can make each hour"
    )
    p.add_argument(
        "--attempts-per-person",
        type=int,
        default=1,
        help="planned attempts per person; a later one only if the earlier did not engage",
    )
    p.add_argument(
        "--simulate",
        type=int,
        metavar="SEED",
        help="dial for real in simulation: draw outcomes with the plan's probabilities, report them",
    )
    p.add_argument(
        "--no-wait",
        action="store_true",
        help="do not wait for each slot's start (replays, tests)",
    )
    p.add_argument("--campaign", default="python-dialer", help="campaign reported with outcomes")
    args = p.parse_args()
    if args.hours < 1 or args.per_hour < 0 or args.attempts_per_person < 1:
        p.error("--hours and --attempts-per-person must be at least 1, --per-hour at least 0")
    return args


def import_stubs(directory):
    """Import the generated modules from `directory` (see generate.sh)."""
    sys.path.insert(0, directory)
    try:
        from contactscore.v1 import contactscore_pb2, contactscore_pb2_grpc
    except ImportError as e:
        sys.exit(f"error: no generated stubs in {directory} ({e}); run ./generate.sh first")
    return contactscore_pb2, contactscore_pb2_grpc


def timestamp(dt):
    ts = Timestamp()
    ts.FromDatetime(dt)
    return ts


def when(ts):
    """A protobuf Timestamp as a short UTC string."""
    return ts.ToDatetime(tzinfo=timezone.utc).strftime("%a %Y-%m-%d %H:%MZ")


def window_start(text):
    """The first slot: `text` (a whole UTC hour) or the next whole hour from now."""
    if text is None:
        now = datetime.now(timezone.utc)
        return now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    start = datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)
    if (start.minute, start.second, start.microsecond) != (0, 0, 0):
        raise ValueError(f"--window-start {text}: not on a whole UTC hour")
    return start


def read_list(pb, path):
    """The list's persons as RankRequests, in first-appearance order."""
    persons = {}
    with open(path, newline="", encoding="utf-8") as f:
        rows = csv.DictReader(f)
        if rows.fieldnames is None or "person_id" not in rows.fieldnames:
            raise ValueError(f"{path}: no person_id column")
        for line, row in enumerate(rows, start=2):
            person_id = (row.get("person_id") or "").strip()
            if not person_id:
                raise ValueError(f"{path}:{line}: person_id is empty")
            person = persons.setdefault(person_id, pb.RankRequest(person_id=person_id))
            zone = (row.get("timezone") or "").strip()
            if zone and not person.timezone:
                person.timezone = zone
            contact = (row.get("contact") or "").strip()
            if contact:
                channels = [c for c in (row.get("channels") or "").split(";") if c]
                person.contacts.append(
                    pb.ContactPoint(contact=contact, channels=channels, timezone=zone)
                )
    return list(persons.values())


def plan_request(pb, args, persons, start):
    slots = [start + timedelta(hours=h) for h in range(args.hours)]
    return pb.PlanCampaignRequest(
        persons=persons,
        window_start=timestamp(slots[0]),
        window_end=timestamp(slots[-1] + timedelta(hours=1)),
        # One line per hour, shared by every channel; a channel with its own limit (e.g. a
        # WhatsApp throughput) gets another line with `channel` set.
        capacity=[pb.SlotCapacity(slot_start=timestamp(s), attempts=args.per_hour) for s in slots],
        attempts_per_person=args.attempts_per_person,
    )


def print_plan(plan):
    reasons = Counter(u.reason for u in plan.unplanned)
    ratio = plan.expected_engaged / plan.upper_bound if plan.upper_bound > 0 else 1.0
    print(
        f"plan: model {plan.model_version}, {len(plan.assignments)} assignments, "
        f"{len(plan.unplanned)} unplanned {dict(sorted(reasons.items()))}, "
        f"expected engaged {plan.expected_engaged:.2f} of at most {plan.upper_bound:.2f} "
        f"(ratio {ratio:.4f})"
    )


def dial(assignment, rng):
    """Make one attempt and return its outcome. A real dialer places the call or sends the
    message here, on `assignment.suggestion.contact` over `assignment.suggestion.channel`;
    this example draws the outcome with the plan's probability."""
    engaged = rng.random() < assignment.suggestion.probability
    return ENGAGED if engaged else NOT_ENGAGED


def follow(pb, stub, metadata, args, plan):
    """Load the plan hour by hour, dial, report; returns (dialed, recorded, engaged persons)."""
    by_slot = defaultdict(list)
    for a in plan.assignments:
        by_slot[a.suggestion.slot_start.seconds].append(a)
    rng = random.Random(args.simulate)
    engaged = set()
    dialed = recorded = 0
    for slot in sorted(by_slot):
        if not args.no_wait:
            time.sleep(max(0.0, slot - time.time()))
        hopper, skipped = [], 0
        for a in sorted(by_slot[slot], key=lambda a: a.attempt_index):
            if a.attempt_index >= 1 and a.person_id in engaged:
                skipped += 1  # a retry of a person who already engaged: dropped
            else:
                hopper.append(a)
        slot_engaged = 0
        for a in hopper:
            if args.simulate is None:
                continue
            outcome = dial(a, rng)
            s = a.suggestion
            attempted_at = Timestamp(seconds=slot + rng.randrange(3600))
            ack = stub.RecordOutcome(
                pb.RecordOutcomeRequest(
                    outcome=pb.Outcome(
                        # One id per planned attempt: a retried report changes nothing.
                        attempt_id=f"{args.campaign}-{a.person_id}-{slot}-{a.attempt_index}",
                        person_id=a.person_id,
                        contact=s.contact,
                        channel=s.channel,
                        attempted_at=attempted_at,
                        outcome=outcome,
                        campaign=args.campaign,
                    )
                ),
                metadata=metadata,
                timeout=TIMEOUT_SECONDS,
            )
            dialed += 1
            recorded += int(ack.recorded)
            if outcome == ENGAGED:
                engaged.add(a.person_id)
                slot_engaged += 1
        mode = f"dialed {len(hopper)}, engaged {slot_engaged}" if args.simulate is not None else (
            "dry run"
        )
        print(
            f"slot {when(Timestamp(seconds=slot))}: hopper {len(hopper)} "
            f"(retries dropped {skipped}); {mode}"
        )
    return dialed, recorded, len(engaged)


def run(args, pb, pb_grpc):
    try:
        persons = read_list(pb, args.list)
        start = window_start(args.window_start)
    except (OSError, ValueError, csv.Error) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    channel = grpc.insecure_channel(
        args.addr,
        options=[
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
        ],
    )
    try:
        grpc.channel_ready_future(channel).result(timeout=TIMEOUT_SECONDS)
    except grpc.FutureTimeoutError:
        print(f"error: cannot connect to {args.addr}", file=sys.stderr)
        return 1
    metadata = [("authorization", f"Bearer {args.token}")] if args.token else []
    stub = pb_grpc.ContactScoringStub(channel)

    print(f"list: {len(persons)} persons from {args.list}")
    plan = stub.PlanCampaign(
        plan_request(pb, args, persons, start), metadata=metadata, timeout=PLAN_TIMEOUT_SECONDS
    )
    print_plan(plan)
    dialed, recorded, engaged = follow(pb, stub, metadata, args, plan)
    if args.simulate is not None:
        print(f"reported {dialed} outcomes ({recorded} recorded); {engaged} persons engaged")
    return 0


def main():
    args = parse_args()
    pb, pb_grpc = import_stubs(args.stubs)
    try:
        return run(args, pb, pb_grpc)
    except grpc.RpcError as e:
        print(f"error: {e.code().name}: {e.details()}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
