//! Tests: numbers outside the metadata's ranges are kept; carrier validations from the contacts
//! file's columns and from the validations file are read, de-duplicated and sorted, and bad
//! values are bad rows naming file, line, column and value.

use contactscore_models::{LineType, ValidationStatus};

use super::tests::{opts, write};
use super::*;

const ATTEMPTS: &str = "attempt_id,person_id,contact,channel,attempted_at,outcome\n\
a1,p1,+55 20 98765-4321,voice,2024-03-05T12:00:00Z,invalid\n\
a2,p1,+5511987654321,voice,2024-03-05T13:00:00Z,busy\n";

fn paths(dir: &std::path::Path, contacts: Option<&str>, validations: Option<&str>) -> InputPaths {
    InputPaths {
        attempts: vec![write(dir, "a.csv", ATTEMPTS)],
        contacts: contacts.map(|t| write(dir, "c.csv", t)),
        persons: None,
        validations: validations.map(|t| write(dir, "v.csv", t)),
    }
}

#[test]
fn numbers_outside_the_ranges_are_kept_with_their_class() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = ingest(&paths(dir.path(), None, None), &opts(0)).expect("no bad rows");
    assert_eq!(data.attempts.len(), 2);
    let unlisted = &data.contacts[data.attempts[0].contact as usize];
    assert_eq!(unlisted.key, "+5520987654321");
    assert_eq!(unlisted.number.map(|n| n.valid), Some(false));
    let valid = &data.contacts[data.attempts[1].contact as usize];
    assert_eq!(valid.number.map(|n| n.valid), Some(true));
}

#[test]
fn validations_come_from_both_files_sorted_by_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let contacts = "person_id,contact,validation_status,validated_at,line_type,carrier,ported\n\
        p1,+5511987654321,active,2024-03-01T10:00:00Z,mobile,Vivo,false\n\
        p1,maria@example.com,,,,,\n\
        p2,(11) 3456-7890,,,,Claro,\n";
    let validations = "person_id,contact,validated_at,validation_status,line_type,ported\n\
        p1,+55 20 98765-4321,2024-03-04T10:00:00Z,Inactive,,\n\
        p1,+55 20 98765-4321,2024-03-04T10:00:00Z,inactive,,\n\
        p1,+55 20 98765-4321,2024-03-04T10:00:00Z,unknown,,\n\
        p3,+5511912345678,2024-02-01T00:00:00-03:00,active,VOIP,TRUE\n";
    let data = ingest(
        &paths(dir.path(), Some(contacts), Some(validations)),
        &opts(0),
    )
    .expect("ingest");
    let got: Vec<(
        String,
        String,
        i64,
        ValidationStatus,
        LineType,
        Option<bool>,
    )> = data
        .validations
        .iter()
        .map(|v| {
            (
                data.persons.name(v.person).to_owned(),
                data.contacts[v.contact as usize].key.clone(),
                v.t,
                v.status,
                v.line_type,
                v.ported,
            )
        })
        .collect();
    let ts = |s: &str| s.parse::<jiff::Timestamp>().expect("ts").as_second();
    assert_eq!(
        got,
        [
            (
                "p3".to_owned(),
                "+5511912345678".to_owned(),
                ts("2024-02-01T03:00:00Z"),
                ValidationStatus::Active,
                LineType::Voip,
                Some(true)
            ),
            (
                "p1".to_owned(),
                "+5511987654321".to_owned(),
                ts("2024-03-01T10:00:00Z"),
                ValidationStatus::Active,
                LineType::Mobile,
                Some(false)
            ),
            (
                "p1".to_owned(),
                "+5520987654321".to_owned(),
                ts("2024-03-04T10:00:00Z"),
                ValidationStatus::Inactive,
                LineType::Unknown,
                None
            ),
        ]
    );
    let report = data
        .report
        .files
        .iter()
        .find(|f| f.kind == "validations")
        .expect("validations report");
    assert_eq!((report.rows_read, report.rows_used), (4, 2));
    assert_eq!((report.duplicates, report.conflicting_duplicates), (2, 1));
}

#[test]
fn bad_validation_values_name_file_line_column_and_value() {
    let dir = tempfile::tempdir().expect("tempdir");
    let contact_cases = [
        (
            "p1,+5511987654321,dead,2024-03-01T10:00:00Z,,,\n",
            "validation_status",
            "dead",
        ),
        ("p1,+5511987654321,active,,,,\n", "validated_at", ""),
        (
            "p1,+5511987654321,active,yesterday,,,\n",
            "validated_at",
            "yesterday",
        ),
        (
            "p1,+5511987654321,active,2024-03-01T10:00:00Z,fax,,\n",
            "line_type",
            "fax",
        ),
        (
            "p1,+5511987654321,active,2024-03-01T10:00:00Z,,,maybe\n",
            "ported",
            "maybe",
        ),
        ("p1,+5511987654321,,,mobile,,\n", "validation_status", ""),
        (
            "p1,ana@example.com,active,2024-03-01T10:00:00Z,,,\n",
            "validation_status",
            "active",
        ),
    ];
    let header = "person_id,contact,validation_status,validated_at,line_type,carrier,ported\n";
    for (row, column, value) in contact_cases {
        let p = paths(dir.path(), Some(&format!("{header}{row}")), None);
        let msg = ingest(&p, &opts(0)).expect_err(row).to_string();
        assert!(msg.contains("c.csv:2:"), "{row}: {msg}");
        assert!(msg.contains(&format!("column {column:?}")), "{row}: {msg}");
        assert!(msg.contains(&format!("value {value:?}")), "{row}: {msg}");
    }
    let header = "person_id,contact,validated_at,validation_status\n";
    for (row, column, value) in [
        (
            "p1,+5511987654321,2024-03-01T10:00:00Z,\n",
            "validation_status",
            "",
        ),
        ("p1,+5511987654321,,active\n", "validated_at", ""),
        ("p1,12,2024-03-01T10:00:00Z,active\n", "contact", "12"),
        (
            "p1,ana@example.com,2024-03-01T10:00:00Z,active\n",
            "contact",
            "ana@example.com",
        ),
        (
            ",+5511987654321,2024-03-01T10:00:00Z,active\n",
            "person_id",
            "",
        ),
    ] {
        let p = paths(dir.path(), None, Some(&format!("{header}{row}")));
        let msg = ingest(&p, &opts(0)).expect_err(row).to_string();
        assert!(msg.contains("v.csv:2:"), "{row}: {msg}");
        assert!(msg.contains(&format!("column {column:?}")), "{row}: {msg}");
        // A contact point is named masked, never in clear.
        let shown = if column == "contact" {
            contactscore_models::Masked(value).to_string()
        } else {
            value.to_owned()
        };
        assert!(msg.contains(&format!("value {shown:?}")), "{row}: {msg}");
        assert!(column != "contact" || !msg.contains(value), "{row}: {msg}");
    }
    // A missing required column fails the file.
    let p = paths(dir.path(), None, Some("person_id,contact,validated_at\n"));
    let msg = ingest(&p, &opts(5))
        .expect_err("no status column")
        .to_string();
    assert!(msg.contains("validation_status"), "{msg}");
    // Under a budget, bad validation rows are skipped and counted by reason.
    let body = format!(
        "{header}p1,+5511987654321,2024-03-01T10:00:00Z,gone\np1,+5511987654321,2024-03-01T10:00:00Z,active\n"
    );
    let data = ingest(&paths(dir.path(), None, Some(&body)), &opts(1)).expect("within budget");
    assert_eq!(data.validations.len(), 1);
    assert_eq!(data.report.skipped_total(), 1);
}
