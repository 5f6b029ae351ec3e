//! End to end on the project's own simulator, dirty rows included (numbers outside the
//! metadata's ranges, carrier lookups, malformed rows): simulate 90 days, train on the first 70,
//! score the last 20 out of time, and hold the trained model to the bar: every attempt
//! that is not a bad row is scored, a learner beats the baseline on out-of-time log loss,
//! calibration error is small, and predictions track the simulator's true probabilities.

use anyhow::Result;
use std::collections::HashSet;

use contactscore_e2e::{simulated, split_by_time, truth};
use contactscore_models::artifact::Registry;
use contactscore_models::family::Family;
use contactscore_models::localtime::DAY;
use contactscore_models::metrics::{binary_metrics, pearson};
use contactscore_trainer::config::Config;
use contactscore_trainer::ingest::{DispositionMap, InputPaths};
use contactscore_trainer::progress::Progress;
use contactscore_trainer::score::{ScoreRequest, score};
use contactscore_trainer::split::split_on;
use contactscore_trainer::train::{FamilyChoice, Promotion, TrainRequest, train};

#[test]
fn learners_beat_the_baseline_out_of_time_and_are_calibrated() -> Result<()> {
    let sim = simulated(20_000, 90, 7)?;
    let start = contactscore_trainer::simulate::SimulateParams::default()
        .start
        .as_second();
    let (train_csv, holdout_csv) = (
        sim.dir.path().join("train.csv"),
        sim.dir.path().join("holdout.csv"),
    );
    let (n_train, n_holdout) =
        split_by_time(&sim.attempts, start + 70 * DAY, &train_csv, &holdout_csv)?;
    assert!(
        n_train > 100_000 && n_holdout > 20_000,
        "{n_train} / {n_holdout}"
    );
    let (train_validations, holdout_validations) = (
        sim.dir.path().join("train_validations.csv"),
        sim.dir.path().join("holdout_validations.csv"),
    );
    split_on(
        "validated_at",
        &sim.validations,
        start + 70 * DAY,
        &train_validations,
        &holdout_validations,
    )?;
    assert!(sim.bad_rows > 0, "the simulator mixes in malformed rows");

    let models = sim.dir.path().join("models");
    let settings = Config::default().validate()?;
    let req = TrainRequest {
        inputs: InputPaths {
            attempts: vec![train_csv],
            contacts: Some(sim.contacts.clone()),
            persons: Some(sim.persons.clone()),
            validations: Some(train_validations),
        },
        models_dir: models.clone(),
        family: FamilyChoice::Auto,
        promotion: Promotion::Always,
        max_bad_rows: sim.bad_rows,
        threads: contactscore_trainer::threads::Threads::all(),
    };
    let trained = train(&req, &settings, &Progress::silent())?;
    let m = &trained.manifest;
    assert_eq!(
        Registry::open(&models)?.current()?.as_deref(),
        Some(m.version.as_str())
    );
    assert_ne!(
        m.family,
        Family::Baseline,
        "a learner should win on validation: {:?}",
        m.metrics
    );

    let run = score(
        &ScoreRequest {
            models_dir: models,
            version: None,
            attempts: vec![holdout_csv.clone()],
            validations: Some(holdout_validations),
            dispositions: DispositionMap::default(),
            max_bad_rows: sim.bad_rows,
            threads: contactscore_trainer::threads::Threads::all(),
        },
        &Progress::silent(),
    )?;
    // Every attempt of the holdout is scored: all but the malformed rows (ids `M…`) and the
    // rows at implausible times (ids `I…`), the numbers outside the metadata's ranges included.
    let mut ids = HashSet::new();
    let mut r = csv::Reader::from_path(&holdout_csv)?;
    for rec in r.records() {
        let rec = rec?;
        if !rec[0].starts_with(['M', 'I']) {
            ids.insert(rec[0].to_owned());
        }
    }
    assert_eq!(run.scored.len(), ids.len());
    assert_eq!(
        run.report.skipped_total(),
        n_holdout - run.report.files[0].rows_used - run.report.files[0].duplicates
    );
    assert_eq!(
        run.scored.iter().filter(|s| s.stale).count(),
        0,
        "holdout is strictly later"
    );
    let labels: Vec<bool> = run.scored.iter().map(|s| s.label).collect();
    let model: Vec<f64> = run.scored.iter().map(|s| s.probability).collect();
    let base: Vec<f64> = run.scored.iter().map(|s| s.baseline).collect();
    let mm = binary_metrics(&model, &labels, 10);
    let bm = binary_metrics(&base, &labels, 10);
    eprintln!(
        "model {:?}\nbaseline {:?}",
        (mm.log_loss, mm.auc, mm.ece),
        (bm.log_loss, bm.auc, bm.ece)
    );
    assert!(
        mm.log_loss < bm.log_loss - 0.005,
        "model {} vs baseline {}",
        mm.log_loss,
        bm.log_loss
    );
    assert!(mm.ece <= 0.02, "ECE {}", mm.ece);

    let truth = truth(&sim.truth)?;
    let pairs: Vec<(f64, f64)> = run
        .scored
        .iter()
        .filter_map(|s| truth.get(&s.attempt_id).map(|t| (s.probability, *t)))
        .collect();
    assert_eq!(
        pairs.len(),
        run.scored.len(),
        "every scored attempt has a true probability"
    );
    let (p, t): (Vec<f64>, Vec<f64>) = pairs.into_iter().unzip();
    let r = pearson(&p, &t).unwrap_or(0.0);
    eprintln!("correlation with the true probability: {r:.3}");
    assert!(r > 0.6, "correlation with the truth {r}");
    Ok(())
}
