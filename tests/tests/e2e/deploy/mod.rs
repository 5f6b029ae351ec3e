//! End-to-end tests of `deploy/`: `nightly.rs` runs `deploy/nightly-train.sh`, the nightly job,
//! for real with bash on exports written by the trainer's `simulate` command; `configs.rs`
//! starts the real server on `deploy/`'s configuration files and checks that the systemd units
//! and the Kubernetes manifests agree with each other. This file holds what both share: the
//! paths, a simulated export, a run of the script.

mod configs;
mod nightly;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, anyhow, ensure};
use contactscore_e2e::server::server_binary;

/// The export date every run of a test reads (its directory is `<exports>/2026-02-01`).
pub(crate) const NIGHT: &str = "2026-02-01";
/// A token the tests hand the script and the server, and look for in everything printed.
pub(crate) const ADMIN_TOKEN: &str = "adm1n-t0ken-never-printed";
pub(crate) const BEARER_TOKEN: &str = "dialer-t0ken";

/// The repository's root (the e2e crate is `tests/`).
pub(crate) fn repo() -> Result<PathBuf> {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_owned)
        .ok_or_else(|| anyhow!("no parent of {}", env!("CARGO_MANIFEST_DIR")))
}

/// The trainer binary, built beside the server's (`cargo nextest run --workspace` builds both).
pub(crate) fn trainer_binary() -> Result<PathBuf> {
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
pub(crate) fn simulate_export(out: &Path, persons: u32, days: u32, seed: u64) -> Result<()> {
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
pub(crate) struct Run {
    pub(crate) code: Option<i32>,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Run {
    /// The summary: the last line, on stdout for exit 0 and on stderr otherwise.
    pub(crate) fn summary(&self) -> &str {
        let text = if self.code == Some(0) {
            &self.stdout
        } else {
            &self.stderr
        };
        text.lines().last().unwrap_or_default()
    }

    /// Everything printed.
    pub(crate) fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    /// The exit code must be `code`; the error shows the output otherwise.
    pub(crate) fn expect(&self, code: i32) -> Result<&Self> {
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
pub(crate) fn nightly(tmp: &Path, env: &[(&str, &str)]) -> Result<Run> {
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

pub(crate) fn current(models: &Path) -> Result<Option<String>> {
    match fs::read_to_string(models.join("CURRENT")) {
        Ok(s) => Ok(Some(s.trim().to_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Published version ids, sorted (by creation time to the second only: two versions made in
/// the same second sort by their hash).
pub(crate) fn versions(models: &Path) -> Result<Vec<String>> {
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

pub(crate) fn sorted<const N: usize>(ids: [&String; N]) -> Vec<String> {
    let mut v: Vec<String> = ids.into_iter().cloned().collect();
    v.sort();
    v
}

/// A test's directories and the variables every run of the script gets.
pub(crate) struct Setup {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) models: PathBuf,
    vars: Vec<(String, String)>,
}

impl Setup {
    /// A temporary directory with `exports/` (one directory per date) and `models/` (not
    /// created: the script creates it), configured through the variables a unit would set.
    pub(crate) fn new() -> Result<Self> {
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

    pub(crate) fn export(&self, date: &str) -> PathBuf {
        self.dir.path().join("exports").join(date)
    }

    /// The script with the setup's variables, overridden or extended by `env`.
    pub(crate) fn run(&self, env: &[(&str, &str)]) -> Result<Run> {
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

pub(crate) fn path_str(p: &Path) -> Result<String> {
    p.to_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("not UTF-8: {}", p.display()))
}
