//! Issue 14: `darkhorses status` through the real binary. The page of a database loaded by a
//! sandbox backfill and an orchestrated racing day, opened in headless Chromium (WebDriver over
//! loopback HTTP) and checked by DOM queries, its screenshot kept at `target/status-page.png`;
//! the daemon's `GET /`; the Grafana dashboard against the metric names `/metrics` serves; the
//! same figures from SQLite and Postgres.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tempfile::TempDir;

use crate::acceptance::{ChildGuard, darkhorses, darkhorses_child, run, wait_for};

const PG_ENV: &str = "DARKHORSES_TEST_DATABASE_URL";
/// The racing day the tests load: a backfill before it, then its slots orchestrated.
const DAY: &str = "2026-03-10";
/// Where the orchestrated day is looked at from.
const TICKS: [&str; 6] = ["06:00", "10:00", "12:30", "14:05", "16:30", "21:00"];

/// `target/`, where the screenshot is kept for CI to publish.
fn target_dir() -> PathBuf {
    let bin = PathBuf::from(assert_cmd::cargo::cargo_bin!("darkhorses"));
    // target/<profile>/darkhorses
    bin.parent().and_then(Path::parent).map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("target"))
}

/// The binary in `dir` against the in-process sandbox (fast rate) and the given database.
fn binary(dir: &Path, url: &str, schema: Option<&str>, now: &str) -> assert_cmd::Command {
    let mut cmd = darkhorses(dir);
    cmd.env("DATABASE_URL", url).env("DARKHORSES_API_RATE_LIMIT", "50").args(["--sandbox", "--now", now]);
    if let Some(schema) = schema {
        cmd.env("DARKHORSES_DATABASE_SCHEMA", schema);
    }
    cmd
}

/// A backfill of the 8 days before [`DAY`] (at 09:00 that day), then `orchestrate` at each of
/// [`TICKS`] with the shipped intervals: a database as a racing day leaves it.
fn load_a_racing_day(dir: &Path, url: &str, schema: Option<&str>) {
    let r = run(binary(dir, url, schema, &format!("{DAY}T09:00:00Z")).args(["-q", "backfill", "--from", "2026-03-02"]));
    assert_eq!(r.code, 0, "backfill: {}\n{}", r.stdout, r.stderr);
    for tick in TICKS {
        let r = run(binary(dir, url, schema, &format!("{DAY}T{tick}:00Z")).args(["-q", "orchestrate"]));
        assert_eq!(r.code, 0, "orchestrate at {tick}: {}\n{}", r.stdout, r.stderr);
    }
}

/// `status --json` (and the page when `html` is given) at 21:05 of [`DAY`].
fn status_json(dir: &Path, url: &str, schema: Option<&str>, html: Option<&Path>) -> Value {
    let mut cmd = binary(dir, url, schema, &format!("{DAY}T21:05:00Z"));
    cmd.args(["--json", "status"]);
    if let Some(html) = html {
        cmd.arg("--html").arg(html);
    }
    let r = run(&mut cmd);
    assert_eq!(r.code, 0, "status: {}\n{}", r.stdout, r.stderr);
    serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("status --json is not one JSON document ({e}): {}", r.stdout))
}

// ---------------------------------------------------------------------------------------------
// WebDriver, spoken over loopback HTTP to Debian's chromedriver.

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

struct Browser {
    rt: tokio::runtime::Runtime,
    http: reqwest::Client,
    base: String,
    session: String,
    _driver: ChildGuard,
}

impl Browser {
    /// Headless Chromium through a chromedriver on a free loopback port; fails saying how to
    /// install them when they are missing.
    fn start(width: u32, height: u32) -> Browser {
        for (path, package) in [(CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")] {
            assert!(
                Path::new(path).exists(),
                "{path} is missing: the status page test needs Debian's headless Chromium; install it with \
                 `apt-get install -y chromium chromium-driver` (package {package})"
            );
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let driver = ChildGuard(
            std::process::Command::new(CHROMEDRIVER)
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("starting {CHROMEDRIVER}: {e}")),
        );
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let http = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        wait_for(Duration::from_secs(30), "chromedriver to answer /status", || {
            rt.block_on(async { http.get(format!("{base}/status")).send().await.ok()?.json::<Value>().await.ok() })
                .filter(|v| v["value"]["ready"] == true)
        });
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--hide-scrollbars", format!("--window-size={width},{height}")]
            }
        }}});
        let answer = rt.block_on(async {
            http.post(format!("{base}/session")).json(&caps).send().await.unwrap().json::<Value>().await.unwrap()
        });
        let session = answer["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("chromedriver refused a session: {answer}"))
            .to_string();
        Browser { rt, http, base, session, _driver: driver }
    }

    fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let answer: Value = self.rt.block_on(async {
            let mut request = self.http.request(method, &url);
            if let Some(body) = body {
                request = request.json(&body);
            }
            request.send().await.unwrap().json().await.unwrap()
        });
        assert!(answer["value"].get("error").is_none(), "WebDriver {path}: {answer}");
        answer["value"].clone()
    }

    fn open(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({ "url": url })));
    }

    /// The element ids matching a CSS selector.
    fn find_all(&self, css: &str) -> Vec<String> {
        let found = self.call(reqwest::Method::POST, "/elements", Some(json!({"using": "css selector", "value": css})));
        found
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e.as_object()?.values().next()?.as_str().map(str::to_string))
            .collect()
    }

    fn text(&self, element: &str) -> String {
        self.call(reqwest::Method::GET, &format!("/element/{element}/text"), None).as_str().unwrap_or("").to_string()
    }

    fn attribute(&self, element: &str, name: &str) -> Option<String> {
        self.call(reqwest::Method::GET, &format!("/element/{element}/attribute/{name}"), None)
            .as_str()
            .map(str::to_string)
    }

    /// The window as a PNG.
    fn screenshot(&self) -> Vec<u8> {
        use base64::Engine as _;
        let png = self.call(reqwest::Method::GET, "/screenshot", None);
        base64::engine::general_purpose::STANDARD.decode(png.as_str().unwrap()).unwrap()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let url = format!("{}/session/{}", self.base, self.session);
        let _ = self.rt.block_on(async { self.http.delete(url).send().await });
    }
}

#[test]
fn the_page_of_a_racing_day_shows_intervals_and_calendar_in_chromium() {
    let dir = TempDir::new().unwrap();
    let url = format!("sqlite:{}", dir.path().join("day.db").display());
    load_a_racing_day(dir.path(), &url, None);
    let page = dir.path().join("status.html");
    let status = status_json(dir.path(), &url, None, Some(&page));
    assert_eq!(status["today"], DAY, "{status}");
    assert_eq!(status["calendar"].as_array().unwrap().len(), 365);

    let html = std::fs::read_to_string(&page).unwrap();
    assert!(!html.contains("<script"), "the page needs no script");
    assert!(!html.contains("src=\"http") && !html.contains("href=\"http"), "no external asset");

    let browser = Browser::start(1100, 2300);
    browser.open(&format!("file://{}", page.display()));

    // The interval table: a row per shipped interval, each with its last run's status.
    let rows = browser.find_all("#interval-table tbody tr[data-interval]");
    let names: Vec<String> = rows.iter().filter_map(|r| browser.attribute(r, "data-interval")).collect();
    assert_eq!(names, ["live_data", "daily_data", "weekly_reconciliation", "monthly_reference"], "interval rows");
    let live = browser.text(&rows[0]);
    assert!(live.contains("succeeded") && live.contains("Europe/London"), "live_data row: {live}");
    let cells = browser.find_all("#interval-table tbody tr[data-interval] td");
    let alert = browser.text(&cells[9]);
    assert_eq!(alert, "—", "no alert_state row: the alert cell shows a dash");

    // The calendar: a cell per day of 12 months; the backfilled days complete, the days before
    // them never fetched, today pending until its results are all in.
    let days = browser.find_all("#calendar rect[data-date]");
    assert_eq!(days.len(), 365, "calendar cells");
    let complete = browser.find_all("#calendar rect.c-complete");
    assert!((8..=9).contains(&complete.len()), "8 backfilled days (and maybe today) complete: {}", complete.len());
    let cell = |date: &str| {
        let found = browser.find_all(&format!("#calendar rect[data-date=\"{date}\"]"));
        assert_eq!(found.len(), 1, "one cell for {date}");
        browser.attribute(&found[0], "class").unwrap_or_default()
    };
    assert!(cell("2026-03-05").starts_with("c-complete"), "{}", cell("2026-03-05"));
    assert_eq!(cell("2026-02-20"), "c-missing");
    let hover = browser.find_all("#calendar rect[data-date=\"2026-03-05\"] title");
    let title: String = browser
        .call(reqwest::Method::GET, &format!("/element/{}/property/textContent", hover[0]), None)
        .as_str()
        .unwrap_or("")
        .to_string();
    assert!(title.contains("2026-03-05") && title.contains("races"), "hover text: {title}");

    // The timeline has a mark per run of the last 48 hours, and the other charts are drawn.
    let marks = browser.find_all("#timeline-chart rect");
    assert_eq!(marks.len(), status["timeline"].as_array().unwrap().len(), "a mark per run");
    assert!(!browser.find_all("#calls-chart rect.bar").is_empty(), "API calls bars");
    assert!(!browser.find_all("#freshness-chart rect.bar").is_empty(), "freshness bars");

    let png = browser.screenshot();
    assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
    let shot = target_dir().join("status-page.png");
    std::fs::write(&shot, &png).unwrap();
    std::fs::copy(&page, target_dir().join("status-page.html")).unwrap();
    println!("status page screenshot: {} ({} KiB)", shot.display(), png.len() / 1024);
}

#[test]
fn status_of_a_database_that_does_not_exist_says_so_and_creates_nothing() {
    let dir = TempDir::new().unwrap();
    let db = dir.path().join("none.db");
    let r =
        run(darkhorses(dir.path()).env("DATABASE_URL", format!("sqlite:{}", db.display())).args(["--json", "status"]));
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("no database at") && r.stderr.contains("none.db"), "{}", r.stderr);
    let doc: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(doc["exit_code"], 2, "{doc}");
    assert!(!db.exists(), "status never creates a database");

    // A page that cannot be written names the file.
    load_bookmakers(dir.path(), &db);
    let r = run(darkhorses(dir.path()).env("DATABASE_URL", format!("sqlite:{}", db.display())).args([
        "status",
        "--html",
        "/nonexistent-dir/status.html",
    ]));
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("/nonexistent-dir/status.html"), "{}", r.stderr);
}

/// A database with one run in it (bookmakers need no API call).
fn load_bookmakers(dir: &Path, db: &Path) {
    let r = run(darkhorses(dir).env("DATABASE_URL", format!("sqlite:{}", db.display())).args([
        "--sandbox",
        "--now",
        "2026-03-10T12:00:00Z",
        "reference",
        "--bookmakers-only",
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn status_in_the_terminal_shows_the_interval_table_and_today() {
    let dir = TempDir::new().unwrap();
    let db = dir.path().join("t.db");
    load_bookmakers(dir.path(), &db);
    let r = run(darkhorses(dir.path()).env("DATABASE_URL", format!("sqlite:{}", db.display())).args([
        "--now",
        "2026-03-10T12:05:00Z",
        "status",
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert!(lines.iter().any(|l| l.starts_with("interval ") && l.contains("next slot")), "{}", r.stdout);
    for interval in ["live_data", "daily_data", "weekly_reconciliation", "monthly_reference"] {
        let row = lines.iter().find(|l| l.starts_with(interval)).unwrap_or_else(|| panic!("{interval}: {}", r.stdout));
        assert!(row.contains("never") && row.ends_with('—'), "no run, no alert state: {row}");
    }
    assert!(r.stdout.contains("today: 0 races"), "{}", r.stdout);
    assert!(r.stdout.contains("runs today (UTC): 1, 0 failed"), "{}", r.stdout);

    // An alert state, as the health job records it, is shown by the interval it names.
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute(
        "INSERT INTO alert_state (job, state, consecutive_failures, last_alert_at)
         VALUES ('daily_data', 'failing', 3, '2026-03-10T11:00:00Z')",
        [],
    )
    .unwrap();
    drop(conn);
    let r = run(darkhorses(dir.path()).env("DATABASE_URL", format!("sqlite:{}", db.display())).args([
        "--now",
        "2026-03-10T12:05:00Z",
        "--json",
        "status",
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let status: Value = serde_json::from_str(&r.stdout).unwrap();
    let daily = status["intervals"].as_array().unwrap().iter().find(|i| i["interval"] == "daily_data").unwrap();
    assert_eq!(daily["alert"]["state"], "failing", "{daily}");
    assert_eq!(daily["alert"]["consecutive_failures"], 3, "{daily}");
    assert_eq!(daily["alert"]["last_alert_at"], "2026-03-10T11:00:00Z", "{daily}");
    let live = status["intervals"].as_array().unwrap().iter().find(|i| i["interval"] == "live_data").unwrap();
    assert!(live["alert"].is_null(), "{live}");
}

// ---------------------------------------------------------------------------------------------
// The daemon's page and the Grafana dashboard.

/// Every metric name a Grafana dashboard's queries use (`darkhorses_...` words in panel `expr`s
/// and variable queries).
fn dashboard_metrics(dashboard: &Value, out: &mut Vec<String>) {
    match dashboard {
        Value::Object(map) => {
            for (key, value) in map {
                let query = matches!(key.as_str(), "expr" | "query" | "definition");
                if let (true, Some(expr)) = (query, value.as_str()) {
                    for word in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
                        if word.starts_with("darkhorses_") && !out.iter().any(|w| w == word) {
                            out.push(word.to_string());
                        }
                    }
                }
                dashboard_metrics(value, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| dashboard_metrics(v, out)),
        _ => {}
    }
}

#[test]
fn the_daemon_serves_the_page_and_every_metric_the_grafana_dashboard_queries() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/grafana/darkhorses.json");
    let dashboard: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap())
        .unwrap_or_else(|e| panic!("{} is not valid JSON: {e}", file.display()));
    let mut queried = Vec::new();
    dashboard_metrics(&dashboard, &mut queried);
    assert!(queried.len() >= 5, "the dashboard queries runs, last success, calls, 429s and rows: {queried:?}");

    let dir = TempDir::new().unwrap();
    let config = dir.path().join("one.yaml");
    std::fs::write(
        &config,
        "intervals:\n  bookies:\n    frequency: \"* * * * *\"\n    job: reference\n    args: [--bookmakers-only]\n",
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut cmd = darkhorses_child(dir.path());
    cmd.env("DATABASE_URL", format!("sqlite:{}", dir.path().join("d.db").display()))
        .env("DARKHORSES_HEALTH_CHECK_PORT", port.to_string())
        .args(["--sandbox", "--config", &config.display().to_string(), "orchestrate", "--daemon"])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let _daemon = ChildGuard(cmd.spawn().unwrap());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let get = |path: &str| -> Option<(String, String)> {
        rt.block_on(async {
            let r = reqwest::get(format!("http://127.0.0.1:{port}{path}")).await.ok()?;
            r.status().is_success().then_some(())?;
            let kind = r.headers().get("content-type")?.to_str().ok()?.to_string();
            Some((kind, r.text().await.ok()?))
        })
    };
    // The first tick runs the interval's slot: the page shows it once it is recorded.
    let (kind, page) = wait_for(Duration::from_secs(60), "the page to show the bookies run", || {
        get("/").filter(|(_, page)| page.contains("data-interval=\"bookies\"") && page.contains(">succeeded<"))
    });
    assert!(kind.starts_with("text/html"), "{kind}");
    assert!(page.contains("id=\"calendar\""), "the calendar is on the daemon's page");

    let (_, metrics) = get("/metrics").unwrap();
    let served: Vec<&str> =
        metrics.lines().filter_map(|l| l.strip_prefix("# TYPE ")).filter_map(|l| l.split(' ').next()).collect();
    let unknown: Vec<&String> = queried.iter().filter(|q| !served.contains(&q.as_str())).collect();
    assert!(
        unknown.is_empty(),
        "the dashboard queries metrics /metrics does not serve: {unknown:?}; served: {served:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Both backends read the same status.

/// The parts of a status document that depend only on the data (not on the wall clock writes).
fn comparable(status: &Value) -> Value {
    let calendar: Vec<Value> =
        status["calendar"].as_array().unwrap().iter().map(|d| json!([d["date"], d["state"], d["races"]])).collect();
    let intervals: Vec<Value> = status["intervals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| json!([i["interval"], i["last_run"]["status"], i["last_run"]["calls"], i["next_slot"], i["alert"]]))
        .collect();
    // The backends number their migrations differently; every other table holds the same rows.
    let tables: Vec<Value> = status["tables"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["table"] != "schema_migrations")
        .map(|t| json!([t["table"], t["rows"]]))
        .collect();
    let calls: Vec<Value> =
        status["api"]["days"].as_array().unwrap().iter().map(|d| json!([d["date"], d["calls"], d["runs"]])).collect();
    json!({
        "calendar": calendar,
        "intervals": intervals,
        "tables": tables,
        "calls": calls,
        "day": status["day"],
        "freshness_days": status["freshness"].as_array().unwrap().len(),
        "timeline": status["timeline"].as_array().unwrap().len(),
    })
}

#[test]
fn status_reads_the_same_from_postgres_as_from_sqlite() {
    let Some(pg) = std::env::var(PG_ENV).ok().filter(|u| !u.is_empty()) else {
        eprintln!("skipped: {PG_ENV} is not set");
        return;
    };
    let dir = TempDir::new().unwrap();
    let sqlite = format!("sqlite:{}", dir.path().join("same.db").display());
    load_a_racing_day(dir.path(), &sqlite, None);
    let from_sqlite = status_json(dir.path(), &sqlite, None, None);

    let schema = format!("status_{}", std::process::id());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let admin = |sql: String| {
        rt.block_on(async {
            let (client, conn) = tokio_postgres::connect(&pg, tokio_postgres::NoTls).await.unwrap();
            tokio::spawn(conn);
            client.batch_execute(&sql).await.unwrap();
        })
    };
    admin(format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"));
    let pg_dir = TempDir::new().unwrap();
    load_a_racing_day(pg_dir.path(), &pg, Some(&schema));
    let from_pg = status_json(pg_dir.path(), &pg, Some(&schema), None);
    admin(format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));

    let (pg_view, sqlite_view) = (comparable(&from_pg), comparable(&from_sqlite));
    for (part, value) in pg_view.as_object().unwrap() {
        assert_eq!(value, &sqlite_view[part], "postgres and sqlite disagree on {part}");
    }
    let complete = from_pg["calendar"].as_array().unwrap().iter().filter(|d| d["state"] == "complete").count();
    assert!(complete >= 8, "the backfilled days are complete on postgres: {complete}");
}
