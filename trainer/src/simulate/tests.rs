//! Tests of the simulator: determinism, valid contact points, truth file, rates and the causal
//! consistency of the generated log.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use contactscore_models::localtime::DAY;
use contactscore_models::{ContactNormalizer, Outcome};
use jiff::Timestamp;

use super::behaviour::LineState;
use super::contacts::Point;
use super::params::WorldParams;
use super::world;
use super::{SimulateParams, SimulateSummary, simulate};

fn small(seed: u64) -> SimulateParams {
    SimulateParams {
        persons: 300,
        days: 14,
        seed,
        ..SimulateParams::default()
    }
}

fn run(params: &SimulateParams) -> (tempfile::TempDir, SimulateSummary) {
    let dir = tempfile::tempdir().expect("temp dir");
    let summary = simulate(params, dir.path()).expect("simulate");
    (dir, summary)
}

fn read_rows(path: &Path) -> Vec<csv::StringRecord> {
    let mut reader = csv::Reader::from_path(path).expect("open csv");
    reader.records().map(|r| r.expect("csv row")).collect()
}

/// The rows of an attempts file that are attempts (not the malformed or implausible rows the
/// simulator mixes in, whose ids start with `M` and `I`).
pub(super) fn attempt_rows(path: &Path) -> Vec<csv::StringRecord> {
    read_rows(path)
        .into_iter()
        .filter(|r| r[0].starts_with('A'))
        .collect()
}

fn parse_ts(s: &str) -> i64 {
    s.parse::<Timestamp>()
        .unwrap_or_else(|e| panic!("{s}: {e}"))
        .as_second()
}

fn br() -> ContactNormalizer {
    ContactNormalizer::new("BR").expect("BR")
}

#[test]
fn default_start_is_a_monday_in_january_2026() {
    let p = SimulateParams::default();
    assert_eq!(p.start.to_string(), "2026-01-05T00:00:00Z");
    assert_eq!(
        p.start.to_zoned(jiff::tz::TimeZone::UTC).weekday(),
        jiff::civil::Weekday::Monday
    );
    assert_eq!((p.persons, p.days, p.seed), (20_000, 90, 42));
}

#[test]
fn same_seed_same_bytes_different_seed_different_bytes() {
    let (a, sa) = run(&small(7));
    let (b, sb) = run(&small(7));
    let (c, _) = run(&small(8));
    assert_eq!(sa, sb);
    for name in [
        "persons.csv",
        "contacts.csv",
        "attempts.csv",
        "validations.csv",
        "truth.csv",
    ] {
        let read = |d: &tempfile::TempDir| std::fs::read(d.path().join(name)).expect(name);
        assert_eq!(read(&a), read(&b), "{name} differs between identical runs");
        assert_ne!(read(&a), read(&c), "{name} identical across seeds");
    }
}

#[test]
fn revealed_traits_replace_only_the_person_attributes() {
    let (plain, _) = run(&small(7));
    let (revealed, _) = run(&SimulateParams {
        reveal_traits: true,
        ..small(7)
    });
    let read = |d: &tempfile::TempDir, name: &str| std::fs::read(d.path().join(name)).expect(name);
    for name in [
        "contacts.csv",
        "attempts.csv",
        "validations.csv",
        "truth.csv",
    ] {
        assert_eq!(read(&plain, name), read(&revealed, name), "{name} changed");
    }
    let (a, b) = (
        read_rows(&plain.path().join("persons.csv")),
        read_rows(&revealed.path().join("persons.csv")),
    );
    assert_eq!(a.len(), b.len());
    let wp = WorldParams {
        seed: 7,
        days: 14,
        day0: 0,
    };
    for (i, (a, b)) in a.iter().zip(&b).enumerate() {
        // Id and zone as written; segment, age and balance replaced by the hidden traits.
        assert_eq!((&a[0], &a[1]), (&b[0], &b[1]));
        let (person, _) = world::person(&wp, u32::try_from(i).expect("index"));
        assert_eq!(&b[2], person.pattern.name());
        let responsiveness: f64 = b[3].parse().expect("responsiveness");
        assert!(
            (responsiveness - person.responsiveness).abs() <= 5e-4,
            "{responsiveness}"
        );
        assert_ne!(&a[2], &b[2], "row {i}: segment not replaced");
    }
}

#[test]
fn every_contact_normalises_and_all_formats_agree() {
    let n = br();
    let wp = WorldParams {
        seed: 3,
        days: 60,
        day0: 0,
    };
    let mut keys = HashSet::new();
    for index in 0..2_000 {
        let (person, _) = world::person(&wp, index);
        for c in &person.contacts {
            let key = c.point.key();
            assert!(keys.insert(key.clone()), "{key} is generated twice");
            for variant in 0..8 {
                let raw = c.point.written(variant);
                let got = n.normalize(&raw).unwrap_or_else(|e| panic!("{raw}: {e}"));
                assert_eq!(got.key, key, "{raw}");
                if let Point::Phone(p) = &c.point {
                    let want = if key.starts_with("+55") { "BR" } else { "US" };
                    assert_eq!(got.region, want, "{raw}");
                    assert_eq!(p.is_mobile(), c.channels.len() > 1, "{raw}");
                    // Numbers in unused area codes parse but are not valid; the others are.
                    let valid = got.number.map(|i| i.valid);
                    assert_eq!(valid, Some(p.is_listed()), "{raw}");
                }
            }
        }
    }
    // And what actually lands in the files normalises too.
    let (dir, _) = run(&small(3));
    for row in read_rows(&dir.path().join("contacts.csv")) {
        n.normalize(&row[1])
            .unwrap_or_else(|e| panic!("contacts.csv {}: {e}", &row[1]));
    }
    let mut formats: HashMap<String, HashSet<String>> = HashMap::new();
    for row in attempt_rows(&dir.path().join("attempts.csv")) {
        let key = n
            .normalize(&row[2])
            .unwrap_or_else(|e| panic!("{}: {e}", &row[2]))
            .key;
        formats.entry(key).or_default().insert(row[2].to_owned());
    }
    assert!(
        formats.values().any(|f| f.len() >= 3),
        "numbers should appear in several formats"
    );
}

#[test]
fn truth_has_one_probability_per_attempt() {
    let (dir, summary) = run(&small(11));
    let truth = read_rows(&dir.path().join("truth.csv"));
    let all = read_rows(&dir.path().join("attempts.csv"));
    let attempts = attempt_rows(&dir.path().join("attempts.csv"));
    assert_eq!(truth.len() as u64, summary.attempts);
    assert_eq!(
        attempts.len() as u64,
        summary.attempts + summary.duplicate_rows
    );
    assert_eq!(all.len() - attempts.len(), summary.bad_rows() as usize);
    let mut p_by_id = HashMap::new();
    for row in &truth {
        let p: f64 = row[1].parse().expect("p_engaged is a number");
        assert!((0.0..=1.0).contains(&p), "{p}");
        assert!(
            p_by_id.insert(row[0].to_owned(), p).is_none(),
            "{} twice in truth",
            &row[0]
        );
    }
    let ids: HashSet<&str> = attempts.iter().map(|r| &r[0]).collect();
    assert_eq!(ids.len(), truth.len());
    assert!(ids.iter().all(|id| p_by_id.contains_key(*id)));
    // Dead ends and delivered-only messages never engage.
    for row in &attempts {
        let outcome: Outcome = row[5].parse().expect("outcome");
        let p = p_by_id[&row[0]];
        if outcome.is_engaged() {
            assert!(p > 0.0, "{row:?} engaged with p = 0");
        }
        if matches!(outcome, Outcome::Invalid | Outcome::WrongParty) {
            assert_eq!(p, 0.0, "{row:?}");
        }
        let has_duration = !row[6].is_empty();
        let connected = matches!(
            outcome,
            Outcome::RightParty
                | Outcome::Converted
                | Outcome::ThirdParty
                | Outcome::WrongParty
                | Outcome::Voicemail
        );
        assert_eq!(has_duration, &row[3] == "voice" && connected, "{row:?}");
    }
}

#[test]
fn rates_are_plausible_and_match_the_truth() {
    let params = SimulateParams {
        persons: 1_000,
        days: 28,
        seed: 5,
        ..SimulateParams::default()
    };
    let (dir, s) = run(&params);
    let per_person_day = s.attempts as f64 / f64::from(params.persons * params.days);
    assert!(
        (0.3..=0.6).contains(&per_person_day),
        "{per_person_day} attempts per person-day"
    );
    let rate = s.engaged as f64 / s.attempts as f64;
    assert!((0.08..=0.20).contains(&rate), "engaged rate {rate}");
    let truth = read_rows(&dir.path().join("truth.csv"));
    let mean_p = truth
        .iter()
        .map(|r| r[1].parse::<f64>().expect("p"))
        .sum::<f64>()
        / truth.len() as f64;
    assert!(
        (mean_p - rate).abs() < 0.015,
        "mean p {mean_p} vs engaged rate {rate}"
    );
    let dup_share = s.duplicate_rows as f64 / s.attempts as f64;
    assert!(
        s.duplicate_rows > 0 && dup_share < 0.015,
        "{} duplicates",
        s.duplicate_rows
    );
    let persons = read_rows(&dir.path().join("persons.csv"));
    let no_zone = persons.iter().filter(|r| r[1].is_empty()).count() as f64 / 1_000.0;
    assert!(
        (0.02..0.09).contains(&no_zone),
        "{no_zone} persons without zone"
    );
}

/// Replays the log against the generator's own world: invalid outcomes only on dead contact
/// points, wrong parties only on reassigned ones, and no contact point used before `added_at`.
#[test]
fn the_log_is_consistent_with_the_hidden_world() {
    let params = small(21);
    let (dir, _) = run(&params);
    let n = br();
    let day0 = parse_ts("2026-01-05T03:00:00Z");
    let wp = WorldParams {
        seed: params.seed,
        days: params.days,
        day0,
    };
    let persons: Vec<_> = (0..params.persons)
        .map(|i| world::person(&wp, i).0)
        .collect();
    let by_key: HashMap<(String, String), usize> = persons
        .iter()
        .flat_map(|p| {
            p.contacts
                .iter()
                .enumerate()
                .map(move |(i, c)| ((p.id(), c.point.key()), i))
        })
        .collect();
    // contacts.csv lists exactly these points with these added_at.
    let contacts = read_rows(&dir.path().join("contacts.csv"));
    assert_eq!(contacts.len(), by_key.len());
    let mut added = HashMap::new();
    for row in &contacts {
        let key = n.normalize(&row[1]).expect("contact").key;
        assert!(
            by_key.contains_key(&(row[0].to_owned(), key.clone())),
            "{row:?}"
        );
        added.insert((row[0].to_owned(), key), parse_ts(&row[4]));
    }
    let (mut invalid, mut wrong, mut offsets, mut late_numbers) = (0, 0, 0, HashSet::new());
    for row in attempt_rows(&dir.path().join("attempts.csv")) {
        let key = n.normalize(&row[2]).expect("contact").key;
        let id = (row[1].to_owned(), key);
        let at = parse_ts(&row[4]);
        offsets += usize::from(!row[4].ends_with('Z'));
        assert!(added[&id] <= at, "{row:?} before the contact was added");
        if added[&id] > day0 {
            late_numbers.insert(id.clone());
        }
        let person = &persons[row[1][1..].parse::<usize>().expect("person index")];
        let contact = &person.contacts[by_key[&id]];
        let day = u32::try_from((at - day0).div_euclid(DAY)).expect("day in range");
        let state = contact.lifecycle.state(day);
        let outcome: Outcome = row[5].parse().expect("outcome");
        if outcome == Outcome::Invalid {
            invalid += 1;
            assert_eq!(state, LineState::Dead, "{row:?}");
        }
        if outcome == Outcome::WrongParty {
            wrong += 1;
            assert_eq!(state, LineState::Reassigned, "{row:?}");
        }
        let hour = (at - day0).rem_euclid(DAY) / 3600;
        assert!(
            (8..21).contains(&hour),
            "{row:?} outside the dialer's hours"
        );
    }
    assert!(
        invalid > 0 && wrong > 0,
        "{invalid} invalid, {wrong} wrong party"
    );
    assert!(offsets > 0, "some timestamps should carry a non-UTC offset");
    assert!(
        !late_numbers.is_empty(),
        "numbers added during the run should be dialled"
    );
}

/// Full-size run for timing and eyeballing rates (`SIM_PERSONS` overrides the 20k persons):
/// `SIM_OUT=/tmp/sim cargo test -p contactscore-trainer --profile ci simulate::tests::full_size -- --ignored --nocapture`
#[test]
#[ignore = "full-size run (20k persons x 90 days); set SIM_OUT to keep the files"]
fn full_size() {
    let mut params = SimulateParams::default();
    if let Some(n) = std::env::var("SIM_PERSONS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        params.persons = n;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let out = std::env::var_os("SIM_OUT").map_or_else(|| dir.path().to_owned(), Into::into);
    let started = std::time::Instant::now();
    let s = simulate(&params, &out).expect("simulate");
    let secs = started.elapsed().as_secs_f64();
    let per_day = s.attempts as f64 / f64::from(params.persons * params.days);
    let rate = s.engaged as f64 / s.attempts as f64;
    println!("{s:?} in {secs:.2}s: {per_day:.3} attempts/person/day, engaged rate {rate:.4}");
}
