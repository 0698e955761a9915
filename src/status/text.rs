//! `darkhorses status` in the terminal: the interval table and today's figures, one screen.

use super::{Status, minutes_text};

/// The interval table, today's figures and where the rest is.
pub fn render(status: &Status) -> String {
    let mut text =
        format!("{} · racing day {} · as of {} UTC\n\n", status.store, status.today, super::when(status.generated_at));
    let cells: Vec<_> = status.intervals.iter().map(super::IntervalStatus::cells).collect();
    let width = |f: &dyn Fn(&super::IntervalCells) -> &str, title: &str| {
        cells.iter().map(|c| f(c).chars().count()).max().unwrap_or(0).max(title.len())
    };
    let wi = width(&|c| &c.interval, "interval");
    let ws = width(&|c| &c.status, "status");
    text.push_str(&format!(
        "{:<wi$}  {:<16}  {:<ws$}  {:>8}  {:>6}  {:>7}  {:<16}  {}\n",
        "interval", "last run (UTC)", "status", "duration", "calls", "rows", "next slot (UTC)", "alert"
    ));
    for c in &cells {
        text.push_str(&format!(
            "{:<wi$}  {:<16}  {:<ws$}  {:>8}  {:>6}  {:>7}  {:<16}  {}\n",
            c.interval, c.last_run, c.status, c.duration, c.calls, c.rows, c.next_slot, c.alert
        ));
        if let Some(error) = &c.error {
            text.push_str(&format!("{:<wi$}  ^ {error}\n", ""));
        }
    }
    if cells.is_empty() {
        text.push_str("(no interval is configured)\n");
    }
    let d = &status.day;
    let kind = |k: Option<crate::store::CoverageStatus>| {
        k.map_or_else(|| "not fetched".to_string(), |s| format!("{s:?}").to_lowercase())
    };
    text.push_str(&format!(
        "\ntoday: {} races, {} results stored (racecards {}, results {})\n\
         runs today (UTC): {}, {} failed; {} API calls{}; {} rows written\n",
        d.races,
        d.resulted,
        kind(d.racecards),
        kind(d.results),
        d.runs,
        d.failed_runs,
        d.calls,
        if d.rate_limited > 0 { format!(" ({} answered 429)", d.rate_limited) } else { String::new() },
        d.rows_written
    ));
    if let Some(f) = status.freshness.last() {
        text.push_str(&format!(
            "results of {}: median {} after the off, 95% within {}\n",
            f.date,
            minutes_text(f.median_minutes),
            minutes_text(f.p95_minutes)
        ));
    }
    let gaps = status.calendar.iter().filter(|c| c.state.is_gap()).count();
    text.push_str(&format!(
        "coverage: {gaps} gaps in the last {} days; the page (`darkhorses status --html FILE`) shows where\n",
        status.calendar.len()
    ));
    text
}
