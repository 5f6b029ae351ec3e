//! The flat forest against forust's own prediction, bit for bit: per tree, in total, row by row
//! and in batches, on rows full of NaNs and of values sitting exactly on split thresholds.

use forust_ml::GradientBooster;
use forust_ml::data::Matrix;

use super::*;
use crate::family::test_rng::Rng;
use crate::family::{Dataset, GbdtModel, HyperParams};
use crate::features::FeatureSchema;

/// Rows in the real feature schema: counts as `ln(1 + n)`, an hour, a channel one-hot, and
/// "days since" features that are NaN when nothing happened, as the state leaves them; the label
/// depends on several of them, non-linearly on the hour and on whether a value is missing.
fn realish(n: usize, seed: u64) -> Dataset {
    let schema = FeatureSchema::new(Vec::new());
    let w = schema.len();
    let mut rng = Rng(seed);
    let mut d = Dataset::new(w);
    let col = |name: &str| schema.index(name);
    let (hour, eng, att) = (
        col("local_hour"),
        col("pcc_engaged_30d"),
        col("pcc_attempts_30d"),
    );
    for _ in 0..n {
        let mut row = vec![0.0_f32; w];
        for v in row.iter_mut() {
            let r = rng.next();
            *v = if r < 0.3 {
                f32::NAN
            } else if r < 0.6 {
                0.0
            } else {
                ((rng.next() * 40.0) as f32).ln_1p()
            };
        }
        let h = rng.below(24) as f32;
        let attempts = rng.below(6) as f32;
        let engaged = (rng.next() as f32 * (attempts + 1.0)).floor().min(attempts);
        for (c, v) in [(hour, h), (att, attempts.ln_1p()), (eng, engaged.ln_1p())] {
            if let Some(c) = c {
                row[c] = v;
            }
        }
        let evening = if (18.0..21.0).contains(&h) { 1.5 } else { 0.0 };
        let gap = if row[w - 1].is_nan() { -0.7 } else { 0.3 };
        let z = -2.0 + 0.8 * f64::from(engaged) - 0.2 * f64::from(attempts) + evening + gap;
        d.push(&row, rng.next() < 1.0 / (1.0 + (-z).exp()));
    }
    d
}

fn fit(d: &Dataset, missing_branch: bool) -> GradientBooster {
    let data = d.column_major_f64();
    let m = Matrix::new(&data, d.len(), d.n_features);
    let y: Vec<f64> = d.y.iter().map(|&b| f64::from(u8::from(b))).collect();
    let mut b = GradientBooster::default()
        .set_iterations(40)
        .set_max_depth(6)
        .set_seed(1)
        .set_num_threads(Some(1))
        .set_create_missing_branch(missing_branch);
    b.fit_unweighted(&m, &y, None)
        .unwrap_or_else(|e| panic!("{e}"));
    b
}

/// Rows to score: fresh random rows, plus rows whose features sit on, just below and just
/// above the trees' split values (where `<` against `<=` or an f32/f64 slip would show).
fn probes(booster: &GradientBooster, w: usize, seed: u64) -> Vec<f32> {
    let mut rows = realish(300, seed).x;
    let mut splits: Vec<(usize, f32)> = Vec::new();
    for t in &booster.trees {
        for n in t.nodes.iter().filter(|n| !n.is_leaf) {
            let s = n.split_value as f32;
            splits.extend([s, s.next_up(), s.next_down()].map(|v| (n.split_feature, v)));
        }
    }
    assert!(!splits.is_empty(), "the trees split");
    let mut rng = Rng(seed ^ 0x5eed);
    for _ in 0..300 {
        let mut row: Vec<f32> = realish(1, rng.0).x;
        rng.next();
        for _ in 0..w {
            let (f, v) = splits[rng.below(splits.len())];
            row[f] = v;
        }
        rows.extend(row);
    }
    rows
}

/// forust's per-tree leaf weights for `rows`, tree-major.
fn forust_per_tree(booster: &GradientBooster, rows: &[f32], w: usize) -> Vec<Vec<f64>> {
    let n = rows.len() / w;
    let mut col = vec![0.0_f64; rows.len()];
    for (i, row) in rows.chunks_exact(w).enumerate() {
        for (j, &v) in row.iter().enumerate() {
            col[j * n + i] = f64::from(v);
        }
    }
    let m = Matrix::new(&col, n, w);
    booster
        .trees
        .iter()
        .map(|t| t.predict(&m, false, &booster.missing))
        .collect()
}

fn flat_leaf(forest: &FlatForest, tree: &TreeSpan, row: &[f32]) -> f64 {
    let mut idx = tree.root;
    for _ in 0..tree.depth {
        let node = forest.node(idx);
        idx = node.step(value(row, node.feature));
    }
    f64::from(forest.node(idx).threshold)
}

fn check_exact(booster: &GradientBooster, rows: &[f32], w: usize) {
    let forest = FlatForest::new(booster).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(forest.trees(), booster.trees.len());
    let n = rows.len() / w;
    let per_tree = forust_per_tree(booster, rows, w);
    // Every tree lands on forust's leaf, in both layouts.
    for (k, (t, expected)) in forest.trees.iter().zip(&per_tree).enumerate() {
        for (i, row) in rows.chunks_exact(w).enumerate() {
            assert_eq!(flat_leaf(&forest, t, row).to_bits(), expected[i].to_bits());
            let leaf = forest.leaf(k, row);
            assert_eq!(f64::from(leaf).to_bits(), expected[i].to_bits());
        }
    }
    // forust's `predict` (base score first, then each tree) from the flat leaves.
    let predicted = {
        let mut col = vec![0.0_f64; rows.len()];
        for (i, row) in rows.chunks_exact(w).enumerate() {
            for (j, &v) in row.iter().enumerate() {
                col[j * n + i] = f64::from(v);
            }
        }
        booster.predict(&Matrix::new(&col, n, w), false)
    };
    let mut batch = Vec::new();
    forest.scores(rows, w, &mut batch);
    assert_eq!(batch.len(), n);
    for (i, row) in rows.chunks_exact(w).enumerate() {
        let leaves = forest.trees.iter().map(|t| flat_leaf(&forest, t, row));
        let forust_order = leaves.clone().fold(booster.base_score, |a, v| a + v);
        assert_eq!(forust_order.to_bits(), predicted[i].to_bits(), "row {i}");
        // The previous scoring path: forust's row walk, summed, then the base score.
        let row64: Vec<f64> = row.iter().map(|&v| f64::from(v)).collect();
        let old = booster.base_score
            + booster
                .trees
                .iter()
                .map(|t| t.predict_row_from_row_slice(&row64, &booster.missing))
                .sum::<f64>();
        assert_eq!(forest.score(row).to_bits(), old.to_bits(), "row {i}");
        assert_eq!(batch[i].to_bits(), old.to_bits(), "row {i} in a batch");
    }
}

#[test]
fn matches_forust_exactly_on_realish_rows() {
    let train = realish(6_000, 11);
    let booster = fit(&train, false);
    check_exact(
        &booster,
        &probes(&booster, train.n_features, 12),
        train.n_features,
    );
}

#[test]
fn matches_forust_exactly_with_separate_missing_branches() {
    let train = realish(6_000, 13);
    let booster = fit(&train, true);
    let three_way =
        booster.trees.iter().flat_map(|t| &t.nodes).any(|n| {
            !n.is_leaf && n.missing_node != n.left_child && n.missing_node != n.right_child
        });
    assert!(
        three_way,
        "the test needs nodes with their own missing branch"
    );
    check_exact(
        &booster,
        &probes(&booster, train.n_features, 14),
        train.n_features,
    );
}

#[test]
fn runs_of_similar_rows_share_leaves_and_score_exactly() {
    let train = realish(6_000, 21);
    let booster = fit(&train, false);
    let forest = FlatForest::new(&booster).unwrap_or_else(|e| panic!("{e}"));
    let Some(complete) = forest.complete.as_ref() else {
        panic!("these trees fit the complete layout");
    };
    let w = train.n_features;
    let hour = FeatureSchema::new(Vec::new())
        .index("local_hour")
        .unwrap_or_else(|| panic!("local_hour"));
    // Like the hourly slots of one contact and channel: the hour moves, and now and then one
    // other feature is nudged or goes missing.
    let mut rng = Rng(22);
    let mut rows = Vec::new();
    for base in realish(40, 23).x.chunks_exact(w) {
        for k in 0..11 {
            let mut r = base.to_vec();
            r[hour] = (9 + k) as f32;
            if rng.next() < 0.3 {
                let f = rng.below(w);
                r[f] = if rng.next() < 0.5 {
                    f32::NAN
                } else {
                    r[f] + 0.01
                };
            }
            rows.extend(r);
        }
    }
    let mut batch = Vec::new();
    forest.scores(&rows, w, &mut batch);
    for (i, row) in rows.chunks_exact(w).enumerate() {
        assert_eq!(batch[i].to_bits(), forest.score(row).to_bits(), "row {i}");
    }
    // A shared leaf is every row's own leaf, and it is found often enough to matter.
    let (mut shared, mut total) = (0, 0);
    for block in rows.chunks(LANES * w) {
        let mut spans = Vec::new();
        complete::block_spans(&lanes(block, w, block.len() / w, 0), w, &mut spans);
        for t in 0..forest.trees() {
            total += 1;
            if let Some(leaf) = complete.shared_leaf(t, &spans) {
                shared += 1;
                for row in block.chunks_exact(w) {
                    assert_eq!(complete.leaf(t, row).to_bits(), leaf.to_bits());
                }
            }
        }
    }
    println!("shared leaves: {shared} of {total} (tree, block) pairs");
    assert!(shared * 5 > total, "{shared} of {total}");
}

#[test]
fn batches_of_any_length_equal_single_rows() {
    let train = realish(3_000, 15);
    let w = train.n_features;
    let mut hp = HyperParams::default();
    hp.gbdt.iterations = 30;
    hp.gbdt.threads = 1;
    let hp = hp.validate().unwrap_or_else(|e| panic!("{e}"));
    let model = GbdtModel::fit(&train, &hp).unwrap_or_else(|e| panic!("{e}"));
    let rows = realish(70, 16).x;
    let mut out = vec![1.0; 3];
    for n in [0, 1, 7, 8, 9, 16, 17, 66, 70] {
        model.scores(&rows[..n * w], w, &mut out);
        assert_eq!(out.len(), n);
        for (i, s) in out.iter().enumerate() {
            let single = model.score(&rows[i * w..(i + 1) * w]);
            assert_eq!(s.to_bits(), single.to_bits(), "n {n} row {i}");
        }
    }
    // A trailing partial row is ignored, a zero width scores nothing.
    model.scores(&rows[..2 * w + 3], w, &mut out);
    assert_eq!(out.len(), 2);
    model.scores(&rows, 0, &mut out);
    assert!(out.is_empty());
}

#[test]
fn f32_thresholds_split_every_f32_as_the_f64_comparison_does() {
    let mut rng = Rng(17);
    let mut cases: Vec<f64> = vec![0.0, -0.0, 1.0, 0.1, -0.1, 1e-40, 3.4e38, 3.5e38, -3.5e38];
    cases.extend([f64::INFINITY, f64::NEG_INFINITY, f64::NAN]);
    cases.extend((0..2_000).map(|_| (rng.next() - 0.5) * 10f64.powi(rng.below(20) as i32 - 10)));
    for s in cases {
        let t = f32_threshold(s);
        let near = s as f32;
        let xs = [
            near,
            near.next_up(),
            near.next_down(),
            t,
            t.next_down(),
            0.0,
            -0.0,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::MAX,
            f32::MIN,
            f32::NAN,
        ];
        for x in xs {
            assert_eq!(f64::from(x) < s, x < t, "x {x:e} s {s:e} t {t:e}");
        }
    }
}

#[test]
fn boosters_it_cannot_score_exactly_are_refused_on_load() {
    let train = realish(2_000, 19);
    let booster = fit(&train, false);
    let model = GbdtModel::from_booster(booster).unwrap_or_else(|e| panic!("{e}"));
    let json = serde_json::to_value(&model).unwrap_or_else(|e| panic!("{e}"));
    // Same layout as before the flat forest: the booster and nothing else.
    let keys: Vec<&String> = json
        .as_object()
        .map(|o| o.keys().collect())
        .unwrap_or_default();
    assert_eq!(keys, ["booster"]);
    let back: GbdtModel = serde_json::from_value(json.clone()).unwrap_or_else(|e| panic!("{e}"));
    let row = &train.x[..train.n_features];
    assert_eq!(back.score(row).to_bits(), model.score(row).to_bits());

    let mut zero_missing = json.clone();
    zero_missing["booster"]["missing"] = 0.0.into();
    let err = serde_json::from_value::<GbdtModel>(zero_missing)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("missing value is 0"), "{err}");

    let mut bad_child = json;
    bad_child["booster"]["trees"][0]["nodes"][0]["left_child"] = 1_000_000.into();
    let err = serde_json::from_value::<GbdtModel>(bad_child)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("tree 0: child index 1000000 out of range"),
        "{err}"
    );
}
