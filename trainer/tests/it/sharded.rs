//! Sharded training publishes the unsharded run's version byte for byte: `train --shards P` for
//! several P (alone and with several threads), and the distributed steps `split --shard I --of
//! P` with `split-merge`, `replay --shard I --of P` and `fit` run as separate commands.
//! Compared: `model.json`, `state.bin` and the manifest apart from its id and creation time. The
//! simulated export has malformed rows (skipped under --max-bad-rows), duplicates, a persons file
//! with attributes and carrier validations, so bad-row reports, de-duplication and attribute
//! typing are merged too.

use std::path::Path;

use contactscore_models::artifact::registry::{MANIFEST, MODEL, STATE};
use contactscore_trainer::config::Config;
use contactscore_trainer::ingest::InputPaths;
use contactscore_trainer::progress::Progress;
use contactscore_trainer::shard::run::train_sharded;
use contactscore_trainer::simulate::{SimulateParams, simulate};
use contactscore_trainer::threads::Threads;
use contactscore_trainer::train::{FamilyChoice, Promotion, TrainRequest, train};

use crate::split_dist::{NOW, merge, partial};

/// A version's manifest (id and creation time blanked), model and state bytes.
type Version = (serde_json::Value, Vec<u8>, Vec<u8>);

fn version(models: &Path, id: &str) -> Version {
    let vdir = models.join(id);
    let read = |f: &str| std::fs::read(vdir.join(f)).expect("artifact");
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&read(MANIFEST)).expect("manifest");
    for volatile in ["version", "created_at"] {
        manifest[volatile] = serde_json::Value::Null;
    }
    (manifest, read(MODEL), read(STATE))
}

fn assert_same(got: &Version, want: &Version, what: &str) {
    assert_eq!(got.0, want.0, "manifest differs: {what}");
    assert!(got.1 == want.1, "model.json differs: {what}");
    assert!(got.2 == want.2, "state.bin differs: {what}");
}

fn inputs(dir: &Path) -> InputPaths {
    InputPaths {
        attempts: vec![dir.join("attempts.csv")],
        contacts: Some(dir.join("contacts.csv")),
        persons: Some(dir.join("persons.csv")),
        validations: Some(dir.join("validations.csv")),
    }
}

#[test]
fn sharded_training_publishes_the_unsharded_version_byte_for_byte() {
    let dir = tempfile::tempdir().expect("tempdir");
    let params = SimulateParams {
        persons: 800,
        days: 40,
        seed: 11,
        // An implausible row's message names the present, which moves between runs.
        implausible_per_10k: 0,
        ..SimulateParams::default()
    };
    let sim = simulate(&params, dir.path()).expect("simulate");
    assert!(sim.bad_rows() > 0, "the export should have malformed rows");
    let settings = Config::default().validate().expect("defaults");
    let req = |models: &str, threads: usize| TrainRequest {
        inputs: inputs(dir.path()),
        models_dir: dir.path().join(models),
        family: FamilyChoice::Auto,
        promotion: Promotion::Always,
        max_bad_rows: sim.bad_rows(),
        threads: Threads::new(threads),
    };
    let quiet = Progress::silent();
    let whole = train(&req("whole", 1), &settings, &quiet).expect("train");
    let want = version(&dir.path().join("whole"), &whole.manifest.version);
    for (shards, threads) in [(1, 1), (2, 1), (3, 2), (7, 1), (4, 3)] {
        let models = format!("p{shards}t{threads}");
        let out = train_sharded(&req(&models, threads), &settings, shards, &quiet)
            .expect("train --shards");
        let got = version(&dir.path().join(&models), &out.manifest.version);
        assert_same(
            &got,
            &want,
            &format!("--shards {shards} --threads {threads}"),
        );
        // The scratch directory is gone.
        let left: Vec<_> = std::fs::read_dir(dir.path().join(&models))
            .expect("models dir")
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with(".train-shards"))
            .collect();
        assert!(left.is_empty(), "scratch left behind");
    }

    // The same as separate commands, as a distributed engine would schedule them.
    let d = dir.path();
    let path = |name: &str| d.join(name).to_string_lossy().into_owned();
    let bad = sim.bad_rows().to_string();
    let files = [
        "--attempts",
        &path("attempts.csv"),
        "--contacts",
        &path("contacts.csv"),
        "--persons",
        &path("persons.csv"),
        "--validations",
        &path("validations.csv"),
    ];
    let (plan, shards_dir) = (path("split.json"), path("shards"));
    // The split distributed too: a partial per shard, then their merge.
    let budget = ["--max-bad-rows".to_owned(), bad.clone()];
    let mut flags: Vec<String> = files.iter().map(|f| (*f).to_owned()).collect();
    flags.extend(budget.clone());
    for i in 0..3 {
        let (code, err) = partial(&d.join("split"), i, 3, NOW, &flags);
        assert_eq!(code, 0, "split --shard {i}: {err}");
    }
    let (code, err) = merge(&d.join("split"), 3, Path::new(&plan), &budget);
    assert_eq!(code, 0, "split-merge: {err}");
    for i in 0..3 {
        let shard = i.to_string();
        let mut args = vec![
            "-q",
            "--threads",
            "1",
            "replay",
            "--split",
            &plan,
            "--shard",
            &shard,
            "--of",
            "3",
            "--out",
            &shards_dir,
            "--max-bad-rows",
            &bad,
        ];
        args.extend(files);
        let (code, _, err) = crate::run(&args);
        assert_eq!(code, 0, "replay shard {i}: {err}");
    }
    let models = path("fitted");
    let args = [
        "-q",
        "fit",
        "--split",
        &plan,
        "--shards-dir",
        &shards_dir,
        "--of",
        "3",
        "--models-dir",
        &models,
        "--max-bad-rows",
        &bad,
    ];
    let (code, out, err) = crate::run(&args);
    assert_eq!(code, 0, "fit: {err}");
    let id = out.lines().next().expect("version id").trim();
    assert_same(
        &version(&d.join("fitted"), id),
        &want,
        "split + replay + fit",
    );

    // A missing shard is named; a shard count that does not match is refused.
    let args = [
        "-q",
        "fit",
        "--split",
        &plan,
        "--shards-dir",
        &shards_dir,
        "--of",
        "4",
        "--models-dir",
        &models,
        "--max-bad-rows",
        &bad,
    ];
    let (code, _, err) = crate::run(&args);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("shard-00000-of-00004"), "{err}");
}

#[test]
fn an_attempt_id_reused_for_persons_of_two_shards_is_refused() {
    // p1 is in shard 0 of 2, p2 in shard 1: the unsharded run would keep only A1's first row.
    // Refused by the split (its message counts the ids and names no person or contact point).
    let dir = tempfile::tempdir().expect("tempdir");
    let attempts = crate::write(
        dir.path(),
        "attempts.csv",
        "attempt_id,person_id,contact,channel,attempted_at,outcome\n\
         A1,p1,+5511987654321,voice,2026-01-05T12:00:00Z,no_answer\n\
         A1,p2,+5511987654322,voice,2026-01-05T13:00:00Z,no_answer\n",
    );
    let plan = dir.path().join("split.json");
    let (code, _, err) = crate::run(&[
        "-q",
        "split",
        "--attempts",
        &attempts,
        "--shards",
        "2",
        "--out",
        &plan.to_string_lossy(),
    ]);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("1 attempt ids are used for more than one person"),
        "{err}"
    );
    assert!(!err.contains("+55"), "a contact point in clear: {err}");

    // Distributed: each partial alone is fine, their merge refuses the export.
    let input = ["--attempts".to_owned(), attempts];
    let root = dir.path().join("parts");
    for i in 0..2 {
        let (code, err) = partial(&root, i, 2, NOW, &input);
        assert_eq!(code, 0, "partial {i}: {err}");
    }
    let (code, err) = merge(&root, 2, &plan, &[]);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("attempts.csv")
            && err.contains("1 attempt ids are used for more than one person"),
        "{err}"
    );
    // (The temporary directory's random name could hold any of these.)
    let err = err.replace(dir.path().to_string_lossy().as_ref(), "");
    for personal in ["+55", "p1", "p2", "A1"] {
        assert!(!err.contains(personal), "personal data in clear: {err}");
    }
}
