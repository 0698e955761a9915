//! The geometry of the page's inline SVG charts: where each mark, line and label goes. The
//! template emits the elements (`<rect>` with its `<title>` for the hover text), styled by class
//! from the page's stylesheet, so light and dark follow `prefers-color-scheme`.
//!
//! The charts are rectangles on a grid, which is why no chart crate is used (docs/decisions.md):
//! a mark's `<title>` is the hover summary the page needs, which plotters' SVG backend cannot emit.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use serde::Serialize;

use super::{ApiUse, CalendarDay, DayState, FreshnessDay, Status, TIMELINE_HOURS, minutes_text, week_start};

/// One chart: its size, marks (hoverable rectangles), lines and labels.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Chart {
    pub width: f64,
    pub height: f64,
    /// What the chart shows, for screen readers (`aria-label`).
    pub label: String,
    pub marks: Vec<Mark>,
    pub lines: Vec<Line>,
    pub texts: Vec<Text>,
}

/// A rectangle with its hover text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Mark {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
    pub class: String,
    pub title: String,
    /// `data-date` (calendar cells, bars): lets a reader or a test find a day.
    pub date: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Line {
    pub x1: f64,
    pub y1: f64,
    pub x2: f64,
    pub y2: f64,
    pub class: &'static str,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Text {
    pub x: f64,
    pub y: f64,
    pub text: String,
    /// `start`, `middle` or `end`.
    pub anchor: &'static str,
}

/// One decimal is finer than a pixel and keeps the page small.
fn r(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

impl Chart {
    fn new(width: f64, height: f64, label: impl Into<String>) -> Self {
        Chart { width, height, label: label.into(), ..Chart::default() }
    }

    #[allow(clippy::too_many_arguments)]
    fn mark(&mut self, x: f64, y: f64, w: f64, h: f64, class: String, title: String, date: Option<NaiveDate>) {
        self.marks.push(Mark { x: r(x), y: r(y), w: r(w), h: r(h), class, title, date });
    }

    fn line(&mut self, x1: f64, y1: f64, x2: f64, y2: f64, class: &'static str) {
        self.lines.push(Line { x1: r(x1), y1: r(y1), x2: r(x2), y2: r(y2), class });
    }

    fn text(&mut self, x: f64, y: f64, text: impl Into<String>, anchor: &'static str) {
        self.texts.push(Text { x: r(x), y: r(y), text: text.into(), anchor });
    }
}

const WIDTH: f64 = 960.0;

/// The last 48 hours of runs: one lane per interval, a mark per run from its start to its end
/// (at least 3 px), coloured by status.
pub fn timeline(status: &Status) -> Chart {
    let (left, top, lane, bar) = (170.0, 22.0, 22.0, 14.0);
    let mut lanes: Vec<String> = status.intervals.iter().map(|i| i.interval.clone()).collect();
    for run in &status.timeline {
        if !lanes.contains(&run.interval) {
            lanes.push(run.interval.clone());
        }
    }
    let height = top + lane * lanes.len().max(1) as f64 + 6.0;
    let mut chart = Chart::new(
        WIDTH,
        height,
        format!("{} runs in the last {TIMELINE_HOURS} hours, one lane per interval", status.timeline.len()),
    );
    let to = status.generated_at;
    let from = to - Duration::hours(TIMELINE_HOURS);
    let plot = WIDTH - left - 10.0;
    let x_of = |t: DateTime<Utc>| left + plot * ((t - from).num_seconds() as f64 / (TIMELINE_HOURS * 3600) as f64);
    // A line every 6 hours (UTC), the date at midnight.
    let mut tick = from.date_naive().and_hms_opt(0, 0, 0).map(|t| t.and_utc()).unwrap_or(from);
    while tick <= to {
        if tick >= from {
            let x = x_of(tick);
            chart.line(x, top - 4.0, x, height - 4.0, "grid");
            let label = if tick.format("%H").to_string() == "00" {
                tick.format("%a %d %b").to_string()
            } else {
                tick.format("%H:%M").to_string()
            };
            chart.text(x, top - 8.0, label, "middle");
        }
        tick += Duration::hours(6);
    }
    for (i, name) in lanes.iter().enumerate() {
        let y = top + lane * i as f64;
        chart.text(left - 8.0, y + bar - 3.0, name.clone(), "end");
        chart.line(left, y + bar / 2.0, left + plot, y + bar / 2.0, "lane");
    }
    // Skipped slots first, thinner, so the runs that covered them are drawn over them.
    let (skipped, ran): (Vec<_>, Vec<_>) = status.timeline.iter().partition(|r| r.status == "skipped");
    for run in skipped.into_iter().chain(ran) {
        let Some(i) = lanes.iter().position(|l| l == &run.interval) else { continue };
        let thin = if run.status == "skipped" { bar / 4.0 } else { 0.0 };
        let y = top + lane * i as f64 + thin;
        let x = x_of(run.started_at.max(from));
        let end = x_of(run.finished_at.unwrap_or(to).min(to));
        let class = format!("s-{}{}", run.status, if run.dry_run { " dry" } else { "" });
        chart.mark(x, y, (end - x).max(3.0), bar - 2.0 * thin, class, run.summary.clone(), None);
    }
    chart
}

/// Cell size and pitch of the calendar.
const CELL: f64 = 13.0;
const PITCH: f64 = 16.0;

/// The 12-month coverage calendar: a column per week (Monday first), a cell per day, coloured by
/// state; complete days in four shades by how many races they had.
pub fn calendar(days: &[CalendarDay]) -> Chart {
    let (left, top) = (30.0, 18.0);
    let Some(first) = days.first().map(|d| d.date) else { return Chart::new(WIDTH, top, "no days") };
    let start = week_start(first);
    let weeks = days.last().map_or(1, |d| (d.date - start).num_days() / 7 + 1);
    let gaps = days.iter().filter(|d| d.state.is_gap()).count();
    let mut chart = Chart::new(
        left + PITCH * weeks as f64 + 4.0,
        top + PITCH * 7.0 + 4.0,
        format!("coverage of {} days: {gaps} gaps", days.len()),
    );
    for (row, name) in [(0, "Mon"), (2, "Wed"), (4, "Fri")] {
        chart.text(left - 4.0, top + PITCH * f64::from(row) + CELL - 2.0, name, "end");
    }
    let busiest = days.iter().filter(|d| d.state == DayState::Complete).map(|d| d.races).max().unwrap_or(0).max(1);
    let mut month = None;
    for day in days {
        let week = (day.date - start).num_days() / 7;
        let x = left + PITCH * week as f64;
        if month != Some(day.date.month()) && day.date.day() <= 7 {
            chart.text(x, top - 6.0, day.date.format("%b").to_string(), "start");
        }
        month = Some(day.date.month());
        let y = top + PITCH * f64::from(day.date.weekday().num_days_from_monday());
        let class = match day.state {
            DayState::Complete => format!("c-complete l{}", ((4 * day.races + busiest - 1) / busiest).clamp(1, 4)),
            other => format!("c-{}", other.as_str()),
        };
        let title = format!(
            "{}: {} ({} races; racecards {}, results {})",
            day.date.format("%a %Y-%m-%d"),
            day.state.as_str(),
            day.races,
            day.racecards.replace('_', " "),
            day.results.replace('_', " ")
        );
        chart.mark(x, y, CELL, CELL, class, title, Some(day.date));
    }
    chart
}

/// Bars of API calls per UTC day, scaled to the busiest day.
pub fn calls(api: &ApiUse) -> Chart {
    let (left, top, plot_h) = (60.0, 12.0, 120.0);
    let mut chart = Chart::new(
        WIDTH,
        top + plot_h + 24.0,
        format!("API calls per day: {} in {} days", api.total_calls, api.days.len()),
    );
    let max = api.days.iter().map(|d| d.calls).max().unwrap_or(0).max(1);
    let plot_w = WIDTH - left - 10.0;
    let pitch = plot_w / api.days.len().max(1) as f64;
    let base = top + plot_h;
    chart.line(left, base, left + plot_w, base, "axis");
    chart.line(left, top, left + plot_w, top, "grid");
    chart.text(left - 6.0, top + 4.0, max.to_string(), "end");
    chart.text(left - 6.0, base + 4.0, "0", "end");
    for (i, day) in api.days.iter().enumerate() {
        let h = plot_h * day.calls as f64 / max as f64;
        let x = left + pitch * i as f64 + 1.0;
        let title = format!(
            "{}: {} calls in {} runs ({} failed); the plan's rate allows {} a day",
            day.date, day.calls, day.runs, day.errors, api.ceiling_per_day
        );
        let class = if day.errors > 0 { "bar errors" } else { "bar" };
        chart.mark(
            x,
            base - h,
            (pitch - 2.0).max(1.0),
            h.max(if day.calls > 0 { 1.0 } else { 0.0 }),
            class.into(),
            title,
            Some(day.date),
        );
        if i % 5 == 0 || i + 1 == api.days.len() {
            chart.text(x + pitch / 2.0, base + 16.0, day.date.format("%d %b").to_string(), "middle");
        }
    }
    chart
}

/// Ticks of the freshness chart's log scale, in minutes.
const FRESHNESS_TICKS: [(i64, &str); 7] =
    [(1, "1 min"), (10, "10 min"), (60, "1 h"), (360, "6 h"), (1440, "1 day"), (10_080, "1 week"), (43_200, "30 days")];

/// Result freshness per racing day on a log scale: a bar to the median, a tick at the 95th
/// percentile.
pub fn freshness(days: &[FreshnessDay], from: NaiveDate, to: NaiveDate) -> Chart {
    let (left, top, plot_h) = (60.0, 12.0, 120.0);
    let dates: Vec<NaiveDate> = from.iter_days().take_while(|d| *d <= to).collect();
    let mut chart = Chart::new(
        WIDTH,
        top + plot_h + 24.0,
        format!("minutes from off to result stored, per day, {} days with results", days.len()),
    );
    let worst = days.iter().map(|d| d.p95_minutes).max().unwrap_or(60).max(60);
    let ceiling = FRESHNESS_TICKS.iter().map(|t| t.0).find(|&m| m >= worst).unwrap_or(worst);
    let scale = (ceiling as f64).log10().max(1.0);
    let base = top + plot_h;
    let y_of = |minutes: i64| base - plot_h * ((minutes.max(1) as f64).log10() / scale).clamp(0.0, 1.0);
    let plot_w = WIDTH - left - 10.0;
    let pitch = plot_w / dates.len().max(1) as f64;
    chart.line(left, base, left + plot_w, base, "axis");
    let mut ticks: Vec<(i64, String)> =
        FRESHNESS_TICKS.iter().filter(|t| t.0 <= ceiling).map(|t| (t.0, t.1.to_string())).collect();
    if ticks.last().is_none_or(|t| t.0 < ceiling) {
        ticks.push((ceiling, minutes_text(ceiling)));
    }
    for (minutes, label) in ticks {
        let y = y_of(minutes);
        chart.line(left, y, left + plot_w, y, "grid");
        chart.text(left - 6.0, y + 4.0, label, "end");
    }
    for (i, date) in dates.iter().enumerate() {
        let x = left + pitch * i as f64 + 1.0;
        if i % 5 == 0 || i + 1 == dates.len() {
            chart.text(x + pitch / 2.0, base + 16.0, date.format("%d %b").to_string(), "middle");
        }
        let Some(day) = days.iter().find(|d| d.date == *date) else { continue };
        let y = y_of(day.median_minutes);
        let title = format!(
            "{date}: {} races; median {}, 95% within {}, slowest {}",
            day.races,
            minutes_text(day.median_minutes),
            minutes_text(day.p95_minutes),
            minutes_text(day.max_minutes)
        );
        let class = if day.median_minutes > 1440 { "bar late" } else { "bar" };
        chart.mark(x, y, (pitch - 2.0).max(1.0), (base - y).max(2.0), class.into(), title, Some(*date));
        let p95 = y_of(day.p95_minutes);
        chart.line(x, p95, x + (pitch - 2.0).max(1.0), p95, "p95");
    }
    chart
}
