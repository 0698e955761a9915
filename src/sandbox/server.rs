//! The sandbox's HTTP side: routes with the real API's paths and parameters, Basic auth, plan
//! rules, parameter bounds (422 in FastAPI's shape), the rate limit, fault injection and counts.

// Handlers return `Result<Response, Response>` so `?` can answer early with an error response;
// the size of `Response` is axum's, and boxing it would only add allocations.
#![allow(clippy::result_large_err)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use chrono::{Datelike, Duration, NaiveDate};
use serde_json::{Value, json};

use super::faults::{self, Counter, Fault, RateLimiter};
use super::render::{self, Level};
use super::world::World;
use crate::clock::Clock;
use crate::config::{Plan, ResultsHistory, SandboxConfig};

/// The first day Pro racecards cover.
const PRO_RACECARDS_FROM: NaiveDate = match NaiveDate::from_ymd_opt(2023, 1, 23) {
    Some(d) => d,
    None => NaiveDate::MIN,
};
/// Days ahead Pro racecards cover.
const PRO_RACECARDS_AHEAD: i64 = 7;
/// The longest date range one `/results` request may span.
const MAX_RESULTS_SPAN_DAYS: i64 = 366;

/// Everything the handlers share.
#[derive(Debug)]
pub struct Shared {
    pub cfg: SandboxConfig,
    pub clock: Arc<dyn Clock>,
    pub world: World,
    pub started: Instant,
    pub counter: Mutex<Counter>,
    pub limiter: Mutex<RateLimiter>,
    pub fault_seq: AtomicU64,
}

impl Shared {
    pub fn new(cfg: SandboxConfig, clock: Arc<dyn Clock>) -> Self {
        let world = World::new(cfg.seed);
        let limiter = RateLimiter::new(cfg.rate_limit);
        Self {
            cfg,
            clock,
            world,
            started: Instant::now(),
            counter: Mutex::new(Counter::default()),
            limiter: Mutex::new(limiter),
            fault_seq: AtomicU64::new(0),
        }
    }

    pub fn counter(&self) -> std::sync::MutexGuard<'_, Counter> {
        self.counter.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn today(&self) -> NaiveDate {
        self.clock.racing_day()
    }
}

type S = State<Arc<Shared>>;
type Pairs = Query<Vec<(String, String)>>;
type Reply = Result<Response, Response>;

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v1/courses", get(courses))
        .route("/v1/courses/regions", get(regions))
        .route("/v1/racecards/pro", get(racecards_pro))
        .route("/v1/racecards/standard", get(|s: S, q: Pairs| racecards_by_day(s, q, Level::Standard)))
        .route("/v1/racecards/basic", get(|s: S, q: Pairs| racecards_by_day(s, q, Level::Basic)))
        .route("/v1/racecards/free", get(|s: S, q: Pairs| racecards_by_day(s, q, Level::Free)))
        .route("/v1/results", get(results))
        .route("/v1/results/today", get(results_today))
        .route("/v1/results/{race_id}", get(result_by_id))
        .route("/v1/horses/{horse_id}/pro", get(horse_pro))
        .route("/v1/horses/{horse_id}/standard", get(horse_standard))
        .route("/_sandbox/stats", get(stats))
        .route("/_sandbox/reset", post(reset))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(Arc::clone(&shared), gate))
        .with_state(shared)
}

fn detail(status: StatusCode, msg: &str) -> Response {
    (status, axum::Json(json!({ "detail": msg }))).into_response()
}

fn ok(v: Value) -> Reply {
    Ok(axum::Json(v).into_response())
}

/// One FastAPI validation error entry (`loc`, `msg`, `type`: the fields the spec declares).
fn invalid(param: &str, msg: &str, kind: &str) -> Value {
    json!({ "loc": ["query", param], "msg": msg, "type": kind })
}

fn unprocessable(errors: Vec<Value>) -> Response {
    (StatusCode::UNPROCESSABLE_ENTITY, axum::Json(json!({ "detail": errors }))).into_response()
}

/// Query parameters in request order, with the helpers the endpoints need.
struct Params<'a> {
    pairs: &'a [(String, String)],
    errors: Vec<Value>,
}

impl<'a> Params<'a> {
    fn new(pairs: &'a [(String, String)]) -> Self {
        Self { pairs, errors: Vec::new() }
    }
    fn one(&self, key: &str) -> Option<&'a str> {
        self.pairs.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
    fn list(&self, key: &str) -> Vec<String> {
        self.pairs.iter().filter(|(k, _)| k == key).map(|(_, v)| v.to_lowercase()).collect()
    }
    fn int(&mut self, key: &str, default: i64, min: i64, max: Option<i64>) -> i64 {
        let Some(raw) = self.one(key) else {
            return default;
        };
        let Ok(v) = raw.trim().parse::<i64>() else {
            self.errors.push(invalid(key, "value is not a valid integer", "type_error.integer"));
            return default;
        };
        if v < min {
            self.errors.push(invalid(
                key,
                &format!("ensure this value is greater than or equal to {min}"),
                "value_error.number.not_ge",
            ));
        } else if let Some(max) = max.filter(|&m| v > m) {
            self.errors.push(invalid(
                key,
                &format!("ensure this value is less than or equal to {max}"),
                "value_error.number.not_le",
            ));
        }
        v
    }
    fn date(&mut self, key: &str) -> Option<NaiveDate> {
        let raw = self.one(key)?;
        match NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
            Ok(d) => Some(d),
            Err(_) => {
                self.errors.push(invalid(key, "invalid date format", "value_error.date"));
                None
            }
        }
    }
    fn finish(&mut self) -> Result<(), Response> {
        if self.errors.is_empty() { Ok(()) } else { Err(unprocessable(std::mem::take(&mut self.errors))) }
    }
    fn echo(&self) -> Value {
        Value::Array(self.pairs.iter().map(|(k, v)| json!([k, v])).collect())
    }
}

fn plan_name(p: Plan) -> &'static str {
    match p {
        Plan::Free => "Free",
        Plan::Basic => "Basic",
        Plan::Standard => "Standard",
        Plan::Pro => "Pro",
    }
}

fn need(sh: &Shared, plan: Plan) -> Result<(), Response> {
    if sh.cfg.plan >= plan {
        return Ok(());
    }
    Err(detail(
        StatusCode::UNAUTHORIZED,
        &format!(
            "Your plan ({}) does not include this endpoint; it needs the {} plan or above",
            plan_name(sh.cfg.plan),
            plan_name(plan)
        ),
    ))
}

fn check_fail_date(sh: &Shared, date: NaiveDate) -> Result<(), Response> {
    let d = date.to_string();
    if sh.cfg.faults.fail_dates.contains(&d) {
        return Err(detail(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"));
    }
    Ok(())
}

fn region_ok(sh: &Shared, course: usize, regions: &[String], courses: &[String]) -> bool {
    let c = &sh.world.courses[course];
    if !courses.is_empty() {
        return courses.iter().any(|id| id.eq_ignore_ascii_case(&c.id));
    }
    regions.is_empty() || regions.contains(&c.region_code)
}

async fn courses(State(sh): S, Query(q): Pairs) -> Reply {
    need(&sh, Plan::Free)?;
    let p = Params::new(&q);
    let regions = p.list("region_codes");
    let list: Vec<Value> = sh
        .world
        .courses
        .iter()
        .filter(|c| regions.is_empty() || regions.contains(&c.region_code))
        .map(|c| json!({ "id": c.id, "course": c.course, "region_code": c.region_code, "region": c.region }))
        .collect();
    ok(json!({ "courses": list.clone(), "total": list.len() }))
}

async fn regions(State(sh): S) -> Reply {
    need(&sh, Plan::Free)?;
    let list: Vec<Value> = [
        ("Argentina", "arg"),
        ("Australia", "aus"),
        ("France", "fr"),
        ("Great Britain", "gb"),
        ("Ireland", "ire"),
        ("Spain", "spa"),
        ("USA", "usa"),
    ]
    .iter()
    .map(|(region, code)| json!({ "region": region, "region_code": code }))
    .collect();
    ok(Value::Array(list))
}

fn racecards_page(sh: &Shared, p: &mut Params<'_>, date: NaiveDate, level: Level) -> Reply {
    let limit = p.int("limit", 500, 1, Some(500));
    let skip = p.int("skip", 0, 0, Some(500));
    p.finish()?;
    check_fail_date(sh, date)?;
    let regions = p.list("region_codes");
    let courses = p.list("course_ids");
    let day = sh.world.day(date);
    let races: Vec<_> = day.races.iter().filter(|r| region_ok(sh, r.course, &regions, &courses)).collect();
    let page: Vec<Value> =
        races.iter().skip(skip as usize).take(limit as usize).map(|r| render::racecard(&sh.world, r, level)).collect();
    ok(json!({ "racecards": page, "total": races.len(), "limit": limit, "skip": skip, "query": p.echo() }))
}

async fn racecards_pro(State(sh): S, Query(q): Pairs) -> Reply {
    need(&sh, Plan::Pro)?;
    let mut p = Params::new(&q);
    let today = sh.today();
    let date = p.date("date").unwrap_or(today);
    if p.errors.is_empty() && (date < PRO_RACECARDS_FROM || date > today + Duration::days(PRO_RACECARDS_AHEAD)) {
        p.errors.push(invalid(
            "date",
            &format!(
                "racecards are available from {PRO_RACECARDS_FROM} up to {PRO_RACECARDS_AHEAD} days ahead ({})",
                today + Duration::days(PRO_RACECARDS_AHEAD)
            ),
            "value_error",
        ));
    }
    racecards_page(&sh, &mut p, date, Level::Pro)
}

async fn racecards_by_day(State(sh): S, Query(q): Pairs, level: Level) -> Reply {
    need(
        &sh,
        match level {
            Level::Free => Plan::Free,
            Level::Basic => Plan::Basic,
            Level::Standard | Level::Pro => Plan::Standard,
        },
    )?;
    let mut p = Params::new(&q);
    let today = sh.today();
    let date = match p.one("day").unwrap_or("today") {
        "today" => today,
        "tomorrow" => today + Duration::days(1),
        _ => {
            p.errors.push(invalid("day", "day must be one of: today, tomorrow", "value_error"));
            today
        }
    };
    racecards_page(&sh, &mut p, date, level)
}

/// The results of `dates` whose result is out by now, newest first, filtered.
fn results_page(sh: &Shared, p: &mut Params<'_>, from: NaiveDate, to: NaiveDate, max_skip: Option<i64>) -> Reply {
    let limit = p.int("limit", 25, 1, Some(50));
    let skip = p.int("skip", 0, 0, max_skip);
    p.finish()?;
    let regions = p.list("region");
    let courses = p.list("course");
    let now = sh.clock.now();
    let mut date = from;
    let mut races = Vec::new();
    while date <= to {
        check_fail_date(sh, date)?;
        let day = sh.world.day(date);
        for (i, r) in day.races.iter().enumerate() {
            if r.has_result(now) && region_ok(sh, r.course, &regions, &courses) {
                races.push((Arc::clone(&day), i));
            }
        }
        date += Duration::days(1);
    }
    races.sort_by(|(da, a), (db, b)| {
        let (ra, rb) = (&da.races[*a], &db.races[*b]);
        rb.off.cmp(&ra.off).then(rb.id.cmp(&ra.id))
    });
    let page: Vec<Value> = races
        .iter()
        .skip(skip as usize)
        .take(limit as usize)
        .map(|(d, i)| render::result(&sh.world, &d.races[*i]))
        .collect();
    ok(json!({ "results": page, "total": races.len(), "limit": limit, "skip": skip, "query": p.echo() }))
}

async fn results(State(sh): S, Query(q): Pairs) -> Reply {
    need(&sh, Plan::Standard)?;
    let mut p = Params::new(&q);
    let today = sh.today();
    let history_from = today - Duration::days(365);
    let start = p.date("start_date");
    let end = p.date("end_date");
    let (from, to) = match (start, end) {
        (Some(s), Some(e)) => (s, e),
        (Some(s), None) => (s, today),
        (None, Some(e)) => (e, e),
        (None, None) => (history_from, today),
    };
    if p.errors.is_empty() && (to - from).num_days() >= MAX_RESULTS_SPAN_DAYS {
        p.errors.push(invalid(
            "end_date",
            &format!("the date range may span at most {MAX_RESULTS_SPAN_DAYS} days; query one date at a time"),
            "value_error",
        ));
    }
    p.finish()?;
    let from = if start.is_none() && sh.cfg.results_history == ResultsHistory::TwelveMonths {
        from.max(history_from)
    } else {
        from
    };
    if sh.cfg.results_history == ResultsHistory::TwelveMonths && from < history_from {
        return Err(detail(
            StatusCode::UNAUTHORIZED,
            &format!(
                "Results before {history_from} need the historical results add-on; your plan covers the last 12 months"
            ),
        ));
    }
    results_page(&sh, &mut p, from, to.min(today + Duration::days(1)), Some(20_000))
}

async fn results_today(State(sh): S, Query(q): Pairs) -> Reply {
    need(&sh, Plan::Basic)?;
    let mut p = Params::new(&q);
    let today = sh.today();
    results_page(&sh, &mut p, today, today, None)
}

async fn result_by_id(State(sh): S, Path(race_id): Path<String>) -> Reply {
    need(&sh, Plan::Standard)?;
    let found = sh.world.race(&race_id);
    let Some((day, i)) = found else {
        return Err(detail(StatusCode::NOT_FOUND, "Result not found"));
    };
    check_fail_date(&sh, day.date)?;
    let race = &day.races[i];
    if !race.has_result(sh.clock.now()) {
        return Err(detail(StatusCode::NOT_FOUND, "Result not found"));
    }
    ok(render::result(&sh.world, race))
}

async fn horse_pro(State(sh): S, Path(horse_id): Path<String>) -> Reply {
    need(&sh, Plan::Pro)?;
    let Some(h) = sh.world.horse(&horse_id) else {
        return Err(detail(StatusCode::NOT_FOUND, "Horse not found"));
    };
    ok(render::horse_pro(&sh.world, h, sh.today().year()))
}

async fn horse_standard(State(sh): S, Path(horse_id): Path<String>) -> Reply {
    need(&sh, Plan::Standard)?;
    let Some(h) = sh.world.horse(&horse_id) else {
        return Err(detail(StatusCode::NOT_FOUND, "Horse not found"));
    };
    ok(render::horse_standard(&sh.world, h))
}

async fn not_found() -> Response {
    detail(StatusCode::NOT_FOUND, "Not Found")
}

/// `/_sandbox/stats`; `?arrivals=1` adds every request's arrival time (for measuring windows
/// and gaps from outside).
async fn stats(State(sh): S, Query(q): Pairs) -> Response {
    let arrivals = Params::new(&q).one("arrivals").is_some_and(|v| v == "1" || v == "true");
    let counter = sh.counter();
    let stats = if arrivals {
        counter.snapshot_with_arrivals(sh.started.elapsed().as_micros() as u64)
    } else {
        counter.snapshot()
    };
    axum::Json(stats).into_response()
}

async fn reset(State(sh): S) -> Response {
    sh.counter().reset();
    axum::Json(json!({ "reset": true })).into_response()
}

fn authorised(sh: &Shared, headers: &HeaderMap) -> Result<(), Response> {
    let creds = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic ").or_else(|| v.strip_prefix("basic ")))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b.trim()).ok())
        .and_then(|b| String::from_utf8(b).ok());
    let reject = |msg: &str| {
        let mut r = detail(StatusCode::UNAUTHORIZED, msg);
        r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic"));
        r
    };
    let Some(creds) = creds else {
        return Err(reject("Not authenticated"));
    };
    let (user, pass) = creds.split_once(':').unwrap_or((creds.as_str(), ""));
    let fixed = !sh.cfg.username.is_empty() || !sh.cfg.password.is_empty();
    let good = if fixed {
        user == sh.cfg.username && pass == sh.cfg.password.expose()
    } else {
        !user.is_empty() && !pass.is_empty()
    };
    if good { Ok(()) } else { Err(reject("Invalid username or password")) }
}

/// The route template a path matches (`/v1/results/{race_id}`), or `(unmatched)`; the stats key.
pub fn endpoint_of(path: &str) -> String {
    const EXACT: [&str; 8] = [
        "/v1/courses",
        "/v1/courses/regions",
        "/v1/racecards/pro",
        "/v1/racecards/standard",
        "/v1/racecards/basic",
        "/v1/racecards/free",
        "/v1/results",
        "/v1/results/today",
    ];
    if let Some(e) = EXACT.iter().find(|e| **e == path) {
        return (*e).to_string();
    }
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segs.as_slice() {
        ["v1", "results", id] if !id.is_empty() => "/v1/results/{race_id}".to_string(),
        ["v1", "horses", id, "pro"] if !id.is_empty() => "/v1/horses/{horse_id}/pro".to_string(),
        ["v1", "horses", id, "standard"] if !id.is_empty() => "/v1/horses/{horse_id}/standard".to_string(),
        _ => "(unmatched)".to_string(),
    }
}

/// Every `/v1` request passes here: counted, rate limited, authenticated, maybe faulted.
async fn gate(State(sh): S, req: Request, next: Next) -> Response {
    if req.uri().path().starts_with("/_sandbox/") {
        return next.run(req).await;
    }
    let endpoint = endpoint_of(req.uri().path());
    let admitted = {
        let mut counter = sh.counter();
        let now_us = sh.started.elapsed().as_micros() as u64;
        counter.arrive(now_us);
        sh.limiter.lock().unwrap_or_else(|p| p.into_inner()).admit(now_us)
    };
    if let Err(secs) = admitted {
        let mut r = detail(
            StatusCode::TOO_MANY_REQUESTS,
            &format!("Too many requests: the limit is {} requests per second", sh.cfg.rate_limit),
        );
        if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        sh.counter().served(&endpoint, 429, None, true);
        return r;
    }
    if let Err(r) = authorised(&sh, req.headers()) {
        sh.counter().served(&endpoint, r.status().as_u16(), None, false);
        return r;
    }
    let n = sh.fault_seq.fetch_add(1, Ordering::Relaxed);
    let fault = faults::decide(&sh.cfg.faults, sh.cfg.seed, n);
    let response = match fault {
        Fault::ServerError(code) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            detail(status, status.canonical_reason().unwrap_or("Internal Server Error"))
        }
        Fault::TooManyRequests => {
            let mut r = detail(StatusCode::TOO_MANY_REQUESTS, "Too many requests");
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            r
        }
        Fault::Slow(d) => {
            tokio::time::sleep(d).await;
            handle(req, next).await
        }
        Fault::None => handle(req, next).await,
        Fault::Truncated | Fault::Malformed | Fault::Dropped => {
            let r = handle(req, next).await;
            mangle(r, fault).await
        }
    };
    sh.counter().served(&endpoint, response.status().as_u16(), fault.name(), false);
    response
}

/// Runs the handler on a blocking thread. Building a big body (a day of Pro racecards is about
/// 1 MB: 250-550 ms in a debug build on a loaded machine) would otherwise hold an async worker,
/// and a request arriving meanwhile would be stamped, counted and rate limited only when a worker
/// came free: late, as if several had arrived together. The handlers only compute (no I/O, no
/// timers), so they can be driven from outside the runtime's workers.
async fn handle(req: Request, next: Next) -> Response {
    let runtime = tokio::runtime::Handle::current();
    match tokio::task::spawn_blocking(move || runtime.block_on(next.run(req))).await {
        Ok(response) => response,
        Err(_) => detail(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"),
    }
}

/// Break a successful body the way `fault` says.
async fn mangle(r: Response, fault: Fault) -> Response {
    let (mut parts, body) = r.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return detail(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    let body = match fault {
        Fault::Truncated => Body::from(faults::truncate(&bytes)),
        Fault::Malformed => Body::from(faults::malform(&bytes)),
        _ => {
            // Send part of the body, then fail the stream: hyper aborts the connection.
            let head = Bytes::from(faults::truncate(&bytes));
            let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
                Ok(head),
                Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "sandbox: dropped connection (fault)")),
            ];
            Body::from_stream(futures_util::stream::iter(chunks))
        }
    };
    Response::from_parts(parts, body)
}
