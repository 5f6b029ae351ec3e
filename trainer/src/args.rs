//! Flag groups of the binary shared by several subcommands: the input files of a replay
//! (train, features, export) and the flags of scoring a later log (score, evaluate).

use std::path::PathBuf;

use anyhow::Result;
use contactscore_trainer::config::Config;
use contactscore_trainer::ingest::{DispositionMap, InputPaths};
use contactscore_trainer::score;
use contactscore_trainer::threads::Threads;

/// The input files of a replay.
#[derive(clap::Args)]
pub struct Inputs {
    /// Attempt log(s): .csv, .csv.gz or .parquet (repeat for several files).
    #[arg(long, required = true)]
    attempts: Vec<PathBuf>,
    /// Known contact points.
    #[arg(long)]
    contacts: Option<PathBuf>,
    /// Person time zones and attributes.
    #[arg(long)]
    persons: Option<PathBuf>,
    /// Carrier (HLR) validations: person_id, contact, validated_at, validation_status
    /// [, line_type, carrier, ported]; applied at their instants.
    #[arg(long)]
    validations: Option<PathBuf>,
}

impl From<Inputs> for InputPaths {
    fn from(i: Inputs) -> Self {
        Self {
            attempts: i.attempts,
            contacts: i.contacts,
            persons: i.persons,
            validations: i.validations,
        }
    }
}

#[derive(clap::Args)]
pub struct ScoreArgs {
    /// Models directory.
    #[arg(long)]
    models_dir: PathBuf,
    /// Version (default: CURRENT).
    #[arg(long)]
    version: Option<String>,
    /// Attempt log(s) after the model's training window.
    #[arg(long, required = true)]
    attempts: Vec<PathBuf>,
    /// Carrier validations of the same period, applied at their instants.
    #[arg(long)]
    validations: Option<PathBuf>,
    /// Configuration file (for the disposition map).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Skip and count up to N bad rows instead of failing on the first.
    #[arg(long, default_value_t = 0)]
    max_bad_rows: u64,
}

impl ScoreArgs {
    pub fn request(self, threads: Threads) -> Result<score::ScoreRequest> {
        let config = Config::load(self.config.as_deref())?;
        Ok(score::ScoreRequest {
            models_dir: self.models_dir,
            version: self.version,
            attempts: self.attempts,
            validations: self.validations,
            dispositions: DispositionMap::from_toml_table(&config.dispositions)?,
            max_bad_rows: self.max_bad_rows,
            threads,
        })
    }
}
