//! The Spark example (`examples/spark/contactscore_spark.py`) on a local Spark: one `split`
//! partial per shard on the executors and `split-merge` on the driver, one `replay` task per
//! shard on the executors, `fit` on the driver, publishing
//! `train`'s version byte for byte. Runs only with `CONTACTSCORE_SPARK=1` (it needs Java and a
//! Python with pyspark: `CONTACTSCORE_SPARK_PYTHON`, default `target/spark-venv/bin/python`, see
//! examples/spark/README.md); otherwise it says it is skipped and passes.

use std::path::PathBuf;

use contactscore_models::artifact::registry::{MANIFEST, MODEL, STATE};
use contactscore_trainer::config::Config;
use contactscore_trainer::ingest::InputPaths;
use contactscore_trainer::progress::Progress;
use contactscore_trainer::simulate::{SimulateParams, simulate};
use contactscore_trainer::threads::Threads;
use contactscore_trainer::train::{FamilyChoice, Promotion, TrainRequest, train};

#[test]
fn the_spark_job_publishes_trains_version() {
    if std::env::var("CONTACTSCORE_SPARK").as_deref() != Ok("1") {
        println!("skipped: set CONTACTSCORE_SPARK=1 to run the Spark example (examples/spark/)");
        return;
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let python = std::env::var("CONTACTSCORE_SPARK_PYTHON")
        .map_or_else(|_| root.join("target/spark-venv/bin/python"), PathBuf::from);
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let params = SimulateParams {
        persons: 600,
        days: 30,
        seed: 23,
        implausible_per_10k: 0,
        ..SimulateParams::default()
    };
    let sim = simulate(&params, d).expect("simulate");
    let settings = Config::default().validate().expect("defaults");
    let req = TrainRequest {
        inputs: InputPaths {
            attempts: vec![d.join("attempts.csv")],
            contacts: Some(d.join("contacts.csv")),
            persons: Some(d.join("persons.csv")),
            validations: Some(d.join("validations.csv")),
        },
        models_dir: d.join("whole"),
        family: FamilyChoice::Auto,
        promotion: Promotion::Always,
        max_bad_rows: sim.bad_rows(),
        threads: Threads::ONE,
    };
    let whole = train(&req, &settings, &Progress::silent()).expect("train");
    let p = |f: &str| d.join(f).to_string_lossy().into_owned();
    let out = std::process::Command::new(&python)
        .arg(root.join("examples/spark/contactscore_spark.py"))
        .args(["--trainer", &crate::trainer_bin().to_string_lossy()])
        .args([
            "--attempts",
            &p("attempts.csv"),
            "--contacts",
            &p("contacts.csv"),
        ])
        .args([
            "--persons",
            &p("persons.csv"),
            "--validations",
            &p("validations.csv"),
        ])
        .args([
            "--shards",
            "3",
            "--work",
            &p("work"),
            "--models-dir",
            &p("spark"),
        ])
        .args(["--max-bad-rows", &sim.bad_rows().to_string()])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the Spark job failed: {stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let id = stdout.lines().next().expect("version id").trim().to_owned();
    for line in stderr.lines().filter(|l| l.starts_with("shard ")) {
        println!("{line}");
    }
    let read = |models: &str, v: &str, f: &str| {
        std::fs::read(d.join(models).join(v).join(f)).expect("artifact")
    };
    for f in [MODEL, STATE] {
        assert!(
            read("spark", &id, f) == read("whole", &whole.manifest.version, f),
            "{f} differs"
        );
    }
    let manifest = |models: &str, v: &str| {
        let mut m: serde_json::Value =
            serde_json::from_slice(&read(models, v, MANIFEST)).expect("manifest");
        for volatile in ["version", "created_at"] {
            m[volatile] = serde_json::Value::Null;
        }
        m
    };
    assert_eq!(
        manifest("spark", &id),
        manifest("whole", &whole.manifest.version)
    );
    println!("the Spark job published {id}, identical to train's version");
}
