//! `orchestrate --daemon`: sleep until the next slot of any interval, run what is due exactly as
//! one-shot mode does (the ledger makes replicas safe), stop cleanly on SIGTERM/SIGINT, and serve
//! `/livez`, `/metrics` (Prometheus text), `/healthz` (the health report) and the status page (`/`)
//! on `health_check.bind`:`health_check.port` (loopback by default).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use super::{Options, SlotRun, Tick, prepare_tick, run_due, schedule_of};
use crate::error::{Error, Result};
use crate::jobs::JobContext;

/// Longest single sleep: the loop wakes at least this often to look again (a clock that jumped,
/// an interval whose next fire is far away), and `/livez` tells a stalled loop from a sleeping one.
const MAX_SLEEP: Duration = Duration::from_secs(60);

/// Counters of the daemon's runs, rendered as Prometheus text by [`Metrics::render`].
#[derive(Debug, Default)]
pub struct Metrics(Mutex<State>);

#[derive(Debug, Default)]
struct State {
    runs: BTreeMap<(String, String), u64>,
    last_success: BTreeMap<String, (DateTime<Utc>, f64)>,
    calls: BTreeMap<String, u64>,
    rate_limited: BTreeMap<String, u64>,
    retries: BTreeMap<String, u64>,
    rows: BTreeMap<String, u64>,
    ticks: u64,
    /// When the loop last woke: `/livez` answers from it.
    alive_at: Option<DateTime<Utc>>,
}

impl Metrics {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A poisoned lock means a panic mid-update elsewhere; the counters are still the best known.
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Count a tick (its runs are counted by [`Metrics::record_run`] as each ends).
    pub fn record_tick(&self, finished: DateTime<Utc>) {
        let mut s = self.state();
        s.ticks += 1;
        s.alive_at = Some(finished);
    }

    /// Count the runs of one tick; `finished` is when the tick ended.
    pub fn record(&self, tick: &Tick, finished: DateTime<Utc>) {
        for run in &tick.runs {
            self.record_run(run, finished);
        }
        self.record_tick(finished);
    }

    /// Count one run (or skipped slot) that ended at `finished`.
    pub fn record_run(&self, run: &SlotRun, finished: DateTime<Utc>) {
        let mut s = self.state();
        *s.runs.entry((run.interval.clone(), run.status.clone())).or_default() += 1;
        *s.calls.entry(run.interval.clone()).or_default() += run.calls;
        *s.rate_limited.entry(run.interval.clone()).or_default() += run.rate_limited;
        *s.retries.entry(run.interval.clone()).or_default() += run.retries;
        *s.rows.entry(run.interval.clone()).or_default() += run.rows;
        if run.status == "succeeded" {
            s.last_success.insert(run.interval.clone(), (finished, run.duration_ms as f64 / 1000.0));
        }
    }

    /// How many ticks ran.
    pub fn ticks(&self) -> u64 {
        self.state().ticks
    }

    /// The loop is awake at `at`.
    pub fn alive(&self, at: DateTime<Utc>) {
        self.state().alive_at = Some(at);
    }

    /// The Prometheus text exposition of every counter.
    pub fn render(&self) -> String {
        let s = self.state();
        let mut out = String::new();
        let mut family = |name: &str, kind: &str, help: &str, lines: Vec<(String, String)>| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (labels, value) in lines {
                let _ = writeln!(out, "{name}{labels} {value}");
            }
        };
        let by_interval = |map: &BTreeMap<String, u64>| -> Vec<(String, String)> {
            map.iter().map(|(i, n)| (format!("{{interval=\"{}\"}}", escape(i)), n.to_string())).collect()
        };
        family(
            "darkhorses_runs_total",
            "counter",
            "Slots handled, by interval and status (succeeded, partial, failed, timed_out, skipped).",
            s.runs
                .iter()
                .map(|((i, st), n)| {
                    (format!("{{interval=\"{}\",status=\"{}\"}}", escape(i), escape(st)), n.to_string())
                })
                .collect(),
        );
        family(
            "darkhorses_last_success_timestamp_seconds",
            "gauge",
            "When the interval's last successful run ended (Unix time).",
            s.last_success
                .iter()
                .map(|(i, (at, _))| (format!("{{interval=\"{}\"}}", escape(i)), at.timestamp().to_string()))
                .collect(),
        );
        family(
            "darkhorses_last_success_duration_seconds",
            "gauge",
            "How long the interval's last successful run took.",
            s.last_success
                .iter()
                .map(|(i, (_, secs))| (format!("{{interval=\"{}\"}}", escape(i)), format!("{secs:.3}")))
                .collect(),
        );
        family("darkhorses_api_calls_total", "counter", "API calls made, by interval.", by_interval(&s.calls));
        family(
            "darkhorses_api_rate_limited_total",
            "counter",
            "API answers 429 (rate limited), by interval.",
            by_interval(&s.rate_limited),
        );
        family("darkhorses_api_retries_total", "counter", "API calls retried, by interval.", by_interval(&s.retries));
        family(
            "darkhorses_rows_written_total",
            "counter",
            "Rows inserted or updated, by interval.",
            by_interval(&s.rows),
        );
        family(
            "darkhorses_ticks_total",
            "counter",
            "Times the loop looked for due slots.",
            vec![(String::new(), s.ticks.to_string())],
        );
        out
    }
}

/// A label value with `\`, `"` and newlines escaped as the text format asks.
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// Serve `/livez`, `/metrics`, `/healthz` (the health report of `ctx`'s store, see [`healthz`])
/// and the routes of `pages` (the status page at `/`) on `bind` (`health_check.bind`:`port`) until
/// `stop` is cancelled. Returns the address bound.
pub fn serve_health(
    bind: std::net::SocketAddr,
    metrics: Arc<Metrics>,
    ctx: JobContext,
    pages: axum::Router,
    stop: CancellationToken,
) -> Result<std::net::SocketAddr> {
    use axum::routing::get;
    let what = || {
        format!("binding the health endpoint to {bind} (health_check.bind and health_check.port; port 0 turns it off)")
    };
    let std_listener = std::net::TcpListener::bind(bind).map_err(|e| Error::io(what(), e))?;
    std_listener.set_nonblocking(true).map_err(|e| Error::io(what(), e))?;
    let addr = std_listener.local_addr().map_err(|e| Error::io(what(), e))?;
    let listener = tokio::net::TcpListener::from_std(std_listener).map_err(|e| Error::io(what(), e))?;
    let live = Arc::clone(&metrics);
    let app = axum::Router::new()
        .route(
            "/livez",
            get(move || {
                let at = live.state().alive_at;
                async move { format!("ok {}\n", at.map(super::stamp).unwrap_or_else(|| "starting".into())) }
            }),
        )
        .route(
            "/metrics",
            get(move || {
                let text = metrics.render();
                async move { ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], text) }
            }),
        )
        .route("/healthz", get(move || healthz(ctx.clone())))
        .merge(pages);
    tokio::spawn(async move {
        let serve = axum::serve(listener, app).with_graceful_shutdown(async move { stop.cancelled().await });
        if let Err(e) = serve.await {
            tracing::warn!(error = %e, "the health endpoint stopped");
        }
    });
    Ok(addr)
}

/// `GET /healthz`: the health report, the document `darkhorses health --offline --json` prints,
/// 200 when every check is ok, 503 otherwise; the checks that need no API call, and no alert is
/// moved (a probe every few seconds must stay cheap and have no effect). A database that cannot
/// be read answers 503 with `{"error", "exit_code": 2}`.
async fn healthz(ctx: JobContext) -> axum::response::Response {
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    let started = ctx.clock.now();
    let clock_start = std::time::Instant::now();
    let checked = match ctx.store() {
        Ok(store) => crate::health::check(&ctx.config, store.as_ref(), started, false).await,
        Err(e) => Err(e),
    };
    match checked {
        Ok((checks, _)) => {
            let healthy = crate::jobs::checks::worst(&checks) == crate::jobs::checks::Level::Ok;
            let report = crate::health::report(checks, started, clock_start.elapsed());
            let mut document = serde_json::to_value(&report).unwrap_or_default();
            if let Some(object) = document.as_object_mut() {
                object.insert("status".into(), "succeeded".into());
            }
            let code = if healthy { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
            (code, axum::Json(document)).into_response()
        }
        Err(e) => {
            let document = crate::output::error_document(&e.to_string(), crate::error::exit::FATAL);
            (StatusCode::SERVICE_UNAVAILABLE, axum::Json(document)).into_response()
        }
    }
}

/// When the next slot of any enabled interval (or the one `--update` names) falls after `now`.
fn next_slot(ctx: &JobContext, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>> {
    let mut next: Option<DateTime<Utc>> = None;
    for (name, interval) in ctx.config.intervals.iter().filter(|(_, i)| i.enabled) {
        if let Some(fire) = schedule_of(name, interval)?.next_after(now) {
            next = Some(next.map_or(fire.at, |n| n.min(fire.at)));
        }
    }
    Ok(next)
}

/// The daemon's loop: a tick, then sleep until the next slot; on `ctx.cancel` (SIGTERM, SIGINT)
/// the tick in flight stops after its unit (the job's own cancel), and is given
/// `orchestrator.shutdown_grace` seconds to record itself before the loop returns anyway.
pub async fn run(ctx: &JobContext, opts: &Options, metrics: &Metrics) -> Result<()> {
    let stop = ctx.cancel.clone();
    let grace = Duration::from_secs(ctx.config.orchestrator.shutdown_grace);
    loop {
        metrics.alive(ctx.clock.now());
        // Each run is counted as it ends, so /metrics shows a long tick's finished runs.
        let observe = |run: &SlotRun| metrics.record_run(run, ctx.clock.now());
        let work = async {
            let (mut tick, due) = prepare_tick(ctx, opts).await?;
            for run in &tick.runs {
                observe(run);
            }
            run_due(ctx, &mut tick, due, &observe).await;
            Ok::<Tick, Error>(tick)
        };
        tokio::pin!(work);
        let outcome = tokio::select! {
            outcome = &mut work => Some(outcome),
            _ = async { stop.cancelled().await; tokio::time::sleep(grace).await } => None,
        };
        match outcome {
            Some(Ok(tick)) => {
                metrics.record_tick(ctx.clock.now());
                tracing::info!(runs = tick.runs.len(), failed = tick.failed(), "daemon tick finished");
            }
            // A database that is down now may be up at the next slot: the daemon keeps going.
            Some(Err(e)) => tracing::error!(error = %e, "daemon tick failed; trying again at the next slot"),
            None => {
                tracing::warn!(
                    "stopping: the run in flight did not finish within orchestrator.shutdown_grace ({}s); \
                     its row is closed by the next run",
                    grace.as_secs()
                );
                return Ok(());
            }
        }
        if stop.is_cancelled() {
            tracing::info!("stopped by a signal after the run in flight");
            return Ok(());
        }
        let now = ctx.clock.now();
        let wait = match next_slot(ctx, now)? {
            Some(next) => (next - now).to_std().unwrap_or_default().min(MAX_SLEEP),
            None => MAX_SLEEP,
        };
        tracing::debug!(seconds = wait.as_secs(), "sleeping until the next slot");
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.cancelled() => {
                tracing::info!("stopped by a signal while idle");
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn metrics_render_runs_by_interval_and_status() {
        let metrics = Metrics::default();
        let now: DateTime<Utc> = "2026-03-10T14:00:00Z".parse().unwrap();
        let mut run = SlotRun::new("live_data", "live", Some(now), crate::store::Trigger::Schedule, "succeeded");
        run.calls = 3;
        run.rate_limited = 1;
        run.rows = 40;
        run.duration_ms = 1500;
        let tick = Tick { now, dry_run: false, store: "sqlite:x".into(), runs: vec![run] };
        metrics.record(&tick, now);
        let text = metrics.render();
        assert!(text.contains("darkhorses_runs_total{interval=\"live_data\",status=\"succeeded\"} 1"), "{text}");
        assert!(
            text.contains("darkhorses_last_success_timestamp_seconds{interval=\"live_data\"} 1773151200"),
            "{text}"
        );
        assert!(text.contains("darkhorses_last_success_duration_seconds{interval=\"live_data\"} 1.500"), "{text}");
        assert!(text.contains("darkhorses_api_rate_limited_total{interval=\"live_data\"} 1"), "{text}");
        assert!(text.contains("darkhorses_rows_written_total{interval=\"live_data\"} 40"), "{text}");
        assert!(text.contains("# TYPE darkhorses_runs_total counter"), "{text}");
    }
}
