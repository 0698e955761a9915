//! What the shared API budget (issue 9) adds to each send: the time of one ledger exchange, on the
//! SQLite database's `.budget` file and on PostgreSQL's `api_budget` row, alone and with several
//! processes' worth of clients exchanging at once.
//!
//! ```text
//! cargo run --release --example bench_budget
//! cargo run --release --example bench_budget -- --exchanges 2000 --url postgres://postgres@127.0.0.1:5432/test
//! ```
//!
//! Each exchange asks for a slot at a rate so high that it is always granted (the pacing itself is
//! not what is timed), through the same `Ledger` the jobs use (`Store::api_budget`). `--clients N`
//! ledgers (each as a separate process would hold it: its own file handle or connection) exchange
//! concurrently, every 20 ms each (busier than any real account) and then back to back (a stress
//! test: nothing real asks that often); the figures are per exchange as each client saw it. Postgres runs in a fresh
//! schema dropped at the end; SQLite in a temporary directory.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use darkhorses::api::Priority;
use darkhorses::api::shared_budget::{Call, Ledger};
use darkhorses::config::{DatabaseConfig, Secret};
use darkhorses::store;

/// A waiting process asks about every 50-150 ms (`shared_budget::YIELD_POLL`, `HEARTBEAT`); the
/// paced runs ask every 20 ms, a busier account than any real one.
const PACE: Duration = Duration::from_millis(20);

struct Args {
    exchanges: usize,
    clients: usize,
    url: String,
}

fn args() -> Result<Args, String> {
    let mut out = Args { exchanges: 2000, clients: 4, url: "postgres://postgres@127.0.0.1:5432/test".into() };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--exchanges" => out.exchanges = value()?.parse().map_err(|e| format!("--exchanges: {e}"))?,
            "--clients" => out.clients = value()?.parse().map_err(|e| format!("--clients: {e}"))?,
            "--url" => out.url = value()?,
            other => return Err(format!("unknown argument {other}; use --exchanges N --clients N --url URL")),
        }
    }
    Ok(out)
}

/// Times `n` exchanges by each of `ledgers` at once, each client pausing `pace` between its
/// exchanges; returns every exchange's duration, sorted.
async fn time(ledgers: &[Arc<dyn Ledger>], n: usize, pace: Duration) -> Vec<Duration> {
    let mut tasks = Vec::new();
    for (i, ledger) in ledgers.iter().enumerate() {
        let ledger = Arc::clone(ledger);
        tasks.push(tokio::spawn(async move {
            let call = Call {
                process: i as u64,
                lane: Some(Priority::Daily),
                hold: None,
                answers: Vec::new(),
                pause: None,
                rate: 1e6,
                burst: 1,
            };
            let mut took = Vec::with_capacity(n);
            for _ in 0..n {
                if pace > Duration::ZERO {
                    tokio::time::sleep(pace).await;
                }
                let started = Instant::now();
                if let Err(e) = ledger.exchange("0123456789abcdef", &call).await {
                    panic!("exchange failed: {e}");
                }
                took.push(started.elapsed());
            }
            took
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap_or_default());
    }
    all.sort();
    all
}

fn report(what: &str, clients: usize, pace: Duration, took: &[Duration]) {
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let at = |q: f64| took[((took.len() as f64 - 1.0) * q) as usize];
    let mean = took.iter().map(|d| us(*d)).sum::<f64>() / took.len() as f64;
    println!(
        "| {what} | {clients} | {} | {} | {mean:.0} | {:.0} | {:.0} | {:.0} |",
        if pace > Duration::ZERO { format!("every {} ms", pace.as_millis()) } else { "back to back".into() },
        took.len(),
        us(at(0.5)),
        us(at(0.99)),
        us(at(1.0))
    );
}

async fn ledgers(cfg: &DatabaseConfig, n: usize) -> Result<Vec<Arc<dyn Ledger>>, String> {
    let mut out = Vec::new();
    for _ in 0..n {
        let store = store::open(cfg).await.map_err(|e| e.to_string())?;
        out.push(store.api_budget().map_err(|e| e.to_string())?.ok_or("this store has no shared budget")?);
    }
    Ok(out)
}

async fn run(args: Args) -> Result<(), String> {
    println!("| Ledger | Clients at once | Each client | Exchanges | Mean µs | p50 µs | p99 µs | Max µs |");
    println!("|---|---|---|---|---|---|---|---|");
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let sqlite = DatabaseConfig {
        url: Secret::new(format!("sqlite:{}", dir.path().join("bench.db").display())),
        ..DatabaseConfig::default()
    };
    for (clients, pace) in [(1, Duration::ZERO), (args.clients, PACE), (args.clients, Duration::ZERO)] {
        let ledgers = ledgers(&sqlite, clients).await?;
        report("SQLite `.budget` file", clients, pace, &time(&ledgers, args.exchanges / clients, pace).await);
    }

    let schema = format!("bench_budget_{}", std::process::id());
    let (admin, connection) =
        tokio_postgres::connect(&args.url, tokio_postgres::NoTls).await.map_err(|e| format!("{}: {e}", args.url))?;
    tokio::spawn(connection);
    admin.batch_execute(&format!("CREATE SCHEMA {schema}")).await.map_err(|e| e.to_string())?;
    let pg = DatabaseConfig { url: Secret::new(args.url.clone()), schema: schema.clone(), ..DatabaseConfig::default() };
    let outcome = async {
        for (clients, pace) in [(1, Duration::ZERO), (args.clients, PACE), (args.clients, Duration::ZERO)] {
            let ledgers = ledgers(&pg, clients).await?;
            report("PostgreSQL `api_budget` row", clients, pace, &time(&ledgers, args.exchanges / clients, pace).await);
        }
        Ok::<(), String>(())
    }
    .await;
    admin.batch_execute(&format!("DROP SCHEMA {schema} CASCADE")).await.map_err(|e| e.to_string())?;
    outcome
}

#[tokio::main]
async fn main() {
    let outcome = match args() {
        Ok(args) => run(args).await,
        Err(e) => Err(e),
    };
    if let Err(e) = outcome {
        eprintln!("error: {e}");
        std::process::exit(2);
    }
}
