//! End to end: once a newer model version is live, live outcomes its snapshot covers leave the
//! journal (bounded `outcomes.jsonl`), their ids still answer repeats as duplicates — also after
//! a crash and restart — and everything newer is kept and replayed. (Forgetting ids once their
//! window, counted from when they were recorded, has passed is covered by the journal's unit
//! tests.)

use anyhow::Result;
use contactscore_e2e::server::{ServerProc, train_into};
use contactscore_e2e::{simulated, split_by_time};
use contactscore_models::localtime::DAY;
use contactscore_proto::v1;

use crate::common::*;

fn journal_ids(state: &std::path::Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(state.join("outcomes.jsonl"))?;
    let mut ids = Vec::new();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line)?;
        ids.push(v["attempt_id"].as_str().unwrap_or_default().to_owned());
    }
    ids.sort();
    Ok(ids)
}

/// The served version and the live outcomes held, from a `ModelInfo`.
fn served(info: &v1::ModelInfo) -> (String, u64) {
    (info.version.clone(), info.live_outcomes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn covered_outcomes_retire_and_their_ids_stay_duplicates() -> Result<()> {
    let sim = simulated(400, 30, 31)?;
    let start = contactscore_trainer::simulate::SimulateParams::default()
        .start
        .as_second();
    let dir = sim.dir.path();
    let (early, rest) = (dir.join("early.csv"), dir.join("rest.csv"));
    split_by_time(&sim.attempts, start + 10 * DAY, &early, &rest)?;
    let (models, state) = (dir.join("models"), dir.join("state"));
    let config = dir.join("server.toml");
    std::fs::write(
        &config,
        "live_outcome_retention_days = 3\nattempt_id_retention_days = 1\n",
    )?;
    let args = ["--config", config.to_str().unwrap_or_default()];

    let v1_id = train_into(&early, Some(&sim.contacts), &models, sim.bad_rows)?;
    let server = ServerProc::start(&models, &state, &args)?;
    let mut c = server.client().await?;
    // Recorded while v1 (cutoff ≈ day 10) is served. v2 will be trained on all 30 days, so
    // with a 3-day window days 2 and 25 retire, days 29 and 40 stay in the journal. The ids
    // are remembered for a day after being recorded (now), however old the attempts.
    let record = |id: &'static str, day: i64| {
        outcome(
            id,
            "lead-retention",
            "+5511955554444",
            "voice",
            start + day * DAY,
            "no_answer",
        )
    };
    for (id, day) in [("old", 2), ("mid", 25), ("new", 29), ("late", 40)] {
        let r = c.record_outcome(record(id, day)).await?.into_inner();
        assert!(r.recorded, "{id}");
    }
    let info = c
        .get_model_info(v1::GetModelInfoRequest {})
        .await?
        .into_inner();
    assert_eq!(served(&info), (v1_id.clone(), 4));
    // Nothing retires on v1's own records: a restart on v1 replays them all.
    assert_eq!(journal_ids(&state)?, ["late", "mid", "new", "old"]);

    let v2_id = train_into(&sim.attempts, Some(&sim.contacts), &models, sim.bad_rows)?;
    let info = c
        .reload_model(v1::ReloadModelRequest {})
        .await?
        .into_inner();
    assert_eq!(served(&info), (v2_id.clone(), 2));
    assert_eq!(journal_ids(&state)?, ["late", "new"]);
    let retired = std::fs::read_to_string(state.join("retired_ids.txt"))?;
    assert_eq!(retired.lines().count(), 2, "{retired}");
    assert!(!retired.contains("mid"), "ids are kept as digests only");

    for (id, day) in [("old", 2), ("mid", 25), ("new", 29)] {
        let r = c.record_outcome(record(id, day)).await?.into_inner();
        assert!(!r.recorded, "{id} is a duplicate");
    }
    server.kill()?;

    // After a crash the retired ids are still duplicates and nothing kept is lost.
    let server = ServerProc::start(&models, &state, &args)?;
    let mut c = server.client().await?;
    let info = c
        .get_model_info(v1::GetModelInfoRequest {})
        .await?
        .into_inner();
    assert_eq!(served(&info), (v2_id.clone(), 2));
    for (id, day) in [("old", 2), ("mid", 25), ("late", 40)] {
        let r = c.record_outcome(record(id, day)).await?.into_inner();
        assert!(!r.recorded, "{id} is a duplicate after a restart");
    }
    assert_eq!(journal_ids(&state)?, ["late", "new"]);
    assert_eq!(server.terminate()?, Some(0));
    Ok(())
}
