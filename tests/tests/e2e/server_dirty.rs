//! End to end: real contact data never breaks a decision. A Rank mixing an unreadable contact
//! point, one in an unknown zone, numbers outside libphonenumber's ranges and valid numbers is
//! answered with suggestions and the right `blocked` entries (one at a time and on a stream);
//! outcomes on numbers outside the ranges are recorded; and a carrier validation `inactive`
//! blocks its number at once, after a crash and restart, and after a reload to a new model,
//! until an `active` one, and is erased with the person.

use std::collections::BTreeSet;

use anyhow::Result;
use contactscore_e2e::server::{ServerProc, train_into};
use contactscore_e2e::simulated;
use contactscore_models::localtime::DAY;
use contactscore_proto::v1;
use tonic::Code;
use tonic::transport::Channel;

use crate::common::*;

type Client = v1::contact_scoring_client::ContactScoringClient<Channel>;

const VALID: &str = "+5511987654321";
const UNLISTED_BR: &str = "+5520987654321";
const UNLISTED_PT: &str = "+351230676310";

/// The (contact, channel, reason) of every blocked entry.
fn blocked(r: &v1::RankResponse) -> BTreeSet<(String, String, String)> {
    r.blocked
        .iter()
        .map(|b| (b.contact.clone(), b.channel.clone(), b.reason.clone()))
        .collect()
}

fn entries(items: &[(&str, &str, &str)]) -> BTreeSet<(String, String, String)> {
    items
        .iter()
        .map(|(c, ch, r)| ((*c).to_owned(), (*ch).to_owned(), (*r).to_owned()))
        .collect()
}

fn suggested(r: &v1::RankResponse) -> BTreeSet<String> {
    r.suggestions.iter().map(|s| s.contact.clone()).collect()
}

fn mixture() -> v1::RankRequest {
    v1::RankRequest {
        person_id: "lead-mixed".into(),
        contacts: vec![
            point("N/A", &[], ""),
            point("+55 (20) 98765-4321", &["voice", "sms"], ""),
            point(VALID, &["voice", "sms"], ""),
            point("(11) 91234-5678", &["voice"], "Mars/Base"),
            point("ana@", &[], ""),
            point("+351 230 676 310", &["voice"], "Europe/Lisbon"),
        ],
        as_of: Some(ts(MONDAY + 12 * 3_600)),
        horizon_hours: 48,
        max_suggestions: 10,
        ..Default::default()
    }
}

fn want_blocked() -> BTreeSet<(String, String, String)> {
    entries(&[
        ("N/A", "voice", "unparseable_contact"),
        ("N/A", "sms", "unparseable_contact"),
        ("N/A", "whatsapp", "unparseable_contact"),
        ("ana@", "email", "unparseable_contact"),
        ("+5511912345678", "voice", "unknown_timezone"),
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_bad_contact_point_never_stops_the_ranking() -> Result<()> {
    let sim = simulated(600, 21, 51)?;
    let dir = sim.dir.path();
    let models = dir.join("models");
    train_into(&sim.attempts, Some(&sim.contacts), &models, sim.bad_rows)?;
    let server = ServerProc::start(&models, &dir.join("state"), &[])?;
    let mut c = server.client().await?;

    let r = c.rank(mixture()).await?.into_inner();
    assert_eq!(blocked(&r), want_blocked(), "{:?}", r.blocked);
    // Valid numbers and numbers outside the ranges are ranked (the policy does not block the
    // latter by default), each on its channels.
    assert_eq!(
        suggested(&r),
        [VALID, UNLISTED_BR, UNLISTED_PT]
            .map(str::to_owned)
            .into_iter()
            .collect()
    );
    assert_eq!(r.suggestions.len(), 5, "{:?}", r.suggestions);
    for s in &r.suggestions {
        let unlisted = s.contact != VALID;
        assert_eq!(
            s.reasons.iter().any(|x| x == "unlisted_number"),
            unlisted,
            "{s:?}"
        );
    }

    // The same on a stream, next to a plain request: both answered, in order.
    let plain = v1::RankRequest {
        person_id: "lead-plain".into(),
        contacts: vec![point(VALID, &["sms"], "")],
        ..mixture()
    };
    let mut out = c
        .rank_stream(tokio_stream::iter([mixture(), plain]))
        .await?
        .into_inner();
    let first = out.message().await?.expect("first answer");
    assert_eq!(blocked(&first), want_blocked());
    let second = out.message().await?.expect("second answer");
    assert_eq!(second.person_id, "lead-plain");
    assert!(out.message().await?.is_none());

    // Only bad contact points: nothing to suggest, every one explained, no error.
    let r = c
        .rank(v1::RankRequest {
            contacts: vec![point("N/A", &["sms"], "")],
            ..mixture()
        })
        .await?
        .into_inner();
    assert!(r.suggestions.is_empty());
    assert_eq!(
        blocked(&r),
        entries(&[("N/A", "sms", "unparseable_contact")])
    );

    // Outcomes on a number outside the ranges are recorded, and the rules apply to it.
    let o = outcome(
        "dirty-1",
        "lead-mixed",
        "+55 (20) 98765-4321",
        "voice",
        MONDAY,
        "invalid",
    );
    assert!(c.record_outcome(o).await?.into_inner().recorded);
    let r = c.rank(mixture()).await?.into_inner();
    assert!(
        blocked(&r).contains(&(
            UNLISTED_BR.to_owned(),
            "voice".to_owned(),
            "invalid_recent".to_owned()
        )),
        "{:?}",
        r.blocked
    );
    drop(c);
    assert_eq!(server.terminate()?, Some(0));

    // With block_invalid_numbers, numbers outside the ranges are blocked instead.
    let config = dir.join("server.toml");
    std::fs::write(&config, "[policy]\nblock_invalid_numbers = true\n")?;
    let strict = ServerProc::start(
        &models,
        &dir.join("state-strict"),
        &["--config", config.to_str().unwrap_or_default()],
    )?;
    let mut c = strict.client().await?;
    let r = c.rank(mixture()).await?.into_inner();
    assert_eq!(suggested(&r), BTreeSet::from([VALID.to_owned()]));
    let mut want = want_blocked();
    want.extend(entries(&[
        (UNLISTED_BR, "voice", "invalid_number"),
        (UNLISTED_BR, "sms", "invalid_number"),
        (UNLISTED_PT, "voice", "invalid_number"),
    ]));
    assert_eq!(blocked(&r), want);
    Ok(())
}

/// Whether `contact` is blocked as validated inactive on voice for `person` (both numbers asked).
async fn inactive(c: &mut Client, person: &str, contact: &str) -> Result<bool> {
    let r = c
        .rank(v1::RankRequest {
            person_id: person.into(),
            contacts: vec![
                point(VALID, &["voice", "sms"], ""),
                point(UNLISTED_BR, &["voice"], ""),
            ],
            as_of: Some(ts(MONDAY + 2 * DAY)),
            horizon_hours: 48,
            ..Default::default()
        })
        .await?
        .into_inner();
    let is = blocked(&r).contains(&(
        contact.to_owned(),
        "voice".to_owned(),
        "validated_inactive".to_owned(),
    ));
    // Never both: a number is either blocked or suggested.
    assert_ne!(is, suggested(&r).contains(contact), "{contact}: {r:?}");
    Ok(is)
}

fn validation(person: &str, contact: &str, status: &str, at: i64) -> v1::RecordValidationRequest {
    v1::RecordValidationRequest {
        person_id: person.into(),
        contact: contact.into(),
        status: status.into(),
        validated_at: Some(ts(at)),
        line_type: "mobile".into(),
        carrier: "Vivo".into(),
        ported: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inactive_validation_blocks_at_once_after_a_restart_and_after_a_reload() -> Result<()> {
    let sim = simulated(600, 21, 52)?;
    let dir = sim.dir.path();
    let (models, state) = (dir.join("models"), dir.join("state"));
    let v1_id = train_into(&sim.attempts, Some(&sim.contacts), &models, sim.bad_rows)?;
    let server = ServerProc::start(&models, &state, &[])?;
    let mut c = server.client().await?;
    let person = "val-1";
    assert!(!inactive(&mut c, person, VALID).await?);

    // Bad values are INVALID_ARGUMENT naming the field.
    let cases = [
        (validation("", VALID, "inactive", MONDAY), "person_id"),
        (validation(person, "N/A", "inactive", MONDAY), "contact"),
        (
            validation(person, "ana@example.com", "inactive", MONDAY),
            "contact",
        ),
        (validation(person, VALID, "", MONDAY), "status"),
        (validation(person, VALID, "dead", MONDAY), "status"),
        (
            validation(person, VALID, "inactive", 4_000_000_000),
            "validated_at",
        ),
        (
            v1::RecordValidationRequest {
                line_type: "fax".into(),
                ..validation(person, VALID, "inactive", MONDAY)
            },
            "line_type",
        ),
    ];
    for (req, field) in cases {
        let err = c.record_validation(req).await.expect_err(field);
        assert_eq!(
            err.code(),
            Code::InvalidArgument,
            "{field}: {}",
            err.message()
        );
        assert!(
            err.message().starts_with(field),
            "{field}: {}",
            err.message()
        );
    }
    assert!(!inactive(&mut c, person, VALID).await?);

    // Inactive: blocked at once; the same call again changes nothing.
    let dead = validation(person, VALID, "inactive", MONDAY);
    assert!(
        c.record_validation(dead.clone())
            .await?
            .into_inner()
            .recorded
    );
    assert!(!c.record_validation(dead).await?.into_inner().recorded);
    assert!(inactive(&mut c, person, VALID).await?);
    // The person's other number is still suggested.
    assert!(!inactive(&mut c, person, UNLISTED_BR).await?);
    // A number outside the ranges can be validated too.
    let other = validation(person, "+55 20 98765-4321", "inactive", MONDAY);
    assert!(c.record_validation(other).await?.into_inner().recorded);
    assert!(inactive(&mut c, person, UNLISTED_BR).await?);
    drop(c);

    // A crash: the validations come back from the state directory.
    server.kill()?;
    let server = ServerProc::start(&models, &state, &[])?;
    let mut c = server.client().await?;
    assert!(inactive(&mut c, person, VALID).await?);

    // A new model's snapshot: applied again after the reload.
    let v2_id = train_into(&sim.attempts, Some(&sim.contacts), &models, sim.bad_rows)?;
    let info = c
        .reload_model(v1::ReloadModelRequest {})
        .await?
        .into_inner();
    assert_eq!(info.version, v2_id);
    assert_ne!(v1_id, v2_id);
    assert!(inactive(&mut c, person, VALID).await?);

    // An older active validation does not lift it; a newer one does.
    let old = validation(person, VALID, "active", MONDAY - 60);
    assert!(c.record_validation(old).await?.into_inner().recorded);
    assert!(inactive(&mut c, person, VALID).await?);
    let alive = validation(person, VALID, "active", MONDAY + 60);
    assert!(c.record_validation(alive).await?.into_inner().recorded);
    assert!(!inactive(&mut c, person, VALID).await?);
    // The other number stays blocked until an engagement after its validation.
    assert!(inactive(&mut c, person, UNLISTED_BR).await?);
    let engaged = outcome(
        "val-rp",
        person,
        UNLISTED_BR,
        "voice",
        MONDAY + 3_600,
        "right_party",
    );
    assert!(c.record_outcome(engaged).await?.into_inner().recorded);
    assert!(!inactive(&mut c, person, UNLISTED_BR).await?);

    // Erasure takes the validations with it.
    let f = c
        .forget_person(v1::ForgetPersonRequest {
            person_id: person.into(),
        })
        .await?
        .into_inner();
    assert!(f.existed);
    let text = std::fs::read_to_string(state.join("validations.jsonl"))?;
    assert!(!text.contains(&format!("\"{person}\"")), "{text}");
    drop(c);
    assert_eq!(server.terminate()?, Some(0));
    Ok(())
}
