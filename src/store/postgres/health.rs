//! PostgreSQL reads and writes of `health` and the alerts: API calls recorded in `job_runs`, and
//! `alert_state`.

use chrono::{DateTime, Utc};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::{PgStore, query_error};
use crate::store::{AlertState, Result};

/// One statement in its own short transaction (the prologue sets the schema and timeout).
async fn one(store: &PgStore, what: &str, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>> {
    let mut client = store.client().await?;
    let tx = store.begin(&mut client).await?;
    let rows = tx.query(sql, params).await.map_err(query_error(what))?;
    tx.commit().await.map_err(query_error(what))?;
    Ok(rows)
}

pub(super) async fn api_calls_since(store: &PgStore, since: DateTime<Utc>) -> Result<i64> {
    let rows = one(
        store,
        "sum the API calls of job_runs",
        "SELECT COALESCE(SUM(api_calls), 0)::bigint FROM job_runs WHERE started_at >= $1",
        &[&since],
    )
    .await?;
    Ok(rows.first().map(|r| r.get(0)).unwrap_or(0))
}

pub(super) async fn alert_state(store: &PgStore, key: &str) -> Result<Option<AlertState>> {
    let rows = one(
        store,
        &format!("read the alert state of {key}"),
        "SELECT state, consecutive_failures, last_alert_at FROM alert_state WHERE job = $1",
        &[&key],
    )
    .await?;
    Ok(rows.first().map(|r| AlertState {
        key: key.to_string(),
        state: r.get(0),
        consecutive_failures: i64::from(r.get::<_, i32>(1)),
        last_alert_at: r.get(2),
    }))
}

pub(super) async fn save_alert_state(store: &PgStore, state: &AlertState) -> Result<()> {
    let failures = i32::try_from(state.consecutive_failures).unwrap_or(i32::MAX);
    one(
        store,
        &format!("save the alert state of {}", state.key),
        "INSERT INTO alert_state (job, state, consecutive_failures, last_alert_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (job) DO UPDATE SET state = excluded.state,
             consecutive_failures = excluded.consecutive_failures, last_alert_at = excluded.last_alert_at",
        &[&state.key, &state.state, &failures, &state.last_alert_at],
    )
    .await?;
    Ok(())
}
