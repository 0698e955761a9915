//! The shared API budget's ledger on PostgreSQL (`api_budget`, migration 0004): one row per
//! account, read and rewritten in one transaction that holds the row's lock, on the database's
//! clock so processes on hosts with skewed clocks agree (see `api::shared_budget`).
//!
//! Two round trips per exchange on a connection of its own (so a busy pool never delays a send):
//! `BEGIN; SET LOCAL ...; INSERT .. ON CONFLICT DO NOTHING; SELECT .. FOR UPDATE; SELECT
//! clock_timestamp()` then `UPDATE ..; COMMIT`, both as simple queries (no prepared statements,
//! so it works through a transaction-mode pooler too). The clock is read after the row lock is
//! held. The table is unlogged and the commit asynchronous: a commit waiting for a WAL flush
//! (8 ms here) held the row lock that long for every other process. A process killed between the two closes its connection and the server rolls back,
//! releasing the lock; any error drops the connection the same way, and the next exchange
//! connects again.

use async_trait::async_trait;
use tokio::task::JoinHandle;

use super::{Connector, quote_ident};
use crate::api::shared_budget::{Call, Ledger, Micros, Reply, exchange_text};

/// How long an exchange waits for another process's lock on the account's row.
const LOCK_TIMEOUT_MS: u64 = 1000;

pub(super) struct PgLedger {
    connector: Connector,
    table: String,
    statement_timeout_ms: u128,
    describe: String,
    conn: tokio::sync::Mutex<Connection>,
}

impl std::fmt::Debug for PgLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgLedger").field("target", &self.describe).finish_non_exhaustive()
    }
}

impl PgLedger {
    pub(super) fn new(connector: Connector, schema: &str, statement_timeout_ms: u128) -> Self {
        let describe = format!("table api_budget in {} (schema {schema})", connector.target);
        Self {
            connector,
            table: format!("{}.api_budget", quote_ident(schema)),
            statement_timeout_ms,
            describe,
            conn: tokio::sync::Mutex::new(None),
        }
    }

    async fn exchange_on(&self, client: &tokio_postgres::Client, account: &str, call: &Call) -> Result<Reply, String> {
        // The account is a hex hash (`shared_budget::account_key`); checked so a literal is safe.
        if account.is_empty() || !account.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(format!("the API budget account key {account:?} is not a hex hash"));
        }
        let table = &self.table;
        let read = format!(
            "BEGIN; SET LOCAL lock_timeout = {LOCK_TIMEOUT_MS}; SET LOCAL statement_timeout = {}; \
             SET LOCAL synchronous_commit = off; \
             INSERT INTO {table} (account) VALUES ('{account}') ON CONFLICT (account) DO NOTHING; \
             SELECT state::text FROM {table} WHERE account = '{account}' FOR UPDATE; \
             SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::int8::text",
            self.statement_timeout_ms
        );
        let failed = |e: tokio_postgres::Error| format!("the shared API budget ({}): {e}", self.describe);
        let messages = client.simple_query(&read).await.map_err(failed)?;
        let mut values = messages.iter().filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(row) => row.get(0).map(str::to_string),
            _ => None,
        });
        let (Some(state), Some(now)) = (values.next(), values.next()) else {
            return Err(format!("the shared API budget ({}): its row could not be read", self.describe));
        };
        let now = now.parse::<i64>().map(Micros).map_err(|e| format!("the database clock {now:?}: {e}"))?;
        let (state, reply) = exchange_text(Some(&state), now, call);
        let write = format!(
            "UPDATE {table} SET state = '{}'::jsonb, updated_at = clock_timestamp() WHERE account = '{account}'; COMMIT",
            state.replace('\'', "''")
        );
        client.simple_query(&write).await.map_err(failed)?;
        Ok(reply)
    }
}

type Connection = Option<(tokio_postgres::Client, JoinHandle<()>)>;

/// Closes the connection when dropped before `done`.
struct CloseUnlessDone<'a> {
    conn: &'a mut Connection,
    done: bool,
}

impl Drop for CloseUnlessDone<'_> {
    fn drop(&mut self) {
        if !self.done
            && let Some((_, task)) = self.conn.take()
        {
            task.abort();
        }
    }
}

#[async_trait]
impl Ledger for PgLedger {
    async fn exchange(&self, account: &str, call: &Call) -> Result<Reply, String> {
        let mut conn = self.conn.lock().await;
        if conn.as_ref().is_none_or(|(client, _)| client.is_closed()) {
            let (client, task) = self
                .connector
                .connect_as("darkhorses api budget")
                .await
                .map_err(|e| format!("the shared API budget: {e}"))?;
            *conn = Some((client, task));
        }
        // Until the exchange has finished, the connection may be inside its transaction, holding
        // the row: if the exchange fails, or its future is dropped half way (the run cancelled),
        // the guard closes the connection and the server rolls back, releasing the row at once.
        let mut guard = CloseUnlessDone { conn: &mut conn, done: false };
        let Some((client, _)) = guard.conn.as_ref() else {
            return Err(format!("the shared API budget ({}): no connection", self.describe));
        };
        let outcome = self.exchange_on(client, account, call).await;
        guard.done = outcome.is_ok();
        outcome
    }

    fn describe(&self) -> String {
        self.describe.clone()
    }
}
