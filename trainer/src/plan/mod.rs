//! `contactscore-trainer plan`: the batch form of `PlanCampaign`, for lists too large for one
//! message. Reads a list (the contacts file's columns, one or more rows per person) and the
//! hourly capacity, plans from the version's state snapshot with the same planner the server
//! runs (`contactscore_models::plan`), and writes one row per planned attempt.

mod capacity_file;
mod list;
mod output;
mod table;

use std::num::NonZeroUsize;
use std::path::PathBuf;

use contactscore_models::artifact::{LoadedVersion, Registry};
use contactscore_models::plan::{
    AttemptsPerPerson, Capacity, PlanPerson, PlanRequest, PlanWindow, UnplannedReason, plan,
};
use contactscore_models::policy::Policy;
use contactscore_models::{ContactNormalizer, Error as ModelError};

use crate::progress::Progress;
use crate::{Result, TrainerError};

/// What to plan.
#[derive(Debug, Clone)]
pub struct PlanFilesRequest {
    /// The models directory.
    pub models_dir: PathBuf,
    /// Version (default: CURRENT).
    pub version: Option<String>,
    /// The list (`person_id[, contact, channels, timezone]`).
    pub list: PathBuf,
    /// The capacity file (`slot_start, attempts[, channel]`); `None` = unlimited.
    pub capacity: Option<PathBuf>,
    /// Window start (unix seconds).
    pub window_start: i64,
    /// Window end (unix seconds).
    pub window_end: i64,
    /// Attempts per person (0 = 1).
    pub attempts_per_person: u32,
    /// The contact rules.
    pub policy: Policy,
    /// Output CSV.
    pub out: PathBuf,
    /// Optional CSV of the persons left unplanned and why.
    pub unplanned: Option<PathBuf>,
    /// Scoring threads (the plan does not depend on it).
    pub threads: NonZeroUsize,
}

/// What a run did.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanSummary {
    /// The version planned with.
    pub version: String,
    /// Persons on the list.
    pub persons: usize,
    /// Persons with at least one attempt.
    pub planned_persons: usize,
    /// Attempts written.
    pub attempts: usize,
    /// Unplanned persons per reason, in [`UnplannedReason`] order.
    pub unplanned: Vec<(UnplannedReason, usize)>,
    /// Sum over the list of P(engaged by the end of the window) under the plan.
    pub expected_engaged: f64,
    /// An upper bound on that sum for any plan.
    pub upper_bound: f64,
    /// Model rows scored.
    pub rows_scored: u64,
}

/// Plan the list (see the module docs) and write the output files.
pub fn plan_files(req: &PlanFilesRequest, progress: &Progress) -> Result<PlanSummary> {
    let window =
        PlanWindow::new(req.window_start, req.window_end).map_err(|e| flag(e, "window"))?;
    let attempts_per_person =
        AttemptsPerPerson::new(req.attempts_per_person).map_err(|e| flag(e, "attempts"))?;
    let timer = progress.timer();
    let LoadedVersion {
        manifest,
        model,
        mut state,
        evidence: _,
    } = Registry::open(&req.models_dir)?.load(req.version.as_deref())?;
    progress.say(format_args!(
        "loaded {} ({}, {} persons in state) in {:.1}s",
        manifest.version,
        manifest.family,
        state.len(),
        timer.elapsed().as_secs_f64()
    ));
    let capacity = match &req.capacity {
        None => Capacity::unlimited(&window),
        Some(path) => capacity_file::read(path, &window)?,
    };
    let timer = progress.timer();
    let normalizer = ContactNormalizer::new(&manifest.serving.default_region)?;
    let list = list::read(&req.list, &normalizer, &mut state, req.threads)?;
    progress.say(format_args!(
        "read {} persons ({} contact points) from {} in {:.1}s",
        list.ids.len(),
        list.contacts,
        req.list.display(),
        timer.elapsed().as_secs_f64()
    ));
    let timer = progress.timer();
    let persons: Vec<PlanPerson<'_>> = list
        .ids
        .iter()
        .zip(list.persons)
        .map(|(id, p)| PlanPerson {
            state: state.slot(id).map(|s| state.person(s)),
            contacts: p.contacts,
            channels: Vec::new(),
            zone: None,
        })
        .collect();
    let n = persons.len();
    let request = PlanRequest {
        window,
        capacity,
        attempts_per_person,
        channels: Vec::new(),
        persons,
        threads: req.threads,
    };
    let planned = plan(&state, &model, &req.policy, request);
    let t = planned.timing;
    progress.say(format_args!(
        "planned {} attempts ({} model rows scored) in {:.1}s: scoring {:.1}s, assignment \
         {:.1}s, bound and attempts {:.1}s",
        planned.attempts.len(),
        planned.rows_scored,
        timer.elapsed().as_secs_f64(),
        t.scoring,
        t.assignment,
        t.rest
    ));
    output::write_plan(&req.out, &list.ids, &planned.attempts)?;
    if let Some(path) = &req.unplanned {
        output::write_unplanned(path, &list.ids, &planned.unplanned)?;
    }
    let reasons = [
        UnplannedReason::NotFound,
        UnplannedReason::AllContactsBlocked,
        UnplannedReason::NoAllowedSlot,
        UnplannedReason::NoCapacity,
    ];
    let mut planned_persons = vec![false; n];
    for a in &planned.attempts {
        planned_persons[a.person] = true;
    }
    Ok(PlanSummary {
        version: manifest.version,
        persons: n,
        planned_persons: planned_persons.iter().filter(|&&p| p).count(),
        attempts: planned.attempts.len(),
        unplanned: reasons
            .into_iter()
            .map(|r| {
                (
                    r,
                    planned.unplanned.iter().filter(|u| u.reason == r).count(),
                )
            })
            .collect(),
        expected_engaged: planned.expected_engaged,
        upper_bound: planned.upper_bound,
        rows_scored: planned.rows_scored,
    })
}

/// A planning input error as a message naming the command-line flag (`--window-end`).
fn flag(e: ModelError, what: &str) -> TrainerError {
    if let ModelError::InvalidPlan { field, reason } = &e {
        return TrainerError::Config(format!("--{}: {reason}", field.replace('_', "-")));
    }
    TrainerError::Config(format!("{what}: {e}"))
}
