//! Cron schedules: parsing, next fire times, DST gaps and folds (issue 2).
//!
//! # Language
//!
//! Five fields, `minute hour day-of-month month day-of-week`, with Vixie cron's semantics:
//! `*`, numbers, ranges `a-b`, lists `a,b`, steps `*/n` and `a-b/n` (and `a/n`, meaning `a-max/n`),
//! month names `JAN`-`DEC`, day names `SUN`-`SAT` (case-insensitive), Sunday as `0` or `7`, and the
//! nicknames `@yearly`, `@annually`, `@monthly`, `@weekly`, `@daily`, `@midnight`, `@hourly`. Two
//! extensions: `L` in the day-of-month field (the last day of the month) and, in the day-of-week
//! field, `5L` (the last Friday of the month) and `5#2` (the second Friday). Seconds, years, `?` and
//! `W` are not accepted.
//!
//! When both day fields are restricted, a day matches if *either* matches (Vixie's OR). As in Vixie
//! cron, a day field that starts with `*` (such as `*/2`) counts as unrestricted for that rule, so
//! `0 0 */2 * 1` means "odd days that are Mondays" (AND), not "odd days or Mondays".
//!
//! # Time zones and daylight saving time
//!
//! An expression is read on the wall clock of one IANA time zone. Where that clock jumps, the rules
//! are Vixie cron's:
//!
//! - A *fixed-time* schedule (neither the minute nor the hour field starts with `*`, e.g. `30 1 * * *`)
//!   whose wall-clock time falls in a gap (clocks go forward: 01:30 on 2026-03-29 does not exist in
//!   Europe/London) fires once, at the first instant after the gap (02:00 BST), marked
//!   [`DstNote::Gap`]. A wall-clock time in a fold (clocks go back: 01:30 on 2026-10-25 happens twice)
//!   fires once, at the first occurrence (01:30 BST), marked [`DstNote::Fold`].
//! - A *wildcard* schedule (`*/15 * * * *`, `0 * * * *`) runs by the clock: wall-clock times in a gap
//!   are skipped, and in a fold it fires at both occurrences, marked [`DstNote::Repeated`]. So an
//!   hourly job still runs once an hour of real time on both days.
//!
//! # How it is computed
//!
//! The expression is checked and normalised here (so errors can say exactly what is wrong), then
//! croner matches it on the naive wall clock; this module maps each wall-clock match to real
//! instants under the rules above. Normalising `a/n` to `a-max/n` covers croner's rejection of `0/15`
//! (otherwise it needs `sloppy_ranges`), and the star-prefixed day rule is applied by asking croner
//! for AND semantics, which croner would otherwise not do for `*/2`.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Duration, LocalResult, NaiveDateTime, SecondsFormat, TimeZone, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds};

use crate::cli::ScheduleArgs;
use crate::config::Config;

/// Largest jump of a wall clock at a DST transition that the fire ordering allows for. Real
/// transitions move the clock by at most two hours.
const MAX_CLOCK_SHIFT: Duration = Duration::hours(3);

/// What is wrong with an expression or a time zone.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("invalid cron expression '{expr}': {reason}")]
    Expression { expr: String, reason: String },
    #[error("unknown time zone '{zone}': use an IANA name such as UTC or Europe/London")]
    TimeZone { zone: String },
}

/// A checked cron expression in a time zone.
#[derive(Debug, Clone)]
pub struct Schedule {
    expr: String,
    tz: Tz,
    cron: Cron,
    /// Minute or hour field starts with `*`: runs by the clock through DST changes.
    wildcard: bool,
}

/// One time a schedule fires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fire {
    pub at: DateTime<Utc>,
    /// The same instant on the schedule's wall clock.
    pub local: DateTime<Tz>,
    /// Set when a DST change moved or repeated this fire.
    pub note: Option<DstNote>,
}

/// How a daylight-saving change affected a fire time. `scheduled` is the wall-clock time the
/// expression asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DstNote {
    /// `scheduled` does not exist (clocks went forward over it); a fixed-time schedule fires once
    /// at the first instant after the gap.
    Gap { scheduled: NaiveDateTime },
    /// `scheduled` happens twice (clocks went back); a fixed-time schedule fires once, at the first
    /// occurrence, which is this fire.
    Fold { scheduled: NaiveDateTime },
    /// `scheduled` happens twice and a wildcard schedule fires at both; `second` tells which.
    Repeated { scheduled: NaiveDateTime, second: bool },
}

impl Fire {
    fn new(local: DateTime<Tz>, note: Option<DstNote>) -> Self {
        Self { at: local.with_timezone(&Utc), local, note }
    }

    /// The DST marker printed after the timestamp, such as
    /// `# DST gap: 01:30 does not exist, fires at 02:00 BST`.
    pub fn marker(&self) -> Option<String> {
        let zone = self.local.format("%Z");
        Some(match self.note? {
            DstNote::Gap { scheduled } => format!(
                "# DST gap: {} does not exist, fires at {} {zone}",
                scheduled.format("%H:%M"),
                self.local.format("%H:%M")
            ),
            DstNote::Fold { scheduled } => {
                format!("# DST fold: {} happens twice, fires at the first ({zone})", scheduled.format("%H:%M"))
            }
            DstNote::Repeated { scheduled, second } => format!(
                "# DST fold: {} happens twice, fires at both (this is the {}, {zone})",
                scheduled.format("%H:%M"),
                if second { "second" } else { "first" }
            ),
        })
    }
}

impl Fire {
    /// The fire as RFC 3339 in another zone `tz`, then the DST marker (which speaks of the
    /// schedule's own zone): `schedule --job daily_data --tz Europe/London`.
    pub fn shown_in(&self, tz: Tz) -> String {
        let mut line = self.at.with_timezone(&tz).to_rfc3339_opts(SecondsFormat::Secs, false);
        if let Some(marker) = self.marker() {
            line.push_str("  ");
            line.push_str(&marker);
        }
        line
    }
}

impl fmt::Display for Fire {
    /// RFC 3339 in the schedule's zone, then the DST marker if any.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.local.to_rfc3339_opts(SecondsFormat::Secs, false))?;
        if let Some(marker) = self.marker() {
            write!(f, "  {marker}")?;
        }
        Ok(())
    }
}

impl Schedule {
    /// Parse a 5-field expression read in the IANA zone `tz`.
    pub fn parse(expr: &str, tz: &str) -> Result<Schedule, Error> {
        let zone = parse_zone(tz)?;
        Schedule::with_zone(expr, zone)
    }

    /// Parse a 5-field expression read in `tz`.
    pub fn with_zone(expr: &str, tz: Tz) -> Result<Schedule, Error> {
        let fail = |reason: String| Error::Expression { expr: expr.to_string(), reason };
        let parsed = normalise(expr).map_err(fail)?;
        let cron = CronParser::builder()
            .seconds(Seconds::Disallowed)
            .dom_and_dow(parsed.dom_and_dow)
            .build()
            .parse(&parsed.normalised)
            .map_err(|e| fail(format!("{e} (normalised as '{}')", parsed.normalised)))?;
        Ok(Schedule { expr: expr.trim().to_string(), tz, cron, wildcard: parsed.wildcard })
    }

    /// The expression as given (trimmed).
    pub fn expression(&self) -> &str {
        &self.expr
    }

    pub fn zone(&self) -> Tz {
        self.tz
    }

    /// The first fire strictly after `after`; `None` if it never fires again (before year 5000).
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<Fire> {
        self.iter_after(after).next()
    }

    /// Every fire strictly after `after`, in order.
    pub fn iter_after(&self, after: DateTime<Utc>) -> Fires<'_> {
        let start = after.with_timezone(&self.tz).naive_local() - MAX_CLOCK_SHIFT;
        Fires { schedule: self, after, cursor: start, inclusive: true, pending: BTreeMap::new(), exhausted: false }
    }

    /// The fires in `(after, until]`: the slots between a last run and now.
    pub fn fires_between(&self, after: DateTime<Utc>, until: DateTime<Utc>) -> Vec<Fire> {
        self.iter_after(after).take_while(|f| f.at <= until).collect()
    }

    /// The real fires that one wall-clock match produces.
    fn fires_for_wall(&self, wall: NaiveDateTime) -> Vec<Fire> {
        match self.tz.from_local_datetime(&wall) {
            LocalResult::Single(dt) => vec![Fire::new(dt, None)],
            LocalResult::Ambiguous(first, second) if self.wildcard => vec![
                Fire::new(first, Some(DstNote::Repeated { scheduled: wall, second: false })),
                Fire::new(second, Some(DstNote::Repeated { scheduled: wall, second: true })),
            ],
            LocalResult::Ambiguous(first, _) => {
                vec![Fire::new(first, Some(DstNote::Fold { scheduled: wall }))]
            }
            LocalResult::None if self.wildcard => Vec::new(),
            LocalResult::None => {
                // The first wall-clock minute after the gap that exists is the first instant after it.
                let mut probe = wall;
                for _ in 0..(48 * 60) {
                    probe += Duration::minutes(1);
                    if let Some(dt) = self.tz.from_local_datetime(&probe).earliest() {
                        return vec![Fire::new(dt, Some(DstNote::Gap { scheduled: wall }))];
                    }
                }
                Vec::new()
            }
        }
    }
}

/// Iterator over a schedule's fires after an instant, in order of real time.
///
/// Wall-clock matches come from croner in wall-clock order; a DST change can make a later wall
/// time an earlier instant (the second pass of a fold), so fires wait in `pending` until the wall
/// clock has moved more than [`MAX_CLOCK_SHIFT`] past them.
#[derive(Debug)]
pub struct Fires<'a> {
    schedule: &'a Schedule,
    after: DateTime<Utc>,
    cursor: NaiveDateTime,
    inclusive: bool,
    /// Fire instant -> (fire, the wall-clock match it came from). Keyed by instant so a gap fire
    /// and a regular fire at the same instant collapse into one.
    pending: BTreeMap<DateTime<Utc>, (Fire, NaiveDateTime)>,
    exhausted: bool,
}

impl Iterator for Fires<'_> {
    type Item = Fire;

    fn next(&mut self) -> Option<Fire> {
        loop {
            if let Some((_, (_, source))) = self.pending.first_key_value()
                && (self.exhausted || self.cursor > *source + MAX_CLOCK_SHIFT)
            {
                let (_, (fire, _)) = self.pending.pop_first()?;
                self.after = fire.at;
                return Some(fire);
            }
            if self.exhausted {
                return None;
            }
            match self.schedule.cron.find_next_occurrence(&self.cursor, self.inclusive) {
                Ok(wall) => {
                    self.cursor = wall;
                    self.inclusive = false;
                    for fire in self.schedule.fires_for_wall(wall) {
                        if fire.at > self.after {
                            self.pending.entry(fire.at).or_insert((fire, wall));
                        }
                    }
                }
                // croner gives up after year 5000 or a year of fruitless search.
                Err(_) => self.exhausted = true,
            }
        }
    }
}

/// Check a 5-field cron expression and an IANA time zone, as `config check` does. The error
/// says what is wrong with which of the two.
pub fn check_expression(expr: &str, tz: &str) -> Result<(), String> {
    Schedule::parse(expr, tz).map(|_| ()).map_err(|e| match e {
        // The caller names the expression; say only what is wrong with it.
        Error::Expression { reason, .. } => reason,
        other => other.to_string(),
    })
}

/// Parse an IANA time zone name.
pub fn parse_zone(tz: &str) -> Result<Tz, Error> {
    tz.trim().parse::<Tz>().map_err(|_| Error::TimeZone { zone: tz.to_string() })
}

/// `darkhorses schedule`: the fire times to print, with what they are of.
#[derive(Debug, Clone)]
pub struct Preview {
    /// The expression as given, or as configured for `job`.
    pub expression: String,
    /// The IANA zone it is read in.
    pub timezone: String,
    /// The configured job (`--job`), if the expression is one.
    pub job: Option<String>,
    /// The instant the fires follow.
    pub after: DateTime<Utc>,
    /// With `--job` and `--tz`: the zone the times are shown in (the job fires in its own zone).
    pub shown_in: Option<Tz>,
    pub fires: Vec<Fire>,
    /// Whether the schedule fires no more than `fires` (fewer than `--count` were found).
    pub exhausted: bool,
}

impl Preview {
    /// The next `args.count` fires of the expression or configured job `args` names.
    pub fn new(args: &ScheduleArgs, config: &Config, now: DateTime<Utc>) -> Result<Preview, crate::Error> {
        let usage = |e: Error| crate::Error::Usage(e.to_string());
        let (expr, zone, job) = match (&args.job, &args.expr) {
            (Some(name), _) => {
                let Some(interval) = config.intervals.get(name) else {
                    let names: Vec<&str> = config.intervals.keys().map(String::as_str).collect();
                    return Err(crate::Error::Usage(format!(
                        "unknown job '{name}': the configured intervals are {}",
                        if names.is_empty() { "(none)".to_string() } else { names.join(", ") }
                    )));
                };
                // The job fires in its own zone; --tz only changes the zone its times are shown in.
                (interval.frequency.clone(), interval.timezone.clone(), Some(name.clone()))
            }
            (None, Some(expr)) => (expr.clone(), args.tz.clone().unwrap_or_else(|| "UTC".to_string()), None),
            (None, None) => {
                return Err(crate::Error::Usage("give a cron expression or --job NAME".into()));
            }
        };
        let schedule = Schedule::parse(&expr, &zone).map_err(|e| match &job {
            Some(name) => crate::Error::Usage(format!("intervals.{name}.frequency: {e}")),
            None => usage(e),
        })?;
        let after = match &args.after {
            Some(text) => parse_instant(text)?,
            None => now,
        };
        let shown_in = match (&job, &args.tz) {
            (Some(_), Some(tz)) => Some(parse_zone(tz).map_err(usage)?),
            _ => None,
        };
        let fires: Vec<Fire> = schedule.iter_after(after).take(args.count).collect();
        let exhausted = fires.len() < args.count;
        Ok(Preview {
            expression: expr,
            timezone: schedule.zone().name().to_string(),
            job,
            after,
            shown_in,
            fires,
            exhausted,
        })
    }

    /// One fire per line (RFC 3339 on the schedule's wall clock, then any DST marker), and a
    /// last line when the schedule fires no more.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for fire in &self.fires {
            match self.shown_in {
                Some(tz) => out.push_str(&fire.shown_in(tz)),
                None => out.push_str(&fire.to_string()),
            }
            out.push('\n');
        }
        if self.exhausted {
            out.push_str("# no further fire times\n");
        }
        out
    }

    /// `schedule --json`: `{"expression", "timezone", "job", "after", "fires": [{"at", "local",
    /// "dst"}], "exhausted"}`; `at` is UTC, `local` the schedule's wall clock, `dst` null or
    /// `{"kind": "gap"|"fold"|"repeated", "scheduled", "note"}`.
    pub fn json(&self) -> serde_json::Value {
        let fires: Vec<serde_json::Value> = self
            .fires
            .iter()
            .map(|fire| {
                let dst = fire.note.map(|note| {
                    let (kind, scheduled) = match note {
                        DstNote::Gap { scheduled } => ("gap", scheduled),
                        DstNote::Fold { scheduled } => ("fold", scheduled),
                        DstNote::Repeated { scheduled, .. } => ("repeated", scheduled),
                    };
                    let note = fire.marker().unwrap_or_default();
                    serde_json::json!({
                        "kind": kind,
                        "scheduled": scheduled.format("%Y-%m-%dT%H:%M:%S").to_string(),
                        "note": note.trim_start_matches("# "),
                    })
                });
                let mut json = serde_json::json!({
                    "at": fire.at.to_rfc3339_opts(SecondsFormat::Secs, true),
                    "local": fire.local.to_rfc3339_opts(SecondsFormat::Secs, false),
                    "dst": dst,
                });
                if let Some(tz) = self.shown_in {
                    json["shown"] = fire.at.with_timezone(&tz).to_rfc3339_opts(SecondsFormat::Secs, false).into();
                }
                json
            })
            .collect();
        serde_json::json!({
            "expression": self.expression,
            "timezone": self.timezone,
            "job": self.job,
            "after": self.after.to_rfc3339_opts(SecondsFormat::Secs, true),
            "fires": fires,
            "exhausted": self.exhausted,
        })
    }
}

/// `darkhorses schedule`: the text to print, one fire per line.
pub fn preview(args: &ScheduleArgs, config: &Config, now: DateTime<Utc>) -> Result<String, crate::Error> {
    Preview::new(args, config, now).map(|p| p.text())
}

/// An RFC 3339 instant from the command line.
fn parse_instant(text: &str) -> Result<DateTime<Utc>, crate::Error> {
    DateTime::parse_from_rfc3339(text.trim()).map(|t| t.with_timezone(&Utc)).map_err(|e| {
        crate::Error::Usage(format!("--after '{text}' is not an RFC 3339 instant ({e}); example: 2026-03-28T00:00:00Z"))
    })
}

// ---------------------------------------------------------------------------------------------
// Checking and normalising an expression
// ---------------------------------------------------------------------------------------------

const MONTHS: [&str; 12] = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Minute,
    Hour,
    DayOfMonth,
    Month,
    DayOfWeek,
}

impl Field {
    const ALL: [Field; 5] = [Field::Minute, Field::Hour, Field::DayOfMonth, Field::Month, Field::DayOfWeek];

    fn name(self) -> &'static str {
        match self {
            Field::Minute => "minute",
            Field::Hour => "hour",
            Field::DayOfMonth => "day-of-month",
            Field::Month => "month",
            Field::DayOfWeek => "day-of-week",
        }
    }

    fn range(self) -> (u32, u32) {
        match self {
            Field::Minute => (0, 59),
            Field::Hour => (0, 23),
            Field::DayOfMonth => (1, 31),
            Field::Month => (1, 12),
            Field::DayOfWeek => (0, 7),
        }
    }

    fn names(self) -> &'static [&'static str] {
        match self {
            Field::Month => &MONTHS,
            Field::DayOfWeek => &DAYS,
            _ => &[],
        }
    }

    /// The number a name stands for.
    fn name_value(self, index: usize) -> u32 {
        match self {
            Field::Month => index as u32 + 1,
            _ => index as u32,
        }
    }
}

/// A checked field: its normalised text, the plain values it selects (bit per value), and whether
/// it uses `L` or `#`.
#[derive(Debug)]
struct ParsedField {
    text: String,
    values: u64,
    special: bool,
}

#[derive(Debug)]
struct Normalised {
    normalised: String,
    dom_and_dow: bool,
    wildcard: bool,
}

fn nickname(expr: &str) -> Option<&'static str> {
    Some(match expr.to_ascii_lowercase().as_str() {
        "@yearly" | "@annually" => "0 0 1 1 *",
        "@monthly" => "0 0 1 * *",
        "@weekly" => "0 0 * * 0",
        "@daily" | "@midnight" => "0 0 * * *",
        "@hourly" => "0 * * * *",
        _ => return None,
    })
}

fn normalise(expr: &str) -> Result<Normalised, String> {
    let trimmed = expr.trim();
    let expanded = if trimmed.starts_with('@') {
        nickname(trimmed).ok_or_else(|| {
            format!("unknown nickname '{trimmed}' (use @yearly, @monthly, @weekly, @daily or @hourly)")
        })?
    } else {
        trimmed
    };
    let parts: Vec<&str> = expanded.split_whitespace().collect();
    if parts.len() != 5 {
        let hint = if parts.len() == 6 { ": seconds and years are not supported" } else { "" };
        return Err(format!(
            "expected 5 fields (minute hour day-of-month month day-of-week), found {}{hint}",
            parts.len()
        ));
    }
    let mut fields = Vec::with_capacity(5);
    for (field, text) in Field::ALL.into_iter().zip(&parts) {
        fields.push(parse_field(field, text)?);
    }
    let star = |i: usize| parts[i].starts_with('*');
    let restricted = |i: usize| parts[i] != "*";
    // Vixie: OR only when both day fields are restricted and neither starts with '*'.
    let or_days = restricted(2) && restricted(4) && !star(2) && !star(4);
    if !or_days && !fields[2].special {
        check_days_exist(fields[2].values, fields[3].values)?;
    }
    Ok(Normalised {
        normalised: fields.iter().map(|f| f.text.as_str()).collect::<Vec<_>>().join(" "),
        dom_and_dow: !or_days,
        wildcard: star(0) || star(1),
    })
}

/// `0 0 31 2 *` would never fire: say so instead of searching for ever.
fn check_days_exist(days: u64, months: u64) -> Result<(), String> {
    const LONGEST: [u32; 12] = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let possible = (1..=12u32)
        .filter(|m| months & (1 << m) != 0)
        .any(|m| (1..=LONGEST[m as usize - 1]).any(|d| days & (1 << d) != 0));
    if possible {
        Ok(())
    } else {
        Err("the day-of-month never occurs in the selected month(s), so it would never fire".to_string())
    }
}

fn parse_field(field: Field, text: &str) -> Result<ParsedField, String> {
    let (min, max) = field.range();
    if text == "*" {
        return Ok(ParsedField { text: "*".into(), values: mask(min, max, 1), special: false });
    }
    let mut items = Vec::new();
    let mut values = 0u64;
    let mut special = false;
    for item in text.split(',') {
        if item.is_empty() {
            return Err(format!("{} field '{text}' has an empty list item", field.name()));
        }
        let upper = item.to_ascii_uppercase();
        // Extensions: L (last day of month), nL (last weekday n of month), n#k (k-th weekday n).
        if field == Field::DayOfMonth && upper == "L" {
            items.push("L".to_string());
            special = true;
            continue;
        }
        if field == Field::DayOfWeek {
            if upper == "L" {
                return Err("day-of-week field: 'L' needs a day before it (5L is the last Friday)".into());
            }
            if let Some(day) = upper.strip_suffix('L') {
                let day = value(field, day, false)?;
                items.push(format!("{day}L"));
                special = true;
                continue;
            }
            if let Some((day, nth)) = upper.split_once('#') {
                let day = value(field, day, false)?;
                let nth: u32 = nth.parse().ok().filter(|n| (1..=5).contains(n)).ok_or_else(|| {
                    format!("day-of-week field '{item}': the number after '#' must be 1-5 (5#2 is the second Friday)")
                })?;
                items.push(format!("{day}#{nth}"));
                special = true;
                continue;
            }
        }
        let (base, step) = match upper.split_once('/') {
            Some((base, step)) => {
                let step: u32 = step
                    .parse()
                    .map_err(|_| format!("{} field '{item}': step '{step}' is not a number", field.name()))?;
                if step == 0 {
                    return Err(format!("{} field '{item}': a step must be at least 1", field.name()));
                }
                (base, Some(step))
            }
            None => (upper.as_str(), None),
        };
        let (lo, hi) = if base == "*" {
            (min, max)
        } else if let Some((a, b)) = base.split_once('-') {
            let lo = value(field, a, false)?;
            let hi = value(field, b, true)?;
            if lo > hi {
                return Err(format!(
                    "{} field range {a}-{b} runs backwards (start after end); write it as two ranges",
                    field.name()
                ));
            }
            (lo, hi)
        } else {
            let v = value(field, base, false)?;
            // `a/n` means `a-max/n` (croniter's reading; Vixie cron has no meaning for it).
            if step.is_some() { (v, max) } else { (v, v) }
        };
        values |= mask(lo, hi, step.unwrap_or(1));
        items.push(match (base, step) {
            ("*", Some(s)) => format!("*/{s}"),
            (_, Some(s)) => format!("{lo}-{hi}/{s}"),
            (_, None) if lo == hi => lo.to_string(),
            (_, None) => format!("{lo}-{hi}"),
        });
    }
    if field == Field::DayOfWeek && values & (1 << 7) != 0 {
        values |= 1;
    }
    Ok(ParsedField { text: items.join(","), values, special })
}

/// One value of a field: a number in range or a name. `range_end` reads `SUN` as 7, so `FRI-SUN` works.
fn value(field: Field, text: &str, range_end: bool) -> Result<u32, String> {
    let (min, max) = field.range();
    if let Ok(n) = text.parse::<u32>() {
        return if (min..=max).contains(&n) {
            Ok(n)
        } else {
            Err(format!("{} field {n} is out of range {min}-{max}", field.name()))
        };
    }
    if let Some(index) = field.names().iter().position(|n| *n == text) {
        let v = field.name_value(index);
        return Ok(if field == Field::DayOfWeek && range_end && v == 0 { 7 } else { v });
    }
    let names = match field {
        Field::Month => ", or a name JAN-DEC",
        Field::DayOfWeek => ", or a name SUN-SAT",
        _ => "",
    };
    Err(format!("{} field: '{text}' is not a number {min}-{max}{names}", field.name()))
}

fn mask(lo: u32, hi: u32, step: u32) -> u64 {
    (lo..=hi).step_by(step as usize).fold(0u64, |m, v| m | (1 << v))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    /// The next `n` fires as RFC 3339 strings in the schedule's zone.
    fn next(expr: &str, tz: &str, after: &str, n: usize) -> Vec<String> {
        let s = Schedule::parse(expr, tz).unwrap_or_else(|e| panic!("{e}"));
        s.iter_after(utc(after)).take(n).map(|f| f.local.to_rfc3339_opts(SecondsFormat::Secs, false)).collect()
    }

    fn err(expr: &str) -> String {
        Schedule::parse(expr, "UTC").unwrap_err().to_string()
    }

    const AFTER: &str = "2026-02-26T10:07:00Z"; // a Thursday

    #[test]
    fn issue_example_dom_or_dow() {
        assert_eq!(
            next("0 0 1 * 1", "UTC", AFTER, 5),
            [
                "2026-03-01T00:00:00+00:00",
                "2026-03-02T00:00:00+00:00",
                "2026-03-09T00:00:00+00:00",
                "2026-03-16T00:00:00+00:00",
                "2026-03-23T00:00:00+00:00"
            ]
        );
    }

    #[test]
    fn every_minute_and_steps() {
        assert_eq!(next("* * * * *", "UTC", AFTER, 2), ["2026-02-26T10:08:00+00:00", "2026-02-26T10:09:00+00:00"]);
        assert_eq!(next("*/15 * * * *", "UTC", AFTER, 2), ["2026-02-26T10:15:00+00:00", "2026-02-26T10:30:00+00:00"]);
        assert_eq!(next("0/15 * * * *", "UTC", AFTER, 2), ["2026-02-26T10:15:00+00:00", "2026-02-26T10:30:00+00:00"]);
        assert_eq!(
            next("5/20 * * * *", "UTC", AFTER, 3),
            ["2026-02-26T10:25:00+00:00", "2026-02-26T10:45:00+00:00", "2026-02-26T11:05:00+00:00"]
        );
        assert_eq!(
            next("10-30/10 * * * *", "UTC", AFTER, 3),
            ["2026-02-26T10:10:00+00:00", "2026-02-26T10:20:00+00:00", "2026-02-26T10:30:00+00:00"]
        );
        assert_eq!(next("0 */6 * * *", "UTC", AFTER, 2), ["2026-02-26T12:00:00+00:00", "2026-02-26T18:00:00+00:00"]);
        assert_eq!(next("*/90 * * * *", "UTC", AFTER, 2), ["2026-02-26T11:00:00+00:00", "2026-02-26T12:00:00+00:00"]);
    }

    #[test]
    fn live_data_window() {
        assert_eq!(
            next("*/15 9-20 * * *", "UTC", "2026-02-26T20:40:00Z", 3),
            ["2026-02-26T20:45:00+00:00", "2026-02-27T09:00:00+00:00", "2026-02-27T09:15:00+00:00"]
        );
        assert_eq!(next("*/15 9-20 * * *", "UTC", "2026-02-26T08:59:59Z", 1), ["2026-02-26T09:00:00+00:00"]);
    }

    #[test]
    fn shipped_schedules() {
        assert_eq!(next("0 6 * * *", "UTC", AFTER, 2), ["2026-02-27T06:00:00+00:00", "2026-02-28T06:00:00+00:00"]);
        // 2026-03-01 is a Sunday.
        assert_eq!(next("0 23 * * 0", "UTC", AFTER, 2), ["2026-03-01T23:00:00+00:00", "2026-03-08T23:00:00+00:00"]);
        assert_eq!(
            next("0 3 1 * *", "UTC", AFTER, 3),
            ["2026-03-01T03:00:00+00:00", "2026-04-01T03:00:00+00:00", "2026-05-01T03:00:00+00:00"]
        );
    }

    #[test]
    fn sunday_as_seven_and_names() {
        let sunday = ["2026-03-01T00:00:00+00:00", "2026-03-08T00:00:00+00:00"];
        assert_eq!(next("0 0 * * 7", "UTC", AFTER, 2), sunday);
        assert_eq!(next("0 0 * * 0", "UTC", AFTER, 2), sunday);
        assert_eq!(next("0 0 * * sun", "UTC", AFTER, 2), sunday);
        // Fri 27, Sat 28 Feb, Sun 1 Mar.
        assert_eq!(
            next("0 0 * * FRI-SUN", "UTC", AFTER, 3),
            ["2026-02-27T00:00:00+00:00", "2026-02-28T00:00:00+00:00", "2026-03-01T00:00:00+00:00"]
        );
        assert_eq!(next("0 0 * * 5-7", "UTC", AFTER, 3), next("0 0 * * FRI-SUN", "UTC", AFTER, 3));
        // Fri 27 Feb, Mon 2 Mar.
        assert_eq!(
            next("30 8 * * MON-FRI", "UTC", AFTER, 2),
            ["2026-02-27T08:30:00+00:00", "2026-03-02T08:30:00+00:00"]
        );
        assert_eq!(
            next("0 12 * * MON,WED", "UTC", AFTER, 2),
            ["2026-03-02T12:00:00+00:00", "2026-03-04T12:00:00+00:00"]
        );
        assert_eq!(next("0 0 1 JAN *", "UTC", AFTER, 2), ["2027-01-01T00:00:00+00:00", "2028-01-01T00:00:00+00:00"]);
        assert_eq!(
            next("0 0 15 mar-may *", "UTC", AFTER, 3),
            ["2026-03-15T00:00:00+00:00", "2026-04-15T00:00:00+00:00", "2026-05-15T00:00:00+00:00"]
        );
        assert_eq!(
            next("0 0 1 */4 *", "UTC", AFTER, 3),
            ["2026-05-01T00:00:00+00:00", "2026-09-01T00:00:00+00:00", "2027-01-01T00:00:00+00:00"]
        );
    }

    #[test]
    fn last_and_nth() {
        assert_eq!(
            next("0 0 L * *", "UTC", AFTER, 3),
            ["2026-02-28T00:00:00+00:00", "2026-03-31T00:00:00+00:00", "2026-04-30T00:00:00+00:00"]
        );
        // Second Fridays: 13 Mar, 10 Apr, 8 May 2026.
        assert_eq!(
            next("0 0 * * 5#2", "UTC", AFTER, 3),
            ["2026-03-13T00:00:00+00:00", "2026-04-10T00:00:00+00:00", "2026-05-08T00:00:00+00:00"]
        );
        assert_eq!(next("0 0 * * FRI#2", "UTC", AFTER, 1), ["2026-03-13T00:00:00+00:00"]);
        // Last Fridays: 27 Feb, 27 Mar, 24 Apr 2026.
        assert_eq!(
            next("0 0 * * 5L", "UTC", "2026-02-26T00:00:00Z", 3),
            ["2026-02-27T00:00:00+00:00", "2026-03-27T00:00:00+00:00", "2026-04-24T00:00:00+00:00"]
        );
        // Leap days only.
        assert_eq!(next("0 0 29 2 *", "UTC", AFTER, 2), ["2028-02-29T00:00:00+00:00", "2032-02-29T00:00:00+00:00"]);
        // 31st: skips 30-day months.
        assert_eq!(
            next("0 0 31 * *", "UTC", AFTER, 3),
            ["2026-03-31T00:00:00+00:00", "2026-05-31T00:00:00+00:00", "2026-07-31T00:00:00+00:00"]
        );
    }

    #[test]
    fn day_fields_or_and_star_prefixed_and() {
        // Both restricted: OR. The 13th or Fridays: Fri 27 Feb, Fri 6 Mar, Fri 13 Mar.
        assert_eq!(
            next("0 0 13 * 5", "UTC", AFTER, 3),
            ["2026-02-27T00:00:00+00:00", "2026-03-06T00:00:00+00:00", "2026-03-13T00:00:00+00:00"]
        );
        // Star-prefixed day-of-month: AND (Vixie). Odd days that are Mondays: 9, 23 Mar, 13 Apr.
        assert_eq!(
            next("0 0 */2 * 1", "UTC", AFTER, 3),
            ["2026-03-09T00:00:00+00:00", "2026-03-23T00:00:00+00:00", "2026-04-13T00:00:00+00:00"]
        );
        // Star-prefixed day-of-week: AND too. The 1st when it is a Sun/Tue/Thu/Sat: 1 Mar (Sun),
        // then 1 Aug (Sat); 1 Apr-1 Jul are Wed, Fri, Mon, Wed.
        assert_eq!(next("0 0 1 * */2", "UTC", AFTER, 2), ["2026-03-01T00:00:00+00:00", "2026-08-01T00:00:00+00:00"]);
        assert_eq!(next("0 0 1-7 * 1", "UTC", AFTER, 2), ["2026-03-01T00:00:00+00:00", "2026-03-02T00:00:00+00:00"]);
    }

    #[test]
    fn lists_and_nicknames() {
        assert_eq!(
            next("0,30 9,17 * * *", "UTC", AFTER, 3),
            ["2026-02-26T17:00:00+00:00", "2026-02-26T17:30:00+00:00", "2026-02-27T09:00:00+00:00"]
        );
        assert_eq!(next("@daily", "UTC", AFTER, 1), ["2026-02-27T00:00:00+00:00"]);
        assert_eq!(next("@hourly", "UTC", AFTER, 1), ["2026-02-26T11:00:00+00:00"]);
        assert_eq!(next("@weekly", "UTC", AFTER, 1), ["2026-03-01T00:00:00+00:00"]);
        assert_eq!(next("@monthly", "UTC", AFTER, 1), ["2026-03-01T00:00:00+00:00"]);
        assert_eq!(next("@yearly", "UTC", AFTER, 1), ["2027-01-01T00:00:00+00:00"]);
    }

    #[test]
    fn other_zones() {
        // 06:00 in London is 06:00Z in winter and 05:00Z in summer.
        assert_eq!(
            next("0 6 * * *", "Europe/London", "2026-03-28T12:00:00Z", 2),
            ["2026-03-29T06:00:00+01:00", "2026-03-30T06:00:00+01:00"]
        );
        // 10:07Z is 05:07 in New York.
        assert_eq!(next("0 9 * * *", "America/New_York", AFTER, 1), ["2026-02-26T09:00:00-05:00"]);
        assert_eq!(next("0 0 * * *", "Asia/Kolkata", AFTER, 1), ["2026-02-27T00:00:00+05:30"]);
    }

    #[test]
    fn fixed_time_in_gap_fires_once_after_it() {
        let s = Schedule::parse("30 1 * * *", "Europe/London").unwrap();
        let fires: Vec<Fire> = s.iter_after(utc("2026-03-27T12:00:00Z")).take(3).collect();
        let text: Vec<String> = fires.iter().map(|f| f.to_string()).collect();
        assert_eq!(
            text,
            [
                "2026-03-28T01:30:00+00:00",
                "2026-03-29T02:00:00+01:00  # DST gap: 01:30 does not exist, fires at 02:00 BST",
                "2026-03-30T01:30:00+01:00",
            ]
        );
        assert_eq!(fires[1].at, utc("2026-03-29T01:00:00Z"));
    }

    #[test]
    fn fixed_time_in_fold_fires_once_at_first() {
        let s = Schedule::parse("30 1 * * *", "Europe/London").unwrap();
        let text: Vec<String> = s.iter_after(utc("2026-10-23T12:00:00Z")).take(3).map(|f| f.to_string()).collect();
        assert_eq!(
            text,
            [
                "2026-10-24T01:30:00+01:00",
                "2026-10-25T01:30:00+01:00  # DST fold: 01:30 happens twice, fires at the first (BST)",
                "2026-10-26T01:30:00+00:00",
            ]
        );
        // Starting inside the fold, after the first 01:30, the repeat is not a fire.
        assert_eq!(s.next_after(utc("2026-10-25T00:45:00Z")).unwrap().at, utc("2026-10-26T01:30:00Z"));
    }

    #[test]
    fn several_fixed_times_in_one_gap_fire_once() {
        let s = Schedule::parse("0,30 1 * * *", "Europe/London").unwrap();
        let fires = s.fires_between(utc("2026-03-28T12:00:00Z"), utc("2026-03-29T12:00:00Z"));
        assert_eq!(fires.len(), 1);
        assert_eq!(fires[0].at, utc("2026-03-29T01:00:00Z"));
        assert!(matches!(fires[0].note, Some(DstNote::Gap { .. })));
    }

    #[test]
    fn wildcard_runs_by_the_clock() {
        // Gap: 01:00-01:59 skipped; every real hour still gets one run.
        let s = Schedule::parse("30 * * * *", "Europe/London").unwrap();
        let gap: Vec<DateTime<Utc>> =
            s.fires_between(utc("2026-03-29T00:00:00Z"), utc("2026-03-29T03:00:00Z")).iter().map(|f| f.at).collect();
        assert_eq!(gap, [utc("2026-03-29T00:30:00Z"), utc("2026-03-29T01:30:00Z"), utc("2026-03-29T02:30:00Z")]);
        // Fold: 01:30 fires at both occurrences, in real-time order.
        let fold = s.fires_between(utc("2026-10-24T23:00:00Z"), utc("2026-10-25T02:00:00Z"));
        let at: Vec<DateTime<Utc>> = fold.iter().map(|f| f.at).collect();
        assert_eq!(at, [utc("2026-10-24T23:30:00Z"), utc("2026-10-25T00:30:00Z"), utc("2026-10-25T01:30:00Z")]);
        assert_eq!(fold[2].note, Some(DstNote::Repeated { scheduled: fold[2].local.naive_local(), second: true }));
        // Fires keep real-time order with a fine step through the fold.
        let every = Schedule::parse("*/20 * * * *", "Europe/London").unwrap();
        let fires = every.fires_between(utc("2026-10-24T23:50:00Z"), utc("2026-10-25T01:50:00Z"));
        assert_eq!(fires.len(), 6);
        assert!(fires.windows(2).all(|w| w[1].at - w[0].at == Duration::minutes(20)));
    }

    #[test]
    fn fires_between_is_half_open() {
        let s = Schedule::parse("0 * * * *", "UTC").unwrap();
        let fires = s.fires_between(utc("2026-02-26T10:00:00Z"), utc("2026-02-26T13:00:00Z"));
        let at: Vec<DateTime<Utc>> = fires.iter().map(|f| f.at).collect();
        assert_eq!(at, [utc("2026-02-26T11:00:00Z"), utc("2026-02-26T12:00:00Z"), utc("2026-02-26T13:00:00Z")]);
        assert!(s.fires_between(utc("2026-02-26T10:00:00Z"), utc("2026-02-26T10:59:59Z")).is_empty());
    }

    #[test]
    fn errors_say_what_is_wrong() {
        assert_eq!(err("61 * * * *"), "invalid cron expression '61 * * * *': minute field 61 is out of range 0-59");
        assert!(err("0 24 * * *").contains("hour field 24 is out of range 0-23"));
        assert!(err("0 0 0 * *").contains("day-of-month field 0 is out of range 1-31"));
        assert!(err("0 0 * 13 *").contains("month field 13 is out of range 1-12"));
        assert!(err("0 0 * * 8").contains("day-of-week field 8 is out of range 0-7"));
        assert!(err("0 0 * * *  *").contains("found 6: seconds and years are not supported"));
        assert!(err("0 0 *").contains("expected 5 fields"));
        assert!(err("*/0 * * * *").contains("step must be at least 1"));
        assert!(err("0 0 * * MOX").contains("'MOX' is not a number 0-7, or a name SUN-SAT"));
        assert!(err("0 0 * JANUARY *").contains("'JANUARY'"));
        assert!(err("0 5-1 * * *").contains("runs backwards"));
        assert!(err("0 0 31 2 *").contains("never fire"));
        assert!(err("0 0 * * 5#6").contains("must be 1-5"));
        assert!(err("0 0 1,,2 * *").contains("empty list item"));
        assert!(err("@reboot").contains("unknown nickname"));
        assert!(err("").contains("expected 5 fields"));
        assert_eq!(
            Schedule::parse("0 0 * * *", "Europe/Lndon").unwrap_err().to_string(),
            "unknown time zone 'Europe/Lndon': use an IANA name such as UTC or Europe/London"
        );
    }

    #[test]
    fn check_expression_contract() {
        assert_eq!(check_expression("*/15 9-20 * * *", "UTC"), Ok(()));
        assert_eq!(check_expression("30 1 * * *", "Europe/London"), Ok(()));
        assert!(check_expression("99 * * * *", "UTC").unwrap_err().contains("minute field 99"));
        assert!(check_expression("* * * * *", "Mars/Olympus").unwrap_err().contains("Mars/Olympus"));
    }

    #[test]
    fn preview_prints_the_fires_and_names_jobs() {
        let config = Config::default();
        let args = |expr: Option<&str>, job: Option<&str>| ScheduleArgs {
            expr: expr.map(str::to_string),
            job: job.map(str::to_string),
            tz: None,
            after: Some("2026-02-26T10:07:00Z".into()),
            count: 2,
        };
        let now = utc("2020-01-01T00:00:00Z");
        assert_eq!(
            preview(&args(Some("0 0 1 * 1"), None), &config, now).unwrap(),
            "2026-03-01T00:00:00+00:00\n2026-03-02T00:00:00+00:00\n"
        );
        assert_eq!(
            preview(&args(None, Some("monthly_reference")), &config, now).unwrap(),
            "2026-03-01T03:00:00+00:00\n2026-04-01T03:00:00+00:00\n"
        );
        // --tz with --job shows the job's own fire times in that zone; it does not move them.
        let mut london = args(None, Some("daily_data"));
        london.tz = Some("Europe/London".into());
        london.after = Some("2026-06-01T00:00:00Z".into());
        assert_eq!(preview(&london, &config, now).unwrap(), "2026-06-01T07:00:00+01:00\n2026-06-02T07:00:00+01:00\n");
        let unknown = preview(&args(None, Some("nope")), &config, now).unwrap_err().to_string();
        assert!(unknown.contains("unknown job 'nope'") && unknown.contains("daily_data, live_data"), "{unknown}");
        let mut bad_after = args(Some("* * * * *"), None);
        bad_after.after = Some("yesterday".into());
        assert!(preview(&bad_after, &config, now).unwrap_err().to_string().contains("--after 'yesterday'"));
        let mut default_now = args(Some("0 0 * * *"), None);
        default_now.after = None;
        assert_eq!(preview(&default_now, &config, now).unwrap().lines().next(), Some("2020-01-02T00:00:00+00:00"));
    }

    #[test]
    fn day_of_month_weekday_check_uses_dates() {
        // Sanity check of the calendar facts the answers above rely on.
        use chrono::Datelike;
        let d = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap().weekday();
        assert_eq!(d("2026-03-01"), chrono::Weekday::Sun);
        assert_eq!(d("2026-02-26"), chrono::Weekday::Thu);
        assert_eq!(d("2026-03-13"), chrono::Weekday::Fri);
        assert_eq!(d("2026-04-13"), chrono::Weekday::Mon);
        assert_eq!(d("2026-08-01"), chrono::Weekday::Sat);
    }
}
