//! `darkhorses health`: is it working, and is the data current? One check per line, each `ok`,
//! `warning` or `critical` with the figure behind it (docs/health.md lists every check):
//!
//! - `database`: reachable, and every migration applied;
//! - `api`: one cheap call with these credentials, capped to a few seconds (`--offline` or
//!   `health_check.check_api: false` skip it);
//! - `interval.<name>`: every enabled interval's slots against its own schedule, in its own zone,
//!   from the orchestrator's ledger in `job_runs`, and its failures in a row;
//! - `runs.stuck`: runs left `running` past `health_check.stuck_after`;
//! - `data.racecards`, `data.results`, `data.freshness`: the data itself, by the racing calendar
//!   (never stale on Christmas Day or a day whose racecards came back blank);
//! - `api.usage`, `disk.logs`, `disk.database`: calls today and this month against the plan,
//!   free space where the logs and the SQLite file live.
//!
//! It is a registered job, so the orchestrator can schedule it; its run also feeds the stale-data
//! and missed-slot alerts (`alerts`). The daemon's `/healthz` serves the same report without the
//! API call and without alerts. Whatever is unreachable, the answer comes within 5 seconds: the
//! command line opens the store with its waits capped ([`cap_waits`]) and the API call has a
//! short timeout of its own.

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Datelike, Days, NaiveDate, TimeZone, Timelike, Utc};
use chrono_tz::Europe::London;

use crate::config::Config;
use crate::error::Result;
use crate::jobs::checks::{Check, Level};
use crate::jobs::{Job, JobContext, JobReport, Needs, UpdateJob};
use crate::model::Kind;
use crate::schedule::Schedule;
use crate::store::{CoverageStatus, Store};

/// The `health` job.
pub type Health = Job<HealthOptions>;

/// `darkhorses health`'s options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HealthOptions {
    /// Skip the API call.
    pub offline: bool,
    /// Check only: no alert is sent and no alert state changes.
    pub dry_run: bool,
}

impl Health {
    pub const NAME: &'static str = "health";
    pub const ABOUT: &'static str = "Check the database, the API, every schedule and the data itself; exit 0 healthy, 1 warning or critical, 2 could not check";
}

/// Seconds the command line waits for the database before saying it is unreachable.
pub const DATABASE_WAIT_SECS: u64 = 3;
/// The API call's time limit (connecting included), retries none.
pub const API_WAIT: Duration = Duration::from_secs(3);
/// A slot this recent may still be starting (cron every 5 minutes, a run in flight): only slots
/// older than this must have a row in the ledger.
pub const SLOT_GRACE: chrono::Duration = chrono::Duration::minutes(5);
/// A race that went off this long ago should have its result.
pub const RESULT_GRACE: chrono::Duration = chrono::Duration::hours(1);
/// Racing days back from today whose results `data.results` looks at (the weekly reconciliation's
/// reach); older gaps are `darkhorses quality`'s.
pub const RESULT_DAYS: u64 = 7;
/// From this UK hour on, tomorrow's racecards should be stored.
pub const EVENING_HOUR: u32 = 18;
/// Free space below which a disk check is a warning, and below which it is critical.
pub const DISK_WARNING_BYTES: u64 = 1 << 30;
pub const DISK_CRITICAL_BYTES: u64 = 100 << 20;
/// How many rows of a job's history the interval check reads.
const HISTORY: u32 = 50;

/// Cap every wait of a run so the command answers within 5 seconds: the database connection
/// (`database.connection_timeout`, also the Postgres pool's waits), a SQLite write lock
/// (`database.busy_timeout`) and any one statement (`database.query_timeout`).
pub fn cap_waits(config: &mut Config) {
    let db = &mut config.database;
    db.connection_timeout = db.connection_timeout.clamp(1, DATABASE_WAIT_SECS);
    db.busy_timeout = db.busy_timeout.clamp(1, 2);
    db.query_timeout = db.query_timeout.clamp(1, 3);
}

#[async_trait]
impl UpdateJob for Health {
    // The store only: the API check builds its own client with a short timeout and no retries
    // (a run's client waits up to `api.timeout` and retries), and a missing credential is a
    // failed check, not a run that cannot start.
    crate::jobs::builtin_job!(needs: Needs { store: true, api: false });

    fn answers_quickly(&self) -> bool {
        true
    }

    async fn run(&self, ctx: &JobContext) -> Result<JobReport> {
        let store = ctx.store()?;
        let now = ctx.clock.now();
        let call_api = !self.options.offline && ctx.config.health_check.check_api;
        let (checks, conditions) = check(&ctx.config, store.as_ref(), now, call_api).await?;
        let mut report = self.new_report(ctx);
        if !ctx.dry_run {
            for condition in &conditions {
                crate::alerts::observe(&ctx.config, store.as_ref(), now, &condition.key, condition.problem.as_deref())
                    .await;
            }
        }
        report.checks = checks;
        Ok(report)
    }
}

/// A condition the alerts follow from a health run: `stale_data`, or `missed:<interval>`, with
/// the problem when there is one (`None`: fine now, which recovers a failing alert).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    pub key: String,
    pub problem: Option<String>,
}

/// Every check, in order, and the conditions the alerts follow. An error means the database could
/// not be read (exit 2).
pub async fn check(
    config: &Config,
    store: &dyn Store,
    now: DateTime<Utc>,
    call_api: bool,
) -> Result<(Vec<Check>, Vec<Condition>)> {
    let mut checks = vec![database(store).await?];
    let mut conditions = Vec::new();
    if !config.health_check.enabled {
        return Ok((checks, conditions));
    }
    let calendar = Calendar::read(store, now).await?;
    checks.push(if call_api { api(config, &calendar).await } else { Check::ok("api", "not checked (offline)") });
    let mut intervals: Vec<_> = config.intervals.iter().filter(|(_, i)| i.enabled).collect();
    intervals.sort_by_key(|(name, i)| (i.priority, name.as_str()));
    for (name, interval) in intervals {
        let (check, missed) = interval_check(config, store, name, interval, now).await?;
        checks.push(check);
        conditions.push(Condition { key: format!("missed:{name}"), problem: missed });
    }
    checks.push(stuck(config, store, now).await?);
    checks.push(racecards(&calendar));
    checks.push(results(&calendar));
    let freshness = freshness(config, store, &calendar, now).await?;
    conditions.push(Condition {
        key: "stale_data".into(),
        problem: (freshness.level != Level::Ok).then(|| freshness.detail.clone()),
    });
    checks.push(freshness);
    checks.push(usage(config, store, now).await?);
    checks.extend(disks(config));
    Ok((checks, conditions))
}

/// The health report as a run report (what `health --json` prints, `/healthz` serves), from
/// the checks.
pub fn report(checks: Vec<Check>, started_at: DateTime<Utc>, duration: Duration) -> JobReport {
    let mut report = JobReport::new(Health::NAME, false);
    report.started_at = Some(started_at);
    report.duration = duration;
    report.checks = checks;
    report
}

/// `database`: reachable (the store opened) and every migration applied.
async fn database(store: &dyn Store) -> Result<Check> {
    let states = store.migration_status().await?;
    let pending: Vec<String> =
        states.iter().filter(|m| m.applied_at.is_none()).map(|m| format!("{:04}_{}", m.version, m.name)).collect();
    let applied = states.len() - pending.len();
    let what = store.describe();
    Ok(if pending.is_empty() {
        Check::ok("database", format!("{what} reachable, {applied} of {} migrations applied", states.len()))
    } else {
        Check::new(
            "database",
            Level::Critical,
            format!(
                "{what} reachable, {applied} of {} migrations applied, {} pending: run `darkhorses db migrate`",
                states.len(),
                pending.len()
            ),
        )
        .with_subjects(pending)
    })
}

/// The racing calendar seen from `now`: the UK racing days around it, which of them have no
/// racing, and the races stored for each.
struct Calendar {
    today: NaiveDate,
    /// `now` on the UK clock.
    local_hour: u32,
    local_time: String,
    /// From `today - RESULT_DAYS + 1` to tomorrow: the races of each day.
    days: Vec<(NaiveDate, Vec<crate::store::RaceState>)>,
    /// Days whose racecards were fetched and came back blank.
    blank: Vec<NaiveDate>,
    /// When a race went off, it should have had its result by now.
    results_due_before: DateTime<Utc>,
}

impl Calendar {
    async fn read(store: &dyn Store, now: DateTime<Utc>) -> Result<Self> {
        let local = now.with_timezone(&London);
        let today = local.date_naive();
        let first = today.checked_sub_days(Days::new(RESULT_DAYS - 1)).unwrap_or(today);
        let tomorrow = today.succ_opt().unwrap_or(today);
        let blank = store
            .coverage(Kind::Racecards, first, tomorrow)
            .await?
            .into_iter()
            .filter(|c| c.status == CoverageStatus::Empty)
            .map(|c| c.race_date)
            .collect();
        let mut days = Vec::new();
        let mut day = first;
        while day <= tomorrow {
            days.push((day, store.races_on(day).await?));
            day = day.succ_opt().unwrap_or(tomorrow + Days::new(1));
        }
        Ok(Self {
            today,
            local_hour: local.hour(),
            local_time: local.format("%H:%M").to_string(),
            days,
            blank,
            results_due_before: now - RESULT_GRACE,
        })
    }

    /// Why `date` has no racing, if it has none: Christmas Day, or blank racecards.
    fn no_racing(&self, date: NaiveDate) -> Option<&'static str> {
        if date.month() == 12 && date.day() == 25 {
            Some("Christmas Day, no racing")
        } else if self.blank.contains(&date) {
            Some("no racing (the racecards came back blank)")
        } else {
            None
        }
    }

    fn races(&self, date: NaiveDate) -> &[crate::store::RaceState] {
        self.days.iter().find(|(d, _)| *d == date).map(|(_, r)| r.as_slice()).unwrap_or_default()
    }

    /// A race whose result is stored in the window, to ask the API for (a small answer that
    /// needs the Standard plan).
    fn resulted_race(&self) -> Option<&str> {
        self.days.iter().rev().flat_map(|(_, races)| races).find(|r| r.has_result).map(|r| r.id.as_str())
    }
}

/// `api`: one cheap call with these credentials, within [`API_WAIT`]: a stored race's result
/// when the plan has `/results` (it proves the plan too), else the course regions.
async fn api(config: &Config, calendar: &Calendar) -> Check {
    let mut api = config.api.clone();
    api.timeout = api.timeout.clamp(1, API_WAIT.as_secs());
    let retry = crate::config::RetryConfig { max_attempts: 1, ..config.retry.clone() };
    // The wall clock: this call's answer is timed, never stored.
    let clock = std::sync::Arc::new(crate::clock::SystemClock);
    let client = match crate::api::Client::new(&api, &retry, clock) {
        Ok(client) => client,
        Err(e) => return Check::new("api", Level::Critical, format!("cannot call The Racing API: {e}")),
    };
    let base = client.base_url().trim_end_matches('/').to_string();
    let plan = crate::api::plan::plan_name(config.api.plan);
    let started = std::time::Instant::now();
    let (endpoint, call) = match calendar.resulted_race().filter(|_| crate::api::plan::results_allowed(api.plan)) {
        Some(race) => ("/results/{race_id}", tokio::time::timeout(API_WAIT, client.result(race)).await),
        None => ("/courses/regions", tokio::time::timeout(API_WAIT, client.regions()).await),
    };
    let ms = started.elapsed().as_millis();
    match call {
        Ok(Ok(_)) | Ok(Err(crate::api::Error::NotFound { .. })) => Check::ok(
            "api",
            format!(
                "The Racing API at {base} answered GET {endpoint} in {ms} ms: credentials accepted{}",
                if endpoint.starts_with("/results") {
                    format!(", plan {plan} (results reachable)")
                } else {
                    format!(", plan {plan} as configured")
                }
            ),
        ),
        Ok(Err(e @ crate::api::Error::Unauthorized { .. })) => {
            Check::new("api", Level::Critical, format!("The Racing API at {base} refused the credentials or plan: {e}"))
        }
        Ok(Err(e)) => Check::new("api", Level::Critical, format!("The Racing API at {base} is unreachable: {e}")),
        Err(_) => Check::new(
            "api",
            Level::Critical,
            format!(
                "The Racing API at {base} is unreachable: no answer to GET {endpoint} within {}s",
                API_WAIT.as_secs()
            ),
        ),
    }
}

/// A fire on its interval's wall clock: `14:15`, with the date when it is not `today`.
fn wall(at: DateTime<Utc>, schedule: &Schedule, today: NaiveDate) -> String {
    let local = at.with_timezone(&schedule.zone());
    if local.date_naive() == today {
        local.format("%H:%M").to_string()
    } else {
        local.format("%Y-%m-%d %H:%M").to_string()
    }
}

/// `interval.<name>`: the latest slot older than [`SLOT_GRACE`] has a row in the ledger, the last
/// runs did not fail `alerts.thresholds.consecutive_failures` times in a row. Returns the check
/// and, when slots were missed, the missed-slot problem for the alerts.
async fn interval_check(
    config: &Config,
    store: &dyn Store,
    name: &str,
    interval: &crate::config::IntervalConfig,
    now: DateTime<Utc>,
) -> Result<(Check, Option<String>)> {
    let check_name = format!("interval.{name}");
    let schedule = Schedule::parse(&interval.frequency, &interval.timezone)
        .map_err(|e| crate::Error::Fatal(format!("intervals.{name}.frequency: {e}")))?;
    let today = now.with_timezone(&schedule.zone()).date_naive();
    let now_wall = wall(now, &schedule, today);
    let zone = interval.timezone.as_str();
    let last_slot = store.last_slot(name).await?;
    let runs = store.latest_job_runs(Some(name), HISTORY).await?;
    let Some(last_slot) = last_slot else {
        let detail = format!(
            "no slot in the ledger yet: `darkhorses orchestrate` has not run {name} here (schedule {}, {zone})",
            interval.frequency
        );
        return Ok((Check::ok(check_name, detail), None));
    };
    let mut level = Level::Ok;
    let mut parts = Vec::new();
    let mut subjects = Vec::new();
    let missed: Vec<DateTime<Utc>> =
        schedule.fires_between(last_slot, now - SLOT_GRACE).into_iter().map(|f| f.at).collect();
    let mut missed_problem = None;
    if let (Some(&first), Some(&last)) = (missed.first(), missed.last()) {
        level = Level::Critical;
        let text = if missed.len() == 1 {
            format!("slot {} has no run, now {now_wall} ({zone})", wall(first, &schedule, today))
        } else {
            format!(
                "{} slots have no run ({} to {}), now {now_wall} ({zone}); last slot in the ledger {}",
                missed.len(),
                wall(first, &schedule, today),
                wall(last, &schedule, today),
                wall(last_slot, &schedule, today)
            )
        };
        missed_problem = Some(format!("{name}: {text}"));
        parts.push(text);
        subjects.extend(missed.iter().rev().take(5).rev().map(|&at| crate::orchestrate::stamp(at)));
    }
    // Failures in a row, newest first; skipped slots and the run in flight do not count.
    let finished: Vec<_> = runs.iter().filter(|r| !matches!(r.status.as_str(), "skipped" | "running")).collect();
    let failures = finished.iter().take_while(|r| r.status != "succeeded").count();
    let threshold = config.alerts.thresholds.consecutive_failures.max(1) as usize;
    if failures > 0 {
        let last = finished[0];
        let error = last.error.as_deref().map(|e| format!(": {}", excerpt(e))).unwrap_or_default();
        let run_level = if failures >= threshold { Level::Critical } else { Level::Warning };
        level = level.max(run_level);
        parts.push(format!(
            "{failures} run{} in a row failed (alerts.thresholds.consecutive_failures {threshold}); last {} {}{error}",
            if failures == 1 { "" } else { "s" },
            last.status,
            wall(last.started_at, &schedule, today)
        ));
    }
    if level == Level::Ok {
        let success = finished.iter().find(|r| r.status == "succeeded");
        let next = schedule.next_after(now).map(|f| wall(f.at, &schedule, today)).unwrap_or_else(|| "never".into());
        parts.push(match success {
            Some(run) => format!(
                "last slot {}, last success {}, next {next} ({zone})",
                wall(last_slot, &schedule, today),
                wall(run.finished_at.unwrap_or(run.started_at), &schedule, today)
            ),
            None => format!("last slot {}, no success yet, next {next} ({zone})", wall(last_slot, &schedule, today)),
        });
    }
    Ok((Check::new(check_name, level, parts.join("; ")).with_subjects(subjects), missed_problem))
}

/// A message cut to one short line.
fn excerpt(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default();
    if line.chars().count() > 160 { format!("{}...", line.chars().take(160).collect::<String>()) } else { line.into() }
}

/// `runs.stuck`: runs of any interval or job `running` for longer than `health_check.stuck_after`.
async fn stuck(config: &Config, store: &dyn Store, now: DateTime<Utc>) -> Result<Check> {
    let limit = config.health_check.stuck_after;
    let mut names: Vec<String> = config.intervals.keys().cloned().collect();
    names.extend(crate::jobs::names().into_iter().map(String::from));
    names.sort();
    names.dedup();
    let mut running = 0;
    let mut stuck = Vec::new();
    // This run's own row (`health` under the runner) is not another run.
    let me = (crate::lock::hostname(), i64::from(std::process::id()));
    for name in &names {
        for run in store.running_job_runs(name).await? {
            if run.host.as_deref() == Some(me.0.as_str()) && run.pid == Some(me.1) {
                continue;
            }
            running += 1;
            let age = (now - run.started_at).num_seconds();
            if age > i64::try_from(limit).unwrap_or(i64::MAX) {
                stuck.push((run, age));
            }
        }
    }
    if stuck.is_empty() {
        return Ok(Check::ok(
            "runs.stuck",
            format!("none running past health_check.stuck_after ({limit}s); {running} running now"),
        ));
    }
    let (first, age) = &stuck[0];
    let detail = format!(
        "{} run{} running past health_check.stuck_after ({limit}s): run {} of {} (pid {} on {}) running since {}, {}",
        stuck.len(),
        if stuck.len() == 1 { "" } else { "s" },
        first.id,
        first.job,
        first.pid.unwrap_or_default(),
        first.host.as_deref().unwrap_or("an unknown host"),
        crate::orchestrate::stamp(first.started_at),
        span(*age)
    );
    let subjects = stuck.iter().take(5).map(|(r, _)| format!("{} run {}", r.job, r.id));
    Ok(Check::new("runs.stuck", Level::Critical, detail).with_subjects(subjects))
}

/// Seconds as `2h 05m` or `7m`.
fn span(seconds: i64) -> String {
    let minutes = seconds.max(0) / 60;
    if minutes >= 60 { format!("{}h {:02}m", minutes / 60, minutes % 60) } else { format!("{minutes}m") }
}

/// `data.racecards`: today's racecards stored, and tomorrow's from [`EVENING_HOUR`] (UK time) on.
fn racecards(calendar: &Calendar) -> Check {
    let tomorrow = calendar.today.succ_opt().unwrap_or(calendar.today);
    let mut level = Level::Ok;
    let mut parts = Vec::new();
    let mut subjects = Vec::new();
    let evening = calendar.local_hour >= EVENING_HOUR;
    for (label, date, required, missing_level) in
        [("today", calendar.today, true, Level::Critical), ("tomorrow", tomorrow, evening, Level::Warning)]
    {
        let races = calendar.races(date).len();
        if let Some(why) = calendar.no_racing(date) {
            parts.push(format!("{label} {date}: {why}"));
        } else if races > 0 {
            parts.push(format!("{label} {date}: {races} races"));
        } else if required {
            level = level.max(missing_level);
            let by = if label == "tomorrow" { format!(" (due by {EVENING_HOUR}:00)") } else { String::new() };
            parts.push(format!("{label} {date}: no racecards stored, now {} Europe/London{by}", calendar.local_time));
            subjects.push(date.to_string());
        } else {
            parts.push(format!("{label} {date}: not stored yet (due by {EVENING_HOUR}:00 Europe/London)"));
        }
    }
    Check::new("data.racecards", level, parts.join("; ")).with_subjects(subjects)
}

/// `data.results`: every race of the last [`RESULT_DAYS`] racing days that went off more than
/// [`RESULT_GRACE`] ago has its result (abandoned races aside).
fn results(calendar: &Calendar) -> Check {
    let mut late: Vec<(NaiveDate, usize, usize)> = Vec::new();
    let mut due_total = 0;
    for (date, races) in calendar.days.iter().filter(|(d, _)| *d <= calendar.today) {
        if calendar.no_racing(*date).is_some() {
            continue;
        }
        let due: Vec<_> = races
            .iter()
            .filter(|r| !r.is_abandoned && r.off_at.is_some_and(|off| off <= calendar.results_due_before))
            .collect();
        let missing = due.iter().filter(|r| !r.has_result).count();
        due_total += due.len();
        if missing > 0 {
            late.push((*date, missing, due.len()));
        }
    }
    if late.is_empty() {
        return Check::ok(
            "data.results",
            format!(
                "all {due_total} races of the last {RESULT_DAYS} days that went off over an hour ago have their result"
            ),
        );
    }
    let days: Vec<String> = late
        .iter()
        .map(|(date, missing, due)| format!("{date}: {missing} of {due} races that went off over an hour ago"))
        .collect();
    Check::new(
        "data.results",
        Level::Critical,
        format!(
            "results missing on {} racing day{}: {}",
            late.len(),
            if late.len() == 1 { "" } else { "s" },
            days.join("; ")
        ),
    )
    .with_subjects(late.iter().map(|(d, _, _)| d.to_string()))
}

/// `data.freshness`: new data (a racecard or result that changed) arrived within
/// `alerts.thresholds.stale_data_hours`, unless today has no racing.
async fn freshness(config: &Config, store: &dyn Store, calendar: &Calendar, now: DateTime<Utc>) -> Result<Check> {
    let hours = config.alerts.thresholds.stale_data_hours;
    let fresh = store.freshness().await?;
    let latest = fresh.latest_racecard_write.max(fresh.latest_result_write);
    let Some(latest) = latest else {
        return Ok(Check::new(
            "data.freshness",
            Level::Warning,
            "no race stored yet: run `darkhorses daily` (or `backfill`) first",
        ));
    };
    let age = (now - latest).num_seconds().max(0);
    let last = format!(
        "last change {} ago ({}), latest race day {}, latest resulted day {}",
        span(age),
        crate::orchestrate::stamp(latest),
        fresh.latest_race_date.map(|d| d.to_string()).unwrap_or_else(|| "none".into()),
        fresh.latest_result_race_date.map(|d| d.to_string()).unwrap_or_else(|| "none".into())
    );
    if age <= i64::from(hours) * 3600 {
        return Ok(Check::ok("data.freshness", last));
    }
    if let Some(why) = calendar.no_racing(calendar.today) {
        return Ok(Check::ok("data.freshness", format!("{last}; not stale today: {why}")));
    }
    Ok(Check::new(
        "data.freshness",
        Level::Critical,
        format!("stale: {last}, more than alerts.thresholds.stale_data_hours ({hours}h)"),
    ))
}

/// `api.usage`: calls recorded in `job_runs` today and this month (UTC), against the plan. The
/// Racing API's plans have no call quota, only a rate (2 requests per second): a day's ceiling is
/// `api.rate_limit` × 86,400, and more than [`USAGE_WARNING`] of it is a runaway.
async fn usage(config: &Config, store: &dyn Store, now: DateTime<Utc>) -> Result<Check> {
    let day = Utc.from_utc_datetime(&now.date_naive().and_hms_opt(0, 0, 0).unwrap_or_default());
    let month_start = now.date_naive().with_day(1).unwrap_or(now.date_naive());
    let month = Utc.from_utc_datetime(&month_start.and_hms_opt(0, 0, 0).unwrap_or_default());
    let today = store.api_calls_since(day).await?;
    let this_month = store.api_calls_since(month).await?;
    let ceiling = (config.api.rate_limit * 86_400.0) as i64;
    let plan = crate::api::plan::plan_name(config.api.plan);
    let detail = format!(
        "{today} calls today, {this_month} this month (UTC); the {plan} plan has no call quota, only a rate (2 \
         requests per second): at most {ceiling} a day at api.rate_limit"
    );
    let level = if (today as f64) > USAGE_WARNING * ceiling as f64 { Level::Warning } else { Level::Ok };
    Ok(Check::new("api.usage", level, detail))
}

/// Share of a day's call ceiling above which `api.usage` warns.
pub const USAGE_WARNING: f64 = 0.5;

/// `disk.logs` and `disk.database` (SQLite): free space on the file system holding each.
fn disks(config: &Config) -> Vec<Check> {
    let mut places = vec![("disk.logs", "logging.dir", config.logging.dir.clone())];
    if let Ok(path) = crate::store::sqlite::path_of(config.database.url.expose())
        && config.database.url.expose().trim().starts_with("sqlite:")
    {
        let dir = path.parent().map(Path::to_path_buf).filter(|p| !p.as_os_str().is_empty());
        places.push(("disk.database", "database.url", dir.unwrap_or_else(|| PathBuf::from("."))));
    }
    places.into_iter().map(|(name, key, dir)| disk(name, key, &dir)).collect()
}

fn disk(name: &str, key: &str, dir: &Path) -> Check {
    // A directory not made yet is on its nearest existing ancestor's file system.
    let mut probe = dir.to_path_buf();
    while !probe.exists() {
        match probe.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => probe = parent.to_path_buf(),
            _ => {
                probe = PathBuf::from(".");
                break;
            }
        }
    }
    match rustix::fs::statvfs(&probe) {
        Ok(stat) => {
            let free = stat.f_bavail.saturating_mul(stat.f_frsize);
            let total = stat.f_blocks.saturating_mul(stat.f_frsize).max(1);
            let share = free as f64 * 100.0 / total as f64;
            let level = if free < DISK_CRITICAL_BYTES {
                Level::Critical
            } else if free < DISK_WARNING_BYTES {
                Level::Warning
            } else {
                Level::Ok
            };
            Check::new(
                name,
                level,
                format!("{} free of {} ({share:.0}%) under {} ({key})", gib(free), gib(total), dir.display()),
            )
        }
        Err(e) => {
            Check::new(name, Level::Warning, format!("cannot read the free space under {} ({key}): {e}", dir.display()))
        }
    }
}

fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / f64::from(1u32 << 30))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn waits_are_capped_under_five_seconds_and_short_ones_kept() {
        let mut config = Config::default();
        cap_waits(&mut config);
        assert_eq!(config.database.connection_timeout, DATABASE_WAIT_SECS);
        assert!(config.database.busy_timeout <= 2 && config.database.query_timeout <= 3);
        config.database.connection_timeout = 1;
        cap_waits(&mut config);
        assert_eq!(config.database.connection_timeout, 1);
    }

    #[test]
    fn spans_and_sizes_read_well() {
        assert_eq!(span(7 * 60 + 5), "7m");
        assert_eq!(span(2 * 3600 + 5 * 60), "2h 05m");
        assert_eq!(gib(3 << 30), "3.0 GiB");
        assert_eq!(excerpt("a\nb"), "a");
    }
}
