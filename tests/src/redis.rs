//! A real `redis-server` for end-to-end tests: started on a free port of 127.0.0.1 in a
//! temporary directory (`--save "" --appendonly yes`), waited for by polling `PING`, stopped
//! and restarted on the same port and data (a Redis outage), killed when dropped. Also a
//! replica of one ([`RedisProc::replica_of`], for `WAIT`), one serving TLS only
//! ([`RedisProc::start_tls`]: `--port 0 --tls-port P`) and a real 3-primary Redis Cluster
//! ([`RedisCluster`]).
//!
//! Why the harness installs it: the README's test command must pass on a fresh machine
//! without `.ci/run` having run first. If `redis-server` is missing, it runs
//! `apt-get install -y redis-server redis-tools` once, serialised by a file lock (nextest runs
//! every test in its own process), and fails with a clear message if that is not possible.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::tls::CertFiles;

/// How long a starting redis-server may take to answer PING.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A running redis-server; killed when dropped.
pub struct RedisProc {
    child: Option<Child>,
    /// Its port on 127.0.0.1.
    pub port: u16,
    bin: PathBuf,
    dir: tempfile::TempDir,
    password: Option<String>,
    /// More `redis-server` arguments (cluster mode, `--replicaof`).
    extra: Vec<String>,
    /// TLS only, when set.
    tls: Option<RedisTls>,
}

/// A Redis that speaks TLS only: its certificate, the CA it trusts for client certificates, and
/// a client certificate for `redis-cli` (signed by that CA).
#[derive(Debug, Clone)]
pub struct RedisTls {
    /// Redis's certificate and key.
    pub server: CertFiles,
    /// The CA Redis verifies client certificates with (`--tls-ca-cert-file`); also the CA
    /// `redis-cli` verifies Redis with.
    pub ca: PathBuf,
    /// The certificate `redis-cli` presents.
    pub client: CertFiles,
    /// `--tls-auth-clients`: `"no"`, `"optional"` or `"yes"`.
    pub auth_clients: &'static str,
}

impl RedisProc {
    /// Start one on a free port (retrying on a port taken between the probe and the bind).
    pub fn start() -> Result<Self> {
        Self::start_with(None)
    }

    /// [`RedisProc::start`] with `--requirepass password` when given.
    pub fn start_with(password: Option<&str>) -> Result<Self> {
        Self::start_args(password, &[])
    }

    /// A replica of `primary` (`--replicaof`), once it is in sync.
    pub fn replica_of(primary: &RedisProc) -> Result<Self> {
        let port = primary.port.to_string();
        let r = Self::start_args(None, &["--replicaof", "127.0.0.1", &port])?;
        Self::wait_synced(primary, r)
    }

    /// `replica` once its link to `primary` is up and the primary counts it as connected.
    pub fn wait_synced(primary: &RedisProc, replica: RedisProc) -> Result<Self> {
        poll_until("the replica to connect to its primary", || {
            Ok(primary
                .cli(&["INFO", "replication"])?
                .contains("connected_slaves:1")
                && replica
                    .cli(&["INFO", "replication"])?
                    .contains("master_link_status:up"))
        })?;
        Ok(replica)
    }

    /// One that speaks TLS only (`--port 0 --tls-port P`): [`RedisProc::url`] is `rediss://`.
    pub fn start_tls(tls: RedisTls) -> Result<Self> {
        Self::start_full(None, &[], Some(tls))
    }

    /// [`RedisProc::start_with`] with more `redis-server` arguments.
    fn start_args(password: Option<&str>, extra: &[&str]) -> Result<Self> {
        Self::start_full(password, extra, None)
    }

    fn start_full(password: Option<&str>, extra: &[&str], tls: Option<RedisTls>) -> Result<Self> {
        let bin = redis_server()?;
        let mut last = None;
        for _ in 0..20 {
            let mut r = Self {
                child: None,
                port: free_port()?,
                bin: bin.clone(),
                dir: tempfile::tempdir()?,
                password: password.map(str::to_owned),
                extra: extra.iter().map(|a| (*a).to_owned()).collect(),
                tls: tls.clone(),
            };
            match r.spawn() {
                Ok(()) => return Ok(r),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| anyhow::anyhow!("no attempt")))
            .context("could not start redis-server on a free port")
    }

    /// `redis://127.0.0.1:PORT` (`rediss://` when it speaks TLS).
    pub fn url(&self) -> String {
        let s = if self.tls.is_some() { "s" } else { "" };
        format!("redis{s}://127.0.0.1:{}", self.port)
    }

    /// `--port P`, or `--port 0 --tls-port P` and the TLS files.
    fn port_args(&self) -> Vec<String> {
        let port = self.port.to_string();
        let Some(tls) = &self.tls else {
            return vec!["--port".into(), port];
        };
        let path = |p: &Path| p.display().to_string();
        vec![
            "--port".into(),
            "0".into(),
            "--tls-port".into(),
            port,
            "--tls-cert-file".into(),
            path(&tls.server.cert),
            "--tls-key-file".into(),
            path(&tls.server.key),
            "--tls-ca-cert-file".into(),
            path(&tls.ca),
            "--tls-auth-clients".into(),
            tls.auth_clients.into(),
        ]
    }

    /// Whether it answers PING (over TLS with `redis-cli` when it speaks TLS).
    fn answers(&self) -> bool {
        if self.tls.is_some() {
            return self.cli(&["PING"]).is_ok_and(|o| o.trim() == "PONG");
        }
        ping(self.port)
    }

    fn spawn(&mut self) -> Result<()> {
        let mut child = Command::new(&self.bin)
            .args(self.port_args())
            .args(["--bind", "127.0.0.1"])
            .arg("--dir")
            .arg(self.dir.path())
            .args(["--save", "", "--appendonly", "yes", "--daemonize", "no"])
            .args(
                self.password
                    .iter()
                    .flat_map(|p| ["--requirepass".to_owned(), p.clone()]),
            )
            .args(&self.extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", self.bin.display()))?;
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = child.try_wait()? {
                bail!(
                    "redis-server exited at start-up ({status}); port {} taken?",
                    self.port
                );
            }
            if self.answers() {
                self.child = Some(child);
                return Ok(());
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                bail!("redis-server on port {} did not answer PING", self.port);
            }
            // Polling PING: a short pause between probes, not a synchronisation by sleep.
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stop it with SIGTERM (an outage; Redis fsyncs its AOF on the way out, so every write it
    /// confirmed is kept, whatever `appendfsync` says).
    pub fn stop(&mut self) -> Result<()> {
        if let Some(mut c) = self.child.take() {
            let pid = c.id().to_string();
            if !Command::new("kill")
                .args(["-TERM", &pid])
                .status()?
                .success()
            {
                c.kill()?;
            }
            c.wait()?;
        }
        Ok(())
    }

    /// Start it again on the same port and data.
    pub fn restart(&mut self) -> Result<()> {
        self.stop()?;
        self.spawn()
    }

    /// Run `redis-cli` against it with `args`; its stdout.
    pub fn cli(&self, args: &[&str]) -> Result<String> {
        let out = Command::new(self.bin.with_file_name("redis-cli"))
            .args(["-p", &self.port.to_string()])
            .args(self.tls.iter().flat_map(|t| {
                [
                    "--tls".to_owned(),
                    "--cacert".to_owned(),
                    t.ca.display().to_string(),
                    "--cert".to_owned(),
                    t.client.cert.display().to_string(),
                    "--key".to_owned(),
                    t.client.key.display().to_string(),
                ]
            }))
            .args(
                self.password
                    .iter()
                    .flat_map(|p| ["-a".to_owned(), p.clone(), "--no-auth-warning".to_owned()]),
            )
            .args(args)
            .output()
            .context("running redis-cli")?;
        if !out.status.success() {
            bail!(
                "redis-cli {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Its data directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for RedisProc {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A Redis Cluster of three primaries (no replicas) on free ports of 127.0.0.1, each in its own
/// temporary directory, created with `redis-cli --cluster create` and waited for until every
/// node says `cluster_state:ok`; killed when dropped.
pub struct RedisCluster {
    /// The nodes.
    pub nodes: Vec<RedisProc>,
}

impl RedisCluster {
    /// Start one.
    pub fn start() -> Result<Self> {
        let nodes = (0..3)
            .map(|_| {
                RedisProc::start_args(
                    None,
                    &[
                        "--cluster-enabled",
                        "yes",
                        "--cluster-config-file",
                        "nodes.conf",
                    ],
                )
            })
            .collect::<Result<Vec<_>>>()?;
        let addrs: Vec<String> = nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        let mut args = vec!["--cluster", "create"];
        args.extend(addrs.iter().map(String::as_str));
        args.extend(["--cluster-replicas", "0", "--cluster-yes"]);
        // redis-cli --cluster needs no -p; any node's cli will do.
        nodes[0].cli(&args)?;
        let cluster = Self { nodes };
        cluster.wait_ok()?;
        Ok(cluster)
    }

    /// Stop every node (SIGTERM; each keeps its data and `nodes.conf`).
    pub fn stop(&mut self) -> Result<()> {
        self.nodes.iter_mut().try_for_each(RedisProc::stop)
    }

    /// Start every node again on its port and data, and wait until the cluster is ok.
    pub fn restart(&mut self) -> Result<()> {
        self.nodes.iter_mut().try_for_each(RedisProc::restart)?;
        self.wait_ok()
    }

    fn wait_ok(&self) -> Result<()> {
        poll_until("cluster_state:ok on every node", || {
            for n in &self.nodes {
                let info = n.cli(&["CLUSTER", "INFO"])?;
                if !(info.contains("cluster_state:ok") && info.contains("cluster_known_nodes:3")) {
                    return Ok(false);
                }
            }
            Ok(true)
        })
    }

    /// `redis+cluster://127.0.0.1:P1,127.0.0.1:P2,…` (the store's cluster URL).
    pub fn url(&self) -> String {
        let nodes: Vec<String> = self
            .nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        format!("redis+cluster://{}", nodes.join(","))
    }

    /// Every node's keys matching `pattern` (each node scanned: keys live on one node each).
    pub fn keys(&self, pattern: &str) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for n in &self.nodes {
            let found = n.cli(&["--scan", "--pattern", pattern])?;
            out.extend(found.lines().map(str::to_owned));
        }
        Ok(out)
    }

    /// The number of keys on each node (`DBSIZE`).
    pub fn sizes(&self) -> Result<Vec<u64>> {
        self.nodes
            .iter()
            .map(|n| Ok(n.cli(&["DBSIZE"])?.trim().parse()?))
            .collect()
    }

    /// `redis-cli -c` (follows `MOVED`) on the first node with `args`; its stdout.
    pub fn cli(&self, args: &[&str]) -> Result<String> {
        let mut all = vec!["-c"];
        all.extend_from_slice(args);
        self.nodes[0].cli(&all)
    }
}

/// Poll `ready` (a short pause between probes) until it is true, or fail naming `what` after
/// [`START_TIMEOUT`].
fn poll_until(what: &str, mut ready: impl FnMut() -> Result<bool>) -> Result<()> {
    let deadline = Instant::now() + START_TIMEOUT;
    while !ready()? {
        if Instant::now() > deadline {
            bail!("timed out waiting for {what}");
        }
        // Polling a condition, not a synchronisation by sleep.
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// Whether a redis-server on `port` answers `PING` with `+PONG`, or `-NOAUTH` when it wants a
/// password (not `-LOADING`).
fn ping(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 7];
    s.read_exact(&mut buf).is_ok() && (&buf == b"+PONG\r\n" || buf.starts_with(b"-NOAUTH"))
}

/// A port free now (the OS picks it); the caller retries if it is taken before use.
fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The redis-server binary, installed with apt-get if missing (module docs).
pub fn redis_server() -> Result<PathBuf> {
    if let Some(p) = find("redis-server") {
        return Ok(p);
    }
    let lock_path = std::env::temp_dir().join("contactscore-redis-install.lock");
    let lock =
        File::create(&lock_path).with_context(|| format!("creating {}", lock_path.display()))?;
    lock.lock()
        .with_context(|| format!("locking {}", lock_path.display()))?;
    if let Some(p) = find("redis-server") {
        return Ok(p);
    }
    eprintln!("redis-server is not installed: apt-get install -y redis-server redis-tools (once)");
    let install = || {
        Command::new("apt-get")
            .args([
                "install",
                "-y",
                "--no-install-recommends",
                "redis-server",
                "redis-tools",
            ])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
    };
    let ok = install().is_ok_and(|s| s.success())
        || (Command::new("apt-get")
            .arg("update")
            .status()
            .is_ok_and(|s| s.success())
            && install().is_ok_and(|s| s.success()));
    match find("redis-server") {
        Some(p) if ok => Ok(p),
        _ => bail!(
            "redis-server is needed by the Redis state-store tests and could not be installed \
             with apt-get (not root, or no network?): install Debian's redis-server and \
             redis-tools packages (apt-get install -y redis-server redis-tools), or put \
             redis-server and redis-cli on PATH"
        ),
    }
}

fn find(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin"), PathBuf::from("/usr/sbin")])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}
