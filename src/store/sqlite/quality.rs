//! SQLite reads of `darkhorses quality`: the shared SQL of `store::quality`, its `$N` bound as
//! `?N`, dates and instants as the text SQLite stores.

use chrono::NaiveDate;
use rusqlite::params;
use rusqlite::types::Value;

use super::write::{instant, parse_date};
use super::{Ctx, SqliteStore};
use crate::store::Result;
use crate::store::quality;

pub(super) async fn known_range(store: &SqliteStore) -> Result<Option<(NaiveDate, NaiveDate)>> {
    store
        .call(|conn| {
            let what = "reading the first and last stored racing day";
            let (first, last): (Option<String>, Option<String>) =
                conn.query_row(quality::KNOWN_RANGE, [], |r| Ok((r.get(0)?, r.get(1)?))).ctx(what)?;
            match (first, last) {
                (Some(first), Some(last)) => {
                    Ok(Some((parse_date(&first, "races.race_date")?, parse_date(&last, "races.race_date")?)))
                }
                _ => Ok(None),
            }
        })
        .await
}

pub(super) async fn day_counts(store: &SqliteStore, from: NaiveDate, to: NaiveDate) -> Result<Vec<quality::DayCounts>> {
    store
        .call(move |conn| {
            let what = format!("counting the races and runners of each day from {from} to {to}");
            let mut stmt = conn.prepare(&question_marks(quality::DAY_COUNTS)).ctx(&what)?;
            let rows = stmt
                .query_map(params![date_text(from), date_text(to)], |r| {
                    Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
                })
                .ctx(&what)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .ctx(&what)?;
            rows.into_iter()
                .map(|(date, races, racecards, results, abandoned, runners)| {
                    let date = parse_date(&date, "races.race_date")?;
                    Ok(quality::DayCounts { date, races, racecards, results, abandoned, runners })
                })
                .collect()
        })
        .await
}

pub(super) async fn resulted_races(
    store: &SqliteStore,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<quality::ResultedRace>> {
    store
        .call(move |conn| {
            let what = format!("reading the races with a result from {from} to {to}");
            let mut stmt = conn.prepare(&question_marks(quality::RESULTED_RACES)).ctx(&what)?;
            let rows = stmt
                .query_map(params![date_text(from), date_text(to)], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, Option<i64>>(2)?,
                        r.get::<_, Option<String>>(3)?,
                        r.get::<_, i64>(4)?,
                        r.get::<_, i64>(5)?,
                    ))
                })
                .ctx(&what)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .ctx(&what)?;
            rows.into_iter()
                .map(|(id, date, field_size, non_runners, result_runners, winners)| {
                    Ok(quality::ResultedRace {
                        id,
                        race_date: parse_date(&date, "races.race_date")?,
                        field_size,
                        non_runners,
                        result_runners,
                        winners,
                    })
                })
                .collect()
        })
        .await
}

pub(super) async fn probe(
    store: &SqliteStore,
    probe: &quality::Probe,
    scope: &quality::ProbeScope,
) -> Result<quality::Found> {
    use quality::Param;
    let values: Vec<Value> = probe
        .params
        .iter()
        .map(|p| match p {
            Param::From => Value::Text(date_text(scope.from)),
            Param::To => Value::Text(date_text(scope.to)),
            Param::Yesterday => Value::Text(date_text(scope.yesterday())),
            Param::Today => Value::Text(date_text(scope.today)),
            Param::Now => Value::Text(instant(scope.now)),
            Param::GraceCutoff => Value::Text(instant(scope.grace_cutoff)),
            Param::Regions => Value::Text(scope.regions.clone()),
            Param::Limit => Value::Integer(i64::from(scope.limit)),
        })
        .collect();
    let (name, sql) = (probe.name, question_marks(probe.sql));
    store
        .call(move |conn| {
            let what = format!("running the quality probe {name}");
            let mut stmt = conn.prepare(&sql).ctx(&what)?;
            let rows = stmt
                .query_map(rusqlite::params_from_iter(values), |r| {
                    Ok((r.get::<_, Option<String>>(0)?, r.get::<_, i64>(1)?))
                })
                .ctx(&what)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .ctx(&what)?;
            Ok(quality::Found {
                total: rows.first().map_or(0, |(_, total)| u64::try_from(*total).unwrap_or_default()),
                subjects: rows.into_iter().map(|(subject, _)| subject.unwrap_or_default()).collect(),
            })
        })
        .await
}

/// The shared SQL's `$N` placeholders as SQLite's numbered `?N` (the same index; no probe has a `$`
/// elsewhere).
fn question_marks(sql: &str) -> String {
    sql.replace('$', "?")
}

/// A date as SQLite stores it: `YYYY-MM-DD`.
fn date_text(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use rusqlite::Connection;

    use super::super::migrate::migrate_blocking;
    use super::*;
    use crate::store::migrations;

    /// Every quality read finds its rows through an index: the only table it reads whole is
    /// `runners`, by its primary key, for the runners without races (which have no date).
    #[test]
    fn quality_reads_search_by_index() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate_blocking(&mut conn, migrations::SQLITE).unwrap();
        let reads = quality::ALL.iter().map(|p| (p.name, p.sql)).chain([
            ("known_range", quality::KNOWN_RANGE),
            ("day_counts", quality::DAY_COUNTS),
            ("resulted_races", quality::RESULTED_RACES),
        ]);
        for (name, sql) in reads {
            let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {}", question_marks(sql))).unwrap();
            let unbound = vec![Value::Null; stmt.parameter_count()];
            let plan: Vec<String> = stmt
                .query_map(rusqlite::params_from_iter(unbound), |r| r.get::<_, String>(3))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
            let scans: Vec<&String> = plan
                .iter()
                .filter(|step| {
                    step.starts_with("SCAN ") && !step.starts_with("SCAN (subquery") && step != &"SCAN known"
                })
                .collect();
            let allowed = name == quality::RUNNERS_WITHOUT_RACES.name
                && scans.iter().all(|s| s.as_str() == "SCAN r USING COVERING INDEX sqlite_autoindex_runners_1");
            assert!(scans.is_empty() || allowed, "{name} scans a table: {plan:#?}");
        }
    }
}
