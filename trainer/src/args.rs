//! Flag groups of the binary shared by several subcommands: the input files of a replay
//! (train, features, split, replay), what to publish (train, fit) and the flags of scoring a
//! later log (score, evaluate).

use std::path::PathBuf;

use anyhow::Result;
use contactscore_models::family::Family;
use contactscore_trainer::config::Config;
use contactscore_trainer::ingest::{DispositionMap, InputPaths};
use contactscore_trainer::score;
use contactscore_trainer::threads::Threads;
use contactscore_trainer::train::{FamilyChoice, Promotion, TrainRequest};

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

/// What to fit and publish, and how (train, fit).
#[derive(clap::Args)]
pub struct Publish {
    /// Models directory (the registry).
    #[arg(long)]
    pub models_dir: PathBuf,
    /// Configuration file (TOML).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// auto (best out-of-time log loss), baseline, logistic or gbdt.
    #[arg(long, default_value = "auto")]
    family: String,
    /// Publish without pointing CURRENT at the new version.
    #[arg(long, conflicts_with = "promote_if_better")]
    no_promote: bool,
    /// Point CURRENT at the new version unless its log loss is more than champion_tolerance
    /// above CURRENT's on the test attempts after CURRENT's training cutoff (no comparison
    /// possible: not promoted; nothing promoted yet: promoted).
    #[arg(long)]
    promote_if_better: bool,
    /// Skip and count up to N bad rows instead of failing on the first.
    #[arg(long, default_value_t = 0)]
    pub max_bad_rows: u64,
}

impl Publish {
    /// The training request for `inputs`.
    pub fn request(self, inputs: InputPaths, threads: Threads) -> Result<TrainRequest> {
        let family = match self.family.trim() {
            "auto" => FamilyChoice::Auto,
            f => FamilyChoice::Only(
                f.parse::<Family>()
                    .map_err(|e| anyhow::anyhow!("--family: {e} or auto"))?,
            ),
        };
        Ok(TrainRequest {
            inputs,
            models_dir: self.models_dir,
            family,
            promotion: if self.no_promote {
                Promotion::Never
            } else if self.promote_if_better {
                Promotion::IfBetter
            } else {
                Promotion::Always
            },
            max_bad_rows: self.max_bad_rows,
            threads,
        })
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
