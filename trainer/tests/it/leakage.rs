//! Point-in-time correctness: an attempt's features must not change when later attempts are
//! removed from the input.

use std::collections::HashMap;

use contactscore_models::ContactNormalizer;
use contactscore_models::features::{FeatureSchema, FeatureState};
use contactscore_trainer::ingest::{DispositionMap, IngestOptions, InputPaths, ingest};
use contactscore_trainer::progress::Progress;
use contactscore_trainer::replay::{replay, seed_state};
use contactscore_trainer::simulate::{SimulateParams, simulate};

fn features_by_id(inputs: &InputPaths) -> HashMap<String, Vec<u32>> {
    let opts = IngestOptions {
        normalizer: ContactNormalizer::new("BR").expect("region"),
        max_bad_rows: 0,
        dispositions: DispositionMap::default(),
        progress: false,
    };
    let data = ingest(inputs, &opts).expect("ingest");
    let schema = FeatureSchema::new(data.person_attrs.clone());
    let mut state = FeatureState::new("America/Sao_Paulo").expect("zone");
    let slots = seed_state(&mut state, &data).expect("seed");
    let mut out = HashMap::new();
    replay(
        &mut state,
        &data,
        &slots,
        &schema,
        |_, _| true,
        // Compare bit patterns so NaN == NaN.
        |_, row, f| {
            out.insert(
                data.attempt_id(row).to_owned(),
                f.iter().map(|v| v.to_bits()).collect(),
            );
        },
        &Progress::silent(),
    )
    .expect("replay");
    out
}

#[test]
fn features_do_not_see_later_attempts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let params = SimulateParams {
        persons: 400,
        days: 30,
        seed: 11,
        ..SimulateParams::default()
    };
    simulate(&params, dir.path()).expect("simulate");
    let cutoff = params.start.as_second() + 20 * 86_400;

    // Keep only the attempts before the cutoff.
    let full = dir.path().join("attempts.csv");
    let early = dir.path().join("early.csv");
    let mut r = csv::Reader::from_path(&full).expect("read");
    let mut w = csv::Writer::from_path(&early).expect("write");
    let headers = r.headers().expect("headers").clone();
    let col = headers
        .iter()
        .position(|h| h == "attempted_at")
        .expect("attempted_at");
    w.write_record(&headers).expect("write");
    let mut kept = 0;
    for rec in r.records() {
        let rec = rec.expect("record");
        let t: jiff::Timestamp = rec[col].parse().expect("timestamp");
        if t.as_second() < cutoff {
            w.write_record(&rec).expect("write");
            kept += 1;
        }
    }
    w.flush().expect("flush");

    let side = |attempts| InputPaths {
        attempts: vec![attempts],
        contacts: Some(dir.path().join("contacts.csv")),
        persons: Some(dir.path().join("persons.csv")),
    };
    let all = features_by_id(&side(full));
    let truncated = features_by_id(&side(early));
    assert!(kept > 1000 && truncated.len() > 1000, "kept {kept}");
    assert!(all.len() > truncated.len(), "later attempts exist");
    let mut differing = Vec::new();
    for (id, f) in &truncated {
        if all.get(id) != Some(f) {
            differing.push(id.clone());
        }
    }
    assert!(
        differing.is_empty(),
        "{} attempts changed, e.g. {:?}",
        differing.len(),
        &differing[..differing.len().min(5)]
    );
}
