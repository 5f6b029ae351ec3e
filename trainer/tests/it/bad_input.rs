//! Bad input the trainer must name and survive: implausible timestamps (year 2099, year 1) are bad
//! rows with reason `implausible_time` that `--max-bad-rows` skips, a megabyte value is quoted in
//! 64 characters, and `inspect` does not believe a hand-edited manifest family.

use super::{run, write};

const HEADER: &str = "attempt_id,person_id,contact,channel,attempted_at,outcome\n";

#[test]
fn implausible_times_are_named_skippable_bad_rows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let models = dir.path().join("models");
    let d = |f: &str| data.join(f).to_string_lossy().into_owned();
    let m = models.to_string_lossy().into_owned();
    let (code, out, err) = run(&[
        "simulate",
        "--persons",
        "800",
        "--days",
        "30",
        "--seed",
        "5",
        // Clean rows only: the bad rows are the ones this test adds.
        "--malformed-per-10k",
        "0",
        "--implausible-per-10k",
        "0",
        "--out",
        &d(""),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let mut attempts = std::fs::read_to_string(d("attempts.csv")).expect("read");
    let line = attempts.lines().count() + 1;
    attempts.push_str("ZZ-future,P0000001,+5511987654321,voice,2099-01-01T00:00:00Z,no_answer\n");
    attempts.push_str("ZZ-year-1,P0000001,+5511987654321,voice,0001-01-01T00:00:00Z,no_answer\n");
    std::fs::write(d("attempts.csv"), attempts).expect("write");
    let attempts_path = d("attempts.csv");
    let train = |extra: &[&str]| {
        let mut args = vec![
            "train",
            "--attempts",
            &attempts_path,
            "--models-dir",
            &m,
            "--family",
            "logistic",
            "--quiet",
        ];
        args.extend_from_slice(extra);
        run(&args)
    };

    // Fail fast: the first implausible row is named like every other bad row.
    let (code, _, err) = train(&[]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains(&format!("attempts.csv:{line}:")), "{err}");
    assert!(
        err.contains("attempted_at")
            && err.contains("implausible time")
            && err.contains("2099-01-01T00:00:00Z"),
        "{err}"
    );

    // Skipped and counted under --max-bad-rows.
    let (code, out, err) = train(&["--max-bad-rows", "2"]);
    assert_eq!(code, 0, "{out}{err}");
    let version = out.lines().next().expect("version line").trim().to_owned();
    let (code, manifest, err) = run(&["inspect", "--models-dir", &m, "--version", &version]);
    assert_eq!(code, 0, "{err}");
    assert!(manifest.contains("\"implausible_time\": 2"), "{manifest}");
    assert!(manifest.contains("\"end\": \"2026-"), "{manifest}");
}

#[test]
fn a_megabyte_value_is_quoted_in_64_characters() {
    let dir = tempfile::tempdir().expect("tempdir");
    let huge = "9".repeat(1 << 20);
    let f = write(
        dir.path(),
        "attempts.csv",
        // In a column without personal data (a contact point's value is masked, however long).
        &format!("{HEADER}A1,P1,+5511987654321,voice,2026-01-05T10:00:00Z,{huge}\n"),
    );
    let (code, _, err) = run(&["train", "--attempts", &f, "--models-dir", "unused"]);
    assert_eq!(code, 3);
    assert!(
        err.len() < 1_000,
        "{} bytes of error: {:.200}",
        err.len(),
        err
    );
    assert!(
        err.contains("attempts.csv:2") && err.contains("outcome"),
        "{err}"
    );
    assert!(err.contains(&format!("{:?}…", "9".repeat(64))), "{err}");
    assert!(err.contains("(1048576 bytes)"), "{err}");
}

#[test]
fn inspect_does_not_believe_a_hand_edited_family() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let models = dir.path().join("models");
    let d = |f: &str| data.join(f).to_string_lossy().into_owned();
    let m = models.to_string_lossy().into_owned();
    let (code, out, err) = run(&[
        "simulate",
        "--persons",
        "800",
        "--days",
        "30",
        "--seed",
        "6",
        // Clean rows only: the bad rows are the ones this test adds.
        "--malformed-per-10k",
        "0",
        "--implausible-per-10k",
        "0",
        "--out",
        &d(""),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = run(&[
        "train",
        "--attempts",
        &d("attempts.csv"),
        "--models-dir",
        &m,
        "--family",
        "logistic",
        "--quiet",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let version = out.lines().next().expect("version line").trim().to_owned();

    // The model file says otherwise.
    let path = models.join(&version).join("manifest.json");
    let text = std::fs::read_to_string(&path).expect("manifest");
    let edited = text.replacen("\"family\": \"logistic\"", "\"family\": \"gbdt\"", 1);
    assert_ne!(edited, text, "the manifest names its family");
    std::fs::write(&path, edited).expect("edit");
    let (code, _, err) = run(&["inspect", "--models-dir", &m, "--version", &version]);
    assert_eq!(code, 5);
    assert!(
        err.contains("family gbdt") && err.contains("logistic"),
        "{err}"
    );
    let (code, listing, err) = run(&["inspect", "--models-dir", &m]);
    assert_eq!(code, 0, "{err}");
    assert!(
        listing.contains("unreadable") && !listing.contains("gbdt  "),
        "{listing}"
    );
}
