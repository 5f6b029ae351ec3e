"""Sharded contactscore training on Spark: one `split --shard I --of P` task per shard on the
executors and `split-merge` on the driver, one `replay --shard I --of P` task per shard on the
executors, `fit` on the driver.

The persons of the export are partitioned by the trainer's fixed hash of `person_id`
(FNV-1a 64 + SplitMix64 finaliser, modulo P: `person_shard` below computes the same in Python).
Each task runs the trainer's `split` or `replay` for its shard on the export, which must be on storage every
executor can read (a shared mount; `local[N]` here): the trainer reads each file once, parses only
its shard's rows in full and skips the others after their person_id cell. Keeping the original
files (rather than physically repartitioned copies) is what keeps the published version byte
for byte the unsharded `train`'s: ties in time are broken by the rows' positions in the export.

The driver also counts the attempt rows per shard with Spark (the same hash as a Python UDF) and
prints them next to the counts the replays report, as a check that both sides shard alike.

Usage (see examples/spark/README.md):

    python contactscore_spark.py --trainer target/release/contactscore-trainer \
        --attempts a.csv --contacts c.csv --persons p.csv --validations v.csv \
        --shards 4 --work /shared/work --models-dir /shared/models [--max-bad-rows N]
"""

import argparse
import json
import os
import subprocess
import sys
import time

MASK = (1 << 64) - 1


def person_hash(data: bytes) -> int:
    """The trainer's person hash (trainer/src/shard/hash.rs)."""
    h = 0xCBF29CE484222325
    for b in data:
        h ^= b
        h = (h * 0x100000001B3) & MASK
    h ^= h >> 30
    h = (h * 0xBF58476D1CE4E5B9) & MASK
    h ^= h >> 27
    h = (h * 0x94D049BB133111EB) & MASK
    return h ^ (h >> 31)


def person_shard(person_id: str, shards: int) -> int:
    """The shard of a person id (its UTF-8 bytes, trimmed of ASCII whitespace as ingest does)."""
    return person_hash(person_id.strip(" \t\r\n\x0c").encode("utf-8")) % shards


def inputs(args) -> list:
    out = []
    for a in args.attempts:
        out += ["--attempts", a]
    for flag in ("contacts", "persons", "validations"):
        value = getattr(args, flag)
        if value:
            out += ["--" + flag, value]
    return out


def common(args) -> list:
    out = ["--max-bad-rows", str(args.max_bad_rows)]
    if args.config:
        out += ["--config", args.config]
    return out


def run(cmd: list) -> str:
    """Run a trainer command; its stderr (progress) passes through, a failure ends the job with
    the trainer's exit code (which says what kind of failure it was)."""
    done = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    if done.returncode != 0:
        sys.stderr.write(f"failed ({done.returncode}): {' '.join(cmd[:2])} ...\n")
        sys.exit(done.returncode)
    return done.stdout


def shard_task(trainer, command, argv, shard, shards, out, threads):
    """One executor task: `split` (the shard's split partial, in `split-IIIII-of-PPPPP/`) or
    `replay` (its rows and state, in `shard-IIIII-of-PPPPP/`) of shard `shard` into `out`;
    returns the summary it wrote last (`done.json`)."""
    cmd = [trainer, "-q", "--threads", str(threads), command, "--shard", str(shard),
           "--of", str(shards), "--out", out] + argv
    done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{command} of shard {shard} exited {done.returncode}: {done.stderr}")
    prefix = "split" if command == "split" else "shard"
    with open(os.path.join(out, f"{prefix}-{shard:05d}-of-{shards:05d}", "done.json")) as f:
        done = json.load(f)
    # What the driver needs of a partial: its count (the report and typing stay on disk).
    return {k: done[k] for k in ("shard", "attempts", "persons", "rows") if k in done}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trainer", required=True, help="path of contactscore-trainer")
    p.add_argument("--attempts", required=True, action="append")
    p.add_argument("--contacts")
    p.add_argument("--persons")
    p.add_argument("--validations")
    p.add_argument("--config")
    p.add_argument("--shards", type=int, default=4)
    p.add_argument("--work", required=True,
                   help="shared directory for the split partials, the plan and the shards")
    p.add_argument("--models-dir", required=True)
    p.add_argument("--max-bad-rows", type=int, default=0)
    p.add_argument("--master", default="local[2]")
    p.add_argument("--task-threads", type=int, default=1,
                   help="--threads of each split and replay task (one core per task by default)")
    p.add_argument("--fit-args", default="", help="extra flags for fit, e.g. --no-promote")
    args = p.parse_args()

    from pyspark.sql import SparkSession, functions as F, types as T

    trainer = os.path.abspath(args.trainer)
    os.makedirs(args.work, exist_ok=True)
    plan = os.path.join(args.work, "split.json")
    partials_dir = os.path.join(args.work, "split")
    shards_dir = os.path.join(args.work, "shards")
    threads = args.task_threads
    # The present every split partial judges implausible instants by (and the plan records):
    # fixed by the driver, so that the partials agree wherever and whenever they run.
    now = str(int(time.time()))

    spark = (SparkSession.builder.master(args.master).appName("contactscore-train")
             .config("spark.ui.enabled", "false").getOrCreate())
    try:
        sc = spark.sparkContext
        # 1. split: one partial per shard on the executors, merged into the plan on the driver.
        argv = ["--now", now] + inputs(args) + common(args)
        parts = (sc.parallelize(range(args.shards), args.shards)
                 .map(lambda i: shard_task(trainer, "split", argv, i, args.shards,
                                           partials_dir, threads))
                 .collect())
        run([trainer, "-q", "split-merge", "--partials", partials_dir, "--of", str(args.shards),
             "--out", plan] + common(args))
        split_counts = {d["shard"]: d["attempts"] for d in parts}
        # The partitioning by hash(person_id), seen by Spark: attempt rows per shard.
        shard_udf = F.udf(lambda pid: person_shard(pid or "", args.shards), T.IntegerType())
        rows = (spark.read.option("header", True).csv(args.attempts)
                .select(shard_udf(F.col("person_id")).alias("shard"))
                .groupBy("shard").count().collect())
        by_spark = {r["shard"]: r["count"] for r in rows}
        # 2. replay, one task per shard on the executors.
        argv = ["--split", plan] + inputs(args) + common(args)
        done = (sc.parallelize(range(args.shards), args.shards)
                .map(lambda i: shard_task(trainer, "replay", argv, i, args.shards, shards_dir,
                                          threads))
                .collect())
    finally:
        spark.stop()
    lines = [f"shard {d['shard']}: {split_counts.get(d['shard'])} attempts split, "
             f"{d['attempts']} replayed, {d['persons']} persons, rows {d['rows']}; "
             f"attempt rows hashed here by Spark: {by_spark.get(d['shard'], 0)}"
             for d in sorted(done, key=lambda d: d["shard"])]
    sys.stderr.write("\n" + "\n".join(lines) + "\n")
    sys.stderr.flush()
    # 3. fit, on the driver.
    out = run([trainer, "-q", "fit", "--split", plan, "--shards-dir", shards_dir,
               "--of", str(args.shards), "--models-dir", args.models_dir]
              + common(args) + args.fit_args.split())
    print(out, end="")


if __name__ == "__main__":
    main()
