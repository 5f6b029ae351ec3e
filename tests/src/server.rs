//! Harness for end-to-end tests of `contactscore-server`: train a small model on simulated data,
//! start the real server binary on `127.0.0.1:0` (the port is read from its start-up line), talk
//! to it with the generated tonic client, kill it or stop it gracefully.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use contactscore_proto::v1::contact_scoring_client::ContactScoringClient;
use contactscore_trainer::config::Config;
use contactscore_trainer::ingest::InputPaths;
use contactscore_trainer::progress::Progress;
use contactscore_trainer::train::{FamilyChoice, Promotion, TrainRequest, train};
use tonic::transport::Channel;

/// How long the server may take to print its start-up line (loading a model included).
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// Train on `attempts` into `models` (promoting the new version), skipping up to
/// `max_bad_rows` bad rows (the simulator's malformed and implausible ones); returns its
/// version id.
pub fn train_into(
    attempts: &Path,
    contacts: Option<&Path>,
    models: &Path,
    max_bad_rows: u64,
) -> Result<String> {
    let settings = Config::default().validate()?;
    let req = TrainRequest {
        inputs: InputPaths {
            attempts: vec![attempts.to_owned()],
            contacts: contacts.map(Path::to_owned),
            persons: None,
            validations: None,
        },
        models_dir: models.to_owned(),
        family: FamilyChoice::Auto,
        promotion: Promotion::Always,
        max_bad_rows,
    };
    Ok(train(&req, &settings, &Progress::silent())?
        .manifest
        .version)
}

/// The server binary, built beside this test binary (`cargo nextest run --workspace` builds it).
pub fn server_binary() -> Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .ok_or_else(|| anyhow!("unexpected test binary location {}", exe.display()))?;
    let bin = dir.join(format!(
        "contactscore-server{}",
        std::env::consts::EXE_SUFFIX
    ));
    if !bin.is_file() {
        bail!(
            "{} not found: build the workspace first (cargo nextest run --workspace builds it)",
            bin.display()
        );
    }
    Ok(bin)
}

/// A running server process; killed when dropped.
pub struct ServerProc {
    child: Child,
    /// The bound gRPC address.
    pub addr: String,
    /// The metrics address, when enabled.
    pub metrics: Option<String>,
}

impl ServerProc {
    /// Start the server on `127.0.0.1:0` with `models` and `state`, plus `extra` arguments.
    pub fn start(models: &Path, state: &Path, extra: &[&str]) -> Result<Self> {
        Self::start_with_env(models, state, extra, &[])
    }

    /// [`ServerProc::start`] with extra environment variables.
    pub fn start_with_env(
        models: &Path,
        state: &Path,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Result<Self> {
        let mut cmd = Command::new(server_binary()?);
        cmd.arg("--models-dir")
            .arg(models)
            .arg("--state-dir")
            .arg(state)
            .arg("--listen")
            .arg("127.0.0.1:0")
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().context("starting contactscore-server")?;
        let stdout = child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut addr = None;
        let mut metrics = None;
        while addr.is_none() {
            let line = match rx.recv_timeout(START_TIMEOUT) {
                Ok(l) => l,
                Err(_) => {
                    let _ = child.kill();
                    let status = child.wait()?;
                    bail!("server did not start ({status})");
                }
            };
            if let Some(m) = line.strip_prefix("metrics on http://") {
                metrics = Some(m.trim_end_matches("/metrics").to_owned());
            }
            if let Some(a) = line.strip_prefix("listening on ") {
                addr = Some(a.trim().to_owned());
            }
        }
        // The metrics line follows the gRPC one.
        if extra.contains(&"--metrics-listen")
            && let Ok(line) = rx.recv_timeout(START_TIMEOUT)
            && let Some(m) = line.strip_prefix("metrics on http://")
        {
            metrics = Some(m.trim_end_matches("/metrics").to_owned());
        }
        Ok(Self {
            child,
            addr: addr.unwrap_or_default(),
            metrics,
        })
    }

    /// Start the server as [`ServerProc::start`] does, expecting it to refuse: returns its exit
    /// code and what it wrote to stderr once it has exited, or an error (after killing it) if it
    /// started listening instead.
    pub fn refused(models: &Path, state: &Path, extra: &[&str]) -> Result<(Option<i32>, String)> {
        let mut child = Command::new(server_binary()?)
            .arg("--models-dir")
            .arg(models)
            .arg("--state-dir")
            .arg(state)
            .arg("--listen")
            .arg("127.0.0.1:0")
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("starting contactscore-server")?;
        let stderr = child.stderr.take().ok_or_else(|| anyhow!("no stderr"))?;
        let errors = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = std::io::Read::read_to_string(&mut BufReader::new(stderr), &mut text);
            text
        });
        let stdout = child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
        // Until it exits (end of stdout) or starts listening.
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.starts_with("listening on ") {
                let _ = child.kill();
                let _ = child.wait();
                bail!("the server started ({line}) instead of refusing");
            }
        }
        let status = child.wait()?;
        let stderr = errors
            .join()
            .map_err(|_| anyhow!("stderr reader panicked"))?;
        Ok((status.code(), stderr))
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The endpoint URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A connected client.
    pub async fn client(&self) -> Result<ContactScoringClient<Channel>> {
        Ok(ContactScoringClient::connect(self.url()).await?)
    }

    /// A raw channel (for health and reflection clients).
    pub async fn channel(&self) -> Result<Channel> {
        Ok(Channel::from_shared(self.url())?.connect().await?)
    }

    /// Kill with SIGKILL (a crash) and wait for the process to be gone.
    pub fn kill(mut self) -> Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }

    /// Send SIGTERM and wait for a clean exit; returns the exit code.
    pub fn terminate(mut self) -> Result<Option<i32>> {
        let pid = self.child.id().to_string();
        let ok = Command::new("kill")
            .args(["-TERM", &pid])
            .status()?
            .success();
        if !ok {
            bail!("could not signal the server");
        }
        Ok(self.child.wait()?.code())
    }
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
