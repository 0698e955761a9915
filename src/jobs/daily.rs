//! `daily`: racecards for the next days and results for the last days (the original's
//! `update_daily_data.py`); `--weekly` is the reconciliation that catches amended results.

use async_trait::async_trait;
use chrono::Days;

use super::units::{UnitKey, allowed_range, dates_newest_first, run_units};
use super::{JobContext, JobReport, Progress, UpdateJob};
use crate::error::Result;
use crate::model::Kind;

/// Days of results `--weekly` reconciles.
pub const WEEKLY_DAYS_BACK: u32 = 7;

/// Racecards from tomorrow to today+N when no `--days-ahead` is given.
pub const DEFAULT_DAYS_AHEAD: u32 = 2;
/// The API publishes racecards at most this many days ahead.
pub const MAX_DAYS_AHEAD: u32 = 7;
/// Results from yesterday back N days when no `--days-back` is given.
pub const DEFAULT_DAYS_BACK: u32 = 1;
/// The most `--days-back` takes: longer history is `backfill`'s work.
pub const MAX_DAYS_BACK: u32 = 366;

/// What a `daily` run fetches: `darkhorses daily`'s flags, or an interval's `args`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DailyOptions {
    pub racecards_only: bool,
    pub results_only: bool,
    /// Racecards from tomorrow to today+N, 0 to [`MAX_DAYS_AHEAD`].
    pub days_ahead: u32,
    /// Results from yesterday back N days, 0 to [`MAX_DAYS_BACK`]; `weekly` overrides it.
    pub days_back: u32,
    /// Results for the last [`WEEKLY_DAYS_BACK`] days.
    pub weekly: bool,
    pub dry_run: bool,
}

impl Default for DailyOptions {
    /// What `darkhorses daily` does with no flags.
    fn default() -> Self {
        Self {
            racecards_only: false,
            results_only: false,
            days_ahead: DEFAULT_DAYS_AHEAD,
            days_back: DEFAULT_DAYS_BACK,
            weekly: false,
            dry_run: false,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Daily {
    pub options: DailyOptions,
}

impl Daily {
    pub const NAME: &'static str = "daily";
    pub const ABOUT: &'static str = "Racecards for the next days and results for the last days";

    /// The units this run fetches: racecards from tomorrow to today+N, then results from
    /// yesterday back N days, each cut to what the plan allows (noted in `notes`).
    pub fn plan(&self, ctx: &JobContext, notes: &mut Vec<String>) -> Vec<UnitKey> {
        let today = ctx.clock.racing_day();
        let features = &ctx.config.features;
        let mut keys = Vec::new();
        if !self.options.results_only && !features.skip_racecards && self.options.days_ahead > 0 {
            let from = today.checked_add_days(Days::new(1));
            let to = today.checked_add_days(Days::new(u64::from(self.options.days_ahead)));
            if let (Some(from), Some(to)) = (from, to)
                && let Some((from, to)) = allowed_range(ctx, Kind::Racecards, from, to, notes)
            {
                let mut dates: Vec<_> = dates_newest_first(from, to).collect();
                dates.reverse();
                keys.extend(dates.into_iter().map(|date| UnitKey { kind: Kind::Racecards, date }));
            }
        }
        let back = if self.options.weekly { WEEKLY_DAYS_BACK } else { self.options.days_back };
        // A run standing in for missed mornings fetches the results each of them would have.
        let missed = ctx
            .covers_since
            .map(|since| (today - crate::clock::racing_day_of(since)).num_days().clamp(0, 366) as u32)
            .unwrap_or(0);
        let back = if back == 0 { 0 } else { back.saturating_add(missed).min(MAX_DAYS_BACK) };
        if !self.options.racecards_only && !features.skip_results && back > 0 {
            let to = today.pred_opt();
            let from = today.checked_sub_days(Days::new(u64::from(back)));
            if let (Some(from), Some(to)) = (from, to)
                && let Some((from, to)) = allowed_range(ctx, Kind::Results, from, to, notes)
            {
                keys.extend(dates_newest_first(from, to).map(|date| UnitKey { kind: Kind::Results, date }));
            }
        }
        keys
    }
}

#[async_trait]
impl UpdateJob for Daily {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn dry_run(&self) -> bool {
        self.options.dry_run
    }

    async fn run(&self, ctx: &JobContext) -> Result<JobReport> {
        let mut report = JobReport::new(Self::NAME, ctx.dry_run);
        let keys = self.plan(ctx, &mut report.notes);
        tracing::info!(units = keys.len(), "daily: {} units", keys.len());
        run_units(ctx, keys, &mut report, &Progress::hidden()).await?;
        super::enrich::enrich_horses(ctx, &mut report).await?;
        Ok(report)
    }
}
