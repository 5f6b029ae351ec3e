//! Tests of what makes the simulated export dirty: numbers outside the metadata's ranges (kept by
//! ingest, mostly dead), carrier lookups that follow the lines' true state, malformed rows that
//! are exactly the bad rows ingest skips, and implausible times that ingest names as such.

use contactscore_models::localtime::DAY;
use contactscore_models::{ContactNormalizer, ValidationStatus};

use super::behaviour::{Lifecycle, LineState};
use super::contacts::Point;
use super::params::WorldParams;
use super::world;
use super::{SimulateParams, simulate};
use crate::TrainerError;
use crate::ingest::{DispositionMap, IngestOptions, InputPaths, ingest};

fn opts(max_bad_rows: u64) -> IngestOptions {
    IngestOptions {
        normalizer: ContactNormalizer::new("BR").expect("BR"),
        max_bad_rows,
        dispositions: DispositionMap::default(),
        progress: false,
        now: IngestOptions::now(),
        threads: crate::threads::Threads::ONE,
        shard: None,
        attr_specs: None,
    }
}

fn inputs(dir: &std::path::Path) -> InputPaths {
    InputPaths {
        attempts: vec![dir.join("attempts.csv")],
        contacts: Some(dir.join("contacts.csv")),
        persons: Some(dir.join("persons.csv")),
        validations: Some(dir.join("validations.csv")),
    }
}

#[test]
fn malformed_rows_are_exactly_the_bad_rows_ingest_skips() {
    let params = SimulateParams {
        persons: 300,
        days: 14,
        seed: 4,
        malformed_per_10k: 300,
        implausible_per_10k: 0,
        ..SimulateParams::default()
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let s = simulate(&params, dir.path()).expect("simulate");
    assert!(s.malformed_rows > 10, "{s:?}");
    assert_eq!(s.implausible_rows, 0, "none asked for");
    let data = ingest(&inputs(dir.path()), &opts(s.bad_rows())).expect("ingest");
    assert_eq!(data.report.skipped_total(), s.malformed_rows);
    for reason in data.report.files.iter().flat_map(|f| f.skipped.keys()) {
        assert!(
            [
                "bad_contact",
                "unknown_channel",
                "unknown_outcome",
                "empty_id"
            ]
            .contains(&reason.as_str()),
            "{reason}"
        );
    }
    assert_eq!(data.attempts.len() as u64, s.attempts);
    // One fewer allowed fails, naming the budget.
    let err = ingest(&inputs(dir.path()), &opts(s.bad_rows() - 1)).err();
    assert!(
        matches!(err, Some(TrainerError::TooManyBadRows { .. })),
        "{err:?}"
    );
    // Carrier lookups from both files and the numbers outside the ranges are all kept.
    assert_eq!(
        data.validations.len() as u64,
        s.validations + s.validated_contacts
    );
    let unlisted = data
        .contacts
        .iter()
        .filter(|c| c.number.is_some_and(|n| !n.valid))
        .count() as u64;
    assert_eq!(unlisted, s.unlisted_contacts);
    assert!(unlisted > 0, "{s:?}");
}

#[test]
fn implausible_rows_are_bad_rows_ingest_names_implausible_time() {
    let params = SimulateParams {
        persons: 200,
        days: 7,
        seed: 9,
        malformed_per_10k: 0,
        implausible_per_10k: 500,
        ..SimulateParams::default()
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let s = simulate(&params, dir.path()).expect("simulate");
    assert_eq!(s.malformed_rows, 0);
    assert!(s.implausible_rows > 0, "{s:?}");
    let mut r = csv::Reader::from_path(dir.path().join("attempts.csv")).expect("read");
    let mut odd = 0;
    for rec in r.records() {
        let rec = rec.expect("row");
        if rec[0].starts_with('I') {
            let t: jiff::Timestamp = rec[4].parse().expect("a valid timestamp");
            let year = t.to_zoned(jiff::tz::TimeZone::UTC).year();
            assert!(!(1990..2090).contains(&year), "{rec:?}");
            odd += 1;
        }
    }
    assert_eq!(odd, s.implausible_rows);
    let data = ingest(&inputs(dir.path()), &opts(s.bad_rows())).expect("ingest");
    assert_eq!(data.report.skipped_total(), s.implausible_rows);
    let named: u64 = data
        .report
        .files
        .iter()
        .filter_map(|f| f.skipped.get("implausible_time"))
        .sum();
    assert_eq!(named, s.implausible_rows);
    assert_eq!(data.attempts.len() as u64, s.attempts);
}

#[test]
fn unlisted_numbers_are_mostly_dead_and_lookups_follow_the_lines() {
    let wp = WorldParams {
        seed: 17,
        days: 60,
        day0: 1_767_582_000,
    };
    let (mut phones, mut unlisted, mut unlisted_alive) = (0u32, 0u32, 0u32);
    let (mut lookups, mut right, mut on_dead, mut active_on_dead) = (0u32, 0u32, 0u32, 0u32);
    for index in 0..4_000 {
        let (person, _) = world::person(&wp, index);
        for c in &person.contacts {
            let Point::Phone(phone) = &c.point else {
                assert!(c.lookups.prior.is_none() && c.lookups.during.is_empty());
                continue;
            };
            phones += 1;
            if !phone.is_listed() {
                unlisted += 1;
                unlisted_alive += u32::from(c.lifecycle == Lifecycle::Alive);
                assert!(
                    matches!(c.lifecycle, Lifecycle::Alive | Lifecycle::DeadFromStart),
                    "{:?}",
                    c.lifecycle
                );
            }
            if let Some(l) = &c.lookups.prior {
                assert!(l.at >= c.added_at && l.at < wp.day0, "{l:?}");
            }
            for l in &c.lookups.during {
                assert!(l.at >= c.added_at && l.at >= wp.day0, "{l:?}");
                let day = u32::try_from((l.at - wp.day0) / DAY).expect("day");
                assert!(day < wp.days);
                let state = c.lifecycle.state(day);
                lookups += 1;
                let says_active = l.status == ValidationStatus::Active;
                right += u32::from(says_active == (state != LineState::Dead));
                if state == LineState::Dead {
                    on_dead += 1;
                    active_on_dead += u32::from(says_active);
                }
                if !says_active {
                    assert!(l.carrier.is_empty() && l.ported.is_none(), "{l:?}");
                }
            }
        }
    }
    let share = f64::from(unlisted) / f64::from(phones);
    assert!((0.025..0.06).contains(&share), "{unlisted} of {phones}");
    let alive = f64::from(unlisted_alive) / f64::from(unlisted);
    assert!(
        (0.15..0.45).contains(&alive),
        "{unlisted_alive} of {unlisted}"
    );
    assert!(
        lookups > 1_000 && on_dead > 50,
        "{lookups} lookups, {on_dead} on dead lines"
    );
    assert!(
        f64::from(right) / f64::from(lookups) > 0.85,
        "{right} of {lookups}"
    );
    assert_eq!(active_on_dead, 0, "a dead line is never reported active");
}
