//! What the capacity backtest reports: per planner, attempts, engagements (sampled and
//! expected), the share of the true-probability planner's lift over naive it captures, how its
//! attempts spread over the hours, and violations; and the table printed from it.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

/// Which planner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CapacityPlanner {
    /// `PlanCampaign`'s planner with the model.
    Plan,
    /// Each hour, the highest Rank probabilities for that hour.
    RankHourByHour,
    /// Each hour, random persons on random allowed pairs.
    Naive,
    /// Greedy on the simulator's true probabilities.
    GreedyTrueP,
    /// The plan's assignment on the simulator's true probabilities (what the plan would do
    /// with a perfect model).
    PlanTrueP,
}

impl CapacityPlanner {
    /// Every planner, in report order.
    pub const ALL: [CapacityPlanner; 5] = [
        CapacityPlanner::Plan,
        CapacityPlanner::RankHourByHour,
        CapacityPlanner::Naive,
        CapacityPlanner::GreedyTrueP,
        CapacityPlanner::PlanTrueP,
    ];

    /// Stable name (report, JSON).
    pub fn as_str(self) -> &'static str {
        match self {
            CapacityPlanner::Plan => "plan",
            CapacityPlanner::RankHourByHour => "rank_hour_by_hour",
            CapacityPlanner::Naive => "naive",
            CapacityPlanner::GreedyTrueP => "greedy_true_p",
            CapacityPlanner::PlanTrueP => "plan_true_p",
        }
    }
}

/// One planner's results over the evaluation days.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapacityStats {
    /// Which planner.
    pub planner: CapacityPlanner,
    /// Attempts made.
    pub attempts: u64,
    /// Attempts whose sampled outcome is engaged.
    pub engaged: u64,
    /// Sum of the true engagement probabilities of the attempts made: engagements without
    /// the sampling noise.
    pub expected_engaged: f64,
    /// `engaged / attempts`.
    pub engaged_per_attempt: f64,
    /// `expected_engaged / attempts`.
    pub mean_true_p: f64,
    /// Mean model probability of the attempts (model planners).
    pub mean_predicted_p: Option<f64>,
    /// `(expected − naive's) / (greedy on true p's − naive's)`.
    pub captured_lift: Option<f64>,
    /// Attempts per hour of the working day, over all days.
    pub attempts_by_hour: Vec<u64>,
    /// The busiest hour's share of all attempts.
    pub busiest_hour_share: f64,
    /// Attempts the rules forbid, second attempts on a person the same day, and attempts
    /// over an hour's capacity.
    pub violations: u64,
}

/// The report, written as `capacity.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapacityReport {
    /// Simulated persons (the daily list).
    pub persons: u32,
    /// Days of history the model was trained on.
    pub history_days: u32,
    /// Evaluation days.
    pub eval_days: u32,
    /// Seed.
    pub seed: u64,
    /// Attempts per hour.
    pub per_hour: u32,
    /// Hours worked per day.
    pub slots_per_day: u32,
    /// The model version.
    pub model_version: String,
    /// Its family.
    pub family: String,
    /// The plan's `expected_engaged / upper_bound` (model probabilities), mean over days.
    pub plan_ratio_to_bound: f64,
    /// One entry per planner, in [`CapacityPlanner::ALL`] order.
    pub planners: Vec<CapacityStats>,
}

/// The report's identifying fields.
#[derive(Debug, Clone)]
pub(crate) struct ReportHead {
    pub persons: u32,
    pub history_days: u32,
    pub eval_days: u32,
    pub seed: u64,
    pub per_hour: u32,
    pub slots_per_day: u32,
    pub model_version: String,
    pub family: String,
    pub plan_ratio_to_bound: f64,
}

impl CapacityReport {
    /// Assemble the report and compute each planner's captured lift.
    pub(crate) fn new(head: ReportHead, mut planners: Vec<CapacityStats>) -> Self {
        let expected = |which| {
            planners
                .iter()
                .find(|p| p.planner == which)
                .map(|p| p.expected_engaged)
        };
        if let (Some(naive), Some(best)) = (
            expected(CapacityPlanner::Naive),
            expected(CapacityPlanner::GreedyTrueP),
        ) && best > naive
        {
            for p in &mut planners {
                p.captured_lift = Some((p.expected_engaged - naive) / (best - naive));
            }
        }
        Self {
            persons: head.persons,
            history_days: head.history_days,
            eval_days: head.eval_days,
            seed: head.seed,
            per_hour: head.per_hour,
            slots_per_day: head.slots_per_day,
            model_version: head.model_version,
            family: head.family,
            plan_ratio_to_bound: head.plan_ratio_to_bound,
            planners,
        }
    }

    /// The stats of `planner`.
    pub fn get(&self, planner: CapacityPlanner) -> Option<&CapacityStats> {
        self.planners.iter().find(|p| p.planner == planner)
    }
}

/// Running totals of one planner.
#[derive(Debug, Clone)]
pub(crate) struct DayTally {
    planner: CapacityPlanner,
    attempts: u64,
    engaged: u64,
    sum_true_p: f64,
    sum_predicted: f64,
    predicted: u64,
    by_hour: Vec<u64>,
    violations: u64,
}

impl DayTally {
    pub(crate) fn new(planner: CapacityPlanner, _persons: usize, slots: u32) -> Self {
        Self {
            planner,
            attempts: 0,
            engaged: 0,
            sum_true_p: 0.0,
            sum_predicted: 0.0,
            predicted: 0,
            by_hour: vec![0; slots as usize],
            violations: 0,
        }
    }

    /// One attempt in hour `slot` of the day.
    pub(crate) fn attempt(
        &mut self,
        slot: u32,
        p_true: f64,
        predicted: Option<f64>,
        engaged: bool,
        violation: bool,
    ) {
        self.attempts += 1;
        self.engaged += u64::from(engaged);
        self.sum_true_p += p_true;
        if let Some(p) = predicted {
            self.sum_predicted += p;
            self.predicted += 1;
        }
        if let Some(h) = self.by_hour.get_mut(slot as usize) {
            *h += 1;
        }
        self.violations += u64::from(violation);
    }

    /// The end of a day (nothing to carry over today; kept for symmetry with the tallies).
    pub(crate) fn end_day(&mut self) {}

    pub(crate) fn finish(&self) -> CapacityStats {
        let per = |x: f64, n: u64| if n == 0 { 0.0 } else { x / n as f64 };
        let busiest = self.by_hour.iter().copied().max().unwrap_or(0);
        CapacityStats {
            planner: self.planner,
            attempts: self.attempts,
            engaged: self.engaged,
            expected_engaged: self.sum_true_p,
            engaged_per_attempt: per(self.engaged as f64, self.attempts),
            mean_true_p: per(self.sum_true_p, self.attempts),
            mean_predicted_p: (self.predicted > 0).then(|| per(self.sum_predicted, self.predicted)),
            captured_lift: None,
            attempts_by_hour: self.by_hour.clone(),
            busiest_hour_share: per(busiest as f64, self.attempts),
            violations: self.violations,
        }
    }
}

/// The report as a small text table.
pub fn render(r: &CapacityReport) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "capacity backtest: {} persons on the daily list, {} attempts/hour × {} hours a day, {} \
         evaluation days after {} days of history, model {} ({})\n",
        r.persons,
        r.per_hour,
        r.slots_per_day,
        r.eval_days,
        r.history_days,
        r.model_version,
        r.family
    );
    let _ = writeln!(
        s,
        "| planner | attempts | engaged | expected engaged | engaged/attempt | mean true p | \
         captured lift | busiest hour | violations |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|");
    for p in &r.planners {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {:.1} | {:.4} | {:.4} | {} | {:.1} % | {} |",
            p.planner.as_str(),
            p.attempts,
            p.engaged,
            p.expected_engaged,
            p.engaged_per_attempt,
            p.mean_true_p,
            p.captured_lift
                .map_or_else(|| "n/a".into(), |l| format!("{l:.2}")),
            100.0 * p.busiest_hour_share,
            p.violations
        );
    }
    let _ = writeln!(
        s,
        "\nplan: expected engaged / upper bound (model probabilities) {:.4}, mean over days",
        r.plan_ratio_to_bound
    );
    s
}
