//! The sandbox API over real HTTP on 127.0.0.1: OpenAPI conformance, deterministic data, plans,
//! auth, bounds, the rate limit, faults and the request counts.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use darkhorses::clock::FixedClock;
use darkhorses::config::{Plan, SandboxConfig, Secret};
use darkhorses::sandbox::{Sandbox, parse_faults};
use serde_json::Value;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).map(|d| d.with_timezone(&Utc)).unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn cfg() -> SandboxConfig {
    SandboxConfig { port: 0, seed: 42, rate_limit: 0.0, ..SandboxConfig::default() }
}

/// A sandbox whose clock says 2025-10-14 23:00 UK time (every race of that day has a result).
fn start(cfg: SandboxConfig) -> (Sandbox, FixedClock) {
    let clock = FixedClock::new(at("2025-10-14T22:00:00Z"));
    let sb = Sandbox::start(cfg, Arc::new(clock.clone())).unwrap_or_else(|e| panic!("start: {e}"));
    (sb, clock)
}

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

async fn get(sb: &Sandbox, path_and_query: &str) -> (u16, Value) {
    let url = format!("{}{}", sb.base_url(), path_and_query);
    let r = client().get(&url).basic_auth("demo", Some("demo")).send().await.unwrap_or_else(|e| panic!("{url}: {e}"));
    let status = r.status().as_u16();
    let body = r.bytes().await.unwrap_or_else(|e| panic!("{url}: body: {e}"));
    let v = serde_json::from_slice(&body)
        .unwrap_or_else(|e| panic!("{url}: not JSON ({e}): {}", String::from_utf8_lossy(&body)));
    (status, v)
}

async fn get_ok(sb: &Sandbox, path_and_query: &str) -> Value {
    let (status, v) = get(sb, path_and_query).await;
    assert_eq!(status, 200, "{path_and_query}: {v}");
    v
}

// ---------------------------------------------------------------------------------------------
// A small OpenAPI schema validator: the spec uses only $ref, type, required, properties, items,
// allOf and anyOf (checked below), so this covers all of it.

struct Spec(Value);

impl Spec {
    fn load() -> Self {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/openapi.json");
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        Spec(serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}")))
    }

    /// The 200 (or other) response schema of a path template.
    fn response(&self, path: &str, status: &str) -> &Value {
        let s = &self.0["paths"][path]["get"]["responses"][status]["content"]["application/json"]["schema"];
        assert!(!s.is_null(), "no {status} schema for {path}");
        s
    }

    fn component(&self, name: &str) -> &Value {
        let s = &self.0["components"]["schemas"][name];
        assert!(!s.is_null(), "no component {name}");
        s
    }

    fn resolve<'a>(&'a self, schema: &'a Value) -> &'a Value {
        match schema.get("$ref").and_then(Value::as_str) {
            Some(r) => self.resolve(&self.0["components"]["schemas"][r.trim_start_matches("#/components/schemas/")]),
            None => schema,
        }
    }

    /// Every violation of `schema` by `v`, as `path: problem`. `strict` also reports fields
    /// the schema does not declare.
    fn validate(&self, schema: &Value, v: &Value, at: &str, strict: bool, errs: &mut Vec<String>) {
        let schema = self.resolve(schema);
        if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
            for s in all {
                self.validate(s, v, at, strict, errs);
            }
        }
        if let Some(any) = schema.get("anyOf").and_then(Value::as_array) {
            let ok = any.iter().any(|s| {
                let mut e = Vec::new();
                self.validate(s, v, at, strict, &mut e);
                e.is_empty()
            });
            if !ok {
                errs.push(format!("{at}: matches none of anyOf"));
            }
        }
        let ty = schema.get("type").and_then(Value::as_str);
        let type_ok = match ty {
            None => true,
            Some("object") => v.is_object(),
            Some("array") => v.is_array(),
            Some("string") => v.is_string(),
            Some("integer") => v.is_i64() || v.is_u64(),
            Some("number") => v.is_number(),
            Some("boolean") => v.is_boolean(),
            Some("null") => v.is_null(),
            Some(other) => {
                errs.push(format!("{at}: validator does not know type {other}"));
                true
            }
        };
        if !type_ok {
            errs.push(format!("{at}: expected {}, got {v}", ty.unwrap_or("?")));
            return;
        }
        if let Some(obj) = v.as_object() {
            for req in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
                let name = req.as_str().unwrap_or_default();
                if !obj.contains_key(name) {
                    errs.push(format!("{at}: missing required `{name}`"));
                }
            }
            let props = schema.get("properties").and_then(Value::as_object);
            for (k, fv) in obj {
                match props.and_then(|p| p.get(k)) {
                    Some(ps) => self.validate(ps, fv, &format!("{at}.{k}"), strict, errs),
                    None if strict && props.is_some() => errs.push(format!("{at}: undeclared field `{k}`")),
                    None => {}
                }
            }
        }
        if let (Some(items), Some(arr)) = (schema.get("items"), v.as_array()) {
            for (i, item) in arr.iter().enumerate() {
                self.validate(items, item, &format!("{at}[{i}]"), strict, errs);
            }
        }
    }

    fn check(&self, schema: &Value, v: &Value, what: &str, strict: bool) {
        let mut errs = Vec::new();
        self.validate(schema, v, "$", strict, &mut errs);
        assert!(errs.is_empty(), "{what} violates the OpenAPI schema:\n  {}", errs.join("\n  "));
    }
}

#[test]
fn the_spec_uses_only_keywords_the_validator_checks() {
    fn walk(v: &Value, in_props: bool, seen: &mut HashSet<String>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    if !in_props {
                        seen.insert(k.clone());
                    }
                    walk(x, k == "properties" && !in_props, seen);
                }
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, false, seen)),
            _ => {}
        }
    }
    let spec = Spec::load();
    let mut seen = HashSet::new();
    for (_, schema) in spec.0["components"]["schemas"].as_object().into_iter().flatten() {
        walk(schema, false, &mut seen);
    }
    let known: HashSet<&str> =
        ["$ref", "type", "required", "properties", "items", "allOf", "anyOf", "title", "description", "default"].into();
    let unknown: Vec<&String> = seen.iter().filter(|k| !known.contains(k.as_str())).collect();
    assert!(unknown.is_empty(), "the validator ignores keywords the spec uses: {unknown:?}");
}

#[test]
fn real_samples_pass_the_validator() {
    let spec = Spec::load();
    let local = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    let cases: &[(&str, &str)] = &[
        ("courses.json", "/v1/courses"),
        ("courses_gb.json", "/v1/courses"),
        ("courses_regions.json", "/v1/courses/regions"),
        ("racecards_free_today.json", "/v1/racecards/free"),
        ("racecards_basic.json", "/v1/racecards/basic"),
        ("racecards_standard.json", "/v1/racecards/standard"),
        ("racecards_pro.json", "/v1/racecards/pro"),
        ("racecards_pro_yesterday.json", "/v1/racecards/pro"),
        ("results.json", "/v1/results"),
        ("results_gb_ire_2025-10-07_limit5.json", "/v1/results"),
        ("horse_pro.json", "/v1/horses/{horse_id}/pro"),
        ("horse_standard.json", "/v1/horses/{horse_id}/standard"),
        ("racecard_race_pro.json", "/v1/racecards/{race_id}/pro"),
    ];
    let mut checked = 0;
    for (file, path) in cases {
        let text = std::fs::read_to_string(format!("{local}/{file}")).unwrap_or_else(|e| panic!("{file}: {e}"));
        let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
        spec.check(spec.response(path, "200"), &v, file, true);
        checked += 1;
    }
    let text = std::fs::read_to_string(format!("{local}/error_422_search_missing_name.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("422 sample: {e}"));
    spec.check(spec.component("HTTPValidationError"), &v, "error_422 sample", true);
    checked += 1;
    assert_eq!(checked, cases.len() + 1);
    // The validator does reject what it should.
    let mut errs = Vec::new();
    spec.validate(
        spec.response("/v1/results/{race_id}", "200"),
        &serde_json::json!({"race_id": 5}),
        "$",
        true,
        &mut errs,
    );
    assert!(
        errs.iter().any(|e| e.contains("race_id")) && errs.iter().any(|e| e.contains("missing required")),
        "{errs:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_endpoint_matches_the_openapi_schema() {
    let spec = Spec::load();
    let (sb, _clock) = start(cfg());
    let pro = get_ok(&sb, "/racecards/pro?date=2025-10-14&region_codes=gb&region_codes=ire").await;
    let race = &pro["racecards"][0];
    let race_id = race["race_id"].as_str().unwrap_or_default().to_string();
    let horse_id = race["runners"][0]["horse_id"].as_str().unwrap_or_default().to_string();
    assert!(race_id.starts_with("rac_") && horse_id.starts_with("hrs_"), "{race}");
    let cases: Vec<(String, &str)> = vec![
        ("/courses".into(), "/v1/courses"),
        ("/courses?region_codes=gb&region_codes=ire".into(), "/v1/courses"),
        ("/courses/regions".into(), "/v1/courses/regions"),
        ("/racecards/pro?date=2025-10-14&region_codes=gb&region_codes=ire".into(), "/v1/racecards/pro"),
        ("/racecards/pro".into(), "/v1/racecards/pro"),
        ("/racecards/standard?day=today&region_codes=gb".into(), "/v1/racecards/standard"),
        ("/racecards/basic?day=tomorrow".into(), "/v1/racecards/basic"),
        ("/racecards/free?day=today".into(), "/v1/racecards/free"),
        ("/results?start_date=2025-10-13&end_date=2025-10-13&region=gb&region=ire&limit=50".into(), "/v1/results"),
        ("/results/today".into(), "/v1/results/today"),
        (format!("/results/{race_id}"), "/v1/results/{race_id}"),
        (format!("/horses/{horse_id}/pro"), "/v1/horses/{horse_id}/pro"),
        (format!("/horses/{horse_id}/standard"), "/v1/horses/{horse_id}/standard"),
    ];
    for (url, template) in &cases {
        let v = get_ok(&sb, url).await;
        let nonempty =
            ["courses", "racecards", "results"].iter().any(|k| v[k].as_array().is_some_and(|a| !a.is_empty()))
                || v.as_array().is_some_and(|a| !a.is_empty())
                || v.get("id").is_some()
                || v.get("race_id").is_some();
        assert!(nonempty, "{url} returned nothing to validate: {v}");
        spec.check(spec.response(template, "200"), &v, url, true);
    }
    let (status, v) = get(&sb, "/results?limit=51&skip=-1").await;
    assert_eq!(status, 422);
    spec.check(spec.response("/v1/results", "422"), &v, "422 body", true);
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn string_formats_follow_the_real_api() {
    let (sb, _clock) = start(cfg());
    let pro = get_ok(&sb, "/racecards/pro?date=2025-10-14").await;
    let cards = pro["racecards"].as_array().cloned().unwrap_or_default();
    assert_eq!(pro["query"], serde_json::json!([["date", "2025-10-14"]]));
    assert_eq!(pro["limit"], 500);
    let offs: Vec<&str> = cards.iter().filter_map(|r| r["off_dt"].as_str()).collect();
    assert!(offs.windows(2).all(|w| w[0] <= w[1]), "racecards are earliest first");
    assert!(offs.iter().all(|o| o.ends_with("+01:00")), "October is BST: {offs:?}");
    for r in &cards {
        let prize = r["prize"].as_str().unwrap_or_default();
        match r["region"].as_str() {
            Some("GB") => assert!(prize.starts_with('£'), "{prize}"),
            Some("IRE") => assert!(prize.starts_with('€'), "{prize}"),
            other => panic!("region {other:?}"),
        }
        let off = r["off_time"].as_str().unwrap_or_default();
        let hour: u32 = off.split(':').next().and_then(|h| h.parse().ok()).unwrap_or(99);
        assert!((1..=12).contains(&hour), "12-hour off_time {off}");
        for ru in r["runners"].as_array().into_iter().flatten() {
            assert!(ru["lbs"].as_str().is_some_and(|s| s.parse::<u32>().is_ok()));
            assert!(ru["odds"].as_array().is_some_and(|o| o.len() >= 6), "{}", ru["odds"]);
        }
    }
    let winter = get_ok(&sb, "/racecards/pro?date=2025-01-15").await;
    assert!(winter["racecards"][0]["off_dt"].as_str().is_some_and(|s| s.ends_with("+00:00")));
    let res = get_ok(&sb, "/results?start_date=2025-10-13&end_date=2025-10-13&region=gb&region=ire&limit=50").await;
    let results = res["results"].as_array().cloned().unwrap_or_default();
    let offs: Vec<&str> = results.iter().filter_map(|r| r["off_dt"].as_str()).collect();
    assert!(offs.windows(2).all(|w| w[0] >= w[1]), "results are newest first");
    assert_eq!(
        res["query"],
        serde_json::json!([
            ["start_date", "2025-10-13"],
            ["end_date", "2025-10-13"],
            ["region", "gb"],
            ["region", "ire"],
            ["limit", "50"]
        ]),
        "the query echo keeps repeated keys in order"
    );
    let mut saw_non_finisher = false;
    for r in &results {
        let irish = r["region"] == "IRE";
        for ru in r["runners"].as_array().into_iter().flatten() {
            let pos = ru["position"].as_str().unwrap_or_default();
            let prize = ru["prize"].as_str().unwrap_or_default();
            if pos.parse::<u32>().is_err() {
                saw_non_finisher = true;
                assert_eq!(ru["btn"], "-");
                assert_eq!(prize, "");
            } else if pos == "1" {
                assert_eq!(ru["btn"], "0");
                if irish {
                    assert!(prize.starts_with('€'), "{prize}");
                } else {
                    assert!(prize.contains('.') && prize.parse::<f64>().is_ok(), "{prize}");
                }
            }
            let sp_dec: f64 = ru["sp_dec"].as_str().and_then(|s| s.parse().ok()).unwrap_or(0.0);
            assert!(sp_dec > 1.0, "{}", ru["sp_dec"]);
        }
    }
    // One day may lack fallers; a week will not.
    let week = get_ok(&sb, "/results?start_date=2025-10-01&end_date=2025-10-07&limit=50&skip=0").await;
    assert!(week["total"].as_u64().unwrap_or(0) > 150);
    if !saw_non_finisher {
        let mut found = false;
        for skip in (0..250).step_by(50) {
            let page =
                get_ok(&sb, &format!("/results?start_date=2025-10-01&end_date=2025-10-07&limit=50&skip={skip}")).await;
            found |= page["results"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|r| r["runners"].as_array().cloned().unwrap_or_default())
                .any(|ru| ["PU", "F", "UR", "BD"].contains(&ru["position"].as_str().unwrap_or_default()));
        }
        assert!(found, "no non-finishers in a week of results");
    }
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn data_is_deterministic_for_a_seed() {
    let (a, _) = start(cfg());
    let (b, _) = start(cfg());
    let (c, _) = start(SandboxConfig { seed: 7, ..cfg() });
    let q = "/racecards/pro?date=2025-09-01";
    let (va, vb, vc) = (get_ok(&a, q).await, get_ok(&b, q).await, get_ok(&c, q).await);
    assert_eq!(va, vb);
    assert_ne!(va, vc);
    let r = "/results?start_date=2025-09-01&end_date=2025-09-01&limit=50";
    assert_eq!(get_ok(&a, r).await, get_ok(&b, r).await);
    for s in [a, b, c] {
        s.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn about_36_races_a_day_with_5_to_20_runners_and_recurring_horses() {
    let (sb, _) = start(cfg());
    let first = NaiveDate::from_ymd_opt(2025, 9, 1).unwrap_or_default();
    let mut races = 0usize;
    let mut runners = 0usize;
    let mut horses_seen: std::collections::HashMap<String, u32> = Default::default();
    let mut race_ids = HashSet::new();
    for d in 0..30 {
        let date = first + Duration::days(d);
        let v = get_ok(&sb, &format!("/racecards/pro?date={date}&region_codes=gb&region_codes=ire")).await;
        let cards = v["racecards"].as_array().cloned().unwrap_or_default();
        assert_eq!(v["total"].as_u64(), Some(cards.len() as u64));
        for r in &cards {
            assert!(race_ids.insert(r["race_id"].as_str().unwrap_or_default().to_string()), "duplicate race id");
            let rid = r["race_id"].as_str().unwrap_or_default();
            assert!(rid.len() == 12 && rid[4..].chars().all(|c| c.is_ascii_digit()), "{rid}");
            let n = r["runners"].as_array().map(Vec::len).unwrap_or(0);
            assert!((5..=20).contains(&n), "{rid} has {n} runners");
            runners += n;
            for ru in r["runners"].as_array().into_iter().flatten() {
                *horses_seen.entry(ru["horse_id"].as_str().unwrap_or_default().to_string()).or_default() += 1;
                for key in ["jockey_id", "trainer_id", "owner_id", "sire_id", "dam_id", "damsire_id"] {
                    let prefix = &key[..key.find('_').unwrap_or(0)];
                    let want = match prefix {
                        "jockey" => "jky_",
                        "trainer" => "trn_",
                        "owner" => "own_",
                        "sire" => "sir_",
                        "dam" => "dam_",
                        _ => "dsi_",
                    };
                    assert!(ru[key].as_str().is_some_and(|s| s.starts_with(want)), "{key}: {}", ru[key]);
                }
            }
            let course = r["course_id"].as_str().unwrap_or_default();
            assert!(course.starts_with("crs_"));
        }
        races += cards.len();
    }
    let per_day = races as f64 / 30.0;
    assert!((30.0..=42.0).contains(&per_day), "{per_day} races a day");
    let per_race = runners as f64 / races as f64;
    assert!((8.5..=11.0).contains(&per_race), "{per_race} runners a race");
    let repeat = horses_seen.values().filter(|&&n| n > 1).count();
    assert!(repeat > 100, "horses recur across days: {repeat} ran more than once");
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn christmas_eve_and_day_are_blank() {
    let (sb, _) = start(cfg());
    for date in ["2024-12-24", "2024-12-25"] {
        let v = get_ok(&sb, &format!("/racecards/pro?date={date}")).await;
        assert_eq!(v["total"], 0, "{date}");
        assert_eq!(v["racecards"], serde_json::json!([]));
        let v = get_ok(&sb, &format!("/results?start_date={date}&end_date={date}")).await;
        assert_eq!(v["total"], 0, "{date}");
    }
    let boxing = get_ok(&sb, "/racecards/pro?date=2024-12-26").await;
    assert!(boxing["total"].as_u64().unwrap_or(0) > 20);
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn results_appear_only_after_the_off() {
    let (sb, clock) = start(cfg());
    clock.set(at("2025-10-14T06:00:00Z"));
    let cards = get_ok(&sb, "/racecards/pro?date=2025-10-14").await;
    let first = cards["racecards"][0].clone();
    let race_id = first["race_id"].as_str().unwrap_or_default().to_string();
    let off = at(first["off_dt"].as_str().unwrap_or_default());
    let today = get_ok(&sb, "/results/today").await;
    assert_eq!(today["total"], 0, "no results before racing");
    let (status, _) = get(&sb, &format!("/results/{race_id}")).await;
    assert_eq!(status, 404);

    clock.set(off + Duration::minutes(5));
    let (status, _) = get(&sb, &format!("/results/{race_id}")).await;
    assert_eq!(status, 404, "not yet published 5 minutes after the off");

    clock.set(off + Duration::minutes(11));
    let v = get_ok(&sb, &format!("/results/{race_id}")).await;
    assert_eq!(v["race_id"], race_id.as_str());
    let today = get_ok(&sb, "/results/today").await;
    assert!(today["total"].as_u64().unwrap_or(0) >= 1);
    let all = cards["total"].as_u64().unwrap_or(0);
    assert!(today["total"].as_u64().unwrap_or(0) < all, "later races are not out yet");

    clock.set(at("2025-10-14T21:30:00Z"));
    let today = get_ok(&sb, "/results/today").await;
    assert_eq!(today["total"].as_u64(), Some(all), "every race has a result by the evening");
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn basic_auth_is_enforced() {
    let (sb, _) = start(cfg());
    let url = format!("{}/courses", sb.base_url());
    let r = client().get(&url).send().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers().get("www-authenticate").and_then(|v| v.to_str().ok()), Some("Basic"));
    let body: Value = r.json().await.unwrap_or_default();
    assert!(body["detail"].is_string(), "{body}");
    let r = client().get(&url).basic_auth("demo", Some("")).send().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 401, "an empty password is rejected");
    sb.shutdown().await;

    let fixed = SandboxConfig { username: "alice".into(), password: Secret::new("s3cret"), ..cfg() };
    let (sb, _) = start(fixed);
    let url = format!("{}/courses", sb.base_url());
    let r = client().get(&url).basic_auth("alice", Some("wrong")).send().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 401);
    let r = client().get(&url).basic_auth("alice", Some("s3cret")).send().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 200);
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn plans_limit_endpoints_and_windows() {
    let (sb, _) = start(SandboxConfig { plan: Plan::Standard, ..cfg() });
    let (status, v) = get(&sb, "/racecards/pro?date=2025-10-14").await;
    assert_eq!(status, 401, "{v}");
    assert!(v["detail"].as_str().is_some_and(|d| d.contains("Pro")), "{v}");
    assert_eq!(get(&sb, "/racecards/standard?day=tomorrow").await.0, 200);
    assert_eq!(get(&sb, "/results?start_date=2025-10-13&end_date=2025-10-13").await.0, 200);
    assert_eq!(get(&sb, "/results?start_date=2024-01-13&end_date=2024-01-13").await.0, 401, "beyond 12 months");
    sb.shutdown().await;

    let (sb, _) = start(SandboxConfig { plan: Plan::Free, ..cfg() });
    assert_eq!(get(&sb, "/results?start_date=2025-10-13&end_date=2025-10-13").await.0, 401);
    let free = get_ok(&sb, "/racecards/free?day=today").await;
    let card = &free["racecards"][0];
    assert!(card.get("race_id").is_none() && card["runners"][0].get("horse_id").is_none(), "free cards carry no ids");
    sb.shutdown().await;

    let (sb, _) = start(cfg());
    assert_eq!(get(&sb, "/racecards/pro?date=2023-01-22").await.0, 422);
    assert_eq!(get(&sb, "/racecards/pro?date=2023-01-23").await.0, 200);
    assert_eq!(get(&sb, "/racecards/pro?date=2025-10-21").await.0, 200);
    assert_eq!(get(&sb, "/racecards/pro?date=2025-10-22").await.0, 422);
    assert_eq!(get(&sb, "/racecards/standard?day=yesterday").await.0, 422);
    let (status, v) = get(&sb, "/horses").await;
    assert_eq!((status, v), (404, serde_json::json!({"detail": "Not Found"})));
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn limit_and_skip_bounds_answer_422_like_the_real_api() {
    let (sb, _) = start(cfg());
    for (q, param, kind) in [
        ("limit=51", "limit", "value_error.number.not_le"),
        ("limit=0", "limit", "value_error.number.not_ge"),
        ("limit=ten", "limit", "type_error.integer"),
        ("skip=20001", "skip", "value_error.number.not_le"),
        ("skip=-1", "skip", "value_error.number.not_ge"),
        ("start_date=2025-13-01", "start_date", "value_error.date"),
    ] {
        let (status, v) = get(&sb, &format!("/results?{q}")).await;
        assert_eq!(status, 422, "{q}: {v}");
        assert_eq!(v["detail"][0]["loc"], serde_json::json!(["query", param]), "{q}: {v}");
        assert_eq!(v["detail"][0]["type"], kind, "{q}: {v}");
        assert!(v["detail"][0]["msg"].is_string());
    }
    assert_eq!(get(&sb, "/results?limit=50&skip=20000&start_date=2025-10-13&end_date=2025-10-13").await.0, 200);
    assert_eq!(get(&sb, "/racecards/pro?limit=501").await.0, 422);
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn over_the_rate_limit_answers_429_with_retry_after() {
    let (sb, _) = start(SandboxConfig { rate_limit: 2.0, ..cfg() });
    let url = format!("{}/courses/regions", sb.base_url());
    let c = client();
    let sends = (0..6).map(|_| c.get(&url).basic_auth("demo", Some("demo")).send());
    let responses = futures_util::future::join_all(sends).await;
    let mut ok = 0;
    let mut limited = 0;
    for r in responses {
        let r = r.unwrap_or_else(|e| panic!("{e}"));
        match r.status().as_u16() {
            200 => ok += 1,
            429 => {
                limited += 1;
                let after: u64 = r
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                assert!(after >= 1, "Retry-After in whole seconds");
                let body: Value = r.json().await.unwrap_or_default();
                assert!(body["detail"].is_string());
            }
            s => panic!("status {s}"),
        }
    }
    assert!((1..=2).contains(&ok), "{ok} allowed");
    assert!(limited >= 1, "six requests at once exceed 2/s");
    assert_eq!(ok + limited, 6);
    let stats = sb.stats();
    assert_eq!(stats.rate_limited, limited as u64);
    assert_eq!(stats.max_in_any_1s_window, 6, "arrivals include the refused ones");
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn stats_count_every_request_by_endpoint_and_status() {
    let (sb, _) = start(cfg());
    get_ok(&sb, "/courses").await;
    get_ok(&sb, "/courses").await;
    get_ok(&sb, "/results?start_date=2025-10-13&end_date=2025-10-13").await;
    get(&sb, "/results?limit=99").await;
    get(&sb, "/results/rac_1").await;
    get(&sb, "/nope").await;
    let stats = sb.stats();
    assert_eq!(stats.total, 6);
    assert_eq!(stats.by_endpoint["/v1/courses"]["200"], 2);
    assert_eq!(stats.by_endpoint["/v1/results"]["200"], 1);
    assert_eq!(stats.by_endpoint["/v1/results"]["422"], 1);
    assert_eq!(stats.by_endpoint["/v1/results/{race_id}"]["404"], 1);
    assert_eq!(stats.by_endpoint["(unmatched)"]["404"], 1);
    let root = sb.base_url().trim_end_matches("/v1").to_string();
    let served: Value = client()
        .get(format!("{root}/_sandbox/stats"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_default();
    assert_eq!(served["total"], 6, "stats requests are not counted: {served}");
    assert_eq!(served, serde_json::to_value(sb.stats()).unwrap_or_default());
    assert!(served["max_in_any_1s_window"].as_u64().unwrap_or(0) >= 1);
    let r = client().post(format!("{root}/_sandbox/reset")).send().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 200);
    assert_eq!(sb.stats().total, 0);
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn faults_are_injected_as_configured() {
    let with = |spec: &str| SandboxConfig { faults: parse_faults(spec).unwrap_or_else(|e| panic!("{e}")), ..cfg() };
    let (sb, _) = start(with("5xx=1"));
    for _ in 0..5 {
        let (status, _) = get(&sb, "/courses").await;
        assert!([500, 502, 503].contains(&status), "{status}");
    }
    assert_eq!(sb.stats().faults["5xx"], 5);
    sb.shutdown().await;

    let (sb, _) = start(with("429=1"));
    let r = client()
        .get(format!("{}/courses", sb.base_url()))
        .basic_auth("u", Some("p"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 429);
    assert!(r.headers().get("retry-after").is_some());
    sb.shutdown().await;

    for kind in ["truncated", "malformed"] {
        let (sb, _) = start(with(&format!("{kind}=1")));
        let r = client()
            .get(format!("{}/courses", sb.base_url()))
            .basic_auth("u", Some("p"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.status(), 200);
        let body = r.bytes().await.unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert!(serde_json::from_slice::<Value>(&body).is_err(), "{kind} body parsed");
        sb.shutdown().await;
    }

    let (sb, _) = start(with("dropped=1"));
    let r = client().get(format!("{}/courses", sb.base_url())).basic_auth("u", Some("p")).send().await;
    let broken = match r {
        Err(_) => true,
        Ok(r) => r.bytes().await.is_err(),
    };
    assert!(broken, "a dropped connection fails the request or its body");
    sb.shutdown().await;

    let (sb, _) = start(with("slow=1,slow_ms=300"));
    let t = std::time::Instant::now();
    get_ok(&sb, "/courses").await;
    assert!(t.elapsed() >= std::time::Duration::from_millis(300));
    sb.shutdown().await;

    let mut c = cfg();
    c.faults.fail_dates = vec!["2025-10-13".into()];
    let (sb, _) = start(c);
    assert_eq!(get(&sb, "/results?start_date=2025-10-13&end_date=2025-10-13").await.0, 500);
    assert_eq!(get(&sb, "/racecards/pro?date=2025-10-13").await.0, 500);
    assert_eq!(get(&sb, "/racecards/pro?date=2025-10-12").await.0, 200);
    sb.shutdown().await;
}

#[test]
fn the_cli_prints_where_it_serves() {
    use std::io::{BufRead, BufReader};
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_darkhorses"))
        .args(["sandbox", "--port", "0", "--seed", "9", "--rate-limit", "5"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn: {e}"));
    let mut line = String::new();
    if let Some(out) = child.stdout.take() {
        let _ = BufReader::new(out).read_line(&mut line);
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(line.starts_with("sandbox serving The Racing API on http://127.0.0.1:"), "{line}");
    assert!(line.contains("/v1 (seed 9, rate limit 5/s); try: RACING_API_USERNAME=demo"), "{line}");
    assert!(line.contains("darkhorses daily"), "{line}");
}

#[test]
fn the_cli_rejects_a_bad_fault_spec() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_darkhorses"))
        .args(["sandbox", "--port", "0", "--fault", "5xx=0.2,oops=1"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("oops=1"));
}
