//! Idempotency of RecordOutcome under concurrency and cancellation, through the real server: an
//! answer of "already recorded" is only given once the outcome is durable and applied, so after
//! *any* successful RecordOutcome the next Rank reflects the outcome, even when the first copy's
//! call was cancelled half-way.

use anyhow::Result;
use contactscore_e2e::server::{ServerProc, train_into};
use contactscore_e2e::simulated;
use contactscore_proto::v1;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copies_of_one_attempt_id_record_once_and_cancelled_calls_lose_nothing() -> Result<()> {
    let sim = simulated(400, 30, 23)?;
    let models = sim.dir.path().join("models");
    train_into(&sim.attempts, Some(&sim.contacts), &models, sim.bad_rows)?;
    let server = ServerProc::start(&models, &sim.dir.path().join("state"), &[])?;
    let c = server.client().await?;

    // 16 concurrent copies of one attempt: exactly one is recorded, every call succeeds.
    let calls: Vec<_> = (0..16)
        .map(|_| {
            let mut c = c.clone();
            tokio::spawn(async move {
                c.record_outcome(outcome(
                    "dup-1",
                    "dup-person",
                    "+5511987650001",
                    "voice",
                    MONDAY,
                    "no_answer",
                ))
                .await
            })
        })
        .collect();
    let mut recorded = 0;
    for call in calls {
        recorded += usize::from(call.await??.into_inner().recorded);
    }
    assert_eq!(recorded, 1);

    // A stream carrying the same new id three times records it once.
    let batch: Vec<_> = (0..3)
        .map(|_| {
            outcome(
                "dup-2",
                "dup-person",
                "+5511987650001",
                "sms",
                MONDAY,
                "no_answer",
            )
        })
        .collect();
    let counts = c
        .clone()
        .record_outcomes(tokio_stream::iter(batch))
        .await?
        .into_inner();
    assert_eq!((counts.recorded, counts.duplicates), (1, 2));

    // Cancel the first copy of an `invalid` report at varying points, then send it again: once
    // the second call succeeds, the number must be blocked on voice, whichever copy wrote it.
    for i in 0..24u32 {
        let person = format!("cancel-{i}");
        let number = format!("+55119876{:05}", 10_000 + i);
        let report = outcome(
            &format!("cancel-att-{i}"),
            &person,
            &number,
            "voice",
            MONDAY + 3_600,
            "invalid",
        );
        let mut first_client = c.clone();
        let first_report = report.clone();
        let first = tokio::spawn(async move { first_client.record_outcome(first_report).await });
        for _ in 0..(i % 6) {
            tokio::task::yield_now().await;
        }
        first.abort();
        let _ = first.await; // cancelled, or finished before the abort: either is fine
        c.clone().record_outcome(report).await?;

        let r = c
            .clone()
            .rank(v1::RankRequest {
                person_id: person.clone(),
                contacts: vec![point(&number, &["voice", "sms"], "")],
                as_of: Some(ts(MONDAY + 2 * 3_600)),
                horizon_hours: 48,
                ..Default::default()
            })
            .await?
            .into_inner();
        let voice = r
            .blocked
            .iter()
            .find(|b| b.contact == number && b.channel == "voice");
        assert!(
            voice.is_some_and(|b| b.reason == "invalid_recent"),
            "{person}: voice not blocked after the report was acknowledged: {r:?}"
        );
        assert!(
            !r.suggestions.iter().any(|s| s.channel == "voice"),
            "{person}: {r:?}"
        );
    }
    Ok(())
}
