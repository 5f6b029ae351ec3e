//! The Python client example (`examples/python/`) against the real server: simulate → train →
//! start `contactscore-server` on `127.0.0.1:0` → generate the stubs from the proto with
//! grpcio-tools into a temporary directory → run `client.py` (health, GetModelInfo, Rank,
//! RecordOutcome, Rank again, ForgetPerson), `discover.py` (server reflection, no proto files)
//! and `dialer.py` (PlanCampaign, then the plan followed hour by hour with simulated outcomes
//! reported) with Python, and check their exit codes, what they print and what the server
//! recorded.
//!
//! The packages in `examples/python/requirements.txt` go into a virtual environment under the
//! target directory (`target/<profile>/../tmp/python-venv`), created on first use and reused while
//! the requirements file is unchanged, so the README's test command works on a machine whose
//! Python has no packages. `$PYTHON` overrides it with an interpreter that already has them.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, ensure};
use contactscore_e2e::python::client_python;
use contactscore_e2e::server::{ServerProc, train_into};
use contactscore_e2e::simulated;

/// A trained model, a running server and the generated stubs, kept alive together.
struct Fixture {
    server: ServerProc,
    version: String,
    stubs: PathBuf,
    sim: contactscore_e2e::SimData,
}

impl Fixture {
    /// Train on a small simulation, start the server with `extra` arguments and `env`, and
    /// generate the stubs.
    fn start(seed: u64, extra: &[&str], env: &[(&str, &str)]) -> Result<Self> {
        let sim = simulated(600, 21, seed)?;
        let dir = sim.dir.path();
        let models = dir.join("models");
        let version = train_into(&sim.attempts, Some(&sim.contacts), &models, sim.bad_rows)?;
        let server = ServerProc::start_with_env(&models, &dir.join("state"), extra, env)?;
        let stubs = dir.join("stubs");
        let generated = Command::new("bash")
            .arg(examples().join("generate.sh"))
            .arg(&stubs)
            .env("PYTHON", python()?)
            .output()
            .context("running examples/python/generate.sh")?;
        ensure!(
            generated.status.success(),
            "generate.sh failed ({}):\n{}",
            generated.status,
            String::from_utf8_lossy(&generated.stderr)
        );
        for f in ["contactscore_pb2.py", "contactscore_pb2_grpc.py"] {
            let p = stubs.join("contactscore/v1").join(f);
            ensure!(p.is_file(), "generate.sh did not write {}", p.display());
        }
        Ok(Self {
            server,
            version,
            stubs,
            sim,
        })
    }

    /// Run `client.py` against the server with the stubs and `args`.
    fn client(&self, args: &[&str]) -> Result<Run> {
        let stubs = self.stubs.to_string_lossy();
        let mut all = vec!["--addr", &self.server.addr, "--stubs", &stubs];
        all.extend_from_slice(args);
        run_python("client.py", &all)
    }
}

#[test]
fn client_ranks_records_an_outcome_and_sees_its_effect() -> Result<()> {
    let f = Fixture::start(31, &[], &[])?;
    let run = f.client(&["--person-id", "py-lead-1"])?;
    run.expect_success()?;
    let out = &run.stdout;

    assert!(
        out.contains("health contactscore.v1.ContactScoring: SERVING"),
        "{out}"
    );
    assert!(
        out.contains(&format!("model {}: family ", f.version)),
        "{out}"
    );

    // Before: every (contact, channel) asked for is suggested, contacts normalised.
    let before = section(out, "rank py-lead-1:", "recorded ");
    assert!(before.contains("7 suggestions"), "{before}");
    assert!(before.contains("blocked: 0"), "{before}");
    let pairs = suggestions(before);
    for (contact, channel) in [
        ("+5511987654321", "voice"),
        ("+5511987654321", "whatsapp"),
        ("+5511912345678", "voice"),
        ("+5511912345678", "sms"),
        ("+5511912345678", "whatsapp"),
        ("+5511955554444", "sms"),
        ("ana.souza@example.com", "email"),
    ] {
        assert!(
            pairs.contains(&(contact.to_owned(), channel.to_owned())),
            "{contact} {channel} not suggested:\n{before}"
        );
    }

    // The outcome on the top suggestion is acknowledged...
    let top = pairs.first().cloned().unwrap_or_default();
    let recorded = format!("recorded invalid on {} {}: recorded=True", top.0, top.1);
    assert!(out.contains(&recorded), "{recorded:?} missing:\n{out}");

    // ...and the second Rank blocks that pair as invalid for a while.
    let after = section(out, "rank again:", "changes:");
    assert!(after.contains("6 suggestions"), "{after}");
    assert!(
        !suggestions(after).contains(&top),
        "{top:?} still suggested:\n{after}"
    );
    let blocked = after
        .lines()
        .find(|l| {
            l.split_whitespace()
                .take(2)
                .eq([top.0.as_str(), top.1.as_str()])
        })
        .with_context(|| format!("{top:?} not blocked:\n{after}"))?;
    assert!(blocked.contains("invalid_recent until "), "{blocked}");
    let changes = section(out, "changes:", "forgot ");
    assert!(changes.contains("now blocked: invalid_recent"), "{changes}");
    assert!(out.contains("forgot py-lead-1: existed=True"), "{out}");
    Ok(())
}

#[test]
fn reflection_describes_and_calls_the_service_without_proto_files() -> Result<()> {
    let f = Fixture::start(32, &[], &[])?;
    let run = run_python("discover.py", &["--addr", &f.server.addr])?;
    run.expect_success()?;
    let out = &run.stdout;
    for expected in [
        "  contactscore.v1.ContactScoring\n",
        "  grpc.health.v1.Health\n",
        "rpc Rank(contactscore.v1.RankRequest) returns (contactscore.v1.RankResponse)",
        "rpc RankStream(stream contactscore.v1.RankRequest) returns \
         (stream contactscore.v1.RankResponse)",
        "rpc ForgetPerson(contactscore.v1.ForgetPersonRequest) returns \
         (contactscore.v1.ForgetPersonResponse)",
        "4 as_of: google.protobuf.Timestamp",
        "2 contacts: repeated contactscore.v1.ContactPoint",
        &format!("\"version\": \"{}\"", f.version),
    ] {
        assert!(out.contains(expected), "{expected:?} missing:\n{out}");
    }
    Ok(())
}

#[test]
fn client_sends_the_bearer_token_and_fails_without_it() -> Result<()> {
    let config = tempfile::NamedTempFile::new()?;
    std::fs::write(
        config.path(),
        "[auth]\nbearer_token_env = \"CS_PY_TOKEN\"\n",
    )?;
    let config_path = config.path().to_string_lossy();
    let f = Fixture::start(
        33,
        &["--config", &config_path],
        &[("CS_PY_TOKEN", "py-s3cret")],
    )?;

    let denied = f.client(&[])?;
    assert_eq!(denied.code, Some(1), "{denied:?}");
    assert!(
        denied
            .stderr
            .contains("error: UNAUTHENTICATED: missing or invalid bearer token"),
        "{denied:?}"
    );
    let wrong = f.client(&["--token", "guess"])?;
    assert_eq!(wrong.code, Some(1), "{wrong:?}");

    let ok = f.client(&["--token", "py-s3cret"])?;
    ok.expect_success()?;
    assert!(ok.stdout.contains("recorded=True"), "{ok:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dialer_plans_the_day_follows_it_hour_by_hour_and_reports_every_attempt() -> Result<()> {
    let f = Fixture::start(34, &[], &[])?;
    // The day's list: every contact row of the simulated contacts file's first 40 persons.
    let list = f.sim.dir.path().join("list.csv");
    let mut reader = csv::Reader::from_path(&f.sim.contacts)?;
    let mut writer = csv::Writer::from_path(&list)?;
    writer.write_record(reader.headers()?)?;
    let mut ids: Vec<String> = Vec::new();
    for rec in reader.records() {
        let rec = rec?;
        if !ids.iter().any(|id| id == &rec[0]) {
            if ids.len() == 40 {
                continue;
            }
            ids.push(rec[0].to_owned());
        }
        writer.write_record(&rec)?;
    }
    writer.flush()?;

    let stubs = f.stubs.to_string_lossy();
    let list_arg = list.to_string_lossy();
    // Monday 2026-02-09, 08:00-20:00 in São Paulo: after the training history.
    let dry_run = [
        "--addr",
        &f.server.addr,
        "--stubs",
        &stubs,
        "--list",
        &list_arg,
        "--window-start",
        "2026-02-09T11:00:00Z",
        "--hours",
        "12",
        "--per-hour",
        "4",
        "--attempts-per-person",
        "2",
        "--no-wait",
    ];
    let simulated = [&dry_run[..], &["--simulate", "7"]].concat();
    let run = run_python("dialer.py", &simulated)?;
    run.expect_success()?;
    let out = &run.stdout;
    assert!(
        out.contains(&format!("list: 40 persons from {list_arg}")),
        "{out}"
    );
    let plan = out
        .lines()
        .find(|l| l.starts_with("plan: model "))
        .with_context(|| format!("no plan line:\n{out}"))?;
    assert!(plan.contains(&f.version), "{plan}");
    let assignments: usize = word_before(plan, "assignments")?;
    assert!(assignments > 12, "{plan}");

    // Hour by hour: never more than the floor's capacity in the hopper, and every assignment
    // either loaded or dropped as the retry of a person who already engaged.
    let (mut loaded, mut dropped, mut slots) = (0, 0, 0);
    for l in out.lines().filter(|l| l.starts_with("slot ")) {
        let hopper: usize = word_after(l, "hopper")?;
        assert!(hopper <= 4, "{l}");
        loaded += hopper;
        dropped += word_after(l, "dropped")?;
        slots += 1;
    }
    assert!((1..=12).contains(&slots), "{out}");
    assert_eq!(loaded + dropped, assignments, "{out}");
    let reported = format!("reported {loaded} outcomes ({loaded} recorded); ");
    assert!(out.contains(&reported), "{reported:?} missing:\n{out}");

    // The server has every reported attempt as a live outcome.
    let info = f
        .server
        .client()
        .await?
        .get_model_info(contactscore_proto::v1::GetModelInfoRequest {})
        .await?
        .into_inner();
    assert_eq!(info.live_outcomes, loaded as u64);

    // A dry run dials and reports nothing.
    let dry = run_python("dialer.py", &dry_run)?;
    dry.expect_success()?;
    assert!(
        dry.stdout.contains("dry run") && !dry.stdout.contains("reported "),
        "{dry:?}"
    );

    // A list it cannot read: exit 1, the file named.
    let missing = f.sim.dir.path().join("no-such-list.csv");
    let missing_arg = missing.to_string_lossy();
    let mut bad = dry_run.to_vec();
    bad[5] = &missing_arg;
    let failed = run_python("dialer.py", &bad)?;
    assert_eq!(failed.code, Some(1), "{failed:?}");
    assert!(
        failed.stderr.contains("error: ") && failed.stderr.contains("no-such-list.csv"),
        "{failed:?}"
    );
    Ok(())
}

/// The number just before ` {word}` in `line`.
fn word_before(line: &str, word: &str) -> Result<usize> {
    number_beside(line, word, -1)
}

/// The number just after ` {word}` in `line`.
fn word_after(line: &str, word: &str) -> Result<usize> {
    number_beside(line, word, 1)
}

/// The number `offset` words from `word` in `line` (punctuation around either ignored).
fn number_beside(line: &str, word: &str, offset: isize) -> Result<usize> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let i = words
        .iter()
        .position(|w| w.trim_matches(|c: char| !c.is_alphanumeric()) == word)
        .with_context(|| format!("{word:?} not in {line:?}"))?;
    let n = i
        .checked_add_signed(offset)
        .and_then(|j| words.get(j))
        .with_context(|| format!("nothing beside {word:?} in {line:?}"))?;
    n.trim_matches(|c: char| !c.is_ascii_digit())
        .parse()
        .with_context(|| format!("{n:?} beside {word:?} in {line:?}"))
}

/// What a Python script did.
#[derive(Debug)]
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn expect_success(&self) -> Result<()> {
        ensure!(
            self.code == Some(0),
            "exit {:?}\n--- stdout\n{}--- stderr\n{}",
            self.code,
            self.stdout,
            self.stderr
        );
        Ok(())
    }
}

/// The interpreter with the example's packages (`$PYTHON`, else the shared virtual environment).
fn python() -> Result<PathBuf> {
    client_python(
        &examples().join("requirements.txt"),
        Path::new(env!("CARGO_TARGET_TMPDIR")),
    )
}

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/python")
}

fn run_python(script: &str, args: &[&str]) -> Result<Run> {
    let out = Command::new(python()?)
        .arg(examples().join(script))
        .args(args)
        // The scripts read a default token from it; each test says what it sends.
        .env_remove("CONTACTSCORE_TOKEN")
        .output()
        .with_context(|| format!("running {script}"))?;
    Ok(Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

/// The text from the line starting with `from` up to the next line starting with `to`.
fn section<'a>(out: &'a str, from: &str, to: &str) -> &'a str {
    let start = out.find(&format!("\n{from}")).map_or(out.len(), |i| i + 1);
    let rest = &out[start..];
    let end = rest.find(&format!("\n{to}")).map_or(rest.len(), |i| i + 1);
    &rest[..end]
}

/// (contact, channel) of the numbered suggestion lines (`  1. +5511… voice …`), best first.
fn suggestions(section: &str) -> Vec<(String, String)> {
    section
        .lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            let rank = words.next()?.strip_suffix('.')?;
            rank.parse::<u32>().ok()?;
            Some((words.next()?.to_owned(), words.next()?.to_owned()))
        })
        .collect()
}
