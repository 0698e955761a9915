//! The API client against a fake HTTP server on 127.0.0.1 (axum, scripted per test): retries,
//! 429 pacing, fatal statuses, malformed bodies, dropped connections, query encoding, paging,
//! the shared rate budget, cancellation and that credentials never leak.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use darkhorses::api::{Client, Day, Error, Priority};
use darkhorses::clock::SystemClock;
use darkhorses::config::{ApiConfig, Plan, RetryConfig, Secret};
use darkhorses::model::RawResponse;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

const USER: &str = "user-7f3a";
const PASS: &str = "pw-S3cr3t-9z";

/// One request the fake server received.
#[derive(Debug, Clone)]
struct Hit {
    at: Instant,
    path: String,
    query: String,
    auth: String,
    user_agent: String,
}

type Script = Arc<dyn Fn(usize, &Hit) -> Response + Send + Sync>;

#[derive(Clone)]
struct FakeState {
    hits: Arc<Mutex<Vec<Hit>>>,
    arrived: Arc<Notify>,
    script: Script,
}

/// A fake Racing API: answers request number `n` (from 0) with `script(n, hit)`.
struct Fake {
    base: String,
    hits: Arc<Mutex<Vec<Hit>>>,
    arrived: Arc<Notify>,
}

impl Fake {
    async fn start(script: impl Fn(usize, &Hit) -> Response + Send + Sync + 'static) -> Fake {
        let state = FakeState {
            hits: Arc::new(Mutex::new(Vec::new())),
            arrived: Arc::new(Notify::new()),
            script: Arc::new(script),
        };
        let fake = Fake { base: String::new(), hits: state.hits.clone(), arrived: state.arrived.clone() };
        let app = axum::Router::new().fallback(answer).with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Fake { base: format!("http://{addr}/v1"), ..fake }
    }

    fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }

    /// Waits until the server has received `n` requests.
    async fn wait_for_hits(&self, n: usize) {
        loop {
            let arrived = self.arrived.notified();
            tokio::pin!(arrived);
            arrived.as_mut().enable();
            if self.hits.lock().unwrap().len() >= n {
                return;
            }
            arrived.await;
        }
    }
}

async fn answer(State(state): State<FakeState>, uri: Uri, headers: HeaderMap) -> Response {
    let text =
        |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let hit = Hit {
        at: Instant::now(),
        path: uri.path().to_string(),
        query: uri.query().unwrap_or_default().to_string(),
        auth: text(header::AUTHORIZATION),
        user_agent: text(header::USER_AGENT),
    };
    let n = {
        let mut hits = state.hits.lock().unwrap();
        hits.push(hit.clone());
        hits.len() - 1
    };
    state.arrived.notify_waiters();
    (state.script)(n, &hit)
}

fn json(status: u16, body: &str) -> Response {
    (StatusCode::from_u16(status).unwrap(), [(header::CONTENT_TYPE, "application/json")], body.to_string())
        .into_response()
}

fn ok() -> Response {
    json(200, r#"{"courses": [], "total": 0}"#)
}

/// Settings for a test: fast retries and a generous rate unless the test says otherwise.
fn settings(base: &str) -> (ApiConfig, RetryConfig) {
    let api = ApiConfig {
        base_url: base.to_string(),
        username: Secret::new(USER),
        password: Secret::new(PASS),
        rate_limit: 100.0,
        burst_allowance: 1,
        timeout: 5,
        ..ApiConfig::default()
    };
    let retry = RetryConfig {
        max_attempts: 4,
        initial_delay: 0.01,
        max_delay: 0.05,
        backoff_factor: 2.0,
        jitter: true,
        ..RetryConfig::default()
    };
    (api, retry)
}

fn client(fake: &Fake) -> Client {
    let (api, retry) = settings(&fake.base);
    Client::new(&api, &retry, Arc::new(SystemClock)).unwrap()
}

fn assert_no_secret(text: &str) {
    assert!(!text.contains(PASS), "password leaked: {text}");
    assert!(!text.contains(USER), "user name leaked: {text}");
}

fn assert_clean_response(raw: &RawResponse) {
    assert_no_secret(&format!("{raw:?}"));
    assert_no_secret(&raw.params);
}

fn regions() -> Vec<String> {
    vec!["gb".to_string(), "ire".to_string()]
}

#[tokio::test]
async fn two_5xx_then_success_takes_three_calls_and_two_retries() {
    let fake = Fake::start(|n, _| if n < 2 { json(500, r#"{"detail":"boom"}"#) } else { ok() }).await;
    let client = client(&fake);
    let raw = client.courses(&regions()).await.unwrap();
    assert_eq!(raw.status, 200);
    assert_eq!(raw.endpoint, "/courses");
    assert_eq!(fake.hits().len(), 3);
    let stats = client.stats();
    assert_eq!((stats.calls, stats.retries, stats.errors, stats.rate_limited), (3, 2, 2, 0));
    assert!(stats.bytes > 0);
    assert_clean_response(&raw);
}

#[tokio::test]
async fn retries_stop_at_max_attempts() {
    let fake = Fake::start(|_, _| json(503, "{}")).await;
    let (api, mut retry) = settings(&fake.base);
    retry.max_attempts = 3;
    let client = Client::new(&api, &retry, Arc::new(SystemClock)).unwrap();
    let err = client.regions().await.unwrap_err();
    assert!(matches!(&err, Error::Exhausted { attempts: 3, .. }), "{err}");
    assert!(err.to_string().contains("/courses/regions") && err.to_string().contains("503"), "{err}");
    assert_eq!(fake.hits().len(), 3);
    assert_no_secret(&err.to_string());
}

#[tokio::test]
async fn a_429_waits_for_retry_after_without_using_an_attempt() {
    let fake = Fake::start(|n, _| {
        if n == 0 {
            (StatusCode::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, "1")], "slow down").into_response()
        } else {
            ok()
        }
    })
    .await;
    let (api, mut retry) = settings(&fake.base);
    // One attempt only: the 429 must not count as one.
    retry.max_attempts = 1;
    let client = Client::new(&api, &retry, Arc::new(SystemClock)).unwrap();
    client.courses(&[]).await.unwrap();
    let hits = fake.hits();
    assert_eq!(hits.len(), 2);
    let gap = hits[1].at - hits[0].at;
    assert!(gap >= Duration::from_millis(990), "second request came {gap:?} after the 429");
    let stats = client.stats();
    assert_eq!((stats.calls, stats.retries, stats.rate_limited), (2, 1, 1));
}

#[tokio::test]
async fn a_401_is_fatal_after_exactly_one_request() {
    let fake = Fake::start(|_, _| json(401, r#"{"detail":"Invalid credentials"}"#)).await;
    let client = client(&fake);
    let err = client.courses(&regions()).await.unwrap_err();
    assert!(matches!(err, Error::Unauthorized { status: 401, .. }), "{err}");
    assert!(err.is_fatal());
    let message = err.to_string();
    assert!(message.contains("credentials rejected"), "{message}");
    assert_no_secret(&message);
    assert_no_secret(&format!("{err:?}"));
    assert_eq!(fake.hits().len(), 1);
    assert_eq!(client.stats().calls, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn wrong_credentials_cost_one_request_however_many_are_in_flight() {
    // A slow 401: without the credentials gate the other requests would all leave meanwhile.
    let fake = Fake::start(|_, _| {
        std::thread::sleep(std::time::Duration::from_millis(300));
        json(401, r#"{"detail":"Invalid credentials"}"#)
    })
    .await;
    let client = client(&fake);
    let calls: Vec<_> = (0..4)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.courses(&regions()).await })
        })
        .collect();
    for call in calls {
        let err = call.await.unwrap().unwrap_err();
        assert!(matches!(err, Error::Unauthorized { status: 401, .. }), "{err}");
    }
    assert_eq!(fake.hits().len(), 1, "{:?}", fake.hits());
    assert_eq!(client.stats().calls, 1);
}

#[tokio::test]
async fn not_found_and_unprocessable_are_not_retried() {
    let fake = Fake::start(|_, hit| {
        if hit.path.starts_with("/v1/results/") {
            json(404, r#"{"detail":"Not Found"}"#)
        } else {
            json(422, r#"{"detail":[{"loc":["query","name"],"msg":"field required"}]}"#)
        }
    })
    .await;
    let client = client(&fake);
    let err = client.result("rac_404").await.unwrap_err();
    assert!(matches!(&err, Error::NotFound { url } if url.ends_with("/v1/results/rac_404")), "{err}");
    assert_eq!(fake.hits().len(), 1);
    let err = client.courses(&[]).await.unwrap_err();
    assert!(
        matches!(&err, Error::Rejected { status: 422, message, .. } if message.contains("field required")),
        "{err}"
    );
    assert_eq!(fake.hits().len(), 2);
    assert_eq!(client.stats().retries, 0);
    assert_no_secret(&err.to_string());
}

#[tokio::test]
async fn a_malformed_json_body_is_retried() {
    let fake = Fake::start(|n, _| if n == 0 { json(200, r#"{"total": 3, "resul"#) } else { ok() }).await;
    let client = client(&fake);
    let raw = client.courses(&[]).await.unwrap();
    assert!(serde_json::from_slice::<serde_json::Value>(&raw.body).is_ok());
    assert_eq!(fake.hits().len(), 2);
    assert_eq!(client.stats().retries, 1);
}

#[tokio::test]
async fn a_body_cut_mid_stream_is_retried() {
    let fake = Fake::start(|n, _| {
        if n == 0 {
            let chunks: Vec<Result<&'static str, std::io::Error>> =
                vec![Ok(r#"{"courses": ["#), Err(std::io::Error::other("connection dropped"))];
            Response::new(Body::from_stream(futures_util::stream::iter(chunks)))
        } else {
            ok()
        }
    })
    .await;
    let client = client(&fake);
    client.courses(&[]).await.unwrap();
    assert_eq!(fake.hits().len(), 2);
    assert_eq!(client.stats().errors, 1);
}

#[tokio::test]
async fn a_connection_dropped_before_any_answer_is_retried() {
    // A raw TCP server: the first connection is closed as soon as the request arrives, the
    // second gets a proper answer.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        for n in 0..2 {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 4096];
            let _ = socket.read(&mut buf).await.unwrap();
            if n == 1 {
                let body = r#"{"courses": [], "total": 0}"#;
                let reply = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                socket.write_all(reply.as_bytes()).await.unwrap();
            }
        }
    });
    let (api, retry) = settings(&format!("http://{addr}/v1"));
    let client = Client::new(&api, &retry, Arc::new(SystemClock)).unwrap();
    let raw = client.courses(&[]).await.unwrap();
    assert_eq!(raw.status, 200);
    server.await.unwrap();
    let stats = client.stats();
    assert_eq!((stats.calls, stats.retries, stats.errors), (2, 1, 1));
}

#[tokio::test]
async fn list_parameters_are_repeated_keys_and_requests_carry_auth_and_agent() {
    let fake = Fake::start(|_, hit| {
        if hit.path == "/v1/results" {
            json(200, r#"{"results": [{"race_id": "rac_1"}], "total": 1, "limit": 50, "skip": 0, "query": []}"#)
        } else {
            json(200, r#"{"racecards": [], "total": 0}"#)
        }
    })
    .await;
    let (mut api, retry) = settings(&fake.base);
    api.plan = Plan::Standard;
    let client = Client::new(&api, &retry, Arc::new(SystemClock)).unwrap();
    let date = "2025-10-07".parse().unwrap();
    let pages = client.results(date, &regions()).await.unwrap();
    let day = client.racecards_day(Day::Tomorrow, &regions()).await.unwrap();
    let courses = client.courses(&regions()).await.unwrap();
    let hits = fake.hits();
    let seen: Vec<(&str, &str)> = hits.iter().map(|h| (h.path.as_str(), h.query.as_str())).collect();
    assert_eq!(
        seen,
        vec![
            ("/v1/results", "start_date=2025-10-07&end_date=2025-10-07&region=gb&region=ire&limit=50&skip=0"),
            ("/v1/racecards/standard", "day=tomorrow&region_codes=gb&region_codes=ire"),
            ("/v1/courses", "region_codes=gb&region_codes=ire"),
        ]
    );
    // RawResponse.params is the query as sent.
    assert_eq!(pages.len(), 1);
    assert_eq!(pages[0].params, hits[0].query);
    assert_eq!(pages[0].endpoint, "/results");
    assert_eq!(day.endpoint, "/racecards/standard");
    assert_eq!(courses.params, hits[2].query);
    use base64::Engine as _;
    let expected_auth = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASS}")));
    for hit in &hits {
        assert_eq!(hit.auth, expected_auth);
        assert_eq!(hit.user_agent, format!("darkhorses/{}", env!("CARGO_PKG_VERSION")));
    }
    for raw in pages.iter().chain([&day, &courses]) {
        assert_clean_response(raw);
    }
}

#[tokio::test]
async fn every_results_page_is_fetched_and_total_may_be_a_string() {
    let fake = Fake::start(|_, hit| {
        let skip: usize =
            hit.query.split('&').find_map(|kv| kv.strip_prefix("skip=")).and_then(|v| v.parse().ok()).unwrap_or(0);
        let count = 120usize.saturating_sub(skip).min(50);
        let results: Vec<String> = (0..count).map(|i| format!(r#"{{"race_id": "rac_{}"}}"#, skip + i)).collect();
        json(200, &format!(r#"{{"results": [{}], "total": "120", "limit": 50, "skip": {skip}}}"#, results.join(",")))
    })
    .await;
    let client = client(&fake);
    let pages = client.results_today(&regions()).await.unwrap();
    let queries: Vec<String> = fake.hits().into_iter().map(|h| format!("{} {}", h.path, h.query)).collect();
    assert_eq!(
        queries,
        vec![
            "/v1/results/today region=gb&region=ire&limit=50&skip=0",
            "/v1/results/today region=gb&region=ire&limit=50&skip=50",
            "/v1/results/today region=gb&region=ire&limit=50&skip=100",
        ]
    );
    assert_eq!(pages.len(), 3);
    assert!(pages.iter().all(|p| p.endpoint == "/results/today"));
}

#[tokio::test]
async fn an_empty_day_is_one_page() {
    let fake = Fake::start(|_, _| json(200, r#"{"results": [], "total": 0, "limit": 50, "skip": 0}"#)).await;
    let client = client(&fake);
    let pages = client.results("2025-12-25".parse().unwrap(), &regions()).await.unwrap();
    assert_eq!(pages.len(), 1);
    assert_eq!(fake.hits().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_budget_never_lets_more_than_the_rate_into_any_second() {
    let fake = Fake::start(|_, _| ok()).await;
    let (mut api, retry) = settings(&fake.base);
    api.rate_limit = 2.0;
    api.burst_allowance = 1;
    let client = Client::new(&api, &retry, Arc::new(SystemClock)).unwrap();
    // A second client built separately for the same account shares the budget.
    let other = Client::new(&api, &retry, Arc::new(SystemClock)).unwrap();
    let mut tasks = Vec::new();
    for i in 0..10 {
        let c = if i % 2 == 0 { client.with_priority(Priority::Backfill) } else { other.clone() };
        tasks.push(tokio::spawn(async move { c.courses(&[]).await.map(|_| ()) }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let hits = fake.hits();
    assert_eq!(hits.len(), 10);
    for (i, first) in hits.iter().enumerate() {
        let in_window = hits.iter().filter(|h| h.at >= first.at && h.at < first.at + Duration::from_secs(1)).count();
        assert!(in_window <= 2, "{in_window} requests in the second after request {i}");
    }
    assert_eq!(client.stats().calls + other.stats().calls, 10);
}

#[tokio::test]
async fn cancelling_stops_a_client_waiting_on_the_budget() {
    let fake = Fake::start(|_, _| {
        (StatusCode::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, "100")], "slow down").into_response()
    })
    .await;
    let cancel = CancellationToken::new();
    let client = client(&fake).with_cancel(cancel.clone());
    let started = Instant::now();
    let request = client.courses(&[]);
    let canceller = async {
        fake.wait_for_hits(1).await;
        cancel.cancel();
    };
    let (result, ()) = tokio::join!(request, canceller);
    assert!(matches!(result, Err(Error::Cancelled)), "{result:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(fake.hits().len(), 1);
}

#[tokio::test]
async fn plain_http_to_another_host_and_missing_credentials_are_refused() {
    let (api, retry) = settings("http://api.theracingapi.com/v1");
    let err = Client::new(&api, &retry, Arc::new(SystemClock)).unwrap_err();
    assert!(matches!(&err, Error::Config(m) if m.contains("http://api.theracingapi.com/v1")), "{err}");
    assert_no_secret(&err.to_string());
    let (mut api, retry) = settings("https://api.theracingapi.com/v1");
    api.username = Secret::default();
    let err = Client::new(&api, &retry, Arc::new(SystemClock)).unwrap_err().to_string();
    assert!(err.contains("RACING_API_USERNAME") && err.contains("RACING_API_PASSWORD"), "{err}");
    let (api, retry) = settings("https://api.theracingapi.com/v1");
    let client = Client::new(&api, &retry, Arc::new(SystemClock)).unwrap();
    assert_no_secret(&format!("{client:?}"));
}
