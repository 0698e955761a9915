//! `backfill`: history over a date range, newest first, one unit per endpoint and date, resumable
//! from `fetch_coverage` (the original's `initialize_data.py` and `initialize_12months.py`).

use async_trait::async_trait;
use std::collections::HashSet;

use chrono::{Months, NaiveDate};

use super::units::{FromTo, UnitKey, allowed_range, dates_newest_first, log_notes, run_units};
use super::{Job, JobContext, JobReport, Progress, UpdateJob};
use crate::api::Priority;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::model::Kind;
use crate::store::Coverage;

/// Expected `/results` pages per day when estimating the calls (about 36 GB+IRE races a day, 50 a page).
const PLANNED_RESULT_PAGES_PER_DAY: u64 = 1;

/// What a `backfill` run fetches: `darkhorses backfill`'s flags, or an interval's `args`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BackfillOptions {
    /// First date (`from`; `months` is the other way to give a start, and one of them is needed)
    /// and last date (`to`, default yesterday).
    pub days: FromTo,
    /// The last N months up to `to`, 1 or more.
    pub months: Option<u32>,
    pub racecards_only: bool,
    pub results_only: bool,
    pub dry_run: bool,
}

/// The units a backfill fetches and what it skips, printed before it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct BackfillUnits {
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

/// The `backfill` job.
pub type Backfill = Job<BackfillOptions>;

impl Backfill {
    pub const NAME: &'static str = "backfill";
    pub const ABOUT: &'static str = "History over a date range, newest first, resumable after an interruption";

    /// The requested range, before the subscription plan's limits.
    pub fn range(&self, today: NaiveDate) -> Result<(NaiveDate, NaiveDate)> {
        let yesterday = today.pred_opt().unwrap_or(today);
        let to = self.options.days.to.unwrap_or(yesterday);
        let from = match (self.options.days.from, self.options.months) {
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

    /// The units of this run, from its options, the config (`features.skip_*`, the subscription
    /// plan's windows, `api.regions`, `api.rate_limit`), the run's racing day `today` and the
    /// `fetch_coverage` rows already read for the range ([`Backfill::range`]): every unit of the
    /// range the plan allows, minus those whose coverage already covers this run (every region it
    /// asks for; for results, fetched after the day was over), newest first.
    pub fn units(&self, config: &Config, today: NaiveDate, coverage: &[Coverage]) -> Result<BackfillUnits> {
        let (from, to) = self.range(today)?;
        let mut notes = Vec::new();
        let want_cards = !self.options.results_only && !config.features.skip_racecards;
        let want_results = !self.options.racecards_only && !config.features.skip_results;
        let allowed = |kind, notes: &mut Vec<String>| allowed_range(config, today, kind, from, to, notes);
        let cards = if want_cards { allowed(Kind::Racecards, &mut notes) } else { None };
        let results = if want_results { allowed(Kind::Results, &mut notes) } else { None };

        // A unit is done only when its coverage covers what this run asks for: every configured
        // region and, for results, a fetch made after the racing day was over.
        let complete: HashSet<(Kind, NaiveDate)> =
            coverage.iter().filter(|c| c.is_complete_for(&config.api.regions)).map(|c| (c.kind, c.race_date)).collect();

        let in_range =
            |range: Option<(NaiveDate, NaiveDate)>, date: NaiveDate| range.is_some_and(|(f, t)| f <= date && date <= t);
        let mut keys = Vec::new();
        let mut done = 0;
        for date in dates_newest_first(from, to) {
            for (kind, range) in [(Kind::Racecards, cards), (Kind::Results, results)] {
                if !in_range(range, date) {
                    continue;
                }
                if complete.contains(&(kind, date)) {
                    done += 1;
                } else {
                    keys.push(UnitKey { kind, date });
                }
            }
        }
        let api_calls =
            keys.iter().map(|k| if k.kind == Kind::Results { PLANNED_RESULT_PAGES_PER_DAY } else { 1 }).sum::<u64>();
        let seconds = api_calls as f64 / config.api.rate_limit.max(f64::MIN_POSITIVE);
        Ok(BackfillUnits { from, to, keys, done, api_calls, seconds, notes })
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
    super::builtin_job!();

    async fn run(&self, ctx: &JobContext) -> Result<JobReport> {
        let mut report = self.new_report(ctx);
        // History waits behind every other job sharing the budget.
        let ctx = &ctx.at_priority(Priority::Backfill);
        let today = ctx.clock.racing_day();
        let (from, to) = self.range(today)?;
        let store = ctx.store()?;
        let mut coverage = store.coverage(Kind::Racecards, from, to).await?;
        coverage.extend(store.coverage(Kind::Results, from, to).await?);
        let units = self.units(&ctx.config, today, &coverage)?;
        log_notes(&units.notes);
        report.notes.extend(units.notes.iter().cloned());
        report.units_skipped += units.done;
        tracing::info!(
            units = units.keys.len(),
            units.complete = units.done,
            api.calls = units.api_calls,
            "{}",
            units.describe(ctx.config.api.rate_limit)
        );
        let progress = Progress::new(units.keys.len() as u64, "backfill");
        let outcome = run_units(ctx, units.keys, &mut report, &progress).await;
        progress.finish();
        outcome?;
        super::enrich::enrich_horses(ctx, &mut report).await?;
        Ok(report)
    }
}

impl BackfillUnits {
    /// The units as one line (it still opens "backfill plan", as users' log searches and
    /// tests/it/backfill.rs know it): `backfill plan 2025-07-17 to 2025-10-14: 120 units to fetch (60
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
    use crate::config::{Plan, ResultsHistory};
    use crate::store::CoverageStatus;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap_or_default()
    }

    fn options(from: Option<&str>, to: Option<&str>, months: Option<u32>) -> BackfillOptions {
        BackfillOptions { days: FromTo { from: from.map(d), to: to.map(d) }, months, ..Default::default() }
    }

    #[test]
    #[allow(clippy::type_complexity)]
    fn ranges_come_from_from_to_and_months() {
        // Today is 2026-03-15.
        // (what, options, the range or a usage error)
        let cases: [(&str, BackfillOptions, Option<(&str, &str)>); 8] = [
            (
                "--months 1 ends yesterday and is inclusive",
                options(None, None, Some(1)),
                Some(("2026-02-15", "2026-03-14")),
            ),
            ("--months 12", options(None, None, Some(12)), Some(("2025-03-15", "2026-03-14"))),
            ("--months with --to", options(None, Some("2026-01-31"), Some(1)), Some(("2026-01-01", "2026-01-31"))),
            (
                "--from wins over --months",
                options(Some("2026-03-01"), None, Some(12)),
                Some(("2026-03-01", "2026-03-14")),
            ),
            (
                "--from and --to",
                options(Some("2026-03-01"), Some("2026-03-03"), None),
                Some(("2026-03-01", "2026-03-03")),
            ),
            ("one day", options(Some("2026-03-03"), Some("2026-03-03"), None), Some(("2026-03-03", "2026-03-03"))),
            ("no start: a usage error", options(None, None, None), None),
            ("--from after --to: a usage error", options(Some("2026-03-10"), Some("2026-03-01"), None), None),
        ];
        for (name, options, expected) in cases {
            let got = Backfill { options }.range(d("2026-03-15"));
            match expected {
                Some((from, to)) => assert_eq!(got.ok(), Some((d(from), d(to))), "{name}"),
                None => assert!(matches!(got, Err(Error::Usage(_))), "{name}: {got:?}"),
            }
        }
    }

    fn cov(kind: Kind, date: &str, status: CoverageStatus, regions: Option<&[&str]>, day_over: bool) -> Coverage {
        let regions = regions.map(|r| r.iter().map(ToString::to_string).collect());
        Coverage { regions, day_over, ..super::super::units::test_coverage(kind, d(date), status) }
    }

    /// Stored and covering the default `api.regions` (gb, ire); results fetched after the day.
    fn done(kind: Kind, date: &str) -> Coverage {
        cov(kind, date, CoverageStatus::Complete, Some(&["gb", "ire"]), true)
    }

    /// Keys written `r 2026-03-03` / `c 2026-03-03`, in order.
    fn keys(list: &[&str]) -> Vec<UnitKey> {
        list.iter()
            .map(|k| {
                let kind = if k.starts_with("c ") { Kind::Racecards } else { Kind::Results };
                UnitKey { kind, date: d(&k[2..]) }
            })
            .collect()
    }

    struct Case {
        name: &'static str,
        options: BackfillOptions,
        config: fn(&mut Config),
        coverage: Vec<Coverage>,
        keys: Vec<UnitKey>,
        done: u64,
        /// A text each note contains, in note order; empty: no note.
        notes: Vec<&'static str>,
    }

    /// `--from 2026-03-01 --to 2026-03-03` with `options` changed by `change`.
    fn three_days(change: fn(&mut BackfillOptions)) -> BackfillOptions {
        let mut o = options(Some("2026-03-01"), Some("2026-03-03"), None);
        change(&mut o);
        o
    }

    #[test]
    fn units_are_the_range_the_plan_allows_less_what_coverage_covers() {
        // Today is 2026-03-15: the three days are over.
        let today = d("2026-03-15");
        let all =
            keys(&["c 2026-03-03", "r 2026-03-03", "c 2026-03-02", "r 2026-03-02", "c 2026-03-01", "r 2026-03-01"]);
        let base = |name, coverage: Vec<Coverage>, keys: Vec<UnitKey>, done| Case {
            name,
            options: three_days(|_| {}),
            config: |_| {},
            coverage,
            keys,
            done,
            notes: vec![],
        };
        let cases = vec![
            base("nothing stored: every unit, newest day first, racecards before results", vec![], all.clone(), 0),
            Case {
                options: three_days(|o| o.racecards_only = true),
                ..base("--racecards-only", vec![], keys(&["c 2026-03-03", "c 2026-03-02", "c 2026-03-01"]), 0)
            },
            Case {
                options: three_days(|o| o.results_only = true),
                ..base("--results-only", vec![], keys(&["r 2026-03-03", "r 2026-03-02", "r 2026-03-01"]), 0)
            },
            Case {
                config: |c| c.features.skip_racecards = true,
                ..base("features.skip_racecards", vec![], keys(&["r 2026-03-03", "r 2026-03-02", "r 2026-03-01"]), 0)
            },
            Case {
                config: |c| c.features.skip_results = true,
                ..base("features.skip_results", vec![], keys(&["c 2026-03-03", "c 2026-03-02", "c 2026-03-01"]), 0)
            },
            base(
                "complete coverage is skipped and counted",
                vec![
                    done(Kind::Racecards, "2026-03-02"),
                    done(Kind::Results, "2026-03-02"),
                    done(Kind::Results, "2026-03-03"),
                ],
                keys(&["c 2026-03-03", "c 2026-03-01", "r 2026-03-01"]),
                3,
            ),
            base(
                "everything complete: nothing to fetch",
                all.iter().map(|k| done(k.kind, &k.date.to_string())).collect(),
                vec![],
                6,
            ),
            base(
                "a blank day (empty) is complete",
                vec![cov(Kind::Racecards, "2026-03-03", CoverageStatus::Empty, Some(&["gb", "ire"]), false)],
                all[1..].to_vec(),
                1,
            ),
            base(
                "a failed unit is fetched again",
                vec![cov(Kind::Racecards, "2026-03-03", CoverageStatus::Failed, Some(&["gb", "ire"]), true)],
                all.clone(),
                0,
            ),
            base(
                "partial regions (gb of gb, ire) are fetched again",
                vec![cov(Kind::Racecards, "2026-03-03", CoverageStatus::Complete, Some(&["gb"]), true)],
                all.clone(),
                0,
            ),
            base(
                "other regions are fetched again",
                vec![cov(Kind::Results, "2026-03-03", CoverageStatus::Complete, Some(&["fr"]), true)],
                all.clone(),
                0,
            ),
            base(
                "every region (an empty list) covers gb and ire",
                vec![cov(Kind::Results, "2026-03-03", CoverageStatus::Complete, Some(&[]), true)],
                keys(&["c 2026-03-03", "c 2026-03-02", "r 2026-03-02", "c 2026-03-01", "r 2026-03-01"]),
                1,
            ),
            base(
                "unknown regions (a row from before the column) cover nothing",
                vec![cov(Kind::Results, "2026-03-03", CoverageStatus::Complete, None, true)],
                all.clone(),
                0,
            ),
            base(
                "results fetched before the day was over are fetched again; racecards are not",
                vec![
                    cov(Kind::Results, "2026-03-03", CoverageStatus::Complete, Some(&["gb", "ire"]), false),
                    cov(Kind::Racecards, "2026-03-03", CoverageStatus::Complete, Some(&["gb", "ire"]), false),
                ],
                all[1..].to_vec(),
                1,
            ),
            base(
                "coverage outside the range changes nothing",
                vec![done(Kind::Racecards, "2026-02-28"), done(Kind::Results, "2026-03-04")],
                all.clone(),
                0,
            ),
            Case {
                options: options(Some("2026-03-14"), Some("2026-03-17"), None),
                notes: vec![
                    "results 2026-03-16..2026-03-17 skipped (fetching 2026-03-14..2026-03-15): results after today (2026-03-15) do not exist yet",
                ],
                ..base(
                    "past --to: racecards ahead on Pro, results not after today",
                    vec![],
                    keys(&[
                        "c 2026-03-17",
                        "c 2026-03-16",
                        "c 2026-03-15",
                        "r 2026-03-15",
                        "c 2026-03-14",
                        "r 2026-03-14",
                    ]),
                    0,
                )
            },
            Case {
                options: options(Some("2025-03-13"), Some("2025-03-15"), None),
                notes: vec![
                    "results 2025-03-13..2025-03-14 skipped (fetching 2025-03-15..2025-03-15): results go back 12 months",
                ],
                ..base(
                    "results older than 12 months are clipped, noted",
                    vec![],
                    keys(&["c 2025-03-15", "r 2025-03-15", "c 2025-03-14", "c 2025-03-13"]),
                    0,
                )
            },
            Case {
                options: options(Some("2025-03-13"), Some("2025-03-15"), None),
                config: |c| c.api.results_history = ResultsHistory::Full,
                ..base(
                    "the history add-on keeps them",
                    vec![],
                    keys(&[
                        "c 2025-03-15",
                        "r 2025-03-15",
                        "c 2025-03-14",
                        "r 2025-03-14",
                        "c 2025-03-13",
                        "r 2025-03-13",
                    ]),
                    0,
                )
            },
            Case {
                options: options(Some("2023-01-21"), Some("2023-01-23"), None),
                config: |c| c.api.results_history = ResultsHistory::Full,
                notes: vec![
                    "racecards 2023-01-21..2023-01-22 skipped (fetching 2023-01-23..2023-01-23): the pro plan has racecards from 2023-01-23",
                ],
                ..base(
                    "Pro racecards start 2023-01-23, noted",
                    vec![],
                    keys(&["c 2023-01-23", "r 2023-01-23", "r 2023-01-22", "r 2023-01-21"]),
                    0,
                )
            },
            Case {
                config: |c| c.api.plan = Plan::Standard,
                notes: vec![
                    "racecards 2026-03-01..2026-03-03 skipped: the standard plan has racecards for today and tomorrow only",
                ],
                ..base(
                    "below Pro: no past racecards, noted",
                    vec![],
                    keys(&["r 2026-03-03", "r 2026-03-02", "r 2026-03-01"]),
                    0,
                )
            },
            Case {
                config: |c| c.api.plan = Plan::Free,
                notes: vec![
                    "racecards 2026-03-01..2026-03-03 skipped: the free plan",
                    "results 2026-03-01..2026-03-03 skipped: the free plan has no results by date",
                ],
                ..base("Free: nothing by date, both noted", vec![], vec![], 0)
            },
            Case {
                config: |c| c.api.plan = Plan::Free,
                options: three_days(|o| o.racecards_only = true),
                notes: vec!["racecards 2026-03-01..2026-03-03 skipped: the free plan"],
                ..base("a kind not asked for is not noted", vec![], vec![], 0)
            },
        ];
        for c in &cases {
            let mut config = Config::default();
            (c.config)(&mut config);
            let units = match (Backfill { options: c.options.clone() }).units(&config, today, &c.coverage) {
                Ok(units) => units,
                Err(e) => panic!("{}: {e}", c.name),
            };
            assert_eq!(units.keys, c.keys, "{}", c.name);
            assert_eq!(units.done, c.done, "{}", c.name);
            assert_eq!(units.api_calls, c.keys.len() as u64, "{}: one call a unit", c.name);
            assert_eq!(units.seconds, units.api_calls as f64 / config.api.rate_limit, "{}", c.name);
            assert_eq!(units.notes.len(), c.notes.len(), "{}: {:?}", c.name, units.notes);
            for (note, text) in units.notes.iter().zip(&c.notes) {
                assert!(note.contains(text), "{}: {note:?} does not say {text:?}", c.name);
            }
        }
        let none = Backfill::default().units(&Config::default(), today, &[]);
        assert!(matches!(none, Err(Error::Usage(_))), "no start: {none:?}");
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(human_duration(5.2), "5s");
        assert_eq!(human_duration(125.0), "2m 5s");
        assert_eq!(human_duration(3725.0), "1h 2m 5s");
    }
}
