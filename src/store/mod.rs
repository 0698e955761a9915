//! The store: the only module that speaks SQL. One `Store` interface, a SQLite implementation
//! (the embedded default) and a PostgreSQL one, both held to docs/schema.md.
//!
//! Every command that needs the schema gets it through [`open`], which applies pending migrations
//! first unless `database.auto_migrate` is false; `db status` opens with [`open_existing`] and
//! dry runs with [`open_for_dry_run`], which never create a database nor change its schema.
//!
//! A run writes through a [`Writer`] the runner opens for it ([`writer`]): a real run's commits
//! each write in its own transaction; a dry run's ([`Store::dry_run`]) keeps every write visible
//! to the later ones and discards them all when it is closed.

pub mod columns;
pub mod keep;
pub mod migrations;
pub mod postgres;
pub mod quality;
pub mod sqlite;

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::model::{Bookmaker, Course, Horse, Kind, RawResponse, Region, Skipped, Unit};

/// What went wrong in the store. Messages name the table, the host or the migration, never a password.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database could not be reached or refused us (exit 2, one line naming host, port, user).
    #[error("{0}")]
    Connect(String),
    /// A migration could not be applied, or an applied one changed.
    #[error("{0}")]
    Migration(String),
    /// A query failed: names what was being done.
    #[error("{0}")]
    Query(String),
    /// The URL or settings are wrong.
    #[error("{0}")]
    Config(String),
    /// Another process held the database's write lock for longer than `database.busy_timeout`
    /// (SQLite): the write that waited failed, nothing of it was kept. Names the file and the key.
    #[error("{0}")]
    Busy(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Rows per table: inserted, updated (a value changed) and unchanged (the upsert found equal values).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableCounts {
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
}

impl TableCounts {
    pub fn written(&self) -> u64 {
        self.inserted + self.updated
    }

    /// Add another write's counts to these.
    pub fn absorb(&mut self, other: TableCounts) {
        self.inserted += other.inserted;
        self.updated += other.updated;
        self.unchanged += other.unchanged;
    }
}

/// What one write did (or, in a dry run, would have done), per table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteStats {
    pub tables: BTreeMap<String, TableCounts>,
    /// Records the store could not write (a runner whose race is not in the unit, odds for a
    /// runner that was not written), each with its reason. They never block the others.
    #[serde(default)]
    pub skipped: Vec<Skipped>,
}

impl WriteStats {
    pub fn add(&mut self, table: &str, counts: TableCounts) {
        self.tables.entry(table.to_string()).or_default().absorb(counts);
    }

    pub fn merge(&mut self, other: &WriteStats) {
        for (table, counts) in &other.tables {
            self.add(table, *counts);
        }
        self.skipped.extend(other.skipped.iter().cloned());
    }

    pub fn rows_written(&self) -> u64 {
        self.tables.values().map(TableCounts::written).sum()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CoverageStatus {
    Complete,
    Empty,
    Failed,
}

impl CoverageStatus {
    /// `fetch_coverage.status` as both backends store it.
    pub fn as_str(self) -> &'static str {
        match self {
            CoverageStatus::Complete => "complete",
            CoverageStatus::Empty => "empty",
            CoverageStatus::Failed => "failed",
        }
    }
}

impl std::str::FromStr for CoverageStatus {
    type Err = Error;

    /// A stored `fetch_coverage.status`; anything else is an `Error::Query` naming the value.
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "complete" => Ok(CoverageStatus::Complete),
            "empty" => Ok(CoverageStatus::Empty),
            "failed" => Ok(CoverageStatus::Failed),
            other => {
                Err(Error::Query(format!("fetch_coverage.status holds {other:?}; expected complete, empty or failed")))
            }
        }
    }
}

/// One row of `fetch_coverage`: the latest fetch of one kind for one racing day, and what it covers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Coverage {
    pub kind: Kind,
    pub race_date: NaiveDate,
    pub status: CoverageStatus,
    pub races: i64,
    pub runners: i64,
    pub pages: i64,
    pub api_calls: i64,
    pub fetched_at: DateTime<Utc>,
    pub error: Option<String>,
    /// The lower-case region codes the fetch asked for, sorted (`fetch_coverage.regions`, text
    /// `gb,ire`); an empty list means every region. `None`: unknown (a row written before the
    /// column existed, or a failed unit's new row), so it covers nothing.
    pub regions: Option<Vec<String>>,
    /// `fetch_coverage.day_over`: the racing day was over when this was fetched (the run's UK
    /// racing day was after `race_date`). Results fetched earlier lack the races still to run.
    pub day_over: bool,
}

impl Coverage {
    /// Whether this fetch asked for every region in `regions` (a run's `api.regions`).
    pub fn covers(&self, regions: &[String]) -> bool {
        match &self.regions {
            None => false,
            Some(had) if had.is_empty() => true,
            Some(had) => {
                let wanted = region_codes(regions);
                !wanted.is_empty() && wanted.iter().all(|r| had.contains(r))
            }
        }
    }

    /// Whether a run asking for `regions` has nothing to fetch for this unit: the fetch succeeded
    /// (`complete` or `empty`), covered every region asked for, and, for results, came after the
    /// racing day was over.
    pub fn is_complete_for(&self, regions: &[String]) -> bool {
        matches!(self.status, CoverageStatus::Complete | CoverageStatus::Empty)
            && self.covers(regions)
            && (self.kind == Kind::Racecards || self.day_over)
    }
}

/// Region codes as coverage compares them: trimmed, lower case, sorted, each once.
pub fn region_codes(regions: &[String]) -> Vec<String> {
    let mut codes: Vec<String> =
        regions.iter().map(|r| r.trim().to_ascii_lowercase()).filter(|r| !r.is_empty()).collect();
    codes.sort();
    codes.dedup();
    codes
}

/// `fetch_coverage.regions` as stored: [`region_codes`] joined by commas (`gb,ire`); the empty
/// text when every region was asked for.
pub fn regions_text(regions: &[String]) -> String {
    region_codes(regions).join(",")
}

/// The codes of a stored `fetch_coverage.regions` text (`None` stays unknown).
pub fn parse_regions(text: Option<&str>) -> Option<Vec<String>> {
    text.map(|t| region_codes(&t.split(',').map(str::to_string).collect::<Vec<_>>()))
}

/// A race of a given day as the live job needs it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RaceState {
    pub id: String,
    pub off_at: Option<DateTime<Utc>>,
    pub has_result: bool,
    pub is_abandoned: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Running,
    Succeeded,
    Failed,
    Partial,
    Skipped,
    TimedOut,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Partial => "partial",
            RunStatus::Skipped => "skipped",
            RunStatus::TimedOut => "timed_out",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    Schedule,
    Manual,
    Force,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Schedule => "schedule",
            Trigger::Manual => "manual",
            Trigger::Force => "force",
        }
    }
}

/// The start of a `job_runs` row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewJobRun {
    pub job: String,
    /// The schedule occurrence; `None` for manual runs.
    pub slot: Option<DateTime<Utc>>,
    pub trigger: Trigger,
    pub started_at: DateTime<Utc>,
    pub host: String,
    pub pid: u32,
    pub dry_run: bool,
}

/// The end of a `job_runs` row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FinishedJobRun {
    pub status: RunStatus,
    pub finished_at: DateTime<Utc>,
    pub api_calls: i64,
    pub api_errors: i64,
    pub rows_written: i64,
    pub error: Option<String>,
    /// The job report as JSON.
    pub summary: serde_json::Value,
}

/// A `job_runs` row as read back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRun {
    pub id: i64,
    pub job: String,
    pub slot: Option<DateTime<Utc>>,
    pub trigger: String,
    pub status: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub host: Option<String>,
    pub pid: Option<i64>,
    pub dry_run: bool,
    pub api_calls: i64,
    pub api_errors: i64,
    pub rows_written: i64,
    pub error: Option<String>,
}

/// One migration file and whether it is applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MigrationState {
    pub version: i64,
    pub name: String,
    pub checksum: String,
    pub applied_at: Option<DateTime<Utc>>,
}

/// How fresh the data is, for health checks.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Freshness {
    pub latest_racecard_write: Option<DateTime<Utc>>,
    pub latest_result_write: Option<DateTime<Utc>>,
    pub latest_race_date: Option<NaiveDate>,
    pub latest_result_race_date: Option<NaiveDate>,
}

/// One row of `alert_state`: where one alert subject stands (an interval or job, `stale_data`,
/// `missed:<interval>`), how many runs in a row failed, and when it last alerted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertState {
    /// `alert_state.job`: the subject.
    pub key: String,
    /// `ok` or `failing`.
    pub state: String,
    pub consecutive_failures: i64,
    pub last_alert_at: Option<DateTime<Utc>>,
}

/// Reference data written by the `reference` job in one transaction.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReferenceData {
    pub courses: Vec<Course>,
    pub regions: Vec<Region>,
    pub bookmakers: Vec<Bookmaker>,
    pub responses: Vec<RawResponse>,
}

/// Held while a job runs on Postgres: a session advisory lock on a dedicated connection.
/// Dropping it releases the lock (closing the connection releases it too, so a crash never
/// leaves it stale).
pub trait HeldLock: Send + Sync + std::fmt::Debug {}

/// The one interface jobs and checks use. Jobs never see SQL.
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    fn backend(&self) -> Backend;

    /// A description for messages, without secrets: `sqlite:darkhorses.db`, `postgres://user@host:5432/db (schema s)`.
    fn describe(&self) -> String;

    /// The database this store writes, as one stable string without user or password: what a job
    /// lock protects. `sqlite:<canonical path>`, `postgres://host:port/db (schema s)`. Two stores
    /// with equal scopes write the same tables.
    fn lock_scope(&self) -> String;

    /// Apply every pending migration, each in its own transaction, under a lock. Returns what was applied.
    async fn migrate(&self) -> Result<Vec<MigrationState>>;

    /// Every known migration, applied or pending. Fails if an applied file's checksum changed.
    async fn migration_status(&self) -> Result<Vec<MigrationState>>;

    /// Write one unit in one committed transaction: entities, races, runners, odds, bookmakers
    /// seen, raw responses and its `fetch_coverage` row. (A dry run writes through
    /// [`Store::dry_run`]'s writer instead, with the same counts.)
    ///
    /// Both backends mean the same:
    /// - every write is an upsert on the contract key that leaves a row untouched (timestamps
    ///   included) when no compared value would change, and counts it `unchanged`;
    /// - columns both sources provide follow the row's state ([`keep::Settled`]): a result writes
    ///   `COALESCE(new, old)`; a racecard writes `COALESCE(new, old)` until a result is stored for
    ///   the row, then `COALESCE(old, new)`, so the final rows do not depend on the order units
    ///   arrive in; a source's own columns take the new value as is (the racecard-only
    ///   `going_detailed`, `prize_*`, `field_size`, `rpr`, `topspeed` take `COALESCE(new, old)`),
    ///   the other source's columns are never written; `has_result` is set by a result row and
    ///   never reset; `racecard_updated_at` / `result_updated_at` / `updated_at` are the write's wall
    ///   clock, set only when the row changed;
    /// - `runner_odds.fetched_at` and `fetch_coverage.fetched_at` are the latest `fetched_at` of
    ///   the unit's responses (the wall clock when it has none), so rewriting the same responses
    ///   changes nothing;
    /// - coverage: `complete` with `races`/`runners` = rows written when races > 0, else `empty`;
    ///   `error` NULL; `regions` = [`regions_text`] of `unit.regions` (NULL when `None`) and
    ///   `day_over` = `unit.day_over`, so a later run can tell what this fetch covers;
    /// - skipped (in `WriteStats::skipped`, never fatal): a runner whose race is not in the unit,
    ///   a runner whose horse is in neither the unit nor the table, odds of a runner not written,
    ///   rows with an empty key and earlier duplicates of a key; decided once in [`keep`].
    async fn write_unit(&self, unit: &Unit) -> Result<WriteStats>;

    /// Record a unit that failed after its retries (`fetch_coverage.status = failed`, with
    /// `api_calls`, `fetched_at` = now and `error`), unless a complete row for it exists already
    /// (a complete row keeps its `regions` and `day_over`, so what it does not cover is still
    /// fetched by the next run). A new row has `races`, `runners`, `pages` 0, `regions` NULL and
    /// `day_over` false; an existing one keeps them.
    async fn mark_unit_failed(&self, kind: Kind, race_date: NaiveDate, api_calls: u32, error: &str) -> Result<()>;

    /// Courses, regions, bookmakers and raw responses, in one transaction.
    async fn write_reference(&self, data: &ReferenceData) -> Result<WriteStats>;

    /// Enrich horses with a profile (dob, colour, breeder, pedigree ids).
    async fn write_horses(&self, horses: &[Horse], responses: &[RawResponse]) -> Result<WriteStats>;

    /// `fetch_coverage` rows of a kind between two dates, inclusive, with what each covers
    /// ([`Coverage::is_complete_for`] says whether a run still needs the unit).
    async fn coverage(&self, kind: Kind, from: NaiveDate, to: NaiveDate) -> Result<Vec<Coverage>>;

    /// The races of a racing day, with their off times and result state.
    async fn races_on(&self, date: NaiveDate) -> Result<Vec<RaceState>>;

    /// Ids of horses that appear in `runners` and lack dob, colour or breeder, ordered by id.
    async fn horses_needing_enrichment(&self, limit: u32) -> Result<Vec<String>>;

    async fn start_job_run(&self, run: &NewJobRun) -> Result<i64>;

    /// Claim a scheduled slot: insert the `running` row of (`run.job`, `run.slot`) unless the pair
    /// has a row already. `Ok(None)`: another claimant has the slot (it runs there, not here). The
    /// unique (`job`, `slot`) key decides, so two hosts never both win. In the same transaction
    /// the `covered` slots (earlier ones a `run_once` run stands in for) become `skipped` rows
    /// with `reason`: the winner accounts for them with its claim, a loser writes nothing.
    async fn claim_slot(&self, run: &NewJobRun, covered: &[DateTime<Utc>], reason: &str) -> Result<Option<i64>>;

    /// Record a slot passed over: a finished `skipped` row of (`job`, `slot`) with `reason` in
    /// `error`. `Ok(false)` when the slot has a row already (claimed or skipped elsewhere).
    async fn skip_slot(&self, job: &str, slot: DateTime<Utc>, at: DateTime<Utc>, reason: &str) -> Result<bool>;

    /// The latest slot `job` has a row for (run or skipped), if any: where its next slots start.
    async fn last_slot(&self, job: &str) -> Result<Option<DateTime<Utc>>>;

    /// The `running` rows of `job`, oldest first: a run holding the job's lock calls this before
    /// starting its own row, and every row it gets is a run that ended without finishing.
    async fn running_job_runs(&self, job: &str) -> Result<Vec<JobRun>>;

    /// Close a run that ended without finishing (killed, crashed): `status = failed`,
    /// `finished_at`, `error`. Only a row still `running` changes; `Ok(false)` when there was none.
    async fn fail_dead_job_run(&self, id: i64, finished_at: DateTime<Utc>, error: &str) -> Result<bool>;
    async fn finish_job_run(&self, id: i64, run: &FinishedJobRun) -> Result<()>;
    /// The latest `limit` runs of each job (or of the one job named), newest first
    /// (`started_at` then `id` descending). A second start of the same (job, slot) is refused
    /// with `Error::Query`.
    async fn latest_job_runs(&self, job: Option<&str>, limit: u32) -> Result<Vec<JobRun>>;

    /// Row counts of every contract table.
    async fn table_counts(&self) -> Result<BTreeMap<String, i64>>;
    async fn freshness(&self) -> Result<Freshness>;

    /// A dry run's writer: every write is kept where the later writes of the run see it (so
    /// each unit meets the units before it as in a real run, and the would-write counts add up
    /// to what a real run writes), and [`Writer::close`] (or dropping it) discards them all.
    /// The database itself is never written, and never locked for the run's length: SQLite
    /// writes into a copy of the file beside it, Postgres into one transaction rolled back.
    async fn dry_run(&self) -> Result<Arc<dyn Writer>>;

    // -----------------------------------------------------------------------------------------
    // `darkhorses quality` (jobs::quality): read-only scans whose SQL is `store::quality`'s, the
    // same text on both backends. What a finding means is the job's to decide.

    /// The first and last racing day anything is stored for ([`quality::KNOWN_RANGE`]); `None`
    /// for an empty database.
    async fn known_range(&self) -> Result<Option<(NaiveDate, NaiveDate)>>;

    /// Races, races with a racecard, races with a result and runners per racing day from `from`
    /// to `to` ([`quality::DAY_COUNTS`]); days without races are absent.
    async fn day_counts(&self, from: NaiveDate, to: NaiveDate) -> Result<Vec<quality::DayCounts>>;

    /// The races with a result from `from` to `to`, not abandoned, with their runner counts
    /// ([`quality::RESULTED_RACES`]).
    async fn resulted_races(&self, from: NaiveDate, to: NaiveDate) -> Result<Vec<quality::ResultedRace>>;

    /// Run one probe with `scope`'s values bound to its parameters.
    async fn probe(&self, probe: &quality::Probe, scope: &quality::ProbeScope) -> Result<quality::Found>;

    /// Take the cross-host lock for a job (Postgres: session advisory lock on a dedicated
    /// connection, keyed by schema and job). `Ok(None)`: another process holds it (see
    /// [`Store::job_lock_holder`]). SQLite: always granted (the file lock suffices).
    async fn try_job_lock(&self, job: &str) -> Result<Option<Box<dyn HeldLock>>>;

    /// Who holds `job`'s database lock, as a phrase for the "already running" message
    /// (`pid 4242 on web-1 (server session 9876, since 06:00:03Z)`), when the database can say.
    async fn job_lock_holder(&self, job: &str) -> Result<Option<String>>;

    /// Where processes using this database share the API rate limit (docs/api-budget.md):
    /// SQLite, the file `<database>.budget` beside it (created 0600); PostgreSQL, the table
    /// `api_budget` of the schema. `None` for an in-memory stand-in (a dry run before the file
    /// exists), whose process paces itself alone.
    fn api_budget(&self) -> Result<Option<std::sync::Arc<dyn crate::api::shared_budget::Ledger>>>;
    // --- health and alerts (src/health.rs, src/alerts.rs) ---

    /// API calls recorded in `job_runs` by runs started at or after `since` (dry runs included:
    /// they call the API too).
    async fn api_calls_since(&self, since: DateTime<Utc>) -> Result<i64>;

    /// The `alert_state` row of `key`, if any.
    async fn alert_state(&self, key: &str) -> Result<Option<AlertState>>;

    /// Insert or replace the `alert_state` row of `state.key`.
    async fn save_alert_state(&self, state: &AlertState) -> Result<()>;
    // -----------------------------------------------------------------------------------------
    // Status page reads (issue 14: `darkhorses status`, the daemon's `GET /`). Each is one query.

    /// Every `job_runs` row started at or after `since`, oldest first, with what its report says
    /// of 429s and rows per table (`summary.api.rate_limited`, `summary.rows`; 0 and empty when
    /// the run left no summary: still running, killed, a skipped slot).
    async fn runs_since(&self, since: DateTime<Utc>) -> Result<Vec<RunRecord>>;

    /// API calls per UTC day of `job_runs.started_at`, from `from` on, oldest first; dry runs
    /// count (they call the API too). Days without a run are absent.
    async fn api_calls_by_day(&self, from: NaiveDate) -> Result<Vec<DayCalls>>;

    /// The races of `from..=to` with a stored result and an off time: the off time and when the
    /// result was stored (`races.result_updated_at`), ordered by date and off time.
    async fn result_delays(&self, from: NaiveDate, to: NaiveDate) -> Result<Vec<ResultDelay>>;

    /// Every `alert_state` row, by job.
    async fn alert_states(&self) -> Result<Vec<AlertState>>;

    /// Each job's latest run that ran: its newest `job_runs` row that is not `skipped` (the
    /// newest `skipped` one when it has nothing else), by job.
    async fn last_runs(&self) -> Result<Vec<JobRun>>;

    // -----------------------------------------------------------------------------------------
    // Raw responses read back (`darkhorses rebuild`). Add other methods above this block.

    /// Every `api_responses` row without its body, in fetch order (`fetched_at`, then endpoint
    /// and params): what `rebuild` plans its replay from.
    async fn response_keys(&self) -> Result<Vec<ResponseKey>>;

    /// One stored response with its exact bytes (decompressed and checked against its `sha256`);
    /// `Ok(None)` when no row has the key. A body that cannot be decoded or does not match its
    /// checksum is an `Error::Query` naming the endpoint and params.
    async fn response(&self, endpoint: &str, params: &str) -> Result<Option<RawResponse>>;
}

/// Where one run writes: the runner opens it ([`writer`]), the job writes through it
/// (`JobContext::writes`), the runner closes it. The write methods mean what [`Store`]'s do.
#[async_trait]
pub trait Writer: Send + Sync + std::fmt::Debug {
    /// Whether nothing written here is kept.
    fn is_dry_run(&self) -> bool;
    async fn write_unit(&self, unit: &Unit) -> Result<WriteStats>;
    async fn mark_unit_failed(&self, kind: Kind, race_date: NaiveDate, api_calls: u32, error: &str) -> Result<()>;
    async fn write_reference(&self, data: &ReferenceData) -> Result<WriteStats>;
    async fn write_horses(&self, horses: &[Horse], responses: &[RawResponse]) -> Result<WriteStats>;
    /// End the run's writes: a dry run's are discarded here.
    async fn close(&self) -> Result<()>;
}

/// The writer of a run on `store`: with `dry_run`, [`Store::dry_run`]'s; else each write
/// committed into `store` as it comes.
pub async fn writer(store: &Arc<dyn Store>, dry_run: bool) -> Result<Arc<dyn Writer>> {
    if dry_run { store.dry_run().await } else { Ok(Arc::new(Committing(Arc::clone(store)))) }
}

/// A real run's writer: each write one transaction of the store, committed.
#[derive(Debug)]
pub struct Committing(pub Arc<dyn Store>);

#[async_trait]
impl Writer for Committing {
    fn is_dry_run(&self) -> bool {
        false
    }

    async fn write_unit(&self, unit: &Unit) -> Result<WriteStats> {
        self.0.write_unit(unit).await
    }

    async fn mark_unit_failed(&self, kind: Kind, race_date: NaiveDate, api_calls: u32, error: &str) -> Result<()> {
        self.0.mark_unit_failed(kind, race_date, api_calls, error).await
    }

    async fn write_reference(&self, data: &ReferenceData) -> Result<WriteStats> {
        self.0.write_reference(data).await
    }

    async fn write_horses(&self, horses: &[Horse], responses: &[RawResponse]) -> Result<WriteStats> {
        self.0.write_horses(horses, responses).await
    }

    async fn close(&self) -> Result<()> {
        Ok(())
    }
}

/// One `api_responses` row without its body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponseKey {
    pub endpoint: String,
    pub params: String,
    pub fetched_at: DateTime<Utc>,
    pub status: u16,
}

/// The exact bytes of a stored body: `encoding` as the store wrote it (`gzip`; `json` or
/// `identity` for bytes kept as they came), checked against the stored `sha256` of the raw bytes.
pub(crate) fn decode_body(
    endpoint: &str,
    params: &str,
    encoding: &str,
    stored: &[u8],
    sha256: &str,
) -> Result<bytes::Bytes> {
    use std::io::Read;
    let what = || if params.is_empty() { endpoint.to_string() } else { format!("{endpoint}?{params}") };
    let raw = match encoding {
        "gzip" => {
            let mut out = Vec::with_capacity(stored.len() * 4);
            flate2::read::GzDecoder::new(stored).read_to_end(&mut out).map_err(|e| {
                Error::Query(format!("api_responses {}: the gzip body does not decompress: {e}", what()))
            })?;
            out
        }
        "json" | "identity" => stored.to_vec(),
        other => {
            return Err(Error::Query(format!(
                "api_responses {}: unknown body encoding {other:?} (expected gzip)",
                what()
            )));
        }
    };
    let sum = migrations::sha256_hex(&raw);
    if !sum.eq_ignore_ascii_case(sha256) {
        return Err(Error::Query(format!(
            "api_responses {}: the body's sha256 is {sum}, the row says {sha256}: the stored body is damaged",
            what()
        )));
    }
    Ok(bytes::Bytes::from(raw))
}

/// A `job_runs` row with the counts of its report the status page shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub run: JobRun,
    /// Answers 429 the run met (`summary.api.rate_limited`).
    pub rate_limited: i64,
    /// Per table, what the run wrote (`summary.rows`).
    pub rows: BTreeMap<String, TableCounts>,
}

/// API calls of the runs started on one UTC day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayCalls {
    pub date: NaiveDate,
    pub calls: i64,
    /// Calls that failed after their retries (`job_runs.api_errors`).
    pub errors: i64,
    pub runs: i64,
}

/// When a race went off and when its result was stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResultDelay {
    pub race_date: NaiveDate,
    pub off_at: DateTime<Utc>,
    pub result_at: DateTime<Utc>,
}

/// `summary.rows` as stored in a run's report; anything else (no summary, another shape) is empty.
pub fn summary_rows(rows: Option<serde_json::Value>) -> BTreeMap<String, TableCounts> {
    rows.and_then(|v| serde_json::from_value(v).ok()).unwrap_or_default()
}

/// Every contract table (docs/schema.md), on both backends: `table_counts` counts these.
pub const CONTRACT_TABLES: [&str; 18] = [
    "courses",
    "regions",
    "bookmakers",
    "horses",
    "jockeys",
    "owners",
    "trainers",
    "sires",
    "dams",
    "damsires",
    "races",
    "runners",
    "runner_odds",
    "api_responses",
    "fetch_coverage",
    "job_runs",
    "alert_state",
    "schema_migrations",
];

/// Open the store `database.url` names: empty or `sqlite:PATH` is SQLite, `postgres://` or
/// `postgresql://` is PostgreSQL. Applies pending migrations first when `database.auto_migrate`
/// is true (the default), so every command that needs the schema has it.
pub async fn open(cfg: &crate::config::DatabaseConfig) -> Result<std::sync::Arc<dyn Store>> {
    if is_postgres(cfg) { postgres::open(cfg).await } else { sqlite::open(cfg).await }
}

/// [`open`], deciding migration here instead of from `database.auto_migrate`: `db migrate` opens
/// with `migrate = false` to report what it applies.
pub async fn open_with(cfg: &crate::config::DatabaseConfig, migrate: bool) -> Result<std::sync::Arc<dyn Store>> {
    let mut cfg = cfg.clone();
    cfg.auto_migrate = migrate;
    open(&cfg).await
}

fn is_postgres(cfg: &crate::config::DatabaseConfig) -> bool {
    let url = cfg.url.expose().trim();
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// The store as it is, for commands that only look (`db status`): never creates a file, never
/// migrates. `None` when `database.url` names a SQLite file that does not exist yet.
pub async fn open_existing(cfg: &crate::config::DatabaseConfig) -> Result<Option<std::sync::Arc<dyn Store>>> {
    if !is_postgres(cfg) && !sqlite::path_of(cfg.url.expose())?.exists() {
        return Ok(None);
    }
    open_with(cfg, false).await.map(Some)
}

/// The migrations `store` has not applied yet, as `0004_api_budget`: what a command that must not
/// change the schema (a dry run, `status`) names when it refuses.
pub async fn pending_migrations(store: &dyn Store) -> Result<Vec<String>> {
    Ok(store
        .migration_status()
        .await?
        .iter()
        .filter(|m| m.applied_at.is_none())
        .map(|m| format!("{:04}_{}", m.version, m.name))
        .collect())
}

/// The store a dry run reads (its writes go through [`Store::dry_run`]'s writer), leaving the
/// database exactly as it was: no file created, no migration applied. A SQLite file that does not exist yet is stood in for by an
/// empty, migrated in-memory database (what a real first run would write into); a database with
/// migrations pending is an error saying to migrate first, since a dry run never changes the schema.
pub async fn open_for_dry_run(cfg: &crate::config::DatabaseConfig) -> Result<std::sync::Arc<dyn Store>> {
    let Some(store) = open_existing(cfg).await? else {
        let path = sqlite::path_of(cfg.url.expose())?;
        tracing::info!(
            db.path = %path.display(),
            "dry run: {} does not exist yet, so it is counted against an empty database in memory (nothing is created)",
            path.display()
        );
        return Ok(std::sync::Arc::new(sqlite::SqliteStore::open_in_memory(cfg).await?));
    };
    let pending = pending_migrations(store.as_ref()).await?;
    if !pending.is_empty() {
        return Err(Error::Migration(format!(
            "{} has migrations pending ({}) and a dry run never changes the schema: run `darkhorses db migrate` \
             first, then the dry run",
            store.describe(),
            pending.join(", ")
        )));
    }
    Ok(store)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn coverage(kind: Kind, status: CoverageStatus, regions: Option<&str>, day_over: bool) -> Coverage {
        Coverage {
            kind,
            race_date: NaiveDate::from_ymd_opt(2026, 3, 10).unwrap_or_default(),
            status,
            races: 0,
            runners: 0,
            pages: 1,
            api_calls: 1,
            fetched_at: DateTime::<Utc>::default(),
            error: None,
            regions: parse_regions(regions),
            day_over,
        }
    }

    fn codes(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn regions_are_stored_sorted_lower_case_once() {
        assert_eq!(regions_text(&codes(&["IRE", " gb", "ire"])), "gb,ire");
        assert_eq!(regions_text(&[]), "");
        assert_eq!(parse_regions(Some("gb,ire")), Some(codes(&["gb", "ire"])));
        assert_eq!(parse_regions(Some("")), Some(vec![]));
        assert_eq!(parse_regions(None), None);
    }

    #[test]
    fn a_unit_is_complete_only_for_what_its_coverage_covers() {
        use CoverageStatus::*;
        use Kind::*;
        let gb_ire = codes(&["gb", "ire"]);
        assert!(coverage(Results, Complete, Some("gb,ire"), true).is_complete_for(&gb_ire));
        assert!(coverage(Results, Empty, Some("gb,ire,fr"), true).is_complete_for(&codes(&["IRE"])));
        assert!(!coverage(Results, Complete, Some("gb"), true).is_complete_for(&gb_ire), "Ireland not fetched");
        assert!(!coverage(Results, Empty, Some("xx"), true).is_complete_for(&gb_ire), "a typo covers nothing");
        assert!(!coverage(Results, Complete, None, true).is_complete_for(&gb_ire), "unknown regions");
        assert!(!coverage(Results, Complete, Some("gb,ire"), false).is_complete_for(&gb_ire), "fetched mid-day");
        assert!(coverage(Racecards, Complete, Some("gb,ire"), false).is_complete_for(&gb_ire), "cards need no end");
        assert!(!coverage(Racecards, Failed, Some("gb,ire"), false).is_complete_for(&gb_ire));
        // An empty request asked for every region: it covers any, and only it covers "every".
        assert!(coverage(Racecards, Complete, Some(""), false).is_complete_for(&gb_ire));
        assert!(!coverage(Racecards, Complete, Some("gb,ire"), false).is_complete_for(&[]));
    }
}
