//! End to end: with `[auth] admin_token_env` set, the admin RPCs (`ForgetPerson`, `ReloadModel`,
//! `RecordConsent`) refuse the dialer's token with PERMISSION_DENIED and accept the admin token,
//! which may call everything else too; no token at all is still UNAUTHENTICATED.

use anyhow::Result;
use contactscore_e2e::server::{ServerProc, train_into};
use contactscore_e2e::simulated;
use contactscore_proto::v1;
use tonic::{Code, Request};

use crate::common::*;

fn with<T>(msg: T, token: Option<&str>) -> Result<Request<T>> {
    let mut r = Request::new(msg);
    if let Some(t) = token {
        r.metadata_mut()
            .insert("authorization", format!("Bearer {t}").parse()?);
    }
    Ok(r)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_rpcs_need_the_admin_token() -> Result<()> {
    let sim = simulated(300, 21, 81)?;
    let dir = sim.dir.path();
    let (models, state) = (dir.join("models"), dir.join("state"));
    let version = train_into(&sim.attempts, Some(&sim.contacts), &models, sim.bad_rows)?;
    let token_file = dir.join("admin.token");
    std::fs::write(&token_file, "root-token\n")?;
    let config = dir.join("server.toml");
    std::fs::write(
        &config,
        format!(
            "[auth]\nbearer_token_env = \"CS_DIALER_TOKEN\"\nadmin_token_file = {:?}\n",
            token_file.to_string_lossy()
        ),
    )?;
    let server = ServerProc::start_with_env(
        &models,
        &state,
        &["--config", config.to_str().unwrap_or_default()],
        &[("CS_DIALER_TOKEN", "dialer-token")],
    )?;
    let mut c = server.client().await?;
    let (dialer, admin) = (Some("dialer-token"), Some("root-token"));

    let forget = || v1::ForgetPersonRequest {
        person_id: "lead-admin".into(),
    };
    let consent = || v1::RecordConsentRequest {
        person_id: "lead-admin".into(),
        contact: "+5511955554444".into(),
        channel: "voice".into(),
        consented_at: None,
    };
    let rank = || v1::RankRequest {
        person_id: "lead-admin".into(),
        contacts: vec![point("+5511955554444", &["voice"], "")],
        as_of: Some(ts(MONDAY)),
        ..Default::default()
    };

    // The dialer's token: ordinary calls yes, admin calls no.
    assert!(c.rank(with(rank(), dialer)?).await.is_ok());
    let denied = [
        c.forget_person(with(forget(), dialer)?).await.err(),
        c.reload_model(with(v1::ReloadModelRequest {}, dialer)?)
            .await
            .err(),
        c.record_consent(with(consent(), dialer)?).await.err(),
    ];
    for (rpc, err) in ["ForgetPerson", "ReloadModel", "RecordConsent"]
        .iter()
        .zip(denied)
    {
        let err = err.unwrap_or_else(|| panic!("{rpc} accepted the dialer's token"));
        assert_eq!(err.code(), Code::PermissionDenied, "{rpc}: {err:?}");
        assert!(
            err.message().contains(rpc) && err.message().contains("admin"),
            "{}",
            err.message()
        );
    }

    // The admin token: everything.
    assert!(c.forget_person(with(forget(), admin)?).await.is_ok());
    let info = c
        .reload_model(with(v1::ReloadModelRequest {}, admin)?)
        .await?
        .into_inner();
    assert_eq!(info.version, version);
    assert!(c.record_consent(with(consent(), admin)?).await.is_ok());
    assert!(c.rank(with(rank(), admin)?).await.is_ok());

    // Neither, or a wrong one: unauthenticated, as before.
    for token in [None, Some("guess")] {
        let err = c
            .forget_person(with(forget(), token)?)
            .await
            .expect_err("no token");
        assert_eq!(err.code(), Code::Unauthenticated);
        let err = c.rank(with(rank(), token)?).await.expect_err("no token");
        assert_eq!(err.code(), Code::Unauthenticated);
    }
    assert_eq!(server.terminate()?, Some(0));
    Ok(())
}
