//! End to end: the Redis store over TLS, against a real `redis-server` that speaks TLS only
//! (`--port 0 --tls-port P`) with a certificate from a throw-away CA (`contactscore_e2e::tls`).
//! A replica given `rediss://` and that CA (`[state] redis_ca_file`) serves, and its live events
//! are seen by a second one; a replica without the CA (the platform's roots) or with another CA
//! is refused by certificate verification and never serves (NOT_SERVING, UNAVAILABLE). With
//! `tls-auth-clients yes`, only a replica presenting a client certificate
//! (`redis_client_cert_file` / `redis_client_key_file`) serves. A CA file that cannot be read or
//! parsed fails start-up naming the key and the file.

use std::path::Path;

use anyhow::Result;
use contactscore_e2e::redis::{RedisProc, RedisTls};
use contactscore_e2e::server::{ServerProc, train_into};
use contactscore_e2e::simulated;
use contactscore_e2e::tls::{self, CertFiles, Usage};
use tonic::Code;

use crate::common::*;
use crate::redis_store::{persons, rank, reasons};

/// A CA, Redis's certificate and a client certificate, all in `dir`.
fn certs(dir: &Path, auth_clients: &'static str) -> Result<(CertFiles, RedisTls)> {
    let ca = tls::ca(dir, "ca")?;
    let server = tls::signed(&ca, dir, "redis", Usage::Server)?;
    let client = tls::signed(&ca, dir, "client", Usage::Client)?;
    let redis = RedisTls {
        server,
        ca: ca.cert.clone(),
        client,
        auth_clients,
    };
    Ok((ca, redis))
}

/// A `server.toml` in `dir/NAME.toml` for the Redis store `url` with these `[state]` lines.
fn config(dir: &Path, name: &str, url: &str, state: &[String]) -> Result<String> {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(
        &path,
        format!("[state]\nstore = \"{url}\"\n{}\n", state.join("\n")),
    )?;
    Ok(path.to_string_lossy().into_owned())
}

fn line(key: &str, path: &Path) -> String {
    format!("{key} = {:?}", path.display().to_string())
}

/// A replica that must never serve: NOT_SERVING, and Rank answers UNAVAILABLE.
async fn never_serves(s: &ServerProc, person: &str) -> Result<()> {
    assert_eq!(health(s, "").await?, NOT_SERVING);
    let e = rank(&mut s.client().await?, person, None)
        .await
        .expect_err("served without verifying Redis");
    assert_eq!(e.code(), Code::Unavailable, "{e:?}");
    assert_eq!(health(s, "").await?, NOT_SERVING);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_state_over_tls_and_verify_redis() -> Result<()> {
    let sim = simulated(150, 21, 1411)?;
    let dir = sim.dir.path();
    let models = dir.join("models");
    train_into(&sim.attempts, Some(&sim.contacts), &models, sim.bad_rows)?;
    let (ca, redis_tls) = certs(dir, "no")?;
    let redis = RedisProc::start_tls(redis_tls)?;
    let url = redis.url();
    assert!(url.starts_with("rediss://"), "{url}");
    let p = persons(&sim.contacts, 1)?.remove(0);
    let n = "+5511987650001";

    let with_ca = config(dir, "ca", &url, &[line("redis_ca_file", &ca.cert)])?;
    let a = ServerProc::start(&models, &dir.join("a"), &["--config", &with_ca])?;
    let b = ServerProc::start(&models, &dir.join("b"), &["--config", &with_ca])?;
    let (mut ca_client, mut cb) = (a.client().await?, b.client().await?);
    assert!(!rank(&mut ca_client, &p, None).await?.suggestions.is_empty());
    assert_eq!(health(&a, "").await?, SERVING);
    // An opt-out through A over TLS: B's next Rank blocks the pair.
    let o = outcome("tls-o1", &p, n, "voice", MONDAY - 7_200, "opt_out");
    assert!(ca_client.record_outcome(o).await?.into_inner().recorded);
    assert!(reasons(&mut cb, &p, n).await?.contains("opted_out"));
    assert_eq!(health(&b, "").await?, SERVING);
    // The state is in Redis (over TLS), not in the replicas.
    assert!(redis.cli(&["DBSIZE"])?.trim().parse::<u64>()? > 0);

    // Without the CA, the platform's roots do not know the throw-away CA: never serves.
    let plain = config(dir, "plain", &url, &[])?;
    let c = ServerProc::start(&models, &dir.join("c"), &["--config", &plain])?;
    never_serves(&c, &p).await?;

    // With another CA: refused too.
    let other = tls::ca(dir, "other-ca")?;
    let wrong = config(dir, "wrong", &url, &[line("redis_ca_file", &other.cert)])?;
    let d = ServerProc::start(&models, &dir.join("d"), &["--config", &wrong])?;
    never_serves(&d, &p).await?;

    // A plain-text replica on the TLS port gets nothing either.
    let e = ServerProc::start(
        &models,
        &dir.join("e"),
        &["--state-store", &url.replace("rediss://", "redis://")],
    )?;
    never_serves(&e, &p).await?;

    // A CA file that cannot be read, or holds no certificate, fails start-up naming the key
    // and the file.
    let missing = dir.join("no-such-ca.pem");
    let junk = dir.join("junk.pem");
    std::fs::write(&junk, "not a certificate")?;
    for (name, file) in [("missing", &missing), ("junk", &junk)] {
        let cfg = config(dir, name, &url, &[line("redis_ca_file", file)])?;
        let (code, stderr) = ServerProc::refused(&models, &dir.join(name), &["--config", &cfg])?;
        assert_eq!(code, Some(1), "{stderr}");
        let file_name = file.file_name().unwrap_or_default().to_string_lossy();
        assert!(
            stderr.contains("redis_ca_file") && stderr.contains(file_name.as_ref()),
            "{stderr}"
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_serves_only_a_replica_with_a_client_certificate() -> Result<()> {
    let sim = simulated(150, 21, 1411)?;
    let dir = sim.dir.path();
    let models = dir.join("models");
    train_into(&sim.attempts, Some(&sim.contacts), &models, sim.bad_rows)?;
    let (ca, redis_tls) = certs(dir, "yes")?;
    let client = redis_tls.client.clone();
    let redis = RedisProc::start_tls(redis_tls)?;
    let url = redis.url();
    let p = persons(&sim.contacts, 1)?.remove(0);

    let mutual = config(
        dir,
        "mutual",
        &url,
        &[
            line("redis_ca_file", &ca.cert),
            line("redis_client_cert_file", &client.cert),
            line("redis_client_key_file", &client.key),
        ],
    )?;
    let a = ServerProc::start(&models, &dir.join("a"), &["--config", &mutual])?;
    assert!(
        !rank(&mut a.client().await?, &p, None)
            .await?
            .suggestions
            .is_empty()
    );
    assert_eq!(health(&a, "").await?, SERVING);

    // The CA but no client certificate: Redis refuses the handshake.
    let ca_only = config(dir, "ca-only", &url, &[line("redis_ca_file", &ca.cert)])?;
    let b = ServerProc::start(&models, &dir.join("b"), &["--config", &ca_only])?;
    never_serves(&b, &p).await?;
    Ok(())
}
