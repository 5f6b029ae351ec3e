//! `contactscore-trainer plan` end to end on a small simulated world: the plan respects every
//! capacity line, gives each person at most the attempts asked for (later ones in later slots),
//! lists the persons it could not plan and why, does not depend on the number of threads, and
//! bad input fails with exit code 1 and a message naming the file, line, column and value (with
//! contact points masked).

use std::collections::HashMap;
use std::path::Path;

use super::{run, write};

/// 2026-02-17T00:00:00Z: a Tuesday after the 40 simulated days that start on 2026-01-05.
const DAY: &str = "2026-02-17";

fn setup(dir: &Path) -> (String, String) {
    let data = dir.join("data");
    let models = dir.join("models");
    let s = |p: &Path| p.to_str().expect("utf-8").to_owned();
    let (code, _, err) = run(&[
        "simulate",
        "--persons",
        "400",
        "--days",
        "40",
        "--seed",
        "5",
        // Clean data: this is about planning, not about skipping bad rows.
        "--malformed-per-10k",
        "0",
        "--implausible-per-10k",
        "0",
        "--out",
        &s(&data),
    ]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run(&[
        "-q",
        "train",
        "--attempts",
        &s(&data.join("attempts.csv")),
        "--contacts",
        &s(&data.join("contacts.csv")),
        "--persons",
        &s(&data.join("persons.csv")),
        "--models-dir",
        &s(&models),
    ]);
    assert_eq!(code, 0, "{err}");
    (s(&data.join("contacts.csv")), s(&models))
}

/// Capacity lines: every hour of the day shared by all channels, plus voice's own line at
/// 14:00 and 15:00 UTC.
fn capacity(dir: &Path, per_hour: u32) -> String {
    let mut text = String::from("slot_start,attempts,channel\n");
    for h in 0..24 {
        text.push_str(&format!("{DAY}T{h:02}:00:00Z,{per_hour},\n"));
    }
    text.push_str(&format!(
        "{DAY}T14:00:00Z,5,voice\n{DAY}T15:00:00Z,0,voice\n"
    ));
    write(dir, "capacity.csv", &text)
}

fn plan(
    models: &str,
    list: &str,
    capacity: &str,
    out: &Path,
    extra: &[&str],
) -> (i32, String, String) {
    let mut args = vec![
        "plan",
        "--models-dir",
        models,
        "--list",
        list,
        "--capacity",
        capacity,
        "--window-start",
        "2026-02-17T00:00:00Z",
        "--window-end",
        "2026-02-18T00:00:00Z",
        "--out",
        out.to_str().expect("utf-8"),
    ];
    args.extend_from_slice(extra);
    run(&args)
}

#[test]
fn plan_fills_capacity_within_the_rules_and_names_bad_input() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (contacts, models) = setup(dir.path());
    // The contacts file is a list; add a person nobody knows (not found) and one known only
    // by the number given here.
    let mut list = std::fs::read_to_string(&contacts).expect("contacts");
    // Rows as wide as the contacts file's header (its columns after timezone left empty).
    let width = list.lines().next().map_or(0, |h| h.split(',').count());
    for row in [
        "GHOST",
        "NEWCOMER,+55 11 98888-7777,voice;sms,America/Sao_Paulo",
    ] {
        let fields = row.split(',').count();
        list.push_str(&format!("{row}{}\n", ",".repeat(width - fields)));
    }
    let list = write(dir.path(), "list.csv", &list);
    let cap = capacity(dir.path(), 12);
    let out = dir.path().join("plan.csv");
    let unplanned = dir.path().join("unplanned.csv");
    let (code, stdout, err) = plan(
        &models,
        &list,
        &cap,
        &out,
        &[
            "--unplanned",
            unplanned.to_str().expect("utf-8"),
            "--threads",
            "2",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        stdout.contains("expected engaged") && stdout.contains("upper bound"),
        "{stdout}"
    );
    let text = std::fs::read_to_string(&out).expect("plan");
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("person_id,attempt_index,contact,channel,slot_start,slot_end,probability")
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert!(rows.len() > 100, "{} attempts", rows.len());
    let mut per_line: HashMap<(String, bool), u32> = HashMap::new();
    let mut per_person: HashMap<&str, u32> = HashMap::new();
    for r in &rows {
        assert_eq!(r.len(), 7, "{r:?}");
        assert_eq!(r[1], "0", "one attempt per person by default");
        *per_person.entry(r[0]).or_default() += 1;
        let own_line = r[3] == "voice" && (r[4].contains("T14:") || r[4].contains("T15:"));
        *per_line.entry((r[4].to_owned(), own_line)).or_default() += 1;
        let p: f64 = r[6].parse().expect("probability");
        assert!(p > 0.0 && p <= 1.0, "{r:?}");
        assert!(r[4] < r[5] && r[4].starts_with(DAY), "{r:?}");
        assert!(!r[2].is_empty());
    }
    assert!(per_person.values().all(|&n| n == 1));
    for ((slot, own), n) in &per_line {
        let cap = match (*own, slot.contains("T14:"), slot.contains("T15:")) {
            (true, true, _) => 5,
            (true, _, true) => 0,
            (true, false, false) | (false, _, _) => 12,
        };
        assert!(*n <= cap, "{slot} voice line {own}: {n} > {cap}");
    }
    let unplanned = std::fs::read_to_string(&unplanned).expect("unplanned");
    assert!(unplanned.starts_with("person_id,reason\n"));
    assert!(unplanned.contains("GHOST,not_found"), "{unplanned}");
    // 401 persons listed, 288 attempts at most: the rest wait for capacity.
    assert!(unplanned.contains(",no_capacity"), "{unplanned}");

    // The same plan on one thread.
    let one = dir.path().join("plan1.csv");
    let (code, _, err) = plan(&models, &list, &cap, &one, &["--threads", "1"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::read_to_string(&one).expect("plan"), text);

    // Two attempts per person: the second in a later slot.
    let two = dir.path().join("plan2.csv");
    let (code, _, err) = plan(
        &models,
        &list,
        &capacity(dir.path(), 40),
        &two,
        &["--attempts-per-person", "2"],
    );
    assert_eq!(code, 0, "{err}");
    let text2 = std::fs::read_to_string(&two).expect("plan");
    let mut slots: HashMap<&str, Vec<(u32, &str)>> = HashMap::new();
    for l in text2.lines().skip(1) {
        let r: Vec<&str> = l.split(',').collect();
        slots
            .entry(r[0])
            .or_default()
            .push((r[1].parse().expect("index"), r[4]));
    }
    assert!(
        slots.values().any(|v| v.len() == 2),
        "some person got a second attempt"
    );
    for v in slots.values_mut() {
        v.sort();
        assert!(v.len() <= 2 && v[0].0 == 0);
        if v.len() == 2 {
            assert!(v[0].1 < v[1].1, "{v:?}");
        }
    }
}

#[test]
fn bad_plan_input_names_file_line_column_and_value() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (contacts, models) = setup(dir.path());
    let out = dir.path().join("plan.csv");
    let cap = capacity(dir.path(), 5);
    let off_hour = write(
        dir.path(),
        "off.csv",
        "slot_start,attempts\n2026-02-17T10:00:00Z,3\n2026-02-17T10:30:00Z,3\n",
    );
    let (code, _, err) = plan(&models, &contacts, &off_hour, &out, &[]);
    assert_eq!(code, 3);
    assert!(
        err.contains("off.csv:3") && err.contains("slot_start") && err.contains("10:30"),
        "{err}"
    );
    let fax = write(
        dir.path(),
        "fax.csv",
        "person_id,contact,channels\nP1,+5511987654321,voice\nP2,+5511912345678,fax\n",
    );
    let (code, _, err) = plan(&models, &fax, &cap, &out, &[]);
    assert_eq!(code, 3);
    assert!(
        err.contains("fax.csv:3") && err.contains("channels") && err.contains("fax"),
        "{err}"
    );
    let junk = write(
        dir.path(),
        "junk.csv",
        "person_id,contact\nP1,+55 11 9876-not-a-number\n",
    );
    let (code, _, err) = plan(&models, &junk, &cap, &out, &[]);
    assert_eq!(code, 3);
    assert!(
        err.contains("junk.csv:2") && err.contains("contact"),
        "{err}"
    );
    assert!(
        !err.contains("9876-not-a-number"),
        "contact points are masked: {err}"
    );
    let (code, _, err) = run(&[
        "plan",
        "--models-dir",
        &models,
        "--list",
        &contacts,
        "--window-start",
        "2026-02-17T10:00:00Z",
        "--window-end",
        "2026-02-17T09:00:00Z",
        "--out",
        "unused.csv",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("--window-end"), "{err}");
    assert!(!out.exists(), "nothing written on error");
}
