//! End to end: contact-rule evidence reported late — dated before the served snapshot's
//! training cutoff, as dialers report — survives a new version whose export lacks it, the
//! journal's retention, a crash, a rollback of `CURRENT`, and a version whose export does hold it.
//! Ordinary outcomes keep the old rules (trusted to the export, retired after the window).

use std::path::Path;

use anyhow::Result;
use contactscore_e2e::server::{ServerProc, train_into};
use contactscore_e2e::{simulated, split_by_time};
use contactscore_models::Outcome;
use contactscore_models::artifact::Registry;
use contactscore_models::localtime::DAY;
use contactscore_proto::v1;
use tonic::transport::Channel;

use crate::common::*;

const PERSON: &str = "lead-late";
/// Opted out on voice, late.
const A: &str = "+5511955554444";
/// Reported as a wrong party, late.
const B: &str = "+5511955553333";

type Client = v1::contact_scoring_client::ContactScoringClient<Channel>;

/// (contact, channel, reason) of every blocked pair of the person at `as_of`.
async fn blocked(c: &mut Client, as_of: i64) -> Result<Vec<(String, String, String)>> {
    let r = c
        .rank(v1::RankRequest {
            person_id: PERSON.into(),
            contacts: vec![point(A, &["voice", "sms"], ""), point(B, &["voice"], "")],
            as_of: Some(ts(as_of)),
            ..Default::default()
        })
        .await?
        .into_inner();
    let mut out: Vec<_> = r
        .blocked
        .into_iter()
        .map(|b| (b.contact, b.channel, b.reason))
        .collect();
    out.sort();
    Ok(out)
}

fn suppressed() -> Vec<(String, String, String)> {
    vec![
        (B.into(), "voice".into(), "wrong_party".into()),
        (A.into(), "voice".into(), "opted_out".into()),
    ]
}

fn journal_ids(state: &Path) -> Result<Vec<String>> {
    let mut ids = Vec::new();
    for line in std::fs::read_to_string(state.join("outcomes.jsonl"))?.lines() {
        let v: serde_json::Value = serde_json::from_str(line)?;
        ids.push(v["attempt_id"].as_str().unwrap_or_default().to_owned());
    }
    ids.sort();
    Ok(ids)
}

fn rfc3339(t: i64) -> Result<String> {
    Ok(jiff::Timestamp::from_second(t)?.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_rule_evidence_survives_new_versions_retention_crashes_and_rollbacks() -> Result<()> {
    let sim = simulated(400, 30, 51)?;
    let start = contactscore_trainer::simulate::SimulateParams::default()
        .start
        .as_second();
    let dir = sim.dir.path();
    let (early, rest) = (dir.join("early.csv"), dir.join("rest.csv"));
    split_by_time(&sim.attempts, start + 10 * DAY, &early, &rest)?;
    let (models, state) = (dir.join("models"), dir.join("state"));
    // A short window, so that the late records are far outside it once v2 is live.
    let config = dir.join("server.toml");
    std::fs::write(
        &config,
        "live_outcome_retention_days = 3\nattempt_id_retention_days = 1\n",
    )?;
    let args = ["--config", config.to_str().unwrap_or_default()];

    let v1 = train_into(&early, Some(&sim.contacts), &models, sim.bad_rows)?;
    let server = ServerProc::start(&models, &state, &args)?;
    let mut c = server.client().await?;
    // Reported while v1 is served, dated day 8: before v1's cutoff (≈ day 10) and far before
    // v2's (≈ day 30), and in neither export.
    let late = start + 8 * DAY;
    for (id, contact, what) in [
        ("late-opt", A, "opt_out"),
        ("late-wrong", B, "wrong_party"),
        ("late-plain", A, "no_answer"),
    ] {
        let r = c
            .record_outcome(outcome(id, PERSON, contact, "voice", late, what))
            .await?
            .into_inner();
        assert!(r.recorded, "{id}");
    }
    let as_of = start + 31 * DAY;
    assert_eq!(blocked(&mut c, as_of).await?, suppressed(), "on v1");

    // v2 is trained on an export that lacks them: the rule evidence is replayed onto it anyway,
    // and stays in the journal past the retention window; the ordinary outcome retires.
    let v2 = train_into(&sim.attempts, Some(&sim.contacts), &models, sim.bad_rows)?;
    let info = c
        .reload_model(v1::ReloadModelRequest {})
        .await?
        .into_inner();
    assert_eq!(info.version, v2);
    assert_eq!(blocked(&mut c, as_of).await?, suppressed(), "on v2");
    assert_eq!(journal_ids(&state)?, ["late-opt", "late-wrong"]);
    server.kill()?;

    // After a crash, on v2.
    let server = ServerProc::start(&models, &state, &args)?;
    let mut c = server.client().await?;
    assert_eq!(blocked(&mut c, as_of).await?, suppressed(), "after a crash");

    // Rolled back to v1, and forward again.
    let registry = Registry::open(&models)?;
    registry.promote(&v1)?;
    let info = c
        .reload_model(v1::ReloadModelRequest {})
        .await?
        .into_inner();
    assert_eq!(info.version, v1);
    assert_eq!(blocked(&mut c, as_of).await?, suppressed(), "rolled back");
    registry.promote(&v2)?;
    c.reload_model(v1::ReloadModelRequest {}).await?;
    assert_eq!(blocked(&mut c, as_of).await?, suppressed(), "forward again");

    // v3's export holds the late reports: its evidence lists them, and the pairs stay blocked
    // from its own snapshot.
    let mut text = std::fs::read_to_string(&sim.attempts)?;
    for (id, contact, what) in [("late-opt", A, "opt_out"), ("late-wrong", B, "wrong_party")] {
        text.push_str(&format!(
            "{id},{PERSON},{contact},voice,{},{what},,\n",
            rfc3339(late)?
        ));
    }
    let complete = dir.join("complete.csv");
    std::fs::write(&complete, text)?;
    let v3 = train_into(&complete, Some(&sim.contacts), &models, sim.bad_rows)?;
    let evidence = registry.load(Some(&v3))?.evidence;
    assert!(evidence.contains("late-opt", Outcome::OptOut));
    assert!(evidence.contains("late-wrong", Outcome::WrongParty));
    assert!(
        !registry
            .load(Some(&v2))?
            .evidence
            .contains("late-opt", Outcome::OptOut)
    );
    let info = c
        .reload_model(v1::ReloadModelRequest {})
        .await?
        .into_inner();
    assert_eq!(info.version, v3);
    assert_eq!(blocked(&mut c, as_of).await?, suppressed(), "on v3");
    assert_eq!(server.terminate()?, Some(0));
    Ok(())
}
