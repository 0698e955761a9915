//! `quality`: is the stored data right? Row counts per table and racing day, orphans, duplicate
//! races, required columns that are NULL, regions not configured, overdue results, results
//! without a winner or with a runner count that disagrees with the declared field, impossible
//! values, and racing days with no racecards or no results (a day the API showed blank is not a
//! gap). Each check has a stable name, a rule from `quality.*` and a level; a warning or worse
//! exits 1. `--calendar` draws the checked days month by month. docs/quality.md is the reference.
//!
//! The store finds rows (`store::quality`, the same SQL on both backends); what they mean, how
//! many are allowed and how bad they are is decided here, once.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{Datelike, Duration, NaiveDate};
use serde::{Deserialize, Serialize};

use super::checks::{Check, Level};
use super::{Job, JobContext, JobReport, Needs, UpdateJob};
use crate::config::{CheckRule, Config};
use crate::error::{Error, Result};
use crate::model::Kind;
use crate::store::quality::{self as probes, DayCounts, Found, Probe, ProbeScope, ResultedRace};
use crate::store::{Coverage, CoverageStatus};

/// The most rows or days a check names; its detail gives the count of all.
pub const SUBJECTS: u32 = 10;

/// The `quality` job.
pub type Quality = Job<QualityOptions>;

/// What a `quality` run checks: `darkhorses quality`'s flags, or an interval's `args`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QualityOptions {
    /// First racing day checked; default: the last `quality.window_days` days, today included.
    pub since: Option<NaiveDate>,
    /// Draw the checked days month by month above the checks.
    pub calendar: bool,
    /// Open the database as a dry run does (never created, never migrated); the run is recorded
    /// as a dry run.
    pub dry_run: bool,
}

impl Quality {
    pub const NAME: &'static str = "quality";
    pub const ABOUT: &'static str =
        "Check the stored data: orphans, duplicates, missing values, overdue results, gaps (exit 1 on findings)";
}

#[async_trait]
impl UpdateJob for Quality {
    super::builtin_job!(needs: Needs { store: true, api: false });

    async fn run(&self, ctx: &JobContext) -> Result<JobReport> {
        let store = ctx.store()?;
        let config = &ctx.config;
        let rules = &config.quality;
        let now = ctx.clock.now();
        let today = ctx.clock.racing_day();
        let (since, window) = match self.options.since {
            Some(since) if since > today => {
                return Err(Error::Usage(format!(
                    "--since {since} is after today's racing day ({today}): give an earlier date"
                )));
            }
            Some(since) => (since, "--since".to_string()),
            None => {
                let back = i64::from(rules.window_days.max(1)) - 1;
                (today - Duration::days(back), format!("the last {} days, quality.window_days", rules.window_days))
            }
        };
        let scope = ProbeScope {
            from: since,
            to: today,
            today,
            now,
            grace_cutoff: now - Duration::minutes(i64::from(rules.result_grace_minutes)),
            regions: crate::store::region_codes(&config.api.regions).join(",").to_ascii_uppercase(),
            limit: SUBJECTS,
        };
        let scope = &scope;
        let run = |probe: Probe| async move { store.probe(&probe, scope).await };

        let tables = store.table_counts().await?;
        let counts = store.day_counts(since, today).await?;
        let known = store.known_range().await?;
        let cards = store.coverage(Kind::Racecards, since, today).await?;
        let results = store.coverage(Kind::Results, since, today).await?;
        let resulted = store.resulted_races(since, today).await?;
        let covered = known.map(|(first, last)| (first.max(since), last.min(today))).filter(|(a, b)| a <= b);
        let days = calendar_days(config, since, today, covered, &counts, &cards, &results);

        let mut checks = vec![counts_of_tables(&tables), counts_of_days(&counts)];
        let whole = "(whole table: such a runner has no date)";
        checks.push(judge(
            "orphans.runners",
            rules.orphans,
            &run(probes::RUNNERS_WITHOUT_RACES).await?,
            &format!("runners whose race_id has no races row {whole}"),
        ));
        checks.push(judge(
            "orphans.races",
            rules.orphans,
            &run(probes::RACES_WITHOUT_COURSES).await?,
            "races whose course_id has no courses row",
        ));
        checks.push(judge(
            "orphans.entities",
            rules.orphans,
            &run(probes::ENTITIES_WITHOUT_ROWS).await?,
            "runners naming a horse, jockey, trainer, owner, sire, dam or damsire id with no row in its table",
        ));
        checks.push(judge(
            "duplicates.races",
            rules.duplicates,
            &run(probes::DUPLICATE_RACES).await?,
            "races stored under more than one id (same course, off time and race name)",
        ));
        checks.push(judge(
            "missing.races",
            rules.missing,
            &run(probes::RACES_MISSING_FIELDS).await?,
            "races without course_id, course_name, off_at, region, race_name or race_type",
        ));
        checks.push(judge(
            "missing.runners",
            rules.missing,
            &run(probes::RUNNERS_MISSING_FIELDS).await?,
            "runners without horse_name, or listed in a result without position",
        ));
        checks.push(if scope.regions.is_empty() {
            Check::ok("regions.races", "every region is configured (api.regions is empty)")
        } else {
            judge(
                "regions.races",
                rules.regions,
                &run(probes::RACES_OUTSIDE_REGIONS).await?,
                &format!("races of a region other than api.regions ({})", scope.regions),
            )
        });
        checks.push(judge(
            "results.overdue",
            rules.results,
            &run(probes::RESULTS_OVERDUE).await?,
            &format!(
                "races without a result more than {} minutes after their off time (quality.result_grace_minutes)",
                rules.result_grace_minutes
            ),
        ));
        checks.push(judge(
            "results.no_winner",
            rules.results,
            &no_winner(&resulted),
            "races with a result and no winner (no runner with finish_position 1)",
        ));
        checks.push(judge(
            "results.runner_count",
            rules.results,
            &runner_count(&resulted),
            "races whose result lists another number of runners than the declared field less non-runners",
        ));
        checks.push(judge(
            "values.weights",
            rules.values,
            &run(probes::IMPOSSIBLE_WEIGHTS).await?,
            "runners with weight_lbs of 0 or less",
        ));
        checks.push(judge(
            "values.sp",
            rules.values,
            &run(probes::IMPOSSIBLE_SP).await?,
            "runners with sp_decimal below 1",
        ));
        checks.push(judge(
            "values.future_results",
            rules.values,
            &run(probes::FUTURE_RESULTS).await?,
            "races with a result that are yet to run (a later racing day, or an off time after now)",
        ));
        checks.push(gaps(rules.coverage, known, since, today, covered, &days));

        let mut report = self.new_report(ctx);
        report.notes.push(format!(
            "checked racing days {since} to {today} ({window}); runners without races over the whole table"
        ));
        if self.options.calendar {
            report.preamble = Some(render_calendar(&days));
        }
        let figures = Figures { since, until: today, window, covered: covered.map(Range::from), tables, days };
        report.figures = Some(
            serde_json::to_value(&figures)
                .map_err(|e| Error::Fatal(format!("could not render the quality figures as JSON: {e}")))?,
        );
        report.checks = checks;
        Ok(report)
    }
}

/// A check from what a probe found: `ok` up to `rule.allowed` findings, `rule.severity` beyond.
fn judge(name: &str, rule: CheckRule, found: &Found, what: &str) -> Check {
    let (level, tolerated) = match found.total {
        0 => (Level::Ok, String::new()),
        n if n <= rule.allowed => (Level::Ok, format!(" (at most {} allowed)", rule.allowed)),
        _ => (rule.severity, String::new()),
    };
    Check::new(name, level, format!("{} {what}{tolerated}", found.total)).with_subjects(found.subjects.clone())
}

/// Row counts of the data tables (informational).
fn counts_of_tables(tables: &BTreeMap<String, i64>) -> Check {
    const SHOWN: [&str; 9] =
        ["races", "runners", "runner_odds", "horses", "jockeys", "trainers", "owners", "courses", "fetch_coverage"];
    let shown: Vec<String> =
        SHOWN.iter().map(|t| format!("{t} {}", tables.get(*t).copied().unwrap_or_default())).collect();
    Check::ok("counts.tables", format!("rows: {}", shown.join(", ")))
}

/// Races, runners and results per racing day in the window, and how the days compare (informational).
fn counts_of_days(days: &[DayCounts]) -> Check {
    let (Some(first), Some(last)) = (days.first(), days.last()) else {
        return Check::ok("counts.days", "no races stored in the checked days");
    };
    let sum = |f: fn(&DayCounts) -> i64| days.iter().map(f).sum::<i64>();
    let (races, runners, results) = (sum(|d| d.races), sum(|d| d.runners), sum(|d| d.results));
    let fewest = days.iter().min_by_key(|d| (d.races, d.date)).unwrap_or(first);
    let most = days.iter().max_by_key(|d| (d.races, std::cmp::Reverse(d.date))).unwrap_or(first);
    Check::ok(
        "counts.days",
        format!(
            "{n} racing days from {from} to {to}: {races} races ({results} with a result), {runners} runners; \
             races a day {min} ({min_day}) to {max} ({max_day}), {mean:.1} on average, {latest} on {to}",
            n = days.len(),
            from = first.date,
            to = last.date,
            min = fewest.races,
            min_day = fewest.date,
            max = most.races,
            max_day = most.date,
            mean = races as f64 / days.len() as f64,
            latest = last.races,
        ),
    )
}

/// Races with a result and no winner.
fn no_winner(races: &[ResultedRace]) -> Found {
    found(races.iter().filter(|r| r.winners == 0).map(|r| format!("{} ({})", r.id, r.race_date)))
}

/// Races whose result lists another number of runners than the declared field less non-runners.
fn runner_count(races: &[ResultedRace]) -> Found {
    found(races.iter().filter_map(|r| {
        let field = r.field_size?;
        let non_runners = probes::count_non_runners(r.non_runners.as_deref());
        (r.result_runners != field - non_runners).then(|| {
            format!(
                "{} ({}): {} in the result, field {field} less {non_runners} non-runners",
                r.id, r.race_date, r.result_runners
            )
        })
    }))
}

/// Subjects as a probe would give them: the count of all, the first [`SUBJECTS`] named.
fn found(subjects: impl Iterator<Item = String>) -> Found {
    let all: Vec<String> = subjects.collect();
    Found { total: all.len() as u64, subjects: all.into_iter().take(SUBJECTS as usize).collect() }
}

/// `coverage.gaps`: the covered days with no racecards or no results, or no covered day at all.
fn gaps(
    rule: CheckRule,
    known: Option<(NaiveDate, NaiveDate)>,
    since: NaiveDate,
    today: NaiveDate,
    covered: Option<(NaiveDate, NaiveDate)>,
    days: &[Day],
) -> Check {
    let Some((from, to)) = covered else {
        let why = match known {
            None => {
                "the database holds no racing days yet: run `darkhorses daily` or `darkhorses backfill`".to_string()
            }
            Some((first, last)) => format!("stored racing days run from {first} to {last}"),
        };
        let level = if rule.allowed >= 1 { Level::Ok } else { rule.severity };
        return Check::new("coverage.gaps", level, format!("no stored racing day from {since} to {today}: {why}"));
    };
    let blank = days.iter().filter(|d| d.state == DayState::Blank).count();
    let found = found(days.iter().filter_map(|d| d.gap.as_ref().map(|why| format!("{} {why}", d.date))));
    judge(
        "coverage.gaps",
        rule,
        &found,
        &format!("racing days from {from} to {to} with no racecards or no results ({blank} blank days, not gaps)"),
    )
}

/// What a checked day holds, as the calendar marks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DayState {
    /// `R`: racecards and results.
    RacecardsAndResults,
    /// `c`: racecards, results not due (today's, or every race abandoned).
    RacecardsOnly,
    /// `r`: results, and racecards the plan cannot fetch for that day.
    ResultsOnly,
    /// `.`: no racing: the API showed the day blank.
    Blank,
    /// `!`: racecards or results missing.
    Gap,
    /// ` `: before the first or after the last stored racing day.
    NotCovered,
}

impl DayState {
    pub fn mark(self) -> char {
        match self {
            DayState::RacecardsAndResults => 'R',
            DayState::RacecardsOnly => 'c',
            DayState::ResultsOnly => 'r',
            DayState::Blank => '.',
            DayState::Gap => '!',
            DayState::NotCovered => ' ',
        }
    }
}

/// One checked racing day: its counts, its fetches, its state (the calendar's JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Day {
    pub date: NaiveDate,
    pub races: i64,
    pub racecards: i64,
    pub results: i64,
    pub abandoned: i64,
    pub runners: i64,
    /// `fetch_coverage.status` of the day's racecards and results, when fetched.
    pub racecards_fetch: Option<CoverageStatus>,
    pub results_fetch: Option<CoverageStatus>,
    pub state: DayState,
    pub mark: String,
    /// Why the day is a gap (`no results`), when it is one.
    pub gap: Option<String>,
}

/// Every day from `since` to `today`, judged: racecards are expected where the plan can fetch
/// them (and `features.skip_racecards` is off), results for days before today with a race not
/// abandoned (unless `features.skip_results`); a day with no races that a fetch found empty is blank.
fn calendar_days(
    config: &Config,
    since: NaiveDate,
    today: NaiveDate,
    covered: Option<(NaiveDate, NaiveDate)>,
    counts: &[DayCounts],
    cards: &[Coverage],
    results: &[Coverage],
) -> Vec<Day> {
    let counts: BTreeMap<NaiveDate, &DayCounts> = counts.iter().map(|c| (c.date, c)).collect();
    let cards: BTreeMap<NaiveDate, &Coverage> = cards.iter().map(|c| (c.race_date, c)).collect();
    let results: BTreeMap<NaiveDate, &Coverage> = results.iter().map(|c| (c.race_date, c)).collect();
    let cards_window = crate::api::plan::racecards_window(config.api.plan, today);
    let expect_cards =
        |d: NaiveDate| !config.features.skip_racecards && cards_window.is_some_and(|(a, b)| a <= d && d <= b);
    since
        .iter_days()
        .take_while(|d| *d <= today)
        .map(|date| {
            let c = counts.get(&date).copied().copied().unwrap_or(DayCounts {
                date,
                races: 0,
                racecards: 0,
                results: 0,
                abandoned: 0,
                runners: 0,
            });
            let (card_fetch, result_fetch) = (cards.get(&date).copied(), results.get(&date).copied());
            let in_range = covered.is_some_and(|(a, b)| a <= date && date <= b);
            let blank = c.races == 0
                && (card_fetch.is_some_and(|f| f.status == CoverageStatus::Empty)
                    || result_fetch.is_some_and(|f| f.status == CoverageStatus::Empty && f.day_over));
            let mut missing = Vec::new();
            if in_range && !blank {
                let failed = |f: Option<&Coverage>| match f {
                    Some(f) if f.status == CoverageStatus::Failed => {
                        format!(" (fetch failed: {})", f.error.as_deref().unwrap_or("no error recorded"))
                    }
                    _ => String::new(),
                };
                if c.racecards == 0 && (expect_cards(date) || c.results == 0) {
                    missing.push(format!("no racecards{}", failed(card_fetch)));
                }
                let due = date < today && !config.features.skip_results && c.races > c.abandoned;
                if c.results == 0 && (due || c.racecards == 0) {
                    missing.push(format!("no results{}", failed(result_fetch)));
                }
            }
            let state = match (in_range, blank, missing.is_empty(), c.racecards > 0, c.results > 0) {
                (false, ..) => DayState::NotCovered,
                (true, true, ..) => DayState::Blank,
                (true, false, false, ..) => DayState::Gap,
                (true, false, true, true, true) => DayState::RacecardsAndResults,
                (true, false, true, true, false) => DayState::RacecardsOnly,
                (true, false, true, false, _) => DayState::ResultsOnly,
            };
            Day {
                date,
                races: c.races,
                racecards: c.racecards,
                results: c.results,
                abandoned: c.abandoned,
                runners: c.runners,
                racecards_fetch: card_fetch.map(|f| f.status),
                results_fetch: result_fetch.map(|f| f.status),
                state,
                mark: state.mark().to_string(),
                gap: (!missing.is_empty()).then(|| missing.join(", ")),
            }
        })
        .collect()
}

/// The legend of the calendar.
pub const LEGEND: &str =
    "R racecards and results, c racecards only, r results only, . blank day, ! gap, (space) not covered";

/// The days month by month, a week a line (Monday first), each day its number and its mark.
pub fn render_calendar(days: &[Day]) -> String {
    let mut out = format!("calendar: {LEGEND}\n");
    let mut month: Option<(i32, u32)> = None;
    let mut line = String::new();
    for day in days {
        let date = day.date;
        if month != Some((date.year(), date.month())) {
            if !line.is_empty() {
                out.push_str(line.trim_end());
                out.push('\n');
            }
            month = Some((date.year(), date.month()));
            out.push_str(&format!("\n{}\nMo  Tu  We  Th  Fr  Sa  Su\n", date.format("%B %Y")));
            line = "    ".repeat(date.weekday().num_days_from_monday() as usize);
        } else if date.weekday().num_days_from_monday() == 0 {
            out.push_str(line.trim_end());
            out.push('\n');
            line.clear();
        }
        line.push_str(&format!("{:>2}{} ", date.day(), day.state.mark()));
    }
    if !line.is_empty() {
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// A range of racing days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Range {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl From<(NaiveDate, NaiveDate)> for Range {
    fn from((from, to): (NaiveDate, NaiveDate)) -> Self {
        Self { from, to }
    }
}

/// `figures` of a quality report: the window, the covered days, the tables and the calendar.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Figures {
    pub since: NaiveDate,
    pub until: NaiveDate,
    /// Where `since` came from: `--since`, or the default window.
    pub window: String,
    /// The checked days from the first to the last stored racing day; `None` when none is stored.
    pub covered: Option<Range>,
    /// Rows per contract table.
    pub tables: BTreeMap<String, i64>,
    /// Every day from `since` to `until`.
    pub days: Vec<Day>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn day(date: &str, races: i64, racecards: i64, results: i64) -> DayCounts {
        DayCounts { date: d(date), races, racecards, results, abandoned: 0, runners: races * 10 }
    }

    fn coverage(kind: Kind, date: &str, status: CoverageStatus) -> Coverage {
        let error = (status == CoverageStatus::Failed).then(|| "HTTP 500".to_string());
        Coverage { error, ..crate::jobs::units::test_coverage(kind, d(date), status) }
    }

    #[test]
    fn days_are_judged_against_what_the_plan_can_fetch_and_blank_days_are_not_gaps() {
        let config = Config::default(); // pro plan: racecards from 2023 on
        let today = d("2026-12-27");
        let counts = [
            day("2026-12-21", 30, 30, 30),
            day("2026-12-22", 30, 30, 0),
            day("2026-12-23", 30, 0, 30),
            day("2026-12-26", 30, 30, 30),
            day("2026-12-27", 30, 30, 2),
        ];
        let cards = [
            coverage(Kind::Racecards, "2026-12-24", CoverageStatus::Empty),
            coverage(Kind::Racecards, "2026-12-20", CoverageStatus::Failed),
        ];
        let results = [coverage(Kind::Results, "2026-12-25", CoverageStatus::Empty)];
        let covered = Some((d("2026-12-20"), today));
        let days = calendar_days(&config, d("2026-12-19"), today, covered, &counts, &cards, &results);
        let marks: String = days.iter().map(|d| d.state.mark()).collect();
        assert_eq!(marks, " !R!!..RR");
        assert_eq!(days[1].gap.as_deref(), Some("no racecards (fetch failed: HTTP 500), no results"));
        assert_eq!(days[3].gap.as_deref(), Some("no results"));
        assert_eq!(days[4].gap.as_deref(), Some("no racecards"));
        let check = gaps(config.quality.coverage, covered, d("2026-12-19"), today, covered, &days);
        assert_eq!(check.level, Level::Critical);
        assert!(check.detail.starts_with("3 racing days from 2026-12-20 to 2026-12-27"), "{}", check.detail);
        assert!(check.detail.contains("(2 blank days, not gaps)"), "{}", check.detail);
        assert_eq!(check.subjects[1], "2026-12-22 no results");

        // On the standard plan past racecards cannot be fetched: a results-only day is whole.
        let mut standard = Config::default();
        standard.api.plan = crate::config::Plan::Standard;
        let days = calendar_days(&standard, d("2026-12-19"), today, covered, &counts, &cards, &results);
        assert_eq!(days[4].state, DayState::ResultsOnly);
        // Today's results are not due yet, nor those of a day whose every race was abandoned:
        // racecards alone are whole.
        let days = calendar_days(&config, today, today, covered, &[day("2026-12-27", 30, 30, 0)], &[], &[]);
        assert_eq!(days[0].state, DayState::RacecardsOnly);
        let off = DayCounts { abandoned: 7, ..day("2026-12-22", 7, 7, 0) };
        let days = calendar_days(&config, d("2026-12-22"), today, covered, &[off], &[], &[]);
        assert_eq!((days[0].state, days[0].gap.as_deref()), (DayState::RacecardsOnly, None));
    }

    #[test]
    fn a_rule_tolerates_up_to_its_allowed_findings() {
        let found = Found { total: 2, subjects: vec!["rac_1".into(), "rac_2".into()] };
        let strict = CheckRule { severity: Level::Warning, allowed: 0 };
        let check = judge("x.y", strict, &found, "races");
        assert_eq!((check.level, check.detail.as_str()), (Level::Warning, "2 races"));
        assert_eq!(check.subjects, ["rac_1", "rac_2"]);
        let lenient = CheckRule { severity: Level::Critical, allowed: 2 };
        assert_eq!(judge("x.y", lenient, &found, "races").level, Level::Ok);
        assert_eq!(judge("x.y", lenient, &found, "races").detail, "2 races (at most 2 allowed)");
        assert_eq!(judge("x.y", strict, &Found::default(), "races").level, Level::Ok);
    }

    #[test]
    fn results_are_checked_for_a_winner_and_for_their_field_less_non_runners() {
        let race = |id: &str, field: Option<i64>, nr: &str, ran: i64, winners: i64| ResultedRace {
            id: id.into(),
            race_date: d("2026-03-01"),
            field_size: field,
            non_runners: Some(nr.into()),
            result_runners: ran,
            winners,
        };
        let races = [
            race("rac_ok", Some(10), "A (vet's certificate), B (self certificate, coughing)", 8, 1),
            race("rac_no_card", None, "", 7, 1),
            race("rac_dead_heat", Some(6), "", 6, 2),
            race("rac_short", Some(10), "A (going)", 8, 1),
            race("rac_no_winner", Some(5), "", 5, 0),
        ];
        assert_eq!(no_winner(&races).subjects, ["rac_no_winner (2026-03-01)"]);
        let counted = runner_count(&races);
        assert_eq!(counted.total, 1);
        assert_eq!(counted.subjects, ["rac_short (2026-03-01): 8 in the result, field 10 less 1 non-runners"]);
    }

    #[test]
    fn the_calendar_draws_weeks_monday_first_a_month_at_a_time() {
        let config = Config::default();
        let counts = [day("2026-02-27", 30, 30, 30), day("2026-03-02", 30, 30, 0)];
        let days = calendar_days(
            &config,
            d("2026-02-27"),
            d("2026-03-03"),
            Some((d("2026-02-27"), d("2026-03-02"))),
            &counts,
            &[],
            &[],
        );
        let text = render_calendar(&days);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("calendar: R racecards and results"), "{text}");
        assert_eq!(lines[2], "February 2026");
        assert_eq!(lines[3], "Mo  Tu  We  Th  Fr  Sa  Su");
        // 2026-02-27 is a Friday; the 28th is a gap (nothing stored, not blank).
        assert_eq!(lines[4], "                27R 28!");
        assert_eq!(lines[6], "March 2026");
        assert_eq!(lines[8], "                         1!");
        // The 3rd is after the last stored day: not covered, drawn blank.
        assert_eq!(lines[9], " 2!  3");
    }
}
