//! `live`: today's racecards (non-runners, jockey changes, going, odds) and results as they are
//! declared (the original's `update_live_data.py`), spending calls only when they can bring
//! something new.
//!
//! Every run decides from the data, not from the schedule that started it: today's racecards are
//! fetched once if they never were (so a fresh database needs no `daily` first), then refreshed at
//! a cadence that tightens as the next off time nears, and results are fetched only when a stored
//! race's result has fallen due and is not stored yet. Each decision is a line in the report.

use async_trait::async_trait;
use chrono::{DateTime, Duration, NaiveDate, Utc};

use super::units::{UnitKey, run_units};
use super::{Job, JobContext, JobReport, Progress, UpdateJob};
use crate::config::Config;
use crate::error::Result;
use crate::model::Kind;
use crate::store::{Coverage, CoverageStatus, RaceState};

/// Minutes after the off a race's result is usually published (the sandbox publishes at exactly
/// this delay; the real API is close to it). A result is not asked for before it is due.
pub const RESULT_DELAY_MINUTES: i64 = 10;

/// Minutes before asking again for results that were due at the last fetch but not in it (a
/// photo finish, a stewards' inquiry, a slow feed): late results are retried, not polled.
pub const LATE_RESULT_RETRY_MINUTES: i64 = 10;

/// Minutes a due result may wait for the next one to fall due, so one call serves both. The
/// orchestrator ticks every 5 minutes, so a result waits at most one tick for company.
pub const RESULT_BATCH_MINUTES: i64 = 5;

/// Minutes between racecard refreshes while the next off is more than
/// [`NEAR_OFF_MINUTES`] away: declarations and going change slowly this far out.
pub const CARDS_FAR_MINUTES: i64 = 60;

/// Minutes between racecard refreshes in the hour before an off, when non-runners, jockey changes
/// and odds move most. 25, not 15: with meetings staggered through the afternoon some off is
/// always within the hour, so this cadence sets most of the day's racecards calls. Measured
/// through simulated racing days (examples/simulate_day.rs, BENCHMARKS.md), 15 cost too many on
/// 2026-06-10 (over 70) and 20 cost 61, over the goal of 60; 25 costs 55 and stays at or under 60 on
/// every day sampled.
pub const CARDS_NEAR_MINUTES: i64 = 25;

/// How close (in minutes) the next off must be for the tighter racecard cadence.
pub const NEAR_OFF_MINUTES: i64 = 60;

/// What a `live` run looks at: `darkhorses live`'s flags, or an interval's `args`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveOptions {
    /// Only today's racecards.
    pub races_only: bool,
    /// Only today's results.
    pub results_only: bool,
    pub dry_run: bool,
}

/// Whether a part of the live run makes a call, and why (the line for the report).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Fetch(String),
    Skip(String),
}

fn hm(t: DateTime<Utc>) -> String {
    t.format("%H:%MZ").to_string()
}

/// When a race's result is due: its off time plus [`RESULT_DELAY_MINUTES`].
pub fn result_due(race: &RaceState) -> Option<DateTime<Utc>> {
    race.off_at.map(|off| off + Duration::minutes(RESULT_DELAY_MINUTES))
}

/// Whether today's racecards must be fetched, given the last racecards fetch for `today` (if any)
/// and the races stored for it. `usable` says whether that fetch counts (it succeeded and covered
/// the regions asked for); a fetch that does not count is made again.
pub fn racecards_decision(
    today: NaiveDate,
    now: DateTime<Utc>,
    last: Option<&Coverage>,
    usable: bool,
    races: &[RaceState],
) -> Decision {
    let Some(last) = last.filter(|_| usable) else {
        return Decision::Fetch(match last {
            None => format!("racecards for {today}: never fetched, so fetched first"),
            Some(_) => format!("racecards for {today}: the last fetch failed or missed a region, so fetched again"),
        });
    };
    if last.status == CoverageStatus::Empty || races.is_empty() {
        return Decision::Skip(format!(
            "no call: blank day, the racecards for {today} fetched at {} list no races",
            hm(last.fetched_at)
        ));
    }
    if last.fetched_at > now {
        // A row stamped later than the clock (a clock set back, a simulation restarted) says
        // nothing about how fresh the cards are at `now`.
        return Decision::Fetch(format!(
            "racecards for {today}: the last fetch is stamped {} (after now), so fetched again",
            last.fetched_at.format("%Y-%m-%dT%H:%MZ")
        ));
    }
    let Some(next_off) = races.iter().filter(|r| !r.is_abandoned).filter_map(|r| r.off_at).filter(|&o| o > now).min()
    else {
        return Decision::Skip(format!(
            "no call for racecards: every race of {today} is off (last fetched at {})",
            hm(last.fetched_at)
        ));
    };
    let cadence =
        if next_off - now <= Duration::minutes(NEAR_OFF_MINUTES) { CARDS_NEAR_MINUTES } else { CARDS_FAR_MINUTES };
    let due = last.fetched_at + Duration::minutes(cadence);
    if now >= due {
        Decision::Fetch(format!(
            "racecards for {today}: last fetched at {}, next off {} (every {cadence} min)",
            hm(last.fetched_at),
            hm(next_off)
        ))
    } else {
        // The refresh falls due at `due` or when the next off comes within the hour, whichever
        // is first.
        let tighter = next_off - Duration::minutes(NEAR_OFF_MINUTES);
        let at = if cadence == CARDS_FAR_MINUTES {
            due.min((last.fetched_at + Duration::minutes(CARDS_NEAR_MINUTES)).max(tighter))
        } else {
            due
        };
        Decision::Skip(format!(
            "no call for racecards: fetched at {}, next refresh {} (next off {})",
            hm(last.fetched_at),
            hm(at),
            hm(next_off)
        ))
    }
}

/// Whether today's results must be fetched: some stored race's result is due and not stored, and
/// the last results fetch did not already look for it within [`LATE_RESULT_RETRY_MINUTES`]. One
/// call brings every result that is out, so races whose results fell due since the last fetch are
/// served by the same call.
pub fn results_decision(
    today: NaiveDate,
    now: DateTime<Utc>,
    last: Option<&Coverage>,
    races: &[RaceState],
) -> Decision {
    if races.is_empty() {
        return Decision::Skip(format!("no call for results: no races for {today} are stored"));
    }
    let pending: Vec<_> = races.iter().filter(|r| !r.has_result && !r.is_abandoned).collect();
    if pending.is_empty() {
        return Decision::Skip(format!("no call for results: every race of {today} has its result"));
    }
    let due: Vec<DateTime<Utc>> = pending.iter().filter_map(|r| result_due(r)).filter(|&t| t <= now).collect();
    let Some(&latest_due) = due.iter().max() else {
        return Decision::Skip(match pending.iter().filter_map(|r| result_due(r)).min() {
            Some(next) => format!("no call: next result due {}", hm(next)),
            None => "no call for results: no race without a result has an off time".to_string(),
        });
    };
    // The last fetch came after every due result fell due and missed some: they are late. Ask
    // again after a pause rather than on every run.
    if let Some(last) = last.filter(|c| c.error.is_none() && c.fetched_at >= latest_due && c.fetched_at <= now) {
        let retry = last.fetched_at + Duration::minutes(LATE_RESULT_RETRY_MINUTES);
        if now < retry {
            return Decision::Skip(format!(
                "no call: {} result(s) due by {} were not out at {}; asking again at {}",
                due.len(),
                hm(latest_due),
                hm(last.fetched_at),
                hm(retry)
            ));
        }
    }
    // Batching: when the oldest due result has waited less than RESULT_BATCH_MINUTES and another
    // falls due within that time, one later call serves them all.
    let oldest_due = due.iter().min().copied().unwrap_or(latest_due);
    let next_due = pending.iter().filter_map(|r| result_due(r)).filter(|&t| t > now).min();
    if let Some(next) = next_due {
        let batch = Duration::minutes(RESULT_BATCH_MINUTES);
        if now - oldest_due < batch && next - oldest_due <= batch {
            return Decision::Skip(format!(
                "no call: {} result(s) due since {}, waiting for the next due {} to fetch them together",
                due.len(),
                hm(oldest_due),
                hm(next)
            ));
        }
    }
    Decision::Fetch(format!("results for {today}: {} result(s) due by {} and not stored", due.len(), hm(latest_due)))
}

/// The `live` job.
pub type Live = Job<LiveOptions>;

impl Live {
    pub const NAME: &'static str = "live";
    pub const ABOUT: &'static str =
        "Today's racecards and results during racing hours, with as few calls as the data allows";

    /// Today's racecards step, from this run's options, the config (`features.skip_racecards`,
    /// `api.regions`), the clock (`today`, `now`), the last racecards fetch for today and the
    /// races stored for it: `None` when this run does not look at racecards (`--results-only`,
    /// `features.skip_racecards`), else [`racecards_decision`]'s.
    pub fn racecards_step(
        &self,
        config: &Config,
        today: NaiveDate,
        now: DateTime<Utc>,
        cards: Option<&Coverage>,
        races: &[RaceState],
    ) -> Option<Decision> {
        if self.options.results_only || config.features.skip_racecards {
            return None;
        }
        // A fetch counts when it succeeded and covered every region asked for.
        let usable = cards.is_some_and(|c| c.error.is_none() && c.is_complete_for(&config.api.regions));
        Some(racecards_decision(today, now, cards, usable, races))
    }

    /// Today's results step, after the racecards step: `None` when this run does not look at
    /// results (`--races-only`, `features.skip_results`). `cards` is the racecards coverage read
    /// before that step, `fetched` what the step did, `races` the races stored for today after it
    /// and `last` the last results fetch for today. Without stored races there is nothing to
    /// judge by: a dry run judges by the racecards it just fetched (it stored none), a day whose
    /// racecards were never fetched says so, and any other day is blank. With races,
    /// [`results_decision`]'s.
    #[allow(clippy::too_many_arguments)]
    pub fn results_step(
        &self,
        config: &Config,
        today: NaiveDate,
        now: DateTime<Utc>,
        cards: Option<&Coverage>,
        fetched: CardsFetched,
        races: &[RaceState],
        last: Option<&Coverage>,
    ) -> Option<Decision> {
        if self.options.races_only || config.features.skip_results {
            return None;
        }
        if !races.is_empty() {
            return Some(results_decision(today, now, last, races));
        }
        Some(match fetched {
            // A dry run stores nothing, so the off times just fetched are not in the store: judge
            // by what the fetch found.
            CardsFetched::NotStored { races: found } if found > 0 => {
                Decision::Fetch(format!("results for {today}: dry run, the racecards just fetched list {found} races"))
            }
            CardsFetched::NotStored { .. } => {
                Decision::Skip(format!("no call: blank day, the racecards for {today} list no races"))
            }
            CardsFetched::No if cards.is_none() => Decision::Skip(format!(
                "no call for results: today's racecards ({today}) were never fetched, so no off times say when results are due; run `darkhorses live` without --results-only (and with features.skip_racecards off)"
            )),
            CardsFetched::No | CardsFetched::Stored => {
                Decision::Skip(format!("no call: blank day, no races for {today}"))
            }
        })
    }
}

/// What this run's racecards step did, as the results step needs to know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardsFetched {
    /// No racecards call (not wanted, or not needed).
    No,
    /// Fetched and written: the races stored for today are the fetch's.
    Stored,
    /// Fetched in a dry run: nothing was written; `races` is how many the fetch listed.
    NotStored { races: u64 },
}

#[async_trait]
impl UpdateJob for Live {
    super::builtin_job!();

    async fn run(&self, ctx: &JobContext) -> Result<JobReport> {
        let mut report = self.new_report(ctx);
        // Fresh results go before every other job sharing the budget.
        let ctx = &ctx.at_priority(crate::api::Priority::Live);
        let store = ctx.store()?;
        let now = ctx.clock.now();
        let today = ctx.clock.racing_day();
        let mut races = store.races_on(today).await?;
        let cards = store.coverage(Kind::Racecards, today, today).await?.into_iter().next();
        let mut fetched = CardsFetched::No;
        match self.racecards_step(&ctx.config, today, now, cards.as_ref(), &races) {
            Some(Decision::Fetch(why)) => {
                report.notes.push(why);
                let key = UnitKey { kind: Kind::Racecards, date: today };
                run_units(ctx, vec![key], &mut report, &Progress::hidden()).await?;
                fetched =
                    if ctx.dry_run { CardsFetched::NotStored { races: report.races } } else { CardsFetched::Stored };
                races = store.races_on(today).await?;
            }
            Some(Decision::Skip(why)) => report.notes.push(why),
            None => {}
        }
        let last = store.coverage(Kind::Results, today, today).await?.into_iter().next();
        match self.results_step(&ctx.config, today, now, cards.as_ref(), fetched, &races, last.as_ref()) {
            Some(Decision::Fetch(why)) => {
                report.notes.push(why);
                run_units(ctx, vec![UnitKey { kind: Kind::Results, date: today }], &mut report, &Progress::hidden())
                    .await?;
            }
            Some(Decision::Skip(why)) => report.notes.push(why),
            None => {}
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A time on 2026-06-10 (today), `HH:MM` UTC.
    fn t(hm: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(&format!("2026-06-10T{hm}:00Z")).map(|d| d.with_timezone(&Utc)).unwrap_or_default()
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 6, 10).unwrap_or_default()
    }

    fn race(off: &str, has_result: bool) -> RaceState {
        RaceState { id: off.to_string(), off_at: Some(t(off)), has_result, is_abandoned: false }
    }

    fn abandoned(off: &str) -> RaceState {
        RaceState { is_abandoned: true, ..race(off, false) }
    }

    /// A successful fetch for every region at `at`.
    fn cov(kind: Kind, status: CoverageStatus, at: &str) -> Coverage {
        Coverage { fetched_at: t(at), day_over: false, ..super::super::units::test_coverage(kind, today(), status) }
    }

    fn cards(at: &str) -> Option<Coverage> {
        Some(cov(Kind::Racecards, CoverageStatus::Complete, at))
    }

    fn results(at: &str) -> Option<Coverage> {
        Some(cov(Kind::Results, CoverageStatus::Complete, at))
    }

    /// The expected decision: a call or none, and a text its line contains.
    #[derive(Debug)]
    enum Want {
        Fetch(&'static str),
        Skip(&'static str),
        /// The step is not taken (options or features switch it off).
        Off,
    }

    fn check(name: &str, got: Option<Decision>, want: &Want) {
        match (got, want) {
            (Some(Decision::Fetch(line)), Want::Fetch(text)) | (Some(Decision::Skip(line)), Want::Skip(text)) => {
                assert!(line.contains(text), "{name}: {line:?} does not say {text:?}");
            }
            (None, Want::Off) => {}
            (got, want) => panic!("{name}: {got:?}, wanted {want:?}"),
        }
    }

    struct CardsCase {
        name: &'static str,
        options: LiveOptions,
        config: fn(&mut Config),
        now: &'static str,
        cards: Option<Coverage>,
        races: Vec<RaceState>,
        want: Want,
    }

    #[test]
    fn racecards_are_fetched_first_then_at_a_cadence_that_tightens_before_the_off() {
        let one = || vec![race("13:00", false)];
        let case = |name, now, cards: Option<Coverage>, races, want| CardsCase {
            name,
            options: LiveOptions::default(),
            config: |_| {},
            now,
            cards,
            races,
            want,
        };
        let failed =
            Coverage { error: Some("HTTP 500".into()), ..cov(Kind::Racecards, CoverageStatus::Failed, "10:00") };
        let gb_only =
            Coverage { regions: Some(vec!["gb".into()]), ..cov(Kind::Racecards, CoverageStatus::Complete, "10:00") };
        let cases = [
            CardsCase {
                options: LiveOptions { results_only: true, ..Default::default() },
                ..case("--results-only: no racecards step", "12:00", None, vec![], Want::Off)
            },
            CardsCase {
                config: |c| c.features.skip_racecards = true,
                ..case("features.skip_racecards: no racecards step", "12:00", None, vec![], Want::Off)
            },
            case("never fetched: fetched first", "12:00", None, vec![], Want::Fetch("never fetched, so fetched first")),
            case(
                "the last fetch failed: fetched again",
                "12:00",
                Some(failed),
                one(),
                Want::Fetch("failed or missed a region"),
            ),
            case(
                "the last fetch missed ire: fetched again",
                "12:00",
                Some(gb_only),
                one(),
                Want::Fetch("failed or missed a region"),
            ),
            case(
                "a blank day (empty coverage)",
                "12:00",
                Some(cov(Kind::Racecards, CoverageStatus::Empty, "03:00")),
                vec![],
                Want::Skip("blank day, the racecards for 2026-06-10 fetched at 03:00Z list no races"),
            ),
            case("fetched, but no race stored: blank", "12:00", cards("03:00"), vec![], Want::Skip("blank day")),
            case(
                "stamped after now (a clock set back)",
                "09:00",
                cards("10:00"),
                one(),
                Want::Fetch("(after now), so fetched again"),
            ),
            case("every race is off", "13:05", cards("12:10"), one(), Want::Skip("every race of 2026-06-10 is off")),
            case(
                "an abandoned race's off does not count",
                "13:05",
                cards("12:10"),
                vec![race("13:00", false), abandoned("14:00")],
                Want::Skip("every race of 2026-06-10 is off"),
            ),
            case(
                "far from the off: hourly, not yet",
                "10:30",
                cards("10:00"),
                one(),
                Want::Skip("next refresh 11:00Z (next off 13:00Z)"),
            ),
            case("far from the off: an hour on", "11:00", cards("10:00"), one(), Want::Fetch("every 60 min")),
            case(
                "far, but the hour before the off comes first",
                "10:20",
                cards("10:00"),
                vec![race("11:30", false)],
                Want::Skip("next refresh 10:30Z (next off 11:30Z)"),
            ),
            case(
                "within the hour before the off: every 25 min",
                "12:10",
                cards("11:45"),
                one(),
                Want::Fetch("every 25 min"),
            ),
            case(
                "within the hour, 20 min on: not yet",
                "12:30",
                cards("12:10"),
                one(),
                Want::Skip("next refresh 12:35Z"),
            ),
            case(
                "within the hour, 25 min on",
                "12:35",
                cards("12:10"),
                one(),
                Want::Fetch("next off 13:00Z (every 25 min)"),
            ),
        ];
        for c in &cases {
            let mut config = Config::default();
            (c.config)(&mut config);
            let job = Live { options: c.options.clone() };
            check(c.name, job.racecards_step(&config, today(), t(c.now), c.cards.as_ref(), &c.races), &c.want);
        }
    }

    struct ResultsCase {
        name: &'static str,
        options: LiveOptions,
        config: fn(&mut Config),
        now: &'static str,
        cards: Option<Coverage>,
        fetched: CardsFetched,
        races: Vec<RaceState>,
        last: Option<Coverage>,
        want: Want,
    }

    #[test]
    fn results_are_fetched_when_due_batched_and_late_ones_retried_after_a_pause() {
        let case = |name, now, races, last: Option<Coverage>, want| ResultsCase {
            name,
            options: LiveOptions::default(),
            config: |_| {},
            now,
            cards: cards("10:00"),
            fetched: CardsFetched::No,
            races,
            last,
            want,
        };
        let two = || vec![race("13:00", true), race("13:30", false)];
        let close = || vec![race("13:30", false), race("13:35", false)];
        let failed = Coverage { error: Some("HTTP 500".into()), ..cov(Kind::Results, CoverageStatus::Failed, "13:40") };
        let cases = [
            ResultsCase {
                options: LiveOptions { races_only: true, ..Default::default() },
                ..case("--races-only: no results step", "14:00", two(), None, Want::Off)
            },
            ResultsCase {
                config: |c| c.features.skip_results = true,
                ..case("features.skip_results: no results step", "14:00", two(), None, Want::Off)
            },
            ResultsCase {
                fetched: CardsFetched::NotStored { races: 12 },
                ..case(
                    "dry run: judged by the racecards just fetched",
                    "14:00",
                    vec![],
                    None,
                    Want::Fetch("dry run, the racecards just fetched list 12 races"),
                )
            },
            ResultsCase {
                fetched: CardsFetched::NotStored { races: 0 },
                ..case(
                    "dry run, no races fetched: blank",
                    "14:00",
                    vec![],
                    None,
                    Want::Skip("blank day, the racecards for 2026-06-10 list no races"),
                )
            },
            ResultsCase {
                fetched: CardsFetched::NotStored { races: 12 },
                ..case(
                    "dry run with races stored: judged by them",
                    "13:35",
                    two(),
                    None,
                    Want::Skip("next result due 13:40Z"),
                )
            },
            ResultsCase {
                cards: None,
                ..case(
                    "racecards never fetched: nothing says when",
                    "14:00",
                    vec![],
                    None,
                    Want::Skip("were never fetched, so no off times"),
                )
            },
            case(
                "racecards fetched, no races: blank",
                "14:00",
                vec![],
                None,
                Want::Skip("blank day, no races for 2026-06-10"),
            ),
            ResultsCase {
                cards: None,
                fetched: CardsFetched::Stored,
                ..case(
                    "racecards just fetched and stored, no races: blank",
                    "14:00",
                    vec![],
                    None,
                    Want::Skip("blank day, no races"),
                )
            },
            case(
                "every result stored",
                "14:00",
                vec![race("13:00", true)],
                None,
                Want::Skip("every race of 2026-06-10 has its result"),
            ),
            case(
                "an abandoned race has no result to wait for",
                "14:00",
                vec![race("13:00", true), abandoned("13:30")],
                None,
                Want::Skip("every race of 2026-06-10 has its result"),
            ),
            case("before the off: not due", "13:20", two(), None, Want::Skip("next result due 13:40Z")),
            case("after the off, before the result is due", "13:35", two(), None, Want::Skip("next result due 13:40Z")),
            case("due", "13:40", two(), None, Want::Fetch("1 result(s) due by 13:40Z and not stored")),
            case(
                "no off time: nothing says when",
                "14:00",
                vec![RaceState { off_at: None, ..race("13:00", false) }],
                None,
                Want::Skip("no race without a result has an off time"),
            ),
            case(
                "two due 5 min apart: the first waits",
                "13:40",
                close(),
                None,
                Want::Skip("waiting for the next due 13:45Z"),
            ),
            case(
                "two due 5 min apart, still waiting",
                "13:42",
                close(),
                None,
                Want::Skip("waiting for the next due 13:45Z"),
            ),
            case(
                "two due 5 min apart: one call for both",
                "13:45",
                close(),
                None,
                Want::Fetch("2 result(s) due by 13:45Z"),
            ),
            case(
                "late: looked for at 13:40, paused",
                "13:45",
                two(),
                results("13:40"),
                Want::Skip("asking again at 13:50Z"),
            ),
            case("late: asked again after the pause", "13:50", two(), results("13:40"), Want::Fetch("due by 13:40Z")),
            case(
                "the last fetch came before it was due",
                "13:40",
                two(),
                results("13:20"),
                Want::Fetch("due by 13:40Z"),
            ),
            case("the last fetch failed: no pause", "13:45", two(), Some(failed), Want::Fetch("due by 13:40Z")),
            case(
                "the last fetch is stamped after now: no pause",
                "13:45",
                two(),
                results("13:50"),
                Want::Fetch("due by 13:40Z"),
            ),
        ];
        for c in &cases {
            let mut config = Config::default();
            (c.config)(&mut config);
            let job = Live { options: c.options.clone() };
            let got =
                job.results_step(&config, today(), t(c.now), c.cards.as_ref(), c.fetched, &c.races, c.last.as_ref());
            check(c.name, got, &c.want);
        }
    }
}
