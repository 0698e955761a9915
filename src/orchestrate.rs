//! `darkhorses orchestrate`: runs every interval's due slots exactly once, from an external cron
//! (one-shot), as a daemon, or as several replicas sharing one database.
//!
//! The ledger is `job_runs`: a slot (`job` = the interval's name, `slot` = its fire time, UTC) is
//! run by the process whose insert of that row wins (`Store::claim_slot`), and every slot passed
//! over gets a `skipped` row with its reason, so each slot has exactly one row. A tick reads each
//! interval's last slot with a row and plans the slots due since ([`due_steps`]); an interval without
//! one looks back one period (its latest fire), never further.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use crate::config::{Config, IntervalConfig, MisfirePolicy};
use crate::error::{Error, Result};
use crate::jobs::JobContext;
use crate::jobs::runner::{Execution, Scheduled, execute_as};
use crate::schedule::Schedule;
use crate::store::{RunStatus, Store, Trigger};

pub mod daemon;

/// What one `orchestrate` invocation (or one daemon wake-up) does.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Every enabled interval now, trigger `force`, no slot claimed.
    pub force_all: bool,
    /// This one interval now, trigger `force`, no slot claimed.
    pub update: Option<String>,
    /// Everything as a dry run: fetch, write no data, claim no slot, record no skipped slot.
    pub test: bool,
}

/// What the tick does with one slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Claim the slot and run. `covers` are the earlier slots this run stands in for
    /// (`run_once`), recorded as skipped with the claim, in its transaction.
    Run { slot: DateTime<Utc>, covers: Vec<DateTime<Utc>> },
    /// Record the slot as skipped, with the reason.
    Skip { slot: DateTime<Utc>, reason: String },
}

/// The latest fire of `schedule` at or before `now`, if it fired in the last 400 days.
pub fn previous_fire(schedule: &Schedule, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    // Widening windows: a frequent schedule is found in the first, without listing a year of it.
    for back in [chrono::Duration::hours(2), chrono::Duration::days(2), chrono::Duration::days(35)] {
        if let Some(fire) = schedule.fires_between(now - back, now).last() {
            return Some(fire.at);
        }
    }
    schedule.fires_between(now - chrono::Duration::days(400), now).last().map(|f| f.at)
}

/// The slots of one interval due at `now`, given the last slot it has a row for, under its
/// misfire policy. Every fire in `(last, now]` gets exactly one step.
pub fn due_steps(
    schedule: &Schedule,
    policy: MisfirePolicy,
    last: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    grace: Duration,
) -> Vec<Step> {
    let after = match last {
        Some(last) => last,
        // A new interval looks back one period: its latest fire, not its whole history.
        None => match previous_fire(schedule, now) {
            Some(fire) => fire - chrono::Duration::seconds(1),
            None => return Vec::new(),
        },
    };
    let fires: Vec<DateTime<Utc>> = schedule.fires_between(after, now).into_iter().map(|f| f.at).collect();
    let Some(&latest) = fires.last() else { return Vec::new() };
    let earlier = &fires[..fires.len() - 1];
    match policy {
        MisfirePolicy::RunAll => fires.iter().map(|&slot| Step::Run { slot, covers: Vec::new() }).collect(),
        MisfirePolicy::RunOnce => vec![Step::Run { slot: latest, covers: earlier.to_vec() }],
        MisfirePolicy::Skip => {
            let grace_secs = grace.as_secs();
            let late = (now - latest).to_std().unwrap_or_default();
            let mut steps: Vec<Step> = earlier
                .iter()
                .map(|&slot| Step::Skip {
                    slot,
                    reason: format!("missed; misfire skip runs only the latest slot ({})", stamp(latest)),
                })
                .collect();
            if late <= grace {
                steps.push(Step::Run { slot: latest, covers: Vec::new() });
            } else {
                steps.push(Step::Skip {
                    slot: latest,
                    reason: format!(
                        "missed by {}s, more than orchestrator.misfire_grace ({grace_secs}s); misfire skip",
                        late.as_secs()
                    ),
                });
            }
            steps
        }
    }
}

/// A slot as the ledger and the table show it: `2026-03-10T14:15:00Z`.
pub fn stamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// One line of the summary: a slot run, skipped or failed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SlotRun {
    pub interval: String,
    pub job: String,
    pub slot: Option<DateTime<Utc>>,
    pub trigger: &'static str,
    /// `succeeded`, `partial`, `failed`, `timed_out` or `skipped`.
    pub status: String,
    pub calls: u64,
    pub rate_limited: u64,
    pub retries: u64,
    pub rows: u64,
    pub duration_ms: u64,
    /// Why a slot was skipped, or what failed.
    pub reason: Option<String>,
    /// The earliest slot a `run_once` run covered.
    pub covers_since: Option<DateTime<Utc>>,
}

impl SlotRun {
    fn new(interval: &str, job: &str, slot: Option<DateTime<Utc>>, trigger: Trigger, status: &str) -> Self {
        Self {
            interval: interval.to_string(),
            job: job.to_string(),
            slot,
            trigger: trigger.as_str(),
            status: status.to_string(),
            calls: 0,
            rate_limited: 0,
            retries: 0,
            rows: 0,
            duration_ms: 0,
            reason: None,
            covers_since: None,
        }
    }

    /// A run that failed, timed out or completed with failed units.
    pub fn failed(&self) -> bool {
        matches!(self.status.as_str(), "failed" | "timed_out" | "partial")
    }
}

/// What one tick did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tick {
    pub now: DateTime<Utc>,
    pub dry_run: bool,
    /// Where the data is (no credentials).
    pub store: String,
    pub runs: Vec<SlotRun>,
}

impl Tick {
    /// Whether any run failed or timed out (exit 1).
    pub fn failed(&self) -> bool {
        self.runs.iter().any(SlotRun::failed)
    }

    /// The summary table and where the data is.
    pub fn table(&self) -> String {
        if self.runs.is_empty() {
            return format!("nothing due at {}\ndata in {}\n", stamp(self.now), self.store);
        }
        let mut text =
            format!("{:<24} {:<21} {:<10} {:>6} {:>8} {:>8}\n", "interval", "slot", "status", "calls", "rows", "time");
        // Passed-over slots with the same reason fold into one line (a day of missed live slots
        // is one line, not 48); `--json` lists each.
        let mut i = 0;
        while i < self.runs.len() {
            let run = &self.runs[i];
            let same = self.runs[i..]
                .iter()
                .take_while(|r| {
                    r.status == "skipped" && r.interval == run.interval && r.reason == run.reason && r.calls == 0
                })
                .count();
            i += same.max(1);
            if same > 1 {
                let last = self.runs[i - 1].slot.map(stamp).unwrap_or_default();
                text.push_str(&format!(
                    "{:<24} {:<21} {:<10} {:>6} {:>8} {:>7.1}s\n  {same} slots up to {last}: {}\n",
                    run.interval,
                    run.slot.map(stamp).unwrap_or_default(),
                    run.status,
                    0,
                    0,
                    0.0,
                    run.reason.as_deref().unwrap_or("")
                ));
                continue;
            }
            let slot = run.slot.map(stamp).unwrap_or_else(|| format!("({})", run.trigger));
            text.push_str(&format!(
                "{:<24} {:<21} {:<10} {:>6} {:>8} {:>7.1}s\n",
                run.interval,
                slot,
                run.status,
                run.calls,
                run.rows,
                run.duration_ms as f64 / 1000.0
            ));
            if let Some(reason) = &run.reason {
                text.push_str(&format!("  {reason}\n"));
            }
        }
        let verb = if self.dry_run { "dry run: nothing written to" } else { "data in" };
        text.push_str(&format!("{verb} {}\n", self.store));
        text
    }
}

/// The intervals a tick considers, by priority then name: the one `--update` names (an unknown
/// name is an error listing the known ones), else every enabled one.
pub(crate) fn selected<'c>(config: &'c Config, update: Option<&str>) -> Result<Vec<(&'c String, &'c IntervalConfig)>> {
    let mut list: Vec<(&String, &IntervalConfig)> = match update {
        Some(name) => match config.intervals.get_key_value(name) {
            Some(entry) => vec![entry],
            None => {
                let known: Vec<&str> = config.intervals.keys().map(String::as_str).collect();
                return Err(Error::Usage(format!(
                    "--update {name}: no interval of that name; configured intervals: {}",
                    known.join(", ")
                )));
            }
        },
        None => config.intervals.iter().filter(|(_, i)| i.enabled).collect(),
    };
    list.sort_by_key(|(name, i)| (i.priority, name.as_str()));
    Ok(list)
}

fn schedule_of(name: &str, interval: &IntervalConfig) -> Result<Schedule> {
    Schedule::parse(&interval.frequency, &interval.timezone)
        .map_err(|e| Error::Fatal(format!("intervals.{name}.frequency: {e}")))
}

/// A run a tick found due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    pub priority: u32,
    /// `None` for a forced run (`--force-all`, `--update`).
    pub slot: Option<DateTime<Utc>>,
    pub interval: String,
    /// Earlier slots this run stands in for (`run_once`).
    pub covers: Vec<DateTime<Utc>>,
    pub trigger: Trigger,
}

/// One tick: [`prepare_tick`], then [`run_due`]. `ctx` holds the store, the API client and the clock.
pub async fn tick(ctx: &JobContext, opts: &Options) -> Result<Tick> {
    let (mut tick, due) = prepare_tick(ctx, opts).await?;
    run_due(ctx, &mut tick, due, &|_| {}).await;
    Ok(tick)
}

/// The first half of a tick, which needs only the store: every interval's due slots, the
/// passed-over ones recorded as skipped (unless a dry run), the due runs in priority order.
pub async fn prepare_tick(ctx: &JobContext, opts: &Options) -> Result<(Tick, Vec<Due>)> {
    let config = Arc::clone(&ctx.config);
    let store = Arc::clone(ctx.store()?);
    let now = ctx.clock.now();
    let dry_run = ctx.dry_run || opts.test;
    let mut tick = Tick { now, dry_run, store: store.describe(), runs: Vec::new() };
    let intervals = selected(&config, opts.update.as_deref())?;
    let grace = Duration::from_secs(config.orchestrator.misfire_grace);
    let mut due = Vec::new();
    if opts.force_all || opts.update.is_some() {
        for (name, interval) in &intervals {
            due.push(Due {
                priority: interval.priority,
                slot: None,
                interval: (*name).clone(),
                covers: Vec::new(),
                trigger: Trigger::Force,
            });
        }
    } else {
        for (name, interval) in &intervals {
            let schedule = schedule_of(name, interval)?;
            let last = store.last_slot(name).await?;
            for step in due_steps(&schedule, interval.misfire, last, now, grace) {
                match step {
                    Step::Run { slot, covers } => due.push(Due {
                        priority: interval.priority,
                        slot: Some(slot),
                        interval: (*name).clone(),
                        covers,
                        trigger: Trigger::Schedule,
                    }),
                    Step::Skip { slot, reason } => {
                        record_skip(store.as_ref(), &mut tick, name, interval, slot, reason).await?;
                    }
                }
            }
        }
    }
    due.sort_by(|a, b| (a.priority, a.slot, &a.interval).cmp(&(b.priority, b.slot, &b.interval)));
    Ok((tick, due))
}

/// The second half of a tick: each due run in order, each under its timeout; a failed run never
/// stops the next. A stop signal (the context's cancel) starts no further run. `observe` sees
/// each run as it ends (the daemon's metrics).
pub async fn run_due(ctx: &JobContext, tick: &mut Tick, due: Vec<Due>, observe: &(dyn Fn(&SlotRun) + Sync)) {
    for d in due {
        if ctx.cancel.is_cancelled() {
            tracing::warn!(interval = %d.interval, "stopping: {} not started", d.interval);
            break;
        }
        let Some(interval) = ctx.config.intervals.get(&d.interval) else { continue };
        let (covered, run) = run_interval(ctx, &d, interval, tick.dry_run).await;
        for line in covered.iter().chain(std::iter::once(&run)) {
            log_run(line);
            observe(line);
        }
        tick.runs.extend(covered);
        tick.runs.push(run);
    }
}

/// Record a passed-over slot (not in a dry run: it claims nothing) and list it.
async fn record_skip(
    store: &dyn Store,
    tick: &mut Tick,
    name: &str,
    interval: &IntervalConfig,
    slot: DateTime<Utc>,
    reason: String,
) -> Result<()> {
    let recorded = tick.dry_run || store.skip_slot(name, slot, tick.now, &reason).await?;
    if recorded {
        let mut run = SlotRun::new(name, &interval.job, Some(slot), Trigger::Schedule, "skipped");
        run.reason = Some(reason);
        log_run(&run);
        tick.runs.push(run);
    }
    Ok(())
}

/// The reason a slot covered by a `run_once` run is skipped.
fn covered_reason(slot: DateTime<Utc>) -> String {
    format!("missed; covered by the run_once run of slot {}", stamp(slot))
}

/// Build the interval's job from its `args` and run it for `slot` (claimed first, with the slots
/// it covers, unless a dry run), under its timeout. Returns the covered slots' lines (when the
/// claim was won) and the run's.
async fn run_interval(
    ctx: &JobContext,
    due: &Due,
    interval: &IntervalConfig,
    dry_run: bool,
) -> (Vec<SlotRun>, SlotRun) {
    let (name, slot, trigger) = (due.interval.as_str(), due.slot, due.trigger);
    let covers_since = due.covers.first().copied();
    let reason = slot.map(covered_reason).unwrap_or_default();
    let covered: Vec<SlotRun> = due
        .covers
        .iter()
        .map(|&at| {
            let mut line = SlotRun::new(name, &interval.job, Some(at), Trigger::Schedule, "skipped");
            line.reason = Some(reason.clone());
            line
        })
        .collect();
    let mut line = SlotRun::new(name, &interval.job, slot, trigger, "failed");
    line.covers_since = covers_since;
    let job = match crate::jobs::find(&interval.job) {
        Some(spec) => (spec.build)(&interval.args),
        None => Err(Error::Usage(format!("intervals.{name}.job: no job is registered as '{}'", interval.job))),
    };
    let job = match job {
        Ok(job) => job,
        Err(e) => {
            line.reason = Some(format!("intervals.{name}: {e}"));
            return (Vec::new(), line);
        }
    };
    // An interval whose args ask for a dry run (`args: [--dry-run]`) writes no data but still
    // claims its slot; `--test` (the tick's `dry_run`) claims nothing.
    let ctx = JobContext { covers_since, dry_run: dry_run || job.dry_run(), ..ctx.clone() };
    let scheduled = Scheduled {
        name: name.to_string(),
        trigger,
        // A dry run claims nothing: the slot stays due for the real run.
        slot: slot.filter(|_| !dry_run),
        covers: if dry_run { Vec::new() } else { due.covers.clone() },
        covers_reason: reason,
        timeout: Some(Duration::from_secs(interval.timeout.max(1))),
    };
    let mut won = false;
    match execute_as(job.as_ref(), &ctx, &scheduled).await {
        Ok(Execution::Ran { report, status }) => {
            won = true;
            line.status = status.as_str().to_string();
            line.calls = report.api.calls;
            line.rate_limited = report.api.rate_limited;
            line.retries = report.api.retries;
            line.rows = report.rows_written();
            line.duration_ms = u64::try_from(report.duration.as_millis()).unwrap_or(u64::MAX);
            if status != RunStatus::Succeeded && !report.errors.is_empty() {
                line.reason = Some(report.errors.join("; "));
            }
        }
        Ok(Execution::Skipped { reason }) => {
            line.status = RunStatus::Skipped.as_str().to_string();
            line.reason = Some(reason);
        }
        Err(e) => line.reason = Some(e.to_string()),
    }
    // The covered slots were recorded with the claim; a lost claim recorded nothing here.
    (if won { covered } else { Vec::new() }, line)
}

fn log_run(run: &SlotRun) {
    let slot = run.slot.map(stamp).unwrap_or_else(|| format!("({})", run.trigger));
    let reason = match &run.reason {
        Some(reason) => format!("{} {slot}: {}: {reason}", run.interval, run.status),
        None => format!("{} {slot}: {}", run.interval, run.status),
    };
    if run.failed() {
        tracing::warn!(interval = %run.interval, slot = %slot, status = %run.status, "{reason}");
    } else {
        tracing::info!(
            interval = %run.interval,
            slot = %slot,
            status = %run.status,
            api.calls = run.calls,
            rows.written = run.rows,
            duration_ms = run.duration_ms,
            "{reason}"
        );
    }
}

/// One line of `orchestrate --list`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Listed {
    pub interval: String,
    pub job: String,
    pub args: Vec<String>,
    pub enabled: bool,
    pub schedule: String,
    pub timezone: String,
    pub misfire: MisfirePolicy,
    pub priority: u32,
    pub last_slot: Option<DateTime<Utc>>,
    pub last_started: Option<DateTime<Utc>>,
    pub last_status: Option<String>,
    pub next_slot: Option<DateTime<Utc>>,
}

/// Each configured interval with its last run (when `store` is given) and next slot after `now`.
pub async fn list(config: &Config, store: Option<&dyn Store>, now: DateTime<Utc>) -> Result<Vec<Listed>> {
    let mut out = Vec::new();
    let mut intervals: Vec<(&String, &IntervalConfig)> = config.intervals.iter().collect();
    intervals.sort_by_key(|(name, i)| (i.priority, name.as_str()));
    for (name, interval) in intervals {
        let schedule = schedule_of(name, interval)?;
        let (last_slot, last) = match store {
            Some(store) => {
                (store.last_slot(name).await?, store.latest_job_runs(Some(name), 1).await?.into_iter().next())
            }
            None => (None, None),
        };
        out.push(Listed {
            interval: name.clone(),
            job: interval.job.clone(),
            args: interval.args.clone(),
            enabled: interval.enabled,
            schedule: interval.frequency.clone(),
            timezone: interval.timezone.clone(),
            misfire: interval.misfire,
            priority: interval.priority,
            last_slot,
            last_started: last.as_ref().map(|r| r.started_at),
            last_status: last.map(|r| r.status),
            next_slot: schedule.next_after(now).map(|f| f.at),
        });
    }
    Ok(out)
}

/// `--list` as text.
pub fn list_text(listed: &[Listed]) -> String {
    let mut text = format!(
        "{:<24} {:<18} {:<16} {:<9} {:<21} {:<10} {:<21}\n",
        "interval", "schedule", "zone", "misfire", "last run", "status", "next slot"
    );
    for l in listed {
        let misfire = match l.misfire {
            MisfirePolicy::RunOnce => "run_once",
            MisfirePolicy::RunAll => "run_all",
            MisfirePolicy::Skip => "skip",
        };
        let next = if l.enabled { l.next_slot.map(stamp).unwrap_or_else(|| "never".into()) } else { "disabled".into() };
        text.push_str(&format!(
            "{:<24} {:<18} {:<16} {:<9} {:<21} {:<10} {:<21}\n",
            l.interval,
            l.schedule,
            l.timezone,
            misfire,
            l.last_started.map(stamp).unwrap_or_else(|| "never".into()),
            l.last_status.as_deref().unwrap_or("-"),
            next
        ));
    }
    text
}

/// One slot of `--simulate`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Simulated {
    pub at: DateTime<Utc>,
    /// The fire on the interval's own wall clock.
    pub local: String,
    pub interval: String,
    pub job: String,
    pub args: Vec<String>,
    /// The DST note, when a clock change moved or repeated this slot.
    pub dst: Option<String>,
}

/// Which slots would run when, for which job, in `(from, to]`: every enabled interval's fires in
/// time order. Nothing is run or read.
pub fn simulate(config: &Config, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<Simulated>> {
    if to <= from {
        return Err(Error::Usage(format!(
            "--simulate --from {} --to {}: --to must be after --from",
            stamp(from),
            stamp(to)
        )));
    }
    let mut out = Vec::new();
    for (name, interval) in config.intervals.iter().filter(|(_, i)| i.enabled) {
        let schedule = schedule_of(name, interval)?;
        for fire in schedule.fires_between(from, to) {
            out.push(Simulated {
                at: fire.at,
                local: fire.local.to_rfc3339_opts(SecondsFormat::Secs, false),
                interval: name.clone(),
                job: interval.job.clone(),
                args: interval.args.clone(),
                dst: fire.marker(),
            });
        }
    }
    out.sort_by(|a, b| (a.at, &a.interval).cmp(&(b.at, &b.interval)));
    Ok(out)
}

/// `--simulate` as text: one slot a line.
pub fn simulate_text(slots: &[Simulated]) -> String {
    let mut text = String::new();
    for s in slots {
        let job =
            std::iter::once(s.job.as_str()).chain(s.args.iter().map(String::as_str)).collect::<Vec<_>>().join(" ");
        text.push_str(&format!("{}  {:<24} {:<26} {}", stamp(s.at), s.interval, job, s.local));
        if let Some(dst) = &s.dst {
            text.push_str(&format!("  {dst}"));
        }
        text.push('\n');
    }
    if slots.is_empty() {
        text.push_str("no slot in that window\n");
    }
    text
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn slots(steps: &[Step]) -> Vec<(String, bool)> {
        steps
            .iter()
            .map(|s| match s {
                Step::Run { slot, .. } => (stamp(*slot), true),
                Step::Skip { slot, .. } => (stamp(*slot), false),
            })
            .collect()
    }

    const GRACE: Duration = Duration::from_secs(600);

    #[test]
    fn a_new_interval_looks_back_one_period_only() {
        let s = Schedule::parse("0 6 * * *", "UTC").unwrap();
        let steps = due_steps(&s, MisfirePolicy::RunAll, None, utc("2026-03-10T11:00:00Z"), GRACE);
        assert_eq!(slots(&steps), [("2026-03-10T06:00:00Z".to_string(), true)]);
        let monthly = Schedule::parse("0 3 1 * *", "UTC").unwrap();
        let steps = due_steps(&monthly, MisfirePolicy::RunOnce, None, utc("2026-03-10T11:00:00Z"), GRACE);
        assert_eq!(slots(&steps), [("2026-03-01T03:00:00Z".to_string(), true)]);
    }

    #[test]
    fn run_once_runs_the_latest_covering_the_earlier_ones() {
        let s = Schedule::parse("0 6 * * *", "UTC").unwrap();
        let steps = due_steps(
            &s,
            MisfirePolicy::RunOnce,
            Some(utc("2026-03-07T06:00:00Z")),
            utc("2026-03-10T07:00:00Z"),
            GRACE,
        );
        assert_eq!(
            steps,
            [Step::Run {
                slot: utc("2026-03-10T06:00:00Z"),
                covers: vec![utc("2026-03-08T06:00:00Z"), utc("2026-03-09T06:00:00Z")]
            }]
        );
    }

    #[test]
    fn run_all_runs_each_and_skip_runs_only_within_grace() {
        let s = Schedule::parse("*/15 * * * *", "UTC").unwrap();
        let last = Some(utc("2026-03-10T09:00:00Z"));
        let all = due_steps(&s, MisfirePolicy::RunAll, last, utc("2026-03-10T09:40:00Z"), GRACE);
        assert_eq!(all.iter().filter(|s| matches!(s, Step::Run { .. })).count(), 2);
        let skip = due_steps(&s, MisfirePolicy::Skip, last, utc("2026-03-10T09:40:00Z"), GRACE);
        assert_eq!(
            slots(&skip),
            [("2026-03-10T09:15:00Z".to_string(), false), ("2026-03-10T09:30:00Z".to_string(), true)]
        );
        let late = due_steps(&s, MisfirePolicy::Skip, last, utc("2026-03-10T09:44:00Z"), GRACE);
        assert_eq!(late.len(), 2);
        assert!(matches!(&late[1], Step::Skip { reason, .. } if reason.contains("misfire_grace (600s)")), "{late:?}");
        assert!(
            due_steps(
                &s,
                MisfirePolicy::RunOnce,
                Some(utc("2026-03-10T09:30:00Z")),
                utc("2026-03-10T09:44:00Z"),
                GRACE
            )
            .is_empty()
        );
    }

    #[test]
    fn simulate_shows_dst_slots_once() {
        let mut config = Config::default();
        config.intervals.clear();
        let interval = IntervalConfig {
            frequency: "30 1 * * *".into(),
            timezone: "Europe/London".into(),
            job: "reference".into(),
            ..IntervalConfig::default()
        };
        config.intervals.insert("nightly".into(), interval);
        let spring = simulate(&config, utc("2026-03-28T12:00:00Z"), utc("2026-03-29T12:00:00Z")).unwrap();
        assert_eq!(spring.len(), 1);
        assert_eq!(spring[0].at, utc("2026-03-29T01:00:00Z"));
        assert!(simulate_text(&spring).contains("DST gap"), "{}", simulate_text(&spring));
        let autumn = simulate(&config, utc("2026-10-24T12:00:00Z"), utc("2026-10-25T12:00:00Z")).unwrap();
        assert_eq!(autumn.len(), 1);
        assert_eq!(autumn[0].at, utc("2026-10-25T00:30:00Z"));
        assert!(simulate_text(&autumn).contains("DST fold"));
    }
}
