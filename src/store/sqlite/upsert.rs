//! The SQLite upsert, rendered from a table's declaration (`store::columns`): one statement per
//! table and source, prepared once per write and reused for every row, that only touches a row
//! when a compared column would change; an existence check by key tells inserted, updated and
//! unchanged apart. Values are bound borrowed from the row where they can be.

use chrono::{DateTime, Utc};
use rusqlite::types::{ToSqlOutput, Value, ValueRef};
use rusqlite::{Connection, Statement, params_from_iter};

use super::Ctx;
use super::write::instant;
use crate::model::Source;
use crate::store::columns::{Get, Merge, Stamp, Table, Ty, Val, Written};
use crate::store::{Error, Result, TableCounts, WriteStats};

/// The stamps of one write, as stored text.
pub(super) struct Stamps {
    write: String,
    fetched: String,
}

impl Stamps {
    /// `now` is the write's time; `fetched_at` when the unit's responses were fetched.
    pub(super) fn new(now: DateTime<Utc>, fetched_at: DateTime<Utc>) -> Self {
        Stamps { write: instant(now), fetched: instant(fetched_at) }
    }

    fn get(&self, stamp: Stamp) -> &str {
        match stamp {
            Stamp::Write => &self.write,
            Stamp::Fetched => &self.fetched,
        }
    }
}

/// A value as SQLite stores it (docs/schema.md): text borrowed, bools 0/1, dates and instants as
/// ISO 8601 text.
fn bind(v: Val<'_>) -> ToSqlOutput<'_> {
    let owned = match v {
        Val::Text(Some(s)) => return ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
        Val::Bytes(b) => return ToSqlOutput::Borrowed(ValueRef::Blob(b)),
        Val::Int(Some(i)) => Value::Integer(i64::from(i)),
        Val::Float(Some(f)) => Value::Real(f),
        Val::Bool(Some(b)) => Value::Integer(i64::from(b)),
        Val::Date(Some(d)) => Value::Text(d.format("%Y-%m-%d").to_string()),
        Val::Instant(Some(t)) => Value::Text(instant(t)),
        Val::Text(None)
        | Val::Int(None)
        | Val::Float(None)
        | Val::Bool(None)
        | Val::Date(None)
        | Val::Instant(None) => Value::Null,
    };
    ToSqlOutput::Owned(owned)
}

/// The value a column takes on conflict, `table.name` being the stored one.
fn merged(table: &str, name: &str, ty: Ty, rule: Merge) -> String {
    // A text where '' is absent never overwrites (SQLite's schema has these NOT NULL, so a first
    // '' is stored as is).
    let new = match ty {
        Ty::BlankText => format!("NULLIF(excluded.{name}, '')"),
        _ => format!("excluded.{name}"),
    };
    match rule {
        Merge::Key | Merge::Replace | Merge::Touch(_) => new,
        Merge::Keep => format!("COALESCE({new}, {table}.{name})"),
        Merge::Filled => format!("COALESCE(NULLIF(excluded.{name}, ''), {table}.{name})"),
        Merge::Settled(settled) => settled.racecard_merge(table, name, &new),
        Merge::KeepSeed => {
            format!(
                "CASE WHEN {table}.source = 'seed' AND excluded.source <> 'seed' THEN {table}.{name} ELSE {new} END"
            )
        }
    }
}

/// The SQL of an upsert that only touches a row when a compared column would change, and the
/// existence check that tells an insert from an update. Keys come first in `cols`.
pub(super) fn upsert_sql(table: &str, cols: &[(&str, Ty, Merge)]) -> (String, String) {
    let names: Vec<&str> = cols.iter().map(|c| c.0).collect();
    let keys: Vec<&str> = cols.iter().filter(|c| c.2 == Merge::Key).map(|c| c.0).collect();
    let placeholders: Vec<String> = (1..=cols.len()).map(|i| format!("?{i}")).collect();
    let mut sets = Vec::new();
    let mut changes = Vec::new();
    for &(name, ty, rule) in cols {
        if rule == Merge::Key {
            continue;
        }
        let expr = merged(table, name, ty, rule);
        if !matches!(rule, Merge::Touch(_)) {
            changes.push(format!("{expr} IS NOT {table}.{name}"));
        }
        sets.push(format!("{name} = {expr}"));
    }
    let conflict = if changes.is_empty() {
        "DO NOTHING".to_string()
    } else {
        format!("DO UPDATE SET {} WHERE {}", sets.join(", "), changes.join(" OR "))
    };
    let upsert = format!(
        "INSERT INTO {table} ({}) VALUES ({}) ON CONFLICT ({}) {conflict}",
        names.join(", "),
        placeholders.join(", "),
        keys.join(", ")
    );
    let key_match: Vec<String> = keys.iter().enumerate().map(|(i, k)| format!("{k} = ?{}", i + 1)).collect();
    let exists = format!("SELECT 1 FROM {table} WHERE {}", key_match.join(" AND "));
    (upsert, exists)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Inserted,
    Updated,
    Unchanged,
}

impl Outcome {
    fn count(self, counts: &mut TableCounts) {
        match self {
            Outcome::Inserted => counts.inserted += 1,
            Outcome::Updated => counts.updated += 1,
            Outcome::Unchanged => counts.unchanged += 1,
        }
    }
}

/// Upserts rows of one table as one write (one source) sends them.
struct Upserter<'c, R: 'static> {
    cols: Vec<Written<R>>,
    n_keys: usize,
    exists: Statement<'c>,
    upsert: Statement<'c>,
}

impl<'c, R> Upserter<'c, R> {
    fn new(conn: &'c Connection, table: &'static Table<R>, source: Option<Source>) -> Result<Self> {
        let cols = table.written(source);
        let spec: Vec<(&str, Ty, Merge)> = cols.iter().map(|w| (w.column.name, w.column.ty, w.rule)).collect();
        let n_keys = spec.iter().take_while(|c| c.2 == Merge::Key).count();
        let (upsert, exists) = upsert_sql(table.name, &spec);
        let what = format!("preparing the upsert into {}", table.name);
        Ok(Upserter {
            cols,
            n_keys,
            exists: conn.prepare(&exists).ctx(&what)?,
            upsert: conn.prepare(&upsert).ctx(&what)?,
        })
    }

    /// Write one row; the raw SQLite error is returned so the caller can name the row.
    fn row(&mut self, row: &R, stamps: &Stamps) -> rusqlite::Result<Outcome> {
        let values: Vec<ToSqlOutput<'_>> = self
            .cols
            .iter()
            .map(|w| match w.column.get {
                Get::Row(get) => bind(get(row)),
                Get::Stamp(stamp) => ToSqlOutput::Borrowed(ValueRef::Text(stamps.get(stamp).as_bytes())),
            })
            .collect();
        let existed = self.exists.exists(params_from_iter(&values[..self.n_keys]))?;
        let changed = self.upsert.execute(params_from_iter(&values))?;
        Ok(match (existed, changed) {
            (false, _) => Outcome::Inserted,
            (true, 0) => Outcome::Unchanged,
            (true, _) => Outcome::Updated,
        })
    }
}

/// Upsert the rows one write (of `source`, for races and runners) sends to one table, and add
/// the counts. No rows: no statement, no counts.
pub(super) fn upsert_all<'a, R: 'a>(
    conn: &Connection,
    table: &'static Table<R>,
    source: Option<Source>,
    rows: impl IntoIterator<Item = &'a R>,
    stamps: &Stamps,
    stats: &mut WriteStats,
) -> Result<()> {
    let mut rows = rows.into_iter().peekable();
    if rows.peek().is_none() {
        return Ok(());
    }
    let mut up = Upserter::new(conn, table, source)?;
    let mut counts = TableCounts::default();
    for row in rows {
        let outcome = up.row(row, stamps).map_err(|e| {
            let key = up.cols.first().and_then(|w| match w.column.get {
                Get::Row(get) => Some(get(row)),
                Get::Stamp(_) => None,
            });
            Error::Query(format!("upserting into {} (key {key:?}): {e}", table.name))
        })?;
        outcome.count(&mut counts);
    }
    stats.add(table.name, counts);
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn upsert_sql_compares_all_but_touched_columns() {
        let (upsert, exists) = upsert_sql(
            "horses",
            &[
                ("id", Ty::Text, Merge::Key),
                ("name", Ty::Text, Merge::Replace),
                ("dob", Ty::Date, Merge::Keep),
                ("updated_at", Ty::Instant, Merge::Touch(Stamp::Write)),
            ],
        );
        assert_eq!(
            upsert,
            "INSERT INTO horses (id, name, dob, updated_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (id) DO UPDATE SET \
             name = excluded.name, dob = COALESCE(excluded.dob, horses.dob), updated_at = excluded.updated_at \
             WHERE excluded.name IS NOT horses.name OR COALESCE(excluded.dob, horses.dob) IS NOT horses.dob"
        );
        assert_eq!(exists, "SELECT 1 FROM horses WHERE id = ?1");
    }

    #[test]
    fn a_seeded_bookmaker_keeps_its_columns_and_a_blank_name_never_overwrites() {
        let (upsert, _) =
            upsert_sql("bookmakers", &[("code", Ty::Text, Merge::Key), ("name", Ty::Text, Merge::KeepSeed)]);
        assert!(upsert.contains(
            "name = CASE WHEN bookmakers.source = 'seed' AND excluded.source <> 'seed' THEN bookmakers.name \
             ELSE excluded.name END"
        ));
        let (upsert, _) =
            upsert_sql("runners", &[("race_id", Ty::Text, Merge::Key), ("horse_name", Ty::BlankText, Merge::Keep)]);
        assert!(
            upsert.contains("horse_name = COALESCE(NULLIF(excluded.horse_name, ''), runners.horse_name)"),
            "{upsert}"
        );
    }
}
