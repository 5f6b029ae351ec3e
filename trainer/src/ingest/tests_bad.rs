//! Tests: bad input in fail-fast mode and under `max_bad_rows`.

use super::tests::{attempts_only, opts, write};
use super::*;

const HEADER: &str = "attempt_id,person_id,contact,channel,attempted_at,outcome,duration_seconds\n";
const GOOD: &str = "a0,p0,+5511987654321,voice,2024-03-05T12:00:00Z,busy,5\n";

/// (row, column, value, reason key)
const BAD_ROWS: [(&str, &str, &str, &str); 8] = [
    (
        "a1,p1,+5511987654321,voice,yesterday,busy,\n",
        "attempted_at",
        "yesterday",
        "bad_timestamp",
    ),
    (
        "a1,p1,+5511987654321,fax,2024-03-05T12:00:00Z,busy,\n",
        "channel",
        "fax",
        "unknown_channel",
    ),
    (
        "a1,p1,+5511987654321,voice,2024-03-05T12:00:00Z,meh,\n",
        "outcome",
        "meh",
        "unknown_outcome",
    ),
    (
        "a1,p1,12345,voice,2024-03-05T12:00:00Z,busy,\n",
        "contact",
        "12345",
        "bad_contact",
    ),
    (
        "a1,p1,+5511987654321,email,2024-03-05T12:00:00Z,busy,\n",
        "channel",
        "email",
        "channel_mismatch",
    ),
    (
        "a1,p1,x@example.com,sms,2024-03-05T12:00:00Z,busy,\n",
        "channel",
        "sms",
        "channel_mismatch",
    ),
    (
        "a1,,+5511987654321,voice,2024-03-05T12:00:00Z,busy,\n",
        "person_id",
        "",
        "empty_id",
    ),
    (
        "a1,p1,+5511987654321,voice,2024-03-05T12:00:00Z,busy,-3\n",
        "duration_seconds",
        "-3",
        "bad_number",
    ),
];

#[test]
fn each_bad_row_fails_fast_naming_file_line_column_value() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (row, column, value, _) in BAD_ROWS {
        let path = write(dir.path(), "bad.csv", &format!("{HEADER}{GOOD}{row}"));
        let err = attempts_only(path, &opts(0)).expect_err(row);
        assert!(
            matches!(err, TrainerError::BadRow { line: 3, .. }),
            "{row}: {err:?}"
        );
        let msg = err.to_string();
        assert!(msg.contains("bad.csv:3:"), "{msg}");
        assert!(msg.contains(&format!("column {column:?}")), "{msg}");
        // Personal data (contact points, ids) is masked, as in the examples.
        let shown = if !value.is_empty() && matches!(column, "contact" | "person_id" | "attempt_id")
        {
            contactscore_models::Masked(value).to_string()
        } else {
            value.to_owned()
        };
        assert!(msg.contains(&format!("value {shown:?}")), "{msg}");
        if column == "contact" {
            assert!(!msg.contains(value), "{msg}");
        }
    }
    let path = write(
        dir.path(),
        "bad.csv",
        &format!("{HEADER},p1,+5511987654321,voice,2024-03-05T12:00:00Z,busy,\n"),
    );
    let msg = attempts_only(path, &opts(0))
        .expect_err("empty id")
        .to_string();
    assert!(
        msg.contains("bad.csv:2:") && msg.contains("\"attempt_id\""),
        "{msg}"
    );
}

#[test]
fn bad_timezones_fail_in_contacts_and_persons() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = write(dir.path(), "a.csv", &format!("{HEADER}{GOOD}"));
    let c = write(
        dir.path(),
        "c.csv",
        "person_id,contact,timezone\np0,+5511987654321,Mars/Olympus\n",
    );
    let paths = InputPaths {
        attempts: vec![a.clone()],
        contacts: Some(c),
        persons: None,
        validations: None,
    };
    let msg = ingest(&paths, &opts(0)).expect_err("bad zone").to_string();
    assert!(
        msg.contains("c.csv:2:") && msg.contains("Mars/Olympus") && msg.contains("timezone"),
        "{msg}"
    );
    let p = write(
        dir.path(),
        "p.csv",
        "person_id,timezone\np0,UTC\np1,Nowhere\n",
    );
    let paths = InputPaths {
        attempts: vec![a],
        contacts: None,
        persons: Some(p),
        validations: None,
    };
    let msg = ingest(&paths, &opts(0)).expect_err("bad zone").to_string();
    assert!(msg.contains("p.csv:3:") && msg.contains("Nowhere"), "{msg}");
}

#[test]
fn max_bad_rows_skips_counts_and_limits() {
    let dir = tempfile::tempdir().expect("tempdir");
    let body: String = BAD_ROWS.iter().map(|b| b.0).collect();
    let path = write(dir.path(), "bad.csv", &format!("{HEADER}{GOOD}{body}"));
    let ing = attempts_only(path.clone(), &opts(8)).expect("within budget");
    assert_eq!(ing.attempts.len(), 1);
    let f = &ing.report.files[0];
    assert_eq!((f.rows_read, f.rows_used), (9, 1));
    assert_eq!(ing.report.skipped_total(), 8);
    for key in [
        "bad_timestamp",
        "unknown_channel",
        "unknown_outcome",
        "bad_contact",
        "empty_id",
        "bad_number",
    ] {
        assert_eq!(f.skipped.get(key), Some(&1), "{key}: {:?}", f.skipped);
    }
    assert_eq!(f.skipped.get("channel_mismatch"), Some(&2));
    assert_eq!(ing.report.skipped_examples.len(), 8);
    // Contact points are masked in the examples.
    let contact_example = &ing.report.skipped_examples[3];
    assert!(
        contact_example.contains("bad_contact") && !contact_example.contains("12345"),
        "{contact_example}"
    );

    let err = attempts_only(path, &opts(7)).expect_err("over budget");
    let TrainerError::TooManyBadRows {
        count: 8,
        max: 7,
        first,
    } = &err
    else {
        panic!("expected TooManyBadRows, got {err}");
    };
    assert!(first.to_string().contains("yesterday"), "{first}");
}

#[test]
fn missing_column_and_bad_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(
        dir.path(),
        "a.csv",
        "attempt_id,person_id,contact,channel,outcome\n",
    );
    let err = attempts_only(path, &opts(0)).expect_err("missing column");
    assert!(matches!(err, TrainerError::BadFile { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("a.csv") && msg.contains("attempted_at"),
        "{msg}"
    );
    let path = write(dir.path(), "a.txt", HEADER);
    assert!(matches!(
        attempts_only(path, &opts(0)),
        Err(TrainerError::BadFile { .. })
    ));
    let path = write(dir.path(), "a.parquet", "not parquet");
    assert!(matches!(
        attempts_only(path, &opts(0)),
        Err(TrainerError::BadFile { .. })
    ));
}

#[test]
fn long_rows_are_bad_and_short_rows_read_as_empty() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Short: the missing trailing cells are empty, so the empty contact is what is reported.
    let path = write(
        dir.path(),
        "a.csv",
        &format!("{HEADER}{GOOD}a9,p1,,voice,2024-03-05T12:00:00Z,busy\n"),
    );
    let msg = attempts_only(path, &opts(0))
        .expect_err("empty contact")
        .to_string();
    assert!(
        msg.contains("a.csv:3:") && msg.contains("\"contact\""),
        "{msg}"
    );
    let short = write(
        dir.path(),
        "s.csv",
        &format!("{HEADER}{GOOD}a9,p1,+5511987654321,sms,2024-03-05T12:00:00Z,busy\n"),
    );
    assert_eq!(
        attempts_only(short, &opts(0))
            .expect("short row is fine")
            .attempts
            .len(),
        2
    );
    let path = write(
        dir.path(),
        "a.csv",
        &format!("{HEADER}{GOOD}{}", GOOD.replace("5\n", "5,x,y\n")),
    );
    let err = attempts_only(path.clone(), &opts(0)).expect_err("ragged");
    assert!(err.to_string().contains("a.csv:3:"), "{err}");
    let ing = attempts_only(path, &opts(1)).expect("skipped");
    assert_eq!(ing.report.files[0].skipped.get("bad_record"), Some(&1));
}

#[test]
fn parquet_bad_rows_read_like_csv_lines() {
    use std::sync::Arc;

    use arrow_array::{ArrayRef, RecordBatch, StringArray};

    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("a.parquet");
    let s = |v: &[&str]| Arc::new(StringArray::from(v.to_vec())) as ArrayRef;
    let batch = RecordBatch::try_from_iter([
        ("attempt_id", s(&["a1", "a2"])),
        ("person_id", s(&["p1", "p1"])),
        ("contact", s(&["+5511987654321", "+5511987654321"])),
        ("channel", s(&["voice", "fax"])),
        (
            "attempted_at",
            s(&["2024-03-05T12:00:00Z", "2024-03-05T12:00:00Z"]),
        ),
        ("outcome", s(&["busy", "busy"])),
    ])
    .expect("batch");
    let file = std::fs::File::create(&path).expect("create");
    let mut w = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).expect("writer");
    w.write(&batch).expect("write");
    w.close().expect("close");
    let msg = attempts_only(path, &opts(0)).expect_err("fax").to_string();
    assert!(
        msg.contains("a.parquet:3:") && msg.contains("\"fax\""),
        "{msg}"
    );
}
