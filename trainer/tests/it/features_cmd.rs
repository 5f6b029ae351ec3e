//! `features`: the exported rows are the replay's point-in-time rows, one per attempt, in the
//! schema's columns; from a version they carry exactly the probabilities `score` gives.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::path::Path;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, Float64Type};
use arrow_array::{Array, RecordBatch};
use contactscore_models::localtime::DAY;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::run;

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

fn simulate(dir: &Path) {
    let (code, out, err) = run(&[
        "simulate",
        "--persons",
        "800",
        "--days",
        "40",
        "--seed",
        "5",
        // Clean rows only: these tests compare every row of the file with the export.
        "--malformed-per-10k",
        "0",
        "--implausible-per-10k",
        "0",
        "--out",
        &s(dir),
    ]);
    assert_eq!(code, 0, "{out}{err}");
}

/// Unique attempt ids of a CSV attempts file.
fn attempt_ids(file: &Path) -> HashSet<String> {
    let mut r = csv::Reader::from_path(file).expect("csv");
    r.records()
        .map(|rec| rec.expect("record")[0].to_owned())
        .collect()
}

#[test]
fn rows_from_an_empty_state_are_point_in_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    simulate(&data);
    let out = dir.path().join("features.csv");
    let (code, stdout, err) = run(&[
        "features",
        "--attempts",
        &s(&data.join("attempts.csv")),
        "--contacts",
        &s(&data.join("contacts.csv")),
        "--persons",
        &s(&data.join("persons.csv")),
        "--out",
        &s(&out),
        "--quiet",
    ]);
    assert_eq!(code, 0, "{stdout}{err}");
    let ids = attempt_ids(&data.join("attempts.csv"));
    assert!(
        stdout.starts_with(&format!("wrote {} rows", ids.len())),
        "{stdout}"
    );

    let mut r = csv::Reader::from_path(&out).expect("export");
    let h = r.headers().expect("header").clone();
    let col = |name: &str| {
        h.iter()
            .position(|c| c == name)
            .unwrap_or_else(|| panic!("no column {name}"))
    };
    assert_eq!(&h[0], "attempt_id");
    // Built-in features and the persons file's attribute columns.
    for name in [
        "local_hour",
        "pcc_attempts_3d",
        "p_days_since_attempt",
        "ph_bucket_rate",
    ] {
        col(name);
    }
    assert!(h.iter().any(|c| c.starts_with("attr_")), "{h:?}");
    let (person, channel, at, outcome, label) = (
        col("person_id"),
        col("channel"),
        col("attempted_at"),
        col("outcome"),
        col("label"),
    );
    let (hour, p_attempts, p_since) = (
        col("local_hour"),
        col("p_attempts_180d"),
        col("p_days_since_attempt"),
    );
    let mut seen_ids = HashSet::new();
    // Per person: (previous attempt instant, rows so far).
    let mut persons: HashMap<String, (i64, u32)> = HashMap::new();
    for rec in r.records() {
        let rec = rec.expect("row");
        assert!(
            seen_ids.insert(rec[0].to_owned()),
            "attempt {} twice",
            &rec[0]
        );
        // The row's own channel flag is set, and only that one.
        let flags: Vec<&str> = ["voice", "sms", "whatsapp", "rcs", "email"]
            .iter()
            .map(|c| &rec[col(&format!("ch_{c}"))])
            .collect();
        let own = ["voice", "sms", "whatsapp", "rcs", "email"]
            .iter()
            .position(|c| *c == &rec[channel])
            .expect("known channel");
        for (i, f) in flags.iter().enumerate() {
            assert_eq!(*f, if i == own { "1" } else { "0" }, "{rec:?}");
        }
        let engaged = matches!(&rec[outcome], "right_party" | "replied" | "converted");
        assert_eq!(&rec[label], if engaged { "1" } else { "0" });
        let h: f32 = rec[hour].parse().expect("hour");
        assert!((0.0..24.0).contains(&h));
        // Rows of a person come in time order; the first one knows of no earlier attempt.
        let t = rec[at]
            .parse::<jiff::Timestamp>()
            .expect("instant")
            .as_second();
        let entry = persons
            .entry(rec[person].to_owned())
            .or_insert((i64::MIN, 0));
        if entry.1 == 0 {
            assert_eq!(&rec[p_attempts], "0", "first attempt of {}", &rec[person]);
            assert_eq!(&rec[p_since], "", "first attempt of {}", &rec[person]);
        } else {
            assert!(t >= entry.0, "{} out of order", &rec[person]);
            let since: f64 = rec[p_since]
                .parse()
                .expect("days since the previous attempt");
            let want = (t - entry.0) as f64 / DAY as f64;
            assert!((since - want).abs() < 1e-3, "{since} vs {want}");
        }
        *entry = (t, entry.1 + 1);
    }
    assert_eq!(seen_ids, ids);
}

#[test]
fn rows_from_a_version_carry_its_scores() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    simulate(&data);
    let start = contactscore_trainer::simulate::SimulateParams::default()
        .start
        .as_second();
    let (early, late) = (data.join("early.csv"), data.join("late.csv"));
    contactscore_trainer::split::split_by_time(
        &data.join("attempts.csv"),
        start + 32 * DAY,
        &early,
        &late,
    )
    .expect("split");
    let models = dir.path().join("models");
    let (code, out, err) = run(&[
        "train",
        "--attempts",
        &s(&early),
        "--contacts",
        &s(&data.join("contacts.csv")),
        "--persons",
        &s(&data.join("persons.csv")),
        "--models-dir",
        &s(&models),
        "--family",
        "gbdt",
        "--quiet",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let version = out.lines().next().expect("version").trim().to_owned();
    let scores = dir.path().join("scores.csv");
    let (code, _, err) = run(&[
        "score",
        "--models-dir",
        &s(&models),
        "--attempts",
        &s(&late),
        "--out",
        &s(&scores),
        "--quiet",
    ]);
    assert_eq!(code, 0, "{err}");
    let want: HashMap<String, f64> = csv::Reader::from_path(&scores)
        .expect("scores")
        .records()
        .map(|r| {
            let r = r.expect("row");
            (r[0].to_owned(), r[1].parse().expect("probability"))
        })
        .collect();

    let parquet = dir.path().join("late.parquet");
    let (code, stdout, err) = run(&[
        "features",
        "--models-dir",
        &s(&models),
        "--attempts",
        &s(&late),
        "--out",
        &s(&parquet),
        "--quiet",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        stdout.contains(&format!("probability of {version}")),
        "{stdout}"
    );
    let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(&parquet).expect("open"))
        .expect("parquet")
        .build()
        .expect("reader");
    let batches: Vec<RecordBatch> = reader.map(|b| b.expect("batch")).collect();
    let schema = batches[0].schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(
        &names[..7],
        [
            "attempt_id",
            "person_id",
            "channel",
            "attempted_at",
            "outcome",
            "label",
            "probability"
        ]
    );
    let hour = schema.index_of("local_hour").expect("local_hour");
    let mut n = 0;
    for b in &batches {
        let ids = b.column(0).as_string::<i32>();
        let probs = b.column(6).as_primitive::<Float64Type>();
        let hours = b.column(hour).as_primitive::<Float32Type>();
        for i in 0..b.num_rows() {
            let p = want
                .get(ids.value(i))
                .unwrap_or_else(|| panic!("{} not scored", ids.value(i)));
            // `score` writes six decimals.
            assert!(
                (probs.value(i) - p).abs() <= 5e-7,
                "{} vs {p}",
                probs.value(i)
            );
            assert!(!hours.is_null(i) && (0.0..24.0).contains(&hours.value(i)));
            n += 1;
        }
    }
    assert_eq!(n, want.len());

    // Bad requests name what is wrong, and leave no file behind.
    let bad = dir.path().join("x.json");
    let (code, _, err) = run(&["features", "--attempts", &s(&late), "--out", &s(&bad)]);
    assert_eq!(code, 2);
    assert!(err.contains("x.json") && err.contains(".parquet"), "{err}");
    let (code, _, err) = run(&[
        "features",
        "--models-dir",
        &s(&models),
        "--attempts",
        &s(&late),
        "--persons",
        &s(&data.join("persons.csv")),
        "--out",
        &s(&bad.with_extension("csv")),
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("--persons"), "{err}");
    // An input as the output would be overwritten: refused before any work.
    let (code, _, err) = run(&["features", "--attempts", &s(&late), "--out", &s(&late)]);
    assert_eq!(code, 2);
    assert!(
        err.contains("late.csv") && err.contains("overwritten"),
        "{err}"
    );
    assert!(std::fs::metadata(&late).expect("input").len() > 0);
    // A failure after the rows were written (the target is a directory): nothing is left.
    let target = dir.path().join("x.csv");
    std::fs::create_dir(&target).expect("dir");
    let (code, _, err) = run(&["features", "--attempts", &s(&late), "--out", &s(&target)]);
    assert_eq!(code, 4);
    assert!(err.contains("x.csv"), "{err}");
    let left: Vec<String> = std::fs::read_dir(dir.path())
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('x'))
        .collect();
    assert_eq!(left, ["x.csv"], "only the directory itself");
}
