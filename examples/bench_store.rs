//! Store upsert benchmark (issue 4): writes generated racing days through the `Store` interface
//! and, on PostgreSQL, times a plain binary COPY of the same runner rows for the ratio.
//!
//! ```text
//! cargo run --release --example bench_store -- --backend sqlite --runners 500000
//! cargo run --release --example bench_store -- --backend postgres --runners 500000 \
//!     [--url postgres://postgres@127.0.0.1:5432/test]
//! ```
//!
//! A unit is one racing day of results: 36 races of 10 runners, horses drawn from a pool so they
//! recur (a horse runs about every 8 days), with their jockeys, trainers, owners, sires, dams and
//! damsires, and one small raw response. Three passes over the same days: the first write (all
//! inserts), a rerun (all unchanged) and a rerun where 10% of runners changed. Only `write_unit`
//! is timed, not generating the units. Postgres runs in a fresh schema dropped at the end; SQLite
//! in a temporary file.
//!
//! The baseline is the same runner rows (all 38 stage columns) binary-COPYed into an unindexed
//! table with no conflict handling, timed twice: in one COPY stream, and one COPY per day in its
//! own transaction (the store commits one transaction per unit, as the issue requires).

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Duration as Days, NaiveDate, TimeZone, Utc};
use darkhorses::config::{DatabaseConfig, Secret};
use darkhorses::model::{Ancestor, Course, Horse, Kind, Person, Race, RawResponse, Runner, Source, Trainer, Unit};
use darkhorses::store::{self, Store};
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};

const RACES_PER_DAY: usize = 36;
const RUNNERS_PER_RACE: usize = 10;
const RUNNERS_PER_DAY: usize = RACES_PER_DAY * RUNNERS_PER_RACE;
/// A horse runs about once in this many days.
const DAYS_BETWEEN_RUNS: usize = 8;

#[derive(Debug)]
struct Args {
    backend: String,
    runners: usize,
    url: String,
}

fn args() -> Result<Args, String> {
    let mut out =
        Args { backend: "sqlite".into(), runners: 500_000, url: "postgres://postgres@127.0.0.1:5432/test".into() };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--backend" => out.backend = value()?,
            "--runners" => out.runners = value()?.parse().map_err(|e| format!("--runners: {e}"))?,
            "--url" => out.url = value()?,
            other => {
                return Err(format!("unknown argument {other}; use --backend sqlite|postgres --runners N --url URL"));
            }
        }
    }
    if out.backend != "sqlite" && out.backend != "postgres" {
        return Err(format!("--backend {} : use sqlite or postgres", out.backend));
    }
    Ok(out)
}

fn first_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 1, 1).unwrap_or_default()
}

fn t(date: NaiveDate, minutes: i64) -> DateTime<Utc> {
    let midnight = Utc.from_utc_datetime(&date.and_hms_opt(0, 0, 0).unwrap_or_default());
    midnight + chrono::Duration::minutes(minutes)
}

/// One racing day of results. `changed` alters 10% of runners (every 10th) as a later fetch would.
fn unit(day: usize, horse_pool: usize, changed: bool) -> Unit {
    let date = first_day() + Days::days(day as i64);
    let mut u = Unit::new(Kind::Results, date);
    let mut horses = BTreeMap::new();
    let mut jockeys = BTreeMap::new();
    let mut trainers = BTreeMap::new();
    let mut owners = BTreeMap::new();
    let mut sires = BTreeMap::new();
    let mut dams = BTreeMap::new();
    let mut damsires = BTreeMap::new();
    let mut courses = BTreeMap::new();
    for r in 0..RACES_PER_DAY {
        let course = (day * 5 + r / 7) % 60;
        let course_id = format!("crs_{course}");
        courses.insert(
            course_id.clone(),
            Course {
                id: course_id.clone(),
                name: format!("Course {course}"),
                region_code: if course < 45 { "gb".into() } else { "ire".into() },
                region: if course < 45 { "Great Britain".into() } else { "Ireland".into() },
            },
        );
        let race_id = format!("rac_{day}_{r}");
        u.races.push(Race {
            source: Source::Result,
            id: race_id.clone(),
            course_id: course_id.clone(),
            course_name: format!("Course {course}"),
            race_date: date,
            off_at: Some(t(date, 12 * 60 + 25 * r as i64)),
            region: if course < 45 { "GB".into() } else { "IRE".into() },
            race_name: Some(format!("The {race_id} Handicap")),
            race_type: Some(if r % 3 == 0 { "Hurdle".into() } else { "Flat".into() }),
            race_class: Some(format!("Class {}", r % 6 + 1)),
            pattern: None,
            rating_band: Some("0-85".into()),
            age_band: Some("3yo+".into()),
            sex_restriction: None,
            distance: Some("1m2f110y".into()),
            distance_f: Some(10.5),
            distance_y: Some(2310),
            distance_m: Some(2112),
            going: Some("Good to Soft".into()),
            going_detailed: None,
            surface: Some("Turf".into()),
            jumps: None,
            prize_amount: Some(4187.2),
            prize_currency: Some("GBP".into()),
            field_size: None,
            ran: Some(RUNNERS_PER_RACE as i32),
            big_race: None,
            is_abandoned: None,
            stalls: None,
            weather: None,
            rail_movements: None,
            tip: None,
            verdict: None,
            betting_forecast: None,
            winning_time_detail: Some("2m 10.25s (slow by 3.2s)".into()),
            comments: None,
            non_runners: None,
            tote_win: Some("£3.20".into()),
            tote_pl: Some("£1.40 £1.10".into()),
            tote_ex: Some("£8.30".into()),
            tote_csf: Some("£7.12".into()),
            tote_tricast: None,
            tote_trifecta: Some("£20.10".into()),
        });
        for k in 0..RUNNERS_PER_RACE {
            let slot = r * RUNNERS_PER_RACE + k;
            // Consecutive days draw disjoint blocks of the pool, so a horse recurs every
            // pool / runners-per-day days and never twice in one race.
            let h = (day * RUNNERS_PER_DAY + slot) % horse_pool;
            let horse_id = format!("hrs_{h}");
            let (sire, dam, damsire) = (h % 700, h / 3, h % 650);
            horses.insert(
                horse_id.clone(),
                Horse {
                    id: horse_id.clone(),
                    name: format!("Horse {h}"),
                    sex_code: Some(["G", "M", "C", "F"][h % 4].into()),
                    dob: None,
                    colour: None,
                    breeder: None,
                    region: Some("GB".into()),
                    sire_id: Some(format!("sir_{sire}")),
                    dam_id: Some(format!("dam_{dam}")),
                    damsire_id: Some(format!("dsi_{damsire}")),
                },
            );
            sires.insert(sire, Ancestor { id: format!("sir_{sire}"), name: format!("Sire {sire}"), region: None });
            dams.insert(dam, Ancestor { id: format!("dam_{dam}"), name: format!("Dam {dam}"), region: None });
            damsires.insert(
                damsire,
                Ancestor { id: format!("dsi_{damsire}"), name: format!("Damsire {damsire}"), region: None },
            );
            let (jockey, trainer, owner) = ((h + day) % 400, h % 500, h % 3000);
            jockeys.insert(jockey, Person { id: format!("jky_{jockey}"), name: format!("Jockey {jockey}") });
            trainers.insert(
                trainer,
                Trainer { id: format!("trn_{trainer}"), name: format!("Trainer {trainer}"), location: None },
            );
            owners.insert(owner, Person { id: format!("own_{owner}"), name: format!("Owner {owner}") });
            let place = k as i32 + 1;
            let bump = i32::from(changed && slot.is_multiple_of(10));
            u.runners.push(Runner {
                source: Source::Result,
                race_id: race_id.clone(),
                horse_id,
                horse_name: format!("Horse {h}"),
                number: Some(place),
                draw: Some((place * 3) % 11 + 1),
                age: Some((h % 8) as i32 + 2),
                sex_code: Some(["G", "M", "C", "F"][h % 4].into()),
                jockey_id: Some(format!("jky_{jockey}")),
                jockey_name: Some(format!("Jockey {jockey}")),
                jockey_claim_lbs: None,
                trainer_id: Some(format!("trn_{trainer}")),
                trainer_name: Some(format!("Trainer {trainer}")),
                owner_id: Some(format!("own_{owner}")),
                owner_name: Some(format!("Owner {owner}")),
                sire_id: Some(format!("sir_{sire}")),
                dam_id: Some(format!("dam_{dam}")),
                damsire_id: Some(format!("dsi_{damsire}")),
                weight_lbs: Some(120 + place),
                headgear: if k.is_multiple_of(4) { Some("p".into()) } else { None },
                official_rating: Some(60 + (h % 40) as i32 + bump),
                rpr: None,
                topspeed: None,
                result_rpr: Some(70 + place),
                result_topspeed: Some(50 + place),
                silk_url: Some(format!("https://silks.example/{h}.svg")),
                form: None,
                spotlight: None,
                card_comment: None,
                position: Some(place.to_string()),
                finish_position: Some(place),
                btn: Some(f64::from(place - 1) * 1.25),
                ovr_btn: Some(f64::from(place - 1) * 1.5),
                sp: Some("9/2".into()),
                sp_decimal: Some(5.5 + f64::from(bump)),
                prize_amount: if place <= 3 { Some(3140.0 / f64::from(place)) } else { None },
                prize_currency: Some("GBP".into()),
                finish_time: Some("2:10.25".into()),
                finish_time_s: Some(130.25 + f64::from(place) * 0.2),
                comment: Some(format!("Tracked leaders, ridden 2f out, kept on (place {place})")),
            });
        }
    }
    u.entities.courses = courses.into_values().collect();
    u.entities.horses = horses.into_values().collect();
    u.entities.jockeys = jockeys.into_values().collect();
    u.entities.trainers = trainers.into_values().collect();
    u.entities.owners = owners.into_values().collect();
    u.entities.sires = sires.into_values().collect();
    u.entities.dams = dams.into_values().collect();
    u.entities.damsires = damsires.into_values().collect();
    u.responses = vec![RawResponse {
        endpoint: "/results".into(),
        params: format!("start_date={date}&end_date={date}&region=gb&region=ire&limit=50&skip=0"),
        status: 200,
        fetched_at: t(date, 23 * 60),
        body: bytes::Bytes::from(format!("{{\"results\": [\"{} races\"], \"changed\": {changed}}}", u.races.len())),
    }];
    u.pages = 1;
    u.api_calls = 1;
    u
}

/// Peak resident memory of this process (VmHWM), in MiB.
fn peak_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

/// One pass over every day; returns (time in `write_unit`, runners counted by the store).
async fn pass(store: &dyn Store, days: usize, pool: usize, changed: bool) -> Result<(Duration, u64), String> {
    let mut spent = Duration::ZERO;
    let mut runners = 0;
    for day in 0..days {
        let u = unit(day, pool, changed);
        let started = Instant::now();
        let stats = store.write_unit(&u).await.map_err(|e| e.to_string())?;
        spent += started.elapsed();
        let c = stats.tables.get("runners").copied().unwrap_or_default();
        runners += c.inserted + c.updated + c.unchanged;
        if !stats.skipped.is_empty() {
            return Err(format!("day {day}: the store skipped {:?}", stats.skipped));
        }
    }
    Ok((spent, runners))
}

const COPY_COLUMNS: &[(&str, Type)] = &[
    ("race_id", Type::TEXT),
    ("horse_id", Type::TEXT),
    ("horse_name", Type::TEXT),
    ("number", Type::INT4),
    ("draw", Type::INT4),
    ("age", Type::INT4),
    ("sex_code", Type::TEXT),
    ("jockey_id", Type::TEXT),
    ("jockey_name", Type::TEXT),
    ("jockey_claim_lbs", Type::INT4),
    ("trainer_id", Type::TEXT),
    ("trainer_name", Type::TEXT),
    ("owner_id", Type::TEXT),
    ("owner_name", Type::TEXT),
    ("sire_id", Type::TEXT),
    ("dam_id", Type::TEXT),
    ("damsire_id", Type::TEXT),
    ("weight_lbs", Type::INT4),
    ("headgear", Type::TEXT),
    ("official_rating", Type::INT4),
    ("result_rpr", Type::INT4),
    ("result_topspeed", Type::INT4),
    ("silk_url", Type::TEXT),
    ("form", Type::TEXT),
    ("spotlight", Type::TEXT),
    ("card_comment", Type::TEXT),
    ("position", Type::TEXT),
    ("finish_position", Type::INT4),
    ("btn", Type::FLOAT8),
    ("ovr_btn", Type::FLOAT8),
    ("sp", Type::TEXT),
    ("sp_decimal", Type::FLOAT8),
    ("prize_amount", Type::FLOAT8),
    ("prize_currency", Type::TEXT),
    ("finish_time", Type::TEXT),
    ("finish_time_s", Type::FLOAT8),
    ("comment", Type::TEXT),
    ("src", Type::TEXT),
];

fn copy_row(r: &Runner) -> Vec<&(dyn ToSql + Sync)> {
    vec![
        &r.race_id,
        &r.horse_id,
        &r.horse_name,
        &r.number,
        &r.draw,
        &r.age,
        &r.sex_code,
        &r.jockey_id,
        &r.jockey_name,
        &r.jockey_claim_lbs,
        &r.trainer_id,
        &r.trainer_name,
        &r.owner_id,
        &r.owner_name,
        &r.sire_id,
        &r.dam_id,
        &r.damsire_id,
        &r.weight_lbs,
        &r.headgear,
        &r.official_rating,
        &r.result_rpr,
        &r.result_topspeed,
        &r.silk_url,
        &r.form,
        &r.spotlight,
        &r.card_comment,
        &r.position,
        &r.finish_position,
        &r.btn,
        &r.ovr_btn,
        &r.sp,
        &r.sp_decimal,
        &r.prize_amount,
        &r.prize_currency,
        &r.finish_time,
        &r.finish_time_s,
        &r.comment,
        &"result",
    ]
}

/// COPY every day's runners into `table`: in one stream (`per_day` false) or one COPY and one
/// transaction per day. Only the COPY calls are timed.
async fn plain_copy(
    client: &mut tokio_postgres::Client,
    table: &str,
    days: usize,
    pool: usize,
    per_day: bool,
) -> Result<Duration, String> {
    let types: Vec<Type> = COPY_COLUMNS.iter().map(|c| c.1.clone()).collect();
    let names: Vec<&str> = COPY_COLUMNS.iter().map(|c| c.0).collect();
    let sql = format!("COPY {table} ({}) FROM STDIN (FORMAT binary)", names.join(", "));
    let e = |e: tokio_postgres::Error| format!("plain COPY into {table}: {e}");
    let mut spent = Duration::ZERO;
    if per_day {
        for day in 0..days {
            let u = unit(day, pool, false);
            let started = Instant::now();
            let tx = client.transaction().await.map_err(e)?;
            let sink = tx.copy_in(&sql).await.map_err(e)?;
            let writer = BinaryCopyInWriter::new(sink, &types);
            let mut writer = std::pin::pin!(writer);
            for r in &u.runners {
                writer.as_mut().write(&copy_row(r)).await.map_err(e)?;
            }
            writer.finish().await.map_err(e)?;
            tx.commit().await.map_err(e)?;
            spent += started.elapsed();
        }
        return Ok(spent);
    }
    let started = Instant::now();
    let sink = client.copy_in(&sql).await.map_err(e)?;
    let writer = BinaryCopyInWriter::new(sink, &types);
    let mut writer = std::pin::pin!(writer);
    spent += started.elapsed();
    for day in 0..days {
        let u = unit(day, pool, false);
        let started = Instant::now();
        for r in &u.runners {
            writer.as_mut().write(&copy_row(r)).await.map_err(e)?;
        }
        spent += started.elapsed();
    }
    let started = Instant::now();
    writer.finish().await.map_err(e)?;
    Ok(spent + started.elapsed())
}

fn rate(n: u64, d: Duration) -> String {
    format!("{:>9.0} runners/s", n as f64 / d.as_secs_f64().max(1e-9))
}

async fn run(args: Args) -> Result<(), String> {
    let days = args.runners.div_ceil(RUNNERS_PER_DAY);
    let total = (days * RUNNERS_PER_DAY) as u64;
    let pool = (RUNNERS_PER_DAY * DAYS_BETWEEN_RUNS).min(days * RUNNERS_PER_DAY).max(RUNNERS_PER_DAY);
    let schema = format!("bench_{}", std::process::id());
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let url = match args.backend.as_str() {
        "sqlite" => format!("sqlite:{}", dir.path().join("bench.db").display()),
        _ => args.url.clone(),
    };
    let cfg = DatabaseConfig { url: Secret::new(url.clone()), schema: schema.clone(), ..DatabaseConfig::default() };
    let store = store::open(&cfg).await.map_err(|e| e.to_string())?;
    println!(
        "{}: {days} days x {RACES_PER_DAY} races x {RUNNERS_PER_RACE} runners = {total} runners, {pool} distinct horses, \
         one transaction per day",
        store.describe()
    );
    let mut results = Vec::new();
    for (label, changed) in [("first write (insert)", false), ("rerun, unchanged", false), ("rerun, 10% changed", true)]
    {
        let (spent, counted) = pass(store.as_ref(), days, pool, changed).await?;
        if counted != total {
            return Err(format!("{label}: the store counted {counted} runners, expected {total}"));
        }
        println!("  {label:<22} {:>7.2}s {}", spent.as_secs_f64(), rate(total, spent));
        results.push(spent);
    }
    if args.backend == "postgres" {
        let (mut client, connection) =
            tokio_postgres::connect(&url, tokio_postgres::NoTls).await.map_err(|e| e.to_string())?;
        tokio::spawn(connection);
        let defs: Vec<String> = COPY_COLUMNS.iter().map(|(n, t)| format!("{n} {}", t.name())).collect();
        client
            .batch_execute(&format!(
                "CREATE TABLE {schema}.plain_runners ({0}); CREATE TEMP TABLE plain_temp ({0})",
                defs.join(", ")
            ))
            .await
            .map_err(|e| e.to_string())?;
        let one = plain_copy(&mut client, &format!("{schema}.plain_runners"), days, pool, false).await?;
        client.batch_execute(&format!("TRUNCATE {schema}.plain_runners")).await.map_err(|e| e.to_string())?;
        let per_day = plain_copy(&mut client, &format!("{schema}.plain_runners"), days, pool, true).await?;
        let temp = plain_copy(&mut client, "plain_temp", days, pool, false).await?;
        println!("  plain COPY, unindexed table, one stream      {:>7.2}s {}", one.as_secs_f64(), rate(total, one));
        println!(
            "  plain COPY, unindexed table, one tx per day  {:>7.2}s {}",
            per_day.as_secs_f64(),
            rate(total, per_day)
        );
        println!("  plain COPY, unindexed temp table, one stream {:>7.2}s {}", temp.as_secs_f64(), rate(total, temp));
        let ratio = |d: Duration, base: Duration| d.as_secs_f64() / base.as_secs_f64().max(1e-9);
        println!(
            "  first write / COPY: {:.2}x (one stream), {:.2}x (one tx per day); \
             rerun unchanged / COPY: {:.2}x, {:.2}x",
            ratio(results[0], one),
            ratio(results[0], per_day),
            ratio(results[1], one),
            ratio(results[1], per_day)
        );
        client.batch_execute(&format!("DROP SCHEMA {schema} CASCADE")).await.map_err(|e| e.to_string())?;
    }
    println!("  peak memory (VmHWM): {:.0} MiB", peak_mib());
    Ok(())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let result = match args() {
        Ok(a) => run(a).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench_store: {e}");
            std::process::ExitCode::from(2)
        }
    }
}
