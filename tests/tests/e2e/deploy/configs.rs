//! `deploy/`'s server configurations on the real server: systemd's `server.toml` and the
//! Kubernetes ConfigMap's, with their token paths swapped for temporary files, each serve the
//! version `deploy/nightly-train.sh` promoted, enforce both tokens and stop gracefully on
//! SIGTERM; the Redis overlay's (`deploy/k8s-redis/`) serves two replicas from one real Redis;
//! and the units and manifests agree with each other (models directory, user, grace periods,
//! one replica on the local store, several rolled one at a time on Redis).

use std::fs;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail, ensure};
use contactscore_e2e::redis::RedisProc;
use contactscore_e2e::server::ServerProc;
use contactscore_proto::v1;
use tokio_stream::StreamExt;
use tonic::{Code, Request};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

use super::*;
use crate::common::SERVING;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn k8s_redis_overlay_serves_two_replicas_from_one_redis() -> Result<()> {
    let setup = Setup::new()?;
    let export = setup.export(NIGHT);
    simulate_export(&export, 200, 14, 94)?;
    fs::write(export.join("_SUCCESS"), "")?;
    setup.run(&[])?.expect(0)?;
    let promoted = current(&setup.models)?.ok_or_else(|| anyhow!("nothing promoted"))?;

    // The overlay's server.toml, with the Service's address swapped for a real Redis on a free
    // port, and the mounted Secrets (tokens, Redis password) for temporary files.
    let password = "overlay-redis-pw";
    let redis = RedisProc::start_with(Some(password))?;
    let dir = setup.dir.path().join("k8s-redis");
    fs::create_dir_all(&dir)?;
    let overlay = configmap_server_toml(&fs::read_to_string(
        repo()?.join("deploy/k8s-redis/server-config.yaml"),
    )?)?;
    let store = "redis://contactscore-redis:6379";
    ensure!(overlay.contains(store), "no {store} in\n{overlay}");
    let password_file = dir.join("redis.password");
    fs::write(&password_file, format!("{password}\n"))?;
    let mut config = String::new();
    for line in with_test_tokens(&overlay, &dir)?.lines() {
        if line.split_once('=').map(|(k, _)| k.trim()) == Some("redis_password_file") {
            config.push_str(&format!(
                "redis_password_file = {:?}\n",
                path_str(&password_file)?
            ));
        } else {
            config.push_str(&line.replace(store, &redis.url()));
            config.push('\n');
        }
    }
    let path = dir.join("server.toml");
    fs::write(&path, config)?;
    let path_arg = path_str(&path)?;

    let mut replicas = Vec::new();
    for name in ["a", "b"] {
        let server = ServerProc::start(
            &setup.models,
            &dir.join(format!("state-{name}")),
            &["--config", &path_arg, "--metrics-listen", "127.0.0.1:0"],
        )?;
        until_serving(&server).await?;
        let info = server
            .client()
            .await?
            .get_model_info(bearer(v1::GetModelInfoRequest {}, BEARER_TOKEN)?)
            .await?
            .into_inner();
        assert_eq!(info.version, promoted, "replica {name}");
        replicas.push(server);
    }
    // Both answer from Redis: the version is loaded there, and neither made a state directory.
    let loaded = redis.cli(&["GET", &format!("cs:loaded:{promoted}")])?;
    ensure!(
        loaded.trim().parse::<u64>().is_ok_and(|n| n > 0),
        "cs:loaded:{promoted} = {loaded:?}"
    );
    for name in ["a", "b"] {
        ensure!(
            !dir.join(format!("state-{name}")).exists(),
            "replica {name} made a local state directory"
        );
    }
    for server in replicas {
        assert_eq!(server.terminate()?, Some(0));
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

    // The Redis overlay: the same models directory and grace, several replicas replaced one
    // at a time, the Redis password from its Secret's mount, the state PVC dropped.
    let overlay = configmap_server_toml(&read("deploy/k8s-redis/server-config.yaml")?)?;
    let patch = read("deploy/k8s-redis/deployment.yaml")?;
    let kustomization = read("deploy/k8s-redis/kustomization.yaml")?;
    for key in ["models_dir", "shutdown_grace_ms", "listen"] {
        assert_eq!(
            toml_string(&overlay, key),
            toml_string(&configmap, key),
            "{key}"
        );
    }
    let replicas: u32 = after(&patch, "replicas:")
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow!("replicas in the overlay"))?;
    assert!(replicas >= 2, "{replicas} replicas");
    assert_eq!(after(&patch, "type:"), Some("RollingUpdate"));
    assert_eq!(after(&patch, "maxUnavailable:"), Some("0"));
    let mount = after(&patch, "mountPath: /run/secrets/contactscore-redis").is_some();
    assert!(mount, "the overlay mounts the Redis password");
    assert!(
        toml_string(&overlay, "redis_password_file")
            .is_some_and(|p| p.starts_with("/run/secrets/contactscore-redis/")),
        "{overlay}"
    );
    assert!(kustomization.contains("name: contactscore-state"));
    assert!(kustomization.contains("- ../k8s"));
    Ok(())
}
