//! PlanCampaign end to end through the real server: a list from the simulated contacts file is
//! planned under hourly capacity (shared and per channel); no slot exceeds its capacity, each
//! listed person is planned or listed as unplanned once, every planned attempt is one `Rank`
//! suggests for that hour with the very same probability, the answer is deterministic and
//! follows outcomes recorded live, lists larger than gRPC's default 4 MiB are accepted, bad
//! requests name their field, and a bad contact point only leaves that point out.

use std::collections::HashMap;

use anyhow::Result;
use contactscore_e2e::server::{ServerProc, train_into};
use contactscore_e2e::simulated;
use contactscore_proto::v1;
use tonic::Code;

use crate::common::*;

const HOUR: i64 = 3_600;

fn secs(t: &Option<prost_types::Timestamp>) -> i64 {
    t.as_ref().map_or(i64::MIN, |t| t.seconds)
}

/// The persons of a contacts file as Rank requests (their contact points, channels and zones).
fn list(contacts: &std::path::Path, max: usize) -> Result<Vec<v1::RankRequest>> {
    let mut r = csv::Reader::from_path(contacts)?;
    let mut order: Vec<String> = Vec::new();
    let mut by_id: HashMap<String, v1::RankRequest> = HashMap::new();
    for rec in r.records() {
        let rec = rec?;
        let id = rec[0].to_owned();
        if !by_id.contains_key(&id) {
            if order.len() == max {
                continue;
            }
            order.push(id.clone());
        }
        let channels: Vec<&str> = rec[2].split(';').filter(|c| !c.is_empty()).collect();
        by_id
            .entry(id.clone())
            .or_insert_with(|| v1::RankRequest {
                person_id: id,
                ..Default::default()
            })
            .contacts
            .push(point(&rec[1], &channels, &rec[3]));
    }
    Ok(order
        .into_iter()
        .filter_map(|id| by_id.remove(&id))
        .collect())
}

fn capacity(per_hour: u32) -> Vec<v1::SlotCapacity> {
    let mut c: Vec<v1::SlotCapacity> = (0..24)
        .map(|h| v1::SlotCapacity {
            slot_start: Some(ts(MONDAY + h * HOUR)),
            attempts: per_hour,
            channel: String::new(),
        })
        .collect();
    // Voice has its own, smaller line at 13:00Z (10:00 in São Paulo).
    c.push(v1::SlotCapacity {
        slot_start: Some(ts(MONDAY + 13 * HOUR)),
        attempts: 2,
        channel: "voice".into(),
    });
    c
}

fn request(persons: Vec<v1::RankRequest>, per_hour: u32) -> v1::PlanCampaignRequest {
    v1::PlanCampaignRequest {
        persons,
        window_start: Some(ts(MONDAY)),
        window_end: Some(ts(MONDAY + 24 * HOUR)),
        capacity: capacity(per_hour),
        attempts_per_person: 1,
        channels: Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_campaign_fills_capacity_with_what_rank_allows() -> Result<()> {
    let sim = simulated(800, 30, 13)?;
    let models = sim.dir.path().join("models");
    let version = train_into(&sim.attempts, Some(&sim.contacts), &models, sim.bad_rows)?;
    let server = ServerProc::start(&models, &sim.dir.path().join("state"), &[])?;
    let mut c = server.client().await?;

    let mut persons = list(&sim.contacts, 300)?;
    // Known only by id (planned over the contact points the server knows), unknown altogether,
    // and a newcomer with a number.
    let known = first_person(&sim.contacts)?;
    persons.retain(|p| p.person_id != known);
    persons.push(v1::RankRequest {
        person_id: known.clone(),
        ..Default::default()
    });
    persons.push(v1::RankRequest {
        person_id: "GHOST".into(),
        ..Default::default()
    });
    persons.push(v1::RankRequest {
        person_id: "NEWCOMER".into(),
        contacts: vec![point("+55 11 98888-7777", &["voice", "sms"], "")],
        timezone: "America/Sao_Paulo".into(),
        ..Default::default()
    });
    let n = persons.len();
    let req = request(persons, 8);
    let r = c.plan_campaign(req.clone()).await?.into_inner();
    assert_eq!(r.model_version, version);
    assert!(
        r.assignments.len() >= 100,
        "{} assignments",
        r.assignments.len()
    );
    assert!(
        r.expected_engaged > 0.0 && r.expected_engaged <= r.upper_bound,
        "{r:?}"
    );
    let sum: f64 = r
        .assignments
        .iter()
        .map(|a| a.suggestion.as_ref().map_or(0.0, |s| s.probability))
        .sum();
    assert!(
        (sum - r.expected_engaged).abs() < 1e-6,
        "one attempt each: the sum of probabilities"
    );

    // Capacity, slot order, each person once.
    let mut per_line: HashMap<(i64, bool), u32> = HashMap::new();
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut last = i64::MIN;
    for a in &r.assignments {
        let s = a.suggestion.as_ref().expect("suggestion");
        let start = secs(&s.slot_start);
        assert!(start >= last, "slot order");
        last = start;
        assert!((MONDAY..MONDAY + 24 * HOUR).contains(&start) && start % HOUR == 0);
        assert_eq!(secs(&s.slot_end) - start, HOUR);
        assert_eq!(a.attempt_index, 0);
        let own = s.channel == "voice" && start == MONDAY + 13 * HOUR;
        *per_line.entry((start, own)).or_default() += 1;
        *seen.entry(a.person_id.as_str()).or_default() += 1;
    }
    for ((start, own), used) in &per_line {
        assert!(*used <= if *own { 2 } else { 8 }, "{start} {own}: {used}");
    }
    assert!(seen.values().all(|&k| k == 1));
    for u in &r.unplanned {
        assert!(
            !seen.contains_key(u.person_id.as_str()),
            "{u:?} also planned"
        );
    }
    assert_eq!(
        seen.len() + r.unplanned.len(),
        n,
        "every person accounted for"
    );
    let reason = |id: &str| {
        r.unplanned
            .iter()
            .find(|u| u.person_id == id)
            .map(|u| u.reason.clone())
    };
    assert_eq!(reason("GHOST").as_deref(), Some("not_found"));
    assert!(
        r.unplanned.iter().any(|u| u.reason == "no_capacity"),
        "more persons than capacity: someone waits"
    );

    // Each planned attempt is what Rank suggests for that hour, with the same probability.
    for a in r.assignments.iter().step_by(7).take(25) {
        let s = a.suggestion.as_ref().expect("suggestion");
        let start = secs(&s.slot_start);
        let rank = c
            .rank(v1::RankRequest {
                person_id: a.person_id.clone(),
                contacts: vec![point(&s.contact, &[s.channel.as_str()], "")],
                as_of: Some(ts(start)),
                horizon_hours: 1,
                max_suggestions: 1,
                timezone: if a.person_id == "NEWCOMER" {
                    "America/Sao_Paulo".into()
                } else {
                    String::new()
                },
                ..Default::default()
            })
            .await?
            .into_inner();
        let top = rank
            .suggestions
            .first()
            .unwrap_or_else(|| panic!("{a:?}: Rank blocks it: {rank:?}"));
        assert_eq!(
            (secs(&top.slot_start), top.probability.to_bits()),
            (start, s.probability.to_bits()),
            "{a:?}"
        );
    }

    // Deterministic, and live outcomes count: an engagement puts its person in cool-down.
    assert_eq!(c.plan_campaign(req.clone()).await?.into_inner(), r);
    let first = r.assignments.first().expect("an assignment");
    let s = first.suggestion.as_ref().expect("suggestion");
    c.record_outcome(outcome(
        "plan-e2e-1",
        &first.person_id,
        &s.contact,
        &s.channel,
        MONDAY + 60,
        "right_party",
    ))
    .await?;
    let again = c.plan_campaign(req).await?.into_inner();
    assert!(
        again
            .assignments
            .iter()
            .all(|a| a.person_id != first.person_id)
    );
    assert_eq!(
        again
            .unplanned
            .iter()
            .find(|u| u.person_id == first.person_id)
            .map(|u| u.reason.as_str()),
        Some("no_allowed_slot")
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_campaign_takes_large_lists_and_names_bad_fields() -> Result<()> {
    let sim = simulated(300, 25, 17)?;
    let models = sim.dir.path().join("models");
    train_into(&sim.attempts, Some(&sim.contacts), &models, sim.bad_rows)?;
    let server = ServerProc::start(&models, &sim.dir.path().join("state"), &[])?;
    // The answer lists every person too: a client raises its own decoding limit as well.
    let mut c = server.client().await?.max_decoding_message_size(64 << 20);

    // 90 000 persons unknown to the server: a ≈ 5 MiB message, over gRPC's default 4 MiB.
    let ghosts = |n: usize| -> Vec<v1::RankRequest> {
        (0..n)
            .map(|i| v1::RankRequest {
                person_id: format!("unknown-person-with-a-long-id-{i:08}"),
                ..Default::default()
            })
            .collect()
    };
    let big = request(ghosts(90_000), 10);
    let r = c.plan_campaign(big).await?.into_inner();
    assert_eq!(r.unplanned.len(), 90_000);
    assert!(r.assignments.is_empty() && r.unplanned.iter().all(|u| u.reason == "not_found"));
    let too_many = c
        .plan_campaign(request(ghosts(100_001), 10))
        .await
        .expect_err("over the limit");
    assert_eq!(too_many.code(), Code::InvalidArgument);
    assert!(
        too_many.message().starts_with("persons:"),
        "{}",
        too_many.message()
    );

    let field = |e: tonic::Status| {
        assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
        e.message().split(':').next().unwrap_or_default().to_owned()
    };
    let person = |id: &str, contact: &str| v1::RankRequest {
        person_id: id.into(),
        contacts: vec![point(contact, &[], "")],
        ..Default::default()
    };
    let ok = || {
        request(
            vec![
                person("P1", "+5511987654321"),
                person("P2", "+5511912345678"),
            ],
            5,
        )
    };
    let mut r = ok();
    r.window_end = Some(ts(MONDAY - HOUR));
    assert_eq!(
        field(c.plan_campaign(r).await.expect_err("window")),
        "window_end"
    );
    let mut r = ok();
    r.capacity[1].slot_start = Some(ts(MONDAY + HOUR + 60));
    assert_eq!(
        field(c.plan_campaign(r).await.expect_err("off the hour")),
        "capacity[1].slot_start"
    );
    let mut r = ok();
    r.capacity[2].channel = "fax".into();
    assert_eq!(
        field(c.plan_campaign(r).await.expect_err("channel")),
        "capacity[2].channel"
    );
    let mut r = ok();
    r.persons.push(person("P1", "+5511955554444"));
    assert_eq!(
        field(c.plan_campaign(r).await.expect_err("twice")),
        "persons[2].person_id"
    );
    // Instants are checked for plausibility like every instant the server takes.
    let mut r = ok();
    r.window_start = Some(ts(0));
    assert_eq!(
        field(c.plan_campaign(r).await.expect_err("1970")),
        "window_start"
    );
    let mut r = ok();
    r.capacity[0].slot_start = Some(ts(4_070_908_800)); // 2099
    let e = c.plan_campaign(r).await.expect_err("2099");
    assert!(e.message().contains("implausible time"), "{e:?}");
    assert_eq!(field(e), "capacity[0].slot_start");
    // As in Rank, a contact point that cannot be read or names an unknown zone does not fail
    // the request: it is left out of its person's options, and a person left with none is
    // unplanned with all_contacts_blocked.
    let mut r = ok();
    r.persons[1].contacts[0].contact = "not a number".into();
    r.persons.push(v1::RankRequest {
        person_id: "P3".into(),
        contacts: vec![
            point("+5511955554444", &[], "Mars/Olympus_Mons"),
            point("+5511933332222", &["sms"], ""),
        ],
        ..Default::default()
    });
    r.persons.push(v1::RankRequest {
        person_id: "P4".into(),
        contacts: vec![point("+5511944443333", &[], "Mars/Olympus_Mons")],
        ..Default::default()
    });
    let answer = c.plan_campaign(r).await?.into_inner();
    let reason = |id: &str| {
        answer
            .unplanned
            .iter()
            .find(|u| u.person_id == id)
            .map(|u| u.reason.as_str())
    };
    assert_eq!(reason("P2"), Some("all_contacts_blocked"), "{answer:?}");
    assert_eq!(reason("P4"), Some("all_contacts_blocked"), "{answer:?}");
    let p3: Vec<&str> = answer
        .assignments
        .iter()
        .filter(|a| a.person_id == "P3")
        .filter_map(|a| a.suggestion.as_ref().map(|s| s.contact.as_str()))
        .collect();
    assert_eq!(p3, ["+5511933332222"], "{answer:?}");
    let mut r = ok();
    r.channels = vec!["pigeon".into()];
    assert_eq!(
        field(c.plan_campaign(r).await.expect_err("channels")),
        "channels[0]"
    );
    let mut r = ok();
    r.attempts_per_person = 99;
    assert_eq!(
        field(c.plan_campaign(r).await.expect_err("attempts")),
        "attempts_per_person"
    );
    // as_of, horizon_hours and max_suggestions of the list's entries are ignored.
    let mut r = ok();
    r.persons[0].horizon_hours = 100_000;
    r.persons[0].max_suggestions = 1;
    assert!(c.plan_campaign(r).await.is_ok());
    Ok(())
}
