//! `rebuild`: re-derive the typed tables from the raw responses in `api_responses`, with no API
//! call: after a normaliser fix (in place), or to move a database to another backend (`--source
//! sqlite:darkhorses.db` with a Postgres `DATABASE_URL`).
//!
//! Each stored response is mapped back to what fetched it: `/racecards/pro?date=D` and `/results?
//! start_date=D&...` name their day; `/racecards/{tier}?day=today|tomorrow` and `/results/today`
//! are for the UK racing day of their `fetched_at` (the run's clock stamped them). The pages of
//! one fetch (same request but `skip`, same `fetched_at`) make one unit again, normalised by the
//! same code as a live run ([`units::unit_from_responses`]) and written by the same
//! `Store::write_unit`, one transaction per unit, in the original fetch order, so the column
//! ownership and newest-wins rules give the rows the original runs gave. Courses, regions and
//! horse profiles go through `write_reference` and `write_horses` as in their jobs. Each unit's
//! coverage says what its fetch covered: the source's coverage row when it is that fetch's,
//! else the regions the request asked for. Into another database, the responses that are not
//! replayed are copied too, and failed coverage rows are recorded failed again, so the next run
//! fetches what the source lacked.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};

use super::units::{FromTo, UnitKey, unit_from_responses};
use super::{Job, JobContext, JobReport, Needs, UpdateJob};
use crate::api;
use crate::clock::racing_day_of;
use crate::config::Secret;
use crate::error::{Error, Result};
use crate::model::{Kind, RawResponse};
use crate::store::{Coverage, CoverageStatus, ReferenceData, ResponseKey, Store};

/// What a `rebuild` run re-derives: `darkhorses rebuild`'s flags, or an interval's `args`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RebuildOptions {
    /// The racing days whose units are replayed (reference data and horse profiles are not
    /// dated: always replayed).
    pub days: FromTo,
    /// The database whose `api_responses` are read (only read); default the target itself.
    pub source: Option<Secret>,
    pub dry_run: bool,
}

/// Where a stored response goes back to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Target {
    /// A unit of a kind and a day; `request` is the request without its paging, so the pages of
    /// one fetch group together.
    Unit {
        key: UnitKey,
        request: String,
    },
    Courses,
    Regions,
    Horse,
    /// Kept, not replayed: an endpoint no job writes rows from, or an error status.
    CopyOnly,
}

/// The values of one query parameter, in order (`region=gb&region=ire`).
fn param<'a>(params: &'a str, name: &str) -> Vec<std::borrow::Cow<'a, str>> {
    form_urlencoded::parse(params.as_bytes()).filter(|(k, _)| k == name).map(|(_, v)| v).collect()
}

fn date_param(params: &str, name: &str) -> Option<NaiveDate> {
    param(params, name).first().and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
}

/// The request without `skip` and `limit`: what the pages of one fetch share.
fn request_of(key: &ResponseKey) -> String {
    let rest: Vec<String> = form_urlencoded::parse(key.params.as_bytes())
        .filter(|(k, _)| k != "skip" && k != "limit")
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    format!("{}?{}", key.endpoint, rest.join("&"))
}

/// Which unit (or table) a stored response belongs to.
fn target_of(key: &ResponseKey) -> Target {
    if key.status != 200 {
        return Target::CopyOnly;
    }
    let (endpoint, params) = (key.endpoint.as_str(), key.params.as_str());
    let day = racing_day_of(key.fetched_at);
    let unit = |kind, date: Option<NaiveDate>| match date {
        Some(date) => Target::Unit { key: UnitKey { kind, date }, request: request_of(key) },
        None => Target::CopyOnly,
    };
    match endpoint {
        "/courses" => Target::Courses,
        "/courses/regions" => Target::Regions,
        "/racecards/pro" => unit(Kind::Racecards, date_param(params, "date")),
        "/racecards/standard" | "/racecards/basic" | "/racecards/free" => {
            let date = match param(params, "day").first().map(|d| d.as_ref()) {
                Some("today") => Some(day),
                Some("tomorrow") => day.succ_opt(),
                _ => None,
            };
            unit(Kind::Racecards, date)
        }
        "/results" => {
            let (start, end) = (date_param(params, "start_date"), date_param(params, "end_date"));
            unit(Kind::Results, start.filter(|s| Some(*s) == end))
        }
        "/results/today" => unit(Kind::Results, Some(day)),
        e if e.starts_with("/horses/") && e.ends_with("/pro") => Target::Horse,
        _ => Target::CopyOnly,
    }
}

/// The region codes a request asked for (`region_codes` for racecards and courses, `region` for
/// results); empty asks for every region.
fn regions_asked(params: &str) -> Vec<String> {
    let mut codes: Vec<String> =
        param(params, "region_codes").into_iter().chain(param(params, "region")).map(|c| c.into_owned()).collect();
    codes.sort();
    codes.dedup();
    codes
}

/// The `skip` of a page, for ordering the pages of one fetch (text order puts 100 before 50).
fn skip_of(params: &str) -> u64 {
    param(params, "skip").first().and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// One replay step: the responses of one fetch and where they go.
#[derive(Debug)]
struct Step {
    fetched_at: DateTime<Utc>,
    target: Target,
    keys: Vec<ResponseKey>,
}

/// The replay steps from the stored responses' keys and `--from`/`--to`, and the keys of units
/// outside them: fetches in their original order (by `fetched_at`; a tie, as under a pinned
/// clock, goes newest day first with racecards before results, the order `backfill` writes).
fn steps(keys: Vec<ResponseKey>, days: FromTo) -> (Vec<Step>, Vec<ResponseKey>) {
    let mut groups: BTreeMap<(DateTime<Utc>, Target), Vec<ResponseKey>> = BTreeMap::new();
    let mut outside = Vec::new();
    for key in keys {
        let target = target_of(&key);
        if let Target::Unit { key: unit, .. } = &target
            && !days.contains(unit.date)
        {
            outside.push(key);
            continue;
        }
        groups.entry((key.fetched_at, target)).or_default().push(key);
    }
    let mut steps: Vec<Step> = groups
        .into_iter()
        .map(|((fetched_at, target), mut keys)| {
            keys.sort_by_key(|k| skip_of(&k.params));
            Step { fetched_at, target, keys }
        })
        .collect();
    let order = |s: &Step| match &s.target {
        Target::Courses => (0, std::cmp::Reverse(NaiveDate::MAX), Kind::Racecards),
        Target::Regions => (1, std::cmp::Reverse(NaiveDate::MAX), Kind::Racecards),
        Target::Unit { key, .. } => (2, std::cmp::Reverse(key.date), key.kind),
        Target::Horse => (3, std::cmp::Reverse(NaiveDate::MIN), Kind::Racecards),
        Target::CopyOnly => (4, std::cmp::Reverse(NaiveDate::MIN), Kind::Racecards),
    };
    steps.sort_by(|a, b| a.fetched_at.cmp(&b.fetched_at).then_with(|| order(a).cmp(&order(b))));
    (steps, outside)
}

#[async_trait]
impl UpdateJob for Rebuild {
    super::builtin_job!(needs: Needs { store: true, api: false });

    async fn run(&self, ctx: &JobContext) -> Result<JobReport> {
        let mut report = self.new_report(ctx);
        if let FromTo { from: Some(from), to: Some(to) } = self.options.days
            && from > to
        {
            return Err(Error::Usage(format!("rebuild --from {from} is after --to {to}")));
        }
        let target = ctx.store()?.clone();
        let source = self.source(ctx, &target).await?;
        let copying = source.lock_scope() != target.lock_scope();
        let (steps, outside) = steps(source.response_keys().await?, self.options.days);
        let coverage = coverage_of(source.as_ref(), self.options.days).await?;
        tracing::info!(
            source = %source.describe(),
            target = %target.describe(),
            steps = steps.len(),
            "rebuild: replaying {} fetches from {} into {}",
            steps.len(),
            source.describe(),
            target.describe()
        );

        let mut replayed = 0u64;
        let mut copied = 0u64;
        let mut rebuilt: std::collections::HashSet<(Kind, NaiveDate)> = Default::default();
        for step in steps {
            if ctx.cancel.is_cancelled() {
                report
                    .errors
                    .push("cancelled (Ctrl-C, SIGTERM or timeout): the rest is not rebuilt; run rebuild again".into());
                break;
            }
            let mut responses = Vec::with_capacity(step.keys.len());
            for key in &step.keys {
                match source.response(&key.endpoint, &key.params).await {
                    Ok(Some(raw)) => responses.push(raw),
                    Ok(None) => {}
                    // A damaged body: named, and the rest of the replay goes on.
                    Err(e) => unreadable(&mut report, key, &e.to_string()),
                }
            }
            if responses.len() < step.keys.len() {
                // A fetch with a page missing is not the fetch it was: its raw rows are kept.
                copied += self.copy(ctx, copying, responses, &mut report).await?;
                continue;
            }
            let count = responses.len() as u64;
            let outcome = match &step.target {
                Target::Unit { key, .. } => {
                    let done = self.unit(ctx, *key, responses.clone(), &coverage, &mut report).await?;
                    if done {
                        rebuilt.insert((key.kind, key.date));
                    }
                    done
                }
                Target::Courses | Target::Regions => self.reference(ctx, &step.target, &responses, &mut report).await?,
                Target::Horse => self.horse(ctx, &responses, &mut report).await?,
                Target::CopyOnly => false,
            };
            if outcome {
                replayed += count;
            } else {
                copied += self.copy(ctx, copying, responses, &mut report).await?;
            }
        }

        // Into another database: what the source knew failed stays failed, so the next run
        // fetches it; complete rows without a response cannot be rebuilt and are named.
        let mut missing = Vec::new();
        for c in coverage.values() {
            if rebuilt.contains(&(c.kind, c.race_date)) {
                continue;
            }
            match c.status {
                CoverageStatus::Failed if copying => {
                    let error = c.error.as_deref().unwrap_or("failed in the source database");
                    ctx.writes()?
                        .mark_unit_failed(c.kind, c.race_date, u32::try_from(c.api_calls).unwrap_or(0), error)
                        .await?;
                }
                CoverageStatus::Failed => {}
                _ => missing.push(format!("{} {}", c.kind, c.race_date)),
            }
        }
        report.notes.push(format!(
            "rebuild from {}: {replayed} responses replayed into {}{}{}, no API call",
            source.describe(),
            target.describe(),
            if copying { format!(", {copied} more copied as they are") } else { String::new() },
            if outside.is_empty() {
                String::new()
            } else {
                format!(", {} outside --from/--to left out", outside.len())
            }
        ));
        if !missing.is_empty() {
            let shown: Vec<&str> = missing.iter().take(10).map(String::as_str).collect();
            report.notes.push(format!(
                "{} units covered in the source have no stored response and were not rebuilt (api_responses keeps the \
                 latest response of each request, so by-day racecards and today's results of earlier days are gone): {}{}",
                missing.len(),
                shown.join(", "),
                if missing.len() > shown.len() { ", ..." } else { "" }
            ));
        }
        Ok(report)
    }
}

/// A response that could not be used, named in the report (the run ends `partial`).
fn unreadable(report: &mut JobReport, key: &ResponseKey, error: &str) {
    let line = format!("response {}?{} (fetched {}) unreadable: {error}", key.endpoint, key.params, key.fetched_at);
    tracing::warn!("{line}");
    report.errors.push(line);
}

/// The source's coverage of both kinds in the range, by (kind, day).
async fn coverage_of(source: &dyn Store, days: FromTo) -> Result<BTreeMap<(Kind, NaiveDate), Coverage>> {
    let (from, to) = (days.from.unwrap_or(NaiveDate::MIN), days.to.unwrap_or(NaiveDate::MAX));
    let mut out = BTreeMap::new();
    for kind in Kind::ALL {
        for c in source.coverage(kind, from, to).await? {
            out.insert((kind, c.race_date), c);
        }
    }
    Ok(out)
}

/// The `rebuild` job.
pub type Rebuild = Job<RebuildOptions>;

impl Rebuild {
    pub const NAME: &'static str = "rebuild";
    pub const ABOUT: &'static str =
        "Re-derive races, runners, odds, courses and horses from the stored raw API responses (no API call)";

    /// The store read from: `--source` (never created, never migrated; only read), else the target.
    async fn source(&self, ctx: &JobContext, target: &Arc<dyn Store>) -> Result<Arc<dyn Store>> {
        let Some(url) = &self.options.source else { return Ok(target.clone()) };
        let mut cfg = ctx.config.database.clone();
        cfg.url = url.clone();
        match crate::store::open_existing(&cfg).await? {
            Some(store) => Ok(store),
            None => Err(Error::Usage(format!(
                "rebuild --source {}: the database does not exist; name an existing SQLite file (sqlite:PATH) or a \
                 Postgres URL",
                crate::store::sqlite::path_of(url.expose()).map(|p| p.display().to_string()).unwrap_or_default()
            ))),
        }
    }

    /// Replay one fetch of a unit; `false` when its bodies cannot be normalised (named).
    async fn unit(
        &self,
        ctx: &JobContext,
        key: UnitKey,
        responses: Vec<RawResponse>,
        coverage: &BTreeMap<(Kind, NaiveDate), Coverage>,
        report: &mut JobReport,
    ) -> Result<bool> {
        let fetched_at = responses.iter().map(|r| r.fetched_at).max().unwrap_or_default();
        let asked = regions_asked(&responses[0].params);
        let first = responses[0].clone();
        let mut unit = match unit_from_responses(ctx, key, responses, &asked).await {
            Ok(unit) => unit,
            Err(e) => {
                let key = ResponseKey {
                    endpoint: first.endpoint,
                    params: first.params,
                    fetched_at: first.fetched_at,
                    status: first.status,
                };
                unreadable(report, &key, &e.to_string());
                return Ok(false);
            }
        };
        // What the fetch covered: the source's coverage row when it records this fetch.
        match coverage.get(&(key.kind, key.date)).filter(|c| c.fetched_at == fetched_at) {
            Some(c) => {
                unit.regions = c.regions.clone();
                unit.day_over = c.day_over;
            }
            None => {
                unit.regions = Some(asked);
                unit.day_over = racing_day_of(fetched_at) > key.date;
            }
        }
        let stats = ctx.writes()?.write_unit(&unit).await?;
        ctx.record_writes(report, &stats);
        report.add_unit(&unit, &stats);
        Ok(true)
    }

    /// Replay a `/courses` or `/courses/regions` response as the `reference` job writes it.
    async fn reference(
        &self,
        ctx: &JobContext,
        what: &Target,
        responses: &[RawResponse],
        report: &mut JobReport,
    ) -> Result<bool> {
        let mut data = ReferenceData::default();
        for raw in responses {
            let regions = regions_asked(&raw.params);
            let read = match what {
                Target::Courses => api::normalize::courses(&raw.body, &regions).map(|c| data.courses.extend(c)),
                _ => api::normalize::regions(&raw.body, &ctx.config.api.regions).map(|r| data.regions.extend(r)),
            };
            if let Err(e) = read {
                let key = key_of(raw);
                unreadable(report, &key, &e.to_string());
                return Ok(false);
            }
        }
        data.responses = responses.to_vec();
        report.entities += (data.courses.len() + data.regions.len()) as u64;
        report.units_done += 1;
        let stats = ctx.writes()?.write_reference(&data).await?;
        ctx.record_writes(report, &stats);
        Ok(true)
    }

    /// Replay a `/horses/{id}/pro` profile as enrichment writes it.
    async fn horse(&self, ctx: &JobContext, responses: &[RawResponse], report: &mut JobReport) -> Result<bool> {
        let mut horses = Vec::with_capacity(responses.len());
        for raw in responses {
            match api::normalize::horse_pro(&raw.body) {
                Ok(h) => horses.push(h),
                Err(e) => {
                    unreadable(report, &key_of(raw), &e.to_string());
                    return Ok(false);
                }
            }
        }
        report.entities += horses.len() as u64;
        let stats = ctx.writes()?.write_horses(&horses, responses).await?;
        ctx.record_writes(report, &stats);
        Ok(true)
    }

    /// Copy raw responses as they are into another database (a no-op in place); how many.
    async fn copy(
        &self,
        ctx: &JobContext,
        copying: bool,
        responses: Vec<RawResponse>,
        report: &mut JobReport,
    ) -> Result<u64> {
        if !copying || responses.is_empty() {
            return Ok(0);
        }
        let n = responses.len() as u64;
        let stats = ctx.writes()?.write_reference(&ReferenceData { responses, ..ReferenceData::default() }).await?;
        ctx.record_writes(report, &stats);
        Ok(n)
    }
}

fn key_of(raw: &RawResponse) -> ResponseKey {
    ResponseKey {
        endpoint: raw.endpoint.clone(),
        params: raw.params.clone(),
        fetched_at: raw.fetched_at,
        status: raw.status,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn key(endpoint: &str, params: &str, at: &str) -> ResponseKey {
        ResponseKey {
            endpoint: endpoint.into(),
            params: params.into(),
            fetched_at: DateTime::parse_from_rfc3339(at).unwrap().with_timezone(&Utc),
            status: 200,
        }
    }

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn each_response_goes_back_to_the_unit_that_fetched_it() {
        let at = "2026-03-29T23:30:00Z"; // 00:30 on the 30th in London (BST)
        let t = |e: &str, p: &str| target_of(&key(e, p, at));
        let is_unit = |t: Target, kind: Kind, d: &str| matches!(t, Target::Unit { key, .. } if key == UnitKey { kind, date: day(d) });
        assert!(is_unit(t("/racecards/pro", "date=2026-03-01&region_codes=gb"), Kind::Racecards, "2026-03-01"));
        assert!(is_unit(t("/racecards/standard", "day=today&region_codes=gb"), Kind::Racecards, "2026-03-30"));
        assert!(is_unit(t("/racecards/basic", "day=tomorrow"), Kind::Racecards, "2026-03-31"));
        assert!(is_unit(
            t("/results", "start_date=2026-03-02&end_date=2026-03-02&region=gb&limit=50&skip=50"),
            Kind::Results,
            "2026-03-02"
        ));
        assert!(is_unit(t("/results/today", "region=gb&limit=50&skip=0"), Kind::Results, "2026-03-30"));
        assert_eq!(t("/results", "start_date=2026-03-01&end_date=2026-03-02"), Target::CopyOnly);
        assert_eq!(t("/courses", "region_codes=gb"), Target::Courses);
        assert_eq!(t("/courses/regions", ""), Target::Regions);
        assert_eq!(t("/horses/hrs_1/pro", ""), Target::Horse);
        assert_eq!(t("/results/rac_1", ""), Target::CopyOnly);
        let mut failed = key("/racecards/pro", "date=2026-03-01", at);
        failed.status = 500;
        assert_eq!(target_of(&failed), Target::CopyOnly);
    }

    #[test]
    fn pages_of_one_fetch_replay_together_in_page_order_and_fetches_in_fetch_order() {
        let keys = vec![
            key(
                "/results",
                "start_date=2026-03-02&end_date=2026-03-02&region=gb&limit=50&skip=100",
                "2026-03-03T10:00:00Z",
            ),
            key(
                "/results",
                "start_date=2026-03-02&end_date=2026-03-02&region=gb&limit=50&skip=0",
                "2026-03-03T10:00:00Z",
            ),
            key(
                "/results",
                "start_date=2026-03-02&end_date=2026-03-02&region=gb&limit=50&skip=50",
                "2026-03-03T10:00:00Z",
            ),
            // A stale page of an earlier fetch of the same request: a fetch of its own, earlier.
            key(
                "/results",
                "start_date=2026-03-02&end_date=2026-03-02&region=gb&limit=50&skip=150",
                "2026-03-02T20:00:00Z",
            ),
            key("/racecards/pro", "date=2026-03-02&region_codes=gb", "2026-03-03T10:00:00Z"),
            key("/racecards/pro", "date=2026-03-03&region_codes=gb", "2026-03-03T10:00:00Z"),
            key("/racecards/pro", "date=2026-02-01&region_codes=gb", "2026-03-03T10:00:00Z"),
        ];
        let (steps, outside) = steps(keys, FromTo { from: Some(day("2026-03-01")), to: None });
        assert_eq!(outside.len(), 1, "2026-02-01 is before --from");
        let shown: Vec<(String, Vec<u64>)> = steps
            .iter()
            .map(|s| match &s.target {
                Target::Unit { key, .. } => (key.to_string(), s.keys.iter().map(|k| skip_of(&k.params)).collect()),
                other => (format!("{other:?}"), vec![]),
            })
            .collect();
        let expected: Vec<(String, Vec<u64>)> = vec![
            ("results 2026-03-02".into(), vec![150]),
            ("racecards 2026-03-03".into(), vec![0]),
            ("racecards 2026-03-02".into(), vec![0]),
            ("results 2026-03-02".into(), vec![0, 50, 100]),
        ];
        assert_eq!(shown, expected);
        assert_eq!(regions_asked("date=2026-03-02&region_codes=ire&region_codes=gb"), ["gb", "ire"]);
        assert_eq!(regions_asked("region=gb&limit=50"), ["gb"]);
    }

    #[test]
    #[allow(clippy::type_complexity)]
    fn steps_keep_fetch_order_under_a_pinned_clock_and_the_from_to_window() {
        let at = "2026-03-03T10:00:00Z";
        let all = || {
            vec![
                key("/horses/hrs_1/pro", "", at),
                key("/results", "start_date=2026-03-01&end_date=2026-03-01&region=gb&limit=50&skip=0", at),
                key("/racecards/pro", "date=2026-03-01&region_codes=gb", at),
                key("/courses/regions", "", at),
                key("/results/rac_1", "", at),
                key("/racecards/pro", "date=2026-03-02&region_codes=gb", at),
                key("/courses", "region_codes=gb", at),
            ]
        };
        // (what, --from, --to, the steps in order, how many responses are left outside)
        let cases: [(&str, Option<&str>, Option<&str>, Vec<&str>, usize); 5] = [
            (
                "a tie: courses, regions, units newest day first (racecards before results), horses, copies",
                None,
                None,
                vec![
                    "Courses",
                    "Regions",
                    "racecards 2026-03-02",
                    "racecards 2026-03-01",
                    "results 2026-03-01",
                    "Horse",
                    "CopyOnly",
                ],
                0,
            ),
            (
                "--from leaves earlier units out, never reference data",
                Some("2026-03-02"),
                None,
                vec!["Courses", "Regions", "racecards 2026-03-02", "Horse", "CopyOnly"],
                2,
            ),
            (
                "--to leaves later units out",
                None,
                Some("2026-03-01"),
                vec!["Courses", "Regions", "racecards 2026-03-01", "results 2026-03-01", "Horse", "CopyOnly"],
                1,
            ),
            (
                "--from and --to one day",
                Some("2026-03-01"),
                Some("2026-03-01"),
                vec!["Courses", "Regions", "racecards 2026-03-01", "results 2026-03-01", "Horse", "CopyOnly"],
                1,
            ),
            (
                "a window with no unit: reference data only",
                Some("2026-04-01"),
                None,
                vec!["Courses", "Regions", "Horse", "CopyOnly"],
                3,
            ),
        ];
        for (name, from, to, expected, outside) in cases {
            let (steps, left) = steps(all(), FromTo { from: from.map(day), to: to.map(day) });
            let shown: Vec<String> = steps
                .iter()
                .map(|s| match &s.target {
                    Target::Unit { key, .. } => key.to_string(),
                    other => format!("{other:?}"),
                })
                .collect();
            assert_eq!(shown, expected, "{name}");
            assert_eq!(left.len(), outside, "{name}");
        }
    }
}
