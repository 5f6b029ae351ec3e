//! The command line: bad input fails with exit code 1 and a message naming file, line, column and
//! value; `--max-bad-rows` skips and records; `inspect` lists what `train` published.

use super::{run, write};

const HEADER: &str = "attempt_id,person_id,contact,channel,attempted_at,outcome\n";

#[test]
fn a_bad_timestamp_names_file_line_column_and_value() {
    let dir = tempfile::tempdir().expect("tempdir");
    let body = format!(
        "{HEADER}A1,P1,+5511987654321,voice,2026-01-05T10:00:00Z,no_answer\n\
         A2,P1,+5511987654321,voice,yesterday,no_answer\n"
    );
    let f = write(dir.path(), "attempts.csv", &body);
    let models = dir.path().join("models");
    let (code, _, err) = run(&[
        "train",
        "--attempts",
        &f,
        "--models-dir",
        models.to_str().expect("utf-8"),
    ]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("attempts.csv:3"), "{err}");
    assert!(
        err.contains("attempted_at") && err.contains("yesterday"),
        "{err}"
    );
}

#[test]
fn unknown_channel_and_missing_column_are_clear() {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = write(
        dir.path(),
        "a.csv",
        &format!("{HEADER}A1,P1,+5511987654321,fax,2026-01-05T10:00:00Z,no_answer\n"),
    );
    let (code, _, err) = run(&["train", "--attempts", &f, "--models-dir", "unused"]);
    assert_eq!(code, 3);
    assert!(
        err.contains("a.csv:2") && err.contains("channel") && err.contains("fax"),
        "{err}"
    );

    let g = write(
        dir.path(),
        "b.csv",
        "attempt_id,person_id,contact,channel,outcome\n",
    );
    let (code, _, err) = run(&["train", "--attempts", &g, "--models-dir", "unused"]);
    assert_eq!(code, 3);
    assert!(
        err.contains("b.csv") && err.contains("attempted_at"),
        "{err}"
    );
}

#[test]
fn a_missing_file_is_named_and_its_cause_said_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("nope.csv");
    let (code, _, err) = run(&[
        "train",
        "--attempts",
        missing.to_str().expect("utf-8"),
        "--models-dir",
        "unused",
    ]);
    assert_eq!(code, 4);
    assert!(err.contains("nope.csv"), "{err}");
    assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");
}

#[test]
fn too_little_data_is_an_error_not_a_model() {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = write(
        dir.path(),
        "a.csv",
        &format!("{HEADER}A1,P1,+5511987654321,voice,2026-01-05T10:00:00Z,no_answer\n"),
    );
    let models = dir.path().join("models");
    let (code, _, err) = run(&[
        "train",
        "--attempts",
        &f,
        "--models-dir",
        models.to_str().expect("utf-8"),
    ]);
    assert_eq!(code, 3);
    assert!(err.contains("not enough data"), "{err}");
}

#[test]
fn simulate_train_inspect_score_evaluate_round_trip() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let models = dir.path().join("models");
    let d = |f: &str| data.join(f).to_string_lossy().into_owned();
    let m = models.to_string_lossy().into_owned();
    let (code, out, err) = run(&[
        "simulate",
        "--persons",
        "1500",
        "--days",
        "40",
        "--seed",
        "3",
        "--out",
        &d(""),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    // The simulator says how many malformed rows it mixed in; plus a junk row of our own, all
    // skipped and counted with --max-bad-rows.
    let malformed: u64 = out
        .lines()
        .find_map(|l| l.split("--max-bad-rows ").nth(1))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no bad-row count in {out}"));
    assert!(malformed > 0, "{out}");
    let budget = (malformed + 1).to_string();
    let mut attempts = std::fs::read_to_string(d("attempts.csv")).expect("read");
    attempts.push_str("ZZ1,P0000001,not-a-number,voice,2026-01-06T12:00:00Z,no_answer\n");
    std::fs::write(d("attempts.csv"), attempts).expect("write");
    // One fewer than that fails, naming the budget.
    let (code, _, err) = run(&[
        "train",
        "--attempts",
        &d("attempts.csv"),
        "--models-dir",
        &m,
        "--max-bad-rows",
        &malformed.to_string(),
        "--quiet",
    ]);
    assert_eq!(code, 3);
    assert!(err.contains("exceed --max-bad-rows"), "{err}");
    let (code, out, err) = run(&[
        "train",
        "--attempts",
        &d("attempts.csv"),
        "--contacts",
        &d("contacts.csv"),
        "--persons",
        &d("persons.csv"),
        "--models-dir",
        &m,
        "--validations",
        &d("validations.csv"),
        "--family",
        "logistic",
        "--max-bad-rows",
        &budget,
        "--quiet",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let version = out.lines().next().expect("version line").trim().to_owned();
    assert!(
        out.contains("logistic") && out.contains("baseline"),
        "{out}"
    );

    let (code, listing, _) = run(&["inspect", "--models-dir", &m]);
    assert_eq!(code, 0);
    assert!(listing.contains(&format!("* {version}")), "{listing}");
    let (code, _, _) = run(&["inspect", "--models-dir", &m, "--version", &version]);
    assert_eq!(code, 0);
    let manifest = contactscore_models::artifact::Registry::open(&models)
        .and_then(|r| r.manifest(&version))
        .expect("manifest");
    assert_eq!(
        manifest.rows.skipped.values().sum::<u64>(),
        malformed + 1,
        "{:?}",
        manifest.rows.skipped
    );
    assert!(manifest.rows.skipped.contains_key("bad_contact"));

    let scores = dir.path().join("scores.csv");
    let (code, _, err) = run(&[
        "score",
        "--models-dir",
        &m,
        "--attempts",
        &d("attempts.csv"),
        "--out",
        scores.to_str().expect("utf-8"),
        "--max-bad-rows",
        &budget,
        "--quiet",
    ]);
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(&scores).expect("scores");
    assert!(text.starts_with("attempt_id,probability\n"));
    assert!(text.lines().skip(1).all(|l| {
        l.split(',')
            .nth(1)
            .and_then(|p| p.parse::<f64>().ok())
            .is_some_and(|p| (0.0..=1.0).contains(&p))
    }));

    let json = dir.path().join("eval.json");
    let plots = dir.path().join("plots");
    let (code, report, err) = run(&[
        "evaluate",
        "--models-dir",
        &m,
        "--attempts",
        &d("attempts.csv"),
        "--json",
        json.to_str().expect("utf-8"),
        "--plots",
        plots.to_str().expect("utf-8"),
        "--max-bad-rows",
        &budget,
        "--quiet",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        report.contains("overall") && report.contains("voice") && report.contains("hour"),
        "{report}"
    );
    assert!(
        std::fs::read_to_string(&json)
            .expect("json")
            .contains("\"by_channel\"")
    );
    for chart in ["reliability.svg", "gains.svg", "by_hour.svg"] {
        let svg = std::fs::read_to_string(plots.join(chart)).expect(chart);
        assert!(
            svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"),
            "{chart}"
        );
        assert!(
            svg.contains(&version) && svg.contains("baseline"),
            "{chart}"
        );
        assert!(svg.matches("<polyline").count() >= 2, "{chart}");
    }

    // Promote nothing, unknown version, corrupt file: clear errors.
    let (code, _, err) = run(&["inspect", "--models-dir", &m, "--version", "nope"]);
    assert_eq!(code, 2);
    assert!(err.contains("nope"), "{err}");
    std::fs::write(models.join(&version).join("state.bin"), b"garbage").expect("corrupt");
    let (code, _, err) = run(&[
        "score",
        "--models-dir",
        &m,
        "--attempts",
        &d("attempts.csv"),
        "--out",
        "x.csv",
        "--max-bad-rows",
        &budget,
    ]);
    assert_eq!(code, 5);
    assert!(err.contains("corrupt"), "{err}");
}
