//! Issue 15 through the real binary: a day's `races` and `runners` rows end the same whatever
//! the order racecards and results arrived in (SCHEMA.md, "Column ownership"), pre-race and
//! in-race values sit in their own columns, and backfill fetches again every unit whose coverage
//! does not cover what the run asks for (a region, or results fetched before the day was over).

use super::*;

/// The write timestamps: the only columns allowed to differ between two orders.
const STAMPS: [&str; 3] = ["racecard_updated_at", "result_updated_at", "updated_at"];

/// The columns of `table`, in order.
fn columns(rig: &Rig, table: &str) -> Vec<String> {
    let sql = match rig.db {
        Db::Sqlite(_) => format!("SELECT name FROM pragma_table_info('{table}') ORDER BY cid"),
        Db::Postgres { .. } => format!(
            "SELECT column_name FROM information_schema.columns
             WHERE table_schema = current_schema() AND table_name = '{table}' ORDER BY ordinal_position"
        ),
    };
    rig.rows(&sql).into_iter().map(|r| r[0].clone().unwrap()).collect()
}

/// The `races` and `runners` rows of `date`, every column but the write timestamps, sorted by key.
fn day_rows(rig: &Rig, date: NaiveDate) -> BTreeMap<&'static str, Vec<Row>> {
    let of_day = format!("SELECT id FROM races WHERE CAST(race_date AS TEXT) = '{date}'");
    let mut out = BTreeMap::new();
    for (table, filter, order) in [
        ("races", format!("id IN ({of_day})"), "id"),
        ("runners", format!("race_id IN ({of_day})"), "race_id, horse_id"),
    ] {
        let cols: Vec<String> = columns(rig, table).into_iter().filter(|c| !STAMPS.contains(&c.as_str())).collect();
        assert!(cols.len() > 20, "{table} columns: {cols:?}");
        let rows = rig.rows(&format!("SELECT {} FROM {table} WHERE {filter} ORDER BY {order}", cols.join(", ")));
        out.insert(table, rows);
    }
    out
}

/// Two databases hold the same `races` and `runners` rows for `date`, told row by row.
fn assert_same_day(a: &Rig, b: &Rig, date: NaiveDate, what: &str) {
    let (x, y) = (day_rows(a, date), day_rows(b, date));
    for table in ["races", "runners"] {
        assert!(!x[table].is_empty(), "{what}: no {table} stored for {date}");
        assert_eq!(x[table].len(), y[table].len(), "{what}: {table} rows for {date}");
        let cols: Vec<String> = columns(a, table).into_iter().filter(|c| !STAMPS.contains(&c.as_str())).collect();
        let differing: Vec<String> = x[table]
            .iter()
            .zip(&y[table])
            .filter(|(r, s)| r != s)
            .take(3)
            .map(|(r, s)| {
                let cells: Vec<String> = cols
                    .iter()
                    .zip(r.iter().zip(s))
                    .filter(|(_, (u, v))| u != v)
                    .map(|(c, (u, v))| format!("{c}: {u:?} vs {v:?}"))
                    .collect();
                format!("{:?}: {}", &r[..2], cells.join(", "))
            })
            .collect();
        assert!(differing.is_empty(), "{what}: {table} rows of {date} differ (first 3): {differing:#?}");
    }
}

/// A served rating (`"95"`, `"-"`, `"–"`) as the contract stores it.
fn rating(v: &Value) -> Option<String> {
    if blank(v) { None } else { v.as_str().map(|s| s.trim().parse::<i64>().unwrap().to_string()) }
}

/// `rpr`/`topspeed`/`field_size` hold what the racecard served, `result_rpr`/`result_topspeed`
/// and `ran` what the result served, and the horse's name is the result's. `results` is the
/// served results of `date` (or today's when `None`).
fn check_sources(rig: &Rig, date: NaiveDate, results: Option<NaiveDate>) {
    let cards = rig.served_racecards(date);
    let pages = rig.served_results(results);
    let stored_races: BTreeMap<String, (Option<String>, Option<String>)> = rig
        .rows(&format!("SELECT id, field_size, ran FROM races WHERE CAST(race_date AS TEXT) = '{date}'"))
        .into_iter()
        .map(|r| (r[0].clone().unwrap(), (r[1].clone(), r[2].clone())))
        .collect();
    let stored_runners: BTreeMap<(String, String), Row> = rig
        .rows(&format!(
            "SELECT race_id, horse_id, rpr, topspeed, result_rpr, result_topspeed, horse_name FROM runners
             WHERE race_id IN (SELECT id FROM races WHERE CAST(race_date AS TEXT) = '{date}')"
        ))
        .into_iter()
        .map(|r| ((r[0].clone().unwrap(), r[1].clone().unwrap()), r[2..].to_vec()))
        .collect();
    let (mut pre, mut post, mut renamed) = (0, 0, 0);
    for card in &cards {
        let id = card["race_id"].as_str().unwrap();
        let (field_size, _) = &stored_races[id];
        assert_eq!(field_size.as_deref(), card["field_size"].as_str(), "race {id}: field_size is the card's");
        for ru in card["runners"].as_array().unwrap() {
            let key = (id.to_string(), ru["horse_id"].as_str().unwrap().to_string());
            let stored = &stored_runners[&key];
            assert_eq!(
                (&stored[0], &stored[1]),
                (&rating(&ru["rpr"]), &rating(&ru["ts"])),
                "runner {key:?}: card ratings"
            );
            pre += usize::from(stored[0].is_some());
        }
    }
    for page in &pages {
        for race in page["results"].as_array().unwrap() {
            let id = race["race_id"].as_str().unwrap();
            let listed = race["runners"].as_array().unwrap();
            let (_, ran) = &stored_races[id];
            assert_eq!(ran.as_deref(), Some(listed.len().to_string().as_str()), "race {id}: ran is the result's");
            for ru in listed {
                let key = (id.to_string(), ru["horse_id"].as_str().unwrap().to_string());
                let stored = &stored_runners[&key];
                let served = (rating(&ru["rpr"]), rating(&ru["tsr"]));
                assert_eq!((&stored[2], &stored[3]), (&served.0, &served.1), "runner {key:?}: result ratings");
                assert_eq!(stored[4].as_deref(), ru["horse"].as_str(), "runner {key:?}: the result's name stands");
                post += usize::from(stored[2].is_some());
                renamed += usize::from(ru["horse"].as_str().is_some_and(|h| h.ends_with(')')));
            }
        }
    }
    // Without these the checks above could not tell the sources apart.
    assert!(pre > 0 && post > 0, "no ratings served: {pre} pre-race, {post} in-race");
    assert!(renamed > 0, "no result named a horse differently from its racecard");
}

on_both!(
    results_then_racecards_end_with_the_rows_of_racecards_then_results,
    racecards_again_after_results_change_no_row,
    live_through_a_racing_day_ends_with_the_rows_of_a_plain_load,
    backfill_fetches_ireland_after_a_gb_only_backfill,
    backfill_of_today_in_the_morning_stores_the_results_the_next_day,
);

// ---------------------------------------------------------------------------------------------
// Item 1: column ownership

fn results_then_racecards_end_with_the_rows_of_racecards_then_results(backend: Backend) {
    let day = d("2026-06-09");
    let cards: &[&str] = &["backfill", "--from", "2026-06-09", "--to", "2026-06-09", "--racecards-only"];
    let results: &[&str] = &["daily", "--results-only"];
    let Some(first) = Rig::new(backend, "2026-06-10T13:00:00Z") else { return };
    first.ok(results);
    first.ok(cards);
    let Some(second) = Rig::new(backend, "2026-06-10T13:00:00Z") else { return };
    second.ok(cards);
    second.ok(results);
    assert_same_day(&first, &second, day, "results then racecards vs racecards then results");
    for rig in [&first, &second] {
        rig.check_results_after_cards(&[day], false);
        check_sources(rig, day, Some(day));
    }
}

fn racecards_again_after_results_change_no_row(backend: Backend) {
    let today = d("2026-06-10");
    let load = |rig: &mut Rig| {
        // The day before loads today's racecards; in the evening, today's results so far. Races
        // are still to run, so live fetches the racecards again (after every race is off it
        // would not: they can no longer change).
        rig.ok(&["daily", "--racecards-only"]);
        rig.set_now("2026-06-10T19:30:00Z");
        rig.ok(&["live", "--results-only"]);
    };
    let Some(mut plain) = Rig::new(backend, "2026-06-09T14:00:00Z") else { return };
    load(&mut plain);
    let Some(mut again) = Rig::new(backend, "2026-06-09T14:00:00Z") else { return };
    load(&mut again);
    let (run, calls) = again.ok(&["live", "--races-only"]);
    assert_eq!(calls.of(CARDS), 1, "the racecards were fetched again: {run}");
    assert_same_day(&plain, &again, today, "racecards-results-racecards vs racecards-results");
    check_sources(&again, today, None);
}

fn live_through_a_racing_day_ends_with_the_rows_of_a_plain_load(backend: Backend) {
    let today = d("2026-06-10");
    let Some(mut live) = Rig::new(backend, "2026-06-09T14:00:00Z") else { return };
    live.ok(&["daily", "--racecards-only"]);
    // Refreshes from morning to evening: racecards at their cadence while races are still to
    // run, results as they are declared, so racecards keep arriving after results.
    let mut fetched = (0, 0);
    for now in ["09:05", "12:05", "14:35", "16:05", "17:35", "19:05", "20:35"] {
        live.set_now(&format!("2026-06-10T{now}:00Z"));
        let (_, calls) = live.ok(&["live"]);
        fetched.0 += calls.of(CARDS);
        fetched.1 += calls.of(RESULTS_TODAY);
    }
    live.set_now("2026-06-10T22:00:00Z");
    live.ok(&["live", "--results-only"]);
    let pending = live.count(&format!(
        "SELECT count(*) FROM races WHERE CAST(race_date AS TEXT) = '{today}' AND NOT has_result AND NOT is_abandoned"
    ));
    assert_eq!(pending, 0, "every race has its result by 22:00");
    // Every race is off: racecards can bring nothing new, so no call.
    let (run, calls) = live.ok(&["live", "--races-only"]);
    assert_eq!(calls.of(CARDS), 0, "{run}");
    assert!(fetched.0 >= 5 && fetched.1 >= 3, "the day alternated racecards and results: {fetched:?}");

    let Some(mut plain) = Rig::new(backend, "2026-06-09T14:00:00Z") else { return };
    plain.ok(&["daily", "--racecards-only"]);
    plain.set_now("2026-06-10T22:00:00Z");
    plain.ok(&["live", "--results-only"]);
    assert_same_day(&live, &plain, today, "live through the day vs racecards then results");
    live.check_results_after_cards(&[], true);
    check_sources(&live, today, None);
}

// ---------------------------------------------------------------------------------------------
// Item 2: coverage says what it covers

fn backfill_fetches_ireland_after_a_gb_only_backfill(backend: Backend) {
    let Some(rig) = Rig::new(backend, "2026-03-10T14:00:00Z") else { return };
    let range: &[&str] = &["backfill", "--from", "2026-03-05", "--to", "2026-03-06"];
    let dates = days("2026-03-05", "2026-03-06");
    let regions = || {
        rig.strings(&format!("SELECT DISTINCT region FROM races WHERE CAST(race_date AS TEXT) IN ({})", quoted(&dates)))
    };

    // A typo'd region fetches every unit and finds nothing: each is `empty`, for region xx only.
    let (run, calls) = rig.ok_with(&[("DARKHORSES_API_REGIONS", "xx")], range);
    assert!(calls.total() >= 4, "{run}");
    assert!(regions().is_empty(), "{:?}", regions());
    let (run, calls) = rig.ok_with(&[("DARKHORSES_API_REGIONS", "gb")], range);
    assert_eq!(calls.of(CARDS), 2, "the xx coverage does not cover gb: {run}");
    assert_eq!(regions(), BTreeSet::from(["GB".to_string()]));
    let covered = rig.strings("SELECT DISTINCT regions FROM fetch_coverage");
    assert_eq!(covered, BTreeSet::from(["gb".to_string()]), "coverage names the regions fetched");

    // The default regions (gb, ire): the gb-only coverage does not cover Ireland.
    let (run, calls) = rig.ok(range);
    assert_eq!(calls.of(CARDS), 2, "{run}");
    assert!(calls.of(RESULTS) >= 2, "{run}");
    assert_eq!(run.report["units_skipped"], 0, "{run}");
    assert_eq!(regions(), BTreeSet::from(["GB".to_string(), "IRE".to_string()]));
    rig.check_racecards(&dates);
    rig.check_results_after_cards(&dates, false);
    assert_eq!(rig.strings("SELECT DISTINCT regions FROM fetch_coverage"), BTreeSet::from(["gb,ire".to_string()]));

    // Now covered: a gb-only run and a gb+ire run skip every unit.
    for env in [&[("DARKHORSES_API_REGIONS", "gb")][..], &[]] {
        let (run, calls) = rig.ok_with(env, range);
        assert_eq!(calls.total(), 0, "{run}");
        assert_eq!(run.report["units_skipped"], 4, "{run}");
    }
}

fn backfill_of_today_in_the_morning_stores_the_results_the_next_day(backend: Backend) {
    let Some(mut rig) = Rig::new(backend, "2026-03-10T08:00:00Z") else { return };
    let today: &[&str] = &["backfill", "--from", "2026-03-10", "--to", "2026-03-10"];
    // At 08:00 no race has been run: the results unit is empty, and not final.
    let (run, _) = rig.ok(today);
    assert_eq!(run.report["units_done"], 2, "{run}");
    assert_eq!(rig.count("SELECT count(*) FROM races WHERE has_result"), 0);

    // The next day the racing of the 10th is over: its results are fetched and stored.
    rig.set_now("2026-03-11T08:00:00Z");
    let (run, calls) = rig.ok(today);
    assert_eq!(calls.of(CARDS), 0, "the racecards of the 10th are covered: {run}");
    assert!(calls.of(RESULTS) >= 1, "{run}");
    assert_eq!(run.report["units_skipped"], 1, "{run}");
    rig.check_results_after_cards(&[d("2026-03-10")], false);
    let pending = rig.count(
        "SELECT count(*) FROM races WHERE CAST(race_date AS TEXT) = '2026-03-10' AND NOT has_result AND NOT is_abandoned",
    );
    assert_eq!(pending, 0, "every race of the 10th has its result");
    let over = rig
        .rows("SELECT kind, day_over FROM fetch_coverage WHERE CAST(race_date AS TEXT) = '2026-03-10' ORDER BY kind");
    let truthy = |v: &Option<String>| matches!(v.as_deref(), Some("1" | "t" | "true"));
    assert!(!truthy(&over[0][1]) && truthy(&over[1][1]), "racecards fetched on the day, results after: {over:?}");

    // Final results are complete: a third run fetches nothing.
    let (run, calls) = rig.ok(today);
    assert_eq!(calls.total(), 0, "{run}");
}
