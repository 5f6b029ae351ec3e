//! End to end: re-consent lifts an opt-out from the training history, keeps it lifted across a
//! restart, a newer model's snapshot and an older opt-out reported live, yields to a newer
//! opt-out, and is erased with the person.

use anyhow::{Context, Result};
use contactscore_e2e::server::{ServerProc, train_into};
use contactscore_e2e::simulated;
use contactscore_models::localtime::DAY;
use contactscore_proto::v1;
use tonic::Code;
use tonic::transport::Channel;

use crate::common::*;

/// The last opt-out in the history: (person, channel, instant), and the history's end.
fn last_opt_out(attempts: &std::path::Path) -> Result<((String, String, i64), i64)> {
    let mut r = csv::Reader::from_path(attempts)?;
    let (mut found, mut end) = (None, i64::MIN);
    for rec in r.records() {
        let rec = rec?;
        if rec[0].starts_with(['M', 'I']) {
            continue; // the simulator's malformed and implausible rows: not attempts
        }
        let at = rec[4].parse::<jiff::Timestamp>()?.as_second();
        end = end.max(at);
        if &rec[5] == "opt_out" && found.as_ref().is_none_or(|(_, _, t)| at > *t) {
            found = Some((rec[1].to_owned(), rec[3].to_owned(), at));
        }
    }
    Ok((found.context("the simulator produced no opt_out")?, end))
}

type Client = v1::contact_scoring_client::ContactScoringClient<Channel>;

/// Blocked reasons of `person` on `channel` at `as_of`, per contact.
async fn blocked(
    c: &mut Client,
    person: &str,
    channel: &str,
    as_of: i64,
) -> Result<Vec<(String, String)>> {
    let r = c
        .rank(v1::RankRequest {
            person_id: person.into(),
            channels: vec![channel.into()],
            as_of: Some(ts(as_of)),
            ..Default::default()
        })
        .await?
        .into_inner();
    Ok(r.blocked
        .into_iter()
        .map(|b| (b.contact, b.reason))
        .collect())
}

fn opted_out(blocked: &[(String, String)], contact: &str) -> bool {
    blocked
        .iter()
        .any(|(c, r)| c == contact && r == "opted_out")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn re_consent_lifts_an_opt_out_until_a_newer_one() -> Result<()> {
    let sim = simulated(600, 21, 41)?;
    let dir = sim.dir.path();
    let ((person, channel, opted_at), end) = last_opt_out(&sim.attempts)?;
    let (models, state) = (dir.join("models"), dir.join("state"));
    let v1 = train_into(&sim.attempts, Some(&sim.contacts), &models, sim.bad_rows)?;
    let server = ServerProc::start(&models, &state, &[])?;
    let mut c = server.client().await?;
    let as_of = end + DAY;

    // The snapshot holds the opt-out; find the (normalised) contact it is on.
    let before = blocked(&mut c, &person, &channel, as_of).await?;
    let contact = before
        .iter()
        .find(|(_, r)| r == "opted_out")
        .map(|(c, _)| c.clone())
        .with_context(|| format!("no opted_out block for the person: {before:?}"))?;

    let consent = |at: i64| v1::RecordConsentRequest {
        person_id: person.clone(),
        contact: contact.clone(),
        channel: channel.clone(),
        consented_at: Some(ts(at)),
    };
    // Consent dated before the opt-out lifts nothing (and is rejected for a bad channel).
    assert!(
        !c.record_consent(consent(opted_at - 60))
            .await?
            .into_inner()
            .lifted
    );
    assert!(opted_out(
        &blocked(&mut c, &person, &channel, as_of).await?,
        &contact
    ));
    let mut bad = consent(end);
    bad.channel = "fax".into();
    let err = c.record_consent(bad).await.expect_err("unknown channel");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("channel"), "{}", err.message());

    let consented_at = end + 3_600;
    assert!(
        c.record_consent(consent(consented_at))
            .await?
            .into_inner()
            .lifted
    );
    assert!(!opted_out(
        &blocked(&mut c, &person, &channel, as_of).await?,
        &contact
    ));
    // An opt-out dated before the consent, reported late, does not bring it back.
    let late = outcome(
        "late-opt",
        &person,
        &contact,
        &channel,
        consented_at - DAY,
        "opt_out",
    );
    assert!(c.record_outcome(late).await?.into_inner().recorded);
    assert!(!opted_out(
        &blocked(&mut c, &person, &channel, as_of).await?,
        &contact
    ));

    // Nor does a crash, nor a newer model whose snapshot holds the old opt-out again.
    server.kill()?;
    let server = ServerProc::start(&models, &state, &[])?;
    let mut c = server.client().await?;
    assert!(!opted_out(
        &blocked(&mut c, &person, &channel, as_of).await?,
        &contact
    ));
    let v2 = train_into(&sim.attempts, Some(&sim.contacts), &models, sim.bad_rows)?;
    let info = c
        .reload_model(v1::ReloadModelRequest {})
        .await?
        .into_inner();
    assert_eq!(info.version, v2);
    assert_ne!(v1, v2);
    assert!(!opted_out(
        &blocked(&mut c, &person, &channel, as_of).await?,
        &contact
    ));

    // Opting out again after the consent stands.
    let again = outcome(
        "again-opt",
        &person,
        &contact,
        &channel,
        consented_at + 60,
        "opt_out",
    );
    assert!(c.record_outcome(again).await?.into_inner().recorded);
    assert!(opted_out(
        &blocked(&mut c, &person, &channel, as_of).await?,
        &contact
    ));

    // Erasure takes the consent with it.
    assert!(
        c.forget_person(v1::ForgetPersonRequest {
            person_id: person.clone()
        })
        .await?
        .into_inner()
        .existed
    );
    let text = std::fs::read_to_string(state.join("consents.jsonl"))?;
    assert!(!text.contains(&format!("\"{person}\"")), "{text}");
    assert_eq!(server.terminate()?, Some(0));
    Ok(())
}
