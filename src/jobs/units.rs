//! Units of work shared by the data jobs: fetch one endpoint for one racing day, normalise it and
//! hand it to the store in one transaction, recording the outcome in the run's report.

use chrono::NaiveDate;
use futures_util::StreamExt;

use super::{JobContext, JobReport};
use crate::api::{self, Day, plan};
use crate::config::Plan;
use crate::error::Result;
use crate::model::{Kind, Unit};

/// How many units are fetched at once. The rate budget is the real limit; a few in flight keep
/// it busy while responses are parsed and written.
pub const UNITS_IN_FLIGHT: usize = 4;

/// One unit: an endpoint family and a racing day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct UnitKey {
    pub kind: Kind,
    pub date: NaiveDate,
}

impl std::fmt::Display for UnitKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.kind, self.date)
    }
}

/// How racecards for a date are fetched on this plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RacecardSource {
    /// `/racecards/pro?date=D`
    Pro,
    /// `/racecards/{tier}?day=today|tomorrow`
    ByDay(Day),
}

/// How to fetch racecards for `date` when today is `today`, or why the plan cannot.
pub fn racecard_source(plan: Plan, date: NaiveDate, today: NaiveDate) -> std::result::Result<RacecardSource, String> {
    if plan == Plan::Pro {
        return Ok(RacecardSource::Pro);
    }
    if date == today {
        Ok(RacecardSource::ByDay(Day::Today))
    } else if Some(date) == today.succ_opt() {
        Ok(RacecardSource::ByDay(Day::Tomorrow))
    } else {
        Err(format!(
            "racecards for {date} need the Pro plan (api.plan is {}; lower plans get today and tomorrow only)",
            plan::plan_name(plan)
        ))
    }
}

/// The part of `from..=to` the plan allows for `kind`, as of the context's racing day. What is
/// dropped is noted once in `notes`.
pub fn allowed_range(
    ctx: &JobContext,
    kind: Kind,
    from: NaiveDate,
    to: NaiveDate,
    notes: &mut Vec<String>,
) -> Option<(NaiveDate, NaiveDate)> {
    let today = ctx.clock.racing_day();
    let api = &ctx.config.api;
    let clip = match kind {
        Kind::Racecards => plan::clip_racecards(api.plan, today, (from, to)),
        Kind::Results => plan::clip_results(api.plan, api.results_history, today, (from, to)),
    };
    if let Some(warning) = clip.warning {
        tracing::warn!("{warning}");
        if !notes.contains(&warning) {
            notes.push(warning);
        }
    }
    clip.range
}

/// Every date of `from..=to`, newest first.
pub fn dates_newest_first(from: NaiveDate, to: NaiveDate) -> impl Iterator<Item = NaiveDate> {
    let mut next = Some(to);
    std::iter::from_fn(move || {
        let date = next.filter(|d| *d >= from)?;
        next = date.pred_opt();
        Some(date)
    })
}

/// Fetch and normalise one unit. Network and payload errors come back as `api::Error`.
pub async fn fetch(ctx: &JobContext, key: UnitKey) -> std::result::Result<Unit, api::Error> {
    let api = ctx.api.as_ref().ok_or_else(|| api::Error::Config("no API client in this run".into()))?;
    let regions = &ctx.config.api.regions;
    let mut unit = Unit::new(key.kind, key.date);
    let mut responses = match key.kind {
        Kind::Racecards => {
            let raw = match racecard_source(api.plan(), key.date, ctx.clock.racing_day()).map_err(api::Error::Plan)? {
                RacecardSource::Pro => api.racecards_pro(key.date, regions).await?,
                RacecardSource::ByDay(day) => api.racecards_day(day, regions).await?,
            };
            api::normalize::racecards_into(&mut unit, &raw.body, regions)?;
            vec![raw]
        }
        Kind::Results => {
            let pages = if key.date == ctx.clock.racing_day() {
                api.results_today(regions).await?
            } else {
                api.results(key.date, regions).await?
            };
            for page in &pages {
                api::normalize::results_into(&mut unit, &page.body, regions)?;
            }
            pages
        }
    };
    // Stamped with the run's clock (the wall clock unless `--now` pins it), so the coverage and
    // odds `fetched_at` that decide what `live` refetches live in the same time as the run.
    let fetched_at = ctx.clock.now();
    for r in &mut responses {
        r.fetched_at = fetched_at;
    }
    // A by-day racecard answers for the day the API thinks it is; keep only the asked date.
    unit.races.retain(|r| r.race_date == key.date);
    let race_ids: std::collections::HashSet<&str> = unit.races.iter().map(|r| r.id.as_str()).collect();
    unit.runners.retain(|r| race_ids.contains(r.race_id.as_str()));
    unit.odds.retain(|o| race_ids.contains(o.race_id.as_str()));
    if ctx.config.features.skip_entity_extraction {
        // Horses and courses stay: runners and races reference them.
        let e = &mut unit.entities;
        e.jockeys.clear();
        e.trainers.clear();
        e.owners.clear();
        e.sires.clear();
        e.dams.clear();
        e.damsires.clear();
    }
    unit.pages = responses.len() as u32;
    unit.api_calls = responses.len() as u32;
    unit.responses = responses;
    Ok(unit)
}

/// Fetch and store `keys` (in order, a few in flight), recording each outcome in `report`.
/// A unit that fails after its retries is recorded (coverage `failed`, an error line) and the
/// others go on; an error that dooms every unit (credentials, cancellation) stops the run.
pub async fn run_units(
    ctx: &JobContext,
    keys: Vec<UnitKey>,
    report: &mut JobReport,
    progress: &super::Progress,
) -> Result<()> {
    let store = ctx.store()?.clone();
    let mut fetched = futures_util::stream::iter(keys.into_iter().map(|key| {
        let ctx = ctx.clone();
        async move { (key, fetch(&ctx, key).await) }
    }))
    .buffered(UNITS_IN_FLIGHT);

    while let Some((key, outcome)) = fetched.next().await {
        match outcome {
            Ok(unit) => {
                let stats = store.write_unit(&unit, ctx.dry_run).await?;
                report.add_writes(&stats);
                report.units_done += 1;
                report.races += unit.races.len() as u64;
                match unit.kind {
                    Kind::Racecards => report.runners += unit.runners.len() as u64,
                    Kind::Results => report.results += unit.runners.len() as u64,
                }
                report.entities += unit.entities.len() as u64;
                report.odds += unit.odds.len() as u64;
                for s in &unit.skipped {
                    *report.skipped_records.entry(s.reason.clone()).or_default() += 1;
                }
                tracing::debug!(unit = %key, races = unit.races.len(), runners = unit.runners.len(), "unit stored");
            }
            Err(e) if e.is_fatal() => {
                return Err(e.into());
            }
            Err(api::Error::Plan(why)) => {
                report.units_skipped += 1;
                if !report.notes.contains(&why) {
                    report.notes.push(why);
                }
            }
            Err(e) => {
                tracing::warn!(unit = %key, error = %e, "unit failed");
                if !ctx.dry_run {
                    store.mark_unit_failed(key.kind, key.date, 0, &e.to_string()).await?;
                }
                report.units_failed += 1;
                report.errors.push(format!("{key}: {e}"));
            }
        }
        progress.inc();
        if ctx.cancel.is_cancelled() {
            report.notes.push("cancelled: the units not yet started were left for the next run".into());
            break;
        }
    }
    Ok(())
}
