//! `daily`: racecards for the next days and results for the last days (the original's
//! `update_daily_data.py`); `--weekly` is the reconciliation that catches amended results.

use async_trait::async_trait;
use chrono::{DateTime, Days, NaiveDate, Utc};

use super::units::{UnitKey, Units, allowed_range, dates_newest_first, log_notes, run_units};
use super::{Job, JobContext, JobReport, Progress, UpdateJob};
use crate::config::Config;
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

/// The `daily` job.
pub type Daily = Job<DailyOptions>;

impl Daily {
    pub const NAME: &'static str = "daily";
    pub const ABOUT: &'static str = "Racecards for the next days and results for the last days";

    /// The units this run fetches, from its options, the config (`features.skip_*`, the
    /// subscription plan's windows), the run's racing day `today` and, for a run standing in for
    /// missed mornings, the earliest slot it covers: racecards from tomorrow to today+N, then
    /// results from yesterday back N days (one more for each missed morning), each cut to what
    /// the plan allows (noted).
    pub fn units(&self, config: &Config, today: NaiveDate, covers_since: Option<DateTime<Utc>>) -> Units {
        let features = &config.features;
        let mut units = Units::default();
        if !self.options.results_only && !features.skip_racecards && self.options.days_ahead > 0 {
            let from = today.checked_add_days(Days::new(1));
            let to = today.checked_add_days(Days::new(u64::from(self.options.days_ahead)));
            if let (Some(from), Some(to)) = (from, to)
                && let Some((from, to)) = allowed_range(config, today, Kind::Racecards, from, to, &mut units.notes)
            {
                let mut dates: Vec<_> = dates_newest_first(from, to).collect();
                dates.reverse();
                units.keys.extend(dates.into_iter().map(|date| UnitKey { kind: Kind::Racecards, date }));
            }
        }
        let back = if self.options.weekly { WEEKLY_DAYS_BACK } else { self.options.days_back };
        // A run standing in for missed mornings fetches the results each of them would have.
        let missed = covers_since
            .map(|since| (today - crate::clock::racing_day_of(since)).num_days().clamp(0, 366) as u32)
            .unwrap_or(0);
        let back = if back == 0 { 0 } else { back.saturating_add(missed).min(MAX_DAYS_BACK) };
        if !self.options.racecards_only && !features.skip_results && back > 0 {
            let to = today.pred_opt();
            let from = today.checked_sub_days(Days::new(u64::from(back)));
            if let (Some(from), Some(to)) = (from, to)
                && let Some((from, to)) = allowed_range(config, today, Kind::Results, from, to, &mut units.notes)
            {
                units.keys.extend(dates_newest_first(from, to).map(|date| UnitKey { kind: Kind::Results, date }));
            }
        }
        units
    }
}

#[async_trait]
impl UpdateJob for Daily {
    super::builtin_job!();

    async fn run(&self, ctx: &JobContext) -> Result<JobReport> {
        let mut report = self.new_report(ctx);
        let units = self.units(&ctx.config, ctx.clock.racing_day(), ctx.covers_since);
        log_notes(&units.notes);
        report.notes.extend(units.notes);
        tracing::info!(units = units.keys.len(), "daily: {} units", units.keys.len());
        run_units(ctx, units.keys, &mut report, &Progress::hidden()).await?;
        super::enrich::enrich_horses(ctx, &mut report).await?;
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Plan;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap_or_default()
    }

    /// The units of a kind from `first` to `last` in the order given (dates step towards `last`).
    fn span(kind: Kind, first: &str, last: &str) -> Vec<UnitKey> {
        let (first, last) = (day(first), day(last));
        let mut dates: Vec<NaiveDate> = dates_newest_first(first.min(last), first.max(last)).collect();
        if first < last {
            dates.reverse();
        }
        dates.into_iter().map(|date| UnitKey { kind, date }).collect()
    }

    fn cards(first: &str, last: &str) -> Vec<UnitKey> {
        span(Kind::Racecards, first, last)
    }

    fn results(newest: &str, oldest: &str) -> Vec<UnitKey> {
        span(Kind::Results, newest, oldest)
    }

    struct Case {
        name: &'static str,
        options: DailyOptions,
        config: fn(&mut Config),
        /// The earliest slot the run stands in for (`run_once` after missed mornings).
        covers_since: Option<&'static str>,
        keys: Vec<UnitKey>,
        /// A text every note contains, in note order; empty: no note.
        notes: Vec<&'static str>,
    }

    fn case(name: &'static str, options: DailyOptions, keys: Vec<UnitKey>) -> Case {
        Case { name, options, config: |_| {}, covers_since: None, keys, notes: vec![] }
    }

    #[test]
    fn units_follow_the_options_the_features_the_plan_and_missed_mornings() {
        // Today is Wednesday 2026-06-10 (UK racing day).
        let today = day("2026-06-10");
        let d = DailyOptions::default();
        let cases = [
            case(
                "defaults: two days of racecards, then yesterday's results",
                d.clone(),
                [cards("2026-06-11", "2026-06-12"), results("2026-06-09", "2026-06-09")].concat(),
            ),
            case(
                "--days-ahead 0: no racecards",
                DailyOptions { days_ahead: 0, ..d.clone() },
                results("2026-06-09", "2026-06-09"),
            ),
            case(
                "--days-ahead 7: the most Pro has",
                DailyOptions { days_ahead: 7, ..d.clone() },
                [cards("2026-06-11", "2026-06-17"), results("2026-06-09", "2026-06-09")].concat(),
            ),
            case(
                "--days-back 0: no results",
                DailyOptions { days_back: 0, ..d.clone() },
                cards("2026-06-11", "2026-06-12"),
            ),
            case(
                "--days-back 3: newest first",
                DailyOptions { days_back: 3, ..d.clone() },
                [cards("2026-06-11", "2026-06-12"), results("2026-06-09", "2026-06-07")].concat(),
            ),
            case(
                "--weekly: seven days of results",
                DailyOptions { weekly: true, ..d.clone() },
                [cards("2026-06-11", "2026-06-12"), results("2026-06-09", "2026-06-03")].concat(),
            ),
            case(
                "--weekly overrides --days-back",
                DailyOptions { weekly: true, days_back: 30, ..d.clone() },
                [cards("2026-06-11", "2026-06-12"), results("2026-06-09", "2026-06-03")].concat(),
            ),
            case(
                "--weekly still fetches results with --days-back 0",
                DailyOptions { weekly: true, days_back: 0, ..d.clone() },
                [cards("2026-06-11", "2026-06-12"), results("2026-06-09", "2026-06-03")].concat(),
            ),
            case(
                "--racecards-only",
                DailyOptions { racecards_only: true, ..d.clone() },
                cards("2026-06-11", "2026-06-12"),
            ),
            case(
                "--results-only",
                DailyOptions { results_only: true, ..d.clone() },
                results("2026-06-09", "2026-06-09"),
            ),
            case(
                "--results-only --weekly",
                DailyOptions { results_only: true, weekly: true, ..d.clone() },
                results("2026-06-09", "2026-06-03"),
            ),
            Case {
                config: |c| c.features.skip_racecards = true,
                ..case("features.skip_racecards", d.clone(), results("2026-06-09", "2026-06-09"))
            },
            Case {
                config: |c| c.features.skip_results = true,
                ..case("features.skip_results", d.clone(), cards("2026-06-11", "2026-06-12"))
            },
            Case {
                config: |c| {
                    c.features.skip_racecards = true;
                    c.features.skip_results = true;
                },
                ..case("both features skipped: nothing to do", d.clone(), vec![])
            },
            Case {
                covers_since: Some("2026-06-08T05:00:00Z"),
                ..case(
                    "two missed mornings: their results too",
                    d.clone(),
                    [cards("2026-06-11", "2026-06-12"), results("2026-06-09", "2026-06-07")].concat(),
                )
            },
            Case {
                // 23:30 UTC on the 7th is 00:30 on the 8th in London (BST): two racing days back.
                covers_since: Some("2026-06-07T23:30:00Z"),
                ..case(
                    "missed mornings count in UK racing days",
                    d.clone(),
                    [cards("2026-06-11", "2026-06-12"), results("2026-06-09", "2026-06-07")].concat(),
                )
            },
            Case {
                covers_since: Some("2026-06-10T05:00:00Z"),
                ..case(
                    "a slot of today's misses nothing",
                    d.clone(),
                    [cards("2026-06-11", "2026-06-12"), results("2026-06-09", "2026-06-09")].concat(),
                )
            },
            Case {
                covers_since: Some("2026-06-12T05:00:00Z"),
                ..case(
                    "a slot after today (a clock set back) misses nothing",
                    d.clone(),
                    [cards("2026-06-11", "2026-06-12"), results("2026-06-09", "2026-06-09")].concat(),
                )
            },
            Case {
                covers_since: Some("2026-06-05T05:00:00Z"),
                ..case(
                    "missed mornings add to --weekly",
                    DailyOptions { weekly: true, ..d.clone() },
                    [cards("2026-06-11", "2026-06-12"), results("2026-06-09", "2026-05-29")].concat(),
                )
            },
            Case {
                covers_since: Some("2026-06-05T05:00:00Z"),
                ..case(
                    "--days-back 0 stays 0 after missed mornings",
                    DailyOptions { days_back: 0, ..d.clone() },
                    cards("2026-06-11", "2026-06-12"),
                )
            },
            Case {
                covers_since: Some("2024-01-01T05:00:00Z"),
                notes: vec![
                    "results 2025-06-09..2025-06-09 skipped (fetching 2025-06-10..2026-06-09): results go back 12 months",
                ],
                ..case(
                    "years of missed mornings: capped at 366 days, clipped to 12 months of results",
                    d.clone(),
                    [cards("2026-06-11", "2026-06-12"), results("2026-06-09", "2025-06-10")].concat(),
                )
            },
            Case {
                config: |c| c.api.results_history = crate::config::ResultsHistory::Full,
                covers_since: Some("2024-01-01T05:00:00Z"),
                ..case(
                    "the history add-on keeps all 366 days",
                    d.clone(),
                    [cards("2026-06-11", "2026-06-12"), results("2026-06-09", "2025-06-09")].concat(),
                )
            },
            Case {
                config: |c| c.api.plan = Plan::Standard,
                notes: vec![
                    "racecards 2026-06-12..2026-06-12 skipped (fetching 2026-06-11..2026-06-11): the standard plan has racecards for today and tomorrow only",
                ],
                ..case(
                    "below Pro: tomorrow's racecards only, noted",
                    d.clone(),
                    [cards("2026-06-11", "2026-06-11"), results("2026-06-09", "2026-06-09")].concat(),
                )
            },
            Case {
                config: |c| c.api.plan = Plan::Basic,
                notes: vec![
                    "racecards 2026-06-12..2026-06-13 skipped (fetching 2026-06-11..2026-06-11): the basic plan",
                    "results 2026-06-09..2026-06-09 skipped: the basic plan has no results by date",
                ],
                ..case(
                    "Basic: no results by date, noted",
                    DailyOptions { days_ahead: 3, ..d.clone() },
                    cards("2026-06-11", "2026-06-11"),
                )
            },
        ];
        for c in &cases {
            let mut config = Config::default();
            (c.config)(&mut config);
            let since = c.covers_since.map(|s| s.parse::<DateTime<Utc>>().unwrap_or_default());
            let units = Daily { options: c.options.clone() }.units(&config, today, since);
            assert_eq!(units.keys, c.keys, "{}", c.name);
            assert_eq!(units.notes.len(), c.notes.len(), "{}: {:?}", c.name, units.notes);
            for (note, text) in units.notes.iter().zip(&c.notes) {
                assert!(note.contains(text), "{}: {note:?} does not say {text:?}", c.name);
            }
        }
    }
}
