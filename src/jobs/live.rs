//! `live`: today's racecards (non-runners, jockey changes, going, odds) and results as they are
//! declared (the original's `update_live_data.py`), spending calls only when they can bring
//! something new.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};

use super::units::{UnitKey, run_units};
use super::{JobContext, JobReport, Progress, UpdateJob};
use crate::error::Result;
use crate::model::Kind;

/// The schedule whose slots limit racecard refreshes to one per slot.
pub const LIVE_INTERVAL: &str = "live_data";

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

/// Why a part of the live run made no call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Fetch,
    Skip(String),
}

impl Live {
    pub const NAME: &'static str = "live";
    pub const ABOUT: &'static str =
        "Today's racecards and results during racing hours, with as few calls as the data allows";

    /// The start of the `intervals.live_data` slot containing `now`: its latest fire time at or
    /// before `now`. `None` when the schedule is missing, disabled or never fired in the last week.
    pub fn slot_start(ctx: &JobContext, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let interval = ctx.config.intervals.get(LIVE_INTERVAL).filter(|i| i.enabled)?;
        let schedule = crate::schedule::Schedule::parse(&interval.frequency, &interval.timezone).ok()?;
        // `fires_between` is exclusive of its start, inclusive of its end.
        schedule.fires_between(now - Duration::days(8), now).last().map(|f| f.at)
    }
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
        let store = ctx.store()?;
        let now = ctx.clock.now();
        let today = ctx.clock.racing_day();
        let races = store.races_on(today).await?;
        if races.is_empty() {
            report.notes.push(format!(
                "no races for {today} in the database, so no calls (a blank day, or run `darkhorses daily` first to load racecards)"
            ));
            return Ok(report);
        }

        let mut keys = Vec::new();
        let features = &ctx.config.features;
        if !self.options.results_only && !features.skip_racecards {
            let last = store.coverage(Kind::Racecards, today, today).await?.into_iter().next();
            // Fetched inside the slot means at or after its start and not after now: a row stamped
            // later than the clock (a clock set back, a simulation) is not this slot's fetch. A
            // fetch that left out a region this run asks for does not count either.
            let regions = &ctx.config.api.regions;
            let decision = match (last, Self::slot_start(ctx, now)) {
                (Some(c), Some(slot))
                    if (slot..=now).contains(&c.fetched_at) && c.error.is_none() && c.covers(regions) =>
                {
                    Decision::Skip(format!(
                        "racecards for {today} already fetched at {} in this live_data slot (since {slot})",
                        c.fetched_at.format("%H:%M:%SZ")
                    ))
                }
                _ => Decision::Fetch,
            };
            match decision {
                Decision::Fetch => keys.push(UnitKey { kind: Kind::Racecards, date: today }),
                Decision::Skip(why) => report.notes.push(why),
            }
        }
        if !self.options.races_only && !features.skip_results {
            let pending: Vec<_> = races.iter().filter(|r| !r.has_result && !r.is_abandoned).collect();
            let decision = if pending.is_empty() {
                Decision::Skip(format!("every race of {today} has its result"))
            } else if !pending.iter().any(|r| r.off_at.is_some_and(|off| off <= now)) {
                let first = pending.iter().filter_map(|r| r.off_at).min();
                Decision::Skip(match first {
                    Some(off) => format!("no result can be due yet: the next off time is {}", off.format("%H:%MZ")),
                    None => "no race without a result has an off time".to_string(),
                })
            } else {
                Decision::Fetch
            };
            match decision {
                Decision::Fetch => keys.push(UnitKey { kind: Kind::Results, date: today }),
                Decision::Skip(why) => report.notes.push(why),
            }
        }
        run_units(ctx, keys, &mut report, &Progress::hidden()).await?;
        Ok(report)
    }
}
