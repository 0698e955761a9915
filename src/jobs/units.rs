//! Units of work shared by the data jobs: fetch one endpoint for one racing day, normalise it and
//! hand it to the store in one transaction, recording the outcome in the run's report.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use tokio_util::sync::CancellationToken;
use tokio_util::task::AbortOnDropHandle;

use super::{JobContext, JobReport};
use crate::api::{self, Day, plan};
use crate::config::{Config, Plan};
use crate::error::Result;
use crate::model::{Kind, RawResponse, Unit};

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

/// A job's work before it is done: the units to fetch, in the order they are fetched and written,
/// and one note for each part of a requested range the subscription plan does not allow.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Units {
    pub keys: Vec<UnitKey>,
    pub notes: Vec<String>,
}

/// Log each note of a job's units once, as a warning: the run that gathered them says what the
/// subscription plan left out.
pub fn log_notes(notes: &[String]) {
    for note in notes {
        tracing::warn!("{note}");
    }
}

/// The part of `from..=to` the subscription plan allows for `kind` (`api.plan`, and for results
/// `api.results_history`), seen from `today`, the run's racing day. What is dropped is noted once
/// in `notes` (the run logs them: [`log_notes`]).
pub fn allowed_range(
    config: &Config,
    today: NaiveDate,
    kind: Kind,
    from: NaiveDate,
    to: NaiveDate,
    notes: &mut Vec<String>,
) -> Option<(NaiveDate, NaiveDate)> {
    let api = &config.api;
    let clip = match kind {
        Kind::Racecards => plan::clip_racecards(api.plan, today, (from, to)),
        Kind::Results => plan::clip_results(api.plan, api.results_history, today, (from, to)),
    };
    if let Some(warning) = clip.warning
        && !notes.contains(&warning)
    {
        notes.push(warning);
    }
    clip.range
}

/// A `fetch_coverage` row for the jobs' table tests: one page fetched at the epoch, for every
/// region, after the day was over.
#[cfg(test)]
pub fn test_coverage(kind: Kind, date: NaiveDate, status: crate::store::CoverageStatus) -> crate::store::Coverage {
    crate::store::Coverage {
        kind,
        race_date: date,
        status,
        races: 0,
        runners: 0,
        pages: 1,
        api_calls: 1,
        fetched_at: chrono::DateTime::default(),
        error: None,
        regions: Some(Vec::new()),
        day_over: true,
    }
}

/// `--from` and `--to`: the racing days a run is limited to, either end open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FromTo {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

impl FromTo {
    /// Whether `date` is inside both ends given.
    pub fn contains(&self, date: NaiveDate) -> bool {
        self.from.is_none_or(|f| f <= date) && self.to.is_none_or(|t| date <= t)
    }
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
    let responses = match key.kind {
        Kind::Racecards => {
            let raw = match racecard_source(api.plan(), key.date, ctx.clock.racing_day()).map_err(api::Error::Plan)? {
                RacecardSource::Pro => api.racecards_pro(key.date, regions).await?,
                RacecardSource::ByDay(day) => api.racecards_day(day, regions).await?,
            };
            vec![raw]
        }
        Kind::Results => {
            if key.date == ctx.clock.racing_day() {
                api.results_today(regions).await?
            } else {
                api.results(key.date, regions).await?
            }
        }
    };
    let mut unit = unit_from_responses(ctx, key, responses, regions).await?;
    // What the coverage row will say this fetch covers: the regions asked for, and whether the
    // racing day was over (results fetched during the day miss the races still to run).
    unit.regions = Some(regions.clone());
    unit.day_over = ctx.clock.racing_day() > key.date;
    Ok(unit)
}

/// The unit of one fetch's responses: normalised for `regions`, kept to the unit's date (a
/// by-day racecard answers for the day the API thinks it is), entities trimmed as
/// `features.skip_entity_extraction` says, its pages and calls counted and its responses kept.
/// The caller says what the fetch covers (`regions`, `day_over`). `fetch` and `rebuild` both
/// make their units here, so a rebuilt unit is the unit the live run wrote.
pub async fn unit_from_responses(
    ctx: &JobContext,
    key: UnitKey,
    responses: Vec<RawResponse>,
    regions: &[String],
) -> std::result::Result<Unit, api::Error> {
    let bodies = responses.iter().map(|r| r.body.clone()).collect();
    let mut unit = normalise(key, bodies, regions.to_vec()).await?;
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

/// Parse and normalise the bodies of one unit on a blocking thread. A day's page takes tens of
/// milliseconds to normalise; on an async worker that would hold up the other units' requests
/// between leaving the rate budget and reaching the socket (the connection task waits behind it),
/// so they would arrive at the server bunched closer than the budget spaced them.
async fn normalise(
    key: UnitKey,
    bodies: Vec<bytes::Bytes>,
    regions: Vec<String>,
) -> std::result::Result<Unit, api::Error> {
    tokio::task::spawn_blocking(move || {
        let mut unit = Unit::new(key.kind, key.date);
        for body in &bodies {
            match key.kind {
                Kind::Racecards => api::normalize::racecards_into(&mut unit, body, &regions)?,
                Kind::Results => api::normalize::results_into(&mut unit, body, &regions)?,
            }
        }
        Ok(unit)
    })
    .await
    .map_err(|e| api::Error::Payload { what: key.to_string(), message: format!("normalising stopped: {e}") })?
}

/// How long the units in flight may go on after a cancel (Ctrl-C, SIGTERM, a timeout) before
/// their requests are abandoned too. A unit is a request or a few pages; at 2 requests/s the
/// last of `UNITS_IN_FLIGHT` units is out within a few seconds.
pub const CANCEL_GRACE: Duration = Duration::from_secs(20);

/// Fetch and store `keys`, recording each outcome in `report`.
///
/// Units are fetched and normalised in tasks of their own, at most [`UNITS_IN_FLIGHT`] at a time
/// counting the one being written, so the rate budget stays busy while a unit is written; they
/// are written one by one in the order of `keys` (for one date, racecards before results on every
/// run, so reruns end with the same rows). A process killed at any moment has lost the calls of
/// at most `UNITS_IN_FLIGHT` units: everything written is complete in `fetch_coverage`.
///
/// A unit that fails after its retries, or whose write fails (another process held the SQLite
/// write lock past `database.busy_timeout`, any store error on that unit), is recorded (coverage
/// `failed` where the database takes it, an error line) and the others go on; an error that dooms
/// every unit (credentials, settings) stops the run with that error. What was committed before
/// is counted in `ctx.committed` either way. A cancel starts no other unit: the units in flight finish and are written (within
/// [`CANCEL_GRACE`]), the rest are left for the next run, and the report gets an error line
/// saying so, so the run ends `partial` (or `failed` if nothing was done) rather than `succeeded`.
pub async fn run_units(
    ctx: &JobContext,
    keys: Vec<UnitKey>,
    report: &mut JobReport,
    progress: &super::Progress,
) -> Result<()> {
    let writes = ctx.writes()?.clone();
    let total = keys.len();
    // The units' requests stop on `hard`, which fires CANCEL_GRACE after the run's cancel (or
    // when this function returns), so a cancel lets the units in flight finish.
    let hard = CancellationToken::new();
    let _stop_fetches = hard.clone().drop_guard();
    let fetch_ctx = {
        let mut c = ctx.clone();
        c.api = ctx.api.as_ref().map(|api| Arc::new(api.with_cancel(hard.clone())));
        c
    };
    let _grace = AbortOnDropHandle::new(tokio::spawn({
        let (soft, hard) = (ctx.cancel.clone(), hard.clone());
        async move {
            tokio::select! {
                () = soft.cancelled() => {
                    tokio::time::sleep(CANCEL_GRACE).await;
                    hard.cancel();
                }
                () = hard.cancelled() => {}
            }
        }
    }));

    let mut pending = keys.into_iter();
    let mut window: VecDeque<(UnitKey, AbortOnDropHandle<std::result::Result<Unit, api::Error>>)> = VecDeque::new();
    let mut processed = 0usize;
    let mut abandoned = 0usize;
    loop {
        while window.len() < UNITS_IN_FLIGHT && !ctx.cancel.is_cancelled() {
            let Some(key) = pending.next() else { break };
            let ctx = fetch_ctx.clone();
            window.push_back((key, AbortOnDropHandle::new(tokio::spawn(async move { fetch(&ctx, key).await }))));
        }
        let Some((key, task)) = window.pop_front() else { break };
        let waiting = std::time::Instant::now();
        let outcome = task.await.unwrap_or_else(|e| {
            Err(api::Error::Payload {
                what: key.to_string(),
                message: format!("the unit's task ended abnormally: {e}"),
            })
        });
        let wait_ms = waiting.elapsed().as_millis() as u64;
        processed += 1;
        match outcome {
            Ok(unit) => {
                let writing = std::time::Instant::now();
                let stats = match writes.write_unit(&unit).await {
                    Ok(stats) => stats,
                    Err(e) => {
                        fail_unit(writes.as_ref(), key, unit.api_calls, &e.to_string(), report).await;
                        progress.inc();
                        continue;
                    }
                };
                let write_ms = writing.elapsed().as_millis() as u64;
                report.add_writes(&stats);
                if !ctx.dry_run {
                    ctx.committed.add(&stats, true);
                }
                report.add_unit(&unit, &stats);
                tracing::debug!(
                    unit = %key,
                    races = unit.races.len(),
                    runners = unit.runners.len(),
                    wait_ms,
                    write_ms,
                    "unit stored"
                );
            }
            Err(api::Error::Cancelled) => {
                // Cut off after the grace period: neither done nor failed, left for the next run.
                abandoned += 1;
                tracing::warn!(unit = %key, "unit abandoned: the run was cancelled and its requests did not finish in time");
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
            Err(e) => fail_unit(writes.as_ref(), key, 0, &e.to_string(), report).await,
        }
        progress.inc();
    }
    let left = total - processed + abandoned;
    if ctx.cancel.is_cancelled() && left > 0 {
        let line = format!(
            "cancelled (Ctrl-C, SIGTERM or timeout) after {done} of {total} units; {left} units were not fetched and \
             are left for the next run, which fetches only what is not complete",
            done = processed - abandoned
        );
        tracing::warn!("{line}");
        report.errors.push(line);
    }
    Ok(())
}

/// Record a unit that failed (fetching or writing): a log line, its coverage `failed` (when the
/// database takes the write: after a lock timeout it may not), an error line in the report.
async fn fail_unit(
    writes: &dyn crate::store::Writer,
    key: UnitKey,
    api_calls: u32,
    error: &str,
    report: &mut JobReport,
) {
    tracing::warn!(unit = %key, error = %error, "unit failed");
    if let Err(e) = writes.mark_unit_failed(key.kind, key.date, api_calls, error).await {
        // Coverage without a row for this unit means "not fetched": the next run fetches it anyway.
        tracing::warn!(unit = %key, error = %e, "could not record the failed unit in fetch_coverage");
    }
    report.units_failed += 1;
    report.errors.push(format!("{key}: {error}"));
}
