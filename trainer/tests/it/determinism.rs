//! Training is deterministic for a given input, config and seed: two runs publish byte-identical
//! models and state snapshots (only the version id and creation time differ).

use contactscore_models::artifact::registry::{MODEL, STATE};
use contactscore_trainer::config::Config;
use contactscore_trainer::ingest::InputPaths;
use contactscore_trainer::progress::Progress;
use contactscore_trainer::simulate::{SimulateParams, simulate};
use contactscore_trainer::train::{FamilyChoice, Promotion, TrainRequest, train};

#[test]
fn same_input_and_seed_give_identical_models() {
    let dir = tempfile::tempdir().expect("tempdir");
    let params = SimulateParams {
        persons: 1500,
        days: 40,
        seed: 5,
        ..SimulateParams::default()
    };
    let sim = simulate(&params, dir.path()).expect("simulate");
    let settings = Config::default().validate().expect("defaults");
    let run = |models: &str| {
        let req = TrainRequest {
            inputs: InputPaths {
                attempts: vec![dir.path().join("attempts.csv")],
                contacts: Some(dir.path().join("contacts.csv")),
                persons: Some(dir.path().join("persons.csv")),
                validations: Some(dir.path().join("validations.csv")),
            },
            models_dir: dir.path().join(models),
            family: FamilyChoice::Auto,
            promotion: Promotion::Always,
            max_bad_rows: sim.bad_rows(),
        };
        let out = train(&req, &settings, &Progress::silent()).expect("train");
        let vdir = dir.path().join(models).join(&out.manifest.version);
        let read = |f: &str| std::fs::read(vdir.join(f)).expect("artifact");
        (out.manifest, read(MODEL), read(STATE))
    };
    let (m1, model1, state1) = run("a");
    let (m2, model2, state2) = run("b");
    assert_eq!(m1.family, m2.family);
    assert_eq!(m1.metrics, m2.metrics);
    assert_eq!(m1.files, m2.files, "model.json and state.bin checksums");
    assert!(model1 == model2, "model.json differs between runs");
    assert!(state1 == state2, "state.bin differs between runs");
}
