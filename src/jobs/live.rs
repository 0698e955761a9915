//! `live`: today's racecards (non-runners, jockey changes, going, odds) and results as they are
//! declared (the original's `update_live_data.py`), spending calls only when they can bring
//! something new.
//!
//! Every run decides from the data, not from the schedule that started it: today's racecards are
//! fetched once if they never were (so a fresh database needs no `daily` first), then refreshed at
//! a cadence that tightens as the next off time nears, and results are fetched only when a stored
//! race's result has fallen due and is not stored yet. Each decision is a line in the report.

use async_trait::async_trait;
use chrono::{DateTime, Duration, NaiveDate, Utc};

use super::units::{UnitKey, run_units};
use super::{JobContext, JobReport, Progress, UpdateJob};
use crate::error::Result;
use crate::model::Kind;
use crate::store::{Coverage, CoverageStatus, RaceState};

/// Minutes after the off a race's result is usually published (the sandbox publishes at exactly
/// this delay; the real API is close to it). A result is not asked for before it is due.
pub const RESULT_DELAY_MINUTES: i64 = 10;

/// Minutes before asking again for results that were due at the last fetch but not in it (a
/// photo finish, a stewards' inquiry, a slow feed): late results are retried, not polled.
pub const LATE_RESULT_RETRY_MINUTES: i64 = 10;

/// Minutes a due result may wait for the next one to fall due, so one call serves both. The
/// orchestrator ticks every 5 minutes, so a result waits at most one tick for company.
pub const RESULT_BATCH_MINUTES: i64 = 5;

/// Minutes between racecard refreshes while the next off is more than
/// [`NEAR_OFF_MINUTES`] away: declarations and going change slowly this far out.
pub const CARDS_FAR_MINUTES: i64 = 60;

/// Minutes between racecard refreshes in the hour before an off, when non-runners, jockey changes
/// and odds move most. 25, not 15: with meetings staggered through the afternoon some off is
/// always within the hour, so this cadence sets most of the day's racecards calls. Measured
/// through simulated racing days (examples/simulate_day.rs, BENCHMARKS.md), 15 cost too many on
/// 2026-06-10 (over 70) and 20 cost 61, over the goal of 60; 25 costs 55 and stays at or under 60 on
/// every day sampled.
pub const CARDS_NEAR_MINUTES: i64 = 25;

/// How close (in minutes) the next off must be for the tighter racecard cadence.
pub const NEAR_OFF_MINUTES: i64 = 60;

/// What a `live` run looks at: `darkhorses live`'s flags, or an interval's `args`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveOptions {
    /// Only today's racecards.
    pub races_only: bool,
    /// Only today's results.
    pub results_only: bool,
    pub dry_run: bool,
}

#[derive(Debug, Clone, Default)]
pub struct Live {
    pub options: LiveOptions,
}

/// Whether a part of the live run makes a call, and why (the line for the report).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Fetch(String),
    Skip(String),
}

fn hm(t: DateTime<Utc>) -> String {
    t.format("%H:%MZ").to_string()
}

/// When a race's result is due: its off time plus [`RESULT_DELAY_MINUTES`].
pub fn result_due(race: &RaceState) -> Option<DateTime<Utc>> {
    race.off_at.map(|off| off + Duration::minutes(RESULT_DELAY_MINUTES))
}

/// Whether today's racecards must be fetched, given the last racecards fetch for `today` (if any)
/// and the races stored for it. `usable` says whether that fetch counts (it succeeded and covered
/// the regions asked for); a fetch that does not count is made again.
pub fn racecards_decision(
    today: NaiveDate,
    now: DateTime<Utc>,
    last: Option<&Coverage>,
    usable: bool,
    races: &[RaceState],
) -> Decision {
    let Some(last) = last.filter(|_| usable) else {
        return Decision::Fetch(match last {
            None => format!("racecards for {today}: never fetched, so fetched first"),
            Some(_) => format!("racecards for {today}: the last fetch failed or missed a region, so fetched again"),
        });
    };
    if last.status == CoverageStatus::Empty || races.is_empty() {
        return Decision::Skip(format!(
            "no call: blank day, the racecards for {today} fetched at {} list no races",
            hm(last.fetched_at)
        ));
    }
    if last.fetched_at > now {
        // A row stamped later than the clock (a clock set back, a simulation restarted) says
        // nothing about how fresh the cards are at `now`.
        return Decision::Fetch(format!(
            "racecards for {today}: the last fetch is stamped {} (after now), so fetched again",
            last.fetched_at.format("%Y-%m-%dT%H:%MZ")
        ));
    }
    let Some(next_off) = races.iter().filter(|r| !r.is_abandoned).filter_map(|r| r.off_at).filter(|&o| o > now).min()
    else {
        return Decision::Skip(format!(
            "no call for racecards: every race of {today} is off (last fetched at {})",
            hm(last.fetched_at)
        ));
    };
    let cadence =
        if next_off - now <= Duration::minutes(NEAR_OFF_MINUTES) { CARDS_NEAR_MINUTES } else { CARDS_FAR_MINUTES };
    let due = last.fetched_at + Duration::minutes(cadence);
    if now >= due {
        Decision::Fetch(format!(
            "racecards for {today}: last fetched at {}, next off {} (every {cadence} min)",
            hm(last.fetched_at),
            hm(next_off)
        ))
    } else {
        // The refresh falls due at `due` or when the next off comes within the hour, whichever
        // is first.
        let tighter = next_off - Duration::minutes(NEAR_OFF_MINUTES);
        let at = if cadence == CARDS_FAR_MINUTES {
            due.min((last.fetched_at + Duration::minutes(CARDS_NEAR_MINUTES)).max(tighter))
        } else {
            due
        };
        Decision::Skip(format!(
            "no call for racecards: fetched at {}, next refresh {} (next off {})",
            hm(last.fetched_at),
            hm(at),
            hm(next_off)
        ))
    }
}

/// Whether today's results must be fetched: some stored race's result is due and not stored, and
/// the last results fetch did not already look for it within [`LATE_RESULT_RETRY_MINUTES`]. One
/// call brings every result that is out, so races whose results fell due since the last fetch are
/// served by the same call.
pub fn results_decision(
    today: NaiveDate,
    now: DateTime<Utc>,
    last: Option<&Coverage>,
    races: &[RaceState],
) -> Decision {
    if races.is_empty() {
        return Decision::Skip(format!("no call for results: no races for {today} are stored"));
    }
    let pending: Vec<_> = races.iter().filter(|r| !r.has_result && !r.is_abandoned).collect();
    if pending.is_empty() {
        return Decision::Skip(format!("no call for results: every race of {today} has its result"));
    }
    let due: Vec<DateTime<Utc>> = pending.iter().filter_map(|r| result_due(r)).filter(|&t| t <= now).collect();
    let Some(&latest_due) = due.iter().max() else {
        return Decision::Skip(match pending.iter().filter_map(|r| result_due(r)).min() {
            Some(next) => format!("no call: next result due {}", hm(next)),
            None => "no call for results: no race without a result has an off time".to_string(),
        });
    };
    // The last fetch came after every due result fell due and missed some: they are late. Ask
    // again after a pause rather than on every run.
    if let Some(last) = last.filter(|c| c.error.is_none() && c.fetched_at >= latest_due && c.fetched_at <= now) {
        let retry = last.fetched_at + Duration::minutes(LATE_RESULT_RETRY_MINUTES);
        if now < retry {
            return Decision::Skip(format!(
                "no call: {} result(s) due by {} were not out at {}; asking again at {}",
                due.len(),
                hm(latest_due),
                hm(last.fetched_at),
                hm(retry)
            ));
        }
    }
    // Batching: when the oldest due result has waited less than RESULT_BATCH_MINUTES and another
    // falls due within that time, one later call serves them all.
    let oldest_due = due.iter().min().copied().unwrap_or(latest_due);
    let next_due = pending.iter().filter_map(|r| result_due(r)).filter(|&t| t > now).min();
    if let Some(next) = next_due {
        let batch = Duration::minutes(RESULT_BATCH_MINUTES);
        if now - oldest_due < batch && next - oldest_due <= batch {
            return Decision::Skip(format!(
                "no call: {} result(s) due since {}, waiting for the next due {} to fetch them together",
                due.len(),
                hm(oldest_due),
                hm(next)
            ));
        }
    }
    Decision::Fetch(format!("results for {today}: {} result(s) due by {} and not stored", due.len(), hm(latest_due)))
}

impl Live {
    pub const NAME: &'static str = "live";
    pub const ABOUT: &'static str =
        "Today's racecards and results during racing hours, with as few calls as the data allows";
}

#[async_trait]
impl UpdateJob for Live {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn dry_run(&self) -> bool {
        self.options.dry_run
    }

    async fn run(&self, ctx: &JobContext) -> Result<JobReport> {
        let mut report = JobReport::new(Self::NAME, ctx.dry_run);
        // Fresh results go before every other job sharing the budget.
        let ctx = &ctx.at_priority(crate::api::Priority::Live);
        let store = ctx.store()?;
        let now = ctx.clock.now();
        let today = ctx.clock.racing_day();
        let features = &ctx.config.features;
        let regions = &ctx.config.api.regions;
        let cards_wanted = !self.options.results_only && !features.skip_racecards;
        let results_wanted = !self.options.races_only && !features.skip_results;

        let mut races = store.races_on(today).await?;
        let cards = store.coverage(Kind::Racecards, today, today).await?.into_iter().next();
        let cards_usable = cards.as_ref().is_some_and(|c| c.error.is_none() && c.is_complete_for(regions));
        let mut fetched_cards = false;
        if cards_wanted {
            match racecards_decision(today, now, cards.as_ref(), cards_usable, &races) {
                Decision::Fetch(why) => {
                    report.notes.push(why);
                    run_units(
                        ctx,
                        vec![UnitKey { kind: Kind::Racecards, date: today }],
                        &mut report,
                        &Progress::hidden(),
                    )
                    .await?;
                    fetched_cards = true;
                    races = store.races_on(today).await?;
                }
                Decision::Skip(why) => report.notes.push(why),
            }
        }
        if !results_wanted {
            return Ok(report);
        }
        let decision = if fetched_cards && ctx.dry_run && races.is_empty() {
            // A dry run stores nothing, so the off times just fetched are not in the store: judge
            // by what the fetch found.
            if report.races > 0 {
                Decision::Fetch(format!(
                    "results for {today}: dry run, the racecards just fetched list {} races",
                    report.races
                ))
            } else {
                Decision::Skip(format!("no call: blank day, the racecards for {today} list no races"))
            }
        } else if races.is_empty() && cards.is_none() && !fetched_cards {
            Decision::Skip(format!(
                "no call for results: today's racecards ({today}) were never fetched, so no off times say when results are due; run `darkhorses live` without --results-only (and with features.skip_racecards off)"
            ))
        } else if races.is_empty() {
            Decision::Skip(format!("no call: blank day, no races for {today}"))
        } else {
            let last = store.coverage(Kind::Results, today, today).await?.into_iter().next();
            results_decision(today, now, last.as_ref(), &races)
        };
        match decision {
            Decision::Fetch(why) => {
                report.notes.push(why);
                run_units(ctx, vec![UnitKey { kind: Kind::Results, date: today }], &mut report, &Progress::hidden())
                    .await?;
            }
            Decision::Skip(why) => report.notes.push(why),
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).map(|d| d.with_timezone(&Utc)).unwrap_or_default()
    }

    fn race(off: &str, has_result: bool) -> RaceState {
        RaceState { id: off.to_string(), off_at: Some(t(off)), has_result, is_abandoned: false }
    }

    fn cov(kind: Kind, status: CoverageStatus, at: &str) -> Coverage {
        Coverage {
            kind,
            race_date: NaiveDate::from_ymd_opt(2026, 6, 10).unwrap_or_default(),
            status,
            races: 0,
            runners: 0,
            pages: 1,
            api_calls: 1,
            fetched_at: t(at),
            error: None,
            regions: Some(Vec::new()),
            day_over: false,
        }
    }

    #[test]
    fn racecards_cadence_tightens_before_the_off() {
        let today = NaiveDate::from_ymd_opt(2026, 6, 10).unwrap_or_default();
        let races = [race("2026-06-10T13:00:00Z", false)];
        let c = cov(Kind::Racecards, CoverageStatus::Complete, "2026-06-10T10:00:00Z");
        let at = |now: &str| racecards_decision(today, t(now), Some(&c), true, &races);
        assert!(matches!(at("2026-06-10T10:30:00Z"), Decision::Skip(_)), "far from the off: hourly");
        assert!(matches!(at("2026-06-10T11:00:00Z"), Decision::Fetch(_)));
        assert!(matches!(at("2026-06-10T12:10:00Z"), Decision::Fetch(_)), "in the hour before the off");
        let c = cov(Kind::Racecards, CoverageStatus::Complete, "2026-06-10T12:10:00Z");
        let at = |now: &str| racecards_decision(today, t(now), Some(&c), true, &races);
        // Every CARDS_NEAR_MINUTES (25) in the hour before the off: not at 12:30, at 12:35.
        assert!(matches!(at("2026-06-10T12:30:00Z"), Decision::Skip(_)));
        assert!(matches!(at("2026-06-10T12:35:00Z"), Decision::Fetch(_)));
        assert!(matches!(at("2026-06-10T13:05:00Z"), Decision::Skip(_)), "every race is off");
        assert!(matches!(racecards_decision(today, t("2026-06-10T12:00:00Z"), None, false, &[]), Decision::Fetch(_)));
        let blank = cov(Kind::Racecards, CoverageStatus::Empty, "2026-06-10T03:00:00Z");
        assert!(matches!(
            racecards_decision(today, t("2026-06-10T12:00:00Z"), Some(&blank), true, &[]),
            Decision::Skip(_)
        ));
    }

    #[test]
    fn results_are_fetched_when_due_and_late_ones_retried_after_a_pause() {
        let today = NaiveDate::from_ymd_opt(2026, 6, 10).unwrap_or_default();
        let races = [race("2026-06-10T13:00:00Z", true), race("2026-06-10T13:30:00Z", false)];
        let at = |now: &str, last: Option<&Coverage>| results_decision(today, t(now), last, &races);
        match at("2026-06-10T13:35:00Z", None) {
            Decision::Skip(why) => assert_eq!(why, "no call: next result due 13:40Z"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(at("2026-06-10T13:40:00Z", None), Decision::Fetch(_)));
        // Two results falling due five minutes apart: the first waits for the second.
        let close = [race("2026-06-10T13:30:00Z", false), race("2026-06-10T13:35:00Z", false)];
        let batch = |now: &str| results_decision(today, t(now), None, &close);
        assert!(matches!(batch("2026-06-10T13:40:00Z"), Decision::Skip(_)));
        assert!(matches!(batch("2026-06-10T13:45:00Z"), Decision::Fetch(_)));
        assert!(matches!(batch("2026-06-10T13:42:00Z"), Decision::Skip(_)));
        let last = cov(Kind::Results, CoverageStatus::Complete, "2026-06-10T13:40:00Z");
        assert!(matches!(at("2026-06-10T13:45:00Z", Some(&last)), Decision::Skip(_)), "late: retried after a pause");
        assert!(matches!(at("2026-06-10T13:50:00Z", Some(&last)), Decision::Fetch(_)));
        let before = cov(Kind::Results, CoverageStatus::Complete, "2026-06-10T13:20:00Z");
        assert!(matches!(at("2026-06-10T13:40:00Z", Some(&before)), Decision::Fetch(_)));
    }
}
