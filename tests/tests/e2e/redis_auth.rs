//! End to end: the Redis password comes from an environment variable (never the URL: a URL
//! holding one is refused at start-up without echoing it); a replica without the password
//! stays NOT_SERVING and answers UNAVAILABLE.

use anyhow::Result;
use contactscore_e2e::redis::RedisProc;
use contactscore_e2e::server::{ServerProc, train_into};
use contactscore_e2e::simulated;
use tonic::Code;

use crate::common::*;
use crate::redis_store::{persons, rank};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_redis_password_comes_from_the_environment_only() -> Result<()> {
    let sim = simulated(150, 21, 1406)?;
    let dir = sim.dir.path();
    let models = dir.join("models");
    train_into(&sim.attempts, Some(&sim.contacts), &models, sim.bad_rows)?;
    let secret = "s3cret-redis-pw";
    let redis = RedisProc::start_with(Some(secret))?;
    let p = persons(&sim.contacts, 1)?.remove(0);

    let config = dir.join("server.toml");
    std::fs::write(
        &config,
        format!(
            "[state]\nstore = \"{}\"\nredis_password_env = \"CS_TEST_REDIS_PW\"\n",
            redis.url()
        ),
    )?;
    let config = config.to_string_lossy().into_owned();
    let a = ServerProc::start_with_env(
        &models,
        &dir.join("a"),
        &["--config", &config],
        &[("CS_TEST_REDIS_PW", secret)],
    )?;
    let mut ca = a.client().await?;
    assert!(!rank(&mut ca, &p, None).await?.suggestions.is_empty());
    assert_eq!(health(&a, "").await?, SERVING);

    // Without the password: up, but not serving.
    let b = ServerProc::start(&models, &dir.join("b"), &["--state-store", &redis.url()])?;
    assert_eq!(health(&b, "").await?, NOT_SERVING);
    let e = rank(&mut b.client().await?, &p, None)
        .await
        .expect_err("no auth");
    assert_eq!(e.code(), Code::Unavailable, "{e:?}");

    // A password in the URL is refused, and not echoed.
    let url = format!("redis://:{secret}@127.0.0.1:{}", redis.port);
    let (code, stderr) = ServerProc::refused(&models, &dir.join("c"), &["--state-store", &url])?;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("redis_password_env"), "{stderr}");
    assert!(
        !stderr.contains(secret),
        "the password was echoed: {stderr}"
    );
    Ok(())
}
