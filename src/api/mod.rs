//! The Racing API: the HTTP client (rate budget, retries, plans), payload types and
//! normalisation of payloads into `model` rows.

pub mod budget;
pub mod client;
pub mod normalize;
pub mod payload;
pub mod plan;
pub mod retry;
pub mod shared_budget;

pub use budget::Priority;
pub use client::{ApiStats, Client, Day};

/// What went wrong talking to the API, split by what the caller does about it. URLs in messages
/// never carry credentials (they travel in the Authorization header).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// 401/403: fatal for the run. The message says credentials were rejected or the endpoint
    /// is above the plan.
    #[error("{url}: HTTP {status}: {}", unauthorized_hint(url))]
    Unauthorized { url: String, status: u16 },
    /// 404: nothing there (a race id that does not exist).
    #[error("{url}: HTTP 404 not found")]
    NotFound { url: String },
    /// 400/422: the request was wrong; retrying cannot help.
    #[error("{url}: HTTP {status}: request rejected: {message}")]
    Rejected { url: String, status: u16, message: String },
    /// Retries used up on 408/429/5xx, timeouts, dropped connections or malformed bodies.
    #[error("{url}: gave up after {attempts} attempt{}: {last}", if *attempts == 1 { "" } else { "s" })]
    Exhausted { url: String, attempts: u32, last: String },
    /// The plan does not allow this request (not sent).
    #[error("{0}")]
    Plan(String),
    /// The body could not be used at all (a single bad record is skipped instead).
    #[error("{what}: unusable response: {message}")]
    Payload { what: String, message: String },
    /// Settings make requests impossible: bad base URL, plain http to a non-loopback host,
    /// missing credentials.
    #[error("{0}")]
    Config(String),
    /// The run was cancelled while waiting.
    #[error("cancelled")]
    Cancelled,
}

/// What a 401/403 on `url` most likely means. Endpoints every plan has can only mean the
/// credentials; Pro endpoints and old results can also mean the plan.
fn unauthorized_hint(url: &str) -> &'static str {
    let path = url.split('?').next().unwrap_or(url);
    if path.ends_with("/pro") {
        "credentials rejected, or this endpoint needs the Pro plan; check RACING_API_USERNAME, \
         RACING_API_PASSWORD and api.plan"
    } else if path.ends_with("/results") {
        "credentials rejected, or the dates are older than the plan's results history (12 months without the \
         history add-on); check RACING_API_USERNAME, RACING_API_PASSWORD and api.results_history"
    } else if path.contains("/racecards/") {
        "credentials rejected, or this racecards endpoint is above your plan; check RACING_API_USERNAME, \
         RACING_API_PASSWORD and api.plan"
    } else {
        "credentials rejected; check RACING_API_USERNAME and RACING_API_PASSWORD"
    }
}

impl Error {
    /// Whether this error should stop the whole run rather than fail one unit.
    pub fn is_fatal(&self) -> bool {
        matches!(self, Error::Unauthorized { .. } | Error::Config(_) | Error::Cancelled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_attempt_is_not_plural() {
        let one = Error::Exhausted { url: "u".into(), attempts: 1, last: "timeout".into() };
        assert_eq!(one.to_string(), "u: gave up after 1 attempt: timeout");
        let two = Error::Exhausted { url: "u".into(), attempts: 2, last: "timeout".into() };
        assert_eq!(two.to_string(), "u: gave up after 2 attempts: timeout");
    }

    #[test]
    fn a_401_blames_the_plan_only_where_the_plan_can_be_the_cause() {
        let on = |url: &str| Error::Unauthorized { url: url.into(), status: 401 }.to_string();
        assert!(!on("https://h/v1/courses").contains("plan"));
        assert!(on("https://h/v1/racecards/pro?date=2026-01-01").contains("Pro plan"));
        assert!(on("https://h/v1/results?start_date=2020-01-01").contains("results history"));
    }
}
