//! The PostgreSQL store: connection (pool, TLS, timeouts, error messages), the `Store`
//! implementation, and the cross-host job lock. Migrations live in `migrate.rs`; writes in `write.rs`
//! (rows as column arrays in `stage.rs`, the upsert statement in `upsert.rs`); reads and the
//! job-run ledger in `read.rs`; TLS in `tls.rs`.
//!
//! Every statement runs inside a transaction that starts with `SET LOCAL search_path` and
//! `SET LOCAL statement_timeout`, so the schema and timeout hold even behind a transaction-mode
//! pooler (Supabase on port 6543) where session settings do not survive between transactions.
//! Session advisory locks (migrations, job locks) do not work through such a pooler: use the
//! direct or session URL (port 5432) for hosts that run jobs; `open` warns when it sees port 6543.

mod budget;
mod health;
mod migrate;
mod quality;
mod read;
mod stage;
mod tls;
mod upsert;
mod write;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime};
use sha2::{Digest, Sha256};
use tokio::task::JoinHandle;
use tokio_postgres::config::Host;

use super::{
    AlertState, Backend, Coverage, Error, FinishedJobRun, Freshness, HeldLock, JobRun, MigrationState, NewJobRun,
    RaceState, ReferenceData, Result, Store, WriteStats,
};
use crate::config::DatabaseConfig;
use crate::model::{Horse, Kind, RawResponse, Unit};

/// The port Supabase's transaction-mode pooler listens on.
const TRANSACTION_POOLER_PORT: u16 = 6543;

/// Open the PostgreSQL store `cfg.url` names, check that it answers, and migrate when
/// `database.auto_migrate` is true.
pub async fn open(cfg: &DatabaseConfig) -> Result<Arc<dyn Store>> {
    Ok(Arc::new(PgStore::open(cfg).await?))
}

/// The PostgreSQL `Store`.
pub struct PgStore {
    pool: Pool,
    connector: Connector,
    schema: String,
    query_timeout: Duration,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").field("target", &self.describe()).finish_non_exhaustive()
    }
}

/// Where we connect, for messages (never the password).
#[derive(Debug, Clone)]
struct Target {
    host: String,
    port: u16,
    user: String,
    dbname: String,
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "postgres://{}@{}:{}/{}", self.user, self.host, self.port, self.dbname)
    }
}

/// Opens dedicated (non-pooled) connections: migrations and job locks need their own session.
#[derive(Clone)]
struct Connector {
    pg: tokio_postgres::Config,
    tls: tokio_postgres_rustls::MakeRustlsConnect,
    timeout: Duration,
    target: Target,
}

impl Connector {
    async fn connect(&self) -> Result<(tokio_postgres::Client, JoinHandle<()>)> {
        self.connect_with(&self.pg).await
    }

    /// A dedicated connection that names itself `application_name` in `pg_stat_activity`.
    async fn connect_as(&self, application_name: &str) -> Result<(tokio_postgres::Client, JoinHandle<()>)> {
        let mut pg = self.pg.clone();
        pg.application_name(application_name);
        self.connect_with(&pg).await
    }

    async fn connect_with(&self, pg: &tokio_postgres::Config) -> Result<(tokio_postgres::Client, JoinHandle<()>)> {
        match tokio::time::timeout(self.timeout, pg.connect(self.tls.clone())).await {
            Err(_) => Err(self.timed_out()),
            Ok(Err(e)) => Err(self.connect_error(&e)),
            Ok(Ok((client, connection))) => {
                let handle = tokio::spawn(async move {
                    if let Err(e) = connection.await {
                        tracing::debug!(error = %e, "postgres connection closed with an error");
                    }
                });
                Ok((client, handle))
            }
        }
    }

    fn connect_error(&self, e: &tokio_postgres::Error) -> Error {
        Error::Connect(format!(
            "cannot connect to PostgreSQL at {}:{} as user {} (database {}): {}; check that the server is \
             running and reachable from this host, that the user and password in database.url (or DATABASE_URL) \
             are right, that the database exists, and sslmode",
            self.target.host,
            self.target.port,
            self.target.user,
            self.target.dbname,
            pg_message(e)
        ))
    }

    fn timed_out(&self) -> Error {
        Error::Connect(format!(
            "cannot connect to PostgreSQL at {}:{} as user {} (database {}): no answer within {}s \
             (database.connection_timeout); check the host and port, firewalls, and that the server is running",
            self.target.host,
            self.target.port,
            self.target.user,
            self.target.dbname,
            self.timeout.as_secs()
        ))
    }
}

/// A PostgreSQL error on one line: the server's message, detail and hint when it sent them,
/// else the driver's error and its cause.
pub(crate) fn pg_message(e: &tokio_postgres::Error) -> String {
    let text = if let Some(db) = e.as_db_error() {
        let mut s = format!("{} (SQLSTATE {})", db.message(), db.code().code());
        if let Some(d) = db.detail() {
            s.push_str(&format!("; {d}"));
        }
        if let Some(h) = db.hint() {
            s.push_str(&format!("; hint: {h}"));
        }
        s
    } else {
        let mut s = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(cause) = source {
            let c = cause.to_string();
            if !s.contains(&c) {
                s.push_str(&format!(": {c}"));
            }
            source = cause.source();
        }
        s
    };
    text.replace(['\n', '\r'], " ")
}

/// Wraps a query error with what was being done.
pub(crate) fn query_error(what: &str) -> impl Fn(tokio_postgres::Error) -> Error + '_ {
    move |e| Error::Query(format!("{what}: {}", pg_message(&e)))
}

/// `"name"` with embedded quotes doubled: safe to splice into SQL as an identifier.
pub(crate) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A stable advisory-lock key: the first 8 bytes of sha256 of `darkhorses:<schema>:<what>`, so
/// stores in different schemas of one database never block each other.
fn lock_key(schema: &str, what: &str) -> i64 {
    let digest = Sha256::digest(format!("darkhorses:{schema}:{what}").as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes)
}

/// The two halves of an advisory lock key as `pg_locks` shows them: `classid` the high 32 bits,
/// `objid` the low 32 bits (with `objsubid` 1 for a one-bigint key).
fn lock_key_parts(key: i64) -> (i64, i64) {
    let bits = key as u64;
    ((bits >> 32) as i64, (bits & 0xffff_ffff) as i64)
}

/// Prefix of the `application_name` of a job lock's connection, which says who holds it.
const LOCK_APPLICATION: &str = "darkhorses ";
/// Postgres keeps at most this many bytes of an `application_name`.
const APPLICATION_NAME_MAX: usize = 63;

/// `darkhorses backfill: pid 4242 on web-1`, cut to what Postgres keeps.
fn lock_application_name(job: &str, pid: u32, host: &str) -> String {
    let mut name = format!("{LOCK_APPLICATION}{job}: pid {pid} on {host}");
    while name.len() > APPLICATION_NAME_MAX {
        name.pop();
    }
    name
}

/// The holder phrase of a lock connection's `application_name`, server pid and start.
fn holder_phrase(application_name: &str, server_pid: i32, since: Option<chrono::DateTime<chrono::Utc>>) -> String {
    let who = application_name
        .strip_prefix(LOCK_APPLICATION)
        .and_then(|rest| rest.split_once(": "))
        .map_or_else(|| format!("a session named {application_name:?}"), |(_, who)| who.to_string());
    match since {
        Some(t) => format!("{who} (server session {server_pid}, connected since {})", t.format("%Y-%m-%dT%H:%M:%SZ")),
        None => format!("{who} (server session {server_pid})"),
    }
}

/// Splits `sslmode` out of a URL's query string: tokio-postgres knows only disable, prefer and
/// require, and we also accept verify-ca and verify-full.
/// A host on this machine: a loopback address, `localhost`, or a Unix socket.
fn is_local(host: &Host) -> bool {
    match host {
        Host::Tcp(h) => {
            h == "localhost" || h.trim_matches(['[', ']']).parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
        }
        #[cfg(unix)]
        Host::Unix(_) => true,
    }
}

fn take_sslmode(url: &str) -> (String, Option<String>) {
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_string(), None);
    };
    let mut mode = None;
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| match pair.split_once('=') {
            Some(("sslmode", v)) => {
                mode = Some(v.to_string());
                false
            }
            _ => !pair.is_empty(),
        })
        .collect();
    if kept.is_empty() { (base.to_string(), mode) } else { (format!("{base}?{}", kept.join("&")), mode) }
}

impl PgStore {
    pub async fn open(cfg: &DatabaseConfig) -> Result<Self> {
        let (url, sslmode) = take_sslmode(cfg.url.expose().trim());
        let mut pg: tokio_postgres::Config = url.parse().map_err(|e: tokio_postgres::Error| {
            Error::Config(format!(
                "database.url is not a valid PostgreSQL URL ({e}); expected postgres://USER:PASSWORD@HOST:PORT/DATABASE"
            ))
        })?;
        let mut mode = tls::SslMode::parse(sslmode.as_deref())?;
        // With no sslmode in the URL, a server on this machine is reached without TLS: loopback
        // traffic never leaves the host, and the handshake was most of the cost of a short run
        // such as an `orchestrate` tick with nothing due. An explicit `sslmode=` always wins.
        if sslmode.is_none() && pg.get_hosts().iter().all(is_local) && !pg.get_hosts().is_empty() {
            mode = tls::SslMode::Disable;
        }
        pg.ssl_mode(mode.driver_mode());
        let timeout = Duration::from_secs(cfg.connection_timeout.max(1));
        pg.connect_timeout(timeout);
        if pg.get_application_name().is_none() {
            pg.application_name("darkhorses");
        }
        if cfg.schema.trim().is_empty() {
            return Err(Error::Config("database.schema is empty; set it to a schema name such as public".into()));
        }
        let target = Target {
            host: match pg.get_hosts().first() {
                Some(Host::Tcp(h)) => h.clone(),
                #[cfg(unix)]
                Some(Host::Unix(p)) => p.display().to_string(),
                None => "localhost".to_string(),
            },
            port: pg.get_ports().first().copied().unwrap_or(5432),
            user: pg.get_user().unwrap_or("postgres").to_string(),
            dbname: pg.get_dbname().or(pg.get_user()).unwrap_or("postgres").to_string(),
        };
        if target.port == TRANSACTION_POOLER_PORT {
            tracing::warn!(
                db.host = %target.host,
                db.port = target.port,
                "database.url looks like a transaction-mode pooler: writes and reads work, but migrations and \
                 job locks use session advisory locks that such a pooler does not keep; use the direct or \
                 session URL (port 5432) on hosts that run jobs or migrations"
            );
        }
        let tls = mode.connector()?;
        let connector = Connector { pg: pg.clone(), tls: tls.clone(), timeout, target };
        let manager = Manager::from_config(pg, tls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager)
            .max_size(cfg.pool_size.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(timeout))
            .create_timeout(Some(timeout))
            .recycle_timeout(Some(timeout))
            .build()
            .map_err(|e| Error::Config(format!("cannot build the PostgreSQL connection pool: {e}")))?;
        let store = Self {
            pool,
            connector,
            schema: cfg.schema.trim().to_string(),
            query_timeout: Duration::from_secs(cfg.query_timeout.max(1)),
        };
        // Fail now, with the connect message, rather than at the first query.
        drop(store.client().await?);
        if cfg.auto_migrate {
            store.migrate().await?;
        }
        Ok(store)
    }

    /// A pooled connection; errors name the server and say what to check.
    async fn client(&self) -> Result<deadpool_postgres::Object> {
        self.pool.get().await.map_err(|e| match e {
            PoolError::Backend(e) => self.connector.connect_error(&e),
            PoolError::Timeout(deadpool_postgres::TimeoutType::Wait) => Error::Connect(format!(
                "all {} connections to {} stayed busy for {}s (database.pool_size, database.connection_timeout)",
                self.pool.status().max_size,
                self.connector.target,
                self.connector.timeout.as_secs()
            )),
            PoolError::Timeout(_) => self.connector.timed_out(),
            other => Error::Connect(format!("cannot get a connection to {}: {other}", self.connector.target)),
        })
    }

    /// The statements that start every transaction: our schema and the statement timeout.
    fn prologue(&self) -> String {
        format!(
            "SET LOCAL search_path TO {}; SET LOCAL statement_timeout = {}",
            quote_ident(&self.schema),
            self.query_timeout.as_millis()
        )
    }

    /// Begin a transaction on a pooled connection, with the prologue applied.
    async fn begin<'a>(&self, client: &'a mut deadpool_postgres::Object) -> Result<deadpool_postgres::Transaction<'a>> {
        let tx = client.transaction().await.map_err(query_error("begin a transaction"))?;
        tx.batch_execute(&self.prologue()).await.map_err(query_error("set search_path and statement_timeout"))?;
        Ok(tx)
    }

    /// Whether write statements are prepared once per connection: not behind a transaction-mode
    /// pooler, where the next transaction may run on another server connection.
    fn cache_statements(&self) -> bool {
        self.connector.target.port != TRANSACTION_POOLER_PORT
    }

    /// The prologue of a write transaction (`write::in_write`) and of a dry run's session: every join in a write probes a primary key for the rows of
    /// one unit (the upserts' unchanged-row filter, the foreign-key checks), so index probes are
    /// always the right plan. The planner does not always see it: the write statements are
    /// prepared once and, after five runs, Postgres keeps a generic plan costed while the tables
    /// were small, and even a fresh plan prices a probe at `random_page_cost` as if from disk.
    /// Measured on 72,000 runners: a seq scan of `races` per unit growing with the table, and a
    /// hash join over all of `runners` (107 µs a runner instead of 33). Turning off sequential
    /// scans, hash and merge joins for the transaction leaves one plan: probe the key.
    fn write_prologue(&self) -> String {
        format!(
            "{}; SET LOCAL enable_seqscan = off; SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off",
            self.prologue()
        )
    }
}

/// A job's session advisory lock, held by a dedicated connection. Dropping it closes that
/// connection, and the server releases the lock with the session.
struct PgJobLock {
    job: String,
    _client: tokio_postgres::Client,
    connection: JoinHandle<()>,
}

impl std::fmt::Debug for PgJobLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgJobLock").field("job", &self.job).finish_non_exhaustive()
    }
}

impl HeldLock for PgJobLock {}

impl Drop for PgJobLock {
    fn drop(&mut self) {
        self.connection.abort();
    }
}

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    fn describe(&self) -> String {
        format!("{} (schema {})", self.connector.target, self.schema)
    }

    fn api_budget(&self) -> Result<Option<Arc<dyn crate::api::shared_budget::Ledger>>> {
        let ledger = budget::PgLedger::new(self.connector.clone(), &self.schema, self.query_timeout.as_millis());
        Ok(Some(Arc::new(ledger)))
    }

    fn lock_scope(&self) -> String {
        let t = &self.connector.target;
        format!("postgres://{}:{}/{} (schema {})", t.host, t.port, t.dbname, self.schema)
    }

    async fn migrate(&self) -> Result<Vec<MigrationState>> {
        migrate::migrate(self).await
    }

    async fn migration_status(&self) -> Result<Vec<MigrationState>> {
        migrate::status(self).await
    }

    async fn write_unit(&self, unit: &Unit) -> Result<WriteStats> {
        write::write_unit(self, None, unit).await
    }

    async fn mark_unit_failed(&self, kind: Kind, race_date: NaiveDate, api_calls: u32, error: &str) -> Result<()> {
        write::mark_unit_failed(self, None, kind, race_date, api_calls, error).await
    }

    async fn write_reference(&self, data: &ReferenceData) -> Result<WriteStats> {
        write::write_reference(self, None, data).await
    }

    async fn write_horses(&self, horses: &[Horse], responses: &[RawResponse]) -> Result<WriteStats> {
        write::write_horses(self, None, horses, responses).await
    }

    async fn coverage(&self, kind: Kind, from: NaiveDate, to: NaiveDate) -> Result<Vec<Coverage>> {
        read::coverage(self, kind, from, to).await
    }

    async fn races_on(&self, date: NaiveDate) -> Result<Vec<RaceState>> {
        read::races_on(self, date).await
    }

    async fn horses_needing_enrichment(&self, limit: u32) -> Result<Vec<String>> {
        read::horses_needing_enrichment(self, limit).await
    }

    async fn start_job_run(&self, run: &NewJobRun) -> Result<i64> {
        read::start_job_run(self, run).await
    }

    async fn claim_slot(&self, run: &NewJobRun, covered: &[DateTime<Utc>], reason: &str) -> Result<Option<i64>> {
        read::claim_slot(self, run, covered, reason).await
    }

    async fn skip_slot(&self, job: &str, slot: DateTime<Utc>, at: DateTime<Utc>, reason: &str) -> Result<bool> {
        read::skip_slot(self, job, slot, at, reason).await
    }

    async fn last_slot(&self, job: &str) -> Result<Option<DateTime<Utc>>> {
        read::last_slot(self, job).await
    }

    async fn finish_job_run(&self, id: i64, run: &FinishedJobRun) -> Result<()> {
        read::finish_job_run(self, id, run).await
    }

    async fn running_job_runs(&self, job: &str) -> Result<Vec<JobRun>> {
        read::running_job_runs(self, job).await
    }

    async fn fail_dead_job_run(
        &self,
        id: i64,
        finished_at: chrono::DateTime<chrono::Utc>,
        error: &str,
    ) -> Result<bool> {
        read::fail_dead_job_run(self, id, finished_at, error).await
    }

    async fn latest_job_runs(&self, job: Option<&str>, limit: u32) -> Result<Vec<JobRun>> {
        read::latest_job_runs(self, job, limit).await
    }

    async fn table_counts(&self) -> Result<BTreeMap<String, i64>> {
        read::table_counts(self).await
    }

    async fn freshness(&self) -> Result<Freshness> {
        read::freshness(self).await
    }

    async fn dry_run(&self) -> Result<Arc<dyn crate::store::Writer>> {
        // The session's own handle on the pool and settings (cheap clones: the pool is shared).
        let store = PgStore {
            pool: self.pool.clone(),
            connector: self.connector.clone(),
            schema: self.schema.clone(),
            query_timeout: self.query_timeout,
        };
        Ok(Arc::new(write::DrySession::open(store).await?))
    }

    async fn try_job_lock(&self, job: &str) -> Result<Option<Box<dyn HeldLock>>> {
        if self.connector.target.port == TRANSACTION_POOLER_PORT {
            tracing::warn!(
                job,
                "job lock taken through a transaction-mode pooler (port 6543) does not hold; use port 5432"
            );
        }
        // Named after this process, so a run refused the lock can say who holds it.
        let name = lock_application_name(job, std::process::id(), &crate::lock::hostname());
        let (client, connection) = self.connector.connect_as(&name).await?;
        let key = lock_key(&self.schema, &format!("job:{job}"));
        let row = client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
            .await
            .map_err(query_error(&format!("take the advisory lock of job {job}")))?;
        let granted: bool = row.get(0);
        if granted {
            Ok(Some(Box::new(PgJobLock { job: job.to_string(), _client: client, connection })))
        } else {
            connection.abort();
            Ok(None)
        }
    }

    async fn job_lock_holder(&self, job: &str) -> Result<Option<String>> {
        let (classid, objid) = lock_key_parts(lock_key(&self.schema, &format!("job:{job}")));
        let client = self.client().await?;
        // Without pg_read_all_stats another user's session shows no application_name: then the
        // holder is "another process", said neutrally by the caller.
        let row = client
            .query_opt(
                "SELECT a.application_name, l.pid, a.backend_start
                 FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
                 WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
                   AND l.classid::bigint = $1 AND l.objid::bigint = $2
                   AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                 LIMIT 1",
                &[&classid, &objid],
            )
            .await
            .map_err(query_error(&format!("read who holds the advisory lock of job {job}")))?;
        Ok(row.and_then(|r| {
            let name: Option<String> = r.get(0);
            let server_pid: i32 = r.get(1);
            name.filter(|n| !n.is_empty()).map(|n| holder_phrase(&n, server_pid, r.get(2)))
        }))
    }

    async fn response_keys(&self) -> Result<Vec<crate::store::ResponseKey>> {
        read::response_keys(self).await
    }

    async fn response(&self, endpoint: &str, params: &str) -> Result<Option<crate::model::RawResponse>> {
        read::response(self, endpoint, params).await
    }

    // --- health and alerts ---

    async fn api_calls_since(&self, since: chrono::DateTime<chrono::Utc>) -> Result<i64> {
        health::api_calls_since(self, since).await
    }

    async fn alert_state(&self, key: &str) -> Result<Option<AlertState>> {
        health::alert_state(self, key).await
    }

    async fn save_alert_state(&self, state: &AlertState) -> Result<()> {
        health::save_alert_state(self, state).await
    }

    // -----------------------------------------------------------------------------------------
    // Status page reads (issue 14).

    async fn runs_since(&self, since: DateTime<Utc>) -> Result<Vec<crate::store::RunRecord>> {
        read::runs_since(self, since).await
    }

    async fn api_calls_by_day(&self, from: NaiveDate) -> Result<Vec<crate::store::DayCalls>> {
        read::api_calls_by_day(self, from).await
    }

    async fn result_delays(&self, from: NaiveDate, to: NaiveDate) -> Result<Vec<crate::store::ResultDelay>> {
        read::result_delays(self, from, to).await
    }

    async fn last_runs(&self) -> Result<Vec<JobRun>> {
        read::last_runs(self).await
    }

    async fn alert_states(&self) -> Result<Vec<crate::store::AlertState>> {
        read::alert_states(self).await
    }

    // ---------------------------------------------------------------------------------------------
    // `darkhorses quality`: the shared SQL of `store::quality` (see `quality.rs` here).

    async fn known_range(&self) -> Result<Option<(NaiveDate, NaiveDate)>> {
        quality::known_range(self).await
    }

    async fn day_counts(&self, from: NaiveDate, to: NaiveDate) -> Result<Vec<crate::store::quality::DayCounts>> {
        quality::day_counts(self, from, to).await
    }

    async fn resulted_races(&self, from: NaiveDate, to: NaiveDate) -> Result<Vec<crate::store::quality::ResultedRace>> {
        quality::resulted_races(self, from, to).await
    }

    async fn probe(
        &self,
        probe: &crate::store::quality::Probe,
        scope: &crate::store::quality::ProbeScope,
    ) -> Result<crate::store::quality::Found> {
        quality::probe(self, probe, scope).await
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn local_hosts_are_loopback_names_addresses_and_sockets() {
        for local in ["localhost", "127.0.0.1", "127.8.9.1", "::1", "[::1]"] {
            assert!(is_local(&Host::Tcp(local.into())), "{local}");
        }
        for remote in ["db.example.com", "10.0.0.5", "aws-0-eu-west-2.pooler.supabase.com"] {
            assert!(!is_local(&Host::Tcp(remote.into())), "{remote}");
        }
        #[cfg(unix)]
        assert!(is_local(&Host::Unix("/var/run/postgresql".into())));
    }

    use super::*;

    #[test]
    fn sslmode_is_split_from_the_query_string() {
        assert_eq!(take_sslmode("postgres://u@h/db"), ("postgres://u@h/db".to_string(), None));
        assert_eq!(
            take_sslmode("postgres://u@h/db?sslmode=verify-full"),
            ("postgres://u@h/db".to_string(), Some("verify-full".to_string()))
        );
        assert_eq!(
            take_sslmode("postgres://u@h/db?application_name=x&sslmode=require&connect_timeout=3"),
            ("postgres://u@h/db?application_name=x&connect_timeout=3".to_string(), Some("require".to_string()))
        );
    }

    #[test]
    fn lock_keys_are_stable_and_differ_by_schema_and_job() {
        assert_eq!(lock_key("public", "job:daily"), lock_key("public", "job:daily"));
        assert_ne!(lock_key("public", "job:daily"), lock_key("other", "job:daily"));
        assert_ne!(lock_key("public", "job:daily"), lock_key("public", "job:live"));
    }

    #[test]
    fn lock_holders_are_named_from_the_application_name() {
        let name = lock_application_name("backfill", 4242, "web-1");
        assert_eq!(name, "darkhorses backfill: pid 4242 on web-1");
        assert_eq!(holder_phrase(&name, 77, None), "pid 4242 on web-1 (server session 77)");
        assert!(lock_application_name("backfill", 1, &"h".repeat(100)).len() <= APPLICATION_NAME_MAX);
        assert_eq!(holder_phrase("psql", 5, None), "a session named \"psql\" (server session 5)");
        assert_eq!(lock_key_parts(-1), (0xffff_ffff, 0xffff_ffff));
        assert_eq!(lock_key_parts(0x0000_0001_0000_0002), (1, 2));
    }

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote_ident("public"), "\"public\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }
}
