//! Tests: CSV, gzip CSV and Parquet give the same tables; normalisation, de-duplication, sorting,
//! dispositions, ignored columns and person attributes.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray, TimestampMillisecondArray};
use contactscore_models::{Channel, ContactKind, ContactNormalizer, Outcome};

use super::*;

pub(super) fn opts(max_bad_rows: u64) -> IngestOptions {
    IngestOptions {
        normalizer: ContactNormalizer::new("BR").expect("BR"),
        max_bad_rows,
        dispositions: DispositionMap::default(),
        progress: false,
        now: IngestOptions::now(),
        threads: Threads::ONE,
        shard: None,
        attr_specs: None,
    }
}

pub(super) fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write test file");
    path
}

pub(super) fn attempts_only(path: PathBuf, o: &IngestOptions) -> Result<Ingested> {
    ingest(
        &InputPaths {
            attempts: vec![path],
            contacts: None,
            persons: None,
            validations: None,
        },
        o,
    )
}

const CSV: &str = "attempt_id,person_id,contact,channel,attempted_at,outcome,duration_seconds\n\
a3,p2,maria@example.com,email,2024-03-05T14:00:00Z,delivered,\n\
a1,p1,+55 (11) 98765-4321,voice,2024-03-05T12:00:00.250-03:00,no_answer,0\n\
a2,p1,5511987654321,SMS,2024-03-05T12:00:00Z,replied,\n";

/// An attempt as a comparable tuple: t, person, contact key, channel, outcome, duration, id.
type Flat = (i64, String, String, Channel, Outcome, Option<u32>, String);

/// The rows as comparable tuples.
fn rows(ing: &Ingested) -> Vec<Flat> {
    ing.attempts
        .iter()
        .map(|r| {
            (
                r.t,
                ing.persons.name(r.person).to_owned(),
                ing.contacts[r.contact as usize].key.clone(),
                r.channel,
                r.outcome,
                r.duration_seconds,
                ing.attempt_id(r).to_owned(),
            )
        })
        .collect()
}

fn expected() -> Vec<Flat> {
    let row =
        |t, p: &str, c: &str, ch, o, d, id: &str| (t, p.into(), c.into(), ch, o, d, id.into());
    let mut want = vec![
        (
            1_709_640_000,
            "p1",
            "+5511987654321",
            Channel::Sms,
            Outcome::Replied,
            None,
            "a2",
        ),
        (
            1_709_650_800,
            "p1",
            "+5511987654321",
            Channel::Voice,
            Outcome::NoAnswer,
            Some(0),
            "a1",
        ),
        (
            1_709_647_200,
            "p2",
            "maria@example.com",
            Channel::Email,
            Outcome::Delivered,
            None,
            "a3",
        ),
    ]
    .into_iter()
    .map(|(t, p, c, ch, o, d, id)| row(t, p, c, ch, o, d, id))
    .collect::<Vec<_>>();
    want.sort_by_key(|r| r.0);
    want
}

fn write_parquet(dir: &Path, time_column: ArrayRef, duration: ArrayRef) -> PathBuf {
    let path = dir.join("attempts.parquet");
    let s = |v: &[&str]| Arc::new(StringArray::from(v.to_vec())) as ArrayRef;
    let batch = RecordBatch::try_from_iter([
        ("Attempt_ID", s(&["a3", "a1", "a2"])),
        ("person_id", s(&["p2", "p1", "p1"])),
        (
            "contact",
            s(&["Maria@Example.com", "+55 (11) 98765-4321", "+5511987654321"]),
        ),
        ("channel", s(&["email", "voice", "sms"])),
        ("attempted_at", time_column),
        ("outcome", s(&["delivered", "no_answer", "replied"])),
        ("duration_seconds", duration),
    ])
    .expect("batch");
    let file = std::fs::File::create(&path).expect("create");
    let mut w = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).expect("writer");
    w.write(&batch).expect("write batch");
    w.close().expect("close");
    path
}

#[test]
fn csv_gzip_and_parquet_agree() {
    let dir = tempfile::tempdir().expect("tempdir");
    let o = opts(0);
    let csv = attempts_only(write(dir.path(), "a.csv", CSV), &o).expect("csv");
    assert_eq!(rows(&csv), expected());
    assert_eq!(csv.contacts.len(), 2, "three BR formats are one contact");
    assert_eq!(csv.contacts[1].kind, ContactKind::Phone);

    let gz_path = dir.path().join("a.csv.gz");
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz_path).expect("create"),
        flate2::Compression::default(),
    );
    gz.write_all(CSV.as_bytes()).expect("gzip");
    gz.finish().expect("gzip finish");
    let from_gz = attempts_only(gz_path.clone(), &o).expect("gz");
    assert_eq!(rows(&from_gz), expected());
    assert_eq!(
        from_gz.report.files[0].sha256,
        file_sha256(&gz_path).expect("sha")
    );
    assert_eq!(
        csv.report.files[0].sha256,
        file_sha256(dir.path().join("a.csv")).expect("sha")
    );

    let times = Arc::new(StringArray::from(vec![
        "2024-03-05T14:00:00Z",
        "2024-03-05T12:00:00.250-03:00",
        "2024-03-05T12:00:00Z",
    ]));
    let dur = Arc::new(StringArray::from(vec![None, Some("0"), Some("")]));
    let pq = attempts_only(write_parquet(dir.path(), times, dur), &o).expect("parquet strings");
    assert_eq!(rows(&pq), expected());

    let ms = TimestampMillisecondArray::from(vec![
        1_709_647_200_000,
        1_709_650_800_250,
        1_709_640_000_000,
    ]);
    let dur = Arc::new(Int64Array::from(vec![None, Some(0), None]));
    let pq = attempts_only(write_parquet(dir.path(), Arc::new(ms), dur), &o).expect("parquet ts");
    assert_eq!(rows(&pq), expected());
    let utc = TimestampMillisecondArray::from(vec![
        1_709_647_200_000,
        1_709_650_800_250,
        1_709_640_000_000,
    ])
    .with_timezone("UTC");
    let dur = Arc::new(Int64Array::from(vec![None, Some(0), None]));
    let pq = attempts_only(write_parquet(dir.path(), Arc::new(utc), dur), &o).expect("parquet tz");
    assert_eq!(rows(&pq), expected());
}

#[test]
fn duplicates_count_once_and_conflicts_are_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = "attempt_id,person_id,contact,channel,attempted_at,outcome\n\
a1,p1,+5511987654321,voice,2024-03-05T12:00:00Z,no_answer\n\
a1,p1,5511987654321,voice,2024-03-05T09:00:00-03:00,no_answer\n\
a1,p1,+5511987654321,voice,2024-03-05T12:00:00Z,busy\n\
a2,p1,+5511987654321,voice,2024-03-05T11:00:00Z,busy\n";
    let ing = attempts_only(write(dir.path(), "a.csv", text), &opts(0)).expect("ingest");
    assert_eq!(ing.attempts.len(), 2);
    let f = &ing.report.files[0];
    assert_eq!(
        (
            f.rows_read,
            f.rows_used,
            f.duplicates,
            f.conflicting_duplicates
        ),
        (4, 2, 2, 1)
    );
    // Kept the first a1 (no_answer), sorted after a2.
    assert_eq!(ing.attempt_id(&ing.attempts[0]), "a2");
    assert_eq!(ing.attempts[1].outcome, Outcome::NoAnswer);
    assert_eq!(ing.attempt_ids.len(), 2);
}

#[test]
fn several_files_dedupe_across_and_sort_stably() {
    let dir = tempfile::tempdir().expect("tempdir");
    let h = "attempt_id,person_id,contact,channel,attempted_at,outcome\n";
    let a = write(
        dir.path(),
        "a.csv",
        &format!(
            "{h}x,p,+5511987654321,voice,2024-01-02T00:00:00Z,busy\ny,p,+5511987654321,voice,2024-01-01T00:00:00Z,busy\n"
        ),
    );
    let b = write(
        dir.path(),
        "b.csv",
        &format!(
            "{h}z,p,+5511987654321,voice,2024-01-01T00:00:00Z,busy\nx,p,+5511987654321,voice,2024-01-02T00:00:00Z,busy\n"
        ),
    );
    let ing = ingest(
        &InputPaths {
            attempts: vec![a, b],
            contacts: None,
            persons: None,
            validations: None,
        },
        &opts(0),
    )
    .expect("ingest");
    let ids: Vec<&str> = ing.attempts.iter().map(|r| ing.attempt_id(r)).collect();
    assert_eq!(ids, ["y", "z", "x"]);
    assert_eq!(ing.report.files[1].duplicates, 1);
    assert_eq!(ing.report.files[1].conflicting_duplicates, 0);
}

#[test]
fn dispositions_and_ignored_columns() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = "Attempt_Id , PERSON_ID,contact,channel,attempted_at,outcome,agent,campaign,site\n\
a1,p1,+5511987654321,voice,2024-03-05T12:00:00Z,NA,bob,c1,x\n\
a2,p1,+5511987654321,voice,2024-03-05T12:00:01Z,am,bob,c1,x\n";
    let path = write(dir.path(), "a.csv", text);
    let mut o = opts(0);
    let err = attempts_only(path.clone(), &o)
        .expect_err("NA is not canonical")
        .to_string();
    assert!(err.contains("\"NA\"") && err.contains("outcome"), "{err}");
    o.dispositions = DispositionMap::from_toml_table(
        &"NA = \"no_answer\"\nAM = \"voicemail\""
            .parse()
            .expect("toml"),
    )
    .expect("map");
    let ing = attempts_only(path, &o).expect("ingest");
    let outcomes: Vec<Outcome> = ing.attempts.iter().map(|r| r.outcome).collect();
    assert_eq!(outcomes, [Outcome::NoAnswer, Outcome::Voicemail]);
    assert_eq!(ing.report.files[0].ignored_columns, ["agent", "site"]);
}

#[test]
fn contacts_file_defaults_channels_and_shares_tables() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = write(dir.path(), "a.csv", CSV);
    let c = write(
        dir.path(),
        "contacts.csv",
        "person_id,contact,channels,timezone,added_at\n\
p1,+55 (11) 98765-4321,,America/Sao_Paulo,2024-01-01T00:00:00Z\n\
p1,MARIA@example.com,,,\n\
p9,+5511912345678,voice; whatsapp,,\n",
    );
    let ing = ingest(
        &InputPaths {
            attempts: vec![a],
            contacts: Some(c),
            persons: None,
            validations: None,
        },
        &opts(0),
    )
    .expect("ingest");
    let k = &ing.known_contacts;
    assert_eq!(k.len(), 3);
    assert_eq!(
        ing.contacts.len(),
        3,
        "contacts from both files share one table"
    );
    assert_eq!(
        k[0].channels,
        [
            Channel::Voice,
            Channel::Sms,
            Channel::Whatsapp,
            Channel::Rcs
        ]
    );
    assert_eq!(k[0].timezone.as_deref(), Some("America/Sao_Paulo"));
    assert_eq!(k[0].added_at, Some(1_704_067_200));
    assert_eq!(k[1].channels, [Channel::Email]);
    assert_eq!(ing.contacts[k[1].contact as usize].key, "maria@example.com");
    assert_eq!(k[2].channels, [Channel::Voice, Channel::Whatsapp]);
    assert_eq!(ing.persons.name(k[2].person), "p9");
}

#[test]
fn person_attributes_are_typed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = write(dir.path(), "a.csv", CSV);
    let p = write(
        dir.path(),
        "persons.csv",
        "person_id,timezone,age,segment,score\n\
p1,America/Sao_Paulo,34,gold,1e3\n\
p2,,,silver,x\n\
p3,,41.5,,2\n",
    );
    let ing = ingest(
        &InputPaths {
            attempts: vec![a],
            contacts: None,
            persons: Some(p),
            validations: None,
        },
        &opts(0),
    )
    .expect("ingest");
    let cat = |v: &[&str]| AttrKind::Categorical {
        levels: v.iter().map(|s| s.to_string()).collect(),
    };
    assert_eq!(
        ing.person_attrs,
        [
            AttrSpec {
                name: "age".into(),
                kind: AttrKind::Numeric
            },
            AttrSpec {
                name: "segment".into(),
                kind: cat(&["gold", "silver"])
            },
            AttrSpec {
                name: "score".into(),
                kind: cat(&["1e3", "2", "x"])
            },
        ]
    );
    let r = &ing.person_rows;
    assert_eq!(r.len(), 3);
    assert_eq!(ing.persons.name(r[2].person), "p3");
    assert_eq!(r[0].timezone.as_deref(), Some("America/Sao_Paulo"));
    assert_eq!(&r[0].attrs, &[34.0, 0.0, 0.0]);
    assert!(r[1].attrs[0].is_nan());
    assert_eq!(&r[1].attrs[1..], &[1.0, 2.0]);
    assert_eq!(r[2].attrs[0], 41.5);
    assert!(r[2].attrs[1].is_nan());
    assert_eq!(r[2].attrs[2], 1.0);
}
