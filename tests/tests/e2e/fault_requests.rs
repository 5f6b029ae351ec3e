//! End to end: hostile and broken requests against a real server. A `RecordOutcomes` stream with
//! a bad message records every message before it and says how many (7 + 1 and 600 + 1); an
//! implausible instant is INVALID_ARGUMENT wherever a request can carry one; a 100 KB contact is
//! INVALID_ARGUMENT with a short message; a 10 MB message is RESOURCE_EXHAUSTED; an empty
//! `CURRENT` keeps the served model answering `ReloadModel`, and a failure that was fixed by
//! pointing `CURRENT` back is cleared.

use anyhow::Result;
use contactscore_e2e::server::{ServerProc, train_into};
use contactscore_e2e::simulated;
use contactscore_proto::v1;
use tonic::Code;
use tonic::transport::Channel;
use tonic_types::StatusExt;

use crate::common::*;

type Client = v1::contact_scoring_client::ContactScoringClient<Channel>;

fn good(i: usize) -> v1::RecordOutcomeRequest {
    outcome(
        &format!("s-{i:04}"),
        &format!("lead-stream-{}", i % 50),
        "+5511955554444",
        "sms",
        MONDAY + i as i64,
        "delivered",
    )
}

async fn live_outcomes(c: &mut Client) -> Result<u64> {
    Ok(c.get_model_info(v1::GetModelInfoRequest {})
        .await?
        .into_inner()
        .live_outcomes)
}

/// Send `n` good messages and then a bad one, from message number `from`; returns the error.
async fn stream_with_a_bad_message(c: &mut Client, from: usize, n: usize) -> tonic::Status {
    let mut msgs: Vec<_> = (from..from + n).map(good).collect();
    let mut bad = good(from + n);
    if let Some(o) = bad.outcome.as_mut() {
        o.channel = "fax".into();
    }
    msgs.push(bad);
    match c.record_outcomes(tokio_stream::iter(msgs)).await {
        Ok(r) => tonic::Status::ok(format!("accepted: {:?}", r.into_inner())),
        Err(s) => s,
    }
}

/// A server on a small trained model.
async fn serve(seed: u64) -> Result<(tempfile::TempDir, ServerProc, Client)> {
    let sim = simulated(300, 21, seed)?;
    let dir = sim.dir.path();
    let (models, state) = (dir.join("models"), dir.join("state"));
    train_into(&sim.attempts, Some(&sim.contacts), &models, sim.bad_rows)?;
    let server = ServerProc::start(&models, &state, &[])?;
    let c = server.client().await?;
    Ok((sim.dir, server, c))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_outcomes_records_every_message_before_a_bad_one() -> Result<()> {
    let (_dir, server, mut c) = serve(71).await?;
    // Everything before the bad message is recorded, and the error says how much.
    for (from, n, total) in [(0, 7, 7), (100, 600, 607)] {
        let s = stream_with_a_bad_message(&mut c, from, n).await;
        assert_eq!(live_outcomes(&mut c).await?, total, "{n} + 1 bad");
        assert_eq!(s.code(), Code::InvalidArgument, "{s:?}");
        assert!(
            s.message()
                .starts_with(&format!("message #{n}.outcome.channel"))
                && s.message().contains(&format!("resend from message #{n}")),
            "{}",
            s.message()
        );
        let details = s.get_error_details();
        let info = details.error_info().expect("error info");
        assert_eq!(info.metadata.get("resume_from"), Some(&n.to_string()));
        assert_eq!(info.metadata.get("recorded"), Some(&n.to_string()));
    }
    // Resending from the start is safe: all duplicates.
    let again: Vec<_> = (0..7).map(good).collect();
    let r = c
        .record_outcomes(tokio_stream::iter(again))
        .await?
        .into_inner();
    assert_eq!((r.recorded, r.duplicates), (0, 7));

    // A 10 MB message inside the stream: RESOURCE_EXHAUSTED, the messages before it recorded.
    let mut msgs: Vec<_> = (2_000..2_003).map(good).collect();
    let mut big = good(2_003);
    if let Some(o) = big.outcome.as_mut() {
        o.campaign = "c".repeat(10 << 20);
    }
    msgs.push(big);
    let s = c
        .record_outcomes(tokio_stream::iter(msgs))
        .await
        .expect_err("10 MB in a stream");
    assert_eq!(live_outcomes(&mut c).await?, 610);
    assert_eq!(s.code(), Code::ResourceExhausted, "{s:?}");
    assert!(
        s.message().contains("resend from message #3"),
        "{}",
        s.message()
    );
    assert_eq!(server.terminate()?, Some(0));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn implausible_instants_are_invalid_arguments_in_every_field() -> Result<()> {
    let (_dir, server, mut c) = serve(73).await?;
    for seconds in [
        i64::MIN,
        -62_135_596_800,
        0,
        631_151_999,
        4_070_908_800,
        i64::MAX,
    ] {
        let mut o = good(9_000);
        if let Some(o) = o.outcome.as_mut() {
            o.attempted_at = Some(ts(seconds));
        }
        let s = c
            .record_outcome(o)
            .await
            .expect_err("implausible attempted_at");
        assert_eq!(s.code(), Code::InvalidArgument, "{seconds}: {s:?}");
        assert!(
            s.message()
                .starts_with("outcome.attempted_at: implausible time"),
            "{}",
            s.message()
        );
        let s = c
            .rank(v1::RankRequest {
                person_id: "lead-stream-1".into(),
                as_of: Some(ts(seconds)),
                ..Default::default()
            })
            .await
            .expect_err("implausible as_of");
        assert_eq!(s.code(), Code::InvalidArgument, "{seconds}: {s:?}");
        assert!(
            s.message().starts_with("as_of: implausible time"),
            "{}",
            s.message()
        );
        let s = c
            .record_consent(v1::RecordConsentRequest {
                person_id: "lead-stream-1".into(),
                contact: "+5511955554444".into(),
                channel: "sms".into(),
                consented_at: Some(ts(seconds)),
            })
            .await
            .expect_err("implausible consented_at");
        assert_eq!(s.code(), Code::InvalidArgument, "{seconds}: {s:?}");
        assert!(
            s.message().starts_with("consented_at: implausible time"),
            "{}",
            s.message()
        );
    }
    assert_eq!(
        live_outcomes(&mut c).await?,
        0,
        "nothing implausible recorded"
    );
    assert_eq!(server.terminate()?, Some(0));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_values_and_messages_get_the_right_codes() -> Result<()> {
    let (_dir, server, mut c) = serve(74).await?;
    // A 100 KB contact: INVALID_ARGUMENT naming the field, with a short message (a size limit
    // of the request, not a contact point's data to block and rank around).
    let huge = format!("+55 11 {}", "9".repeat(100_000));
    let s = c
        .rank(v1::RankRequest {
            person_id: "lead-huge".into(),
            contacts: vec![point(&huge, &[], "")],
            ..Default::default()
        })
        .await
        .expect_err("a 100 KB contact");
    assert_eq!(s.code(), Code::InvalidArgument, "{:.300}", s.message());
    assert!(
        s.message()
            .starts_with("contacts[0].contact: longer than 256 bytes"),
        "{:.300}",
        s.message()
    );
    assert!(s.message().len() < 300, "{} bytes", s.message().len());

    // A 10 MB message: RESOURCE_EXHAUSTED.
    let s = c
        .rank(v1::RankRequest {
            person_id: "x".repeat(10 << 20),
            ..Default::default()
        })
        .await
        .expect_err("10 MB");
    assert_eq!(s.code(), Code::ResourceExhausted, "{s:?}");
    assert_eq!(server.terminate()?, Some(0));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_current_keeps_serving_and_a_fixed_failure_clears() -> Result<()> {
    let sim = simulated(300, 21, 72)?;
    let dir = sim.dir.path();
    let (models, state) = (dir.join("models"), dir.join("state"));
    let v1 = train_into(&sim.attempts, Some(&sim.contacts), &models, sim.bad_rows)?;
    let server = ServerProc::start(&models, &state, &[])?;
    let mut c = server.client().await?;
    let reload = |c: &mut Client| {
        let mut c = c.clone();
        async move { c.reload_model(v1::ReloadModelRequest {}).await }
    };

    // CURRENT emptied (a tool that truncates before writing): the served model answers.
    std::fs::write(models.join("CURRENT"), "")?;
    let info = reload(&mut c).await?.into_inner();
    assert_eq!(info.version, v1);
    assert!(info.last_reload_error.contains("CURRENT"), "{info:?}");
    assert_eq!(health(&server, "").await?, SERVING);

    // A corrupt version fails to load and shows; pointing CURRENT back clears it.
    let broken = dir.join("models").join("v-broken");
    std::fs::create_dir(&broken)?;
    for e in std::fs::read_dir(models.join(&v1))? {
        let e = e?;
        std::fs::copy(e.path(), broken.join(e.file_name()))?;
    }
    std::fs::write(broken.join("state.bin"), b"garbage")?;
    std::fs::write(models.join("CURRENT"), "v-broken\n")?;
    let info = reload(&mut c).await?.into_inner();
    assert_eq!(
        (info.version.as_str(), info.failed_version.as_str()),
        (v1.as_str(), "v-broken")
    );
    std::fs::write(models.join("CURRENT"), format!("{v1}\n"))?;
    let info = reload(&mut c).await?.into_inner();
    assert_eq!(info.version, v1);
    assert_eq!(
        (
            info.failed_version.as_str(),
            info.last_reload_error.as_str()
        ),
        ("", "")
    );
    assert_eq!(server.terminate()?, Some(0));
    Ok(())
}
