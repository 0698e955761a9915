//! `darkhorses status`: the facts of one look at the database, gathered once into [`Status`] and
//! shown three ways: the terminal table ([`text`]), `--json` (the struct itself) and the
//! self-contained page ([`html`], also the daemon's `GET /`).
//!
//! Everything comes from the store as it is: `job_runs` (the slot ledger and each run's report),
//! `fetch_coverage`, `races`, `alert_state` and the row counts. Nothing is written.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Datelike, Days, Duration, NaiveDate, Utc};
use serde::Serialize;

use crate::clock::Clock;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::model::Kind;
use crate::store::{AlertState, Coverage, CoverageStatus, DayCalls, JobRun, RunRecord, Store};

pub mod html;
mod svg;
pub mod text;

/// How far back the timeline of runs reaches.
pub const TIMELINE_HOURS: i64 = 48;
/// How many days the calls and freshness charts show.
pub const RECENT_DAYS: u64 = 30;
/// How many days of runs the growth of each table is summed over.
const GROWTH_DAYS: i64 = 7;

/// Everything the status page shows, as of `generated_at`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Status {
    pub generated_at: DateTime<Utc>,
    /// Where the data is (no credentials).
    pub store: String,
    /// The UK racing day at `generated_at`.
    pub today: NaiveDate,
    pub intervals: Vec<IntervalStatus>,
    pub day: DayFigures,
    /// Every `job_runs` row of the last [`TIMELINE_HOURS`] hours, oldest first.
    pub timeline: Vec<TimelineRun>,
    /// One entry per day of the last 12 months, oldest first.
    pub calendar: Vec<CalendarDay>,
    /// Minutes from off to stored result, per racing day of the last [`RECENT_DAYS`] days.
    pub freshness: Vec<FreshnessDay>,
    pub api: ApiUse,
    pub tables: Vec<TableRows>,
}

/// One configured interval: its schedule, last run, next slot and alert state.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IntervalStatus {
    pub interval: String,
    pub job: String,
    pub args: Vec<String>,
    pub enabled: bool,
    pub schedule: String,
    pub timezone: String,
    /// The latest run that ran (a skipped slot only when the interval has nothing else).
    pub last_run: Option<LastRun>,
    /// `None` when disabled or the schedule never fires again.
    pub next_slot: Option<DateTime<Utc>>,
    /// The `alert_state` row of the interval (or of its job); `None`: no alerting state yet.
    pub alert: Option<AlertState>,
}

/// A run as the interval table shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LastRun {
    pub status: String,
    pub trigger: String,
    pub slot: Option<DateTime<Utc>>,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// `None` while it runs (or when a killed run left no end).
    pub duration_ms: Option<i64>,
    pub calls: i64,
    pub rows: i64,
    pub dry_run: bool,
    pub error: Option<String>,
}

impl From<&JobRun> for LastRun {
    fn from(r: &JobRun) -> Self {
        LastRun {
            status: r.status.clone(),
            trigger: r.trigger.clone(),
            slot: r.slot,
            started_at: r.started_at,
            finished_at: r.finished_at,
            duration_ms: r.finished_at.map(|f| (f - r.started_at).num_milliseconds().max(0)),
            calls: r.api_calls,
            rows: r.rows_written,
            dry_run: r.dry_run,
            error: r.error.clone(),
        }
    }
}

/// Today's figures: the racing day's races and coverage, and the runs since UTC midnight.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DayFigures {
    pub date: NaiveDate,
    pub races: usize,
    /// Races of today with a stored result.
    pub resulted: usize,
    /// Today's `fetch_coverage` status per kind (`complete`, `empty`, `failed`); `None`: not fetched.
    pub racecards: Option<CoverageStatus>,
    pub results: Option<CoverageStatus>,
    pub runs: usize,
    pub failed_runs: usize,
    pub calls: i64,
    pub rate_limited: i64,
    pub rows_written: i64,
}

/// One mark of the timeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimelineRun {
    pub interval: String,
    pub status: String,
    pub slot: Option<DateTime<Utc>>,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub calls: i64,
    pub rate_limited: i64,
    pub rows: i64,
    pub dry_run: bool,
    /// One line: what the hover shows.
    pub summary: String,
}

/// What a racing day of the calendar holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DayState {
    /// Every kind the plan serves for the day is fetched and covers every configured region.
    Complete,
    /// Fetched, and there was no racing (a blank day is not a gap).
    Blank,
    /// Today, or results not yet due: nothing missing yet.
    Pending,
    /// Some of it fetched, some missing or incomplete (a gap).
    Partial,
    /// The latest fetch failed (a gap).
    Failed,
    /// Never fetched (a gap).
    Missing,
}

impl DayState {
    pub fn is_gap(self) -> bool {
        matches!(self, DayState::Partial | DayState::Failed | DayState::Missing)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DayState::Complete => "complete",
            DayState::Blank => "blank",
            DayState::Pending => "pending",
            DayState::Partial => "partial",
            DayState::Failed => "failed",
            DayState::Missing => "missing",
        }
    }
}

/// One day of the coverage calendar.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CalendarDay {
    pub date: NaiveDate,
    pub state: DayState,
    /// Races the day's fetches found (results when fetched, else racecards).
    pub races: i64,
    /// `fetch_coverage` of each kind: `complete`, `empty`, `failed`, `incomplete` (fetched but not
    /// covering every region, or results fetched before the day was over), `missing`, or
    /// `not_served` (outside what the plan serves).
    pub racecards: &'static str,
    pub results: &'static str,
}

/// Result freshness of one racing day.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FreshnessDay {
    pub date: NaiveDate,
    /// Races with an off time and a stored result.
    pub races: usize,
    pub median_minutes: i64,
    pub p95_minutes: i64,
    pub max_minutes: i64,
}

/// API calls per day against what the plan's rate allows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApiUse {
    pub plan: &'static str,
    /// `api.rate_limit`, requests per second.
    pub rate_limit: f64,
    /// What that rate allows in a day.
    pub ceiling_per_day: i64,
    /// The last [`RECENT_DAYS`] UTC days, oldest first, days without runs included as 0.
    pub days: Vec<DayCalls>,
    pub total_calls: i64,
    pub busiest: Option<DayCalls>,
}

/// One contract table: its rows now and what runs added lately.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TableRows {
    pub table: String,
    pub rows: i64,
    /// Rows inserted by the runs of the last 24 hours / 7 days (from their reports; `job_runs`,
    /// `schema_migrations` and `alert_state` are not counted by reports: `None`).
    pub added_24h: Option<i64>,
    pub added_7d: Option<i64>,
}

/// Open the database as it is (never created, never migrated) and gather its status; an absent
/// database or one with migrations pending is an error saying what to do.
pub async fn open_and_gather(config: &Config, now: DateTime<Utc>) -> Result<Status> {
    let Some(store) = crate::store::open_existing(&config.database).await? else {
        return Err(Error::Usage(format!(
            "no database at {} yet, so there is no status to show: run a job first (to try: `darkhorses \
             --sandbox orchestrate --force-all`), or point DATABASE_URL / database.url at an existing database",
            config.database.url.expose()
        )));
    };
    let pending = crate::store::pending_migrations(store.as_ref()).await?;
    if !pending.is_empty() {
        return Err(Error::Usage(format!(
            "{} has migrations pending ({}), and status only reads: run `darkhorses db migrate` first",
            store.describe(),
            pending.join(", ")
        )));
    }
    gather(config, store.as_ref(), now).await
}

/// The daemon's `GET /`: the status page built per request from the store, as of the clock's now.
/// A failure is a 500 with the one-line error (store errors carry no credentials).
pub fn router(config: Arc<Config>, store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> axum::Router {
    use axum::http::{StatusCode, header};
    use axum::response::IntoResponse;
    axum::Router::new().route(
        "/",
        axum::routing::get(move || {
            let (config, store, clock) = (Arc::clone(&config), Arc::clone(&store), Arc::clone(&clock));
            async move {
                let page = match gather(&config, store.as_ref(), clock.now()).await {
                    Ok(status) => html::render(&status),
                    Err(e) => Err(e),
                };
                match page {
                    Ok(page) => ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response(),
                    Err(e) => {
                        tracing::warn!(error = %e, "the status page could not be built");
                        (StatusCode::INTERNAL_SERVER_ERROR, format!("the status page could not be built: {e}\n"))
                            .into_response()
                    }
                }
            }
        }),
    )
}

/// Gather every fact the status outputs show, from `store` as of `now`.
pub async fn gather(config: &Config, store: &dyn Store, now: DateTime<Utc>) -> Result<Status> {
    let today = crate::clock::racing_day_of(now);
    let year_ago = today.checked_sub_days(Days::new(364)).unwrap_or(today);
    let recent_from = recent_from(today);

    let runs = store.runs_since(now - Duration::days(GROWTH_DAYS)).await?;
    let racecards = store.coverage(Kind::Racecards, year_ago, today).await?;
    let results = store.coverage(Kind::Results, year_ago, today).await?;
    let alerts = store.alert_states().await?;
    let last_runs = store.last_runs().await?;
    let counts = store.table_counts().await?;
    let races_today = store.races_on(today).await?;
    let calls = store.api_calls_by_day(recent_from).await?;
    let delays = store.result_delays(recent_from, today).await?;

    let mut intervals = Vec::new();
    let mut listed: Vec<_> = config.intervals.iter().collect();
    listed.sort_by_key(|(name, i)| (i.priority, name.as_str()));
    for (name, interval) in listed {
        let last_run = last_runs.iter().find(|r| &r.job == name).map(LastRun::from);
        let next_slot = if interval.enabled {
            crate::schedule::Schedule::parse(&interval.frequency, &interval.timezone)
                .ok()
                .and_then(|s| s.next_after(now))
                .map(|f| f.at)
        } else {
            None
        };
        // `alert_state.job` names what health alerts on: the interval, or else its job.
        let alert = alerts.iter().find(|a| &a.key == name).or_else(|| alerts.iter().find(|a| a.key == interval.job));
        intervals.push(IntervalStatus {
            interval: name.clone(),
            job: interval.job.clone(),
            args: interval.args.clone(),
            enabled: interval.enabled,
            schedule: interval.frequency.clone(),
            timezone: interval.timezone.clone(),
            last_run,
            next_slot,
            alert: alert.cloned(),
        });
    }

    let midnight = now.date_naive().and_hms_opt(0, 0, 0).map(|t| t.and_utc()).unwrap_or(now);
    let todays_runs: Vec<&RunRecord> = runs.iter().filter(|r| r.run.started_at >= midnight).collect();
    let coverage_of = |list: &[Coverage]| list.iter().find(|c| c.race_date == today).map(|c| c.status);
    let day = DayFigures {
        date: today,
        races: races_today.len(),
        resulted: races_today.iter().filter(|r| r.has_result).count(),
        racecards: coverage_of(&racecards),
        results: coverage_of(&results),
        runs: todays_runs.iter().filter(|r| r.run.status != "skipped").count(),
        failed_runs: todays_runs
            .iter()
            .filter(|r| matches!(r.run.status.as_str(), "failed" | "timed_out" | "partial"))
            .count(),
        calls: todays_runs.iter().map(|r| r.run.api_calls).sum(),
        rate_limited: todays_runs.iter().map(|r| r.rate_limited).sum(),
        rows_written: todays_runs.iter().map(|r| r.run.rows_written).sum(),
    };

    let timeline_from = now - Duration::hours(TIMELINE_HOURS);
    let timeline = runs.iter().filter(|r| r.run.started_at >= timeline_from).map(timeline_run).collect();

    Ok(Status {
        generated_at: now,
        store: store.describe(),
        today,
        intervals,
        day,
        timeline,
        calendar: calendar(config, today, year_ago, &racecards, &results),
        freshness: freshness(&delays),
        api: api_use(config, recent_from, today, calls),
        tables: tables(&counts, &runs, now),
    })
}

fn timeline_run(r: &RunRecord) -> TimelineRun {
    let run = &r.run;
    let took = run
        .finished_at
        .map(|f| format!("{:.1}s", (f - run.started_at).num_milliseconds().max(0) as f64 / 1000.0))
        .unwrap_or_else(|| "still running".into());
    let mut summary = format!(
        "{} {}{} at {}: {}, {} calls, {} rows",
        run.job,
        run.status,
        if run.dry_run { " (dry run)" } else { "" },
        run.started_at.format("%Y-%m-%d %H:%M:%SZ"),
        took,
        run.api_calls,
        run.rows_written
    );
    if r.rate_limited > 0 {
        summary.push_str(&format!(", {} answered 429", r.rate_limited));
    }
    if let Some(error) = &run.error {
        summary.push_str(&format!(": {error}"));
    }
    TimelineRun {
        interval: run.job.clone(),
        status: run.status.clone(),
        slot: run.slot,
        started_at: run.started_at,
        finished_at: run.finished_at,
        calls: run.api_calls,
        rate_limited: r.rate_limited,
        rows: run.rows_written,
        dry_run: run.dry_run,
        summary,
    }
}

/// Whether the plan serves `kind` for `date`, seen from `today` (a racecard the plan cannot fetch
/// is not a gap).
fn served(config: &Config, kind: Kind, date: NaiveDate, today: NaiveDate) -> bool {
    use crate::api::plan;
    let window = match kind {
        Kind::Racecards if config.features.skip_racecards => None,
        Kind::Racecards => plan::racecards_window(config.api.plan, today),
        Kind::Results if !plan::results_allowed(config.api.plan) => None,
        Kind::Results => Some(plan::results_window(config.api.results_history, today)),
    };
    window.is_some_and(|(from, to)| from <= date && date <= to)
}

/// What one kind's coverage says of a day, as the calendar names it.
fn kind_state(config: &Config, kind: Kind, date: NaiveDate, today: NaiveDate, row: Option<&Coverage>) -> &'static str {
    if !served(config, kind, date, today) && row.is_none() {
        return "not_served";
    }
    match row {
        None => "missing",
        Some(c) if c.status == CoverageStatus::Failed => "failed",
        Some(c) if !c.is_complete_for(&config.api.regions) => "incomplete",
        Some(c) if c.status == CoverageStatus::Empty => "empty",
        Some(_) => "complete",
    }
}

fn calendar(
    config: &Config,
    today: NaiveDate,
    from: NaiveDate,
    racecards: &[Coverage],
    results: &[Coverage],
) -> Vec<CalendarDay> {
    let cards: BTreeMap<NaiveDate, &Coverage> = racecards.iter().map(|c| (c.race_date, c)).collect();
    let res: BTreeMap<NaiveDate, &Coverage> = results.iter().map(|c| (c.race_date, c)).collect();
    from.iter_days()
        .take_while(|d| *d <= today)
        .map(|date| {
            let card = kind_state(config, Kind::Racecards, date, today, cards.get(&date).copied());
            let result = kind_state(config, Kind::Results, date, today, res.get(&date).copied());
            // Today's results are not due until the day is over.
            let result = if date == today && result != "complete" && result != "failed" { "pending" } else { result };
            let states = [card, result];
            let state = if states.contains(&"failed") {
                DayState::Failed
            } else if states.iter().all(|s| matches!(*s, "missing" | "not_served")) && states.contains(&"missing") {
                if date == today { DayState::Pending } else { DayState::Missing }
            } else if states.iter().any(|s| matches!(*s, "missing" | "incomplete")) {
                DayState::Partial
            } else if states.contains(&"pending") {
                DayState::Pending
            } else if states.iter().all(|s| matches!(*s, "empty" | "not_served")) {
                DayState::Blank
            } else {
                DayState::Complete
            };
            let races = res
                .get(&date)
                .filter(|c| c.status == CoverageStatus::Complete)
                .or(cards.get(&date))
                .map_or(0, |c| c.races);
            CalendarDay { date, state, races, racecards: card, results: result }
        })
        .collect()
}

/// The value at quantile `q` (0..=1) of sorted `values`, nearest rank.
fn quantile(sorted: &[i64], q: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn freshness(delays: &[crate::store::ResultDelay]) -> Vec<FreshnessDay> {
    let mut by_day: BTreeMap<NaiveDate, Vec<i64>> = BTreeMap::new();
    for d in delays {
        by_day.entry(d.race_date).or_default().push((d.result_at - d.off_at).num_minutes().max(0));
    }
    by_day
        .into_iter()
        .map(|(date, mut minutes)| {
            minutes.sort_unstable();
            FreshnessDay {
                date,
                races: minutes.len(),
                median_minutes: quantile(&minutes, 0.5),
                p95_minutes: quantile(&minutes, 0.95),
                max_minutes: minutes.last().copied().unwrap_or(0),
            }
        })
        .collect()
}

fn api_use(config: &Config, from: NaiveDate, today: NaiveDate, calls: Vec<DayCalls>) -> ApiUse {
    let known: BTreeMap<NaiveDate, DayCalls> = calls.into_iter().map(|d| (d.date, d)).collect();
    // The UTC day of now can be a day after the racing day just after midnight: include it.
    let last = known.keys().next_back().copied().unwrap_or(today).max(today);
    let days: Vec<DayCalls> = from
        .iter_days()
        .take_while(|d| *d <= last)
        .map(|date| known.get(&date).copied().unwrap_or(DayCalls { date, calls: 0, errors: 0, runs: 0 }))
        .collect();
    let busiest = days.iter().filter(|d| d.calls > 0).max_by_key(|d| (d.calls, d.date)).copied();
    ApiUse {
        plan: crate::api::plan::plan_name(config.api.plan),
        rate_limit: config.api.rate_limit,
        ceiling_per_day: (config.api.rate_limit * 86_400.0).floor() as i64,
        total_calls: days.iter().map(|d| d.calls).sum(),
        days,
        busiest,
    }
}

fn tables(counts: &BTreeMap<String, i64>, runs: &[RunRecord], now: DateTime<Utc>) -> Vec<TableRows> {
    let day_ago = now - Duration::hours(24);
    let mut day: BTreeMap<&str, i64> = BTreeMap::new();
    let mut week: BTreeMap<&str, i64> = BTreeMap::new();
    for r in runs.iter().filter(|r| !r.run.dry_run) {
        for (table, c) in &r.rows {
            let n = i64::try_from(c.inserted).unwrap_or(i64::MAX);
            *week.entry(table.as_str()).or_default() += n;
            if r.run.started_at >= day_ago {
                *day.entry(table.as_str()).or_default() += n;
            }
        }
    }
    let unreported = ["job_runs", "schema_migrations", "alert_state"];
    crate::store::CONTRACT_TABLES
        .iter()
        .map(|&table| {
            let reported = !unreported.contains(&table);
            TableRows {
                table: table.to_string(),
                rows: counts.get(table).copied().unwrap_or(0),
                added_24h: reported.then(|| day.get(table).copied().unwrap_or(0)),
                added_7d: reported.then(|| week.get(table).copied().unwrap_or(0)),
            }
        })
        .collect()
}

/// A duration in minutes the way people say it: `7 min`, `2 h 5 min`, `3 days`.
pub fn minutes_text(minutes: i64) -> String {
    match minutes {
        m if m < 60 => format!("{m} min"),
        m if m < 48 * 60 => format!("{} h {} min", m / 60, m % 60),
        m => format!("{} days", m / 1440),
    }
}

/// The first day the calls and freshness charts show.
pub fn recent_from(today: NaiveDate) -> NaiveDate {
    today.checked_sub_days(Days::new(RECENT_DAYS - 1)).unwrap_or(today)
}

/// An instant as the table shows it (UTC, to the minute).
pub fn when(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M").to_string()
}

/// An interval's row as text cells, the same in the terminal and on the page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IntervalCells {
    pub interval: String,
    /// The job and its args as on the command line: `daily --days-ahead 1`.
    pub job: String,
    /// The cron expression; `timezone` is the zone it fires in.
    pub schedule: String,
    pub timezone: String,
    pub last_run: String,
    /// The last run's status, `—` when it never ran.
    pub status: String,
    pub duration: String,
    pub calls: String,
    pub rows: String,
    pub next_slot: String,
    /// `—` when `alert_state` has no row for it.
    pub alert: String,
    /// What the last run's error said, if anything.
    pub error: Option<String>,
}

impl IntervalStatus {
    pub fn cells(&self) -> IntervalCells {
        const NONE: &str = "—";
        let run = self.last_run.as_ref();
        let job = std::iter::once(self.job.as_str()).chain(self.args.iter().map(String::as_str)).collect::<Vec<_>>();
        IntervalCells {
            interval: self.interval.clone(),
            job: job.join(" "),
            schedule: self.schedule.clone(),
            timezone: self.timezone.clone(),
            last_run: run.map_or_else(|| "never".into(), |r| when(r.started_at)),
            status: run
                .map_or_else(|| NONE.into(), |r| format!("{}{}", r.status, if r.dry_run { " (dry)" } else { "" })),
            duration: run
                .and_then(|r| r.duration_ms)
                .map_or_else(|| NONE.into(), |ms| format!("{:.1}s", ms as f64 / 1000.0)),
            calls: run.map_or_else(|| NONE.into(), |r| r.calls.to_string()),
            rows: run.map_or_else(|| NONE.into(), |r| r.rows.to_string()),
            next_slot: match (self.enabled, self.next_slot) {
                (false, _) => "disabled".into(),
                (true, Some(at)) => when(at),
                (true, None) => "never".into(),
            },
            alert: self.alert.as_ref().map_or_else(
                || NONE.into(),
                |a| match a.consecutive_failures {
                    0 => a.state.clone(),
                    n => format!("{} ({n} failed in a row)", a.state),
                },
            ),
            error: run.and_then(|r| r.error.clone()),
        }
    }
}

/// Monday of the week `date` falls in.
fn week_start(date: NaiveDate) -> NaiveDate {
    date - Days::new(u64::from(date.weekday().num_days_from_monday()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn cov(kind: Kind, date: &str, status: CoverageStatus, day_over: bool) -> Coverage {
        Coverage {
            kind,
            race_date: d(date),
            status,
            races: 7,
            runners: 70,
            pages: 1,
            api_calls: 1,
            fetched_at: Utc::now(),
            error: None,
            regions: Some(vec!["gb".into(), "ire".into()]),
            day_over,
        }
    }

    #[test]
    fn blank_days_are_not_gaps_and_missing_results_are() {
        let config = Config::default();
        let today = d("2026-03-10");
        let from = d("2026-03-06");
        use CoverageStatus as C;
        let cards = [
            cov(Kind::Racecards, "2026-03-06", C::Complete, false),
            cov(Kind::Racecards, "2026-03-07", C::Empty, false),
            cov(Kind::Racecards, "2026-03-08", C::Complete, false),
            cov(Kind::Racecards, "2026-03-10", C::Complete, false),
        ];
        let results = [
            cov(Kind::Results, "2026-03-06", C::Complete, true),
            cov(Kind::Results, "2026-03-07", C::Empty, true),
            cov(Kind::Results, "2026-03-09", C::Failed, true),
        ];
        let days = calendar(&config, today, from, &cards, &results);
        let states: Vec<DayState> = days.iter().map(|c| c.state).collect();
        use DayState::*;
        assert_eq!(states, [Complete, Blank, Partial, Failed, Pending], "{days:#?}");
        assert!(!Blank.is_gap() && Partial.is_gap() && !Pending.is_gap());
        assert_eq!(days[2].results, "missing");
    }

    #[test]
    fn results_fetched_mid_day_or_for_one_region_leave_a_gap() {
        let config = Config::default();
        let mut mid_day = cov(Kind::Results, "2026-03-06", CoverageStatus::Complete, false);
        let cards = [cov(Kind::Racecards, "2026-03-06", CoverageStatus::Complete, false)];
        let days = calendar(&config, d("2026-03-10"), d("2026-03-06"), &cards, std::slice::from_ref(&mid_day));
        assert_eq!((days[0].state, days[0].results), (DayState::Partial, "incomplete"));
        mid_day.day_over = true;
        mid_day.regions = Some(vec!["gb".into()]);
        let days = calendar(&config, d("2026-03-10"), d("2026-03-06"), &cards, &[mid_day]);
        assert_eq!(days[0].state, DayState::Partial);
    }

    #[test]
    fn freshness_takes_median_and_p95_per_day() {
        let off: DateTime<Utc> = "2026-03-06T14:00:00Z".parse().unwrap();
        let delays: Vec<crate::store::ResultDelay> = [3, 5, 8, 12, 240]
            .iter()
            .map(|m| crate::store::ResultDelay {
                race_date: d("2026-03-06"),
                off_at: off,
                result_at: off + Duration::minutes(*m),
            })
            .collect();
        let days = freshness(&delays);
        assert_eq!(days.len(), 1);
        assert_eq!((days[0].races, days[0].median_minutes, days[0].p95_minutes, days[0].max_minutes), (5, 8, 240, 240));
        assert_eq!(minutes_text(7), "7 min");
        assert_eq!(minutes_text(125), "2 h 5 min");
        assert_eq!(minutes_text(3 * 1440 + 5), "3 days");
    }

    #[test]
    fn weeks_start_on_monday() {
        assert_eq!(week_start(d("2026-03-08")), d("2026-03-02"));
        assert_eq!(week_start(d("2026-03-09")), d("2026-03-09"));
    }
}
