//! `backtest`: does following the model's top suggestion reach more people than a naive dialer?
//! Answered offline on the project's own simulator, where the truth is known.
//!
//! 1. Simulate `persons × history_days` into the output directory and train on it (the
//!    ordinary `simulate` and `train`), then load the new version from the registry.
//! 2. Carry the simulator's hidden world past the history ([`crate::simulate::arena`]). On each
//!    evaluation day every person is in the campaign and each planner ([`planner`]) may make one
//!    attempt per person: the model's top-ranked suggestion, or a random allowed candidate at a
//!    random allowed hour. The world answers with an outcome drawn from the true probability
//!    given the person's situation at that instant.
//! 3. Each planner feeds its outcomes back into its own copy of the feature state (so the
//!    policy's caps, cool-downs and suppressions bind both alike) and has its own copy of the
//!    world's dynamic state (fatigue, engagement, opt-outs); both start from the end of the
//!    history. The report ([`report`]) compares them.
//!
//! Everything is seeded: the same request gives the same report.

pub mod capacity;
pub mod planner;
pub mod report;

use std::path::{Path, PathBuf};

use contactscore_models::artifact::Registry;
use contactscore_models::artifact::registry::LoadedVersion;
use contactscore_models::policy::{HOUR, Policy, PolicyConfig};
use contactscore_models::{Contact, ContactNormalizer};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::config::Settings;
use crate::progress::Progress;
use crate::simulate::arena::{Arena, Call, World};
use crate::simulate::{SimulateParams, simulate};
use crate::train::{TrainRequest, train};
use crate::{Result, TrainerError};
use planner::Day;
pub use planner::Planner;
use report::{AttemptRecord, ReportHead, Tally};
pub use report::{BacktestReport, PlannerStats, Uplift, render};

/// The report's file name in the output directory.
pub const REPORT_FILE: &str = "backtest.json";

/// Each day's plan starts at this hour in the dialer's zone (America/Sao_Paulo).
const DAY_START_HOUR: i64 = 8;

/// What to backtest.
#[derive(Debug, Clone)]
pub struct BacktestRequest {
    /// Output directory: the simulated CSVs, `models/` and [`REPORT_FILE`].
    pub out: PathBuf,
    /// Simulated persons.
    pub persons: u32,
    /// Days of history to simulate and train on.
    pub history_days: u32,
    /// Days after the history on which the planners compete.
    pub eval_days: u32,
    /// Seed of the simulation, the planners and the world's answers.
    pub seed: u64,
    /// The contact policy both planners obey.
    pub policy: Policy,
    /// Diagnostic: train with the simulator's hidden traits revealed as person attributes
    /// ([`SimulateParams::reveal_traits`]).
    pub reveal_traits: bool,
}

/// The contact policy from a TOML file shaped like `examples/policy.toml`; `None` gives the
/// default policy.
pub fn load_policy(path: Option<&Path>) -> Result<Policy> {
    let Some(path) = path else {
        return Ok(Policy::default());
    };
    let text = std::fs::read_to_string(path).map_err(|e| TrainerError::io(path, e))?;
    let config: PolicyConfig = toml::from_str(&text).map_err(|e| {
        TrainerError::Config(format!("{}: {}", path.display(), e.to_string().trim()))
    })?;
    Ok(config.validate()?)
}

fn validate(req: &BacktestRequest) -> Result<()> {
    let bad = |msg: String| Err(TrainerError::Config(msg));
    if req.persons == 0 {
        return bad("--persons must be at least 1".into());
    }
    if req.history_days < 2 {
        return bad(format!(
            "--history-days must be at least 2 (got {})",
            req.history_days
        ));
    }
    if !(1..=366).contains(&req.eval_days) {
        return bad(format!(
            "--eval-days must be between 1 and 366 (got {})",
            req.eval_days
        ));
    }
    Ok(())
}

/// Run the backtest (see the module docs) and write [`REPORT_FILE`] into `req.out`.
pub fn backtest(
    req: &BacktestRequest,
    settings: &Settings,
    progress: &Progress,
) -> Result<BacktestReport> {
    validate(req)?;
    let (params, loaded) = prepare(req, settings, progress)?;
    let timer = progress.timer();
    let arena = Arena::new(&params)?;
    let roster = Roster::new(&arena, &loaded)?;
    let bar = progress.bar(
        "backtest",
        2 * u64::from(req.eval_days) * arena.len() as u64,
    );
    let mut stats = Vec::with_capacity(2);
    for planner in Planner::ALL {
        stats.push(run_planner(planner, req, &arena, &roster, &loaded, &bar)?);
    }
    bar.finish_and_clear();
    let (naive, model) = (stats.pop(), stats.pop());
    let (Some(model), Some(naive)) = (model, naive) else {
        return Err(TrainerError::Backtest("a planner did not run".into()));
    };
    progress.say(format_args!(
        "planned {} person-days per planner in {:.1}s",
        model.person_days,
        timer.elapsed().as_secs_f64()
    ));
    let head = ReportHead {
        persons: req.persons,
        history_days: req.history_days,
        eval_days: req.eval_days,
        seed: req.seed,
        model_version: loaded.manifest.version.clone(),
        family: loaded.manifest.family.as_str().to_owned(),
    };
    let report = BacktestReport::new(head, model, naive);
    let path = req.out.join(REPORT_FILE);
    let text = serde_json::to_string_pretty(&report)
        .map_err(|e| TrainerError::Backtest(format!("serialising the report: {e}")))?;
    std::fs::write(&path, text).map_err(|e| TrainerError::io(&path, e))?;
    Ok(report)
}

/// Simulate the history into `req.out`, train on it and load the new version: the world and
/// the model every planner of a backtest starts from.
fn prepare(
    req: &BacktestRequest,
    settings: &Settings,
    progress: &Progress,
) -> Result<(SimulateParams, LoadedVersion)> {
    let params = SimulateParams {
        persons: req.persons,
        days: req.history_days,
        seed: req.seed,
        reveal_traits: req.reveal_traits,
        ..SimulateParams::default()
    };
    let sim = simulate(&params, &req.out)?;
    progress.say(format_args!(
        "simulated {} attempts for {} persons over {} days into {}",
        sim.attempts,
        sim.persons,
        req.history_days,
        req.out.display()
    ));
    let models = req.out.join("models");
    // The simulator mixes in malformed and implausible rows: exactly those may be skipped.
    let trained = train(
        &TrainRequest::on_simulated(
            &req.out,
            "attempts.csv",
            "validations.csv",
            models.clone(),
            sim.bad_rows(),
        ),
        settings,
        progress,
    )?;
    let loaded = Registry::open(models)?.load(Some(&trained.manifest.version))?;
    progress.say(format_args!(
        "loaded model {} ({})",
        loaded.manifest.version, loaded.manifest.family
    ));
    Ok((params, loaded))
}

/// Each simulated person's slot in the model's state and contact points, normalised exactly as
/// ingest normalised them (the version's serving region), in the arena's list order.
struct Roster {
    slots: Vec<u32>,
    contacts: Vec<Vec<Contact>>,
}

impl Roster {
    fn new(arena: &Arena, loaded: &LoadedVersion) -> Result<Roster> {
        let normalizer = ContactNormalizer::new(&loaded.manifest.serving.default_region)?;
        let mut slots = Vec::with_capacity(arena.len());
        let mut contacts = Vec::with_capacity(arena.len());
        for i in 0..arena.len() as u32 {
            let id = arena.person_id(i)?;
            let slot = loaded.state.slot(&id).ok_or_else(|| {
                TrainerError::Backtest(format!("person {id} is not in the model's state"))
            })?;
            slots.push(slot);
            contacts.push(
                arena
                    .contact_points(i)?
                    .iter()
                    .map(|raw| normalizer.normalize(raw))
                    .collect::<Result<Vec<_>, _>>()?,
            );
        }
        Ok(Roster { slots, contacts })
    }

    /// The arena's index of `person`'s contact `key` (normalised), and the normalised contact.
    fn resolve(&self, person: usize, key: &str) -> Result<(usize, &Contact)> {
        self.contacts[person]
            .iter()
            .enumerate()
            .find(|(_, c)| c.key == key)
            .ok_or_else(|| {
                TrainerError::Backtest(format!(
                    "the plan for person slot {} names a contact point ({}) the world does not have",
                    self.slots[person],
                    contactscore_models::Masked(key)
                ))
            })
    }
}

/// Salt of each planner's own random stream (attempt minute, the naive planner's choices).
fn planner_rng(seed: u64, planner: Planner, person: usize) -> ChaCha8Rng {
    let salt: u64 = match planner {
        Planner::Model => 0x6D6F_6465_6C00_0001,
        Planner::Naive => 0x6E61_6976_6500_0002,
    };
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ salt);
    rng.set_stream(person as u64);
    rng
}

/// One planner over every evaluation day, from the end of the history.
fn run_planner(
    planner: Planner,
    req: &BacktestRequest,
    arena: &Arena,
    roster: &Roster,
    loaded: &LoadedVersion,
    bar: &indicatif::ProgressBar,
) -> Result<PlannerStats> {
    let mut state = loaded.state.clone();
    // The world's outcome stream is the same for both planners: identical choices meet
    // identical luck until the planners' paths diverge.
    let mut world: World = arena.fork(0);
    let mut rngs: Vec<ChaCha8Rng> = (0..arena.len())
        .map(|i| planner_rng(req.seed, planner, i))
        .collect();
    let mut tally = Tally::new(planner, arena.len());
    for offset in 0..req.eval_days {
        let day = arena.eval_day(offset)?;
        let as_of = day.midnight + DAY_START_HOUR * HOUR;
        for (person, rng) in rngs.iter_mut().enumerate() {
            let slot = roster.slots[person];
            let ctx = Day {
                state: &state,
                policy: &req.policy,
                as_of,
            };
            let plan = match planner {
                Planner::Model => planner::model_plan(&ctx, &loaded.model, slot),
                Planner::Naive => planner::naive_plan(&ctx, slot, rng),
            };
            let Some(plan) = plan else {
                tally.idle();
                continue;
            };
            let (contact_index, contact) = roster.resolve(person, &plan.contact)?;
            let call = Call {
                person: person as u32,
                contact: contact_index,
                channel: plan.channel,
                // A uniform second inside the chosen hour.
                at: plan.slot_start + rng.random_range(0..HOUR),
                day: day.day,
            };
            let answer = arena.attempt(&mut world, &call)?;
            state.apply(slot, contact, call.channel, call.at, answer.outcome)?;
            tally.attempt(
                person,
                &AttemptRecord {
                    channel: call.channel,
                    p_engaged: answer.p_engaged,
                    predicted: plan.predicted,
                    engaged: answer.outcome.is_engaged(),
                    dead_end: answer.dead_end,
                },
            );
        }
        bar.inc(arena.len() as u64);
    }
    Ok(tally.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn request(persons: u32, history_days: u32, eval_days: u32) -> BacktestRequest {
        BacktestRequest {
            out: PathBuf::from("/nonexistent/never-written"),
            persons,
            history_days,
            eval_days,
            seed: 1,
            policy: Policy::default(),
            reveal_traits: false,
        }
    }

    #[test]
    fn bad_requests_name_the_flag_before_any_work() {
        let settings = Config::default()
            .validate()
            .unwrap_or_else(|e| panic!("{e}"));
        for (req, flag) in [
            (request(0, 30, 7), "--persons"),
            (request(100, 1, 7), "--history-days"),
            (request(100, 30, 0), "--eval-days"),
            (request(100, 30, 400), "--eval-days"),
        ] {
            let err = backtest(&req, &settings, &Progress::silent())
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains(flag), "{flag}: {err}");
        }
    }

    #[test]
    fn policy_files_are_validated() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("policy.toml");
        assert_eq!(
            load_policy(None).unwrap_or_else(|e| panic!("{e}")),
            Policy::default()
        );
        let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/policy.toml");
        assert_eq!(
            load_policy(Some(&shipped)).unwrap_or_else(|e| panic!("{e}")),
            Policy::default()
        );
        std::fs::write(&path, "max_attempts_per_local_day = 0").unwrap_or_else(|e| panic!("{e}"));
        let err = load_policy(Some(&path)).err().map(|e| e.to_string());
        assert!(
            err.as_deref()
                .is_some_and(|e| e.contains("max_attempts_per_local_day")),
            "{err:?}"
        );
    }
}
