//! A version whose state is kept as shards (`fit --state-parts`: `state/part-NNNNN.bin`, no
//! `state.bin`) serves exactly as the unsharded `train`'s version: the server loads the parts
//! into the same state, so the same Rank requests get the same answers, score for score. And the
//! Redis store's bulk load, which reads such a version part by part without merging it, ranks
//! it as the local store does.

use std::path::{Path, PathBuf};

use anyhow::Result;
use contactscore_e2e::redis::RedisProc;
use contactscore_e2e::server::{ServerProc, train_into};
use contactscore_e2e::{SimData, simulated};
use contactscore_models::artifact::Registry;
use contactscore_proto::v1;
use contactscore_trainer::config::Config;
use contactscore_trainer::ingest::{IngestOptions, InputPaths};
use contactscore_trainer::progress::Progress;
use contactscore_trainer::shard::plan::split;
use contactscore_trainer::shard::run::{StateLayout, fit_shards, replay_shard};
use contactscore_trainer::shard::{ShardFilter, SplitOptions};
use contactscore_trainer::threads::Threads;
use contactscore_trainer::train::{FamilyChoice, Promotion, TrainRequest};

use crate::common::*;

/// `sim` trained into `d/whole` (one `state.bin`) and, from 3 shards, into `d/parted` (state
/// parts); the two models directories.
fn whole_and_parted(sim: &SimData) -> Result<(PathBuf, PathBuf)> {
    let d = sim.dir.path();
    let whole = d.join("whole");
    train_into(&sim.attempts, Some(&sim.contacts), &whole, sim.bad_rows)?;

    let settings = Config::default().validate()?;
    let quiet = Progress::silent();
    let inputs = InputPaths {
        attempts: vec![sim.attempts.clone()],
        contacts: Some(sim.contacts.clone()),
        persons: None,
        validations: None,
    };
    let opts = SplitOptions {
        max_bad_rows: sim.bad_rows,
        now: IngestOptions::now(),
        threads: Threads::ONE,
    };
    let plan = split(&inputs, &settings, 2, &opts, &d.join("split"), &quiet)?;
    let shards = d.join("shards");
    for i in 0..3 {
        let shard = ShardFilter::new(i, 3).expect("shard");
        replay_shard(
            &inputs,
            &settings,
            &plan,
            shard,
            &shards,
            sim.bad_rows,
            Threads::all(),
            &quiet,
        )?;
    }
    let parted = d.join("parted");
    let req = TrainRequest {
        inputs: InputPaths::default(),
        models_dir: parted.clone(),
        family: FamilyChoice::Auto,
        promotion: Promotion::Always,
        max_bad_rows: sim.bad_rows,
        threads: Threads::all(),
    };
    let out = fit_shards(
        &req,
        &settings,
        &plan,
        &shards,
        3,
        StateLayout::Parts,
        &quiet,
    )?;
    let vdir = parted.join(&out.manifest.version);
    assert!(!vdir.join("state.bin").exists());
    assert!(vdir.join("state/part-00002.bin").is_file());
    Ok((whole, parted))
}

/// The same Rank of the first 40 persons of `whole` on `a` and `b`: the same answers.
async fn rank_alike(whole: &Path, a: &ServerProc, b: &ServerProc) -> Result<()> {
    let state = Registry::open(whole)?.load(None)?.state;
    let (mut ca, mut cb) = (a.client().await?, b.client().await?);
    let mut persons: Vec<String> = state.person_ids.iter().map(|p| p.to_string()).collect();
    persons.truncate(40);
    let mut ranked = 0;
    for person in persons {
        let req = v1::RankRequest {
            person_id: person,
            as_of: Some(ts(MONDAY)),
            horizon_hours: 48,
            max_suggestions: 10,
            ..Default::default()
        };
        let ra = ca.rank(req.clone()).await?.into_inner();
        let rb = cb.rank(req).await?.into_inner();
        assert_eq!(ra.suggestions, rb.suggestions);
        assert_eq!(ra.blocked, rb.blocked);
        ranked += usize::from(!ra.suggestions.is_empty());
    }
    assert!(ranked > 10, "only {ranked} persons got suggestions");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_with_its_state_in_shards_ranks_exactly_as_the_unsharded_one() -> Result<()> {
    let sim = simulated(600, 30, 17)?;
    let d = sim.dir.path();
    let (whole, parted) = whole_and_parted(&sim)?;

    // The loader merges the parts into the unsharded version's state.
    let a = Registry::open(&whole)?.load(None)?;
    let b = Registry::open(&parted)?.load(None)?;
    assert_eq!(a.state.person_ids, b.state.person_ids);
    assert!(a.state.persons == b.state.persons, "persons' states differ");
    assert_eq!(a.state.cutoff, b.state.cutoff);
    assert_eq!(a.state.zones.len(), b.state.zones.len());
    // The skeleton read part by part (the Redis store's) has the merged state's cutoff and
    // zones, and no person.
    let s = Registry::open(&parted)?.load_skeleton(None)?;
    assert_eq!(s.state.cutoff, b.state.cutoff);
    assert_eq!(s.state.zones.len(), b.state.zones.len());
    assert_eq!(s.state.default_zone, b.state.default_zone);
    assert_eq!((s.state.len(), s.manifest.version), (0, b.manifest.version));

    // Both servers answer the same requests alike.
    let sa = ServerProc::start(&whole, &d.join("state-a"), &[])?;
    let sb = ServerProc::start(&parted, &d.join("state-b"), &[])?;
    rank_alike(&whole, &sa, &sb).await?;
    sa.kill()?;
    sb.kill()?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parts_version_bulk_loaded_part_by_part_into_redis_ranks_as_the_local_store() -> Result<()>
{
    let sim = simulated(600, 30, 18)?;
    let d = sim.dir.path();
    let (whole, parted) = whole_and_parted(&sim)?;
    let redis = RedisProc::start()?;
    let local = ServerProc::start(&parted, &d.join("state-l"), &[])?;
    let shared = ServerProc::start(
        &parted,
        &d.join("state-r"),
        &["--state-store", &redis.url()],
    )?;
    rank_alike(&whole, &local, &shared).await?;
    // Every person of the three parts is in Redis, under the parts version.
    let version = Registry::open(&parted)?.current()?.unwrap_or_default();
    let persons = Registry::open(&whole)?.load(None)?.state.len();
    let loaded = redis.cli(&["GET", &format!("cs:loaded:{version}")])?;
    assert_eq!(loaded.trim(), persons.to_string());
    Ok(())
}
