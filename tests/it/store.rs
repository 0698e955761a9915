//! The shared store suite: every case runs against SQLite (a temp file) always, and against
//! PostgreSQL (a fresh schema, dropped afterwards) when DARKHORSES_TEST_DATABASE_URL is set.
//! Units are built by hand so each case controls exactly which source sends which column.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use darkhorses::config::{DatabaseConfig, Secret};
use darkhorses::model::{
    Ancestor, Bookmaker, BookmakerKind, Course, Entities, Horse, Kind, Person, Race, RawResponse, Region, Runner,
    RunnerOdds, Source, Trainer, Unit,
};
use darkhorses::store::{
    self, CoverageStatus, FinishedJobRun, NewJobRun, ReferenceData, RunStatus, Store, TableCounts, Trigger, WriteStats,
};
use serde_json::{Value as Json, json};

// ---------------------------------------------------------------------------------------------
// Harness

const PG_ENV: &str = "DARKHORSES_TEST_DATABASE_URL";

/// Every table with the columns that order its dump.
const TABLES: [(&str, &str); 18] = [
    ("courses", "id"),
    ("regions", "code"),
    ("bookmakers", "code"),
    ("horses", "id"),
    ("jockeys", "id"),
    ("owners", "id"),
    ("trainers", "id"),
    ("sires", "id"),
    ("dams", "id"),
    ("damsires", "id"),
    ("races", "id"),
    ("runners", "race_id, horse_id"),
    ("runner_odds", "race_id, horse_id, bookmaker"),
    ("api_responses", "endpoint, params"),
    ("fetch_coverage", "kind, race_date"),
    ("job_runs", "id"),
    ("alert_state", "job"),
    ("schema_migrations", "version"),
];

enum Raw {
    Sqlite { _dir: tempfile::TempDir, path: PathBuf },
    Postgres { client: tokio_postgres::Client, schema: String },
}

/// A store under test plus raw access to its database (to dump rows and to tamper).
struct TestDb {
    store: Arc<dyn Store>,
    cfg: DatabaseConfig,
    raw: Raw,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

impl TestDb {
    async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        // A nested directory the test makes: the store refuses to invent missing directories.
        let path = dir.path().join("nested").join("store.db");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let cfg =
            DatabaseConfig { url: Secret::new(format!("sqlite:{}", path.display())), ..DatabaseConfig::default() };
        let store = store::open(&cfg).await.unwrap();
        TestDb { store, cfg, raw: Raw::Sqlite { _dir: dir, path } }
    }

    async fn postgres(url: &str) -> TestDb {
        let schema = format!("st_{}_{}", std::process::id(), COUNTER.fetch_add(1, Ordering::SeqCst));
        let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(conn);
        client.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}")).await.unwrap();
        let cfg = DatabaseConfig { url: Secret::new(url), schema: schema.clone(), ..DatabaseConfig::default() };
        let store = match store::open(&cfg).await {
            Ok(store) => store,
            Err(e) => {
                client.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).await.unwrap();
                panic!("opening the Postgres store in schema {schema}: {e}");
            }
        };
        TestDb { store, cfg, raw: Raw::Postgres { client, schema } }
    }

    /// A fresh database of the same backend.
    async fn fresh(&self) -> TestDb {
        match &self.raw {
            Raw::Sqlite { .. } => TestDb::sqlite().await,
            Raw::Postgres { .. } => TestDb::postgres(&std::env::var(PG_ENV).unwrap()).await,
        }
    }

    fn label(&self) -> &'static str {
        match self.raw {
            Raw::Sqlite { .. } => "sqlite",
            Raw::Postgres { .. } => "postgres",
        }
    }

    async fn cleanup(self) {
        if let Raw::Postgres { client, schema } = &self.raw {
            client.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).await.unwrap();
        }
    }

    async fn exec(&self, sql: &str) {
        match &self.raw {
            Raw::Sqlite { path, .. } => rusqlite::Connection::open(path).unwrap().execute_batch(sql).unwrap(),
            Raw::Postgres { client, schema } => {
                client.batch_execute(&format!("SET search_path TO {schema}; {sql}")).await.unwrap()
            }
        }
    }

    /// Rows of a query as JSON objects. Blobs/bytea come back as `\x` hex text on both backends.
    async fn query(&self, sql: &str) -> Vec<Json> {
        match &self.raw {
            Raw::Sqlite { path, .. } => {
                let conn = rusqlite::Connection::open(path).unwrap();
                let mut stmt = conn.prepare(sql).unwrap();
                let names: Vec<String> = stmt.column_names().map(|s| s.to_string()).collect();
                stmt.query_map([], |r| {
                    let mut obj = serde_json::Map::new();
                    for (i, name) in names.iter().enumerate() {
                        let v = match r.get::<_, rusqlite::types::Value>(i)? {
                            rusqlite::types::Value::Null => Json::Null,
                            rusqlite::types::Value::Integer(n) => json!(n),
                            rusqlite::types::Value::Real(f) => json!(f),
                            rusqlite::types::Value::Text(s) => json!(s),
                            rusqlite::types::Value::Blob(b) => json!(format!("\\x{}", hex(&b))),
                        };
                        obj.insert(name.clone(), v);
                    }
                    Ok(Json::Object(obj))
                })
                .unwrap()
                .collect::<Result<Vec<_>, _>>()
                .unwrap()
            }
            Raw::Postgres { client, schema } => {
                client.batch_execute(&format!("SET search_path TO {schema}")).await.unwrap();
                let rows = client.query(&format!("SELECT row_to_json(q)::text FROM ({sql}) q"), &[]).await.unwrap();
                rows.iter().map(|r| serde_json::from_str(r.get::<_, &str>(0)).unwrap()).collect()
            }
        }
    }

    async fn dump(&self, table: &str) -> Vec<Json> {
        let order = TABLES.iter().find(|t| t.0 == table).unwrap().1;
        self.query(&format!("SELECT * FROM {table} ORDER BY {order}")).await
    }

    async fn dump_all(&self) -> BTreeMap<String, Vec<Json>> {
        let mut all = BTreeMap::new();
        for (table, _) in TABLES {
            all.insert(table.to_string(), self.dump(table).await);
        }
        all
    }

    async fn row(&self, table: &str, condition: &str) -> Json {
        let mut rows = self.query(&format!("SELECT * FROM {table} WHERE {condition}")).await;
        assert_eq!(rows.len(), 1, "{}: one row of {table} where {condition}", self.label());
        rows.remove(0)
    }
}

/// Every backend under test: SQLite always, Postgres when the variable is set.
async fn backends() -> Vec<TestDb> {
    let mut dbs = vec![TestDb::sqlite().await];
    if let Ok(url) = std::env::var(PG_ENV)
        && !url.trim().is_empty()
    {
        dbs.push(TestDb::postgres(&url).await);
    }
    dbs
}

/// One `#[tokio::test]` per case, run on every backend.
macro_rules! store_cases {
    ($($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                for db in backends().await {
                    eprintln!("{} on {}", stringify!($name), db.label());
                    cases::$name(&db).await;
                    db.cleanup().await;
                }
            }
        )*
    };
}

store_cases!(
    migrate_is_idempotent_and_status_lists_every_file,
    an_edited_applied_migration_is_refused,
    racecards_then_results_keep_both_sources_columns,
    results_then_racecards_end_in_the_same_rows,
    the_same_units_twice_change_nothing,
    a_dry_run_changes_nothing_and_counts_the_same,
    odds_are_upserted_and_seeded_bookmakers_kept,
    a_failed_unit_never_downgrades_a_complete_one,
    job_runs_are_unique_per_job_and_slot,
    a_slot_is_claimed_once_and_passed_over_slots_are_recorded,
    records_that_cannot_be_stored_are_skipped_and_counted,
    raw_responses_are_kept_gzipped_with_their_sha256,
    reads_for_jobs_and_checks,
    dead_running_runs_are_closed_failed_and_finished_ones_left_alone,
    lock_scopes_name_the_database_without_credentials,
);

// ---------------------------------------------------------------------------------------------
// Value helpers (the backends spell types differently in JSON: 1 vs true, Z vs +00:00)

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    let s = s.trim_start_matches("\\x");
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

fn text(row: &Json, col: &str) -> Option<String> {
    match &row[col] {
        Json::Null => None,
        Json::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn int(row: &Json, col: &str) -> Option<i64> {
    match &row[col] {
        Json::Null => None,
        Json::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Json::String(s) => Some(s.parse().unwrap()),
        other => panic!("{col} is {other}, not an int"),
    }
}

fn real(row: &Json, col: &str) -> Option<f64> {
    match &row[col] {
        Json::Null => None,
        Json::Number(n) => n.as_f64(),
        Json::String(s) => Some(s.parse().unwrap()),
        other => panic!("{col} is {other}, not a number"),
    }
}

fn boolean(row: &Json, col: &str) -> Option<bool> {
    match &row[col] {
        Json::Null => None,
        Json::Bool(b) => Some(*b),
        Json::Number(n) => Some(n.as_i64() == Some(1)),
        other => panic!("{col} is {other}, not a bool"),
    }
}

fn instant(row: &Json, col: &str) -> Option<DateTime<Utc>> {
    text(row, col).map(|s| DateTime::parse_from_rfc3339(&s).unwrap().with_timezone(&Utc))
}

/// A dump without the columns a write stamps with the wall clock.
fn without_timestamps(rows: &[Json]) -> Vec<Json> {
    rows.iter()
        .map(|r| {
            let mut r = r.clone();
            if let Json::Object(m) = &mut r {
                m.retain(|k, _| !k.ends_with("updated_at"));
            }
            r
        })
        .collect()
}

fn counts(stats: &WriteStats, table: &str) -> TableCounts {
    stats.tables.get(table).copied().unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Synthetic units: two races, five runners, both sources

fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 10, 14).unwrap()
}

fn at(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 10, 14, h, m, 0).unwrap()
}

/// (race, horse, number, draw)
const FIELD: [(&str, &str, i32, i32); 5] = [
    ("rac_1", "hrs_1", 1, 3),
    ("rac_1", "hrs_2", 2, 1),
    ("rac_1", "hrs_3", 3, 2),
    ("rac_2", "hrs_4", 1, 1),
    ("rac_2", "hrs_5", 2, 2),
];

fn entities() -> Entities {
    Entities {
        courses: vec![Course {
            id: "crs_1".into(),
            name: "Ascot".into(),
            region_code: "gb".into(),
            region: "Great Britain".into(),
        }],
        horses: FIELD
            .iter()
            .map(|(_, h, _, _)| Horse {
                id: (*h).into(),
                name: format!("Horse {h}"),
                sex_code: Some("G".into()),
                sire_id: Some("sir_1".into()),
                dam_id: Some("dam_1".into()),
                damsire_id: Some("dsi_1".into()),
                ..Horse::default()
            })
            .collect(),
        jockeys: vec![Person { id: "jky_1".into(), name: "A Jockey".into() }],
        trainers: vec![Trainer { id: "trn_1".into(), name: "A Trainer".into(), location: Some("Lambourn".into()) }],
        owners: vec![Person { id: "own_1".into(), name: "An Owner".into() }],
        sires: vec![Ancestor { id: "sir_1".into(), name: "Sire".into(), region: Some("IRE".into()) }],
        dams: vec![Ancestor { id: "dam_1".into(), name: "Dam".into(), region: None }],
        damsires: vec![Ancestor { id: "dsi_1".into(), name: "Damsire".into(), region: Some("USA".into()) }],
    }
}

fn race(source: Source, id: &str, off: DateTime<Utc>) -> Race {
    let card = source == Source::Racecard;
    let result = source == Source::Result;
    let some = |on: bool, s: &str| on.then(|| s.to_string());
    Race {
        source,
        id: id.into(),
        course_id: "crs_1".into(),
        course_name: "Ascot".into(),
        race_date: day(),
        off_at: Some(off),
        region: "GB".into(),
        race_name: Some(format!("The {id} Stakes")),
        race_type: Some("Flat".into()),
        race_class: Some("Class 2".into()),
        pattern: None,
        rating_band: Some("0-95".into()),
        age_band: Some("3yo+".into()),
        sex_restriction: None,
        // Results send the distance rounded: once a result is stored its value stands.
        distance: Some(if card { "1m2f110y" } else { "1m2½f" }.into()),
        distance_f: Some(10.5),
        distance_y: Some(2310),
        distance_m: Some(2112),
        // Racecards send going, results do not: COALESCE keeps it.
        going: some(card, "Good to Soft"),
        going_detailed: None,
        surface: Some("Turf".into()),
        jumps: None,
        prize_amount: Some(4187.2),
        prize_currency: Some("GBP".into()),
        // The declared field is the racecard's, how many ran the result's.
        field_size: card.then_some(if id == "rac_1" { 3 } else { 2 }),
        ran: result.then_some(if id == "rac_1" { 3 } else { 2 }),
        big_race: card.then_some(false),
        is_abandoned: card.then_some(false),
        stalls: some(card, "Inside"),
        weather: some(card, "Cloudy"),
        rail_movements: None,
        tip: some(card, "Horse hrs_1"),
        verdict: some(card, "A verdict"),
        betting_forecast: some(card, "2/1 Horse"),
        winning_time_detail: some(result, "2m 10.25s"),
        comments: some(result, "Race comments"),
        non_runners: None,
        tote_win: some(result, "£3.20"),
        tote_pl: some(result, "£1.40 £1.10"),
        tote_ex: some(result, "£8.30"),
        tote_csf: some(result, "£7.12"),
        tote_tricast: None,
        tote_trifecta: some(result, "£20.10"),
    }
}

fn runner(source: Source, race_id: &str, horse_id: &str, number: i32, draw: i32) -> Runner {
    let card = source == Source::Racecard;
    let result = source == Source::Result;
    let some = |on: bool, s: String| on.then_some(s);
    Runner {
        source,
        race_id: race_id.into(),
        horse_id: horse_id.into(),
        // Results name the horse with its suffix: once a result is stored its value stands.
        horse_name: if card { format!("Horse {horse_id}") } else { format!("Horse {horse_id} (IRE)") },
        number: Some(number),
        // Results do not send draw or silk_url here: COALESCE must keep the racecard's.
        draw: card.then_some(draw),
        age: Some(4),
        sex_code: Some("G".into()),
        jockey_id: Some("jky_1".into()),
        jockey_name: Some("A Jockey".into()),
        jockey_claim_lbs: Some(0),
        trainer_id: Some("trn_1".into()),
        trainer_name: Some("A Trainer".into()),
        owner_id: Some("own_1".into()),
        owner_name: Some("An Owner".into()),
        sire_id: Some("sir_1".into()),
        dam_id: Some("dam_1".into()),
        damsire_id: Some("dsi_1".into()),
        weight_lbs: Some(133),
        headgear: None,
        official_rating: Some(if card { 90 } else { 92 }),
        // Ratings going into the race (racecards) and earned in it (results): separate columns.
        rpr: card.then_some(95),
        topspeed: card.then_some(80),
        result_rpr: result.then_some(101),
        result_topspeed: result.then_some(77),
        silk_url: some(card, format!("https://silks/{horse_id}.svg")),
        form: some(card, "1-23".into()),
        spotlight: some(card, format!("Spotlight on {horse_id}")),
        card_comment: some(card, "Card comment".into()),
        position: some(result, number.to_string()),
        finish_position: result.then_some(number),
        btn: result.then_some(f64::from(number - 1) * 1.25),
        ovr_btn: result.then_some(f64::from(number - 1) * 1.5),
        sp: some(result, "9/2".into()),
        sp_decimal: result.then_some(5.5),
        prize_amount: result.then_some(3140.0),
        prize_currency: some(result, "GBP".into()),
        finish_time: some(result, "1:43.25".into()),
        finish_time_s: result.then_some(103.25),
        comment: some(result, format!("Result comment {horse_id}")),
    }
}

fn response(endpoint: &str, body: &str) -> RawResponse {
    RawResponse {
        endpoint: endpoint.into(),
        params: format!("date={}&region_codes=gb&region_codes=ire", day()),
        status: 200,
        fetched_at: at(8, 0),
        body: bytes::Bytes::from(body.to_string()),
    }
}

fn odds(horse_id: &str, bookmaker: &str, decimal: f64) -> RunnerOdds {
    RunnerOdds {
        race_id: FIELD.iter().find(|f| f.1 == horse_id).unwrap().0.into(),
        horse_id: horse_id.into(),
        bookmaker: bookmaker.into(),
        fractional: Some("7/2".into()),
        decimal: Some(decimal),
        ew_places: Some(3),
        ew_denom: Some(5),
        quoted_at: Some(at(7, 45)),
    }
}

fn racecard_unit() -> Unit {
    let mut u = Unit::new(Kind::Racecards, day());
    u.entities = entities();
    u.races = vec![race(Source::Racecard, "rac_1", at(13, 30)), race(Source::Racecard, "rac_2", at(14, 5))];
    u.runners = FIELD.iter().map(|(r, h, n, d)| runner(Source::Racecard, r, h, *n, *d)).collect();
    u.odds = vec![odds("hrs_1", "bet365", 4.5), odds("hrs_1", "betmgm", 4.33), odds("hrs_4", "bet365", 2.0)];
    u.bookmakers = vec![
        // A seeded bookmaker seen in odds must not lose its seed source.
        Bookmaker {
            code: "bet365".into(),
            name: "Bet365 Odds".into(),
            kind: BookmakerKind::Online,
            source: "odds".into(),
        },
        Bookmaker { code: "betmgm".into(), name: "BetMGM".into(), kind: BookmakerKind::Online, source: "odds".into() },
    ];
    u.responses = vec![response("/racecards/pro", "{\"racecards\": [\"synthetic\"]}")];
    u.pages = 1;
    u.api_calls = 1;
    u
}

fn result_unit() -> Unit {
    let mut u = Unit::new(Kind::Results, day());
    let mut e = entities();
    // Results know less about horses: blanks must not erase what racecards stored.
    for h in &mut e.horses {
        h.sire_id = None;
        h.sex_code = None;
    }
    u.entities = e;
    u.races = vec![race(Source::Result, "rac_1", at(13, 30)), race(Source::Result, "rac_2", at(14, 5))];
    u.runners = FIELD.iter().map(|(r, h, n, d)| runner(Source::Result, r, h, *n, *d)).collect();
    u.responses = vec![response("/results", "{\"results\": [\"synthetic\"]}")];
    u.pages = 1;
    u.api_calls = 2;
    u
}

/// Both sources' columns are present, whichever order they were written in.
async fn assert_both_sources(db: &TestDb) {
    let l = db.label();
    let r1 = db.row("races", "id = 'rac_1'").await;
    // racecard-owned
    assert_eq!(text(&r1, "stalls").as_deref(), Some("Inside"), "{l}");
    assert_eq!(text(&r1, "tip").as_deref(), Some("Horse hrs_1"), "{l}");
    assert_eq!(boolean(&r1, "is_abandoned"), Some(false), "{l}");
    assert_eq!(boolean(&r1, "big_race"), Some(false), "{l}");
    // result-owned
    assert_eq!(text(&r1, "tote_win").as_deref(), Some("£3.20"), "{l}");
    assert_eq!(text(&r1, "winning_time_detail").as_deref(), Some("2m 10.25s"), "{l}");
    // shared, only racecards send going
    assert_eq!(text(&r1, "going").as_deref(), Some("Good to Soft"), "{l}");
    assert_eq!(real(&r1, "prize_amount"), Some(4187.2), "{l}");
    assert_eq!(real(&r1, "distance_f"), Some(10.5), "{l}");
    assert_eq!(int(&r1, "distance_y"), Some(2310), "{l}");
    assert_eq!(text(&r1, "distance").as_deref(), Some("1m2½f"), "{l}: the result's value stands");
    assert_eq!((int(&r1, "field_size"), int(&r1, "ran")), (Some(3), Some(3)), "{l}");
    assert_eq!(text(&r1, "race_date").as_deref(), Some("2025-10-14"), "{l}");
    assert_eq!(instant(&r1, "off_at"), Some(at(13, 30)), "{l}");
    assert_eq!(boolean(&r1, "has_result"), Some(true), "{l}");
    assert!(instant(&r1, "racecard_updated_at").is_some() && instant(&r1, "result_updated_at").is_some(), "{l}");

    let ru = db.row("runners", "race_id = 'rac_1' AND horse_id = 'hrs_2'").await;
    assert_eq!(text(&ru, "form").as_deref(), Some("1-23"), "{l}");
    assert_eq!(text(&ru, "spotlight").as_deref(), Some("Spotlight on hrs_2"), "{l}");
    assert_eq!(text(&ru, "card_comment").as_deref(), Some("Card comment"), "{l}");
    assert_eq!(int(&ru, "draw"), Some(1), "{l}");
    assert_eq!(text(&ru, "silk_url").as_deref(), Some("https://silks/hrs_2.svg"), "{l}");
    assert_eq!(text(&ru, "position").as_deref(), Some("2"), "{l}");
    assert_eq!(int(&ru, "finish_position"), Some(2), "{l}");
    assert_eq!(real(&ru, "btn"), Some(1.25), "{l}");
    assert_eq!(real(&ru, "sp_decimal"), Some(5.5), "{l}");
    assert_eq!(real(&ru, "finish_time_s"), Some(103.25), "{l}");
    assert_eq!(text(&ru, "comment").as_deref(), Some("Result comment hrs_2"), "{l}");
    // shared: the result's value stands, whichever came first
    assert_eq!(int(&ru, "official_rating"), Some(92), "{l}");
    assert_eq!(text(&ru, "horse_name").as_deref(), Some("Horse hrs_2 (IRE)"), "{l}");
    // pre-race ratings from the racecard, in-race ratings from the result
    assert_eq!((int(&ru, "rpr"), int(&ru, "topspeed")), (Some(95), Some(80)), "{l}");
    assert_eq!((int(&ru, "result_rpr"), int(&ru, "result_topspeed")), (Some(101), Some(77)), "{l}");

    let h = db.row("horses", "id = 'hrs_2'").await;
    assert_eq!(text(&h, "sire_id").as_deref(), Some("sir_1"), "{l}");
    assert_eq!(text(&h, "sex_code").as_deref(), Some("G"), "{l}");
}

mod cases {
    use super::*;

    pub async fn migrate_is_idempotent_and_status_lists_every_file(db: &TestDb) {
        let l = db.label();
        let status = db.store.migration_status().await.unwrap();
        assert!(!status.is_empty(), "{l}");
        for (i, m) in status.iter().enumerate() {
            assert_eq!(m.version, i as i64 + 1, "{l}: versions ascend from 1");
            assert!(m.applied_at.is_some(), "{l}: {} applied by open", m.name);
            assert_eq!(m.checksum.len(), 64, "{l}: sha256 hex");
        }
        assert!(db.store.migrate().await.unwrap().is_empty(), "{l}: a second migrate applies nothing");
        let reopened = store::open(&db.cfg).await.unwrap();
        assert!(reopened.migrate().await.unwrap().is_empty(), "{l}");
        assert_eq!(reopened.migration_status().await.unwrap(), status, "{l}");

        let counts = db.store.table_counts().await.unwrap();
        for (table, _) in TABLES {
            assert!(counts.contains_key(table), "{l}: table_counts lacks {table}");
        }
        assert_eq!(counts["regions"], 2, "{l}");
        assert_eq!(counts["bookmakers"], 19, "{l}");
        assert_eq!(counts["schema_migrations"], status.len() as i64, "{l}");
        let gb = db.row("regions", "code = 'gb'").await;
        assert_eq!(text(&gb, "name").as_deref(), Some("Great Britain"), "{l}");
        let b = db.row("bookmakers", "code = 'sporting_index'").await;
        assert_eq!((text(&b, "kind").as_deref(), text(&b, "source").as_deref()), (Some("spread"), Some("seed")), "{l}");
    }

    pub async fn an_edited_applied_migration_is_refused(db: &TestDb) {
        let l = db.label();
        db.exec(&format!("UPDATE schema_migrations SET checksum = '{}' WHERE version = 1", "0".repeat(64))).await;
        for err in [
            db.store.migration_status().await.unwrap_err(),
            db.store.migrate().await.unwrap_err(),
            store::open(&db.cfg).await.unwrap_err(),
        ] {
            assert!(matches!(err, store::Error::Migration(_)), "{l}: {err:?}");
            let msg = err.to_string();
            assert!(msg.contains("0001_"), "{l}: names the file: {msg}");
            assert!(msg.contains("never edit an applied migration"), "{l}: {msg}");
        }
    }

    pub async fn racecards_then_results_keep_both_sources_columns(db: &TestDb) {
        let first = db.store.write_unit(&racecard_unit()).await.unwrap();
        assert_eq!(counts(&first, "races").inserted, 2, "{}", db.label());
        assert_eq!(counts(&first, "runners").inserted, 5, "{}", db.label());
        let second = db.store.write_unit(&result_unit()).await.unwrap();
        assert_eq!(counts(&second, "races").updated, 2, "{}", db.label());
        assert_eq!(counts(&second, "runners").updated, 5, "{}", db.label());
        assert_both_sources(db).await;

        // Once a result is stored, a later racecard never replaces its shared values (it only
        // fills a column the result left NULL); its own columns, such as the pre-race rpr, follow it.
        let mut later = racecard_unit();
        later.runners[0].official_rating = Some(95);
        later.runners[0].rpr = Some(99);
        later.runners[0].draw = Some(7);
        later.races[0].distance = Some("1m3f".into());
        db.store.write_unit(&later).await.unwrap();
        let ru = db.row("runners", "race_id = 'rac_1' AND horse_id = 'hrs_1'").await;
        let l = db.label();
        assert_eq!(int(&ru, "official_rating"), Some(92), "{l}: the result's rating stands");
        assert_eq!(text(&ru, "horse_name").as_deref(), Some("Horse hrs_1 (IRE)"), "{l}");
        assert_eq!(int(&ru, "draw"), Some(3), "{l}: the result sent no draw, the first card's stands");
        assert_eq!((int(&ru, "rpr"), int(&ru, "result_rpr")), (Some(99), Some(101)), "{l}");
        assert_eq!(text(&ru, "position").as_deref(), Some("1"), "{l}");
        let r1 = db.row("races", "id = 'rac_1'").await;
        assert_eq!(text(&r1, "distance").as_deref(), Some("1m2½f"), "{l}: the result's distance stands");
    }

    pub async fn results_then_racecards_end_in_the_same_rows(db: &TestDb) {
        db.store.write_unit(&result_unit()).await.unwrap();
        let r = db.row("races", "id = 'rac_1'").await;
        assert_eq!(boolean(&r, "has_result"), Some(true), "{}", db.label());
        assert_eq!(text(&r, "stalls"), None, "{}", db.label());
        db.store.write_unit(&racecard_unit()).await.unwrap();
        assert_both_sources(db).await;

        // The other order, on a fresh database, gives the same rows (timestamps aside).
        let other = db.fresh().await;
        other.store.write_unit(&racecard_unit()).await.unwrap();
        other.store.write_unit(&result_unit()).await.unwrap();
        for table in ["races", "runners", "horses", "runner_odds", "courses", "trainers", "sires"] {
            assert_eq!(
                without_timestamps(&db.dump(table).await),
                without_timestamps(&other.dump(table).await),
                "{}: {table} after results then racecards vs racecards then results",
                db.label()
            );
        }
        other.cleanup().await;
    }

    pub async fn the_same_units_twice_change_nothing(db: &TestDb) {
        let l = db.label();
        db.store.write_unit(&racecard_unit()).await.unwrap();
        db.store.write_unit(&result_unit()).await.unwrap();
        // Backdate every stamp so a rewrite that touched a row would show.
        let old = "2000-01-01T00:00:00Z";
        db.exec(&format!(
            "UPDATE races SET updated_at = '{old}', racecard_updated_at = '{old}', result_updated_at = '{old}';
             UPDATE runners SET updated_at = '{old}', racecard_updated_at = '{old}', result_updated_at = '{old}';
             UPDATE horses SET updated_at = '{old}'; UPDATE courses SET updated_at = '{old}';"
        ))
        .await;
        let before = db.dump_all().await;
        for unit in [racecard_unit(), result_unit()] {
            let stats = db.store.write_unit(&unit).await.unwrap();
            for (table, c) in &stats.tables {
                assert_eq!((c.inserted, c.updated), (0, 0), "{l}: rerun of {} changed {table}: {c:?}", unit.kind);
            }
            assert_eq!(stats.rows_written(), 0, "{l}");
            assert!(
                counts(&stats, "runners").unchanged == 5 && counts(&stats, "races").unchanged == 2,
                "{l}: {stats:?}"
            );
            assert!(stats.skipped.is_empty(), "{l}");
        }
        assert_eq!(before, db.dump_all().await, "{l}: a rerun left rows different");
    }

    pub async fn a_dry_run_changes_nothing_and_counts_the_same(db: &TestDb) {
        let l = db.label();
        for unit in [racecard_unit(), result_unit()] {
            let before = db.dump_all().await;
            let writer = db.store.dry_run().await.unwrap();
            let dry = writer.write_unit(&unit).await.unwrap();
            writer.close().await.unwrap();
            assert_eq!(before, db.dump_all().await, "{l}: a dry run of {} wrote", unit.kind);
            assert!(dry.rows_written() > 0, "{l}");
            let real = db.store.write_unit(&unit).await.unwrap();
            assert_eq!(dry, real, "{l}: dry-run counts of {} differ from the real write", unit.kind);
        }
        let counts = db.store.table_counts().await.unwrap();
        assert_eq!((counts["races"], counts["runners"]), (2, 5), "{l}");
    }

    pub async fn odds_are_upserted_and_seeded_bookmakers_kept(db: &TestDb) {
        let l = db.label();
        let first = db.store.write_unit(&racecard_unit()).await.unwrap();
        assert_eq!(counts(&first, "runner_odds").inserted, 3, "{l}");
        let mut unit = racecard_unit();
        unit.odds[0].decimal = Some(5.0);
        unit.odds[0].fractional = Some("4/1".into());
        unit.odds.push(odds("hrs_5", "betmgm", 11.0));
        unit.responses[0].fetched_at = at(9, 0);
        let second = db.store.write_unit(&unit).await.unwrap();
        assert_eq!(
            counts(&second, "runner_odds"),
            TableCounts { inserted: 1, updated: 1, unchanged: 2 },
            "{l}: {second:?}"
        );
        let o = db.row("runner_odds", "race_id = 'rac_1' AND horse_id = 'hrs_1' AND bookmaker = 'bet365'").await;
        assert_eq!(real(&o, "decimal"), Some(5.0), "{l}");
        assert_eq!(text(&o, "fractional").as_deref(), Some("4/1"), "{l}");
        assert_eq!(int(&o, "ew_places"), Some(3), "{l}");
        assert_eq!(instant(&o, "quoted_at"), Some(at(7, 45)), "{l}");
        assert_eq!(instant(&o, "fetched_at"), Some(at(9, 0)), "{l}: a changed quote carries the new fetch time");
        let same = db.row("runner_odds", "race_id = 'rac_2' AND horse_id = 'hrs_4' AND bookmaker = 'bet365'").await;
        assert_eq!(instant(&same, "fetched_at"), Some(at(8, 0)), "{l}: an unchanged quote is not touched");

        let bet365 = db.row("bookmakers", "code = 'bet365'").await;
        assert_eq!(text(&bet365, "source").as_deref(), Some("seed"), "{l}");
        assert_eq!(text(&bet365, "name").as_deref(), Some("Bet365"), "{l}");
        let mgm = db.row("bookmakers", "code = 'betmgm'").await;
        assert_eq!(
            (text(&mgm, "source").as_deref(), text(&mgm, "kind").as_deref()),
            (Some("odds"), Some("online")),
            "{l}"
        );
        assert_eq!(db.store.table_counts().await.unwrap()["bookmakers"], 20, "{l}");
    }

    pub async fn a_failed_unit_never_downgrades_a_complete_one(db: &TestDb) {
        let l = db.label();
        db.store.write_unit(&racecard_unit()).await.unwrap();
        db.store.mark_unit_failed(Kind::Racecards, day(), 3, "HTTP 500 from /racecards/pro").await.unwrap();
        let cov = db.store.coverage(Kind::Racecards, day(), day()).await.unwrap();
        assert_eq!(cov.len(), 1, "{l}");
        assert_eq!(cov[0].status, CoverageStatus::Complete, "{l}");
        assert_eq!((cov[0].races, cov[0].runners, cov[0].pages, cov[0].api_calls), (2, 5, 1, 1), "{l}");
        assert_eq!(cov[0].fetched_at, at(8, 0), "{l}");
        assert_eq!(cov[0].error, None, "{l}");

        let next = day().succ_opt().unwrap();
        db.store.mark_unit_failed(Kind::Results, next, 4, "HTTP 503 after 4 attempts").await.unwrap();
        let failed = db.store.coverage(Kind::Results, next, next).await.unwrap();
        assert_eq!(failed[0].status, CoverageStatus::Failed, "{l}");
        assert_eq!(failed[0].api_calls, 4, "{l}");
        assert_eq!(failed[0].error.as_deref(), Some("HTTP 503 after 4 attempts"), "{l}");

        // A later success replaces the failure; an empty day is `empty`.
        let mut empty = Unit::new(Kind::Results, next);
        empty.api_calls = 1;
        empty.pages = 1;
        db.store.write_unit(&empty).await.unwrap();
        let now = db.store.coverage(Kind::Results, next, next).await.unwrap();
        assert_eq!((now[0].status, now[0].error.as_deref(), now[0].races), (CoverageStatus::Empty, None, 0), "{l}");
        assert!(db.store.coverage(Kind::Racecards, next, next).await.unwrap().is_empty(), "{l}: kinds are separate");
    }

    pub async fn job_runs_are_unique_per_job_and_slot(db: &TestDb) {
        let l = db.label();
        let run = |job: &str, slot: Option<DateTime<Utc>>, started: DateTime<Utc>| NewJobRun {
            job: job.into(),
            slot,
            trigger: if slot.is_some() { Trigger::Schedule } else { Trigger::Manual },
            started_at: started,
            host: "host-a".into(),
            pid: 4242,
            dry_run: false,
        };
        let slot = Some(at(6, 0));
        let id = db.store.start_job_run(&run("daily", slot, at(6, 0))).await.unwrap();
        let dup = db.store.start_job_run(&run("daily", slot, at(6, 1))).await;
        assert!(dup.is_err(), "{l}: a second run of the same (job, slot) must be refused");
        db.store.start_job_run(&run("live", slot, at(6, 0))).await.unwrap();
        let m1 = db.store.start_job_run(&run("daily", None, at(7, 0))).await.unwrap();
        let m2 = db.store.start_job_run(&run("daily", None, at(8, 0))).await.unwrap();
        assert!(id != m1 && m1 != m2, "{l}: manual runs (no slot) are not unique");

        let finished = FinishedJobRun {
            status: RunStatus::Succeeded,
            finished_at: at(6, 5),
            api_calls: 12,
            api_errors: 1,
            rows_written: 300,
            error: None,
            summary: json!({"units_done": 2}),
        };
        db.store.finish_job_run(id, &finished).await.unwrap();
        assert!(db.store.finish_job_run(999_999, &finished).await.is_err(), "{l}: unknown id");

        let daily = db.store.latest_job_runs(Some("daily"), 10).await.unwrap();
        assert_eq!(daily.iter().map(|r| r.id).collect::<Vec<_>>(), vec![m2, m1, id], "{l}: newest first");
        let first = daily.last().unwrap();
        assert_eq!((first.status.as_str(), first.trigger.as_str()), ("succeeded", "schedule"), "{l}");
        assert_eq!((first.finished_at, first.api_calls, first.rows_written), (Some(at(6, 5)), 12, 300), "{l}");
        assert_eq!((first.slot, first.pid, first.host.as_deref()), (slot, Some(4242), Some("host-a")), "{l}");
        let summary = db.row("job_runs", &format!("id = {id}")).await;
        let summary: Json = match &summary["summary"] {
            Json::String(s) => serde_json::from_str(s).unwrap(),
            other => other.clone(),
        };
        assert_eq!(summary, json!({"units_done": 2}), "{l}");

        let latest = db.store.latest_job_runs(None, 1).await.unwrap();
        assert_eq!(latest.len(), 2, "{l}: the latest run of each job");
        assert_eq!(latest[0].id, m2, "{l}");
        assert_eq!(latest[0].status, "running", "{l}");
    }

    pub async fn a_slot_is_claimed_once_and_passed_over_slots_are_recorded(db: &TestDb) {
        let l = db.label();
        let claim = |job: &str, slot: DateTime<Utc>, pid: u32| NewJobRun {
            job: job.into(),
            slot: Some(slot),
            trigger: Trigger::Schedule,
            started_at: slot,
            host: "host-a".into(),
            pid,
            dry_run: false,
        };
        assert_eq!(db.store.last_slot("live_data").await.unwrap(), None, "{l}: a new interval has no slot");
        let first = db.store.claim_slot(&claim("live_data", at(9, 0), 1), &[], "").await.unwrap();
        assert!(first.is_some(), "{l}: the first claimant wins");
        assert_eq!(
            db.store.claim_slot(&claim("live_data", at(9, 0), 2), &[], "").await.unwrap(),
            None,
            "{l}: the second skips"
        );
        assert!(
            db.store.claim_slot(&claim("daily_data", at(9, 0), 3), &[], "").await.unwrap().is_some(),
            "{l}: per interval"
        );
        assert!(!db.store.skip_slot("live_data", at(9, 0), at(9, 1), "late").await.unwrap(), "{l}: claimed already");
        assert!(db.store.skip_slot("live_data", at(9, 15), at(9, 31), "missed by 16m").await.unwrap(), "{l}");
        assert!(
            db.store.claim_slot(&claim("live_data", at(9, 15), 4), &[], "").await.unwrap().is_none(),
            "{l}: skipped is taken"
        );
        assert_eq!(db.store.last_slot("live_data").await.unwrap(), Some(at(9, 15)), "{l}");
        let runs = db.store.latest_job_runs(Some("live_data"), 10).await.unwrap();
        assert_eq!(runs.len(), 2, "{l}: one row per slot");
        // A run_once claim records the slots it covers with it; a losing claim records none.
        let covered = [at(10, 0), at(10, 15)];
        let lost = db.store.claim_slot(&claim("live_data", at(9, 15), 5), &covered, "covered").await.unwrap();
        assert_eq!(lost, None, "{l}");
        assert_eq!(
            db.store.latest_job_runs(Some("live_data"), 10).await.unwrap().len(),
            2,
            "{l}: a loser writes nothing"
        );
        let won = db.store.claim_slot(&claim("live_data", at(10, 30), 6), &covered, "covered").await.unwrap();
        assert!(won.is_some(), "{l}");
        let after = db.store.latest_job_runs(Some("live_data"), 10).await.unwrap();
        assert_eq!(after.len(), 5, "{l}: the claim and the two slots it covers");
        assert!(
            after
                .iter()
                .filter(|r| covered.contains(&r.slot.unwrap()))
                .all(|r| r.status == "skipped" && r.error.as_deref() == Some("covered")),
            "{l}: {after:?}"
        );
        let skipped = runs.iter().find(|r| r.slot == Some(at(9, 15))).unwrap();
        assert_eq!((skipped.status.as_str(), skipped.error.as_deref()), ("skipped", Some("missed by 16m")), "{l}");
        assert_eq!(skipped.finished_at, Some(at(9, 31)), "{l}");
        let claimed = runs.iter().find(|r| r.slot == Some(at(9, 0))).unwrap();
        assert_eq!((claimed.status.as_str(), claimed.pid), ("running", Some(1)), "{l}");
    }

    pub async fn records_that_cannot_be_stored_are_skipped_and_counted(db: &TestDb) {
        let l = db.label();
        let mut unit = racecard_unit();
        // A runner whose race is not in the unit, odds for it, and a runner of an unknown horse.
        unit.runners.push(runner(Source::Racecard, "rac_9", "hrs_1", 1, 1));
        unit.odds.push(RunnerOdds { race_id: "rac_9".into(), ..odds("hrs_1", "bet365", 3.0) });
        unit.runners.push(runner(Source::Racecard, "rac_2", "hrs_unknown", 3, 3));
        let writer = db.store.dry_run().await.unwrap();
        let dry = writer.write_unit(&unit).await.unwrap();
        writer.close().await.unwrap();
        let stats = db.store.write_unit(&unit).await.unwrap();
        assert_eq!(dry, stats, "{l}");
        assert_eq!(stats.skipped.len(), 3, "{l}: {:?}", stats.skipped);
        assert!(stats.skipped.iter().any(|s| s.record.contains("rac_9") && s.reason.contains("rac_9")), "{l}");
        assert!(
            stats.skipped.iter().any(|s| s.record.contains("hrs_unknown") && s.reason.contains("hrs_unknown")),
            "{l}"
        );
        assert_eq!(counts(&stats, "runners").inserted, 5, "{l}: the others are written");
        assert_eq!(counts(&stats, "runner_odds").inserted, 3, "{l}");
        assert!(
            stats.skipped.iter().any(|s| s.record == "odds rac_9/hrs_1/bet365" && s.reason.contains("rac_9/hrs_1")),
            "{l}: {:?}",
            stats.skipped
        );
        assert_eq!(db.store.table_counts().await.unwrap()["runner_odds"], 3, "{l}: no orphan odds");
        let cov = db.store.coverage(Kind::Racecards, day(), day()).await.unwrap();
        assert_eq!((cov[0].status, cov[0].races, cov[0].runners), (CoverageStatus::Complete, 2, 5), "{l}");

        // A runner whose horse the unit does not list but the table holds is written.
        let mut later = racecard_unit();
        later.entities.horses.retain(|h| h.id != "hrs_4");
        let stats = db.store.write_unit(&later).await.unwrap();
        assert!(stats.skipped.is_empty(), "{l}: {:?}", stats.skipped);
        assert_eq!(counts(&stats, "runners").unchanged, 5, "{l}");
    }

    pub async fn raw_responses_are_kept_gzipped_with_their_sha256(db: &TestDb) {
        let l = db.label();
        let unit = racecard_unit();
        let stats = db.store.write_unit(&unit).await.unwrap();
        assert_eq!(counts(&stats, "api_responses").inserted, 1, "{l}");
        let raw = &unit.responses[0];
        let row = db.row("api_responses", "endpoint = '/racecards/pro'").await;
        assert_eq!(text(&row, "params").as_deref(), Some(raw.params.as_str()), "{l}");
        assert_eq!(int(&row, "status"), Some(200), "{l}");
        assert_eq!(text(&row, "encoding").as_deref(), Some("gzip"), "{l}");
        assert_eq!(instant(&row, "fetched_at"), Some(raw.fetched_at), "{l}");
        assert_eq!(
            text(&row, "sha256").as_deref(),
            Some(darkhorses::store::migrations::sha256_hex(&raw.body).as_str()),
            "{l}"
        );
        let mut body = Vec::new();
        flate2::read::GzDecoder::new(&unhex(&text(&row, "body").unwrap())[..]).read_to_end(&mut body).unwrap();
        assert_eq!(body, raw.body.to_vec(), "{l}: the exact bytes");

        // A new fetch of the same request replaces the row.
        let mut again = racecard_unit();
        again.responses[0].body = bytes::Bytes::from_static(b"{\"racecards\": []}");
        again.responses[0].fetched_at = at(9, 0);
        let stats = db.store.write_unit(&again).await.unwrap();
        assert_eq!(counts(&stats, "api_responses").updated, 1, "{l}");
        assert_eq!(db.store.table_counts().await.unwrap()["api_responses"], 1, "{l}");
    }

    pub async fn reads_for_jobs_and_checks(db: &TestDb) {
        let l = db.label();
        assert_eq!(db.store.freshness().await.unwrap(), store::Freshness::default(), "{l}: empty database");
        db.store.write_unit(&racecard_unit()).await.unwrap();
        let races = db.store.races_on(day()).await.unwrap();
        assert_eq!(races.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["rac_1", "rac_2"], "{l}");
        assert!(races.iter().all(|r| !r.has_result && !r.is_abandoned), "{l}");
        assert_eq!(races[1].off_at, Some(at(14, 5)), "{l}");
        let fresh = db.store.freshness().await.unwrap();
        assert!(fresh.latest_racecard_write.is_some() && fresh.latest_result_write.is_none(), "{l}");
        assert_eq!((fresh.latest_race_date, fresh.latest_result_race_date), (Some(day()), None), "{l}");

        db.store.write_unit(&result_unit()).await.unwrap();
        assert!(db.store.races_on(day()).await.unwrap().iter().all(|r| r.has_result), "{l}");
        assert!(db.store.races_on(day().succ_opt().unwrap()).await.unwrap().is_empty(), "{l}");
        let fresh = db.store.freshness().await.unwrap();
        assert_eq!(fresh.latest_result_race_date, Some(day()), "{l}");
        assert!(fresh.latest_result_write.is_some(), "{l}");

        assert_eq!(
            db.store.horses_needing_enrichment(10).await.unwrap(),
            ["hrs_1", "hrs_2", "hrs_3", "hrs_4", "hrs_5"],
            "{l}"
        );
        assert_eq!(db.store.horses_needing_enrichment(2).await.unwrap(), ["hrs_1", "hrs_2"], "{l}");
        let profile = Horse {
            id: "hrs_1".into(),
            name: "Horse hrs_1".into(),
            dob: NaiveDate::from_ymd_opt(2021, 3, 4),
            colour: Some("b".into()),
            breeder: Some("A Breeder".into()),
            region: Some("GB".into()),
            ..Horse::default()
        };
        let stats = db.store.write_horses(&[profile], &[response("/horses/hrs_1/pro", "{}")]).await.unwrap();
        assert_eq!(counts(&stats, "horses").updated, 1, "{l}");
        assert_eq!(db.store.horses_needing_enrichment(2).await.unwrap(), ["hrs_2", "hrs_3"], "{l}");
        let h = db.row("horses", "id = 'hrs_1'").await;
        assert_eq!(text(&h, "dob").as_deref(), Some("2021-03-04"), "{l}");
        assert_eq!(text(&h, "sire_id").as_deref(), Some("sir_1"), "{l}: enrichment blanks never erase");

        let reference = ReferenceData {
            courses: vec![Course {
                id: "crs_2".into(),
                name: "Leopardstown".into(),
                region_code: "ire".into(),
                region: "Ireland".into(),
            }],
            regions: vec![Region { code: "gb".into(), name: "Great Britain".into() }],
            bookmakers: darkhorses::model::seed_bookmakers(),
            responses: vec![response("/courses", "{\"courses\": []}")],
        };
        let writer = db.store.dry_run().await.unwrap();
        let dry = writer.write_reference(&reference).await.unwrap();
        writer.close().await.unwrap();
        let stats = db.store.write_reference(&reference).await.unwrap();
        assert_eq!(dry, stats, "{l}");
        assert_eq!(counts(&stats, "courses").inserted, 1, "{l}");
        assert_eq!(counts(&stats, "regions").unchanged, 1, "{l}");
        assert_eq!(counts(&stats, "bookmakers").unchanged, 19, "{l}");
        let counts = db.store.table_counts().await.unwrap();
        assert_eq!((counts["courses"], counts["horses"], counts["jockeys"]), (2, 5, 1), "{l}");
        assert!(db.store.try_job_lock("daily").await.unwrap().is_some(), "{l}");
    }

    pub async fn dead_running_runs_are_closed_failed_and_finished_ones_left_alone(db: &TestDb) {
        let l = db.label();
        let run = |job: &str, started: DateTime<Utc>| NewJobRun {
            job: job.into(),
            slot: None,
            trigger: Trigger::Manual,
            started_at: started,
            host: "host-a".into(),
            pid: 4242,
            dry_run: false,
        };
        let dead_1 = db.store.start_job_run(&run("backfill", at(6, 0))).await.unwrap();
        let dead_2 = db.store.start_job_run(&run("backfill", at(7, 0))).await.unwrap();
        let other_job = db.store.start_job_run(&run("daily", at(6, 30))).await.unwrap();
        let done = db.store.start_job_run(&run("backfill", at(5, 0))).await.unwrap();
        let finished = FinishedJobRun {
            status: RunStatus::Succeeded,
            finished_at: at(5, 10),
            api_calls: 1,
            api_errors: 0,
            rows_written: 10,
            error: None,
            summary: json!({}),
        };
        db.store.finish_job_run(done, &finished).await.unwrap();

        let running = db.store.running_job_runs("backfill").await.unwrap();
        assert_eq!(running.iter().map(|r| r.id).collect::<Vec<_>>(), vec![dead_1, dead_2], "{l}: oldest first");
        assert_eq!((running[0].pid, running[0].host.as_deref()), (Some(4242), Some("host-a")), "{l}");

        assert!(db.store.fail_dead_job_run(dead_1, at(9, 0), "pid 4242 ended without finishing").await.unwrap());
        assert!(!db.store.fail_dead_job_run(done, at(9, 0), "x").await.unwrap(), "{l}: a finished run stays");
        let runs = db.store.latest_job_runs(Some("backfill"), 10).await.unwrap();
        let by_id = |id: i64| runs.iter().find(|r| r.id == id).unwrap().clone();
        let closed = by_id(dead_1);
        assert_eq!(closed.status, "failed", "{l}");
        assert_eq!(closed.finished_at, Some(at(9, 0)), "{l}");
        assert_eq!(closed.error.as_deref(), Some("pid 4242 ended without finishing"), "{l}");
        assert_eq!((by_id(done).status.as_str(), by_id(done).error), ("succeeded", None), "{l}");
        assert_eq!(by_id(dead_2).status, "running", "{l}");
        assert_eq!(db.store.running_job_runs("daily").await.unwrap()[0].id, other_job, "{l}: other jobs untouched");
    }

    pub async fn lock_scopes_name_the_database_without_credentials(db: &TestDb) {
        let l = db.label();
        let scope = db.store.lock_scope();
        let again = store::open(&db.cfg).await.unwrap();
        assert_eq!(again.lock_scope(), scope, "{l}: the same database, the same scope");
        match &db.raw {
            Raw::Sqlite { path, .. } => {
                let canonical = std::fs::canonicalize(path).unwrap();
                assert_eq!(scope, format!("sqlite:{}", canonical.display()), "{l}");
            }
            Raw::Postgres { schema, .. } => {
                assert!(scope.starts_with("postgres://") && scope.ends_with(&format!("(schema {schema})")), "{scope}");
                assert!(!scope.contains('@'), "{l}: no user or password in {scope}");
            }
        }
        let other = db.fresh().await;
        assert_ne!(other.store.lock_scope(), scope, "{l}: another database (or schema), another scope");
        other.cleanup().await;
    }
}

/// Issue 15, item 4: a database with nothing to migrate opens while another process holds its
/// write lock (opening only reads), and a write that outwaits `database.busy_timeout` fails with
/// `Error::Busy` naming the file and the key, and works once the lock is released.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_up_to_date_sqlite_database_opens_while_another_process_holds_the_write_lock() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("busy.db");
    let cfg = DatabaseConfig {
        url: Secret::new(format!("sqlite:{}", path.display())),
        busy_timeout: 1,
        ..DatabaseConfig::default()
    };
    drop(store::open(&cfg).await.unwrap());

    let writer = rusqlite::Connection::open(&path).unwrap();
    writer.execute_batch("BEGIN IMMEDIATE").unwrap();
    let started = std::time::Instant::now();
    let store = store::open(&cfg).await.unwrap_or_else(|e| panic!("opening while another process writes: {e}"));
    assert!(started.elapsed() < std::time::Duration::from_millis(900), "opening waited for the write lock");
    assert!(store.migration_status().await.unwrap().iter().all(|m| m.applied_at.is_some()));

    let run = NewJobRun {
        job: "daily".into(),
        slot: None,
        trigger: Trigger::Manual,
        started_at: Utc::now(),
        host: "h".into(),
        pid: 1,
        dry_run: false,
    };
    let err = store.start_job_run(&run).await.unwrap_err();
    assert!(matches!(err, store::Error::Busy(_)), "{err:?}");
    let message = err.to_string();
    assert!(message.contains(&path.display().to_string()) && message.contains("database.busy_timeout"), "{message}");

    writer.execute_batch("ROLLBACK").unwrap();
    store.start_job_run(&run).await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// Upgrading a database written before sql/*/…_ownership_and_coverage.sql

/// A database with every migration before the ownership one applied, holding rows as the old
/// rules wrote them: race `rac_a` racecard only, `rac_b` result only (its `field_size` the
/// result's count, its runners' `rpr`/`topspeed` the result's ratings), `rac_c` both (runner
/// `hrs_1` both, `hrs_2` a racecard-only non-runner); results coverage of the 10th fetched the
/// next day and of the 11th on the day.
async fn database_before_the_ownership_migration(postgres: Option<&str>) -> TestDb {
    let old = |list: &'static [store::migrations::Migration]| -> Vec<store::migrations::Migration> {
        list.iter().copied().filter(|m| m.name != "ownership_and_coverage").collect()
    };
    let (cfg, raw) = match postgres {
        None => {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("old.db");
            let conn = rusqlite::Connection::open(&path).unwrap();
            conn.execute_batch(
                "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,
                     checksum TEXT NOT NULL, applied_at TEXT NOT NULL)",
            )
            .unwrap();
            for m in old(store::migrations::SQLITE) {
                conn.execute_batch(m.sql).unwrap();
                conn.execute(
                    "INSERT INTO schema_migrations VALUES (?1, ?2, ?3, '2026-01-01T00:00:00Z')",
                    rusqlite::params![m.version, m.name, m.checksum()],
                )
                .unwrap();
            }
            let cfg =
                DatabaseConfig { url: Secret::new(format!("sqlite:{}", path.display())), ..DatabaseConfig::default() };
            (cfg, Raw::Sqlite { _dir: dir, path })
        }
        Some(url) => {
            let schema = format!("st_{}_{}", std::process::id(), COUNTER.fetch_add(1, Ordering::SeqCst));
            let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
            tokio::spawn(conn);
            client
                .batch_execute(&format!(
                    "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}; SET search_path TO {schema};
                     CREATE TABLE schema_migrations (version bigint PRIMARY KEY, name text NOT NULL,
                         checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
                ))
                .await
                .unwrap();
            for m in old(store::migrations::POSTGRES) {
                client.batch_execute(m.sql).await.unwrap();
                client
                    .execute(
                        "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                        &[&m.version, &m.name, &m.checksum()],
                    )
                    .await
                    .unwrap();
            }
            let cfg = DatabaseConfig { url: Secret::new(url), schema: schema.clone(), ..DatabaseConfig::default() };
            (cfg, Raw::Postgres { client, schema })
        }
    };
    // Quoted literals: '1'/'0' are booleans to Postgres and integers to SQLite.
    let rows = "
        INSERT INTO horses (id, name, updated_at) VALUES
            ('hrs_1', 'One', '2026-03-10T08:00:00Z'), ('hrs_2', 'Two', '2026-03-10T08:00:00Z');
        INSERT INTO races (id, course_id, course_name, race_date, region, field_size, has_result,
                           racecard_updated_at, result_updated_at, updated_at) VALUES
            ('rac_a', 'crs_1', 'Ascot', '2026-03-10', 'GB', 8, '0', '2026-03-09T18:00:00Z', NULL, '2026-03-09T18:00:00Z'),
            ('rac_b', 'crs_1', 'Ascot', '2026-03-10', 'GB', 2, '1', NULL, '2026-03-11T06:00:00Z', '2026-03-11T06:00:00Z'),
            ('rac_c', 'crs_1', 'Ascot', '2026-03-11', 'GB', 9, '1', '2026-03-10T18:00:00Z', '2026-03-11T17:00:00Z',
             '2026-03-11T17:00:00Z');
        INSERT INTO runners (race_id, horse_id, horse_name, rpr, topspeed, racecard_updated_at, result_updated_at,
                             updated_at) VALUES
            ('rac_b', 'hrs_1', 'One (IRE)', 101, 77, NULL, '2026-03-11T06:00:00Z', '2026-03-11T06:00:00Z'),
            ('rac_b', 'hrs_2', 'Two', 88, NULL, NULL, '2026-03-11T06:00:00Z', '2026-03-11T06:00:00Z'),
            ('rac_c', 'hrs_1', 'One (IRE)', 95, 80, '2026-03-10T18:00:00Z', '2026-03-11T17:00:00Z',
             '2026-03-11T17:00:00Z'),
            ('rac_c', 'hrs_2', 'Two', 90, 70, '2026-03-10T18:00:00Z', NULL, '2026-03-10T18:00:00Z');
        INSERT INTO fetch_coverage (kind, race_date, status, races, runners, fetched_at) VALUES
            ('results', '2026-03-10', 'complete', 1, 2, '2026-03-11T06:00:00Z'),
            ('results', '2026-03-11', 'empty', 0, 0, '2026-03-11T10:00:00Z'),
            ('racecards', '2026-03-11', 'complete', 1, 2, '2026-03-10T18:00:00Z');";
    match &raw {
        Raw::Sqlite { path, .. } => rusqlite::Connection::open(path).unwrap().execute_batch(rows).unwrap(),
        Raw::Postgres { client, schema } => {
            client.batch_execute(&format!("SET search_path TO {schema}; {rows}")).await.unwrap()
        }
    }
    let store = store::open(&cfg).await.unwrap();
    TestDb { store, cfg, raw }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upgraded_database_keeps_its_rows_and_moves_only_what_is_certain() {
    let mut dbs = vec![database_before_the_ownership_migration(None).await];
    if let Ok(url) = std::env::var(PG_ENV)
        && !url.trim().is_empty()
    {
        dbs.push(database_before_the_ownership_migration(Some(&url)).await);
    }
    for db in dbs {
        let l = db.label();
        eprintln!("an upgraded database on {l}");
        assert!(db.store.migrate().await.unwrap().is_empty(), "{l}: open applied the ownership migration");
        let a = db.row("races", "id = 'rac_a'").await;
        let b = db.row("races", "id = 'rac_b'").await;
        let c = db.row("races", "id = 'rac_c'").await;
        assert_eq!((int(&a, "field_size"), int(&a, "ran")), (Some(8), None), "{l}: a racecard-only race");
        assert_eq!((int(&b, "field_size"), int(&b, "ran")), (None, Some(2)), "{l}: a result-only race's count is ran");
        assert_eq!((int(&c, "field_size"), int(&c, "ran")), (Some(9), Some(1)), "{l}: ran counts resulted runners");
        let runner = |race: &str, horse: &str| format!("race_id = '{race}' AND horse_id = '{horse}'");
        let ratings = |r: &Json| (int(r, "rpr"), int(r, "topspeed"), int(r, "result_rpr"), int(r, "result_topspeed"));
        let b1 = db.row("runners", &runner("rac_b", "hrs_1")).await;
        assert_eq!(ratings(&b1), (None, None, Some(101), Some(77)), "{l}: only a result wrote it: its ratings move");
        assert_eq!(ratings(&db.row("runners", &runner("rac_b", "hrs_2")).await), (None, None, Some(88), None), "{l}");
        // Written by both: which source's rating it holds is unknown, so it stays for a re-fetch.
        assert_eq!(
            ratings(&db.row("runners", &runner("rac_c", "hrs_1")).await),
            (Some(95), Some(80), None, None),
            "{l}"
        );
        assert_eq!(
            ratings(&db.row("runners", &runner("rac_c", "hrs_2")).await),
            (Some(90), Some(70), None, None),
            "{l}"
        );
        assert_eq!(text(&b1, "horse_name").as_deref(), Some("One (IRE)"), "{l}: rows are kept");

        let over = |kind: Kind, day: &str| {
            let day: NaiveDate = day.parse().unwrap();
            let store = db.store.clone();
            async move { store.coverage(kind, day, day).await.unwrap().remove(0) }
        };
        let next_day = over(Kind::Results, "2026-03-10").await;
        let same_day = over(Kind::Results, "2026-03-11").await;
        let cards = over(Kind::Racecards, "2026-03-11").await;
        assert!(next_day.day_over && !same_day.day_over && !cards.day_over, "{l}: day_over from fetched_at");
        let gb_ire = ["gb".to_string(), "ire".to_string()];
        for c in [&next_day, &same_day, &cards] {
            assert_eq!(c.regions, None, "{l}: regions unknown");
            assert!(!c.is_complete_for(&gb_ire), "{l}: {c:?} must be fetched again");
        }
        db.cleanup().await;
    }
}

// ---------------------------------------------------------------------------------------------
// Through the binary

#[test]
fn db_migrate_then_status_through_the_binary_meets_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.db");
    let url = format!("sqlite:{}", path.display());
    let run = |args: &[&str]| {
        let out = assert_cmd::cargo::cargo_bin_cmd!("darkhorses")
            .args(args)
            .current_dir(dir.path())
            .env("DATABASE_URL", &url)
            .env_remove(PG_ENV)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(out.status.success(), "{args:?}: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
        stdout
    };
    let migrate = run(&["db", "migrate"]);
    assert!(migrate.contains("applied 0001_init (sha256 "), "{migrate}");
    let again = run(&["db", "migrate"]);
    assert!(again.contains("schema is up to date"), "{again}");
    let status = run(&["db", "status"]);
    assert!(status.lines().any(|l| l.starts_with("0001") && l.contains("init") && !l.contains("pending")), "{status}");
    assert!(status.contains("0 pending"), "{status}");

    // The store line names the database the binary used. Until the config layer reads
    // DATABASE_URL it is the default file in the working directory; either way it is in `dir`.
    let store_line = status.lines().find_map(|l| l.strip_prefix("store: ")).unwrap().trim().to_string();
    let db_path = dir.path().join(store_line.strip_prefix("sqlite:").unwrap());
    assert!(db_path.exists(), "{}", db_path.display());
    let tools = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/tools");
    let check = std::process::Command::new("python3")
        .arg(tools.join("check-contract.py"))
        .arg(format!("sqlite:{}", db_path.display()))
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&check.stdout);
    assert!(check.status.success(), "check-contract: {report}");
    assert!(report.contains("columns present in 18 tables"), "{report}");
}

#[test]
fn three_processes_migrating_one_sqlite_file_apply_each_migration_once() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("shared.db").display());
    let children: Vec<_> = (0..3)
        .map(|_| {
            std::process::Command::new(assert_cmd::cargo::cargo_bin!("darkhorses"))
                .args(["db", "migrate"])
                .current_dir(dir.path())
                .env("DATABASE_URL", &url)
                .env_remove(PG_ENV)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut applied = 0;
    for child in children {
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
        applied += stdout.lines().filter(|l| l.starts_with("applied 0001_init")).count();
    }
    assert_eq!(applied, 1, "0001_init applied exactly once across three processes");
}

#[tokio::test]
async fn an_unopenable_sqlite_path_is_a_connect_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain-file");
    std::fs::write(&file, b"not a directory").unwrap();
    let path = file.join("sub").join("x.db");
    let cfg = DatabaseConfig { url: Secret::new(format!("sqlite:{}", path.display())), ..DatabaseConfig::default() };
    let err = store::open(&cfg).await.unwrap_err();
    assert!(matches!(err, store::Error::Connect(_)), "{err:?}");
    assert!(err.to_string().contains(&path.display().to_string()), "{err}");

    // A file that is not a database is refused the same way.
    let garbage = dir.path().join("garbage.db");
    std::fs::write(&garbage, vec![0x42u8; 8192]).unwrap();
    let cfg = DatabaseConfig { url: Secret::new(format!("sqlite:{}", garbage.display())), ..DatabaseConfig::default() };
    let err = store::open(&cfg).await.unwrap_err();
    assert!(matches!(err, store::Error::Connect(_)), "{err:?}");
    assert!(err.to_string().contains("garbage.db"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// SIGKILL in the middle of writes: the real binary backfilling from the sandbox, killed at
// varied moments, on each backend.

/// Per date and kind, every unit is whole or absent: a date whose coverage says `complete` holds
/// exactly the races and runners coverage counts (stamped by that kind's source), a date without
/// coverage holds none of that kind's rows (nor, for racecards, odds). Returns how many units
/// are done (complete or empty).
async fn assert_units_whole(db: &TestDb, days: &[NaiveDate]) -> usize {
    let l = db.label();
    let day_of = |r: &Json| text(r, "d").unwrap()[..10].to_string();
    let by_day =
        |rows: Vec<Json>| -> BTreeMap<String, i64> { rows.iter().map(|r| (day_of(r), int(r, "n").unwrap())).collect() };
    let coverage = db.query("SELECT kind, race_date AS d, status, races, runners FROM fetch_coverage").await;
    let odds = by_day(
        db.query("SELECT r.race_date AS d, COUNT(*) AS n FROM runner_odds o JOIN races r ON r.id = o.race_id GROUP BY r.race_date")
            .await,
    );
    let mut done = 0;
    for (kind, stamp) in [("racecards", "racecard_updated_at"), ("results", "result_updated_at")] {
        let races = by_day(
            db.query(&format!(
                "SELECT race_date AS d, COUNT(*) AS n FROM races WHERE {stamp} IS NOT NULL GROUP BY race_date"
            ))
            .await,
        );
        let runners = by_day(
            db.query(&format!(
                "SELECT r.race_date AS d, COUNT(*) AS n FROM runners u JOIN races r ON r.id = u.race_id
                 WHERE u.{stamp} IS NOT NULL GROUP BY r.race_date"
            ))
            .await,
        );
        for day in days {
            let d = day.to_string();
            let stored = (races.get(&d).copied().unwrap_or(0), runners.get(&d).copied().unwrap_or(0));
            let cov = coverage.iter().find(|c| text(c, "kind").as_deref() == Some(kind) && day_of(c) == d);
            match cov.and_then(|c| text(c, "status")).as_deref() {
                Some("complete") | Some("empty") => {
                    let cov = cov.unwrap();
                    let counted = (int(cov, "races").unwrap(), int(cov, "runners").unwrap());
                    assert_eq!(stored, counted, "{l}: {kind} of {d}: rows stored vs coverage");
                    done += 1;
                }
                other => {
                    assert_eq!(stored, (0, 0), "{l}: {kind} of {d} has rows but coverage says {other:?}");
                    if kind == "racecards" {
                        assert_eq!(odds.get(&d), None, "{l}: odds of {d} without its racecards unit");
                    }
                }
            }
        }
    }
    done
}

async fn units_done(db: &TestDb) -> usize {
    let rows = db.query("SELECT COUNT(*) AS n FROM fetch_coverage WHERE status IN ('complete', 'empty')").await;
    int(&rows[0], "n").unwrap() as usize
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backfill_killed_mid_write_leaves_every_unit_whole_or_absent() {
    for db in backends().await {
        let l = db.label();
        let dir = tempfile::tempdir().unwrap();
        // Ten days a month back: inside the 12 months of results every plan has.
        let last = Utc::now().date_naive() - chrono::Duration::days(30);
        let first = last - chrono::Duration::days(9);
        let days: Vec<NaiveDate> = first.iter_days().take_while(|d| *d <= last).collect();
        let total = days.len() * 2;
        let (url, schema) = match &db.raw {
            Raw::Sqlite { path, .. } => (format!("sqlite:{}", path.display()), "public".to_string()),
            Raw::Postgres { schema, .. } => (std::env::var(PG_ENV).unwrap(), schema.clone()),
        };
        let spawn = || {
            std::process::Command::new(assert_cmd::cargo::cargo_bin!("darkhorses"))
                .args(["--sandbox", "-q", "backfill", "--from", &first.to_string(), "--to", &last.to_string()])
                .current_dir(dir.path())
                .env("DATABASE_URL", &url)
                .env("DARKHORSES_DATABASE_SCHEMA", &schema)
                .env("DARKHORSES_API_RATE_LIMIT", "50")
                .env_remove(PG_ENV)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap()
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
        let mut kills = 0;
        let mut finished = false;
        // Kill after 1, 2, 3 ... more units are recorded: each time the next unit is being
        // fetched or written, at a different point of a different unit.
        for step in [1, 2, 1, 3, 2, 1, 4, 2, 3, 1] {
            let before = units_done(&db).await;
            let mut child = spawn();
            loop {
                if let Some(status) = child.try_wait().unwrap() {
                    assert!(status.success(), "{l}: backfill exited with {status}");
                    finished = true;
                    break;
                }
                if units_done(&db).await >= before + step {
                    child.kill().unwrap(); // SIGKILL
                    child.wait().unwrap();
                    kills += 1;
                    break;
                }
                assert!(std::time::Instant::now() < deadline, "{l}: backfill made no progress");
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            }
            let done = assert_units_whole(&db, &days).await;
            eprintln!("{l}: after {kills} kills, {done} of {total} units whole");
            if finished {
                break;
            }
        }
        if !finished {
            let status = spawn().wait().unwrap();
            assert!(status.success(), "{l}: the last backfill exited with {status}");
        }
        assert_eq!(assert_units_whole(&db, &days).await, total, "{l}: every unit done after resuming");
        assert!(kills >= 3, "{l}: only {kills} kills happened; the test did not exercise a crash");
        db.cleanup().await;
    }
}
