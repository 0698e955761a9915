//! PostgreSQL reads of `darkhorses quality`: the shared SQL of `store::quality`, its parameters
//! bound as `date`, `timestamptz`, `text` and `bigint`.

use chrono::NaiveDate;
use tokio_postgres::types::ToSql;

use super::PgStore;
use crate::store::Result;
use crate::store::quality::{self, DayCounts, Found, Param, Probe, ProbeScope, ResultedRace};

pub(super) async fn known_range(store: &PgStore) -> Result<Option<(NaiveDate, NaiveDate)>> {
    let rows = store.read("read the first and last stored racing day", quality::KNOWN_RANGE, &[]).await?;
    Ok(rows.first().and_then(|r| Some((r.get::<_, Option<NaiveDate>>(0)?, r.get::<_, Option<NaiveDate>>(1)?))))
}

pub(super) async fn day_counts(store: &PgStore, from: NaiveDate, to: NaiveDate) -> Result<Vec<DayCounts>> {
    let what = format!("count the races and runners of each day from {from} to {to}");
    let rows = store.read(&what, quality::DAY_COUNTS, &[&from, &to]).await?;
    Ok(rows
        .iter()
        .map(|r| DayCounts {
            date: r.get(0),
            races: r.get(1),
            racecards: r.get(2),
            results: r.get(3),
            abandoned: r.get(4),
            runners: r.get(5),
        })
        .collect())
}

pub(super) async fn resulted_races(store: &PgStore, from: NaiveDate, to: NaiveDate) -> Result<Vec<ResultedRace>> {
    let what = format!("read the races with a result from {from} to {to}");
    let rows = store.read(&what, quality::RESULTED_RACES, &[&from, &to]).await?;
    Ok(rows
        .iter()
        .map(|r| ResultedRace {
            id: r.get(0),
            race_date: r.get(1),
            field_size: r.get::<_, Option<i32>>(2).map(i64::from),
            non_runners: r.get(3),
            result_runners: r.get(4),
            winners: r.get(5),
        })
        .collect())
}

pub(super) async fn probe(store: &PgStore, probe: &Probe, scope: &ProbeScope) -> Result<Found> {
    let values: Vec<Box<dyn ToSql + Sync + Send>> = probe
        .params
        .iter()
        .map(|p| -> Box<dyn ToSql + Sync + Send> {
            match p {
                Param::From => Box::new(scope.from),
                Param::To => Box::new(scope.to),
                Param::Yesterday => Box::new(scope.yesterday()),
                Param::Today => Box::new(scope.today),
                Param::Now => Box::new(scope.now),
                Param::GraceCutoff => Box::new(scope.grace_cutoff),
                Param::Regions => Box::new(scope.regions.clone()),
                Param::Limit => Box::new(i64::from(scope.limit)),
            }
        })
        .collect();
    let params: Vec<&(dyn ToSql + Sync)> = values.iter().map(|v| v.as_ref() as &(dyn ToSql + Sync)).collect();
    let rows = store.read(&format!("run the quality probe {}", probe.name), probe.sql, &params).await?;
    Ok(Found {
        total: rows.first().map_or(0, |r| u64::try_from(r.get::<_, i64>(1)).unwrap_or_default()),
        subjects: rows.iter().map(|r| r.get::<_, Option<String>>(0).unwrap_or_default()).collect(),
    })
}
