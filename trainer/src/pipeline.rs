//! The prelude `train`, `score` and `features` share: ingest the inputs, announce what ingest set
//! aside, and seed the replay's state with every person and contact point read.

use contactscore_models::ContactNormalizer;
use contactscore_models::features::FeatureState;

use crate::Result;
use crate::ingest::{
    AttrSpec, DispositionMap, IngestOptions, IngestReport, Ingested, InputPaths, ingest,
};
use crate::progress::Progress;
use crate::replay::seed_state;
use crate::shard::ShardFilter;
use crate::threads::Threads;

/// What to read and how.
pub(crate) struct Prelude<'a> {
    /// The input files.
    pub inputs: &'a InputPaths,
    /// Normalises contact points (the settings' region, or the version's).
    pub normalizer: ContactNormalizer,
    /// Dialer code map.
    pub dispositions: &'a DispositionMap,
    /// Bad rows allowed (0 = fail fast).
    pub max_bad_rows: u64,
    /// Threads for ingest.
    pub threads: Threads,
    /// One shard of a sharded run, with the whole run's facts; `None` reads everything.
    pub shard: Option<ShardIngest>,
}

/// What ingesting one shard of a sharded run needs besides the shard: the whole export's facts
/// that every shard must share.
#[derive(Debug, Clone)]
pub(crate) struct ShardIngest {
    /// The shard.
    pub filter: ShardFilter,
    /// The persons file's attribute typing over the whole file.
    pub attr_specs: Vec<AttrSpec>,
    /// The present all shards judge implausible instants by.
    pub now: i64,
}

/// The inputs read, and the state slot of each of their persons.
pub(crate) struct Prepared {
    /// What ingest read.
    pub data: Ingested,
    /// [`seed_state`]'s slot per person.
    pub slots: Vec<u32>,
}

/// Ingest `prelude`'s inputs, let `ingested` look at them before anything is announced (train
/// times ingest and says what it read), announce per file what was ignored or skipped, and seed
/// `state` with the persons and contact points read. The replay that follows is the caller's.
pub(crate) fn prepare(
    prelude: &Prelude<'_>,
    state: &mut FeatureState,
    progress: &Progress,
    ingested: impl FnOnce(&Ingested),
) -> Result<Prepared> {
    let opts = IngestOptions {
        normalizer: prelude.normalizer,
        max_bad_rows: prelude.max_bad_rows,
        dispositions: prelude.dispositions.clone(),
        progress: progress.bars(),
        now: prelude
            .shard
            .as_ref()
            .map_or_else(IngestOptions::now, |s| s.now),
        threads: prelude.threads,
        shard: prelude.shard.as_ref().map(|s| s.filter),
        attr_specs: prelude.shard.as_ref().map(|s| s.attr_specs.clone()),
    };
    let data = ingest(prelude.inputs, &opts)?;
    ingested(&data);
    announce(&data.report, progress);
    let slots = seed_state(state, &data)?;
    Ok(Prepared { data, slots })
}

/// One notice per file for ignored columns, and the skipped-row counts by reason.
fn announce(report: &IngestReport, progress: &Progress) {
    for f in &report.files {
        if !f.ignored_columns.is_empty() {
            progress.say(format_args!(
                "notice: {}: ignoring columns {}",
                f.path,
                f.ignored_columns.join(", ")
            ));
        }
        if !f.skipped.is_empty() {
            let reasons: Vec<String> = f.skipped.iter().map(|(r, c)| format!("{r} {c}")).collect();
            progress.say(format_args!(
                "skipped rows in {}: {}",
                f.path,
                reasons.join(", ")
            ));
        }
        if f.duplicates > 0 {
            progress.say(format_args!(
                "{}: {} duplicate ids counted once ({} with different content)",
                f.path, f.duplicates, f.conflicting_duplicates
            ));
        }
    }
}
