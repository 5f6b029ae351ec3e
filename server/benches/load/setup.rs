//! Builds what the load runs against: a simulated, trained version whose feature state is grown
//! to `--persons` by replicating the trained persons, published and promoted; and the workload
//! the load generator draws Rank requests from.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Result, bail};
use contactscore_models::artifact::Registry;
use contactscore_models::features::state::HourCell;
use contactscore_models::features::{ChannelState, ContactState, FeatureState, PersonState};
use contactscore_proto::v1;
use contactscore_trainer::ingest::InputPaths;
use contactscore_trainer::progress::Progress;
use contactscore_trainer::simulate::{SimulateParams, simulate};
use contactscore_trainer::train::{FamilyChoice, Promotion, TrainRequest, train};

use crate::drive::SplitMix;
use crate::isolation::rank_in_isolation;
use crate::sys::MIB;
use crate::{Args, DAY};

/// What the load generator needs to build requests: person ids and the template contacts.
pub(crate) struct Workload {
    /// Ids of the trained persons (slots `0..templates`).
    pub(crate) trained_ids: Vec<Box<str>>,
    /// Contact keys of each trained person (replicas share their template's).
    pub(crate) contacts: Vec<Vec<String>>,
    /// Persons in the served state.
    pub(crate) persons: usize,
    /// The fixed `as_of` of every Rank request.
    pub(crate) as_of: i64,
    /// Percentage of requests with explicit contacts.
    pub(crate) explicit_percent: u32,
}

impl Workload {
    pub(crate) fn person_id(&self, i: usize) -> String {
        match self.trained_ids.get(i) {
            Some(id) => id.to_string(),
            None => replica_id(i),
        }
    }

    pub(crate) fn request(&self, rng: &mut SplitMix) -> v1::RankRequest {
        let i = rng.below(self.persons as u64) as usize;
        let explicit = rng.below(100) < u64::from(self.explicit_percent);
        let contacts = if explicit {
            self.contacts[i % self.contacts.len()]
                .iter()
                .map(|c| v1::ContactPoint {
                    contact: c.clone(),
                    ..Default::default()
                })
                .collect()
        } else {
            Vec::new()
        };
        v1::RankRequest {
            person_id: self.person_id(i),
            contacts,
            as_of: Some(prost_types::Timestamp {
                seconds: self.as_of,
                nanos: 0,
            }),
            ..Default::default()
        }
    }
}

pub(crate) fn replica_id(i: usize) -> String {
    format!("load-{i:07}")
}

/// Simulate, train, grow the state to `args.persons`, time `rank::rank` on it, publish and
/// promote the grown version. Returns the workload and the new version id.
pub(crate) fn build_version(
    args: &Args,
    dir: &Path,
    models: &Path,
) -> Result<(Arc<Workload>, String)> {
    let t = Instant::now();
    let params = SimulateParams {
        persons: args.train_persons,
        days: args.train_days,
        seed: args.seed,
        ..SimulateParams::default()
    };
    let data = dir.join("data");
    let sim = simulate(&params, &data)?;
    println!(
        "simulate: {} persons × {} days → {} attempts in {:.2} s",
        args.train_persons,
        args.train_days,
        sim.attempts,
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let req = TrainRequest {
        inputs: InputPaths {
            attempts: vec![data.join("attempts.csv")],
            contacts: Some(data.join("contacts.csv")),
            persons: Some(data.join("persons.csv")),
            validations: Some(data.join("validations.csv")),
        },
        models_dir: models.to_owned(),
        family: FamilyChoice::Auto,
        promotion: Promotion::Always,
        max_bad_rows: sim.bad_rows(),
    };
    let settings = contactscore_trainer::config::Config::default().validate()?;
    let trained = train(&req, &settings, &Progress::silent())?.manifest;
    println!(
        "train: version {} ({} selected) in {:.1} s",
        trained.version,
        trained.family,
        t.elapsed().as_secs_f64()
    );

    let registry = Registry::open(models)?;
    let loaded = registry.load(Some(&trained.version))?;
    let mut state = loaded.state;
    let templates = state.len();
    if templates == 0 {
        bail!("the trained state holds no persons");
    }
    let t = Instant::now();
    grow(&mut state, args.persons);
    println!(
        "grow: {templates} trained persons replicated to {} in {:.1} s; state ≈ {:.0} MiB on the heap",
        state.len(),
        t.elapsed().as_secs_f64(),
        state_heap_bytes(&state) as f64 / MIB
    );

    let cutoff = state.cutoff.unwrap_or(0);
    let as_of = planning_day(cutoff);
    println!(
        "as_of: {} (training cutoff {})",
        ts_text(as_of),
        ts_text(cutoff)
    );
    rank_in_isolation(args, &state, &loaded.model, as_of);

    let workload = Arc::new(Workload {
        trained_ids: state.person_ids[..templates].to_vec(),
        contacts: state.persons[..templates]
            .iter()
            .map(|p| p.contacts.iter().map(|c| c.key.to_string()).collect())
            .collect(),
        persons: state.len(),
        as_of,
        explicit_percent: args.explicit_percent,
    });

    let t = Instant::now();
    let mut manifest = loaded.manifest;
    manifest.version = format!("{}-load{}", trained.version, state.len());
    let path = registry.publish(&mut manifest, &loaded.model, &state, &loaded.evidence)?;
    registry.promote(&manifest.version)?;
    let bytes = std::fs::metadata(path.join("state.bin"))?.len();
    println!(
        "publish + promote {}: {:.1} s; state.bin {:.0} MiB",
        manifest.version,
        t.elapsed().as_secs_f64(),
        bytes as f64 / MIB
    );
    Ok((workload, manifest.version))
}

/// Append clones of the trained persons under new ids until the state holds `persons`.
pub(crate) fn grow(state: &mut FeatureState, persons: usize) {
    let templates = state.len();
    let extra = persons.saturating_sub(templates);
    state.persons.reserve(extra);
    state.person_ids.reserve(extra);
    for i in templates..persons {
        let copy = state.persons[i % templates].clone();
        state.persons.push(copy);
        state.person_ids.push(replica_id(i).into());
    }
    state.rebuild_index();
}

/// The first midnight UTC after `cutoff` that starts a Tuesday to Friday, so the default 24 h
/// horizon covers a working day in the simulated zones and the rules behave the same each run.
pub(crate) fn planning_day(cutoff: i64) -> i64 {
    let mut day = cutoff.div_euclid(DAY) + 1;
    // 1970-01-01 was a Thursday: (day + 4) mod 7 is 0 on Sundays.
    while !(2..=5).contains(&(day + 4).rem_euclid(7)) {
        day += 1;
    }
    day * DAY
}

/// Heap bytes of the state (persons, ids and the id index), from capacities: an estimate.
pub(crate) fn state_heap_bytes(state: &FeatureState) -> usize {
    use std::mem::size_of;
    let person = |p: &PersonState| {
        size_of::<PersonState>()
            + p.attrs.capacity() * size_of::<f32>()
            + p.recent.capacity() * size_of::<i64>()
            + p.hours.capacity() * size_of::<HourCell>()
            + p.contacts.capacity() * size_of::<ContactState>()
            + p.contacts
                .iter()
                .map(|c| c.key.len() + c.channels.capacity() * size_of::<ChannelState>())
                .sum::<usize>()
    };
    let ids: usize = state.person_ids.iter().map(|id| 2 * id.len()).sum();
    // hashbrown: key + value + control byte per bucket, buckets ≈ 8/7 × entries.
    let index = state.len() * 8 / 7 * (size_of::<Box<str>>() + size_of::<u32>() + 1 + 4);
    state.persons.iter().map(person).sum::<usize>()
        + state.person_ids.capacity() * size_of::<Box<str>>()
        + ids
        + index
}

pub(crate) fn ts_text(seconds: i64) -> String {
    jiff::Timestamp::from_second(seconds).map_or_else(|_| seconds.to_string(), |t| t.to_string())
}
