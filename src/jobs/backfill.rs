//! `backfill`: history over a date range, newest first, one unit per endpoint and date, resumable
//! from `fetch_coverage` (the original's `initialize_data.py` and `initialize_12months.py`).

use async_trait::async_trait;
use chrono::{Months, NaiveDate};

use super::units::{UnitKey, allowed_range, dates_newest_first, run_units};
use super::{JobContext, JobReport, Progress, UpdateJob};
use crate::api::Priority;
use crate::error::{Error, Result};
use crate::model::Kind;

/// Expected `/results` pages per day when planning (about 36 GB+IRE races a day, 50 a page).
const PLANNED_RESULT_PAGES_PER_DAY: u64 = 1;

/// What a `backfill` run fetches: `darkhorses backfill`'s flags, or an interval's `args`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BackfillOptions {
    /// First date; `months` is the other way to give a start, and one of them is needed.
    pub from: Option<NaiveDate>,
    /// Last date, default yesterday.
    pub to: Option<NaiveDate>,
    /// The last N months up to `to`, 1 or more.
    pub months: Option<u32>,
    pub racecards_only: bool,
    pub results_only: bool,
    pub dry_run: bool,
}

#[derive(Debug, Clone, Default)]
pub struct Backfill {
    pub options: BackfillOptions,
}

/// What a backfill will do, printed before it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct BackfillPlan {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Units still to fetch, newest first.
    pub keys: Vec<UnitKey>,
    /// Units whose `fetch_coverage` row covers this run ([`crate::store::Coverage::is_complete_for`]).
    pub done: u64,
    pub api_calls: u64,
    pub seconds: f64,
    pub notes: Vec<String>,
}

impl Backfill {
    pub const NAME: &'static str = "backfill";
    pub const ABOUT: &'static str = "History over a date range, newest first, resumable after an interruption";

    /// The requested range, before plan limits.
    pub fn range(&self, today: NaiveDate) -> Result<(NaiveDate, NaiveDate)> {
        let yesterday = today.pred_opt().unwrap_or(today);
        let to = self.options.to.unwrap_or(yesterday);
        let from = match (self.options.from, self.options.months) {
            (Some(from), _) => from,
            (None, Some(months)) => to
                .checked_sub_months(Months::new(months))
                .and_then(|d| d.succ_opt())
                .ok_or_else(|| Error::Usage(format!("--months {months} reaches before the calendar starts")))?,
            (None, None) => {
                return Err(Error::Usage(
                    "backfill needs a start: give --from YYYY-MM-DD or --months N (for example --months 12)".into(),
                ));
            }
        };
        if from > to {
            return Err(Error::Usage(format!("--from {from} is after --to {to}; give an earlier --from")));
        }
        Ok((from, to))
    }

    /// Every unit of the range the plan allows, minus those whose coverage already covers this
    /// run (every region it asks for; for results, fetched after the day was over), newest first.
    pub async fn plan(&self, ctx: &JobContext) -> Result<BackfillPlan> {
        let today = ctx.clock.racing_day();
        let (from, to) = self.range(today)?;
        let cfg = &ctx.config;
        let mut notes = Vec::new();
        let want_cards = !self.options.results_only && !cfg.features.skip_racecards;
        let want_results = !self.options.racecards_only && !cfg.features.skip_results;

        let cards = if want_cards { allowed_range(ctx, Kind::Racecards, from, to, &mut notes) } else { None };
        let results = if want_results { allowed_range(ctx, Kind::Results, from, to, &mut notes) } else { None };

        let store = ctx.store()?;
        // A unit is done only when its coverage covers what this run asks for: every configured
        // region and, for results, a fetch made after the racing day was over.
        let regions = &cfg.api.regions;
        let complete = |rows: Vec<crate::store::Coverage>| -> std::collections::HashSet<NaiveDate> {
            rows.into_iter().filter(|c| c.is_complete_for(regions)).map(|c| c.race_date).collect()
        };
        let cards_done = complete(store.coverage(Kind::Racecards, from, to).await?);
        let results_done = complete(store.coverage(Kind::Results, from, to).await?);

        let in_range =
            |range: Option<(NaiveDate, NaiveDate)>, date: NaiveDate| range.is_some_and(|(f, t)| f <= date && date <= t);
        let mut keys = Vec::new();
        let mut done = 0;
        for date in dates_newest_first(from, to) {
            for (kind, range, complete) in
                [(Kind::Racecards, cards, &cards_done), (Kind::Results, results, &results_done)]
            {
                if !in_range(range, date) {
                    continue;
                }
                if complete.contains(&date) {
                    done += 1;
                } else {
                    keys.push(UnitKey { kind, date });
                }
            }
        }
        let api_calls =
            keys.iter().map(|k| if k.kind == Kind::Results { PLANNED_RESULT_PAGES_PER_DAY } else { 1 }).sum::<u64>();
        let seconds = api_calls as f64 / cfg.api.rate_limit.max(f64::MIN_POSITIVE);
        Ok(BackfillPlan { from, to, keys, done, api_calls, seconds, notes })
    }
}

/// `3725` seconds as `1h 2m 5s`.
pub fn human_duration(seconds: f64) -> String {
    let s = seconds.round() as u64;
    match (s / 3600, (s % 3600) / 60, s % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, s) => format!("{m}m {s}s"),
        (h, m, s) => format!("{h}h {m}m {s}s"),
    }
}

#[async_trait]
impl UpdateJob for Backfill {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn dry_run(&self) -> bool {
        self.options.dry_run
    }

    async fn run(&self, ctx: &JobContext) -> Result<JobReport> {
        let mut report = JobReport::new(Self::NAME, ctx.dry_run);
        // History waits behind every other job sharing the budget.
        let ctx = &ctx.at_priority(Priority::Backfill);
        // `plan` logged its notes as it made them (`allowed_range`); the report repeats them once.
        let plan = self.plan(ctx).await?;
        report.notes.extend(plan.notes.iter().cloned());
        report.units_skipped += plan.done;
        tracing::info!(
            units = plan.keys.len(),
            units.complete = plan.done,
            api.calls = plan.api_calls,
            "{}",
            plan.describe(ctx.config.api.rate_limit)
        );
        let progress = Progress::new(plan.keys.len() as u64, "backfill");
        let outcome = run_units(ctx, plan.keys, &mut report, &progress).await;
        progress.finish();
        outcome?;
        super::enrich::enrich_horses(ctx, &mut report).await?;
        Ok(report)
    }
}

impl BackfillPlan {
    /// The plan as one line: `backfill plan 2025-07-17 to 2025-10-14: 120 units to fetch (60
    /// already complete, skipped), about 120 API calls, about 6s at 20 requests/s`.
    pub fn describe(&self, rate_limit: f64) -> String {
        format!(
            "backfill plan {} to {}: {} units to fetch ({} already complete, skipped), about {} API calls, about {} at {} requests/s",
            self.from,
            self.to,
            self.keys.len(),
            self.done,
            self.api_calls,
            human_duration(self.seconds),
            rate_limit
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap_or_default()
    }

    #[test]
    fn range_defaults_to_yesterday_and_months_are_inclusive() {
        let job = Backfill { options: BackfillOptions { months: Some(1), ..Default::default() } };
        let (from, to) = job.range(d("2026-03-15")).unwrap_or((d("2000-01-01"), d("2000-01-01")));
        assert_eq!((from, to), (d("2026-02-15"), d("2026-03-14")));
    }

    #[test]
    fn range_needs_a_start_and_an_order() {
        assert!(Backfill::default().range(d("2026-03-15")).is_err());
        let job = Backfill {
            options: BackfillOptions { from: Some(d("2026-03-10")), to: Some(d("2026-03-01")), ..Default::default() },
        };
        assert!(job.range(d("2026-03-15")).is_err());
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(human_duration(5.2), "5s");
        assert_eq!(human_duration(125.0), "2m 5s");
        assert_eq!(human_duration(3725.0), "1h 2m 5s");
    }
}
