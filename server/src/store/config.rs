//! The `[state]` table of the configuration: which store holds the live state — the local
//! state directory (the default) or a shared Redis — and the Redis store's settings, validated
//! once at start-up. The Redis password comes from an environment variable or a file (like the
//! bearer token), never from the configuration file or the URL, and is never logged.
//!
//! A Redis Cluster is named by its own scheme, `redis+cluster://HOST:PORT[,HOST:PORT…]`
//! (`rediss+cluster://` for TLS): the seed nodes the client discovers the cluster from. One
//! string, so `--state-store` alone can say it, and the mode is never guessed (a single-node
//! client on a cluster would fail on `MOVED`; a cluster client on a single node on `CLUSTER SLOTS`).

use std::path::PathBuf;
use std::time::Duration;

use contactscore_models::quote;
use redis::{IntoConnectionInfo, TlsCertificates};
use serde::Deserialize;

use super::tls::TlsFiles;
use crate::error::{Result, ServerError};

/// The `[state]` table as written.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StateConfig {
    /// `""` or `"local"`: the state directory; `redis://HOST:PORT[/DB]` (`rediss://` for TLS):
    /// a Redis shared by every replica; `redis+cluster://HOST:PORT[,HOST:PORT…]`
    /// (`rediss+cluster://`): a Redis Cluster, from these seed nodes.
    pub store: String,
    /// Environment variable holding the Redis password.
    pub redis_password_env: Option<String>,
    /// File holding the Redis password (trailing whitespace ignored).
    pub redis_password_file: Option<PathBuf>,
    /// RecordOutcome (and the other writes) answer only once this many Redis replicas have the
    /// write (`WAIT`); 0 = once the primary has it.
    pub redis_wait_replicas: u32,
    /// How long one Redis call may take before the RPC fails with UNAVAILABLE.
    pub redis_timeout_ms: u64,
    /// How long a superseded version's keys are kept after the switch, for replicas still
    /// serving it until their next poll.
    pub redis_unlink_grace_ms: u64,
    /// The bulk-load lock's lease: a loader that died (or froze) frees the load for another
    /// replica this long after its last refresh.
    pub redis_lock_ttl_ms: u64,
    /// PEM file of the CA that signed Redis's certificate (`rediss://` only); without it, the
    /// platform's roots (`tls.rs`).
    pub redis_ca_file: Option<PathBuf>,
    /// PEM client certificate (chain) for Redis's `tls-auth-clients yes`; with
    /// `redis_client_key_file`.
    pub redis_client_cert_file: Option<PathBuf>,
    /// PEM private key of `redis_client_cert_file`.
    pub redis_client_key_file: Option<PathBuf>,
}

impl Default for StateConfig {
    fn default() -> Self {
        Self {
            store: String::new(),
            redis_password_env: None,
            redis_password_file: None,
            redis_wait_replicas: 0,
            redis_timeout_ms: 1_000,
            redis_unlink_grace_ms: 300_000,
            redis_lock_ttl_ms: 30_000,
            redis_ca_file: None,
            redis_client_cert_file: None,
            redis_client_key_file: None,
        }
    }
}

/// Which store, validated.
#[derive(Debug, Clone)]
pub enum StoreSettings {
    /// The state directory.
    Local,
    /// A shared Redis.
    Redis(RedisSettings),
}

/// The Redis store's validated settings.
#[derive(Clone)]
pub struct RedisSettings {
    /// The URL as given (holds no password).
    pub url: String,
    /// A Redis Cluster: the seed nodes' URLs (`redis://HOST:PORT` each); empty for one Redis.
    pub cluster_nodes: Vec<String>,
    /// The password, when one is configured.
    pub password: Option<String>,
    /// `WAIT` for this many replicas after each write (0 = no WAIT).
    pub wait_replicas: u32,
    /// Per-call timeout.
    pub timeout: Duration,
    /// Keys of a superseded version are unlinked this long after the switch.
    pub unlink_grace: Duration,
    /// The load lock's lease (ms).
    pub lock_ttl_ms: u64,
    /// The CA and client certificate for TLS, when configured (else the platform's roots).
    pub tls: Option<TlsCertificates>,
}

impl std::fmt::Debug for RedisSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSettings")
            .field("url", &self.url)
            .field("cluster_nodes", &self.cluster_nodes)
            .field("password", &self.password.as_ref().map(|_| "<set>"))
            .field("wait_replicas", &self.wait_replicas)
            .field("timeout", &self.timeout)
            .field("unlink_grace", &self.unlink_grace)
            .field("lock_ttl_ms", &self.lock_ttl_ms)
            .field("tls", &self.tls.as_ref().map(|_| "<set>"))
            .finish()
    }
}

impl StateConfig {
    /// Validate; errors name the key.
    pub fn validate(&self) -> Result<StoreSettings> {
        let bad = |key: &str, why: String| ServerError::Config(format!("state.{key}: {why}"));
        let store = self.store.trim();
        if store.is_empty() || store == "local" {
            return Ok(StoreSettings::Local);
        }
        let cluster_nodes = match cluster_seeds(store) {
            Some(nodes) => nodes.map_err(|why| bad("store", why))?,
            None if store.starts_with("redis://") || store.starts_with("rediss://") => Vec::new(),
            None => {
                return Err(bad(
                    "store",
                    format!(
                        "{} is neither \"local\" nor a redis://, rediss://, redis+cluster:// or \
                         rediss+cluster:// URL",
                        quote(store)
                    ),
                ));
            }
        };
        let urls = if cluster_nodes.is_empty() {
            vec![store.to_owned()]
        } else {
            cluster_nodes.clone()
        };
        for url in &urls {
            let info = url
                .as_str()
                .into_connection_info()
                .map_err(|e| bad("store", format!("not a Redis URL: {e}")))?;
            if info.redis_settings().password().is_some() {
                return Err(bad(
                    "store",
                    "holds a password: set state.redis_password_env or redis_password_file instead"
                        .into(),
                ));
            }
        }
        if self.redis_timeout_ms == 0 {
            return Err(bad("redis_timeout_ms", "must be positive".into()));
        }
        if self.redis_lock_ttl_ms < 1_000 {
            return Err(bad(
                "redis_lock_ttl_ms",
                "must be at least 1000 (a loader refreshes it once per batch)".into(),
            ));
        }
        let password = match (&self.redis_password_env, &self.redis_password_file) {
            (None, None) => None,
            (Some(_), Some(_)) => {
                return Err(bad(
                    "redis_password_env",
                    "set redis_password_env or redis_password_file, not both".into(),
                ));
            }
            (Some(var), None) => Some(std::env::var(var).map_err(|_| {
                bad(
                    "redis_password_env",
                    format!("environment variable {} is not set", quote(var)),
                )
            })?),
            (None, Some(path)) => {
                Some(std::fs::read_to_string(path).map_err(|e| ServerError::io(path, e))?)
            }
        };
        let password = password.map(|p| p.trim().to_owned());
        if password.as_deref() == Some("") {
            return Err(bad("redis_password", "is empty".into()));
        }
        let tls = TlsFiles {
            ca: self.redis_ca_file.as_ref(),
            client_cert: self.redis_client_cert_file.as_ref(),
            client_key: self.redis_client_key_file.as_ref(),
        }
        .load(&urls[0])?;
        Ok(StoreSettings::Redis(RedisSettings {
            url: store.to_owned(),
            cluster_nodes,
            password,
            wait_replicas: self.redis_wait_replicas,
            timeout: Duration::from_millis(self.redis_timeout_ms),
            unlink_grace: Duration::from_millis(self.redis_unlink_grace_ms),
            lock_ttl_ms: self.redis_lock_ttl_ms,
            tls,
        }))
    }
}

/// The seed nodes of a `redis+cluster://` / `rediss+cluster://` URL as single-node URLs;
/// `None` for any other scheme.
fn cluster_seeds(store: &str) -> Option<std::result::Result<Vec<String>, String>> {
    let (scheme, rest) = store.split_once("+cluster://")?;
    if scheme != "redis" && scheme != "rediss" {
        return None;
    }
    let nodes: Vec<String> = rest
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(|n| format!("{scheme}://{n}"))
        .collect();
    if nodes.is_empty() {
        return Some(Err("a redis+cluster:// URL names no node".into()));
    }
    if rest.contains('/') {
        // A cluster has one database (0); a path would be silently ignored.
        return Some(Err(
            "a Redis Cluster has no numbered databases: give HOST:PORT[,HOST:PORT…] only".into(),
        ));
    }
    Some(Ok(nodes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(cfg: StateConfig) -> std::result::Result<StoreSettings, String> {
        cfg.validate().map_err(|e| e.to_string())
    }

    #[test]
    fn local_is_the_default_and_urls_are_checked() {
        assert!(matches!(
            check(StateConfig::default()),
            Ok(StoreSettings::Local)
        ));
        let with = |store: &str| StateConfig {
            store: store.into(),
            ..StateConfig::default()
        };
        assert!(matches!(
            check(with("redis://127.0.0.1:6379/2")),
            Ok(StoreSettings::Redis(_))
        ));
        match check(with("redis+cluster://10.0.0.1:7001, 10.0.0.2:7001")) {
            Ok(StoreSettings::Redis(r)) => assert_eq!(
                r.cluster_nodes,
                ["redis://10.0.0.1:7001", "redis://10.0.0.2:7001"]
            ),
            other => panic!("{other:?}"),
        }
        match check(with("rediss+cluster://h:7001")) {
            Ok(StoreSettings::Redis(r)) => assert_eq!(r.cluster_nodes, ["rediss://h:7001"]),
            other => panic!("{other:?}"),
        }
        let err = check(with("redis+cluster://h:7001/2")).expect_err("a database");
        assert!(err.contains("numbered databases"), "{err}");
        let err = check(with("redis+cluster://")).expect_err("no node");
        assert!(err.contains("no node"), "{err}");
        let err = check(with("redis+cluster://:hunter2@h:7001")).expect_err("inline password");
        assert!(!err.contains("hunter2"), "{err}");
        let err = check(with("memcached://x")).expect_err("not redis");
        assert!(err.contains("state.store"), "{err}");
        let err = check(with("redis://:hunter2@127.0.0.1:6379")).expect_err("inline password");
        assert!(
            err.contains("redis_password_env") && !err.contains("hunter2"),
            "{err}"
        );
        let err = check(StateConfig {
            redis_password_env: Some("CONTACTSCORE_SURELY_UNSET_VAR".into()),
            ..with("redis://127.0.0.1:1")
        })
        .expect_err("unset var");
        assert!(err.contains("CONTACTSCORE_SURELY_UNSET_VAR"), "{err}");
    }

    #[test]
    fn the_password_is_never_printed() {
        let s = RedisSettings {
            url: "redis://h:1".into(),
            cluster_nodes: Vec::new(),
            password: Some("hunter2".into()),
            wait_replicas: 0,
            timeout: Duration::from_secs(1),
            unlink_grace: Duration::from_secs(1),
            lock_ttl_ms: 30_000,
            tls: None,
        };
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
