//! Benchmark: parse + normalise speed (`api::normalize::racecards_into` / `results_into`) in
//! races per second, on the real samples in tests/fixtures and on full days from the sandbox.
//!
//! Run (release): `cargo run --release --example bench_parse` (about 2 s per line).
//!
//! The samples were cut to 2 races per file by the harness that captured them (complete races,
//! every runner and odd); the sandbox days are whole pages of about 36 races in the API's formats.

// An example prints its results; a closed stdout ending it with a panic is acceptable here.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use darkhorses::api::normalize;
use darkhorses::clock::FixedClock;
use darkhorses::config::{ApiConfig, RetryConfig, SandboxConfig, Secret};
use darkhorses::model::{Kind, Unit};
use darkhorses::sandbox::Sandbox;

/// How long each measurement loops.
const MEASURE_FOR: Duration = Duration::from_secs(2);

/// One body and the normaliser it goes through.
struct Body {
    kind: Kind,
    bytes: Vec<u8>,
}

fn normalise(body: &Body, date: NaiveDate) -> Result<(usize, usize), String> {
    let mut unit = Unit::new(body.kind, date);
    let result = match body.kind {
        Kind::Racecards => normalize::racecards_into(&mut unit, &body.bytes, &[]),
        Kind::Results => normalize::results_into(&mut unit, &body.bytes, &[]),
    };
    result.map_err(|e| e.to_string())?;
    Ok((unit.races.len(), unit.runners.len()))
}

/// Loops over `bodies` for `MEASURE_FOR` and prints races/s, runners/s and MB/s.
fn measure(label: &str, bodies: &[Body]) -> Result<(), String> {
    let date = NaiveDate::from_ymd_opt(2025, 10, 14).ok_or("a valid date")?;
    let (mut races, mut runners, mut bytes, mut passes) = (0usize, 0usize, 0usize, 0usize);
    let started = Instant::now();
    while started.elapsed() < MEASURE_FOR {
        for body in bodies {
            let (r, n) = normalise(body, date)?;
            races += r;
            runners += n;
            bytes += body.bytes.len();
        }
        passes += 1;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{label}: {} bodies, {} races per pass; {passes} passes in {secs:.1} s: {:.0} races/s, {:.0} runners/s, {:.1} MB/s",
        bodies.len(),
        races / passes.max(1),
        races as f64 / secs,
        runners as f64 / secs,
        bytes as f64 / secs / 1e6,
    );
    Ok(())
}

fn fixtures() -> Result<Vec<Body>, String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .map_err(|e| format!("listing {}: {e}", dir.display()))?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json") && (n.starts_with("racecards_pro") || n.starts_with("results")))
        .collect();
    names.sort();
    names
        .iter()
        .map(|name| {
            let path = dir.join(name);
            let bytes = std::fs::read(&path).map_err(|e| format!("reading {}: {e}", path.display()))?;
            let kind = if name.starts_with("results") { Kind::Results } else { Kind::Racecards };
            Ok(Body { kind, bytes })
        })
        .collect()
}

/// Racecards (Pro) and results of `days` days from the in-process sandbox, fetched once.
async fn sandbox_days(days: i64) -> Result<Vec<Body>, String> {
    let now = "2026-03-01T12:00:00Z".parse().map_err(|e| format!("{e}"))?;
    let sandbox = Sandbox::start(SandboxConfig { port: 0, rate_limit: 0.0, ..SandboxConfig::default() }, {
        Arc::new(FixedClock::new(now))
    })
    .map_err(|e| e.to_string())?;
    let api = ApiConfig {
        base_url: sandbox.base_url(),
        username: Secret::new("bench"),
        password: Secret::new("bench"),
        rate_limit: 1000.0,
        ..ApiConfig::default()
    };
    let client = darkhorses::api::Client::new(&api, &RetryConfig::default(), Arc::new(FixedClock::new(now)))
        .map_err(|e| e.to_string())?;
    let first = NaiveDate::from_ymd_opt(2026, 2, 1).ok_or("a valid date")?;
    let mut bodies = Vec::new();
    for offset in 0..days {
        let date = first + chrono::Duration::days(offset);
        let cards = client.racecards_pro(date, &[]).await.map_err(|e| e.to_string())?;
        bodies.push(Body { kind: Kind::Racecards, bytes: cards.body.to_vec() });
        for page in client.results(date, &[]).await.map_err(|e| e.to_string())? {
            bodies.push(Body { kind: Kind::Results, bytes: page.body.to_vec() });
        }
    }
    sandbox.shutdown().await;
    Ok(bodies)
}

fn main() -> ExitCode {
    let run = || -> Result<(), String> {
        let samples = fixtures()?;
        let (cards, results): (Vec<Body>, Vec<Body>) = samples.into_iter().partition(|b| b.kind == Kind::Racecards);
        measure("samples racecards_pro*.json", &cards)?;
        measure("samples results*.json", &results)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("starting the async runtime: {e}"))?;
        let days = runtime.block_on(sandbox_days(7))?;
        let (cards, results): (Vec<Body>, Vec<Body>) = days.into_iter().partition(|b| b.kind == Kind::Racecards);
        measure("sandbox 7 days /racecards/pro", &cards)?;
        measure("sandbox 7 days /results", &results)?;
        Ok(())
    };
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
