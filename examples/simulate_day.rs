//! A simulated racing day through the orchestrator (issue 9): the clock stepped through 24 hours
//! in the orchestrator's ticks against the in-process sandbox and a fresh SQLite database, to
//! choose the default `intervals` from what they cost and how fresh they keep the results.
//!
//! ```text
//! cargo run --release --example simulate_day -- [--schedule default|seed] [--live '<cron>'] [--live-tz ZONE]
//!     [--day 2026-06-10] [--blank-day 2026-12-25] [--tick-minutes 5]
//! ```
//!
//! `--schedule default` runs the shipped default intervals, `seed` the seed's (`live_data`
//! `*/15 9-20 * * *` UTC, `daily_data` `0 6 * * *` with no args, the weekly one `--weekly` alone),
//! both with today's `live` job; `--live` and `--live-tz` replace the live
//! interval's expression and time zone.
//! Every step moves a FixedClock and runs one library tick (`orchestrate::tick`), as
//! `darkhorses orchestrate` does under an external cron. Before the day, one tick at 23:55 the
//! evening before (not counted) runs every interval's latest slot, so the day starts where a
//! running installation's previous day ended rather than with a month's catch-up.
//!
//! It prints the API calls per interval and per hour, and for every race of the day the minutes
//! from its result's publication (the sandbox publishes at the off plus
//! `sandbox::data::RESULT_DELAY_MINUTES`) to the tick that first finds it stored: the 95th
//! percentile, the worst, and the share stored by 23:59 the same day. Then the same schedule on
//! a blank day, calls only.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, Timelike, Utc};
use darkhorses::clock::FixedClock;
use darkhorses::config::{Config, SandboxConfig, Secret};
use darkhorses::jobs::Needs;
use darkhorses::orchestrate::Options;
use darkhorses::sandbox::Sandbox;
use darkhorses::sandbox::world::World;

/// The seed's live and daily schedule, measured beside the defaults.
const SEED_LIVE: &str = "*/15 9-20 * * *";
const SEED_DAILY: &str = "0 6 * * *";

#[derive(Debug)]
struct Args {
    seed_schedule: bool,
    live: Option<String>,
    live_tz: Option<String>,
    day: NaiveDate,
    blank_day: NaiveDate,
    tick_minutes: i64,
}

fn usage(message: &str) -> ! {
    eprintln!(
        "simulate_day: {message}\nusage: simulate_day [--schedule default|seed] [--live '<cron>'] [--live-tz ZONE] [--day YYYY-MM-DD] \
         [--blank-day YYYY-MM-DD] [--tick-minutes N]"
    );
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut args = Args {
        seed_schedule: false,
        live: None,
        live_tz: None,
        day: NaiveDate::from_ymd_opt(2026, 6, 10).unwrap_or_default(),
        blank_day: NaiveDate::from_ymd_opt(2026, 12, 25).unwrap_or_default(),
        tick_minutes: 5,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| usage(&format!("{flag} needs a value")));
        let date = |v: String| v.parse().unwrap_or_else(|_| usage(&format!("{flag} {v}: give a date, YYYY-MM-DD")));
        match flag.as_str() {
            "--schedule" => {
                args.seed_schedule = match value().as_str() {
                    "default" => false,
                    "seed" => true,
                    other => usage(&format!("--schedule {other}: use default or seed")),
                }
            }
            "--live" => args.live = Some(value()),
            "--live-tz" => args.live_tz = Some(value()),
            "--day" => args.day = date(value()),
            "--blank-day" => args.blank_day = date(value()),
            "--tick-minutes" => {
                let v = value();
                args.tick_minutes = v
                    .parse()
                    .ok()
                    .filter(|m| (1..=60).contains(m))
                    .unwrap_or_else(|| usage(&format!("--tick-minutes {v}: give 1 to 60")));
            }
            other => usage(&format!("unknown option {other}")),
        }
    }
    args
}

/// What one simulated day measured.
#[derive(Debug, Default)]
struct Measured {
    /// Interval name -> API calls.
    calls: BTreeMap<String, u64>,
    /// Hour of the day -> API calls.
    by_hour: BTreeMap<u32, u64>,
    /// Race id -> (publication, the tick that first found it stored), for the day's races.
    results: BTreeMap<String, (DateTime<Utc>, Option<DateTime<Utc>>)>,
    failed_runs: u64,
    /// Endpoint -> requests the sandbox saw during the day.
    endpoints: BTreeMap<String, u64>,
}

impl Measured {
    fn total(&self) -> u64 {
        self.calls.values().sum()
    }
}

fn midnight(day: NaiveDate) -> DateTime<Utc> {
    day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()
}

/// The configuration under test, on this database and sandbox.
fn config(args: &Args, db: &std::path::Path, sandbox: &Sandbox) -> Config {
    let mut config = Config::default();
    if args.seed_schedule {
        if let Some(live) = config.intervals.get_mut("live_data") {
            live.frequency = SEED_LIVE.to_string();
            live.timezone = "UTC".to_string();
        }
        if let Some(daily) = config.intervals.get_mut("daily_data") {
            daily.frequency = SEED_DAILY.to_string();
            daily.args.clear();
        }
        if let Some(weekly) = config.intervals.get_mut("weekly_reconciliation") {
            weekly.args = vec!["--weekly".to_string()];
        }
    }
    if let (Some(expr), Some(live)) = (&args.live, config.intervals.get_mut("live_data")) {
        live.frequency = expr.clone();
    }
    if let (Some(tz), Some(live)) = (&args.live_tz, config.intervals.get_mut("live_data")) {
        live.timezone = tz.clone();
    }
    config.database.url = Secret::new(format!("sqlite:{}", db.join("day.db").display()));
    config.locks.dir = db.join("locks");
    config.logging.dir = db.join("logs");
    config.api.base_url = sandbox.base_url();
    config.api.username = Secret::new("demo");
    config.api.password = Secret::new("demo");
    // The sandbox enforces no limit here: the simulation measures calls, not seconds.
    config.api.rate_limit = 1000.0;
    config
}

/// 24 hours of `day` in ticks, after one uncounted tick the evening before.
async fn simulate(args: &Args, day: NaiveDate) -> darkhorses::error::Result<Measured> {
    let dir = tempfile::tempdir().map_err(|e| darkhorses::error::Error::io("creating a temp dir", e))?;
    let start = midnight(day);
    let clock = FixedClock::new(start - Duration::minutes(5));
    let sandbox_cfg = SandboxConfig { port: 0, rate_limit: 0.0, ..SandboxConfig::default() };
    let world = World::new(sandbox_cfg.seed);
    let sandbox = Sandbox::start(sandbox_cfg, Arc::new(clock.clone()))?;
    let config = Arc::new(config(args, dir.path(), &sandbox));
    let ctx = darkhorses::app::context(config, Some(Arc::new(clock.clone())), false, Needs { store: true, api: true })
        .await?;
    let store = Arc::clone(ctx.store()?);
    let opts = Options::default();
    darkhorses::orchestrate::tick(&ctx, &opts).await?;
    sandbox.reset_stats();

    let mut m = Measured::default();
    let steps = 24 * 60 / args.tick_minutes;
    for step in 0..steps {
        let now = start + Duration::minutes(step * args.tick_minutes);
        clock.set(now);
        let tick = darkhorses::orchestrate::tick(&ctx, &opts).await?;
        for run in &tick.runs {
            *m.calls.entry(run.interval.clone()).or_default() += run.calls;
            *m.by_hour.entry(now.hour()).or_default() += run.calls;
            if run.failed() {
                m.failed_runs += 1;
                eprintln!("{} {}: {} {}", now, run.interval, run.status, run.reason.as_deref().unwrap_or(""));
            }
        }
        for race in store.races_on(day).await? {
            let Some((served_day, i)) = world.race(&race.id) else { continue };
            let published = served_day.races[i].result_at();
            let entry = m.results.entry(race.id.clone()).or_insert((published, None));
            if race.has_result && entry.1.is_none() {
                entry.1 = Some(now);
            }
        }
    }
    m.endpoints = sandbox.stats().by_endpoint.into_iter().map(|(path, by)| (path, by.values().sum())).collect();
    sandbox.shutdown().await;
    Ok(m)
}

fn percentile(sorted: &[i64], pct: usize) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[(sorted.len() * pct).div_ceil(100).saturating_sub(1)]
}

fn report(day: NaiveDate, m: &Measured) {
    println!("{day}: {} API calls, {} failed runs", m.total(), m.failed_runs);
    for (interval, calls) in &m.calls {
        println!("  {interval:<24} {calls:>4} calls");
    }
    let endpoints: Vec<String> = m.endpoints.iter().map(|(path, n)| format!("{path} {n}")).collect();
    println!("  requests by endpoint: {}", endpoints.join(", "));
    let hours: Vec<String> = m.by_hour.iter().filter(|(_, c)| **c > 0).map(|(h, c)| format!("{h:02}h:{c}")).collect();
    println!("  calls by hour (UTC): {}", hours.join(" "));
    if m.results.is_empty() {
        println!("  no races");
        return;
    }
    let end_of_day = midnight(day) + Duration::days(1);
    let mut delays: Vec<i64> = m.results.values().filter_map(|(p, s)| s.map(|s| (s - *p).num_minutes())).collect();
    delays.sort_unstable();
    let stored = m.results.values().filter(|(_, s)| s.is_some_and(|s| s < end_of_day)).count();
    // A result not stored within the simulated day waits at least until the next morning's daily.
    let never = m.results.values().filter(|(_, s)| s.is_none()).count();
    let last_published = m.results.values().map(|(p, _)| *p).max().unwrap_or(end_of_day);
    println!(
        "  {} races, last result published {}; publication to storage: 95th percentile {} min, worst {} min; \
         stored by 23:59: {stored}/{} ({:.0}%){}",
        m.results.len(),
        last_published.format("%H:%M"),
        percentile(&delays, 95),
        delays.last().copied().unwrap_or(0),
        m.results.len(),
        100.0 * stored as f64 / m.results.len() as f64,
        if never > 0 {
            format!(" ({never} not before the next day, left out of the percentile)")
        } else {
            String::new()
        }
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args = parse_args();
    let schedule = if args.seed_schedule { "seed" } else { "default" };
    let live = args.live.clone().unwrap_or_default();
    println!(
        "schedule: {schedule}{}; orchestrator tick every {} min",
        if live.is_empty() { String::new() } else { format!(", live_data '{live}'") },
        args.tick_minutes
    );
    for day in [args.day, args.blank_day] {
        match simulate(&args, day).await {
            Ok(m) => report(day, &m),
            Err(e) => {
                eprintln!("simulate_day: {day}: {e}");
                std::process::exit(1);
            }
        }
    }
}
