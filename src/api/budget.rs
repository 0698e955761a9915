//! The one rate budget per account in the process: never more than `api.rate_limit` requests in
//! any 1-second window, bursts only as `api.burst_allowance` allows, 429s slow it down, and the
//! highest-priority waiter goes first.
//!
//! It is a GCRA ("next free instant") gate plus a sliding log of the last sends, held under a
//! mutex, with a small priority queue of waiters. Not governor: measured here,
//! `Quota::per_second(2)` lets 3 requests out inside the first second.
//!
//! The server counts a request when it arrives, some time after it left the gate. The log keeps,
//! per send, the latest instant it can have arrived: its answer, if the caller reported one
//! within `WINDOW_SLACK` (`Budget::answered`), else the send plus `WINDOW_SLACK`. A new send waits
//! until it is a full window after the `n`-th latest of those, so a fast answer costs nothing and
//! a delay of up to `WINDOW_SLACK` between gate and server (scheduling on a loaded machine, a new
//! connection) cannot put one request too many into a server-side window.
//!
//! Processes sharing an account share its rate limit through a ledger (`shared`, attached with
//! `Budget::share`): this budget stays the first gate and keeps its priority queue; the head of the
//! queue then asks the ledger, which runs the same pacing (`Pacer`) over every process's sends,
//! and waits while it says so. See docs/api-budget.md.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, OnceLock, Weak};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::Error;
use super::shared_budget::{SharedBudget, SharedSend, Take};

/// The window the API counts requests in.
pub const WINDOW: Duration = Duration::from_secs(1);
/// The longest delay between leaving the gate and arriving at the server that the window
/// tolerates for a request whose answer has not come back yet. It costs nothing when answers come
/// back faster than this, and at most 9% of the throughput (2 per 1.1 s) when they do not; a 429
/// costs far more (a pause, then half the rate for a minute). Measured on this machine (2 cores
/// shared, load 5-11, debug builds): gate-to-sandbox delays up to 47 ms while the jobs parsed pages
/// on the async workers, then mostly under 26 ms with stalls of 121 ms; 30 ms, and under the whole
/// test suite in parallel 50 ms, let a third request into a sandbox window.
pub const WINDOW_SLACK: Duration = Duration::from_millis(100);
/// A send this late (or less) after its scheduled instant keeps the schedule rather than
/// restarting it from now (capped at half the interval). A waiter wakes a timer tick (about 1 ms)
/// after its instant; restarting from now each time lost that much per send: 5% at 50/s.
pub const CATCH_UP: Duration = Duration::from_millis(5);
/// How long the rate stays halved after a 429 (longer if `Retry-After` says so).
pub const SLOWDOWN_PERIOD: Duration = Duration::from_secs(60);
/// The rate is divided by this while slowed down after a 429.
pub const SLOWDOWN_FACTOR: u32 = 2;

/// Who is waiting for the budget. When several wait, the highest priority goes first: live
/// before daily before reference before backfill. (`Ord`: `Live` is the smallest.)
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    Live,
    #[default]
    Daily,
    Reference,
    Backfill,
}

/// A rate budget shared by every client of one account in the process (see `Budget::shared`).
#[derive(Debug)]
pub struct Budget {
    state: Mutex<State>,
    /// Woken whenever the queue head or the pacing changes, so waiters re-check.
    changed: Notify,
    /// The account's budget across processes, when the run has a database to keep it in.
    shared: OnceLock<Arc<SharedBudget>>,
}

/// What the head of the queue does next.
enum Step {
    /// Not the head: wait for a change.
    Wait,
    /// The head, but this process's own pacing says not yet.
    Sleep(Instant),
    /// The head, free here: ask the other processes' ledger.
    Ask(Arc<SharedBudget>, Option<Priority>),
}

/// A point in time the pacing counts in: this process's monotonic clock (`Instant`) for the
/// in-process budget, the ledger's clock (`shared_budget::Micros`) for the shared one.
pub trait Moment: Copy + Ord + std::ops::Add<Duration, Output = Self> + std::fmt::Debug {
    fn checked_sub(self, d: Duration) -> Option<Self>;
}

impl Moment for Instant {
    fn checked_sub(self, d: Duration) -> Option<Self> {
        Instant::checked_sub(&self, d)
    }
}

/// The pacing of one account: GCRA spacing, the window log, the 429 pause and slow-down. The
/// in-process budget runs it on `Instant`s; the shared ledger runs the same code on its own clock
/// over the sends of every process.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pacer<T> {
    /// 1 / rate.
    #[serde(skip)]
    interval: Duration,
    #[serde(skip)]
    burst: u32,
    /// At most this many sends in any `WINDOW` (+ slack).
    #[serde(skip)]
    window_cap: usize,
    /// GCRA theoretical arrival time: when the next send would be on schedule.
    tat: Option<T>,
    /// The sends that can still share a server-side window with the next one, oldest first.
    sent: VecDeque<Sent<T>>,
    next_send: u64,
    /// No send before this (a `Retry-After`).
    paused_until: Option<T>,
    /// The rate is divided by `SLOWDOWN_FACTOR` and bursts are off until this.
    slowed_until: Option<T>,
}

impl<T: Moment> Pacer<T> {
    pub fn new(rate: f64, burst: u32) -> Self {
        let mut pacer = Self {
            interval: WINDOW,
            burst: 1,
            window_cap: 1,
            tat: None,
            sent: VecDeque::new(),
            next_send: 0,
            paused_until: None,
            slowed_until: None,
        };
        pacer.configure(rate, burst);
        pacer
    }

    /// Sets the rate and burst (a ledger's record carries only the sends; each caller brings its
    /// settings).
    pub fn configure(&mut self, rate: f64, burst: u32) {
        // Callers validate `rate` (finite, > 0); the floor keeps a zero interval impossible.
        self.interval = Duration::try_from_secs_f64(1.0 / rate).unwrap_or(WINDOW).max(Duration::from_micros(1));
        self.burst = burst.max(1);
        // Truncation is intended: 2.5 requests/s allows 2 in a window. Float-to-int `as` saturates.
        self.window_cap = (rate.floor() as usize).max(1);
    }

    fn slowed(&self, now: T) -> bool {
        self.slowed_until.is_some_and(|until| now < until)
    }

    /// The spacing and burst tolerance in force at `now`.
    fn pacing(&self, now: T) -> (Duration, Duration) {
        if self.slowed(now) {
            (self.interval * SLOWDOWN_FACTOR, Duration::ZERO)
        } else {
            (self.interval, self.interval * (self.burst - 1))
        }
    }

    /// The earliest instant a send may leave, given the sends so far.
    pub fn earliest(&self, now: T) -> T {
        let (_, tolerance) = self.pacing(now);
        let mut at = now;
        if let Some(tat) = self.tat {
            at = at.max(tat.checked_sub(tolerance).unwrap_or(now));
        }
        if self.sent.len() >= self.window_cap {
            // The window_cap-th latest possible arrival: a send before a full window after it
            // could make window_cap + 1 arrivals within one window.
            let mut arrivals: Vec<T> = self.sent.iter().map(Sent::arrived_by).collect();
            arrivals.sort_unstable_by(|a, b| b.cmp(a));
            at = at.max(arrivals[self.window_cap - 1] + WINDOW);
        }
        if let Some(paused) = self.paused_until {
            at = at.max(paused);
        }
        at
    }

    /// Records a send at `now`.
    pub fn take(&mut self, now: T) -> SendNo {
        let (interval, _) = self.pacing(now);
        // Slightly late (timer resolution): keep the schedule, so the average rate is the
        // configured one. Idle for longer: start again from now. The window log caps every window
        // whatever the schedule says.
        let base = match self.tat {
            Some(tat) if now <= tat + CATCH_UP.min(interval / 2) => tat,
            _ => now,
        };
        self.tat = Some(base + interval);
        // A send whose latest arrival is a window old can no longer share a window with a new one.
        while self.sent.front().is_some_and(|s| s.at + WINDOW_SLACK + WINDOW <= now) {
            self.sent.pop_front();
        }
        let id = SendNo(self.next_send);
        self.next_send += 1;
        self.sent.push_back(Sent { id, at: now, answered: None });
        id
    }

    /// The answer to send `id` came back at `now`: it reached the server by then.
    pub fn answered(&mut self, id: SendNo, now: T) {
        if let Some(sent) = self.sent.iter_mut().rev().find(|s| s.id == id) {
            sent.answered = Some(now);
        }
    }

    /// The answer to send `id` came back at most `after` after the send (a ledger's clock is not
    /// the caller's, so the caller reports a duration).
    pub fn answered_after(&mut self, id: SendNo, after: Duration) {
        if let Some(sent) = self.sent.iter_mut().rev().find(|s| s.id == id) {
            sent.answered = Some(sent.at + after);
        }
    }

    pub fn rate_limited(&mut self, now: T, pause: Duration) {
        let until = now + pause;
        self.paused_until = Some(self.paused_until.map_or(until, |p| p.max(until)));
        let slow_until = now + pause.max(SLOWDOWN_PERIOD);
        self.slowed_until = Some(self.slowed_until.map_or(slow_until, |s| s.max(slow_until)));
    }

    /// Forgets what lies implausibly far after `now` (a wall clock stepped back under a ledger):
    /// sends after `now`, a schedule further ahead than one slowed-down interval. A 429's pause
    /// stays: it is the server's word.
    pub fn forget_future(&mut self, now: T) {
        if self.sent.back().is_some_and(|s| s.at > now) {
            self.sent.clear();
        }
        let horizon = now + self.interval * SLOWDOWN_FACTOR;
        if self.tat.is_some_and(|tat| tat > horizon) {
            self.tat = None;
        }
    }
}

/// The in-process budget's state: the pacing and the queue of waiters.
#[derive(Debug)]
struct State {
    pacer: Pacer<Instant>,
    /// Waiters in the order they go: priority, then arrival.
    queue: BTreeSet<(Priority, u64)>,
    next_ticket: u64,
}

/// A send's number in a pacer's log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SendNo(pub u64);

/// One send through the gate, for `Budget::answered`.
#[derive(Debug, Clone, Copy)]
pub struct SendId {
    local: SendNo,
    /// The same send in the shared ledger, when one was consulted.
    shared: Option<SharedSend>,
    /// How long it waited on other processes' use of the account.
    waited: Option<Duration>,
}

impl SendId {
    /// How long this send waited for other processes sharing the account (`None`: it did not).
    pub fn waited_on_others(&self) -> Option<Duration> {
        self.waited
    }
}

/// A send in the log.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct Sent<T> {
    id: SendNo,
    at: T,
    #[serde(skip_serializing_if = "Option::is_none")]
    answered: Option<T>,
}

impl<T: Moment> Sent<T> {
    /// The latest instant the request can have reached the server: when its answer came back,
    /// or, without an answer yet (or a slow one), the send plus the slack.
    fn arrived_by(&self) -> T {
        let bound = self.at + WINDOW_SLACK;
        self.answered.map_or(bound, |answered| answered.min(bound))
    }
}

/// Budgets alive in the process, by account, base URL and settings.
static BUDGETS: LazyLock<Mutex<HashMap<String, Weak<Budget>>>> = LazyLock::new(|| Mutex::new(HashMap::new()));

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave the state inconsistent (every update is a few
    // field writes), so a poisoned lock is used as is.
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Budget {
    /// A budget of `rate` requests per second (finite, > 0) with `burst` requests allowed back to
    /// back (1 = strictly spaced at 1/rate).
    pub fn new(rate: f64, burst: u32) -> Self {
        Self {
            state: Mutex::new(State { pacer: Pacer::new(rate, burst), queue: BTreeSet::new(), next_ticket: 0 }),
            changed: Notify::new(),
            shared: OnceLock::new(),
        }
    }

    /// The budget for `key` (account and base URL) with these settings: every client built for
    /// the same key while another is alive shares it.
    pub fn shared(key: &str, rate: f64, burst: u32) -> Arc<Self> {
        let key = format!("{key}|{rate}|{burst}");
        let mut budgets = lock(&BUDGETS);
        budgets.retain(|_, weak| weak.strong_count() > 0);
        if let Some(budget) = budgets.get(&key).and_then(Weak::upgrade) {
            return budget;
        }
        let budget = Arc::new(Self::new(rate, burst));
        budgets.insert(key, Arc::downgrade(&budget));
        budget
    }

    /// From now on every send also takes its slot from `shared`, the account's budget across
    /// processes. The first one attached stays (one process, one account: one ledger).
    pub fn share(&self, shared: Arc<SharedBudget>) {
        if let Err(other) = self.shared.set(shared) {
            tracing::debug!(ledger = %other.describe(), "the API budget already shares through another ledger");
        }
    }

    /// Whether sends also take their slot across processes.
    pub fn is_shared(&self) -> bool {
        self.shared.get().is_some()
    }

    /// Waits for a send slot: the highest-priority waiter goes first, each when the budget
    /// allows, and (with a shared budget) when the other processes' use allows. Returns
    /// `Error::Cancelled` promptly when `cancel` fires. Report the answer (or the failure) with
    /// `answered` as soon as it comes back: it lets the next window open earlier.
    pub async fn acquire(&self, priority: Priority, cancel: &CancellationToken) -> Result<SendId, Error> {
        if cancel.is_cancelled() {
            return Err(Error::Cancelled);
        }
        let mut ticket = Ticket::new(self, priority);
        // When the shared budget first said to wait.
        let mut held_since: Option<std::time::Instant> = None;
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            // Register for wakeups before looking, so a change between look and wait is not lost.
            changed.as_mut().enable();
            let step = {
                let mut state = lock(&self.state);
                if state.queue.first() == Some(&ticket.key) {
                    let now = Instant::now();
                    let at = state.pacer.earliest(now);
                    if at > now {
                        Step::Sleep(at)
                    } else if let Some(shared) = self.shared.get() {
                        // The lane this process still waits in once this send has gone.
                        let next = state.queue.iter().nth(1).map(|(p, _)| *p);
                        Step::Ask(Arc::clone(shared), next)
                    } else {
                        return Ok(self.grant(&mut state, &mut ticket, now, None, None));
                    }
                } else {
                    Step::Wait
                }
            };
            let wake_at = match step {
                Step::Wait => None,
                Step::Sleep(at) => Some(at),
                Step::Ask(shared, next) => {
                    let taken = tokio::select! {
                        biased;
                        () = cancel.cancelled() => return Err(Error::Cancelled),
                        taken = shared.take(priority, next) => taken,
                    };
                    match taken {
                        Take::Wait { wait, behind } => {
                            if held_since.is_none() {
                                held_since = Some(std::time::Instant::now());
                                log_shared_wait(priority, wait, behind);
                            }
                            Some(Instant::now() + wait)
                        }
                        Take::Granted(send) => {
                            let waited = held_since.map(|since| since.elapsed());
                            return Ok(self.grant(
                                &mut lock(&self.state),
                                &mut ticket,
                                Instant::now(),
                                Some(send),
                                waited,
                            ));
                        }
                        // The ledger cannot be reached: this process's own budget alone decides.
                        Take::Unavailable => {
                            return Ok(self.grant(&mut lock(&self.state), &mut ticket, Instant::now(), None, None));
                        }
                    }
                }
            };
            match wake_at {
                Some(at) => tokio::select! {
                    biased;
                    () = cancel.cancelled() => return Err(Error::Cancelled),
                    () = &mut changed => {}
                    () = tokio::time::sleep_until(at) => {}
                },
                None => tokio::select! {
                    biased;
                    () = cancel.cancelled() => return Err(Error::Cancelled),
                    () = &mut changed => {}
                },
            }
        }
    }

    /// Records the send of `ticket` at `now` and lets the next waiter look.
    fn grant(
        &self,
        state: &mut State,
        ticket: &mut Ticket<'_>,
        now: Instant,
        shared: Option<SharedSend>,
        waited: Option<Duration>,
    ) -> SendId {
        let local = state.pacer.take(now);
        state.queue.remove(&ticket.key);
        ticket.done = true;
        self.changed.notify_waiters();
        SendId { local, shared, waited }
    }

    /// The answer to `id` (any status, or a failure) came back now, so the request reached the
    /// server, if at all, by now.
    pub fn answered(&self, id: SendId) {
        lock(&self.state).pacer.answered(id.local, Instant::now());
        if let (Some(shared), Some(send)) = (self.shared.get(), id.shared) {
            shared.answered(send);
        }
        self.changed.notify_waiters();
    }

    /// A 429 arrived: nobody sends for `pause`, and the rate is halved for a while; with a
    /// shared budget, in every process of the account.
    pub fn rate_limited(&self, pause: Duration) {
        lock(&self.state).pacer.rate_limited(Instant::now(), pause);
        if let Some(shared) = self.shared.get() {
            shared.rate_limited(pause);
        }
        self.changed.notify_waiters();
    }

    /// Requests waiting for the budget now.
    pub fn waiting(&self) -> usize {
        lock(&self.state).queue.len()
    }
}

/// The debug line of a send that waits on other processes (once per send).
fn log_shared_wait(lane: Priority, wait: Duration, behind: Option<Priority>) {
    match behind {
        Some(higher) => tracing::debug!(
            lane = ?lane,
            behind = ?higher,
            "API budget: waiting, another process has a higher-priority request waiting"
        ),
        None => tracing::debug!(
            lane = ?lane,
            wait_ms = wait.as_millis() as u64,
            "API budget: waiting, other processes of this account used the rate limit"
        ),
    }
}

/// A place in the queue; leaves the queue when dropped (served, cancelled or abandoned).
struct Ticket<'a> {
    budget: &'a Budget,
    key: (Priority, u64),
    done: bool,
}

impl<'a> Ticket<'a> {
    fn new(budget: &'a Budget, priority: Priority) -> Self {
        let key = {
            let mut state = lock(&budget.state);
            let key = (priority, state.next_ticket);
            state.next_ticket += 1;
            state.queue.insert(key);
            key
        };
        // A new head (higher priority) must make the old head re-check.
        budget.changed.notify_waiters();
        Self { budget, key, done: false }
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        if !self.done {
            lock(&self.budget.state).queue.remove(&self.key);
            self.budget.changed.notify_waiters();
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// Sends as fast as the state allows, `n` times, from `start`; returns the send instants.
    fn drive(state: &mut Pacer<Instant>, start: Instant, n: usize) -> Vec<Instant> {
        let mut now = start;
        let mut sends = Vec::new();
        for _ in 0..n {
            now = state.earliest(now).max(now);
            let _ = state.take(now);
            sends.push(now);
        }
        sends
    }

    fn max_in_any_window(sends: &[Instant]) -> usize {
        sends.iter().map(|&s| sends.iter().filter(|&&t| t >= s && t < s + WINDOW).count()).max().unwrap_or(0)
    }

    #[test]
    fn burst_one_spaces_sends_and_keeps_every_window() {
        let start = Instant::now();
        let mut state = Pacer::new(2.0, 1);
        let sends = drive(&mut state, start, 10);
        assert_eq!(sends[1] - sends[0], Duration::from_millis(500));
        assert!(max_in_any_window(&sends) <= 2);
        // 10 sends at 2/s take 4.5 s plus the slack of each of the 4 later windows (no answers).
        let span = sends[9] - sends[0];
        assert_eq!(span, Duration::from_millis(4500) + WINDOW_SLACK * 4);
    }

    #[test]
    fn burst_allowance_lets_some_out_back_to_back_but_never_breaks_the_window() {
        let start = Instant::now();
        let mut state = Pacer::new(5.0, 3);
        let sends = drive(&mut state, start, 30);
        assert_eq!(sends[0], sends[2], "the first three leave together");
        assert!(max_in_any_window(&sends) <= 5);
        // A burst above the rate is cut to the rate by the window.
        let mut greedy = Pacer::new(2.0, 10);
        let sends = drive(&mut greedy, start, 10);
        assert!(max_in_any_window(&sends) <= 2);
    }

    #[test]
    fn fractional_rates_keep_their_spacing() {
        let start = Instant::now();
        let mut state = Pacer::new(0.5, 1);
        let sends = drive(&mut state, start, 3);
        assert_eq!(sends[1] - sends[0], Duration::from_secs(2));
        let mut state = Pacer::new(2.5, 1);
        let sends = drive(&mut state, start, 20);
        assert!(max_in_any_window(&sends) <= 2);
    }

    #[test]
    fn a_429_pauses_then_halves_the_rate() {
        let start = Instant::now();
        let mut state = Pacer::new(2.0, 2);
        let _ = state.take(start);
        state.rate_limited(start, Duration::from_secs(3));
        assert_eq!(state.earliest(start), start + Duration::from_secs(3));
        let sends = drive(&mut state, start, 4);
        assert_eq!(sends[0], start + Duration::from_secs(3));
        assert_eq!(sends[1] - sends[0], Duration::from_secs(1), "half the rate, no burst");
        assert_eq!(sends[2] - sends[1], Duration::from_secs(1));
        // After the slowdown period the normal rate returns.
        let later = start + SLOWDOWN_PERIOD + Duration::from_secs(10);
        let sends = drive(&mut state, later, 3);
        assert_eq!(sends[0], later);
        assert_eq!(sends[1], later, "the burst is back");
        assert_eq!(sends[2] - sends[0], WINDOW + WINDOW_SLACK);
    }

    #[test]
    fn a_fast_answer_opens_the_next_window_early_and_a_slow_one_costs_the_slack() {
        let start = Instant::now();
        let ms = Duration::from_millis;
        // Answered 3 ms after each send: the third send goes a window after the first answer.
        let mut state = Pacer::new(2.0, 1);
        let a = state.take(start);
        state.answered(a, start + ms(3));
        let b = state.take(start + ms(500));
        state.answered(b, start + ms(503));
        assert_eq!(state.earliest(start + ms(600)), start + ms(1003));
        // Not answered (or answered late): the slack is added.
        let mut state = Pacer::new(2.0, 1);
        let a = state.take(start);
        let _ = state.take(start + ms(500));
        assert_eq!(state.earliest(start + ms(600)), start + WINDOW + WINDOW_SLACK);
        state.answered(a, start + ms(400));
        assert_eq!(state.earliest(start + ms(600)), start + WINDOW + WINDOW_SLACK, "a late answer is capped");
    }

    #[test]
    fn the_window_counts_the_latest_possible_arrivals_not_the_last_sends() {
        let start = Instant::now();
        let ms = Duration::from_millis;
        // Two allowed per window. The first send is not answered (it may arrive as late as
        // +WINDOW_SLACK); the next two are answered at once (+21 ms, +41 ms). A fourth must wait a window
        // after the second-latest possible arrival (+41 ms: the first and third could both still
        // be in its window), not after the older of the last two sends (+21 ms).
        let mut state = Pacer::new(2.0, 10);
        state.window_cap = 2;
        state.interval = ms(1);
        let _ = state.take(start);
        let b = state.take(start + ms(20));
        state.answered(b, start + ms(21));
        let c = state.take(start + ms(40));
        state.answered(c, start + ms(41));
        assert!(WINDOW_SLACK > ms(41));
        assert_eq!(state.earliest(start + ms(60)), start + ms(41) + WINDOW);
    }

    #[test]
    fn sends_a_timer_tick_late_keep_the_configured_rate() {
        let start = Instant::now();
        let ms = Duration::from_millis;
        let mut state = Pacer::new(50.0, 1);
        let mut now = start;
        let mut sends = Vec::new();
        for _ in 0..200 {
            // Each waiter wakes 1 ms after its instant; the answer comes 1 ms after the send.
            now = state.earliest(now).max(now) + ms(1);
            let id = state.take(now);
            state.answered(id, now + ms(1));
            sends.push(now);
        }
        assert!(max_in_any_window(&sends) <= 50);
        let rate = 199.0 / (sends[199] - sends[0]).as_secs_f64();
        assert!(rate >= 0.98 * 50.0, "{rate} requests/s");
    }

    #[test]
    fn priorities_order_the_queue() {
        let mut queue = BTreeSet::new();
        queue.insert((Priority::Backfill, 0));
        queue.insert((Priority::Daily, 1));
        queue.insert((Priority::Live, 2));
        queue.insert((Priority::Daily, 3));
        let order: Vec<_> = queue.into_iter().collect();
        assert_eq!(
            order,
            vec![(Priority::Live, 2), (Priority::Daily, 1), (Priority::Daily, 3), (Priority::Backfill, 0)]
        );
    }

    #[test]
    fn clients_of_one_account_share_one_budget() {
        let a = Budget::shared("test-share|https://example.test", 2.0, 1);
        let b = Budget::shared("test-share|https://example.test", 2.0, 1);
        let c = Budget::shared("test-share|https://other.test", 2.0, 1);
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &c));
    }

    #[tokio::test]
    async fn the_highest_priority_waiter_goes_first() {
        let budget = Arc::new(Budget::new(20.0, 1));
        let cancel = CancellationToken::new();
        // Use the first slot so every later request must wait.
        budget.acquire(Priority::Daily, &cancel).await.unwrap();
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for (i, p) in
            [Priority::Backfill, Priority::Reference, Priority::Backfill, Priority::Live].into_iter().enumerate()
        {
            let (task_budget, cancel, order) = (budget.clone(), cancel.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                task_budget.acquire(p, &cancel).await.unwrap();
                lock(&order).push((p, i));
            }));
            // Let each task queue up before the next is spawned.
            while budget.waiting() < i + 1 {
                tokio::task::yield_now().await;
            }
        }
        for t in tasks {
            t.await.unwrap();
        }
        let order = lock(&order).clone();
        assert_eq!(
            order,
            vec![(Priority::Live, 3), (Priority::Reference, 1), (Priority::Backfill, 0), (Priority::Backfill, 2)]
        );
    }

    #[tokio::test]
    async fn cancelling_stops_a_wait_promptly() {
        let budget = Budget::new(2.0, 1);
        let cancel = CancellationToken::new();
        budget.rate_limited(Duration::from_secs(100));
        let started = std::time::Instant::now();
        let waiter = budget.acquire(Priority::Live, &cancel);
        let canceller = async {
            while budget.waiting() == 0 {
                tokio::task::yield_now().await;
            }
            cancel.cancel();
        };
        let (result, ()) = tokio::join!(waiter, canceller);
        assert!(matches!(result, Err(Error::Cancelled)));
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(budget.waiting(), 0, "the cancelled waiter left the queue");
    }
}
