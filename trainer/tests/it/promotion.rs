//! The nightly job's promotion step: `train --promote-if-better` compares the new version with
//! CURRENT on the attempts after CURRENT's cutoff and promotes only a version at least as good;
//! `promote` points CURRENT at a version only after verifying that it loads.

use std::collections::HashSet;
use std::path::Path;

use contactscore_models::artifact::{ComparisonResult, Manifest, Registry};
use contactscore_models::localtime::DAY;

use super::run;

/// Train on `attempts` (contacts and persons from `data`) into `models`; returns (version, stdout).
fn train(data: &Path, attempts: &Path, models: &Path, extra: &[&str]) -> (String, String) {
    let s = |p: &Path| p.to_string_lossy().into_owned();
    let mut args = vec![
        "train".to_owned(),
        "--attempts".into(),
        s(attempts),
        "--contacts".into(),
        s(&data.join("contacts.csv")),
        "--persons".into(),
        s(&data.join("persons.csv")),
        "--models-dir".into(),
        s(models),
        "--quiet".into(),
    ];
    args.extend(extra.iter().map(|a| (*a).to_owned()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, out, err) = run(&args);
    assert_eq!(code, 0, "{out}{err}");
    let version = out.lines().next().expect("version line").trim().to_owned();
    (version, out)
}

fn manifest(models: &Path, version: &str) -> Manifest {
    Registry::open(models)
        .and_then(|r| r.manifest(version))
        .unwrap_or_else(|e| panic!("{e}"))
}

fn current(models: &Path) -> Option<String> {
    Registry::open(models)
        .and_then(|r| r.current())
        .unwrap_or_else(|e| panic!("{e}"))
}

fn seconds(rfc3339: &str) -> i64 {
    rfc3339
        .parse::<jiff::Timestamp>()
        .unwrap_or_else(|e| panic!("{rfc3339}: {e}"))
        .as_second()
}

/// Unique attempts in `file` with `from <= t` and `t > after`, and how many of them engaged,
/// counted from the CSV itself.
fn fresh_attempts(file: &Path, from: i64, after: i64) -> (u64, u64) {
    let mut r = csv::Reader::from_path(file).expect("csv");
    let h = r.headers().expect("header").clone();
    let col = |name: &str| h.iter().position(|c| c == name).expect(name);
    let (id, at, outcome) = (col("attempt_id"), col("attempted_at"), col("outcome"));
    let mut seen = HashSet::new();
    let (mut n, mut engaged) = (0, 0);
    for rec in r.records() {
        let rec = rec.expect("record");
        let t = seconds(&rec[at]);
        if seen.insert(rec[id].to_owned()) && t >= from && t > after {
            n += 1;
            engaged += u64::from(matches!(
                &rec[outcome],
                "right_party" | "replied" | "converted"
            ));
        }
    }
    (n, engaged)
}

#[test]
fn the_gate_promotes_only_a_better_version_and_promote_verifies() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let models = dir.path().join("models");
    let m = models.to_string_lossy().into_owned();
    let (code, out, err) = run(&[
        "simulate",
        "--persons",
        "2500",
        "--days",
        "50",
        "--seed",
        "11",
        // Clean rows only: the nightly exports are split and counted from the file.
        "--malformed-per-10k",
        "0",
        "--implausible-per-10k",
        "0",
        "--out",
        &data.to_string_lossy(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    // Three nightly exports: up to day 42, up to day 46, everything (day 50).
    let full = data.join("attempts.csv");
    let start = contactscore_trainer::simulate::SimulateParams::default()
        .start
        .as_second();
    let upto = |day: i64, name: &str| {
        let path = data.join(name);
        contactscore_trainer::split::split_by_time(
            &full,
            start + day * DAY,
            &path,
            &data.join("rest.csv"),
        )
        .expect("split");
        path
    };
    let (early, mid) = (upto(42, "early.csv"), upto(46, "mid.csv"));

    // Nothing promoted yet: the gate promotes, and there is no champion to report.
    let (v1, out) = train(
        &data,
        &early,
        &models,
        &["--family", "baseline", "--promote-if-better"],
    );
    assert!(!out.contains("champion"), "{out}");
    assert_eq!(current(&models).as_deref(), Some(v1.as_str()));
    assert!(manifest(&models, &v1).champion.is_none());

    // A gbdt on four more days against the baseline champion: compared on the test attempts
    // after v1's cutoff, better, promoted.
    let (v2, out) = train(
        &data,
        &mid,
        &models,
        &["--family", "gbdt", "--promote-if-better"],
    );
    let m2 = manifest(&models, &v2);
    let c = m2.champion.as_ref().expect("a comparison");
    assert_eq!(c.champion, v1);
    let cutoff = seconds(&manifest(&models, &v1).window.end);
    assert_eq!(c.after.as_deref().map(seconds), Some(cutoff));
    let ComparisonResult::Compared {
        challenger,
        champion,
    } = &c.result
    else {
        panic!("not compared: {c:?}");
    };
    let (want, engaged) = fresh_attempts(&mid, seconds(&m2.window.test_start), cutoff);
    assert!(want >= 1000, "the scenario needs fresh rows: {want}");
    assert_eq!((challenger.n, champion.n), (want, want));
    assert_eq!(
        (challenger.positives, champion.positives),
        (engaged, engaged)
    );
    assert!(
        challenger.log_loss < champion.log_loss,
        "gbdt {} vs baseline {}",
        challenger.log_loss,
        champion.log_loss
    );
    assert!(
        out.contains(&format!("champion {v1}")) && out.contains("; promoted"),
        "{out}"
    );
    assert_eq!(current(&models).as_deref(), Some(v2.as_str()));

    // A baseline against the gbdt champion: worse, published but not promoted.
    let (v3, out) = train(
        &data,
        &full,
        &models,
        &["--family", "baseline", "--promote-if-better"],
    );
    assert!(out.contains("not promoted"), "{out}");
    assert_eq!(
        manifest(&models, &v3)
            .champion
            .and_then(|c| c.challenger_wins()),
        Some(false)
    );
    assert_eq!(current(&models).as_deref(), Some(v2.as_str()));

    // The same data as the champion: no attempt after its cutoff, nothing to compare on.
    let (v4, out) = train(
        &data,
        &mid,
        &models,
        &["--family", "baseline", "--promote-if-better"],
    );
    assert!(
        out.contains("not compared") && out.contains("not promoted"),
        "{out}"
    );
    assert_eq!(current(&models).as_deref(), Some(v2.as_str()));

    // Another target is not comparable.
    let cfg = super::write(dir.path(), "converted.toml", "target = \"converted\"\n");
    let (_, out) = train(
        &data,
        &full,
        &models,
        &[
            "--family",
            "baseline",
            "--promote-if-better",
            "--config",
            &cfg,
        ],
    );
    assert!(
        out.contains("predicts engaged") && out.contains("not promoted"),
        "{out}"
    );
    // Other zone settings: the rows are not what the champion would see.
    let cfg = super::write(dir.path(), "tz.toml", "default_timezone = \"Asia/Tokyo\"\n");
    let (_, out) = train(
        &data,
        &full,
        &models,
        &[
            "--family",
            "baseline",
            "--promote-if-better",
            "--config",
            &cfg,
        ],
    );
    assert!(
        out.contains("Asia/Tokyo") && out.contains("not promoted"),
        "{out}"
    );

    // A champion that cannot be read: the new version is published, not promoted, and says why.
    let champion_model = models.join(&v2).join("model.json");
    let good = std::fs::read(&champion_model).expect("model");
    std::fs::write(&champion_model, b"{}").expect("corrupt");
    let (v5, out) = train(
        &data,
        &full,
        &models,
        &["--family", "baseline", "--promote-if-better"],
    );
    assert!(
        out.contains("cannot be loaded") && out.contains("not promoted"),
        "{out}"
    );
    assert!(manifest(&models, &v5).champion.is_some());
    assert_eq!(current(&models).as_deref(), Some(v2.as_str()));
    std::fs::write(&champion_model, good).expect("restore");

    // `promote` by hand: the published v3, then `latest`; a corrupt version is refused.
    let (code, out, err) = run(&["promote", "--models-dir", &m, "--version", &v3]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), format!("promoted {v3} (was {v2})"));
    assert_eq!(current(&models).as_deref(), Some(v3.as_str()));
    // v5 was trained last (ids alone sort only to the second).
    let newest = v5.clone();
    let (code, out, err) = run(&["promote", "--models-dir", &m, "--version", "latest"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with(&format!("promoted {newest} ")), "{out}");
    std::fs::write(models.join(&v4).join("state.bin"), b"garbage").expect("corrupt");
    let (code, _, err) = run(&["promote", "--models-dir", &m, "--version", &v4]);
    assert_eq!(code, 5);
    assert!(err.contains("corrupt") && err.contains(&v4), "{err}");
    let (code, _, err) = run(&["promote", "--models-dir", &m, "--version", "nope"]);
    assert_eq!(code, 2);
    assert!(err.contains("nope"), "{err}");
    // A path, even one that leads back into the registry, is not a version id.
    let sneaky = format!("../models/{v3}");
    let (code, _, err) = run(&["promote", "--models-dir", &m, "--version", &sneaky]);
    assert_eq!(code, 2);
    assert!(err.contains(&sneaky), "{err}");
    assert_eq!(current(&models).as_deref(), Some(newest.as_str()));
}
