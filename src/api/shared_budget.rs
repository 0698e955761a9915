//! One API budget across processes (issue 9): every process of an account takes each send's slot
//! from a ledger they share, so together they keep `api.rate_limit` as one process does.
//!
//! The ledger holds one small record per account: the pacing state of `budget::Pacer` over every
//! process's sends (GCRA schedule, the window log with each send's latest possible arrival, a 429's
//! pause and slow-down) and the waiters (a process, its lane and an expiry). One exchange is one
//! short critical section on the ledger's clock: the caller's piggybacked answers and 429 are
//! applied, then a send either takes the slot free now or is told how long to wait. Nothing is
//! reserved ahead: a slot is taken only when it is free, so a process that dies leaves at most its
//! sends (which did count at the server) and a waiter record that expires within `WAITER_TTL`.
//!
//! Lanes: a send does not take a slot while another process holds a higher lane (live, then
//! daily, reference, backfill); it asks again after `YIELD_POLL`. A process holds the lane of a
//! send that waits, and the highest lane of its sends until `LANE_HOLD` after the last one (so a
//! live job parsing one answer before its next request is not overtaken by a backfill meanwhile).
//! Its record is refreshed at least every `HEARTBEAT`, by its sends or by a small task, well inside
//! `WAITER_TTL`; a process that dies stops holding anything within `WAITER_TTL`.
//!
//! Ledgers: a file beside the SQLite database (`FileLedger`, an OS lock around read-decide-write,
//! released by the kernel when its holder dies) and a row per account in PostgreSQL
//! (`store::postgres::budget`, a row lock inside one transaction, released when the connection
//! closes). Both run `exchange_record` below on their own clock: the host's wall clock for the
//! file, the database's `clock_timestamp()` for PostgreSQL, so hosts with skewed clocks agree.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::budget::{Moment, Pacer, Priority, SendNo};

/// A waiter record this old is ignored: a process that died waiting stops holding lower lanes
/// back after this.
pub const WAITER_TTL: Duration = Duration::from_millis(400);
/// A waiting process asks again (and so refreshes its waiter record) at least this often.
pub const HEARTBEAT: Duration = Duration::from_millis(150);
/// A send yielding to a higher lane while the slot is free asks again after this.
pub const YIELD_POLL: Duration = Duration::from_millis(50);
/// A process holds the lane of its sends until this long after the last one: a live job
/// parsing one answer before its next request keeps lower lanes waiting meanwhile, so it
/// finishes first. A process that dies stops holding within `WAITER_TTL`.
pub const LANE_HOLD: Duration = Duration::from_secs(2);
/// One exchange taking longer than this counts as the ledger being unavailable.
pub const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(2);

/// Microseconds since the Unix epoch on the ledger's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Micros(pub i64);

impl Micros {
    /// The host's wall clock.
    pub fn now() -> Self {
        let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        Micros(i64::try_from(since.as_micros()).unwrap_or(i64::MAX))
    }

    /// `self - earlier`, zero when `earlier` is later.
    pub fn since(self, earlier: Micros) -> Duration {
        Duration::from_micros(u64::try_from(self.0.saturating_sub(earlier.0)).unwrap_or(0))
    }
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

impl std::ops::Add<Duration> for Micros {
    type Output = Micros;
    fn add(self, d: Duration) -> Micros {
        Micros(self.0.saturating_add(micros(d)))
    }
}

impl Moment for Micros {
    fn checked_sub(self, d: Duration) -> Option<Self> {
        self.0.checked_sub(micros(d)).map(Micros)
    }
}

/// A process waiting in a lane, as the others see it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Waiter {
    process: u64,
    lane: Priority,
    until: Micros,
}

/// The shared state of one account.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pacer: Pacer<Micros>,
    #[serde(default)]
    waiters: Vec<Waiter>,
}

impl Default for Record {
    fn default() -> Self {
        Record { pacer: Pacer::new(1.0, 1), waiters: Vec::new() }
    }
}

/// What one process brings to an exchange.
#[derive(Debug, Clone)]
pub struct Call {
    /// This process (a random number per process and account).
    pub process: u64,
    /// The lane of a send that wants its slot now; `None` only reports.
    pub lane: Option<Priority>,
    /// The lane this process holds after this exchange (a job of that lane running, or its next
    /// waiter), if any: lower lanes yield to it until it expires (`WAITER_TTL`).
    pub hold: Option<Priority>,
    /// Answers to earlier sends: each came back at most this long after its slot was granted.
    pub answers: Vec<(SendNo, Duration)>,
    /// A 429 arrived asking for this pause.
    pub pause: Option<Duration>,
    pub rate: f64,
    pub burst: u32,
}

/// The ledger's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// The slot is this send's; it leaves now.
    Granted(SendNo),
    /// Ask again after `wait`; `behind` names the higher lane of another process it yields to.
    Wait { wait: Duration, behind: Option<Priority> },
    /// Reported (a call without a lane).
    Noted,
}

/// One exchange on `record` at `now` (the ledger's clock).
pub fn decide(record: &mut Record, now: Micros, call: &Call) -> Reply {
    let pacer = &mut record.pacer;
    pacer.configure(call.rate, call.burst);
    pacer.forget_future(now);
    for &(no, after) in &call.answers {
        pacer.answered_after(no, after);
    }
    if let Some(pause) = call.pause {
        pacer.rate_limited(now, pause);
    }
    record.waiters.retain(|w| w.until > now && w.process != call.process);
    let reply = match call.lane {
        None => Reply::Noted,
        Some(lane) => {
            let behind = record.waiters.iter().map(|w| w.lane).filter(|&other| other < lane).min();
            let at = pacer.earliest(now);
            if behind.is_none() && at <= now {
                Reply::Granted(pacer.take(now))
            } else {
                let wait = if at > now { at.since(now).min(HEARTBEAT) } else { YIELD_POLL };
                Reply::Wait { wait: wait.max(Duration::from_millis(1)), behind }
            }
        }
    };
    // What this process holds from now on: a send still waiting, else the lane it declared.
    let waiting = match reply {
        Reply::Wait { .. } => call.lane,
        _ => None,
    };
    if let Some(lane) = waiting.into_iter().chain(call.hold).min() {
        record.waiters.push(Waiter { process: call.process, lane, until: now + WAITER_TTL });
    }
    reply
}

/// [`decide`] on a record kept as JSON text: `None` or text that does not parse (a ledger
/// written by a process killed mid-write) is an empty record. Returns the new text.
pub fn exchange_text(text: Option<&str>, now: Micros, call: &Call) -> (String, Reply) {
    let mut record: Record = text.and_then(|t| serde_json::from_str(t).ok()).unwrap_or_default();
    let reply = decide(&mut record, now, call);
    // A record of numbers and lane names always serialises.
    (serde_json::to_string(&record).unwrap_or_default(), reply)
}

/// Where the shared state lives: a file, a database row.
#[async_trait]
pub trait Ledger: Send + Sync + std::fmt::Debug {
    /// One exchange for `account` on the ledger's clock (see [`exchange_text`]). Errors are one
    /// line naming the ledger and what to check, without secrets.
    async fn exchange(&self, account: &str, call: &Call) -> Result<Reply, String>;

    /// The ledger for messages: the file's path, the database and schema.
    fn describe(&self) -> String;
}

/// The ledger of a SQLite database: `<database file>.budget`, created 0600, one JSON object of
/// records by account, read and rewritten under an exclusive `flock` (which the kernel drops
/// with a process that dies holding it).
#[derive(Debug)]
pub struct FileLedger {
    path: PathBuf,
    file: Arc<Mutex<File>>,
}

/// The ledger file's content.
#[derive(Debug, Default, Serialize, Deserialize)]
struct FileContent {
    accounts: BTreeMap<String, Record>,
}

impl FileLedger {
    /// The ledger beside the database file `database`: `<database>.budget`.
    pub fn path_for(database: &Path) -> PathBuf {
        let mut name = database.as_os_str().to_owned();
        name.push(".budget");
        PathBuf::from(name)
    }

    /// Opens (creating it 0600 when missing) the ledger file `path`.
    pub fn open(path: &Path) -> Result<Self, String> {
        let file =
            OpenOptions::new().read(true).write(true).create(true).truncate(false).mode(0o600).open(path).map_err(
                |e| {
                    format!(
                        "cannot open the shared API budget file {} ({e}); the directory of the database must be \
                     writable, or set api.share_budget: false",
                        path.display()
                    )
                },
            )?;
        Ok(Self { path: path.to_path_buf(), file: Arc::new(Mutex::new(file)) })
    }

    /// One exchange under the file's lock, already held: read, decide, write.
    fn exchange_locked(file: &File, path: &Path, account: &str, call: &Call) -> Result<Reply, String> {
        let io = |what: &str, e: std::io::Error| format!("{what} the shared API budget file {}: {e}", path.display());
        let mut handle = file;
        let mut text = Vec::new();
        handle.seek(SeekFrom::Start(0)).map_err(|e| io("reading", e))?;
        handle.read_to_end(&mut text).map_err(|e| io("reading", e))?;
        // The first JSON value: a writer killed between writing and truncating leaves the tail of
        // an older, longer one after it.
        let mut content: FileContent =
            serde_json::Deserializer::from_slice(&text).into_iter().next().and_then(Result::ok).unwrap_or_default();
        let record = content.accounts.entry(account.to_string()).or_default();
        let reply = decide(record, Micros::now(), call);
        let out = serde_json::to_vec(&content).map_err(|e| format!("encoding {}: {e}", path.display()))?;
        handle.seek(SeekFrom::Start(0)).map_err(|e| io("writing", e))?;
        handle.write_all(&out).map_err(|e| io("writing", e))?;
        file.set_len(out.len() as u64).map_err(|e| io("writing", e))?;
        Ok(reply)
    }

    /// The file, unless a thread of this process is still waiting on it (for a process that
    /// stopped while holding its lock).
    fn handle<'a>(file: &'a Mutex<File>, path: &Path) -> Result<MutexGuard<'a, File>, String> {
        file.try_lock()
            .map_err(|_| format!("the shared API budget file {} is still locked by a stopped process", path.display()))
    }
}

#[async_trait]
impl Ledger for FileLedger {
    /// A free lock (nearly always) is taken on the caller's thread: the critical section is a few
    /// microseconds of page-cache I/O, and a hop to the blocking pool would add its wake-up to the
    /// delay between the slot and the request, which `WINDOW_SLACK` must cover. A lock another
    /// process holds is waited for on a blocking thread, where the kernel wakes the waiter when
    /// it is released (polling lost, again and again, to a process exchanging back to back).
    async fn exchange(&self, account: &str, call: &Call) -> Result<Reply, String> {
        {
            let file = Self::handle(&self.file, &self.path)?;
            match File::try_lock(&file) {
                Ok(()) => {
                    let reply = Self::exchange_locked(&file, &self.path, account, call);
                    // Closing would release it too; the file stays open for the next exchange.
                    let _ = file.unlock();
                    return reply;
                }
                Err(TryLockError::WouldBlock) => {}
                Err(TryLockError::Error(e)) => {
                    return Err(format!("locking the shared API budget file {}: {e}", self.path.display()));
                }
            }
        }
        let (file, path, account, call) =
            (Arc::clone(&self.file), self.path.clone(), account.to_string(), call.clone());
        tokio::task::spawn_blocking(move || {
            let file = Self::handle(&file, &path)?;
            File::lock(&file).map_err(|e| format!("locking the shared API budget file {}: {e}", path.display()))?;
            let reply = Self::exchange_locked(&file, &path, &account, &call);
            let _ = file.unlock();
            reply
        })
        .await
        .map_err(|e| format!("the shared API budget file task failed: {e}"))?
    }

    fn describe(&self) -> String {
        self.path.display().to_string()
    }
}

/// One send's slot in the ledger, for reporting its answer.
#[derive(Debug, Clone, Copy)]
pub struct SharedSend {
    no: SendNo,
    /// When this process asked for the slot: the answer's delay is counted from here, on this
    /// process's clock, which over-states it (safe) by the exchange's own duration.
    asked: std::time::Instant,
}

/// What the shared budget says to a send.
#[derive(Debug, Clone, Copy)]
pub enum Take {
    Granted(SharedSend),
    Wait {
        wait: Duration,
        behind: Option<Priority>,
    },
    /// The ledger did not answer: the process paces itself alone (logged once).
    Unavailable,
}

/// This process's side of an account's shared budget: the ledger, the account's key in it, the
/// lane it holds, and what waits to be reported with the next exchange.
#[derive(Debug)]
pub struct SharedBudget {
    ledger: Arc<dyn Ledger>,
    account: String,
    process: u64,
    rate: f64,
    burst: u32,
    local: Mutex<Local>,
    /// One exchange at a time from this process.
    exchanging: tokio::sync::Mutex<()>,
    /// The last exchange failed (warned once until one succeeds).
    failing: AtomicBool,
    /// A task refreshes the held lane between sends.
    keeping: AtomicBool,
}

#[derive(Debug)]
struct Local {
    answers: Vec<(SendNo, Duration)>,
    pause: Option<Duration>,
    /// The last send of this process in each lane (`Priority as usize`).
    last_send: [Option<std::time::Instant>; LANES.len()],
    last_exchange: std::time::Instant,
}

/// Every lane, highest first.
const LANES: [Priority; 4] = [Priority::Live, Priority::Daily, Priority::Reference, Priority::Backfill];

impl Local {
    /// The lane held now: the highest with a send within `LANE_HOLD`.
    fn held(&self) -> Option<Priority> {
        LANES.into_iter().find(|&lane| self.last_send[lane as usize].is_some_and(|at| at.elapsed() < LANE_HOLD))
    }
}

fn lock(local: &Mutex<Local>) -> MutexGuard<'_, Local> {
    local.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The account's key in a ledger: a hash of the user name and base URL (the name itself is
/// never written).
pub fn account_key(username: &str, base_url: &str) -> String {
    let digest = Sha256::digest(format!("darkhorses-budget:{username}|{base_url}").as_bytes());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

impl SharedBudget {
    pub fn new(ledger: Arc<dyn Ledger>, account: String, rate: f64, burst: u32) -> Self {
        Self {
            ledger,
            account,
            process: fastrand::u64(..),
            rate,
            burst,
            local: Mutex::new(Local {
                answers: Vec::new(),
                pause: None,
                last_send: [None; LANES.len()],
                last_exchange: std::time::Instant::now(),
            }),
            exchanging: tokio::sync::Mutex::new(()),
            failing: AtomicBool::new(false),
            keeping: AtomicBool::new(false),
        }
    }

    pub fn describe(&self) -> String {
        self.ledger.describe()
    }

    /// Asks for a slot for a send in `lane`; `next` is the lane of this process's next waiter.
    /// From now until `LANE_HOLD` after its last send in `lane`, the process holds it (or a
    /// higher lane it also sent in): lower lanes of other processes wait while it parses an answer
    /// and prepares its next request.
    pub async fn take(self: &Arc<Self>, lane: Priority, next: Option<Priority>) -> Take {
        let asked = std::time::Instant::now();
        let hold = {
            let mut local = lock(&self.local);
            local.last_send[lane as usize] = Some(asked);
            // `held` is at least `lane` now.
            let held = local.held().unwrap_or(lane);
            next.map_or(held, |n| n.min(held))
        };
        self.keep_holding();
        match self.exchange(Some(lane), Some(hold)).await {
            Some(Reply::Granted(no)) => Take::Granted(SharedSend { no, asked }),
            Some(Reply::Wait { wait, behind }) => Take::Wait { wait, behind },
            Some(Reply::Noted) | None => Take::Unavailable,
        }
    }

    /// The answer to `send` came back now; reported with the next exchange.
    pub fn answered(&self, send: SharedSend) {
        lock(&self.local).answers.push((send.no, send.asked.elapsed()));
    }

    /// A 429 asked for `pause`: every process of the account pauses and slows down. Reported at
    /// once when a runtime is at hand, else with the next exchange.
    pub fn rate_limited(self: &Arc<Self>, pause: Duration) {
        {
            let mut local = lock(&self.local);
            local.pause = Some(local.pause.map_or(pause, |p| p.max(pause)));
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let this = Arc::clone(self);
            runtime.spawn(async move {
                let hold = lock(&this.local).held();
                this.exchange(None, hold).await;
            });
        }
    }

    /// Between sends, refreshes the held lane every `HEARTBEAT` (when no exchange did), and
    /// releases it once `LANE_HOLD` has passed without a send. One task per process and account.
    fn keep_holding(self: &Arc<Self>) {
        if self.keeping.swap(true, Ordering::AcqRel) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.keeping.store(false, Ordering::Release);
            return;
        };
        let this = Arc::downgrade(self);
        runtime.spawn(async move {
            loop {
                tokio::time::sleep(HEARTBEAT / 2).await;
                // The process dropped its budget: nothing to hold.
                let Some(this) = this.upgrade() else { return };
                let (held, idle) = {
                    let local = lock(&this.local);
                    (local.held(), local.last_exchange.elapsed())
                };
                match held {
                    Some(lane) if idle >= HEARTBEAT / 2 => {
                        this.exchange(None, Some(lane)).await;
                    }
                    Some(_) => {}
                    None => {
                        this.keeping.store(false, Ordering::Release);
                        // A send may have started holding again since: it found the task running.
                        if lock(&this.local).held().is_some() && !this.keeping.swap(true, Ordering::AcqRel) {
                            continue;
                        }
                        this.exchange(None, None).await;
                        return;
                    }
                }
            }
        });
    }

    async fn exchange(&self, lane: Option<Priority>, hold: Option<Priority>) -> Option<Reply> {
        let _one = self.exchanging.lock().await;
        let (answers, pause) = {
            let mut local = lock(&self.local);
            local.last_exchange = std::time::Instant::now();
            (std::mem::take(&mut local.answers), local.pause.take())
        };
        let call = Call { process: self.process, lane, hold, answers, pause, rate: self.rate, burst: self.burst };
        let outcome = match tokio::time::timeout(EXCHANGE_TIMEOUT, self.ledger.exchange(&self.account, &call)).await {
            Ok(outcome) => outcome,
            Err(_) => Err(format!(
                "the shared API budget ({}) did not answer within {}s",
                self.ledger.describe(),
                EXCHANGE_TIMEOUT.as_secs()
            )),
        };
        match outcome {
            Ok(reply) => {
                if self.failing.swap(false, Ordering::Relaxed) {
                    tracing::info!(ledger = %self.ledger.describe(), "the shared API budget answers again");
                }
                Some(reply)
            }
            Err(error) => {
                if self.failing.swap(true, Ordering::Relaxed) {
                    tracing::debug!(%error, "the shared API budget is still unavailable");
                } else {
                    tracing::warn!(
                        "{error}; this process paces its API requests alone (api.rate_limit) until it answers, \
                         so processes running at once may together exceed the limit"
                    );
                }
                // A 429 not delivered is delivered with the next exchange.
                if let Some(pause) = call.pause {
                    let mut local = lock(&self.local);
                    local.pause = Some(local.pause.map_or(pause, |p| p.max(pause)));
                }
                None
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const MS: i64 = 1000;

    fn call(process: u64, lane: Option<Priority>) -> Call {
        Call { process, lane, hold: None, answers: Vec::new(), pause: None, rate: 2.0, burst: 1 }
    }

    /// Sends from several processes as fast as the ledger allows; returns (process, instant).
    fn drive(record: &mut Record, processes: &[(u64, Priority)], until: Micros) -> Vec<(u64, Micros)> {
        let mut now = Micros(0);
        let mut sends = Vec::new();
        let mut next_ask: Vec<Micros> = vec![now; processes.len()];
        while now < until {
            for (i, &(process, lane)) in processes.iter().enumerate() {
                if next_ask[i] > now {
                    continue;
                }
                match decide(record, now, &Call { hold: Some(lane), ..call(process, Some(lane)) }) {
                    Reply::Granted(_) => {
                        sends.push((process, now));
                        next_ask[i] = now;
                    }
                    Reply::Wait { wait, .. } => next_ask[i] = now + wait,
                    Reply::Noted => unreachable!(),
                }
            }
            now = Micros(now.0 + MS);
        }
        sends
    }

    fn max_in_any_window(sends: &[Micros]) -> usize {
        sends.iter().map(|&s| sends.iter().filter(|&&t| t >= s && t.0 < s.0 + 1_000 * MS).count()).max().unwrap_or(0)
    }

    #[test]
    fn four_processes_keep_one_rate_and_the_highest_lane_goes_first() {
        let mut record = Record::default();
        let processes = [(1, Priority::Backfill), (2, Priority::Reference), (3, Priority::Daily), (4, Priority::Live)];
        let sends = drive(&mut record, &processes, Micros(10_000 * MS));
        let at: Vec<Micros> = sends.iter().map(|s| s.1).collect();
        assert!(max_in_any_window(&at) <= 2, "{sends:?}");
        assert!(sends.len() >= 17, "about 2 per 1.1 s over 10 s: {}", sends.len());
        // The first ask wins the first slot; from then on live waits for every slot and takes it.
        assert!(sends[1..].iter().all(|s| s.0 == 4), "{sends:?}");
    }

    #[test]
    fn a_lower_lane_yields_to_a_fresh_waiter_and_not_to_a_dead_one() {
        let mut record = Record::default();
        // Live registers as a waiter while the slot is used.
        assert!(matches!(decide(&mut record, Micros(0), &call(1, Some(Priority::Backfill))), Reply::Granted(_)));
        let live = decide(&mut record, Micros(10 * MS), &call(2, Some(Priority::Live)));
        assert_eq!(live, Reply::Wait { wait: HEARTBEAT, behind: None });
        let live = decide(&mut record, Micros(300 * MS), &call(2, Some(Priority::Live)));
        assert!(matches!(live, Reply::Wait { behind: None, .. }), "{live:?}");
        // When the slot frees, backfill asks first but yields.
        let backfill = decide(&mut record, Micros(600 * MS), &call(1, Some(Priority::Backfill)));
        assert_eq!(backfill, Reply::Wait { wait: YIELD_POLL, behind: Some(Priority::Live) });
        // Live dies without asking again: once its record expires, backfill goes.
        let later = Micros(300 * MS) + WAITER_TTL;
        assert!(matches!(decide(&mut record, later, &call(1, Some(Priority::Backfill))), Reply::Granted(_)));
    }

    #[test]
    fn a_held_lane_keeps_lower_lanes_waiting_between_sends_until_released() {
        let mut record = Record::default();
        let live = Call { hold: Some(Priority::Live), ..call(1, Some(Priority::Live)) };
        assert!(matches!(decide(&mut record, Micros(0), &live), Reply::Granted(_)));
        // Live parses its answer and refreshes its hold; the slot frees, backfill still yields.
        let refresh = Call { hold: Some(Priority::Live), ..call(1, None) };
        assert_eq!(decide(&mut record, Micros(300 * MS), &refresh), Reply::Noted);
        let reply = decide(&mut record, Micros(600 * MS), &call(2, Some(Priority::Backfill)));
        assert_eq!(reply, Reply::Wait { wait: YIELD_POLL, behind: Some(Priority::Live) });
        // Daily, above backfill, yields too; its wait makes backfill yield to it in turn.
        let reply = decide(&mut record, Micros(610 * MS), &call(3, Some(Priority::Daily)));
        assert_eq!(reply, Reply::Wait { wait: YIELD_POLL, behind: Some(Priority::Live) });
        // Released (its job is over): daily goes, backfill still yields to daily's hold.
        assert_eq!(decide(&mut record, Micros(650 * MS), &call(1, None)), Reply::Noted);
        let reply = decide(&mut record, Micros(660 * MS), &call(2, Some(Priority::Backfill)));
        assert_eq!(reply, Reply::Wait { wait: YIELD_POLL, behind: Some(Priority::Daily) });
        assert!(matches!(decide(&mut record, Micros(670 * MS), &call(3, Some(Priority::Daily))), Reply::Granted(_)));
    }

    #[test]
    fn a_lane_is_held_only_until_lane_hold_after_its_last_send() {
        let now = std::time::Instant::now();
        let mut local = Local { answers: Vec::new(), pause: None, last_send: [None; LANES.len()], last_exchange: now };
        assert_eq!(local.held(), None);
        local.last_send[Priority::Daily as usize] = Some(now);
        assert_eq!(local.held(), Some(Priority::Daily));
        local.last_send[Priority::Live as usize] = now.checked_sub(LANE_HOLD + Duration::from_millis(1));
        assert_eq!(local.held(), Some(Priority::Daily), "live's hold has lapsed");
        local.last_send[Priority::Live as usize] = Some(now);
        assert_eq!(local.held(), Some(Priority::Live));
    }

    #[test]
    fn answers_and_429s_reported_by_one_process_pace_all() {
        let mut record = Record::default();
        let Reply::Granted(a) = decide(&mut record, Micros(0), &call(1, Some(Priority::Daily))) else { panic!() };
        let Reply::Granted(_) = decide(&mut record, Micros(500 * MS), &call(2, Some(Priority::Daily))) else {
            panic!()
        };
        // Unanswered, the first send may arrive as late as the slack: the third waits for it.
        let Reply::Wait { wait, .. } = decide(&mut record, Micros(1_000 * MS), &call(3, Some(Priority::Daily))) else {
            panic!()
        };
        assert_eq!(wait, Duration::from_millis(100));
        // Its answer came back 5 ms after the slot: the window opens now.
        let report = Call { answers: vec![(a, Duration::from_millis(5))], ..call(1, None) };
        assert_eq!(decide(&mut record, Micros(1_004 * MS), &report), Reply::Noted);
        assert!(matches!(decide(&mut record, Micros(1_005 * MS), &call(3, Some(Priority::Daily))), Reply::Granted(_)));
        // A 429 seen by one pauses every other.
        let limited = Call { pause: Some(Duration::from_secs(3)), ..call(1, None) };
        decide(&mut record, Micros(1_100 * MS), &limited);
        let Reply::Wait { wait, .. } = decide(&mut record, Micros(3_000 * MS), &call(2, Some(Priority::Live))) else {
            panic!()
        };
        assert_eq!(wait, HEARTBEAT);
    }

    #[test]
    fn a_record_from_a_clock_far_ahead_or_a_torn_write_does_not_hold_anyone() {
        let mut record = Record::default();
        decide(&mut record, Micros(3_600_000 * MS), &call(1, Some(Priority::Daily)));
        decide(&mut record, Micros(3_600_000 * MS), &call(2, Some(Priority::Daily)));
        // The clock went back an hour: the sends "after now" are forgotten.
        assert!(matches!(decide(&mut record, Micros(0), &call(3, Some(Priority::Daily))), Reply::Granted(_)));
        let (_, reply) = exchange_text(Some("{\"pacer\": {\"tat\": 12"), Micros(0), &call(1, Some(Priority::Daily)));
        assert!(matches!(reply, Reply::Granted(_)));
    }

    #[test]
    fn the_file_ledger_is_private_and_shared_by_every_handle() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = FileLedger::path_for(&dir.path().join("darkhorses.db"));
        assert!(path.ends_with("darkhorses.db.budget"));
        let a = FileLedger::open(&path).unwrap();
        let b = FileLedger::open(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let first = a.exchange("acct", &call(1, Some(Priority::Daily))).await.unwrap();
            assert!(matches!(first, Reply::Granted(_)));
            let second = b.exchange("acct", &call(2, Some(Priority::Daily))).await.unwrap();
            assert!(matches!(second, Reply::Wait { behind: None, .. }), "{second:?}");
            // Another account in the same file has its own budget.
            assert!(matches!(b.exchange("other", &call(2, Some(Priority::Daily))).await.unwrap(), Reply::Granted(_)));
        });
        let err = FileLedger::open(&dir.path().join("missing/x.budget")).unwrap_err();
        assert!(err.contains("missing/x.budget") && err.contains("api.share_budget"), "{err}");
    }
}
