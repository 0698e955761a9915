//! The status page as one self-contained HTML file: `src/status/page.html` rendered by minijinja
//! (HTML auto-escaped) with the charts' geometry from [`super::svg`]. No script, no external asset.

use std::sync::OnceLock;

use minijinja::Environment;
use minijinja::value::Serde;
use serde::Serialize;

use super::{DayState, Status, TIMELINE_HOURS, minutes_text, recent_from, svg};
use crate::error::{Error, Result};

const TEMPLATE: &str = "status.html";

/// The template environment, built once per process (the daemon renders per request).
fn environment() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        // A `.html` name turns on HTML escaping of every value.
        if let Err(e) = env.add_template(TEMPLATE, include_str!("page.html")) {
            // The template is part of the binary; a test renders it, so this is a build mistake.
            tracing::error!(error = %e, "the status page template does not parse");
        }
        env
    })
}

/// The calendar's days counted by state.
#[derive(Debug, Default, Serialize)]
struct Counts {
    complete: usize,
    blank: usize,
    pending: usize,
    partial: usize,
    failed: usize,
    missing: usize,
    gaps: usize,
}

/// The latest day of the freshness chart, in words.
#[derive(Debug, Serialize)]
struct Freshest {
    date: chrono::NaiveDate,
    median: String,
    p95: String,
}

#[derive(Debug, Serialize)]
struct Charts {
    timeline: svg::Chart,
    calendar: svg::Chart,
    calls: svg::Chart,
    freshness: svg::Chart,
}

/// Everything the template reads.
#[derive(Debug, Serialize)]
struct Page<'a> {
    status: &'a Status,
    intervals: Vec<super::IntervalCells>,
    charts: Charts,
    counts: Counts,
    freshest: Option<Freshest>,
    busiest_share: Option<String>,
    timeline_hours: i64,
    generated: String,
    version: &'static str,
}

/// The page of `status`.
pub fn render(status: &Status) -> Result<String> {
    let mut counts = Counts::default();
    for day in &status.calendar {
        match day.state {
            DayState::Complete => counts.complete += 1,
            DayState::Blank => counts.blank += 1,
            DayState::Pending => counts.pending += 1,
            DayState::Partial => counts.partial += 1,
            DayState::Failed => counts.failed += 1,
            DayState::Missing => counts.missing += 1,
        }
    }
    counts.gaps = counts.partial + counts.failed + counts.missing;
    let page = Page {
        status,
        intervals: status.intervals.iter().map(super::IntervalStatus::cells).collect(),
        charts: Charts {
            timeline: svg::timeline(status),
            calendar: svg::calendar(&status.calendar),
            calls: svg::calls(&status.api),
            freshness: svg::freshness(&status.freshness, recent_from(status.today), status.today),
        },
        counts,
        freshest: status.freshness.last().map(|d| Freshest {
            date: d.date,
            median: minutes_text(d.median_minutes),
            p95: minutes_text(d.p95_minutes),
        }),
        busiest_share: status.api.busiest.map(|b| {
            let share = 100.0 * b.calls as f64 / status.api.ceiling_per_day.max(1) as f64;
            if share < 0.1 { "under 0.1%".to_string() } else { format!("{share:.1}%") }
        }),
        timeline_hours: TIMELINE_HOURS,
        generated: super::when(status.generated_at),
        version: env!("CARGO_PKG_VERSION"),
    };
    environment()
        .get_template(TEMPLATE)
        .and_then(|t| t.render(Serde(&page)))
        .map_err(|e| Error::Fatal(format!("rendering the status page: {e:#}")))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::status::{ApiUse, DayFigures, IntervalStatus, LastRun};

    fn status() -> Status {
        let now: chrono::DateTime<chrono::Utc> = "2026-03-10T12:00:00Z".parse().unwrap();
        let today = crate::clock::racing_day_of(now);
        Status {
            generated_at: now,
            store: "sqlite:<x>.db".into(),
            today,
            intervals: vec![IntervalStatus {
                interval: "daily_data".into(),
                job: "daily".into(),
                args: vec![],
                enabled: true,
                schedule: "0 6 * * *".into(),
                timezone: "UTC".into(),
                last_run: Some(LastRun {
                    status: "failed".into(),
                    trigger: "schedule".into(),
                    slot: Some(now),
                    started_at: now,
                    finished_at: Some(now),
                    duration_ms: Some(1500),
                    calls: 3,
                    rows: 0,
                    dry_run: false,
                    error: Some("HTTP 500 from <script>alert(1)</script>".into()),
                }),
                next_slot: None,
                alert: None,
            }],
            day: DayFigures {
                date: today,
                races: 0,
                resulted: 0,
                racecards: None,
                results: None,
                runs: 1,
                failed_runs: 1,
                calls: 3,
                rate_limited: 0,
                rows_written: 0,
            },
            timeline: vec![],
            calendar: vec![],
            freshness: vec![],
            api: ApiUse {
                plan: "pro",
                rate_limit: 2.0,
                ceiling_per_day: 172_800,
                days: vec![],
                total_calls: 0,
                busiest: None,
            },
            tables: vec![],
        }
    }

    #[test]
    fn values_are_escaped_and_the_page_has_no_script() {
        let page = render(&status()).unwrap();
        assert!(!page.contains("<script"), "escaped: {page}");
        assert!(
            page.contains("HTTP 500 from &lt;script&gt;alert(1)&lt;&#x2f;script&gt;"),
            "the error is shown, escaped: {page}"
        );
        assert!(page.contains("sqlite:&lt;x&gt;.db"));
        assert!(page.contains("data-interval=\"daily_data\"") && page.contains("st-failed"));
        assert!(page.contains("prefers-color-scheme: dark"));
    }
}
