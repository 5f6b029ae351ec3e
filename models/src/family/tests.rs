//! Unit tests for the families on seeded synthetic rows.

use super::*;
use crate::calibration::sigmoid;
use crate::family::test_rng::Rng;
use crate::features::FeatureSchema;
use crate::metrics::auc;

/// Rows whose label depends on an engaged count and, non-linearly, on the local hour.
fn synthetic(n: usize, seed: u64) -> (FeatureSchema, Dataset) {
    let schema = FeatureSchema::new(Vec::new());
    let mut rng = Rng(seed);
    let mut d = Dataset::new(schema.len());
    let hour = schema.index("local_hour").unwrap_or(0);
    let eng = schema.index("pcc_engaged_30d").unwrap_or(0);
    let att = schema.index("pcc_attempts_30d").unwrap_or(0);
    let voice = schema.index("ch_voice").unwrap_or(0);
    for _ in 0..n {
        let mut row = vec![0.0_f32; schema.len()];
        let h = (rng.next() * 24.0).floor();
        let attempts = (rng.next() * 6.0).floor();
        let engaged = (rng.next() * (attempts + 1.0)).floor().min(attempts);
        row[hour] = h as f32;
        row[att] = (attempts as f32).ln_1p();
        row[eng] = (engaged as f32).ln_1p();
        row[voice] = 1.0;
        let evening = if (18.0..21.0).contains(&h) { 1.5 } else { 0.0 };
        let z = -2.5 + 0.8 * engaged - 0.2 * attempts + evening;
        d.push(&row, rng.next() < sigmoid(z));
    }
    (schema, d)
}

fn params() -> ValidHyperParams {
    let mut hp = HyperParams::default();
    hp.gbdt.iterations = 60;
    hp.gbdt.threads = 1;
    hp.validate().unwrap_or_else(|e| panic!("{e}"))
}

fn test_auc(m: &FittedModel, d: &Dataset) -> f64 {
    auc(&m.score_all(d), &d.y).unwrap_or(0.0)
}

#[test]
fn every_family_learns_the_signal() {
    let (schema, train) = synthetic(20_000, 1);
    let (_, test) = synthetic(10_000, 2);
    let mut aucs = Vec::new();
    for f in Family::ALL {
        let m = f
            .fit(&schema, &train, &params())
            .unwrap_or_else(|e| panic!("{f}: {e}"));
        assert_eq!(m.family(), f);
        aucs.push((f, test_auc(&m, &test)));
    }
    for (f, a) in &aucs {
        assert!(*a > 0.65, "{f} AUC {a}");
    }
    // Only the trees can see that evenings are better (an hour band, not a linear trend).
    let gbdt = aucs[2].1;
    assert!(gbdt > aucs[1].1, "gbdt {gbdt} vs logistic {}", aucs[1].1);
}

#[test]
fn models_round_trip_through_json() {
    let (schema, train) = synthetic(5_000, 3);
    for f in Family::ALL {
        let m = f
            .fit(&schema, &train, &params())
            .unwrap_or_else(|e| panic!("{f}: {e}"));
        let json = serde_json::to_string(&m).unwrap_or_else(|e| panic!("{f}: {e}"));
        let back: FittedModel = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{f}: {e}"));
        for i in 0..50 {
            let (a, b) = (m.score(train.row(i)), back.score(train.row(i)));
            assert!((a - b).abs() < 1e-9, "{f}: {a} vs {b}");
        }
    }
}

#[test]
fn one_class_data_is_an_error_not_a_panic() {
    let schema = FeatureSchema::new(Vec::new());
    let mut d = Dataset::new(schema.len());
    for _ in 0..200 {
        d.push(&vec![0.0; schema.len()], false);
    }
    assert!(Family::Logistic.fit(&schema, &d, &params()).is_err());
    assert!(Family::Gbdt.fit(&schema, &d, &params()).is_err());
    assert!(
        Family::Baseline
            .fit(&schema, &Dataset::new(schema.len()), &params())
            .is_err()
    );
}

#[test]
fn bad_hyperparameters_name_the_key() {
    let mut hp = HyperParams::default();
    hp.gbdt.learning_rate = 0.0;
    let err = hp
        .validate()
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("gbdt.learning_rate"), "{err}");
    assert!("forest".parse::<Family>().is_err());
    for (subsample, top, other, key) in [
        (0.0, 0.2, 0.1, "gbdt.subsample"),
        (1.5, 0.2, 0.1, "gbdt.subsample"),
        (1.0, 0.8, 0.3, "gbdt.top_rate"),
        (1.0, 0.2, 0.0, "gbdt.other_rate"),
    ] {
        let mut hp = HyperParams::default();
        hp.gbdt.subsample = subsample;
        hp.gbdt.top_rate = top;
        hp.gbdt.other_rate = other;
        let err = hp
            .validate()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains(key), "{subsample} {top} {other}: {err}");
    }
}

#[test]
fn row_sampling_grows_other_trees_that_still_learn() {
    let (schema, train) = synthetic(20_000, 3);
    let (_, test) = synthetic(5_000, 4);
    let fit = |method, subsample, rows_per_tree| {
        let mut hp = HyperParams::default();
        hp.gbdt.iterations = 30;
        hp.gbdt.sample_method = method;
        hp.gbdt.subsample = subsample;
        hp.gbdt.rows_per_tree = rows_per_tree;
        let params = hp.validate().unwrap_or_else(|e| panic!("{e}"));
        Family::Gbdt
            .fit(&schema, &train, &params)
            .unwrap_or_else(|e| panic!("{method:?}: {e}"))
    };
    let json = |m: &FittedModel| serde_json::to_string(m).unwrap_or_else(|e| panic!("{e}"));
    let all = fit(RowSampling::None, 1.0, 1_000_000);
    let all_auc = test_auc(&all, &test);
    for (method, subsample) in [(RowSampling::Random, 0.5), (RowSampling::Goss, 1.0)] {
        let sampled = fit(method, subsample, 1_000_000);
        assert!(
            json(&sampled) != json(&all),
            "{method:?} grew the same trees"
        );
        let auc = test_auc(&sampled, &test);
        assert!(
            auc > 0.65 && auc > all_auc - 0.02,
            "{method:?}: test AUC {auc}, every row {all_auc}"
        );
    }
    // `auto` (the default) is `none` up to `rows_per_tree` training rows, and `random` with a
    // `rows_per_tree` share of the rows beyond.
    let auto_within = fit(RowSampling::Auto, 1.0, 20_000);
    assert!(
        json(&auto_within) == json(&all),
        "auto within rows_per_tree"
    );
    let auto_beyond = fit(RowSampling::Auto, 1.0, 10_000);
    let half = fit(RowSampling::Random, 0.5, 1_000_000);
    assert!(
        json(&auto_beyond) == json(&half),
        "auto beyond rows_per_tree"
    );
}

#[test]
fn gbdt_fits_identically_on_any_number_of_threads() {
    // Enough rows for forust's parallel steps (gradient blocks, tiled histograms) to split work.
    let (schema, train) = synthetic(60_000, 5);
    let fit = |threads: usize| {
        let mut hp = HyperParams::default();
        hp.gbdt.iterations = 20;
        hp.gbdt.threads = threads;
        let params = hp.validate().unwrap_or_else(|e| panic!("{e}"));
        let m = Family::Gbdt
            .fit(&schema, &train, &params)
            .unwrap_or_else(|e| panic!("{threads} threads: {e}"));
        serde_json::to_string(&m).unwrap_or_else(|e| panic!("{e}"))
    };
    let one = fit(1);
    for threads in [2, 3] {
        assert!(fit(threads) == one, "{threads} threads fit another model");
    }
}
