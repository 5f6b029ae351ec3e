//! Server configuration: a TOML file with documented defaults (`examples/server.toml`),
//! overridden by command-line flags, validated into [`Settings`] before anything starts, so a
//! bad value stops the server at start-up with the key named rather than at request time.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use contactscore_models::policy::{Policy, PolicyConfig};
use contactscore_models::quote;
use serde::Deserialize;

use crate::engine::Retention;
use crate::error::{Result, ServerError};
use crate::store::{StateConfig, StoreSettings};

/// The configuration file as written.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// gRPC listen address.
    pub listen: String,
    /// The trainer's models directory (the registry).
    pub models_dir: PathBuf,
    /// Where live outcomes and erasures are kept durably.
    pub state_dir: PathBuf,
    /// Prometheus metrics listen address (`/metrics`); empty = no metrics endpoint.
    pub metrics_listen: String,
    /// How often the models directory is checked for a newly promoted version.
    pub reload_interval_ms: u64,
    /// Horizon when a Rank request gives none.
    pub default_horizon_hours: u32,
    /// Largest horizon a Rank request may ask for.
    pub max_horizon_hours: u32,
    /// Suggestions when a Rank request gives no `max_suggestions`.
    pub default_max_suggestions: u32,
    /// Most contact points one Rank request may carry.
    pub max_contacts_per_request: usize,
    /// Most persons one PlanCampaign request may list.
    pub max_plan_persons: usize,
    /// Largest PlanCampaign request message accepted, in MiB (a list of 100 000 persons is
    /// ≈ 10 MiB); every other call's messages are limited to gRPC's default 4 MiB.
    pub max_request_mib: usize,
    /// How long in-flight requests get to finish on shutdown.
    pub shutdown_grace_ms: u64,
    /// Live outcomes attempted more than this many days before the served snapshot's cutoff
    /// leave the journal (the rollback window).
    pub live_outcome_retention_days: u32,
    /// Their attempt ids are remembered (as digests) this many days after being recorded.
    pub attempt_id_retention_days: u32,
    /// The contact rules.
    pub policy: PolicyConfig,
    /// Bearer-token check.
    pub auth: AuthConfig,
    /// TLS.
    pub tls: Option<TlsConfig>,
    /// Where the live state is kept (local directory or a shared Redis).
    pub state: StateConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:50051".into(),
            models_dir: PathBuf::from("models"),
            state_dir: PathBuf::from("contactscore-state"),
            metrics_listen: String::new(),
            reload_interval_ms: 5_000,
            default_horizon_hours: 24,
            max_horizon_hours: 168,
            default_max_suggestions: 5,
            max_contacts_per_request: 64,
            max_plan_persons: 100_000,
            max_request_mib: 64,
            shutdown_grace_ms: 10_000,
            live_outcome_retention_days: Retention::default().outcome_days,
            attempt_id_retention_days: Retention::default().attempt_id_days,
            policy: PolicyConfig::default(),
            auth: AuthConfig::default(),
            tls: None,
            state: StateConfig::default(),
        }
    }
}

/// Bearer-token authentication of the `ContactScoring` service (health and reflection stay open).
/// The tokens themselves never go in the file: name an environment variable or a file holding
/// each. With an admin token set, `ForgetPerson`, `ReloadModel` and `RecordConsent` need it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Environment variable holding the token.
    pub bearer_token_env: Option<String>,
    /// File holding the token (trailing whitespace ignored).
    pub bearer_token_file: Option<PathBuf>,
    /// Environment variable holding the admin token.
    pub admin_token_env: Option<String>,
    /// File holding the admin token (trailing whitespace ignored).
    pub admin_token_file: Option<PathBuf>,
}

/// TLS: PEM certificate chain and private key.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// Certificate chain (PEM).
    pub cert: PathBuf,
    /// Private key (PEM).
    pub key: PathBuf,
}

/// Validated settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// gRPC listen address.
    pub listen: SocketAddr,
    /// Models directory.
    pub models_dir: PathBuf,
    /// State directory.
    pub state_dir: PathBuf,
    /// Metrics listen address.
    pub metrics_listen: Option<SocketAddr>,
    /// Poll interval of the models directory.
    pub reload_interval: Duration,
    /// Request limits and defaults.
    pub limits: Limits,
    /// Shutdown grace period.
    pub shutdown_grace: Duration,
    /// The validated contact rules.
    pub policy: Policy,
    /// How long covered live outcomes and their ids are kept.
    pub retention: Retention,
    /// Expected bearer token, if authentication is on.
    pub bearer_token: Option<String>,
    /// The admin token, if the admin RPCs need one.
    pub admin_token: Option<String>,
    /// TLS certificate and key (PEM bytes).
    pub tls: Option<(Vec<u8>, Vec<u8>)>,
    /// Which store holds the live state.
    pub store: StoreSettings,
}

/// Request defaults and limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Default horizon.
    pub default_horizon_hours: u32,
    /// Maximum horizon.
    pub max_horizon_hours: u32,
    /// Default number of suggestions.
    pub default_max_suggestions: u32,
    /// Maximum contact points per request.
    pub max_contacts: usize,
    /// Maximum persons per PlanCampaign request.
    pub max_plan_persons: usize,
    /// Largest request message, in bytes.
    pub max_request_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Config::default().limits()
    }
}

impl Config {
    /// Read a configuration file.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| ServerError::io(path, e))?;
        toml::from_str(&text).map_err(|e| ServerError::Config(format!("{}: {e}", path.display())))
    }

    fn limits(&self) -> Limits {
        Limits {
            default_horizon_hours: self.default_horizon_hours,
            max_horizon_hours: self.max_horizon_hours,
            default_max_suggestions: self.default_max_suggestions,
            max_contacts: self.max_contacts_per_request,
            max_plan_persons: self.max_plan_persons,
            max_request_bytes: self.max_request_mib.saturating_mul(1 << 20),
        }
    }

    /// Validate into [`Settings`] (reads the token and TLS files).
    pub fn validate(self) -> Result<Settings> {
        let bad = |key: &str, why: String| ServerError::Config(format!("{key}: {why}"));
        let listen = self.listen.parse().map_err(|e| {
            bad(
                "listen",
                format!("{} is not host:port ({e})", quote(&self.listen)),
            )
        })?;
        let metrics_listen = match self.metrics_listen.trim() {
            "" => None,
            a => Some(a.parse().map_err(|e| {
                bad(
                    "metrics_listen",
                    format!("{} is not host:port ({e})", quote(a)),
                )
            })?),
        };
        if self.reload_interval_ms == 0 {
            return Err(bad("reload_interval_ms", "must be positive".into()));
        }
        if self.max_horizon_hours == 0 || self.max_horizon_hours > 24 * 31 {
            return Err(bad("max_horizon_hours", "must be 1..=744".into()));
        }
        if self.default_horizon_hours == 0 || self.default_horizon_hours > self.max_horizon_hours {
            return Err(bad(
                "default_horizon_hours",
                "must be 1..=max_horizon_hours".into(),
            ));
        }
        if self.default_max_suggestions == 0 {
            return Err(bad("default_max_suggestions", "must be positive".into()));
        }
        if self.max_contacts_per_request == 0 {
            return Err(bad("max_contacts_per_request", "must be positive".into()));
        }
        if self.max_plan_persons == 0 {
            return Err(bad("max_plan_persons", "must be positive".into()));
        }
        if !(4..=2048).contains(&self.max_request_mib) {
            return Err(bad("max_request_mib", "must be 4..=2048".into()));
        }
        if self.attempt_id_retention_days == 0 {
            return Err(bad(
                "attempt_id_retention_days",
                "must be at least 1 (0 would forget ids as soon as their records retire)".into(),
            ));
        }
        let retention = Retention {
            outcome_days: self.live_outcome_retention_days,
            attempt_id_days: self.attempt_id_retention_days,
        };
        let limits = self.limits();
        let policy = self
            .policy
            .validate()
            .map_err(|e| bad("policy", e.to_string()))?;
        let bearer_token = token(
            "bearer_token",
            self.auth.bearer_token_env.as_deref(),
            self.auth.bearer_token_file.as_deref(),
        )?;
        let admin_token = token(
            "admin_token",
            self.auth.admin_token_env.as_deref(),
            self.auth.admin_token_file.as_deref(),
        )?;
        if admin_token.is_some() && admin_token == bearer_token {
            return Err(bad(
                "auth.admin_token",
                "is the same as the bearer token; it would protect nothing".into(),
            ));
        }
        let tls = match &self.tls {
            None => None,
            Some(t) => {
                let read = |p: &Path| std::fs::read(p).map_err(|e| ServerError::io(p, e));
                Some((read(&t.cert)?, read(&t.key)?))
            }
        };
        let store = self.state.validate()?;
        Ok(Settings {
            listen,
            models_dir: self.models_dir,
            state_dir: self.state_dir,
            metrics_listen,
            reload_interval: Duration::from_millis(self.reload_interval_ms),
            limits,
            shutdown_grace: Duration::from_millis(self.shutdown_grace_ms),
            policy,
            retention,
            bearer_token,
            admin_token,
            tls,
            store,
        })
    }
}

/// The token `name` (`bearer_token`, `admin_token`) from its `_env` variable or `_file`.
fn token(name: &str, env: Option<&str>, file: Option<&Path>) -> Result<Option<String>> {
    let token = match (env, file) {
        (None, None) => return Ok(None),
        (Some(_), Some(_)) => {
            return Err(ServerError::Config(format!(
                "auth: set {name}_env or {name}_file, not both"
            )));
        }
        (Some(var), None) => std::env::var(var).map_err(|_| {
            ServerError::Config(format!(
                "auth.{name}_env: environment variable {} is not set",
                quote(var)
            ))
        })?,
        (None, Some(path)) => {
            std::fs::read_to_string(path).map_err(|e| ServerError::io(path, e))?
        }
    };
    let token = token.trim().to_owned();
    if token.is_empty() {
        return Err(ServerError::Config(format!("auth: the {name} is empty")));
    }
    Ok(Some(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_file_is_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/server.toml");
        let cfg = Config::from_file(&path).expect("example parses");
        assert_eq!(cfg, Config::default());
        assert!(cfg.validate().is_ok());
    }

    #[test]
    fn bad_values_name_their_key() {
        let check = |toml: &str, key: &str| {
            let err = toml::from_str::<Config>(toml)
                .map_err(|e| e.to_string())
                .and_then(|c| c.validate().map_err(|e| e.to_string()))
                .expect_err(toml);
            assert!(err.contains(key), "{err} does not name {key}");
        };
        check("listen = \"nowhere\"", "listen");
        check("max_horizon_hours = 0", "max_horizon_hours");
        check("default_horizon_hours = 500", "default_horizon_hours");
        check("[policy]\npreset = \"mars\"", "policy");
        check(
            "[auth]\nbearer_token_env = \"CONTACTSCORE_SURELY_UNSET_VAR\"",
            "CONTACTSCORE_SURELY_UNSET_VAR",
        );
        check("lissen = \"x\"", "lissen");
        check("attempt_id_retention_days = 0", "attempt_id_retention_days");
        check("max_plan_persons = 0", "max_plan_persons");
        check("max_request_mib = 1", "max_request_mib");
        check(
            "[auth]\nadmin_token_env = \"CONTACTSCORE_SURELY_UNSET_VAR\"",
            "admin_token_env",
        );
        check(
            "[auth]\nadmin_token_env = \"A\"\nadmin_token_file = \"b\"",
            "admin_token_env or admin_token_file",
        );
        check(
            "[auth]\nbearer_token_env = \"PATH\"\nadmin_token_env = \"PATH\"",
            "auth.admin_token",
        );
    }
}
