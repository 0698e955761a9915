//! Secrets (issue 12, item 5): every command, with known API and database passwords, debug
//! logging and provoked errors (rejected credentials, the API unreachable, a 500, the database
//! unreachable or missing), and neither password (nor the Basic credentials the client sends)
//! may appear in stdout, stderr, the log files, `config show` (text and JSON), `job_runs` or
//! `api_responses`. Log files and their directory are owner-only.
//!
//! The database password rides in a Postgres URL (trust auth on 127.0.0.1 accepts any password)
//! when `DARKHORSES_TEST_DATABASE_URL` is set; otherwise the data go to SQLite and the Postgres
//! URL with the password is used only where the database is unreachable.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Stdio;

use base64::Engine;
use tempfile::TempDir;

use super::acceptance::{ChildGuard, darkhorses, darkhorses_child, run, sandbox_child};
use super::faults::report_counts;

const API_USER: &str = "secrets-user";
const API_PASSWORD: &str = "api-Pw-7c1e9b2f";
const DB_PASSWORD: &str = "db-Pw-3f8a6d40";
const NOW: &str = "2026-06-10T21:00:00Z";

/// Every string that must never be shown: both passwords, and the Basic credentials the client
/// sends (base64 of `user:password`), which would leak the API password in another form.
fn secrets() -> Vec<(String, &'static str)> {
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{API_USER}:{API_PASSWORD}"));
    vec![
        (API_PASSWORD.to_string(), "the API password"),
        (DB_PASSWORD.to_string(), "the database password"),
        (basic, "the API Basic credentials"),
    ]
}

/// Where the searches looked, and what they found.
#[derive(Default)]
struct Search {
    places: usize,
    commands: usize,
    leaks: Vec<String>,
}

impl Search {
    fn look(&mut self, place: &str, text: &str) {
        self.places += 1;
        for (secret, name) in secrets() {
            if let Some(at) = text.find(&secret) {
                let start = text[..at].char_indices().rev().nth(80).map_or(0, |(i, _)| i);
                let end = (at + secret.len() + 80).min(text.len());
                let end = (end..=text.len()).find(|i| text.is_char_boundary(*i)).unwrap_or(text.len());
                self.leaks.push(format!("{name} in {place}: ...{}...", &text[start..end]));
            }
        }
    }
}

/// A Postgres URL holding the database password, and the schema the runs use.
struct Database {
    url: String,
    schema: Option<String>,
}

impl Database {
    fn new() -> Database {
        match std::env::var("DARKHORSES_TEST_DATABASE_URL").ok().filter(|u| !u.is_empty()) {
            Some(base) => {
                let url = with_password(&base, DB_PASSWORD);
                let schema = format!("secrets_{}", std::process::id());
                psql(&base, &format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"));
                Database { url, schema: Some(schema) }
            }
            None => Database { url: "sqlite:darkhorses.db".into(), schema: None },
        }
    }

    /// `job_runs` and `api_responses` rows as text (every column, the body as stored).
    fn ledger_text(&self, dir: &Path) -> Vec<(String, String)> {
        let tables = ["job_runs", "api_responses"];
        match &self.schema {
            Some(schema) => {
                let base = std::env::var("DARKHORSES_TEST_DATABASE_URL").unwrap();
                tables
                    .iter()
                    .map(|t| (t.to_string(), psql(&base, &format!("SELECT row_to_json(t)::text FROM {schema}.{t} t"))))
                    .collect()
            }
            None => {
                let conn = rusqlite::Connection::open(dir.join("darkhorses.db")).unwrap();
                tables
                    .iter()
                    .map(|t| {
                        let mut stmt = conn.prepare(&format!("SELECT * FROM {t}")).unwrap();
                        let n = stmt.column_count();
                        let rows: Vec<String> = stmt
                            .query_map([], |r| {
                                Ok((0..n)
                                    .map(|i| match r.get::<_, rusqlite::types::Value>(i).unwrap() {
                                        rusqlite::types::Value::Text(s) => s,
                                        rusqlite::types::Value::Blob(b) => String::from_utf8_lossy(&b).into_owned(),
                                        other => format!("{other:?}"),
                                    })
                                    .collect::<Vec<_>>()
                                    .join(" | "))
                            })
                            .unwrap()
                            .map(Result::unwrap)
                            .collect();
                        (t.to_string(), rows.join("\n"))
                    })
                    .collect()
            }
        }
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        if let (Some(schema), Ok(base)) = (&self.schema, std::env::var("DARKHORSES_TEST_DATABASE_URL")) {
            psql(&base, &format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
        }
    }
}

/// `postgres://user@host/db` with `password` added to the user.
fn with_password(url: &str, password: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (userinfo, host) = rest.split_once('@').unwrap_or(("postgres", rest));
    let user = userinfo.split(':').next().unwrap();
    format!("{scheme}://{user}:{password}@{host}")
}

fn psql(url: &str, sql: &str) -> String {
    let out = std::process::Command::new("psql")
        .args([url, "-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .output()
        .unwrap();
    assert!(out.status.success(), "{sql}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn no_command_shows_a_password_anywhere() {
    let dir = TempDir::new().unwrap();
    let db = Database::new();
    // The API the good runs use wants exactly these credentials; the other refuses them.
    let (_good, api) =
        sandbox_child(dir.path(), &["--now", NOW, "--seed", "5", "--username", API_USER, "--password", API_PASSWORD]);
    let (_other, refusing) =
        sandbox_child(dir.path(), &["--now", NOW, "--username", API_USER, "--password", "something-else"]);
    let (_failing, failing) = sandbox_child(dir.path(), &["--now", NOW, "--fault", "5xx=1"]);
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let unreachable_api = format!("http://127.0.0.1:{closed}/v1");
    let unreachable_db = with_password(&format!("postgres://postgres@127.0.0.1:{closed}/test"), DB_PASSWORD);
    let missing_db = match &db.schema {
        Some(_) => with_password(&std::env::var("DARKHORSES_TEST_DATABASE_URL").unwrap(), DB_PASSWORD)
            .rsplit_once('/')
            .map(|(head, _)| format!("{head}/no_such_database_here"))
            .unwrap(),
        None => unreachable_db.clone(),
    };

    let mut search = Search::default();
    // (environment overrides, arguments): each run with debug logging on stderr and in the files.
    type Case<'a> = (Vec<(&'a str, &'a str)>, Vec<&'a str>);
    let good: Vec<(&str, &str)> = vec![];
    let cases: Vec<Case> = vec![
        (good.clone(), vec!["config", "show"]),
        (good.clone(), vec!["--json", "config", "show"]),
        (good.clone(), vec!["config", "check"]),
        (good.clone(), vec!["--json", "config", "check"]),
        (good.clone(), vec!["db", "migrate"]),
        (good.clone(), vec!["db", "status"]),
        (good.clone(), vec!["--json", "db", "status"]),
        (good.clone(), vec!["reference"]),
        (good.clone(), vec!["daily"]),
        (good.clone(), vec!["--json", "daily", "--dry-run"]),
        (good.clone(), vec!["live"]),
        (good.clone(), vec!["backfill", "--from", "2026-06-01", "--to", "2026-06-02"]),
        (good.clone(), vec!["--log-format", "json", "daily", "--results-only"]),
        (good.clone(), vec!["orchestrate", "--force-all"]),
        (good.clone(), vec!["orchestrate"]),
        (good.clone(), vec!["orchestrate", "--list"]),
        (good.clone(), vec!["--json", "orchestrate", "--list"]),
        (
            good.clone(),
            vec!["orchestrate", "--simulate", "--from", "2026-06-10T00:00:00Z", "--to", "2026-06-11T00:00:00Z"],
        ),
        (good.clone(), vec!["schedule", "0 6 * * *"]),
        (good.clone(), vec!["--help"]),
        // provoked errors
        (vec![("DARKHORSES_API_BASE_URL", refusing.as_str())], vec!["daily"]),
        (vec![("DARKHORSES_API_BASE_URL", refusing.as_str())], vec!["--json", "orchestrate", "--force-all"]),
        (vec![("DARKHORSES_API_BASE_URL", unreachable_api.as_str())], vec!["daily"]),
        (vec![("DARKHORSES_API_BASE_URL", failing.as_str())], vec!["daily"]),
        (vec![("DARKHORSES_API_BASE_URL", failing.as_str())], vec!["--json", "reference"]),
        (vec![("DATABASE_URL", unreachable_db.as_str())], vec!["daily"]),
        (vec![("DATABASE_URL", unreachable_db.as_str())], vec!["--json", "db", "status"]),
        (vec![("DATABASE_URL", unreachable_db.as_str())], vec!["orchestrate", "--list"]),
        (vec![("DATABASE_URL", missing_db.as_str())], vec!["db", "migrate"]),
        (vec![("DATABASE_URL", missing_db.as_str())], vec!["--json", "daily"]),
        (vec![("DARKHORSES_DATABASE_SCHEMA", "no such schema")], vec!["daily"]),
        (vec![("DARKHORSES_API_BASE_URL", "http://api.example.com/v1")], vec!["daily"]),
        (vec![("DARKHORSES_API_RATE_LIMIT", "fast")], vec!["config", "show"]),
    ];
    for (overrides, args) in &cases {
        let mut cmd = darkhorses(dir.path());
        cmd.env("RACING_API_USERNAME", API_USER)
            .env("RACING_API_PASSWORD", API_PASSWORD)
            .env("DATABASE_URL", &db.url)
            .env("DARKHORSES_API_BASE_URL", &api)
            .env("DARKHORSES_API_RATE_LIMIT", "20")
            .env("DARKHORSES_RETRY_MAX_ATTEMPTS", "2")
            .env("DARKHORSES_RETRY_INITIAL_DELAY", "0.1")
            .env("DARKHORSES_DATABASE_CONNECTION_TIMEOUT", "2")
            .env("LOG_LEVEL", "debug");
        if let Some(schema) = &db.schema {
            cmd.env("DARKHORSES_DATABASE_SCHEMA", schema);
        }
        cmd.envs(overrides.iter().copied()).args(["--now", NOW, "-vv"]).args(args);
        let r = run(&mut cmd);
        search.commands += 1;
        // The label names the case without the password some overrides carry.
        let what = format!("`darkhorses {}` with {overrides:?} (exit {})", args.join(" "), r.code)
            .replace(DB_PASSWORD, "<db password>");
        eprintln!("{what}: {}", r.stderr.lines().find(|l| l.starts_with("error")).unwrap_or(""));
        search.look(&format!("stdout of {what}"), &r.stdout);
        search.look(&format!("stderr of {what}"), &r.stderr);
        if args.contains(&"show") && r.code == 0 {
            // config show masks by type: the secrets are there, masked.
            assert!(r.stdout.contains("api.password") && r.stdout.contains("***"), "{what}: {}", r.stdout);
        }
    }

    // `darkhorses sandbox` itself, with its password from the configuration and debug logging.
    let mut sandbox = ChildGuard(
        darkhorses_child(dir.path())
            .env("DARKHORSES_SANDBOX_PASSWORD", API_PASSWORD)
            .env("DARKHORSES_SANDBOX_USERNAME", API_USER)
            .args(["-vv", "sandbox", "--port", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut first = String::new();
    BufReader::new(sandbox.0.stdout.take().unwrap()).read_line(&mut first).unwrap();
    let _ = sandbox.0.kill();
    let _ = sandbox.0.wait();
    let mut stderr = String::new();
    sandbox.0.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    search.commands += 1;
    search.look("stdout of `darkhorses sandbox`", &first);
    search.look("stderr of `darkhorses sandbox`", &stderr);

    // The log files, owner-only, in an owner-only directory.
    let logs = dir.path().join("logs");
    assert_eq!(std::fs::metadata(&logs).unwrap().permissions().mode() & 0o777, 0o700, "{}", logs.display());
    let mut files = 0;
    for entry in std::fs::read_dir(&logs).unwrap() {
        let path = entry.unwrap().path();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{} is {mode:o}", path.display());
        search.look(&format!("log file {}", path.display()), &std::fs::read_to_string(&path).unwrap());
        files += 1;
    }
    assert!(files >= 4, "the jobs wrote their log files: {files}");

    // What the database keeps: the run ledger (errors, summaries) and the raw responses (request
    // URLs and parameters: Basic credentials must not land there).
    let ledger = db.ledger_text(dir.path());
    for (table, text) in &ledger {
        assert!(!text.trim().is_empty(), "{table} is empty: the runs above wrote nothing to search");
        search.look(&format!("table {table}"), text);
    }

    report_counts(
        "secrets",
        &format!(
            "secrets suite: {} secrets searched in {} places ({} commands' stdout and stderr, {files} log files, job_runs, api_responses); {} found",
            secrets().len(),
            search.places,
            search.commands,
            search.leaks.len()
        ),
    );
    assert!(search.leaks.is_empty(), "secrets shown:\n{}", search.leaks.join("\n"));
}
