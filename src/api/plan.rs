//! What each Racing API plan allows: which endpoints, which date windows, and clipping a
//! requested range to the allowed part with one warning. Pure functions; the client refuses to
//! send what the plan certainly refuses, and jobs clip their ranges with their own clock.

use chrono::{Days, Months, NaiveDate};

use crate::config::{Plan, ResultsHistory};

/// Pro racecards history starts here ("when our tracking began").
pub const PRO_RACECARDS_FROM: NaiveDate = match NaiveDate::from_ymd_opt(2023, 1, 23) {
    Some(date) => date,
    None => NaiveDate::MIN,
};
/// Pro racecards reach this many days ahead of today.
pub const PRO_RACECARDS_DAYS_AHEAD: u64 = 7;
/// Results reach this many months back without the history add-on.
pub const RESULTS_MONTHS_BACK: u32 = 12;
/// The earliest date requested with the history add-on ("over 30 years of results").
pub const FULL_HISTORY_FROM: NaiveDate = match NaiveDate::from_ymd_opt(1988, 1, 1) {
    Some(date) => date,
    None => NaiveDate::MIN,
};

/// An inclusive range of dates.
pub type DateRange = (NaiveDate, NaiveDate);

/// The lowest plan that may call `endpoint` (a path below the base URL, as in
/// `RawResponse::endpoint`), from the "Required Plan" of each operation in openapi.json.
/// Paths not listed need no particular plan.
pub fn required_plan(endpoint: &str) -> Plan {
    let segments: Vec<&str> = endpoint.trim_matches('/').split('/').collect();
    match segments.as_slice() {
        ["racecards", "pro"] | ["racecards", _, "pro"] | ["horses", _, "pro"] => Plan::Pro,
        ["racecards", "standard"] | ["racecards", _, "standard"] | ["results"] => Plan::Standard,
        ["results", "today"] => Plan::Basic,
        ["results", _] => Plan::Standard,
        ["racecards", "basic"] => Plan::Basic,
        _ => Plan::Free,
    }
}

/// The racecards tier below Pro that `plan` reads by day: `standard`, `basic` or `free`
/// (a Pro account reads `standard`, the richest day endpoint).
pub fn racecards_day_tier(plan: Plan) -> &'static str {
    match plan {
        Plan::Free => "free",
        Plan::Basic => "basic",
        Plan::Standard | Plan::Pro => "standard",
    }
}

/// The racecard dates `plan` can fetch, seen from `today` (UK racing day). Pro: 2023-01-23 to
/// today + 7, by date through `/racecards/pro`. Lower plans: today and tomorrow, through
/// `/racecards/{tier}?day=`. `None` only when the window is empty (a clock before 2023-01-16 on Pro).
pub fn racecards_window(plan: Plan, today: NaiveDate) -> Option<DateRange> {
    let range = match plan {
        Plan::Pro => (PRO_RACECARDS_FROM, today.checked_add_days(Days::new(PRO_RACECARDS_DAYS_AHEAD))?),
        Plan::Free | Plan::Basic | Plan::Standard => (today, today.checked_add_days(Days::new(1))?),
    };
    (range.0 <= range.1).then_some(range)
}

/// The result dates the account can fetch from `/results`, seen from `today`: the last 12 months
/// (today - 12 months to today) unless the history add-on is bought. The endpoint itself needs
/// Standard: see `results_allowed`.
pub fn results_window(history: ResultsHistory, today: NaiveDate) -> DateRange {
    let from = match history {
        ResultsHistory::TwelveMonths => today.checked_sub_months(Months::new(RESULTS_MONTHS_BACK)).unwrap_or(today),
        ResultsHistory::Full => FULL_HISTORY_FROM.min(today),
    };
    (from, today)
}

/// Whether `plan` may read `/results` by date (Standard and above).
pub fn results_allowed(plan: Plan) -> bool {
    plan >= required_plan("/results")
}

/// A requested range cut to what the plan allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clip {
    /// The part that can be fetched; `None` when nothing can.
    pub range: Option<DateRange>,
    /// Set when something was dropped: one line naming what and why, to log once.
    pub warning: Option<String>,
}

/// Cuts `requested` to `allowed`. `what` names the data (`"racecards"`), `why` the rule
/// (`"the pro plan has racecards from 2023-01-23 to 7 days ahead"`).
pub fn clip(what: &str, requested: DateRange, allowed: Option<DateRange>, why: &str) -> Clip {
    clip_sides(what, requested, allowed, why, why)
}

/// [`clip`] with a reason for each side: `why_early` for dates before the window, `why_late` for
/// dates after it (results after today do not exist yet, whatever the history add-on says).
pub fn clip_sides(
    what: &str,
    requested: DateRange,
    allowed: Option<DateRange>,
    why_early: &str,
    why_late: &str,
) -> Clip {
    let (from, to) = requested;
    if from > to {
        return Clip { range: None, warning: None };
    }
    let skipped = |why: &str| Clip { range: None, warning: Some(format!("{what} {from}..{to} skipped: {why}")) };
    let Some((lo, hi)) = allowed else {
        return skipped(why_early);
    };
    let kept = (from.max(lo), to.min(hi));
    if kept.0 > kept.1 {
        return skipped(if from > hi { why_late } else { why_early });
    }
    let mut dropped = Vec::new();
    if from < kept.0 {
        dropped.push((format!("{from}..{}", kept.0.pred_opt().unwrap_or(kept.0)), why_early));
    }
    if to > kept.1 {
        dropped.push((format!("{}..{to}", kept.1.succ_opt().unwrap_or(kept.1)), why_late));
    }
    let warning = match dropped.as_slice() {
        [] => None,
        [(a, why_a), (b, why_b)] if why_a != why_b => {
            Some(format!("{what} {a} skipped ({why_a}) and {b} skipped ({why_b}); fetching {}..{}", kept.0, kept.1))
        }
        parts => {
            let ranges: Vec<&str> = parts.iter().map(|(r, _)| r.as_str()).collect();
            Some(format!("{what} {} skipped (fetching {}..{}): {}", ranges.join(" and "), kept.0, kept.1, parts[0].1))
        }
    };
    Clip { range: Some(kept), warning }
}

/// `clip` for racecards on `plan`, with the reason spelled out.
pub fn clip_racecards(plan: Plan, today: NaiveDate, requested: DateRange) -> Clip {
    let why = match plan {
        Plan::Pro => format!(
            "the pro plan has racecards from {PRO_RACECARDS_FROM} (when tracking began) to {PRO_RACECARDS_DAYS_AHEAD} days ahead"
        ),
        other => format!(
            "the {} plan has racecards for today and tomorrow only (set api.plan: pro if the account has Pro)",
            plan_name(other)
        ),
    };
    clip("racecards", requested, racecards_window(plan, today), &why)
}

/// `clip` for results on `plan` with `history`, with the reason spelled out.
pub fn clip_results(plan: Plan, history: ResultsHistory, today: NaiveDate, requested: DateRange) -> Clip {
    if !results_allowed(plan) {
        let why = format!(
            "the {} plan has no results by date (/results needs Standard; set api.plan if the account has it)",
            plan_name(plan)
        );
        return clip("results", requested, None, &why);
    }
    let why = match history {
        ResultsHistory::TwelveMonths => format!(
            "results go back {RESULTS_MONTHS_BACK} months without the history add-on (set api.results_history: full if the account has it)"
        ),
        ResultsHistory::Full => format!("results are fetched from {FULL_HISTORY_FROM} to today"),
    };
    let late = format!("results after today ({today}) do not exist yet");
    clip_sides("results", requested, Some(results_window(history, today)), &why, &late)
}

/// The name of a plan as the config spells it.
pub fn plan_name(plan: Plan) -> &'static str {
    match plan {
        Plan::Free => "free",
        Plan::Basic => "basic",
        Plan::Standard => "standard",
        Plan::Pro => "pro",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn required_plans_follow_the_openapi_table() {
        assert_eq!(required_plan("/courses"), Plan::Free);
        assert_eq!(required_plan("/courses/regions"), Plan::Free);
        assert_eq!(required_plan("/racecards/free"), Plan::Free);
        assert_eq!(required_plan("/racecards/basic"), Plan::Basic);
        assert_eq!(required_plan("/racecards/standard"), Plan::Standard);
        assert_eq!(required_plan("/racecards/pro"), Plan::Pro);
        assert_eq!(required_plan("/results"), Plan::Standard);
        assert_eq!(required_plan("/results/today"), Plan::Basic);
        assert_eq!(required_plan("/results/rac_123"), Plan::Standard);
        assert_eq!(required_plan("/horses/hrs_1/pro"), Plan::Pro);
    }

    #[test]
    fn day_tiers_follow_the_plan() {
        assert_eq!(racecards_day_tier(Plan::Free), "free");
        assert_eq!(racecards_day_tier(Plan::Basic), "basic");
        assert_eq!(racecards_day_tier(Plan::Standard), "standard");
        assert_eq!(racecards_day_tier(Plan::Pro), "standard");
        for plan in [Plan::Free, Plan::Basic, Plan::Standard, Plan::Pro] {
            let tier = racecards_day_tier(plan);
            assert!(plan >= required_plan(&format!("/racecards/{tier}")));
        }
    }

    #[test]
    fn racecard_windows() {
        let today = d("2025-10-14");
        assert_eq!(racecards_window(Plan::Pro, today), Some((d("2023-01-23"), d("2025-10-21"))));
        for plan in [Plan::Free, Plan::Basic, Plan::Standard] {
            assert_eq!(racecards_window(plan, today), Some((today, d("2025-10-15"))));
        }
        assert_eq!(racecards_window(Plan::Pro, d("2023-01-01")), None);
    }

    #[test]
    fn results_windows() {
        assert_eq!(results_window(ResultsHistory::TwelveMonths, d("2025-10-14")), (d("2024-10-14"), d("2025-10-14")));
        // Month arithmetic clamps to the last day of a shorter month.
        assert_eq!(results_window(ResultsHistory::TwelveMonths, d("2024-02-29")), (d("2023-02-28"), d("2024-02-29")));
        assert_eq!(results_window(ResultsHistory::Full, d("2025-10-14")), (FULL_HISTORY_FROM, d("2025-10-14")));
        assert!(!results_allowed(Plan::Basic));
        assert!(results_allowed(Plan::Standard));
        assert!(results_allowed(Plan::Pro));
    }

    #[test]
    fn clip_keeps_the_allowed_part_and_says_what_was_dropped() {
        let today = d("2025-10-14");
        let inside = clip_racecards(Plan::Pro, today, (d("2025-10-01"), d("2025-10-20")));
        assert_eq!(inside, Clip { range: Some((d("2025-10-01"), d("2025-10-20"))), warning: None });

        let both = clip_racecards(Plan::Pro, today, (d("2023-01-01"), d("2025-10-31")));
        assert_eq!(both.range, Some((d("2023-01-23"), d("2025-10-21"))));
        let warning = both.warning.unwrap();
        assert!(warning.contains("2023-01-01..2023-01-22"), "{warning}");
        assert!(warning.contains("2025-10-22..2025-10-31"), "{warning}");
        assert!(warning.contains("pro plan"), "{warning}");

        let standard = clip_racecards(Plan::Standard, today, (d("2025-10-10"), d("2025-10-20")));
        assert_eq!(standard.range, Some((today, d("2025-10-15"))));
        assert!(standard.warning.unwrap().contains("today and tomorrow"));

        let old = clip_results(Plan::Standard, ResultsHistory::TwelveMonths, today, (d("2020-01-01"), d("2020-12-31")));
        assert_eq!(old.range, None);
        assert!(old.warning.unwrap().contains("12 months"));

        let basic = clip_results(Plan::Basic, ResultsHistory::Full, today, (d("2025-10-01"), d("2025-10-02")));
        assert_eq!(basic.range, None);
        assert!(basic.warning.unwrap().contains("needs Standard"));

        let future = clip_results(Plan::Pro, ResultsHistory::TwelveMonths, today, (d("2025-10-20"), d("2025-10-21")));
        assert_eq!(future.range, None);
        let warning = future.warning.unwrap();
        assert!(warning.contains("do not exist yet") && !warning.contains("12 months"), "{warning}");
        let both = clip_results(Plan::Pro, ResultsHistory::TwelveMonths, today, (d("2020-01-01"), d("2025-10-20")));
        let warning = both.warning.unwrap();
        assert!(warning.contains("12 months") && warning.contains("do not exist yet"), "{warning}");

        let backwards = clip("results", (d("2025-10-02"), d("2025-10-01")), Some((today, today)), "x");
        assert_eq!(backwards, Clip { range: None, warning: None });
    }
}
