//! `darkhorses health` and the alerts (issue 10 items 1, 3, 4) through the real binary: a
//! database loaded from the sandbox at a pinned `--now` is healthy (exit 0), and each fault made
//! on a copy of it fails the check that names it (exit 1): one racing day's results gone, two
//! slots of a scheduled interval missed, a run left `running`. Christmas Day is never stale. An
//! unreachable database is exit 2 naming host and port, an unreachable API exit 1 naming it,
//! both well within seconds. Three failed runs alert a webhook and an SMTP server run here on
//! loopback exactly once, a fourth inside the cooldown sends nothing, the first success sends one
//! recovery notice. `health --json` is held by a snapshot (`tests/it/health_report.json`; bless
//! with `DARKHORSES_TEST_BLESS=1 cargo test --test it health::`).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

use crate::acceptance::{darkhorses, run};

/// The morning the healthy database is seen from: 10:00 in London, the first live slot, before
/// the first race.
const MORNING: &str = "2026-06-10T09:00:00Z";

/// Only the live interval, so a tick is one cheap run.
const CONFIG: &str =
    "intervals:\n  live_data:\n    frequency: \"*/5 10-22 * * *\"\n    timezone: Europe/London\n    job: live\n";

/// A database loaded by the sandbox at [`MORNING`]: a week of results (backfill) and today's
/// racecards (live). Built once; each test works on its own copy.
fn template() -> &'static Path {
    static DIR: OnceLock<TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.yaml"), CONFIG).unwrap();
        for args in [&["backfill", "--from", "2026-06-03", "--to", "2026-06-09"][..], &["live"]] {
            let out = run(cmd(dir.path(), MORNING).args(args));
            assert_eq!(out.code, 0, "{args:?}: {}", out.stderr);
        }
        dir
    })
    .path()
}

/// A fresh directory holding a copy of the template database and the config.
fn copy() -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    for name in ["darkhorses.db", "config.yaml"] {
        std::fs::copy(template().join(name), dir.path().join(name)).unwrap();
    }
    dir
}

/// `darkhorses --sandbox --config config.yaml --now NOW` in `dir`.
fn cmd(dir: &Path, now: &str) -> assert_cmd::Command {
    let mut cmd = darkhorses(dir);
    cmd.args(["--sandbox", "--config", "config.yaml", "--now", now]);
    cmd
}

/// `health --offline --json` at `now`: the exit code and the document.
fn health(dir: &Path, now: &str) -> (i32, Value) {
    let out = run(cmd(dir, now).args(["--json", "health", "--offline"]));
    let doc: Value =
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}\n{}", out.stdout, out.stderr));
    (out.code, doc)
}

/// The check called `name` in a health document.
fn check<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["name"] == name))
        .unwrap_or_else(|| panic!("no {name} in {doc}"))
}

/// The checks that are not ok, by name.
fn failing(doc: &Value) -> Vec<String> {
    doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["level"] != "ok")
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect()
}

fn sql(dir: &Path, statement: &str) {
    let conn = rusqlite::Connection::open(dir.join("darkhorses.db")).unwrap();
    conn.execute_batch(statement).unwrap();
}

#[test]
fn a_sandbox_loaded_database_is_healthy_and_losing_a_days_results_is_named() {
    let dir = copy();
    let (code, doc) = health(dir.path(), MORNING);
    assert_eq!(code, 0, "{doc:#}");
    assert!(failing(&doc).is_empty(), "{doc:#}");
    assert!(check(&doc, "data.results")["detail"].as_str().unwrap().contains("have their result"));

    sql(dir.path(), "UPDATE races SET has_result = 0 WHERE race_date = '2026-06-05'");
    let (code, doc) = health(dir.path(), MORNING);
    assert_eq!(code, 1, "{doc:#}");
    assert_eq!(failing(&doc), ["data.results"], "{doc:#}");
    let results = check(&doc, "data.results");
    assert_eq!(results["level"], "critical");
    assert_eq!(results["subjects"], serde_json::json!(["2026-06-05"]));
    assert!(results["detail"].as_str().unwrap().contains("2026-06-05: "), "{results}");
}

#[test]
fn a_run_left_running_past_stuck_after_is_named() {
    let dir = copy();
    sql(
        dir.path(),
        "INSERT INTO job_runs (job, trigger, status, started_at, host, pid, dry_run)
         VALUES ('backfill', 'manual', 'running', '2026-06-10T06:30:00Z', 'elsewhere', 4242, 0)",
    );
    // 2.5 hours is past the default 7200 s.
    let (code, doc) = health(dir.path(), MORNING);
    assert_eq!(code, 1, "{doc:#}");
    assert_eq!(failing(&doc), ["runs.stuck"], "{doc:#}");
    let stuck = check(&doc, "runs.stuck");
    let detail = stuck["detail"].as_str().unwrap();
    assert!(
        detail.contains("of backfill (pid 4242 on elsewhere) running since 2026-06-10T06:30:00Z, 2h 30m"),
        "{detail}"
    );
    assert!(stuck["subjects"][0].as_str().unwrap().starts_with("backfill run "), "{stuck}");
    // Under the limit it is fine.
    let out =
        run(cmd(dir.path(), MORNING).env("DARKHORSES_HEALTH_CHECK_STUCK_AFTER", "10000").args(["health", "--offline"]));
    assert_eq!(out.code, 0, "{}", out.stdout);
}

#[test]
fn an_interval_that_missed_two_slots_is_critical_naming_them_on_its_own_clock() {
    let dir = copy();
    for now in ["2026-06-10T09:00:30Z", "2026-06-10T09:05:30Z"] {
        let out = run(cmd(dir.path(), now).arg("orchestrate"));
        assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    }
    let (code, doc) = health(dir.path(), "2026-06-10T09:07:00Z");
    assert_eq!(code, 0, "{doc:#}");
    assert!(check(&doc, "interval.live_data")["detail"].as_str().unwrap().starts_with("last slot 10:05"), "{doc:#}");
    // 10:10 and 10:15 London never ran; at 10:22 both are past the grace.
    let (code, doc) = health(dir.path(), "2026-06-10T09:22:00Z");
    assert_eq!(code, 1, "{doc:#}");
    assert_eq!(failing(&doc), ["interval.live_data"], "{doc:#}");
    let live = check(&doc, "interval.live_data");
    assert_eq!(live["level"], "critical");
    assert_eq!(
        live["detail"].as_str().unwrap(),
        "2 slots have no run (10:10 to 10:15), now 10:22 (Europe/London); last slot in the ledger 10:05"
    );
    assert_eq!(live["subjects"], serde_json::json!(["2026-06-10T09:10:00Z", "2026-06-10T09:15:00Z"]));
    // One slot missed reads as the issue says.
    let (_, doc) = health(dir.path(), "2026-06-10T09:17:00Z");
    assert_eq!(check(&doc, "interval.live_data")["detail"], "slot 10:10 has no run, now 10:17 (Europe/London)");
}

#[test]
fn nothing_is_stale_on_christmas_day() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.yaml"), CONFIG).unwrap();
    let evening = "2026-12-25T19:00:00Z";
    for args in [
        &["backfill", "--from", "2026-12-19", "--to", "2026-12-24"][..],
        &["daily", "--days-ahead", "1", "--racecards-only"],
    ] {
        let out = run(cmd(dir.path(), evening).args(args));
        assert_eq!(out.code, 0, "{args:?}: {}", out.stderr);
    }
    // The data was written weeks before this pinned evening: stale on any racing day.
    let (code, doc) = health(dir.path(), evening);
    assert_eq!(code, 0, "{doc:#}");
    assert!(
        check(&doc, "data.freshness")["detail"].as_str().unwrap().contains("not stale today: Christmas Day"),
        "{doc:#}"
    );
    let cards = check(&doc, "data.racecards")["detail"].as_str().unwrap().to_string();
    assert!(cards.contains("today 2026-12-25: Christmas Day, no racing"), "{cards}");
    assert!(cards.contains("tomorrow 2026-12-26: "), "{cards}");
    // The day before was blank in the racecards, so its missing results are no gap either.
    assert!(check(&doc, "data.results")["level"] == "ok", "{doc:#}");
    // Boxing Day, with nothing new since: stale.
    let (code, doc) = health(dir.path(), "2026-12-26T19:00:00Z");
    assert_eq!(code, 1);
    assert_eq!(check(&doc, "data.freshness")["level"], "critical", "{doc:#}");
}

/// Volatile parts of a health document (run time, free space, wall-clock write times) replaced.
fn normalised(mut doc: Value) -> Value {
    doc["duration"] = 0.into();
    for c in doc["checks"].as_array_mut().unwrap() {
        let name = c["name"].as_str().unwrap_or_default().to_string();
        if name.starts_with("disk.") || name == "data.freshness" {
            c["detail"] = "(varies)".into();
        }
    }
    doc
}

#[test]
fn the_json_report_matches_its_snapshot() {
    let dir = copy();
    let (code, doc) = health(dir.path(), MORNING);
    assert_eq!(code, 0);
    let text = format!("{:#}\n", normalised(doc));
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/it/health_report.json");
    if std::env::var_os("DARKHORSES_TEST_BLESS").is_some() {
        std::fs::write(&path, &text).unwrap();
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(
        text, expected,
        "health --json changed: check docs/health.md, then bless with DARKHORSES_TEST_BLESS=1 cargo test --test it health::"
    );
}

/// A loopback port nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// A loopback port that accepts connections (the kernel's backlog) and never says a word: only a
/// timeout ends a wait on it.
fn silent_port() -> (std::net::TcpListener, u16) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    (listener, port)
}

#[test]
fn an_unreachable_database_is_exit_2_naming_host_and_port_within_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let port = closed_port();
    let (_silent, silent) = silent_port();
    for (url, named) in [
        (format!("postgres://darkhorses@127.0.0.1:{port}/db"), format!("127.0.0.1:{port}")),
        (format!("postgres://darkhorses@127.0.0.1:{silent}/db"), format!("127.0.0.1:{silent}")),
        // TEST-NET-1: nothing answers, so only the capped connect timeout ends the wait.
        ("postgres://darkhorses@192.0.2.1:5432/db".to_string(), "192.0.2.1:5432".to_string()),
    ] {
        let started = Instant::now();
        let out = run(darkhorses(dir.path()).env("DATABASE_URL", &url).args(["health", "--offline"]));
        let took = started.elapsed();
        println!("health against {url}: exit {} in {:.2}s: {}", out.code, took.as_secs_f64(), out.stderr.trim());
        assert_eq!(out.code, 2, "{}", out.stderr);
        assert!(out.stderr.contains(&named), "{}", out.stderr);
        assert!(took < Duration::from_secs(15), "health hung for {took:?}");
    }
}

#[test]
fn an_unreachable_api_with_a_good_database_is_exit_1_naming_the_api_within_seconds() {
    let dir = copy();
    let port = closed_port();
    let (_silent, silent) = silent_port();
    for (base, named) in [
        (format!("http://127.0.0.1:{port}/v1"), format!("http://127.0.0.1:{port}/v1")),
        (format!("http://127.0.0.1:{silent}/v1"), format!("http://127.0.0.1:{silent}/v1")),
        ("https://192.0.2.1/v1".to_string(), "https://192.0.2.1/v1".to_string()),
    ] {
        let started = Instant::now();
        let out = run(darkhorses(dir.path())
            .env("DARKHORSES_API_BASE_URL", &base)
            .env("RACING_API_USERNAME", "u")
            .env("RACING_API_PASSWORD", "p")
            .args(["--config", "config.yaml", "--now", MORNING, "--json", "health"]));
        let took = started.elapsed();
        let doc: Value = serde_json::from_str(&out.stdout).unwrap();
        println!(
            "health with the API at {base}: exit {} in {:.2}s: {}",
            out.code,
            took.as_secs_f64(),
            check(&doc, "api")["detail"]
        );
        assert_eq!(out.code, 1, "{doc:#}");
        assert_eq!(failing(&doc), ["api"], "{doc:#}");
        let detail = check(&doc, "api")["detail"].as_str().unwrap();
        assert!(detail.contains(&format!("The Racing API at {named} is unreachable")), "{detail}");
        assert!(took < Duration::from_secs(15), "health hung for {took:?}");
    }
    // And reachable: the sandbox answers with the credentials it was given.
    let out = run(cmd(dir.path(), MORNING).args(["--json", "health"]));
    assert_eq!(out.code, 0, "{}", out.stdout);
}

/// What the loopback receivers got: webhook bodies and SMTP messages.
#[derive(Default)]
struct Inbox {
    hooks: Mutex<Vec<Value>>,
    mails: Mutex<Vec<String>>,
}

/// A webhook receiver (POST /hook) and a minimal SMTP server (EHLO, MAIL, RCPT, DATA, QUIT) on
/// loopback. Returns their ports.
fn receivers(rt: &tokio::runtime::Runtime, inbox: Arc<Inbox>) -> (u16, u16) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    rt.block_on(async {
        let http = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let hook_port = http.local_addr().unwrap().port();
        let hooks = Arc::clone(&inbox);
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |body: axum::Json<Value>| {
                hooks.hooks.lock().unwrap().push(body.0);
                async { "ok" }
            }),
        );
        tokio::spawn(async move { axum::serve(http, app).await });
        let smtp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let smtp_port = smtp.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((socket, _)) = smtp.accept().await {
                let inbox = Arc::clone(&inbox);
                tokio::spawn(async move {
                    let (read, mut write) = socket.into_split();
                    let mut lines = BufReader::new(read).lines();
                    write.write_all(b"220 localhost ESMTP test\r\n").await.unwrap();
                    let mut message: Option<String> = None;
                    while let Ok(Some(line)) = lines.next_line().await {
                        if let Some(body) = message.as_mut() {
                            if line == "." {
                                inbox.mails.lock().unwrap().push(message.take().unwrap_or_default());
                                write.write_all(b"250 2.0.0 queued\r\n").await.unwrap();
                            } else {
                                body.push_str(&line);
                                body.push('\n');
                            }
                            continue;
                        }
                        let verb = line.split_whitespace().next().unwrap_or_default().to_ascii_uppercase();
                        let reply: &[u8] = match verb.as_str() {
                            "EHLO" | "HELO" => b"250 localhost\r\n",
                            "DATA" => {
                                message = Some(String::new());
                                b"354 go ahead\r\n"
                            }
                            "QUIT" => {
                                let _ = write.write_all(b"221 bye\r\n").await;
                                break;
                            }
                            _ => b"250 OK\r\n",
                        };
                        write.write_all(reply).await.unwrap();
                    }
                });
            }
        });
        (hook_port, smtp_port)
    })
}

#[test]
fn three_failures_alert_once_per_channel_a_fourth_is_quiet_and_success_recovers_once() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let inbox = Arc::new(Inbox::default());
    let (hook, smtp) = receivers(&rt, Arc::clone(&inbox));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("config.yaml"),
        format!(
            "{CONFIG}alerts:\n  channels: [log, \"webhook:http://127.0.0.1:{hook}/hook\", \"email:ops@example.com\"]\n  \
             cooldown_minutes: 60\n  smtp:\n    server: 127.0.0.1\n    port: {smtp}\n    tls: none\n    from: darkhorses@example.com\n\
             retry:\n  max_attempts: 1\n"
        ),
    )
    .unwrap();
    let api = format!("http://127.0.0.1:{}/v1", closed_port());
    let failing = |now: &str| {
        let out = run(darkhorses(dir.path())
            .env("DARKHORSES_API_BASE_URL", &api)
            .env("RACING_API_USERNAME", "u")
            .env("RACING_API_PASSWORD", "p")
            .args(["--config", "config.yaml", "--now", now, "reference", "--courses-only"]));
        assert_ne!(out.code, 0, "{}", out.stdout);
        out
    };
    let counts = || (inbox.hooks.lock().unwrap().len(), inbox.mails.lock().unwrap().len());
    failing("2026-06-10T09:00:00Z");
    failing("2026-06-10T09:05:00Z");
    assert_eq!(counts(), (0, 0), "two failures are below the threshold");
    let third = failing("2026-06-10T09:10:00Z");
    assert_eq!(counts(), (1, 1), "{}", third.stderr);
    let hook_body = inbox.hooks.lock().unwrap()[0].clone();
    assert_eq!(hook_body["subject"], "reference");
    assert_eq!(hook_body["kind"], "failing");
    assert!(hook_body["message"].as_str().unwrap().contains("reference failed 3 runs in a row"), "{hook_body}");
    assert!(inbox.mails.lock().unwrap()[0].contains("reference failed 3 runs in a row"));
    // Inside the cooldown: nothing.
    failing("2026-06-10T09:15:00Z");
    assert_eq!(counts(), (1, 1));
    // The first success: one recovery notice on each channel, and only one.
    for now in ["2026-06-10T09:20:00Z", "2026-06-10T09:25:00Z"] {
        let out = run(cmd(dir.path(), now).args(["reference", "--courses-only"]));
        assert_eq!(out.code, 0, "{}", out.stderr);
    }
    assert_eq!(counts(), (2, 2));
    assert_eq!(inbox.hooks.lock().unwrap()[1]["kind"], "recovered");
    assert!(inbox.mails.lock().unwrap()[1].contains("reference recovered"));
}

/// Postgres: a run left `running` is named, and failed runs move the alert state in the schema.
#[test]
fn pg_health_names_a_stuck_run_and_keeps_the_alert_state() {
    let Some(url) = std::env::var("DARKHORSES_TEST_DATABASE_URL").ok().filter(|u| !u.is_empty()) else {
        eprintln!("skipped: DARKHORSES_TEST_DATABASE_URL is not set");
        return;
    };
    let schema = format!("health_{}", std::process::id());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let client = rt.block_on(async {
        let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(conn);
        client.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}")).await.unwrap();
        client
    });
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.yaml"), CONFIG).unwrap();
    let pg = |now: &str| {
        let mut c = cmd(dir.path(), now);
        c.env("DATABASE_URL", &url).env("DARKHORSES_DATABASE_SCHEMA", &schema);
        c
    };
    let out = run(pg(MORNING).arg("live"));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = run(pg(MORNING).args(["--json", "health", "--offline"]));
    let doc: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(out.code, 0, "{doc:#}");
    rt.block_on(async {
        client
            .batch_execute(&format!(
                "INSERT INTO {schema}.job_runs (job, trigger, status, started_at, host, pid, dry_run)
                 VALUES ('daily', 'manual', 'running', '2026-06-10T05:00:00Z', 'elsewhere', 77, false)"
            ))
            .await
            .unwrap();
    });
    let out = run(pg(MORNING).args(["--json", "health", "--offline"]));
    let doc: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(out.code, 1, "{doc:#}");
    assert_eq!(failing(&doc), ["runs.stuck"], "{doc:#}");
    assert!(check(&doc, "runs.stuck")["detail"].as_str().unwrap().contains("of daily (pid 77 on elsewhere)"));
    let api = format!("http://127.0.0.1:{}/v1", closed_port());
    for now in ["2026-06-10T09:01:00Z", "2026-06-10T09:02:00Z", "2026-06-10T09:03:00Z"] {
        let out = run(darkhorses(dir.path())
            .env("DATABASE_URL", &url)
            .env("DARKHORSES_DATABASE_SCHEMA", &schema)
            .env("DARKHORSES_API_BASE_URL", &api)
            .env("DARKHORSES_RETRY_MAX_ATTEMPTS", "1")
            .env("RACING_API_USERNAME", "u")
            .env("RACING_API_PASSWORD", "p")
            .args(["--config", "config.yaml", "--now", now, "reference", "--courses-only"]));
        assert_ne!(out.code, 0);
    }
    let state = rt.block_on(async {
        let row = client
            .query_one(
                &format!("SELECT state, consecutive_failures, last_alert_at FROM {schema}.alert_state WHERE job = 'reference'"),
                &[],
            )
            .await
            .unwrap();
        (row.get::<_, String>(0), row.get::<_, i32>(1), row.get::<_, Option<chrono::DateTime<chrono::Utc>>>(2))
    });
    assert_eq!(state.0, "failing");
    assert_eq!(state.1, 3);
    assert_eq!(state.2.map(|t| t.to_rfc3339()), Some("2026-06-10T09:03:00+00:00".to_string()));
    rt.block_on(async { client.batch_execute(&format!("DROP SCHEMA {schema} CASCADE")).await.unwrap() });
}

/// The daemon's `/healthz`: the `health --offline --json` document, 200 when healthy, 503 not.
#[test]
fn the_daemon_serves_the_report_at_healthz_200_then_503() {
    let dir = copy();
    // Nothing scheduled: the daemon only serves.
    std::fs::write(dir.path().join("config.yaml"), format!("{CONFIG}    enabled: false\n")).unwrap();
    let port = closed_port();
    let child = crate::acceptance::darkhorses_child(dir.path())
        .env("DARKHORSES_HEALTH_CHECK_PORT", port.to_string())
        .env("RACING_API_USERNAME", "u")
        .env("RACING_API_PASSWORD", "p")
        .args(["--config", "config.yaml", "--now", MORNING, "orchestrate", "--daemon"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let _child = crate::acceptance::ChildGuard(child);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let get = || -> Option<(u16, Value)> {
        rt.block_on(async {
            let r = reqwest::get(format!("http://127.0.0.1:{port}/healthz")).await.ok()?;
            Some((r.status().as_u16(), r.json().await.ok()?))
        })
    };
    let (status, doc) = crate::acceptance::wait_for(Duration::from_secs(60), "/healthz", get);
    assert_eq!(status, 200, "{doc:#}");
    assert_eq!(doc["job"], "health");
    assert_eq!(check(&doc, "api")["detail"], "not checked (offline)");
    assert_eq!(normalised(doc.clone())["checks"].as_array().map(Vec::len), Some(9), "{doc:#}");
    sql(
        dir.path(),
        "INSERT INTO job_runs (job, trigger, status, started_at, host, pid, dry_run)
         VALUES ('live', 'manual', 'running', '2026-06-10T01:00:00Z', 'elsewhere', 7, 0)",
    );
    let (status, doc) = get().unwrap();
    assert_eq!(status, 503, "{doc:#}");
    assert_eq!(failing(&doc), ["runs.stuck"], "{doc:#}");
}
