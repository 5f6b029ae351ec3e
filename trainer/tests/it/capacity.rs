//! The capacity backtest end to end on a small world: with a call centre that can just about
//! work the whole list each day, the plan breaks no rule and no hour's capacity, beats calling
//! the highest Rank probabilities hour by hour and the naive dialer, and the plan's assignment
//! on the true probabilities does as well as greedy on them.

use contactscore_models::policy::Policy;
use contactscore_trainer::backtest::BacktestRequest;
use contactscore_trainer::backtest::capacity::{
    CAPACITY_REPORT_FILE, CapacityPlanner, CapacityReport, CapacityRequest, capacity_backtest,
};
use contactscore_trainer::config::Config;
use contactscore_trainer::progress::Progress;

#[test]
fn the_plan_beats_hour_by_hour_ranking_under_capacity() {
    let dir = tempfile::tempdir().expect("tempdir");
    let req = CapacityRequest {
        base: BacktestRequest {
            out: dir.path().to_owned(),
            persons: 1_500,
            history_days: 45,
            eval_days: 3,
            seed: 4,
            policy: Policy::default(),
            reveal_traits: false,
        },
        per_hour: 110,
    };
    let settings = Config::default().validate().expect("default config");
    let r = capacity_backtest(&req, &settings, &Progress::silent()).expect("backtest");
    let written: CapacityReport = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join(CAPACITY_REPORT_FILE)).expect("report file"),
    )
    .expect("report parses");
    assert_eq!(written, r);

    let get = |p| r.get(p).unwrap_or_else(|| panic!("{p:?} missing"));
    let day = u64::from(req.per_hour * r.slots_per_day);
    for p in &r.planners {
        assert_eq!(p.violations, 0, "{p:?}");
        assert!(p.attempts <= day * u64::from(req.base.eval_days), "{p:?}");
        // Every planner worked: most of each day's capacity was used.
        assert!(
            p.attempts * 10 >= day * u64::from(req.base.eval_days) * 8,
            "{p:?}"
        );
        assert!(
            p.attempts_by_hour
                .iter()
                .all(|&h| h <= day / 14 * u64::from(req.base.eval_days))
        );
    }
    let (plan, by_hour, naive) = (
        get(CapacityPlanner::Plan),
        get(CapacityPlanner::RankHourByHour),
        get(CapacityPlanner::Naive),
    );
    let (greedy, plan_true) = (
        get(CapacityPlanner::GreedyTrueP),
        get(CapacityPlanner::PlanTrueP),
    );
    // Measured at this size over seeds 1–4 (`backtest --persons 1500 --history-days 45
    // --eval-days 3 --capacity 110 --seed S`): the plan's expected engagements (the sum of the
    // true probabilities of its attempts, so no sampling noise) were 3.8–9.2 % above hour by
    // hour and 52–57 % above naive; the plan on true probabilities within −1.1 % to +0.3 % of
    // greedy on them (their states part after the first day, so neither is optimal over days).
    // The thresholds keep the claims, with room for the remaining noise.
    assert!(
        plan.expected_engaged >= 1.01 * by_hour.expected_engaged,
        "plan {:.1} vs hour by hour {:.1}",
        plan.expected_engaged,
        by_hour.expected_engaged
    );
    assert!(
        plan.expected_engaged >= 1.3 * naive.expected_engaged,
        "plan {:.1} vs naive {:.1}",
        plan.expected_engaged,
        naive.expected_engaged
    );
    assert!(
        plan_true.expected_engaged >= 0.97 * greedy.expected_engaged,
        "plan on true p {:.1} vs greedy {:.1}",
        plan_true.expected_engaged,
        greedy.expected_engaged
    );
    assert_eq!(greedy.captured_lift, Some(1.0));
    assert!(plan.captured_lift.is_some_and(|l| l > 0.0));
    // The plan is optimal for the model's probabilities: its value meets the dual bound.
    assert!(
        r.plan_ratio_to_bound > 0.999 && r.plan_ratio_to_bound <= 1.0,
        "{}",
        r.plan_ratio_to_bound
    );
}
