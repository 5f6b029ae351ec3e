//! `PlanCampaign`: validate and convert the request (each person as a Rank request, every error
//! naming its field, e.g. `persons[3].contacts[0].contact`), plan with the models crate's planner
//! on a snapshot of the listed persons' states, and convert the plan back.
//!
//! The plan takes seconds for a large list, so it runs on a blocking thread, and it works on
//! copies of the listed persons' states taken under short read locks (a chunk of persons at a
//! time), so outcomes keep being recorded while it runs; outcomes recorded meanwhile are not in
//! the plan (the next one sees them).

use std::num::NonZeroUsize;

use contactscore_models::Channel;
use contactscore_models::features::{FeatureState, PersonState};
use contactscore_models::plan::{
    AttemptsPerPerson, Capacity, CapacityEntry, MAX_WINDOW_SLOTS, Plan, PlanPerson, PlanRequest,
    PlanWindow, plan,
};
use contactscore_models::policy::Policy;
use contactscore_proto::v1;

use crate::config::Limits;
use crate::convert;
use crate::engine::{PersonQuery, Serving};
use crate::error::{Result, ServerError};

/// Persons whose states are copied per read lock.
const SNAPSHOT_CHUNK: usize = 4_096;

/// A validated PlanCampaign request.
#[derive(Debug, Clone)]
pub struct ValidPlan {
    /// The list (horizon and suggestions of each entry unused).
    pub persons: Vec<PersonQuery>,
    /// The window's slots.
    pub window: PlanWindow,
    /// Capacity lines.
    pub capacity: Vec<CapacityEntry>,
    /// Attempts per person.
    pub attempts_per_person: AttemptsPerPerson,
    /// Channel restriction for every person.
    pub channels: Vec<Channel>,
}

impl ValidPlan {
    /// The listed person ids, in list order.
    pub fn person_ids(&self) -> impl Iterator<Item = &str> {
        self.persons.iter().map(|p| p.person_id.as_str())
    }
}

/// A planning input error from the models crate, as an invalid argument naming the field.
fn plan_field(e: contactscore_models::Error) -> ServerError {
    if let contactscore_models::Error::InvalidPlan { field, reason } = &e {
        return ServerError::invalid(field.clone(), reason.clone());
    }
    ServerError::Models(e)
}

/// A required instant of the request, checked for plausibility like every instant the server
/// takes ([`convert::seconds`]): not before 1990, and at most `max_ahead` seconds after `now`.
fn seconds(
    field: &str,
    ts: Option<&prost_types::Timestamp>,
    now: i64,
    max_ahead: i64,
) -> Result<i64> {
    let ts = ts.ok_or_else(|| ServerError::invalid(field, "required"))?;
    convert::seconds(field, ts, now, max_ahead)
}

/// Validate a PlanCampaign request received at `now`. The window may start at most as far
/// ahead as a Rank's `as_of` may; its end and the capacity lines at most a whole window
/// further. A listed person's contact point that cannot be read or names an unknown zone does
/// not fail the request: as in Rank, it is left out of that person's options (a person left
/// with none is unplanned, `all_contacts_blocked`).
pub fn validate(
    req: v1::PlanCampaignRequest,
    serving: &Serving,
    limits: &Limits,
    now: i64,
) -> Result<ValidPlan> {
    if req.persons.len() > limits.max_plan_persons {
        return Err(ServerError::invalid(
            "persons",
            format!(
                "{} persons, more than the server's max_plan_persons ({}); plan larger lists \
                 with contactscore-trainer plan",
                req.persons.len(),
                limits.max_plan_persons
            ),
        ));
    }
    let ahead = convert::MAX_PLAN_AHEAD_SECONDS;
    let beyond = ahead + i64::from(MAX_WINDOW_SLOTS) * 3_600;
    let start = seconds("window_start", req.window_start.as_ref(), now, ahead)?;
    let end = seconds("window_end", req.window_end.as_ref(), now, beyond)?;
    let window = PlanWindow::new(start, end).map_err(plan_field)?;
    let attempts_per_person =
        AttemptsPerPerson::new(req.attempts_per_person).map_err(plan_field)?;
    let mut capacity = Vec::with_capacity(req.capacity.len());
    for (i, c) in req.capacity.iter().enumerate() {
        let field = format!("capacity[{i}]");
        let slot_start = seconds(
            &format!("{field}.slot_start"),
            c.slot_start.as_ref(),
            now,
            beyond,
        )?;
        let channel = match c.channel.trim() {
            "" => None,
            ch => Some(
                ch.parse::<Channel>()
                    .map_err(|e| ServerError::invalid(format!("{field}.channel"), e.to_string()))?,
            ),
        };
        capacity.push(CapacityEntry {
            slot_start,
            channel,
            attempts: c.attempts,
        });
    }
    // Checked here so a bad line is named before any work.
    Capacity::new(&window, &capacity).map_err(plan_field)?;
    let channels = req
        .channels
        .iter()
        .enumerate()
        .map(|(i, c)| {
            c.parse::<Channel>()
                .map_err(|e| ServerError::invalid(format!("channels[{i}]"), e.to_string()))
        })
        .collect::<Result<Vec<_>>>()?;
    let mut seen = std::collections::HashMap::with_capacity(req.persons.len());
    let mut persons = Vec::with_capacity(req.persons.len());
    for (i, mut p) in req.persons.into_iter().enumerate() {
        // A plan has its own window and no suggestion count: these fields are ignored.
        p.as_of = None;
        p.horizon_hours = 0;
        p.max_suggestions = 0;
        let v = convert::rank_request(p, serving, limits, start)
            .map_err(|e| e.within(&format!("persons[{i}]")))?;
        if let Some(first) = seen.insert(v.person_id.clone(), i) {
            return Err(ServerError::invalid(
                format!("persons[{i}].person_id"),
                format!("the same person as persons[{first}]"),
            ));
        }
        persons.push(v);
    }
    Ok(ValidPlan {
        persons,
        window,
        capacity,
        attempts_per_person,
        channels,
    })
}

/// Plan `v` on the served version `serving` under `policy` (blocking: call from a blocking
/// thread). `fetched`: the listed persons' states when a shared store fetched them (in list
/// order), else they are copied from the served state.
pub fn run(
    policy: &Policy,
    serving: &Serving,
    v: ValidPlan,
    fetched: Option<Vec<Option<PersonState>>>,
) -> Result<v1::PlanCampaignResponse> {
    let (view, snapshot) = snapshot(serving, &v, fetched)?;
    let capacity = Capacity::new(&v.window, &v.capacity).map_err(plan_field)?;
    let mut ids = Vec::with_capacity(v.persons.len());
    let persons: Vec<PlanPerson<'_>> = v
        .persons
        .into_iter()
        .zip(&snapshot)
        .map(|(p, s)| {
            ids.push(p.person_id);
            PlanPerson {
                state: s.as_ref(),
                contacts: p.query.contacts,
                channels: p.query.channels,
                zone: p.query.person_zone,
            }
        })
        .collect();
    let request = PlanRequest {
        window: v.window,
        capacity,
        attempts_per_person: v.attempts_per_person,
        channels: v.channels,
        persons,
        threads: std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN),
    };
    let planned = plan(&view, &serving.model, policy, request);
    Ok(response(&serving.version, &ids, planned))
}

/// Copy the listed persons' states under short read locks. Returns a state holding only the
/// served version's zones (every zone of the time-zone database: the plan reads zones, the
/// request's and those of its numbers' countries, from it) and the copies, `None` for persons
/// the state does not know.
fn snapshot(
    serving: &Serving,
    v: &ValidPlan,
    fetched: Option<Vec<Option<PersonState>>>,
) -> Result<(FeatureState, Vec<Option<PersonState>>)> {
    let view = {
        let st = serving.state.read();
        let mut view = FeatureState::new(st.zones.name(st.default_zone))?;
        view.zones = serving.zones.clone();
        view.default_zone = st.default_zone;
        view
    };
    if let Some(fetched) = fetched {
        return Ok((view, fetched));
    }
    let mut copies = Vec::with_capacity(v.persons.len());
    for chunk in v.persons.chunks(SNAPSHOT_CHUNK) {
        let st = serving.state.read();
        copies.extend(
            chunk
                .iter()
                .map(|p| st.slot(&p.person_id).map(|s| st.person(s).clone())),
        );
    }
    Ok((view, copies))
}

/// The response for `planned`.
fn response(version: &str, ids: &[String], planned: Plan) -> v1::PlanCampaignResponse {
    let id = |i: usize| ids.get(i).cloned().unwrap_or_default();
    v1::PlanCampaignResponse {
        model_version: version.to_owned(),
        assignments: planned
            .attempts
            .into_iter()
            .map(|a| v1::Assignment {
                person_id: id(a.person),
                attempt_index: a.attempt_index,
                suggestion: Some(convert::suggestion(a.suggestion)),
            })
            .collect(),
        unplanned: planned
            .unplanned
            .into_iter()
            .map(|u| v1::Unplanned {
                person_id: id(u.person),
                reason: u.reason.as_str().to_owned(),
            })
            .collect(),
        expected_engaged: planned.expected_engaged,
        upper_bound: planned.upper_bound,
    }
}
