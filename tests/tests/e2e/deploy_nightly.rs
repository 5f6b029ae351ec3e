//! End to end: `deploy/nightly-train.sh`, the nightly job of `deploy/`, run for real with bash on
//! exports written by the trainer's `simulate` command — the first night promotes, the next
//! ones keep CURRENT (and prune old versions when asked), a missing, incomplete or bad export,
//! a bad configuration and a held lock each fail with their documented exit code and message,
//! and neither a bad row's phone number nor the admin token is ever printed — and the server
//! configurations of `deploy/` (systemd's `server.toml`, the Kubernetes ConfigMap) accepted by
//! the real server, which then serves what the script promoted.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail, ensure};
use contactscore_e2e::server::{ServerProc, server_binary};
use contactscore_proto::v1;
use tokio_stream::StreamExt;
use tonic::{Code, Request};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

use crate::common::SERVING;

/// The export date every run of a test reads (its directory is `<exports>/2026-02-01`).
const NIGHT: &str = "2026-02-01";
/// A token the tests hand the script and the server, and look for in everything printed.
const ADMIN_TOKEN: &str = "adm1n-t0ken-never-printed";
const BEARER_TOKEN: &str = "dialer-t0ken";

/// The repository's root (the e2e crate is `tests/`).
fn repo() -> Result<PathBuf> {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_owned)
        .ok_or_else(|| anyhow!("no parent of {}", env!("CARGO_MANIFEST_DIR")))
}

/// The trainer binary, built beside the server's (`cargo nextest run --workspace` builds both).
fn trainer_binary() -> Result<PathBuf> {
    let bin = server_binary()?.with_file_name(format!(
        "contactscore-trainer{}",
        std::env::consts::EXE_SUFFIX
    ));
    ensure!(
        bin.is_file(),
        "{} not found: build the workspace first (cargo nextest run --workspace builds it)",
        bin.display()
    );
    Ok(bin)
}

/// `contactscore-trainer simulate` into `out`: a small, realistically dirty export.
fn simulate_export(out: &Path, persons: u32, days: u32, seed: u64) -> Result<()> {
    let status = Command::new(trainer_binary()?)
        .args(["simulate", "--persons", &persons.to_string()])
        .args(["--days", &days.to_string(), "--seed", &seed.to_string()])
        .arg("--out")
        .arg(out)
        .stdout(std::process::Stdio::null())
        .status()?;
    ensure!(status.success(), "simulate failed: {status}");
    Ok(())
}

/// One run of the script.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    /// The summary: the last line, on stdout for exit 0 and on stderr otherwise.
    fn summary(&self) -> &str {
        let text = if self.code == Some(0) {
            &self.stdout
        } else {
            &self.stderr
        };
        text.lines().last().unwrap_or_default()
    }

    /// Everything printed.
    fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    /// The exit code must be `code`; the error shows the output otherwise.
    fn expect(&self, code: i32) -> Result<&Self> {
        ensure!(
            self.code == Some(code),
            "expected exit {code}, got {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.code,
            self.stdout,
            self.stderr
        );
        for secret in [ADMIN_TOKEN, "9966x", "ana.secret"] {
            ensure!(
                !self.all().contains(secret),
                "{secret:?} was printed:\n{}",
                self.all()
            );
        }
        Ok(self)
    }
}

/// Runs the script with bash, with nothing from the caller's environment but `PATH` and a
/// temporary directory, plus `env`.
fn nightly(tmp: &Path, env: &[(&str, &str)]) -> Result<Run> {
    let mut cmd = Command::new("bash");
    cmd.arg(repo()?.join("deploy/nightly-train.sh"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("TMPDIR", tmp)
        .stdin(std::process::Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd
        .output()
        .context("running bash deploy/nightly-train.sh")?;
    Ok(Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

fn current(models: &Path) -> Result<Option<String>> {
    match fs::read_to_string(models.join("CURRENT")) {
        Ok(s) => Ok(Some(s.trim().to_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Published version ids, sorted (by creation time to the second only: two versions made in
/// the same second sort by their hash).
fn versions(models: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(models)? {
        let entry = entry?;
        if entry.path().join("manifest.json").is_file() {
            out.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    out.sort();
    Ok(out)
}

fn sorted<const N: usize>(ids: [&String; N]) -> Vec<String> {
    let mut v: Vec<String> = ids.into_iter().cloned().collect();
    v.sort();
    v
}

/// Writes an executable bash script.
fn executable(path: &Path, text: &str) -> Result<()> {
    fs::write(path, text)?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o755))?;
    Ok(())
}

/// A test's directories and the variables every run of the script gets.
struct Setup {
    dir: tempfile::TempDir,
    models: PathBuf,
    vars: Vec<(String, String)>,
}

impl Setup {
    /// A temporary directory with `exports/` (one directory per date) and `models/` (not
    /// created: the script creates it), configured through the variables a unit would set.
    fn new() -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let models = dir.path().join("models");
        let pattern = dir.path().join("exports").join("%Y-%m-%d");
        let vars = vec![
            ("CONTACTSCORE_TRAINER", path_str(&trainer_binary()?)?),
            ("CONTACTSCORE_MODELS_DIR", path_str(&models)?),
            ("CONTACTSCORE_EXPORT_DIR", path_str(&pattern)?),
            ("CONTACTSCORE_EXPORT_DATE", NIGHT.to_owned()),
            ("CONTACTSCORE_EXPORT_READY_FILE", "_SUCCESS".to_owned()),
            // The simulator's malformed and implausible rows (a few per thousand).
            ("CONTACTSCORE_MAX_BAD_ROWS", "100".to_owned()),
        ];
        Ok(Self {
            vars: vars.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
            models,
            dir,
        })
    }

    fn export(&self, date: &str) -> PathBuf {
        self.dir.path().join("exports").join(date)
    }

    /// The script with the setup's variables, overridden or extended by `env`.
    fn run(&self, env: &[(&str, &str)]) -> Result<Run> {
        let mut all: Vec<(&str, &str)> = self
            .vars
            .iter()
            .filter(|(k, _)| !env.iter().any(|(e, _)| e == k))
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        all.extend_from_slice(env);
        nightly(self.dir.path(), &all)
    }
}

fn path_str(p: &Path) -> Result<String> {
    p.to_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("not UTF-8: {}", p.display()))
}

/// A stand-in for grpcurl: records its arguments and the authorization it was handed through
/// its environment, and answers ReloadModel as the server would, serving CURRENT.
fn fake_grpcurl(dir: &Path, models: &Path) -> Result<PathBuf> {
    let path = dir.join("grpcurl");
    let script = format!(
        r#"#!/usr/bin/env bash
printf '%s\n' "$@" >>{args}
printf '%s\n' "${{CONTACTSCORE_NIGHTLY_AUTH-}}" >>{auth}
printf '{{\n  "version": "%s",\n  "family": "logistic"\n}}\n' "$(tr -d '[:space:]' <{current})"
"#,
        args = shell_quote(&dir.join("grpcurl.args"))?,
        auth = shell_quote(&dir.join("grpcurl.auth"))?,
        current = shell_quote(&models.join("CURRENT"))?,
    );
    executable(&path, &script)?;
    Ok(path)
}

fn shell_quote(p: &Path) -> Result<String> {
    let s = path_str(p)?;
    ensure!(!s.contains('\''), "quote in {s}");
    Ok(format!("'{s}'"))
}

#[test]
fn first_night_promotes_the_next_keep_and_prune() -> Result<()> {
    let setup = Setup::new()?;
    let export = setup.export(NIGHT);
    simulate_export(&export, 300, 21, 91)?;
    let models = &setup.models;

    // The exporter has not written its marker yet: incomplete, nothing trained.
    let run = setup.run(&[])?;
    run.expect(3)?;
    assert!(
        run.summary().contains("failed (exit 3, export)") && run.summary().contains("_SUCCESS"),
        "{}",
        run.summary()
    );
    assert_eq!(current(models)?, None);

    // Night 1: nothing is CURRENT, so the new version is promoted, and the server is asked to
    // reload, with the admin token passed to grpcurl through its environment only.
    fs::write(export.join("_SUCCESS"), "")?;
    let token_file = setup.dir.path().join("admin.token");
    fs::write(&token_file, format!("{ADMIN_TOKEN}\n"))?;
    let grpcurl = fake_grpcurl(setup.dir.path(), models)?;
    let reload = [
        ("CONTACTSCORE_SERVER_ADDR", "127.0.0.1:1"),
        ("CONTACTSCORE_GRPCURL", grpcurl.to_str().unwrap_or_default()),
        (
            "CONTACTSCORE_ADMIN_TOKEN_FILE",
            token_file.to_str().unwrap_or_default(),
        ),
    ];
    let run = setup.run(&reload)?;
    run.expect(0)?;
    let v1 = run.stdout.lines().next().unwrap_or_default().to_owned();
    assert_eq!(current(models)?.as_deref(), Some(v1.as_str()));
    let summary = run.summary();
    assert!(
        summary.starts_with(&format!(
            "nightly-train: promoted {v1} (previous: none); nothing was CURRENT; reload: ok, the \
             server serves {v1}"
        )),
        "{summary}"
    );
    let args = fs::read_to_string(setup.dir.path().join("grpcurl.args"))?;
    let args: Vec<&str> = args.lines().collect();
    for expected in [
        "-plaintext",
        "-expand-headers",
        "authorization: Bearer ${CONTACTSCORE_NIGHTLY_AUTH}",
        "127.0.0.1:1",
        "contactscore.v1.ContactScoring/ReloadModel",
    ] {
        assert!(args.contains(&expected), "{expected:?} not in {args:?}");
    }
    assert!(!args.iter().any(|a| a.contains(ADMIN_TOKEN)), "{args:?}");
    let auth = fs::read_to_string(setup.dir.path().join("grpcurl.auth"))?;
    assert_eq!(auth.trim(), ADMIN_TOKEN);

    // Night 2 on the same export: no attempt after the champion's cutoff, so nothing to compare
    // and the gate keeps CURRENT; the new version is published all the same. No reload request.
    let run = setup.run(&reload)?;
    run.expect(0)?;
    let v2 = run.stdout.lines().next().unwrap_or_default().to_owned();
    assert_ne!(v2, v1);
    assert_eq!(current(models)?.as_deref(), Some(v1.as_str()));
    assert_eq!(versions(models)?, sorted([&v1, &v2]));
    let summary = run.summary();
    assert!(
        summary.starts_with(&format!(
            "nightly-train: kept {v1}; published {v2}, not promoted: champion {v1}: not compared"
        )),
        "{summary}"
    );
    let requests = fs::read_to_string(setup.dir.path().join("grpcurl.auth"))?;
    assert_eq!(
        requests.lines().count(),
        1,
        "a reload was requested for a kept version"
    );

    // Night 3, keeping one version: the newest (v3) and CURRENT (v1) stay, v2 goes.
    let run = setup.run(&[("CONTACTSCORE_KEEP_VERSIONS", "1")])?;
    run.expect(0)?;
    let v3 = run.stdout.lines().next().unwrap_or_default().to_owned();
    assert_eq!(versions(models)?, sorted([&v1, &v3]));
    assert_eq!(current(models)?.as_deref(), Some(v1.as_str()));
    assert!(
        run.summary()
            .contains("deleted 1 old version(s), keeping the newest 1 and CURRENT"),
        "{}",
        run.summary()
    );

    // Another run holds the lock: nothing is done.
    let lock = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(models.join(".nightly-train.lock"))?;
    lock.lock()?;
    let run = setup.run(&[])?;
    run.expect(6)?;
    assert!(
        run.summary().contains("another run holds"),
        "{}",
        run.summary()
    );
    lock.unlock()?;
    assert_eq!(versions(models)?, sorted([&v1, &v3]));

    // The export of a day that never came: exit 3 naming the directory; CURRENT stays.
    let run = setup.run(&[("CONTACTSCORE_EXPORT_DATE", "2026-02-02")])?;
    run.expect(3)?;
    let missing = setup.export("2026-02-02");
    assert_eq!(
        run.summary(),
        format!(
            "nightly-train: failed (exit 3, export): the export directory {} does not exist \
             (CONTACTSCORE_EXPORT_DIR)",
            missing.display()
        )
    );
    assert_eq!(current(models)?.as_deref(), Some(v1.as_str()));
    Ok(())
}

#[test]
fn bad_exports_and_configuration_fail_with_their_codes() -> Result<()> {
    let setup = Setup::new()?;
    let export = setup.export(NIGHT);
    simulate_export(&export, 200, 14, 92)?;
    fs::write(export.join("_SUCCESS"), "")?;

    // --help prints the exit codes.
    let help = Command::new("bash")
        .arg(repo()?.join("deploy/nightly-train.sh"))
        .arg("--help")
        .output()?;
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(
        text.contains("Exit codes") && text.contains("6  another run holds"),
        "{text}"
    );

    // Configuration: exit 2 before anything is read.
    let missing_trainer = setup.dir.path().join("no-such-trainer");
    for (env, message) in [
        (
            (
                "CONTACTSCORE_TRAINER",
                missing_trainer.to_str().unwrap_or_default(),
            ),
            "is not an executable file (CONTACTSCORE_TRAINER)",
        ),
        (
            ("CONTACTSCORE_MAX_BAD_ROWS", "lots"),
            "CONTACTSCORE_MAX_BAD_ROWS must be a whole number",
        ),
        (
            ("CONTACTSCORE_TRAIN_ARGS", "--threads 1 --no-promote"),
            "--no-promote is set by this script",
        ),
        (
            ("CONTACTSCORE_REQUIRED_INPUTS", "contacts phonebook"),
            "\"phonebook\" is not one of",
        ),
        (
            ("CONTACTSCORE_ADMIN_TOKEN_FILE", "/nonexistent/admin.token"),
            "cannot be read (CONTACTSCORE_ADMIN_TOKEN_FILE)",
        ),
    ] {
        let run = setup.run(&[env])?;
        run.expect(2)?;
        assert!(
            run.summary()
                .starts_with("nightly-train: failed (exit 2, config): ")
                && run.summary().contains(message),
            "{env:?}: {}",
            run.summary()
        );
    }

    // Every input required and present: trained and promoted (CURRENT for what follows). Then
    // one required input missing from the export: exit 3.
    let run = setup.run(&[(
        "CONTACTSCORE_REQUIRED_INPUTS",
        "contacts persons validations",
    )])?;
    run.expect(0)?;
    fs::remove_file(export.join("validations.csv"))?;
    let run = setup.run(&[(
        "CONTACTSCORE_REQUIRED_INPUTS",
        "contacts persons validations",
    )])?;
    run.expect(3)?;
    assert!(
        run.summary().contains("has no validations file"),
        "{}",
        run.summary()
    );
    let v1 = current(&setup.models)?.ok_or_else(|| anyhow!("nothing promoted"))?;

    // A bad row whose value is personal data, in fail-fast mode: the trainer fails (exit 4), the
    // message names the file, line and column, and the value is never printed.
    let bad = setup.export("2026-02-03");
    fs::create_dir_all(&bad)?;
    for f in ["contacts.csv", "persons.csv", "_SUCCESS"] {
        fs::copy(export.join(f), bad.join(f))?;
    }
    let attempts = fs::read_to_string(export.join("attempts.csv"))?;
    let mut head: Vec<&str> = attempts.lines().take(40).collect();
    head.push(
        "A99999999,P0000001,+55 (31) 9966x-8500 ana.secret@example.com,voice,\
         2026-01-06T10:00:00Z,right_party,27,collections_a",
    );
    fs::write(bad.join("attempts.csv"), head.join("\n") + "\n")?;
    let run = setup.run(&[
        ("CONTACTSCORE_EXPORT_DATE", "2026-02-03"),
        ("CONTACTSCORE_MAX_BAD_ROWS", "0"),
    ])?;
    run.expect(4)?;
    let summary = run.summary();
    assert!(
        summary.starts_with("nightly-train: failed (exit 4, training): the trainer exited 1: ")
            && summary.contains("attempts.csv:41: column \"contact\"")
            && summary.contains("(value <redacted>")
            && summary.ends_with(&format!("; CURRENT is still {v1}")),
        "{summary}"
    );
    assert_eq!(current(&setup.models)?.as_deref(), Some(v1.as_str()));

    // An empty attempts file: exit 3, not a trainer error.
    fs::write(bad.join("attempts.csv"), "")?;
    let run = setup.run(&[("CONTACTSCORE_EXPORT_DATE", "2026-02-03")])?;
    run.expect(3)?;
    assert!(
        run.summary().ends_with("attempts.csv is empty"),
        "{}",
        run.summary()
    );
    Ok(())
}

/// The `server.toml` inside the Kubernetes ConfigMap (the block scalar under `server.toml: |`).
fn configmap_server_toml(yaml: &str) -> Result<String> {
    let mut lines = yaml.lines().skip_while(|l| l.trim() != "server.toml: |");
    lines
        .next()
        .ok_or_else(|| anyhow!("no server.toml in the ConfigMap"))?;
    let mut out = String::new();
    for line in lines {
        if line.trim().is_empty() {
            out.push('\n');
        } else if let Some(rest) = line.strip_prefix("    ") {
            out.push_str(rest);
            out.push('\n');
        } else {
            break;
        }
    }
    Ok(out)
}

/// The quoted value of `key = "..."` in a TOML text (top level or any table).
fn toml_string(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once('=')?;
        (k.trim() == key).then(|| v.trim().trim_matches('"').to_owned())
    })
}

/// `config` with its token files replaced by files in `dir` holding the test's tokens.
fn with_test_tokens(config: &str, dir: &Path) -> Result<String> {
    let mut out = String::new();
    let mut replaced = 0;
    for line in config.lines() {
        let key = line.split_once('=').map(|(k, _)| k.trim());
        let token = match key {
            Some("bearer_token_file") => Some(BEARER_TOKEN),
            Some("admin_token_file") => Some(ADMIN_TOKEN),
            _ => None,
        };
        if let Some(token) = token {
            let file = dir.join(format!("{}.token", key.unwrap_or_default()));
            fs::write(&file, format!("{token}\n"))?;
            out.push_str(&format!(
                "{} = {:?}\n",
                key.unwrap_or_default(),
                path_str(&file)?
            ));
            replaced += 1;
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    ensure!(
        replaced == 2,
        "expected a bearer and an admin token file in\n{config}"
    );
    Ok(out)
}

fn bearer<T>(msg: T, token: &str) -> Result<Request<T>> {
    let mut r = Request::new(msg);
    r.metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse()?);
    Ok(r)
}

/// Waits (on the health stream, no polling) until `service` is SERVING.
async fn until_serving(server: &ServerProc) -> Result<()> {
    let mut h = HealthClient::new(server.channel().await?);
    let mut stream = h
        .watch(HealthCheckRequest {
            service: String::new(),
        })
        .await?
        .into_inner();
    tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(status) = stream.next().await {
            if status?.status == SERVING {
                return Ok(());
            }
        }
        bail!("health stream ended")
    })
    .await
    .map_err(|_| anyhow!("not SERVING within 60 s"))?
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_configs_serve_what_the_nightly_promoted() -> Result<()> {
    let setup = Setup::new()?;
    let export = setup.export(NIGHT);
    simulate_export(&export, 200, 14, 93)?;
    fs::write(export.join("_SUCCESS"), "")?;
    let run = setup.run(&[])?;
    run.expect(0)?;
    let promoted = current(&setup.models)?.ok_or_else(|| anyhow!("nothing promoted"))?;

    let root = repo()?;
    let systemd = fs::read_to_string(root.join("deploy/systemd/server.toml"))?;
    let configmap =
        configmap_server_toml(&fs::read_to_string(root.join("deploy/k8s/configmap.yaml"))?)?;
    for (name, config) in [("systemd", systemd), ("k8s", configmap)] {
        let dir = setup.dir.path().join(name);
        fs::create_dir_all(&dir)?;
        let path = dir.join("server.toml");
        fs::write(&path, with_test_tokens(&config, &dir)?)?;
        // Flags override the file's paths and addresses: temporary ones, ports picked by the OS.
        let server = ServerProc::start(
            &setup.models,
            &dir.join("state"),
            &[
                "--config",
                path.to_str().unwrap_or_default(),
                "--metrics-listen",
                "127.0.0.1:0",
            ],
        )?;
        until_serving(&server).await?;
        let mut c = server.client().await?;
        let info = c
            .get_model_info(bearer(v1::GetModelInfoRequest {}, BEARER_TOKEN)?)
            .await?
            .into_inner();
        assert_eq!(info.version, promoted, "{name}");
        // The configuration's tokens are in force: none is UNAUTHENTICATED, the dialer's token
        // may not reload, the admin token may.
        let err = c
            .get_model_info(v1::GetModelInfoRequest {})
            .await
            .expect_err("no token");
        assert_eq!(err.code(), Code::Unauthenticated, "{name}");
        let err = c
            .reload_model(bearer(v1::ReloadModelRequest {}, BEARER_TOKEN)?)
            .await
            .expect_err("dialer token");
        assert_eq!(err.code(), Code::PermissionDenied, "{name}");
        c.reload_model(bearer(v1::ReloadModelRequest {}, ADMIN_TOKEN)?)
            .await?;
        assert!(server.metrics.is_some(), "{name}: metrics_listen is set");
        // SIGTERM, as systemd and the kubelet stop it: a graceful exit 0.
        assert_eq!(server.terminate()?, Some(0), "{name}");
    }
    Ok(())
}

/// The value after `prefix` on the first line of `text` that starts with it (leading spaces
/// ignored).
fn after<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    text.lines()
        .find_map(|l| l.trim_start().strip_prefix(prefix))
        .map(str::trim)
}

#[test]
fn deploy_files_agree_with_each_other() -> Result<()> {
    let root = repo()?;
    let read = |p: &str| fs::read_to_string(root.join(p)).with_context(|| p.to_owned());
    let grace_ms: u64 = toml_string(&read("examples/server.toml")?, "shutdown_grace_ms")
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow!("no shutdown_grace_ms in examples/server.toml"))?;

    // systemd: the nightly trains into the directory the server serves; stop timeout > grace.
    let server_toml = read("deploy/systemd/server.toml")?;
    let server_unit = read("deploy/systemd/contactscore-server.service")?;
    let nightly_unit = read("deploy/systemd/contactscore-nightly.service")?;
    let models = toml_string(&server_toml, "models_dir").ok_or_else(|| anyhow!("models_dir"))?;
    assert_eq!(
        after(&nightly_unit, "Environment=CONTACTSCORE_MODELS_DIR="),
        Some(models.as_str())
    );
    let state = toml_string(&server_toml, "state_dir").ok_or_else(|| anyhow!("state_dir"))?;
    let dirs = after(&server_unit, "StateDirectory=").unwrap_or_default();
    for dir in [&models, &state] {
        let relative = dir.trim_start_matches("/var/lib/");
        assert!(
            dirs.split_whitespace().any(|d| d == relative),
            "{dir} not in {dirs}"
        );
    }
    assert_eq!(
        toml_string(&server_toml, "shutdown_grace_ms"),
        Some(grace_ms.to_string())
    );
    let stop: u64 = after(&server_unit, "TimeoutStopSec=")
        .and_then(|s| s.trim_end_matches('s').parse().ok())
        .ok_or_else(|| anyhow!("TimeoutStopSec"))?;
    assert!(
        stop * 1000 > grace_ms,
        "TimeoutStopSec={stop}s, grace {grace_ms} ms"
    );
    for unit in [&server_unit, &nightly_unit] {
        assert_eq!(after(unit, "User="), Some("contactscore"));
    }

    // Kubernetes: the CronJob trains into the ConfigMap's models_dir, as the same uid; the
    // grace period exceeds the server's; one replica, recreated.
    let configmap = configmap_server_toml(&read("deploy/k8s/configmap.yaml")?)?;
    let cronjob = read("deploy/k8s/cronjob.yaml")?;
    let deployment = read("deploy/k8s/deployment.yaml")?;
    let cron_models = cronjob
        .lines()
        .skip_while(|l| !l.contains("name: CONTACTSCORE_MODELS_DIR"))
        .nth(1)
        .and_then(|l| l.trim().strip_prefix("value: "));
    assert_eq!(
        cron_models,
        toml_string(&configmap, "models_dir").as_deref()
    );
    assert_eq!(
        after(&cronjob, "runAsUser:"),
        after(&deployment, "runAsUser:")
    );
    let k8s_grace: u64 = after(&deployment, "terminationGracePeriodSeconds:")
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow!("terminationGracePeriodSeconds"))?;
    let configmap_grace: u64 = toml_string(&configmap, "shutdown_grace_ms")
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow!("shutdown_grace_ms"))?;
    assert!(k8s_grace * 1000 > configmap_grace);
    assert_eq!(after(&deployment, "replicas:"), Some("1"));
    assert_eq!(after(&deployment, "type:"), Some("Recreate"));
    assert_eq!(after(&cronjob, "concurrencyPolicy:"), Some("Forbid"));
    Ok(())
}
