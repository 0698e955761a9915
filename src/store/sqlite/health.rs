//! SQLite reads and writes of `health` and the alerts: API calls recorded in `job_runs`, and
//! `alert_state`.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};

use super::write::{instant, parse_opt_instant};
use super::{Ctx, SqliteStore};
use crate::store::{AlertState, Result};

pub(super) async fn api_calls_since(store: &SqliteStore, since: DateTime<Utc>) -> Result<i64> {
    store
        .call(move |conn| {
            conn.query_row(
                "SELECT COALESCE(SUM(api_calls), 0) FROM job_runs WHERE started_at >= ?1",
                [instant(since)],
                |r| r.get(0),
            )
            .ctx("summing the API calls of job_runs")
        })
        .await
}

pub(super) async fn alert_state(store: &SqliteStore, key: &str) -> Result<Option<AlertState>> {
    let key = key.to_string();
    store
        .call(move |conn| {
            let what = format!("reading the alert state of {key}");
            let row: Option<(String, i64, Option<String>)> = conn
                .query_row(
                    "SELECT state, consecutive_failures, last_alert_at FROM alert_state WHERE job = ?1",
                    [&key],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()
                .ctx(&what)?;
            row.map(|(state, consecutive_failures, at)| {
                Ok(AlertState {
                    key: key.clone(),
                    state,
                    consecutive_failures,
                    last_alert_at: parse_opt_instant(at, "alert_state.last_alert_at")?,
                })
            })
            .transpose()
        })
        .await
}

pub(super) async fn save_alert_state(store: &SqliteStore, state: &AlertState) -> Result<()> {
    let state = state.clone();
    store
        .call(move |conn| {
            conn.execute(
                "INSERT INTO alert_state (job, state, consecutive_failures, last_alert_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (job) DO UPDATE SET state = excluded.state,
                 consecutive_failures = excluded.consecutive_failures, last_alert_at = excluded.last_alert_at",
                params![state.key, state.state, state.consecutive_failures, state.last_alert_at.map(instant)],
            )
            .ctx(&format!("saving the alert state of {}", state.key))?;
            Ok(())
        })
        .await
}
