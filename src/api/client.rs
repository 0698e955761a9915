//! The HTTP client: base URL, credentials, one request loop over the shared rate budget
//! (`budget`), the one retry decision (`retry::classify`) and the plan gate (`plan`). It deals in
//! HTTP and raw bytes: every endpoint returns `RawResponse`s; parsing is `normalize`'s.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use chrono::{NaiveDate, Utc};
use reqwest::Url;
use reqwest::header::{ACCEPT, RETRY_AFTER};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use super::Error;
use super::budget::{Budget, Priority, SendId};
use super::plan;
use super::retry::{self, Decision, MAX_RATE_LIMITED_PER_REQUEST, Outcome, RetryPolicy};
use super::shared_budget::{self, Ledger, SharedBudget};
use crate::clock::Clock;
use crate::config::{ApiConfig, Plan, RetryConfig, Secret, defaults};
use crate::model::RawResponse;

/// The Racing API's base URL.
pub const DEFAULT_BASE_URL: &str = defaults::API_BASE_URL;
/// The `User-Agent` sent when `api.user_agent` is empty.
pub const DEFAULT_USER_AGENT: &str = concat!("darkhorses/", env!("CARGO_PKG_VERSION"));
/// Connecting never waits longer than this, even when `api.timeout` is longer.
pub const MAX_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Idle keep-alive connections are closed after this.
pub const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Results per page (`limit=`): the API's maximum.
pub const RESULTS_PAGE_LIMIT: u64 = 50;
/// The largest `skip=` the API accepts on `/results`.
pub const RESULTS_MAX_SKIP: u64 = 20_000;
/// Priority of `/horses/{id}/pro` enrichment, whatever the client's own priority.
pub const ENRICHMENT_PRIORITY: Priority = Priority::Backfill;

const CREDENTIALS_HELP: &str =
    "set RACING_API_USERNAME and RACING_API_PASSWORD (or api.username and api.password in the config file)";

/// `day=` of the racecards endpoints below Pro.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Day {
    Today,
    Tomorrow,
}

impl Day {
    /// The value sent as `day=`.
    pub fn as_str(self) -> &'static str {
        match self {
            Day::Today => "today",
            Day::Tomorrow => "tomorrow",
        }
    }
}

/// Counters of every request the client made since it was built.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiStats {
    /// HTTP requests sent (each attempt counts).
    pub calls: u64,
    /// Attempts after the first for the same request.
    pub retries: u64,
    /// 429 answers.
    pub rate_limited: u64,
    /// Attempts that failed (any non-2xx, timeout, dropped connection, malformed body).
    pub errors: u64,
    /// Response body bytes received.
    pub bytes: u64,
    /// Sum of request latencies, milliseconds.
    pub latency_ms_total: u64,
    /// Requests that waited for other processes sharing the account's rate limit.
    #[serde(default)]
    pub shared_waits: u64,
    /// Milliseconds those requests waited.
    #[serde(default)]
    pub shared_wait_ms: u64,
}

#[derive(Debug, Default)]
struct Counters {
    calls: AtomicU64,
    retries: AtomicU64,
    rate_limited: AtomicU64,
    errors: AtomicU64,
    bytes: AtomicU64,
    latency_ms_total: AtomicU64,
    shared_waits: AtomicU64,
    shared_wait_ms: AtomicU64,
}

fn bump(counter: &AtomicU64, by: u64) {
    counter.fetch_add(by, Ordering::Relaxed);
}

/// What every clone shares.
#[derive(Debug)]
struct Shared {
    http: reqwest::Client,
    /// Validated, without credentials, query or fragment.
    base: Url,
    username: Secret,
    password: Secret,
    plan: Plan,
    policy: RetryPolicy,
    /// The run's clock, which stamps every response's `fetched_at`: under `--now` a fetch is
    /// recorded at the pinned time, whichever job made it.
    clock: Arc<dyn Clock>,
    budget: Arc<Budget>,
    rate: f64,
    burst: u32,
    counters: Counters,
    login: Login,
}

/// Until the API has accepted these credentials once, requests go one at a time, and a 401/403
/// fails the requests that were waiting behind it without sending them: wrong credentials cost
/// one request, not one per unit in flight.
#[derive(Debug, Default)]
struct Login {
    accepted: AtomicBool,
    /// Held by the one request in flight while the credentials are unproven.
    first: tokio::sync::Mutex<()>,
    /// When the last 401/403 answered, with its URL and status.
    rejected: std::sync::Mutex<Option<(std::time::Instant, String, u16)>>,
}

/// The Racing API client. Cheap to clone; clones share one rate budget and one set of counters.
/// Clients built separately for the same account and base URL share the rate budget too.
#[derive(Debug, Clone)]
pub struct Client {
    shared: Arc<Shared>,
    priority: Priority,
    cancel: CancellationToken,
}

/// One request before it is sent: its path below the base, full URL and query string.
#[derive(Debug, Clone)]
struct Request {
    endpoint: String,
    url: Url,
    params: String,
}

/// The start of a paged body: only what paging needs.
#[derive(Debug, Deserialize)]
struct PageHeader {
    #[serde(default)]
    total: serde_json::Value,
    #[serde(default)]
    results: Option<Vec<serde::de::IgnoredAny>>,
}

/// `total` as a count: the API sends a number, and some fields of it arrive as numeric strings.
fn page_total(value: &serde_json::Value) -> Option<u64> {
    match value {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Whether `url` names this machine (plain http is allowed only there).
pub fn is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    // IPv6 hosts come bracketed: `[::1]`.
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// `url` with any user name and password replaced, for messages.
fn redacted(url: &Url) -> String {
    let mut shown = url.clone();
    if !shown.username().is_empty() || shown.password().is_some() {
        // Setting these fails only for URLs that cannot have credentials, which then have none.
        let _ = shown.set_username("***");
        let _ = shown.set_password(None);
    }
    shown.to_string()
}

/// Parses and checks `api.base_url`: http(s), no credentials, query or fragment, https unless
/// the host is loopback.
pub fn parse_base_url(text: &str) -> Result<Url, Error> {
    let text = text.trim();
    let text = if text.is_empty() { DEFAULT_BASE_URL } else { text };
    let url = Url::parse(text)
        .map_err(|e| Error::Config(format!("api.base_url {text:?} is not a URL ({e}); use e.g. {DEFAULT_BASE_URL}")))?;
    let shown = redacted(&url);
    if url.cannot_be_a_base() || url.host().is_none() {
        return Err(Error::Config(format!("api.base_url {shown} has no host; use e.g. {DEFAULT_BASE_URL}")));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::Config(format!(
            "api.base_url {shown} carries credentials; remove them from the URL and {CREDENTIALS_HELP}"
        )));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::Config(format!("api.base_url {shown} has a query or fragment; give the base path only")));
    }
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => {
            return Err(Error::Config(format!(
                "api.base_url {shown} uses plain http to a host that is not loopback; credentials would travel in clear text: use https"
            )));
        }
        other => {
            return Err(Error::Config(format!("api.base_url {shown} has scheme {other:?}; use https")));
        }
    }
    Ok(url)
}

impl Client {
    /// Builds a client from `api.*` and `retry.*`, stamping responses with `clock` (the run's).
    /// Fails with `Error::Config` on a bad base URL, plain http to a non-loopback host, missing
    /// credentials or impossible settings.
    pub fn new(api: &ApiConfig, retry: &RetryConfig, clock: Arc<dyn Clock>) -> Result<Self, Error> {
        let base = parse_base_url(&api.base_url)?;
        if api.username.is_empty() || api.password.is_empty() {
            return Err(Error::Config(format!("The Racing API credentials are missing: {CREDENTIALS_HELP}")));
        }
        if !api.rate_limit.is_finite() || api.rate_limit <= 0.0 {
            return Err(Error::Config(format!(
                "api.rate_limit is {}; it must be a positive number of requests per second (the API allows 2)",
                api.rate_limit
            )));
        }
        if api.timeout == 0 {
            return Err(Error::Config("api.timeout is 0; it must be at least 1 second".into()));
        }
        let timeout = Duration::from_secs(api.timeout);
        let user_agent = if api.user_agent.trim().is_empty() { DEFAULT_USER_AGENT } else { api.user_agent.trim() };
        let http = reqwest::Client::builder()
            .user_agent(user_agent)
            .timeout(timeout)
            .connect_timeout(timeout.min(MAX_CONNECT_TIMEOUT))
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            // The API does not redirect; following one could carry the Authorization header
            // somewhere else. A 3xx becomes a `Rejected` error naming the URL.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error::Config(format!("could not build the HTTP client (check api.user_agent): {e}")))?;
        let budget_key = format!("{}|{}", api.username.expose(), base.as_str());
        let budget = Budget::shared(&budget_key, api.rate_limit, api.burst_allowance);
        Ok(Self {
            shared: Arc::new(Shared {
                http,
                base,
                username: api.username.clone(),
                password: api.password.clone(),
                plan: api.plan,
                policy: RetryPolicy::from_config(retry),
                clock,
                budget,
                rate: api.rate_limit,
                burst: api.burst_allowance,
                counters: Counters::default(),
                login: Login::default(),
            }),
            priority: Priority::default(),
            cancel: CancellationToken::new(),
        })
    }

    /// The same client (budget, counters) whose requests wait in the budget at `priority`.
    pub fn with_priority(&self, priority: Priority) -> Client {
        Client { priority, ..self.clone() }
    }

    /// The same client (budget, counters) whose waits and requests stop with `Error::Cancelled`
    /// when `cancel` fires.
    pub fn with_cancel(&self, cancel: CancellationToken) -> Client {
        Client { cancel, ..self.clone() }
    }

    /// Shares the account's rate limit with every other process using `ledger` (the run's
    /// database): each send also takes its slot there. Clients of this account in this process
    /// share it already; the first ledger attached stays.
    pub fn share_budget(&self, ledger: Arc<dyn Ledger>) {
        let shared = &*self.shared;
        let account = shared_budget::account_key(shared.username.expose(), shared.base.as_str());
        tracing::debug!(ledger = %ledger.describe(), "the API rate limit is shared with other processes through the database");
        shared.budget.share(Arc::new(SharedBudget::new(ledger, account, shared.rate, shared.burst)));
    }

    /// Whether this client's sends take their slots from a budget shared across processes.
    pub fn budget_is_shared(&self) -> bool {
        self.shared.budget.is_shared()
    }

    pub fn priority(&self) -> Priority {
        self.priority
    }

    pub fn plan(&self) -> Plan {
        self.shared.plan
    }

    /// The base URL requests go to (never carries credentials).
    pub fn base_url(&self) -> &str {
        self.shared.base.as_str()
    }

    /// The retry settings in force (`retry.*`).
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.shared.policy
    }

    pub fn stats(&self) -> ApiStats {
        let c = &self.shared.counters;
        ApiStats {
            calls: c.calls.load(Ordering::Relaxed),
            retries: c.retries.load(Ordering::Relaxed),
            rate_limited: c.rate_limited.load(Ordering::Relaxed),
            errors: c.errors.load(Ordering::Relaxed),
            bytes: c.bytes.load(Ordering::Relaxed),
            latency_ms_total: c.latency_ms_total.load(Ordering::Relaxed),
            shared_waits: c.shared_waits.load(Ordering::Relaxed),
            shared_wait_ms: c.shared_wait_ms.load(Ordering::Relaxed),
        }
    }

    /// `GET /courses?region_codes=..`
    pub async fn courses(&self, regions: &[String]) -> Result<RawResponse, Error> {
        let query = repeated("region_codes", regions);
        let request = self.request(&["courses"], &query)?;
        self.fetch(&request, self.priority).await
    }

    /// `GET /courses/regions`
    pub async fn regions(&self) -> Result<RawResponse, Error> {
        let request = self.request(&["courses", "regions"], &[])?;
        self.fetch(&request, self.priority).await
    }

    /// `GET /racecards/pro?date=D&region_codes=..` (Pro).
    pub async fn racecards_pro(&self, date: NaiveDate, regions: &[String]) -> Result<RawResponse, Error> {
        if date < plan::PRO_RACECARDS_FROM {
            return Err(Error::Plan(format!(
                "racecards for {date} not requested: The Racing API has racecards from {} only",
                plan::PRO_RACECARDS_FROM
            )));
        }
        let mut query = vec![("date", date.to_string())];
        query.extend(repeated("region_codes", regions));
        let request = self.request(&["racecards", "pro"], &query)?;
        self.fetch(&request, self.priority).await
    }

    /// `GET /racecards/{standard|basic|free}?day=today|tomorrow&region_codes=..`, the tier from the plan.
    pub async fn racecards_day(&self, day: Day, regions: &[String]) -> Result<RawResponse, Error> {
        let tier = plan::racecards_day_tier(self.shared.plan);
        let mut query = vec![("day", day.as_str().to_string())];
        query.extend(repeated("region_codes", regions));
        let request = self.request(&["racecards", tier], &query)?;
        self.fetch(&request, self.priority).await
    }

    /// `GET /results?start_date=D&end_date=D&region=..&limit=50&skip=N`, every page.
    pub async fn results(&self, date: NaiveDate, regions: &[String]) -> Result<Vec<RawResponse>, Error> {
        let mut query = vec![("start_date", date.to_string()), ("end_date", date.to_string())];
        query.extend(repeated("region", regions));
        self.paged(&["results"], query, Some(RESULTS_MAX_SKIP)).await
    }

    /// `GET /results/today?region=..&limit=50&skip=N`, every page.
    pub async fn results_today(&self, regions: &[String]) -> Result<Vec<RawResponse>, Error> {
        self.paged(&["results", "today"], repeated("region", regions), None).await
    }

    /// `GET /results/{race_id}`
    pub async fn result(&self, race_id: &str) -> Result<RawResponse, Error> {
        let request = self.request(&["results", race_id], &[])?;
        self.fetch(&request, self.priority).await
    }

    /// `GET /horses/{id}/pro` (Pro), at the lowest priority of the budget.
    pub async fn horse_pro(&self, horse_id: &str) -> Result<RawResponse, Error> {
        let request = self.request(&["horses", horse_id, "pro"], &[])?;
        self.fetch(&request, self.priority.max(ENRICHMENT_PRIORITY)).await
    }

    /// Builds the URL for `segments` below the base (each percent-encoded as one segment) with
    /// `query` in the given order, and refuses what the plan certainly refuses.
    fn request(&self, segments: &[&str], query: &[(&str, String)]) -> Result<Request, Error> {
        let endpoint = format!("/{}", segments.join("/"));
        let required = plan::required_plan(&endpoint);
        if self.shared.plan < required {
            return Err(Error::Plan(format!(
                "{endpoint} not requested: it needs the {} plan and api.plan is {}; set api.plan if the account has more",
                plan::plan_name(required),
                plan::plan_name(self.shared.plan)
            )));
        }
        if segments.iter().any(|s| s.is_empty() || *s == "." || *s == "..") {
            return Err(Error::Rejected {
                url: format!("{}{endpoint}", self.shared.base),
                status: 0,
                message: "an id in the path is empty or a dot segment; not sent".into(),
            });
        }
        let mut url = self.shared.base.clone();
        {
            let Ok(mut path) = url.path_segments_mut() else {
                // parse_base_url rejected URLs that cannot be a base.
                return Err(Error::Config(format!("api.base_url {} cannot take a path", self.shared.base)));
            };
            path.pop_if_empty();
            path.extend(segments);
        }
        if !query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (key, value) in query {
                pairs.append_pair(key, value);
            }
        }
        let params = url.query().unwrap_or_default().to_string();
        Ok(Request { endpoint, url, params })
    }

    /// Fetches every page of a `limit`/`skip` endpoint: page one, its `total`, then the rest.
    async fn paged(
        &self,
        segments: &[&str],
        query: Vec<(&str, String)>,
        max_skip: Option<u64>,
    ) -> Result<Vec<RawResponse>, Error> {
        let mut pages = Vec::new();
        let mut skip = 0u64;
        loop {
            let mut page_query = query.clone();
            page_query.push(("limit", RESULTS_PAGE_LIMIT.to_string()));
            page_query.push(("skip", skip.to_string()));
            let request = self.request(segments, &page_query)?;
            let page = self.fetch(&request, self.priority).await?;
            // fetch() returned only bodies that are valid JSON; this reads the paging fields.
            let header: PageHeader = serde_json::from_slice(&page.body).map_err(|e| Error::Payload {
                what: request.url.to_string(),
                message: format!("not a results page ({e})"),
            })?;
            let total = page_total(&header.total).ok_or_else(|| Error::Payload {
                what: request.url.to_string(),
                message: format!("`total` is {} where a count was expected", header.total),
            })?;
            let count = header.results.as_ref().map_or(0, Vec::len) as u64;
            pages.push(page);
            skip += RESULTS_PAGE_LIMIT;
            if skip >= total {
                break;
            }
            if count == 0 {
                tracing::warn!(
                    api.endpoint = %request.endpoint,
                    api.params = %request.params,
                    total,
                    "a results page came back empty before `total` was reached; stopping there"
                );
                break;
            }
            if let Some(max) = max_skip
                && skip > max
            {
                return Err(Error::Payload {
                    what: request.url.to_string(),
                    message: format!(
                        "{total} results need skip above the API's maximum of {max}; query fewer dates at a time"
                    ),
                });
            }
        }
        // The pages of one fetch carry one time: `rebuild` regroups them into their unit by it.
        let fetched_at = self.shared.clock.now();
        for page in &mut pages {
            page.fetched_at = fetched_at;
        }
        Ok(pages)
    }

    /// Sends one request, alone while the credentials are unproven (see [`Login`]).
    async fn fetch(&self, request: &Request, priority: Priority) -> Result<RawResponse, Error> {
        let login = &self.shared.login;
        if login.accepted.load(Ordering::Acquire) {
            return self.send(request, priority).await;
        }
        let waiting_since = std::time::Instant::now();
        let _alone = tokio::select! {
            biased;
            () = self.cancel.cancelled() => return Err(Error::Cancelled),
            guard = login.first.lock() => guard,
        };
        let rejected = login.rejected.lock().map(|r| r.clone()).unwrap_or_default();
        if let Some((at, url, status)) = rejected
            && at >= waiting_since
        {
            // The request ahead of this one was refused while this one waited: the same
            // credentials would be refused again.
            return Err(Error::Unauthorized { url, status });
        }
        let result = self.send(request, priority).await;
        match &result {
            Err(Error::Unauthorized { url, status }) => {
                if let Ok(mut r) = login.rejected.lock() {
                    *r = Some((std::time::Instant::now(), url.clone(), *status));
                }
            }
            // Any answer the server gave past authentication proves the credentials.
            Ok(_) | Err(Error::NotFound { .. } | Error::Rejected { .. }) => {
                login.accepted.store(true, Ordering::Release)
            }
            Err(_) => {}
        }
        result
    }

    /// Sends one request through the budget, retrying as `retry::classify` decides.
    async fn send(&self, request: &Request, priority: Priority) -> Result<RawResponse, Error> {
        let shared = &*self.shared;
        let counters = &shared.counters;
        let url = request.url.as_str();
        let mut sent = 0u32;
        let mut failed = 0u32;
        let mut limited = 0u32;
        loop {
            let send = shared.budget.acquire(priority, &self.cancel).await?;
            if let Some(waited) = send.waited_on_others() {
                bump(&counters.shared_waits, 1);
                bump(&counters.shared_wait_ms, u64::try_from(waited.as_millis()).unwrap_or(u64::MAX));
            }
            if sent > 0 {
                bump(&counters.retries, 1);
            }
            sent += 1;
            bump(&counters.calls, 1);
            let started = std::time::Instant::now();
            let attempt = tokio::select! {
                biased;
                () = self.cancel.cancelled() => return Err(Error::Cancelled),
                attempt = self.attempt(&request.url, send) => attempt,
            };
            bump(&counters.latency_ms_total, u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX));
            bump(&counters.bytes, attempt.body.len() as u64);
            let decision = retry::classify(&attempt.outcome, &shared.policy);
            tracing::debug!(
                api.endpoint = %request.endpoint,
                api.params = %request.params,
                http.status = attempt.status,
                bytes = attempt.body.len(),
                duration_ms = started.elapsed().as_millis() as u64,
                "API request answered"
            );
            if decision != Decision::Done {
                bump(&counters.errors, 1);
            }
            match decision {
                Decision::Done => {
                    return Ok(RawResponse {
                        endpoint: request.endpoint.clone(),
                        params: request.params.clone(),
                        status: attempt.status,
                        fetched_at: shared.clock.now(),
                        body: attempt.body,
                    });
                }
                Decision::RateLimited { pause } => {
                    bump(&counters.rate_limited, 1);
                    limited += 1;
                    if limited >= MAX_RATE_LIMITED_PER_REQUEST {
                        return Err(Error::Exhausted {
                            url: url.to_string(),
                            attempts: sent,
                            last: format!("HTTP 429 rate limited {limited} times in a row; lower api.rate_limit"),
                        });
                    }
                    tracing::warn!(
                        api.endpoint = %request.endpoint,
                        pause_ms = pause.as_millis() as u64,
                        "API rate limit hit (HTTP 429): pausing and slowing down"
                    );
                    shared.budget.rate_limited(pause);
                }
                Decision::Retry { reason, at_least } => {
                    failed += 1;
                    let last = if attempt.detail.is_empty() { reason } else { format!("{reason}: {}", attempt.detail) };
                    if failed >= shared.policy.max_attempts {
                        return Err(Error::Exhausted { url: url.to_string(), attempts: sent, last });
                    }
                    let delay = shared.policy.delay(failed - 1).max(at_least);
                    tracing::warn!(
                        api.endpoint = %request.endpoint,
                        api.params = %request.params,
                        attempt = sent,
                        delay_ms = delay.as_millis() as u64,
                        "API request failed ({last}); retrying"
                    );
                    tokio::select! {
                        biased;
                        () = self.cancel.cancelled() => return Err(Error::Cancelled),
                        () = tokio::time::sleep(delay) => {}
                    }
                }
                Decision::Unauthorized => {
                    return Err(Error::Unauthorized { url: url.to_string(), status: attempt.status });
                }
                Decision::NotFound => {
                    return Err(Error::NotFound { url: url.to_string() });
                }
                Decision::Rejected => {
                    return Err(Error::Rejected {
                        url: url.to_string(),
                        status: attempt.status,
                        message: excerpt(&attempt.body),
                    });
                }
            }
        }
    }

    /// One HTTP attempt, body included.
    async fn attempt(&self, url: &Url, send: SendId) -> Attempt {
        let shared = &*self.shared;
        let sent = shared
            .http
            .get(url.clone())
            .basic_auth(shared.username.expose(), Some(shared.password.expose()))
            .header(ACCEPT, "application/json")
            .send()
            .await;
        // Answered (or failed): the request reached the server by now, if at all.
        shared.budget.answered(send);
        let response = match sent {
            Ok(response) => response,
            Err(e) => return Attempt::failed(&e),
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            // Wall-clock time: an HTTP-date is the server's real time, and the pause is real.
            .and_then(|v| retry::parse_retry_after(v, Utc::now()));
        match response.bytes().await {
            Ok(body) => {
                let body_is_json =
                    (200..300).contains(&status) && serde_json::from_slice::<serde::de::IgnoredAny>(&body).is_ok();
                let detail = if (200..300).contains(&status) && !body_is_json {
                    format!("{} bytes starting {:?}", body.len(), excerpt(&body))
                } else {
                    String::new()
                };
                Attempt { outcome: Outcome::Response { status, retry_after, body_is_json }, status, body, detail }
            }
            Err(e) => Attempt { status, ..Attempt::failed(&e) },
        }
    }
}

/// What one attempt brought back.
struct Attempt {
    outcome: Outcome,
    /// 0 when no response arrived.
    status: u16,
    body: bytes::Bytes,
    /// Why it failed, for messages.
    detail: String,
}

impl Attempt {
    fn failed(error: &reqwest::Error) -> Self {
        let outcome = if error.is_timeout() { Outcome::Timeout } else { Outcome::Connection };
        Self { outcome, status: 0, body: bytes::Bytes::new(), detail: error_chain(error) }
    }
}

/// An error and its causes on one line. reqwest errors name the URL, never credentials (they
/// travel in the Authorization header).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// The start of a body, for messages.
fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    let mut out: String = text.chars().take(retry::ERROR_BODY_EXCERPT_CHARS).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    if out.is_empty() { "(empty body)".to_string() } else { out }
}

/// A list parameter as repeated keys: `region=gb&region=ire`.
fn repeated<'a>(key: &'a str, values: &[String]) -> Vec<(&'a str, String)> {
    values.iter().map(|v| (key, v.clone())).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::clock::SystemClock;

    fn api(base: &str) -> ApiConfig {
        ApiConfig {
            base_url: base.into(),
            username: Secret::new("user"),
            password: Secret::new("hunter2"),
            ..ApiConfig::default()
        }
    }

    #[test]
    fn https_is_required_except_on_loopback() {
        for ok in [
            "https://api.theracingapi.com/v1",
            "http://127.0.0.1:8080/v1",
            "http://127.3.4.5/v1",
            "http://localhost:9/v1",
            "http://[::1]:8080/v1",
        ] {
            assert!(parse_base_url(ok).is_ok(), "{ok}");
        }
        for bad in ["http://api.theracingapi.com/v1", "http://10.0.0.1/v1", "ftp://127.0.0.1/", "not a url"] {
            let err = parse_base_url(bad).unwrap_err().to_string();
            assert!(err.contains("api.base_url"), "{err}");
        }
        let err = parse_base_url("http://example.com/v1").unwrap_err().to_string();
        assert!(err.contains("http://example.com/v1") && err.contains("https"), "{err}");
    }

    #[test]
    fn credentials_in_the_base_url_are_refused_without_being_shown() {
        let err = parse_base_url("https://bob:s3cret@api.theracingapi.com/v1").unwrap_err().to_string();
        assert!(!err.contains("s3cret") && !err.contains("bob"), "{err}");
        assert!(err.contains("RACING_API_USERNAME"), "{err}");
    }

    #[test]
    fn missing_credentials_name_the_variables() {
        let mut config = api("https://api.theracingapi.com/v1");
        config.password = Secret::default();
        let err = Client::new(&config, &RetryConfig::default(), Arc::new(SystemClock)).unwrap_err().to_string();
        assert!(err.contains("RACING_API_USERNAME") && err.contains("RACING_API_PASSWORD"), "{err}");
    }

    #[test]
    fn urls_carry_repeated_keys_in_order_and_encode_ids() {
        let client =
            Client::new(&api("https://api.theracingapi.com/v1/"), &RetryConfig::default(), Arc::new(SystemClock))
                .unwrap();
        let regions = vec!["gb".to_string(), "ire".to_string()];
        let mut query = vec![("date", "2025-10-14".to_string())];
        query.extend(repeated("region_codes", &regions));
        let r = client.request(&["racecards", "pro"], &query).unwrap();
        assert_eq!(r.endpoint, "/racecards/pro");
        assert_eq!(r.params, "date=2025-10-14&region_codes=gb&region_codes=ire");
        assert_eq!(
            r.url.as_str(),
            "https://api.theracingapi.com/v1/racecards/pro?date=2025-10-14&region_codes=gb&region_codes=ire"
        );
        let odd = client.request(&["results", "rac_1/../x?y"], &[]).unwrap();
        assert_eq!(odd.url.as_str(), "https://api.theracingapi.com/v1/results/rac_1%2F..%2Fx%3Fy");
        assert_eq!(odd.params, "");
        assert!(client.request(&["results", ".."], &[]).is_err());
    }

    #[tokio::test]
    async fn requests_above_the_plan_are_refused_without_a_call() {
        let mut config = api("https://api.theracingapi.com/v1");
        config.plan = Plan::Standard;
        let client = Client::new(&config, &RetryConfig::default(), Arc::new(SystemClock)).unwrap();
        let today: NaiveDate = "2025-10-14".parse().unwrap();
        let err = client.racecards_pro(today, &[]).await.unwrap_err();
        assert!(matches!(&err, Error::Plan(m) if m.contains("/racecards/pro") && m.contains("pro plan")), "{err}");
        let err = client.horse_pro("hrs_1").await.unwrap_err();
        assert!(matches!(err, Error::Plan(_)));
        let pro = Client::new(&api("https://api.theracingapi.com/v1"), &RetryConfig::default(), Arc::new(SystemClock))
            .unwrap();
        let err = pro.racecards_pro("2022-12-31".parse().unwrap(), &[]).await.unwrap_err();
        assert!(matches!(&err, Error::Plan(m) if m.contains("2023-01-23")), "{err}");
        assert_eq!(client.stats().calls + pro.stats().calls, 0);
    }

    #[test]
    fn page_totals_read_numbers_and_numeric_strings() {
        assert_eq!(page_total(&serde_json::json!(36)), Some(36));
        assert_eq!(page_total(&serde_json::json!("36")), Some(36));
        assert_eq!(page_total(&serde_json::json!(null)), None);
        assert_eq!(page_total(&serde_json::json!("lots")), None);
    }

    #[test]
    fn excerpts_are_short_and_never_empty() {
        assert_eq!(excerpt(b""), "(empty body)");
        let long = "x".repeat(1000);
        assert!(excerpt(long.as_bytes()).chars().count() <= retry::ERROR_BODY_EXCERPT_CHARS + 1);
    }
}
