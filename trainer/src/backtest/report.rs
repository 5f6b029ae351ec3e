//! What a backtest reports: per-planner counts and rates, the model's uplift over the naive
//! dialer, and their rendering as a small table (the JSON form is `backtest.json`).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use contactscore_models::Channel;
use serde::{Deserialize, Serialize};

use super::planner::Planner;

/// The results of one planner over the evaluation days.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannerStats {
    /// `model` or `naive`.
    pub planner: Planner,
    /// Person-days in the campaign (persons × evaluation days), the same for both planners.
    pub person_days: u64,
    /// Attempts made (at most one per person-day).
    pub attempts: u64,
    /// Attempts whose sampled outcome is engaged.
    pub engaged: u64,
    /// `engaged / attempts`.
    pub engaged_per_attempt: f64,
    /// `engaged / person_days`: what the campaign gets for its budget.
    pub engaged_per_person_day: f64,
    /// Mean true engagement probability of the attempts made: `engaged_per_attempt` without
    /// the sampling noise.
    pub mean_true_p: f64,
    /// Mean calibrated probability the model gave its suggestions (model planner only);
    /// compare with `mean_true_p` for the model's calibration on its own choices.
    pub mean_predicted_p: Option<f64>,
    /// Distinct persons engaged at least once.
    pub persons_engaged: u64,
    /// Person-days with no allowed attempt (every candidate blocked by the policy).
    pub idle_person_days: u64,
    /// Attempts that could not reach the person: dead or reassigned lines, or a channel the
    /// line does not carry.
    pub dead_end_attempts: u64,
    /// Attempts per channel.
    pub attempts_by_channel: BTreeMap<String, u64>,
}

/// Relative uplift of the model planner over the naive one (`model / naive - 1`); `None` when
/// the naive figure is 0.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Uplift {
    /// On engaged per attempt.
    pub engaged_per_attempt: Option<f64>,
    /// On engaged per person-day.
    pub engaged_per_person_day: Option<f64>,
    /// On the mean true probability of the attempts made.
    pub mean_true_p: Option<f64>,
}

/// The whole report, written as `backtest.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BacktestReport {
    /// Simulated persons.
    pub persons: u32,
    /// Days of simulated history the model was trained on.
    pub history_days: u32,
    /// Evaluation days after the history.
    pub eval_days: u32,
    /// Seed of the simulation and of the planners' and world's random streams.
    pub seed: u64,
    /// The model version planned with.
    pub model_version: String,
    /// Its family.
    pub family: String,
    /// The model planner.
    pub model: PlannerStats,
    /// The naive planner.
    pub naive: PlannerStats,
    /// Model over naive.
    pub uplift: Uplift,
}

impl BacktestReport {
    /// Assemble the report and compute the uplift.
    pub(crate) fn new(head: ReportHead, model: PlannerStats, naive: PlannerStats) -> Self {
        let rel = |m: f64, n: f64| (n > 0.0).then(|| m / n - 1.0);
        let uplift = Uplift {
            engaged_per_attempt: rel(model.engaged_per_attempt, naive.engaged_per_attempt),
            engaged_per_person_day: rel(model.engaged_per_person_day, naive.engaged_per_person_day),
            mean_true_p: rel(model.mean_true_p, naive.mean_true_p),
        };
        Self {
            persons: head.persons,
            history_days: head.history_days,
            eval_days: head.eval_days,
            seed: head.seed,
            model_version: head.model_version,
            family: head.family,
            model,
            naive,
            uplift,
        }
    }
}

/// The report's identifying fields.
#[derive(Debug, Clone)]
pub(crate) struct ReportHead {
    pub persons: u32,
    pub history_days: u32,
    pub eval_days: u32,
    pub seed: u64,
    pub model_version: String,
    pub family: String,
}

/// Running totals of one planner.
#[derive(Debug, Clone)]
pub(crate) struct Tally {
    planner: Planner,
    person_days: u64,
    attempts: u64,
    engaged: u64,
    sum_true_p: f64,
    sum_predicted_p: f64,
    predicted: u64,
    engaged_persons: Vec<bool>,
    idle: u64,
    dead_ends: u64,
    by_channel: [u64; Channel::ALL.len()],
}

impl Tally {
    /// Empty totals for `persons` persons.
    pub(crate) fn new(planner: Planner, persons: usize) -> Self {
        Self {
            planner,
            person_days: 0,
            attempts: 0,
            engaged: 0,
            sum_true_p: 0.0,
            sum_predicted_p: 0.0,
            predicted: 0,
            engaged_persons: vec![false; persons],
            idle: 0,
            dead_ends: 0,
            by_channel: [0; Channel::ALL.len()],
        }
    }

    /// A person-day with no allowed attempt.
    pub(crate) fn idle(&mut self) {
        self.person_days += 1;
        self.idle += 1;
    }

    /// A person-day with one attempt and what came of it.
    pub(crate) fn attempt(&mut self, person: usize, a: &AttemptRecord) {
        self.person_days += 1;
        self.attempts += 1;
        self.sum_true_p += a.p_engaged;
        if let Some(p) = a.predicted {
            self.sum_predicted_p += p;
            self.predicted += 1;
        }
        if a.engaged {
            self.engaged += 1;
            if let Some(e) = self.engaged_persons.get_mut(person) {
                *e = true;
            }
        }
        self.dead_ends += u64::from(a.dead_end);
        self.by_channel[a.channel.index()] += 1;
    }

    /// The finished figures.
    pub(crate) fn finish(&self) -> PlannerStats {
        let per = |x: f64, n: u64| if n == 0 { 0.0 } else { x / n as f64 };
        PlannerStats {
            planner: self.planner,
            person_days: self.person_days,
            attempts: self.attempts,
            engaged: self.engaged,
            engaged_per_attempt: per(self.engaged as f64, self.attempts),
            engaged_per_person_day: per(self.engaged as f64, self.person_days),
            mean_true_p: per(self.sum_true_p, self.attempts),
            mean_predicted_p: (self.predicted > 0)
                .then(|| per(self.sum_predicted_p, self.predicted)),
            persons_engaged: self.engaged_persons.iter().filter(|&&e| e).count() as u64,
            idle_person_days: self.idle,
            dead_end_attempts: self.dead_ends,
            attempts_by_channel: Channel::ALL
                .iter()
                .filter(|c| self.by_channel[c.index()] > 0)
                .map(|c| (c.as_str().to_owned(), self.by_channel[c.index()]))
                .collect(),
        }
    }
}

/// One attempt as the tally sees it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AttemptRecord {
    pub channel: Channel,
    pub p_engaged: f64,
    pub predicted: Option<f64>,
    pub engaged: bool,
    pub dead_end: bool,
}

fn pct(x: Option<f64>) -> String {
    x.map_or_else(|| "n/a".into(), |x| format!("{:+.1} %", 100.0 * x))
}

/// The report as a small text table.
pub fn render(r: &BacktestReport) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "backtest: {} persons, {} days of history, {} evaluation days ({} person-days per \
         planner), model {} ({})\n",
        r.persons, r.history_days, r.eval_days, r.model.person_days, r.model_version, r.family
    );
    let _ = writeln!(
        s,
        "| planner | attempts | engaged | engaged/attempt | engaged/person-day | mean true p \
         | persons engaged | idle person-days | dead ends |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|");
    for p in [&r.model, &r.naive] {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {:.4} | {:.4} | {:.4} | {} | {} | {} |",
            p.planner.as_str(),
            p.attempts,
            p.engaged,
            p.engaged_per_attempt,
            p.engaged_per_person_day,
            p.mean_true_p,
            p.persons_engaged,
            p.idle_person_days,
            p.dead_end_attempts
        );
    }
    let _ = writeln!(
        s,
        "\nmodel vs naive: engaged/attempt {}, engaged/person-day {}, mean true p {}",
        pct(r.uplift.engaged_per_attempt),
        pct(r.uplift.engaged_per_person_day),
        pct(r.uplift.mean_true_p)
    );
    if let Some(pred) = r.model.mean_predicted_p {
        let _ = writeln!(
            s,
            "model calibration on its own choices: mean predicted p {pred:.4} vs mean true p {:.4}",
            r.model.mean_true_p
        );
    }
    for p in [&r.model, &r.naive] {
        let total = p.attempts.max(1) as f64;
        let mix: Vec<String> = p
            .attempts_by_channel
            .iter()
            .map(|(c, n)| format!("{c} {:.0} %", 100.0 * *n as f64 / total))
            .collect();
        let _ = writeln!(s, "{} channels: {}", p.planner.as_str(), mix.join(", "));
    }
    s
}
